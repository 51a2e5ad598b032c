//! The audit trail: append-only events, one hash chain per organization
//! (and one, `system`, for events outside any). Each event's hash covers its
//! fields and the hash before it, so an edit, a deletion or a cut tail shows
//! when the chain is verified.

use rapport_domain::{AuditEvent, AuditEventId, NewAuditEvent, OrganizationId, Outcome, PatientId};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::db::{Arg, Row, Tx, args};
use super::{Page, PageRequest, Store, StoreError};

/// The `prev_hash` of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain of events that belong to no organization.
pub const SYSTEM_CHAIN: &str = "system";

/// The action of the event a retention prune leaves in its chain.
const PRUNE_ACTION: &str = "audit.prune";

/// Filters for the auditors' query; every given one must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub patient_id: Option<PatientId>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
}

/// What verifying one chain found.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainReport {
    pub chain: String,
    pub events: i64,
    /// Empty when the chain is whole; otherwise one line per problem, by seq.
    pub problems: Vec<String>,
}

/// The hash of an event: SHA-256 over the previous hash and a canonical
/// JSON array of every field, in a fixed order.
fn event_hash(e: &AuditEvent) -> String {
    let n = &e.event;
    let canonical = json!([
        e.id.to_string(),
        e.chain,
        e.seq,
        e.occurred_at.as_microsecond(),
        n.organization_id.map(|o| o.to_string()),
        n.actor_kind.as_str(),
        n.actor_id,
        n.action,
        n.resource_type,
        n.resource_id,
        n.patient_id.map(|p| p.to_string()),
        n.outcome.as_str(),
        n.status,
        n.break_glass,
        n.reason,
        n.client_address,
        n.user_agent,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(e.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    rapport_secret::hex(&hasher.finalize())
}

fn chain_of(org: Option<OrganizationId>) -> String {
    org.map_or_else(|| SYSTEM_CHAIN.to_owned(), |o| o.to_string())
}

fn event_from_row(r: &Row) -> Result<AuditEvent, StoreError> {
    let word = |col: &str| r.text(col);
    let status = r.opt_int("status")?.map(|s| u16::try_from(s).map_err(|_| StoreError::Corrupt("bad status")));
    Ok(AuditEvent {
        id: r.parsed("id")?,
        chain: r.text("chain")?,
        seq: r.int("seq")?,
        occurred_at: r.timestamp("occurred_at")?,
        event: NewAuditEvent {
            organization_id: r.opt_parsed("organization_id")?,
            actor_kind: word("actor_kind")?.parse().map_err(|_| StoreError::Corrupt("bad actor kind"))?,
            actor_id: r.opt_text("actor_id")?,
            action: r.text("action")?,
            resource_type: r.opt_text("resource_type")?,
            resource_id: r.opt_text("resource_id")?,
            patient_id: r.opt_parsed("patient_id")?,
            outcome: word("outcome")?.parse().map_err(|_| StoreError::Corrupt("bad outcome"))?,
            status: status.transpose()?,
            break_glass: r.int("break_glass")? != 0,
            reason: r.opt_text("reason")?,
            client_address: r.opt_text("client_address")?,
            user_agent: r.opt_text("user_agent")?,
        },
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

impl Store {
    /// Appends `event` to its organization's chain. The chain's head row is
    /// updated first, which takes its lock (a row lock on PostgreSQL, the
    /// write lock on SQLite), so concurrent appends queue instead of forking.
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<AuditEvent, StoreError> {
        let mut tx = self.db.begin().await?;
        let appended = self.append_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// [`append_audit`](Store::append_audit) within the caller's transaction.
    pub async fn append_in(&self, tx: &mut Tx, event: &NewAuditEvent) -> Result<AuditEvent, StoreError> {
        let chain = chain_of(event.organization_id);
        let advance = "UPDATE audit_heads SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash";
        let mut head = tx.fetch_optional(advance, args([chain.as_str().into()])).await?;
        if head.is_none() {
            tx.execute(
                "INSERT INTO audit_heads (chain, seq, hash, floor_seq, floor_hash) VALUES ($1, 0, $2, 0, $2)
                 ON CONFLICT (chain) DO NOTHING",
                args([chain.as_str().into(), GENESIS.into()]),
            )
            .await?;
            head = tx.fetch_optional(advance, args([chain.as_str().into()])).await?;
        }
        let head = head.ok_or(StoreError::Corrupt("audit chain head missing"))?;
        let mut appended = AuditEvent {
            id: AuditEventId::generate(),
            chain,
            seq: head.int("seq")?,
            occurred_at: self.clock.now(),
            event: event.clone(),
            prev_hash: head.text("hash")?,
            hash: String::new(),
        };
        appended.hash = event_hash(&appended);
        tx.execute(
            "UPDATE audit_heads SET hash = $2 WHERE chain = $1",
            args([appended.chain.as_str().into(), appended.hash.as_str().into()]),
        )
        .await?;
        let e = &appended.event;
        tx.execute(
            "INSERT INTO audit_events (id, chain, seq, occurred_at, organization_id, actor_kind, actor_id, action,
                 resource_type, resource_id, patient_id, outcome, status, break_glass, reason, client_address,
                 user_agent, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            vec![
                appended.id.to_string().into(),
                appended.chain.as_str().into(),
                appended.seq.into(),
                appended.occurred_at.into(),
                e.organization_id.map(|o| o.to_string()).into(),
                e.actor_kind.as_str().into(),
                e.actor_id.clone().into(),
                e.action.as_str().into(),
                e.resource_type.clone().into(),
                e.resource_id.clone().into(),
                e.patient_id.map(|p| p.to_string()).into(),
                e.outcome.as_str().into(),
                e.status.map(i64::from).into(),
                i64::from(e.break_glass).into(),
                e.reason.clone().into(),
                e.client_address.clone().into(),
                e.user_agent.clone().into(),
                appended.prev_hash.as_str().into(),
                appended.hash.as_str().into(),
            ],
        )
        .await?;
        Ok(appended)
    }

    /// Retention: removes each chain's events that happened before
    /// `older_than`, keeping the chain verifiable. In one transaction per
    /// chain: the floor rises to the last removed event (whose hash the next
    /// one carries), the events at or under it go (the trigger allows no
    /// others), and an `audit.prune` event records it. Returns, per chain
    /// that lost events, how many.
    pub async fn prune_audit(&self, older_than: jiff::Timestamp) -> Result<Vec<(String, i64)>, StoreError> {
        let heads = self.db.fetch_all("SELECT chain FROM audit_heads ORDER BY chain", vec![]).await?;
        let mut pruned = Vec::new();
        for head in &heads {
            let chain = head.text("chain")?;
            let mut tx = self.db.begin().await?;
            // Takes the head's lock first, so appends wait for the prune.
            let floor = tx
                .fetch_optional(
                    "UPDATE audit_heads SET floor_seq = floor_seq WHERE chain = $1 RETURNING floor_seq",
                    args([chain.as_str().into()]),
                )
                .await?
                .map(|r| r.int("floor_seq"))
                .transpose()?
                .unwrap_or(0);
            let last = tx
                .fetch_optional(
                    "SELECT seq, hash FROM audit_events WHERE chain = $1 AND seq > $2 AND occurred_at < $3
                     ORDER BY seq DESC LIMIT 1",
                    args([chain.as_str().into(), floor.into(), older_than.into()]),
                )
                .await?;
            let Some(last) = last else { continue };
            let (seq, hash) = (last.int("seq")?, last.text("hash")?);
            tx.execute(
                "UPDATE audit_heads SET floor_seq = $2, floor_hash = $3 WHERE chain = $1",
                args([chain.as_str().into(), seq.into(), hash.into()]),
            )
            .await?;
            let removed = tx
                .execute(
                    "DELETE FROM audit_events WHERE chain = $1 AND seq <= $2",
                    args([chain.as_str().into(), seq.into()]),
                )
                .await?;
            let org = if chain == SYSTEM_CHAIN { None } else { chain.parse().ok() };
            let mut record = NewAuditEvent::new(org, rapport_domain::ActorKind::System, PRUNE_ACTION, Outcome::Success);
            record.resource_type = Some("audit_events".into());
            record.resource_id = Some(seq.to_string());
            record.reason = Some(format!("retention: events {} to {seq}, older than {older_than}", floor + 1));
            self.append_in(&mut tx, &record).await?;
            tx.commit().await?;
            pruned.push((chain, removed as i64));
        }
        Ok(pruned)
    }

    /// An organization's events, newest first; the cursor is a sequence number.
    pub async fn audit_events(
        &self,
        org: OrganizationId,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        // Exports take up to 10,000 events a page; the API's lists stop at 200.
        let limit = page.limit.clamp(1, 10_000);
        let after: Option<i64> = match &page.after {
            Some(cursor) => Some(cursor.parse().map_err(|_| StoreError::NotFound)?),
            None => None,
        };
        let values: Vec<Arg> = vec![
            org.to_string().into(),
            after.into(),
            query.patient_id.map(|p| p.to_string()).into(),
            query.actor_id.clone().into(),
            query.action.clone().into(),
            query.from.map(super::db::micros).into(),
            query.to.map(super::db::micros).into(),
            ((limit + 1) as i64).into(),
        ];
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM audit_events WHERE organization_id = $1
                   AND ($2 IS NULL OR seq < $2) AND ($3 IS NULL OR patient_id = $3)
                   AND ($4 IS NULL OR actor_id = $4) AND ($5 IS NULL OR action = $5)
                   AND ($6 IS NULL OR occurred_at >= $6) AND ($7 IS NULL OR occurred_at < $7)
                 ORDER BY seq DESC LIMIT $8",
                values,
            )
            .await?;
        let events = rows.iter().map(event_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(super::paginate(events, limit, |e| e.seq.to_string()))
    }

    /// Walks every chain from its first event, recomputing each hash; reads
    /// in pages, so a trail of years fits in memory.
    pub async fn verify_audit(&self) -> Result<Vec<ChainReport>, StoreError> {
        let heads = self.db.fetch_all("SELECT * FROM audit_heads ORDER BY chain", vec![]).await?;
        let mut reports = Vec::with_capacity(heads.len());
        for head in &heads {
            let chain = head.text("chain")?;
            let floor = (head.int("floor_seq")?, head.text("floor_hash")?);
            let report = self.verify_chain(&chain, (head.int("seq")?, &head.text("hash")?), floor).await?;
            reports.push(report);
        }
        let orphans = self
            .db
            .fetch_all(
                "SELECT DISTINCT chain FROM audit_events WHERE chain NOT IN (SELECT chain FROM audit_heads)",
                vec![],
            )
            .await?;
        for row in orphans {
            let chain = row.text("chain")?;
            reports.push(ChainReport { chain, events: 0, problems: vec!["the chain's head record is missing".into()] });
        }
        Ok(reports)
    }

    /// Walks one chain from just above its floor to its head.
    async fn verify_chain(
        &self,
        chain: &str,
        (head_seq, head_hash): (i64, &str),
        (floor_seq, floor_hash): (i64, String),
    ) -> Result<ChainReport, StoreError> {
        const PAGE: i64 = 5_000;
        let mut problems = Vec::new();
        let (mut expected_seq, mut prev_hash, mut events) = (floor_seq + 1, floor_hash, 0_i64);
        let mut prune_recorded = floor_seq == 0;
        loop {
            let rows = self
                .db
                .fetch_all(
                    "SELECT * FROM audit_events WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                    args([chain.into(), expected_seq.into(), PAGE.into()]),
                )
                .await?;
            let fetched = rows.len() as i64;
            for row in &rows {
                let event = event_from_row(row)?;
                events += 1;
                if event.seq != expected_seq {
                    problems.push(format!("events {expected_seq} to {} are missing (deleted)", event.seq - 1));
                } else if event.prev_hash != prev_hash {
                    problems.push(format!("event {}: does not follow the event before it", event.seq));
                }
                if event_hash(&event) != event.hash {
                    problems.push(format!("event {}: content does not match its hash (edited)", event.seq));
                }
                let floor_text = floor_seq.to_string();
                if event.event.action == PRUNE_ACTION && event.event.resource_id.as_deref() == Some(floor_text.as_str())
                {
                    prune_recorded = true;
                }
                expected_seq = event.seq + 1;
                prev_hash = event.hash;
            }
            if fetched < PAGE {
                break;
            }
        }
        if !prune_recorded {
            problems.push(format!("events up to {floor_seq} were removed without a retention record"));
        }
        if expected_seq - 1 != head_seq || prev_hash != head_hash {
            problems.push(format!(
                "the chain ends at event {} but its head says {head_seq} (events cut from the end)",
                expected_seq - 1
            ));
        }
        Ok(ChainReport { chain: chain.to_owned(), events, problems })
    }
}
