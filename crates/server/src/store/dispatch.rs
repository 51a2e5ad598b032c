//! The dispatcher's batch reads and writes: everything it needs to decide
//! on a batch of messages is read in a handful of queries, its decisions
//! commit in one transaction, and the providers' answers with the jobs'
//! ends in another. A batch costs three commits, whatever its size.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rapport_domain::{
    Channel, Consent, Message, MessageClass, MessageId, MessageState, OrganizationId, Patient, PatientId, TimeZoneName,
};
use sqlx::AssertSqlSafe;

use super::db::{Arg, args, placeholders};
use super::delivery::{Move, mark_undeliverable_in, move_in, suppress_in};
use super::messages::{message_from_row, note};
use super::{JobResult, JobState, Store, StoreError};
use rapport_domain::JobId;
use rapport_domain::message::routing::address_for;

/// What deciding on a batch of messages needs besides the messages.
#[derive(Debug, Default)]
pub struct DispatchFacts {
    /// Live patients by id (a deleted one is absent).
    pub patients: HashMap<PatientId, Patient>,
    /// Each patient's current consents.
    pub consents: HashMap<PatientId, Vec<Consent>>,
    /// `(organization, channel, address)` known not to receive.
    pub undeliverable: HashSet<(OrganizationId, Channel, String)>,
    /// `(organization, number)` on the SMS sender's suppression list.
    pub suppressed: HashSet<(OrganizationId, String)>,
    /// When each patient's care messages were handed over, since the window's start.
    pub care_sends: HashMap<PatientId, Vec<Timestamp>>,
    pub org_zones: HashMap<OrganizationId, TimeZoneName>,
}

/// What the dispatcher decided for one planned message.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Not to be sent: suppressed with the reason.
    Close { reason: String },
    /// To wait: only the trace is written (the job is put back).
    Defer,
    /// To hand over now to `address` by `channel`: `planned → sending`.
    Begin { channel: Channel, address: String },
}

/// What a provider's answer does to a message in `sending`.
#[derive(Debug, Clone)]
pub enum Handed {
    Sent {
        provider_ref: String,
        line: String,
    },
    InDoubt {
        reason: String,
    },
    BackToPlanned {
        why: String,
    },
    Refused {
        state: MessageState,
        reason: String,
    },
    /// The provider holds the STOP that `address` texted to `sender`.
    OptedOut {
        sender: Option<String>,
        address: String,
        reason: String,
    },
}

fn text_args(values: impl IntoIterator<Item = String>) -> Vec<Arg> {
    values.into_iter().map(Arg::from).collect()
}

impl Store {
    /// The messages of `ids` (any organization: the caller checks its jobs').
    pub async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT * FROM messages WHERE id IN ({})", placeholders(1, ids.len()));
        let rows = self.db.fetch_all(AssertSqlSafe(sql), text_args(ids.iter().map(|i| i.to_string()))).await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Reads what deciding on `messages` needs: their patients, consents,
    /// which of the patients' addresses on `channels` are undeliverable or
    /// suppressed by `sms_sender`, recent care sends since `care_since`, and
    /// the organizations' zones.
    pub async fn dispatch_facts(
        &self,
        messages: &[&Message],
        channels: &[Channel],
        sms_sender: Option<&str>,
        care_since: Timestamp,
    ) -> Result<DispatchFacts, StoreError> {
        let mut facts = DispatchFacts::default();
        if messages.is_empty() {
            return Ok(facts);
        }
        let patient_ids: Vec<String> =
            messages.iter().map(|m| m.plan.patient_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
        let list = placeholders(1, patient_ids.len());
        let sql = format!("SELECT * FROM patients WHERE id IN ({list}) AND deleted_at IS NULL");
        let rows = self.db.fetch_all(AssertSqlSafe(sql), text_args(patient_ids.clone())).await?;
        for patient in self.hydrate(rows).await? {
            facts.patients.insert(patient.id, patient);
        }
        let sql = format!("SELECT * FROM consents WHERE patient_id IN ({list}) ORDER BY id");
        let mut ledgers: HashMap<PatientId, Vec<Consent>> = HashMap::new();
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(patient_ids.clone())).await? {
            let consent = super::consents::consent_from_row(&row)?;
            ledgers.entry(consent.patient_id).or_default().push(consent);
        }
        for (patient, ledger) in ledgers {
            facts.consents.insert(patient, rapport_domain::consent::current(&ledger).into_iter().cloned().collect());
        }
        let care: Vec<String> = messages
            .iter()
            .filter(|m| m.plan.class == MessageClass::Care)
            .map(|m| m.plan.patient_id.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !care.is_empty() {
            let list = placeholders(2, care.len());
            let sql = format!(
                "SELECT patient_id, sent_at AS at FROM messages WHERE patient_id IN ({list}) AND class = 'care'
                   AND sent_at IS NOT NULL AND sent_at >= $1
                 UNION ALL
                 SELECT patient_id, sending_at AS at FROM messages WHERE patient_id IN ({list}) AND class = 'care'
                   AND state IN ('sending', 'in_doubt') AND sending_at >= $1"
            );
            let mut values = vec![Arg::from(care_since)];
            values.extend(text_args(care));
            for row in self.db.fetch_all(AssertSqlSafe(sql), values).await? {
                facts.care_sends.entry(row.parsed("patient_id")?).or_default().push(row.timestamp("at")?);
            }
        }
        let addresses: Vec<String> = facts
            .patients
            .values()
            .flat_map(|p| channels.iter().filter_map(|&c| address_for(&p.details, c)))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !addresses.is_empty() {
            let list = placeholders(1, addresses.len());
            let sql = format!(
                "SELECT organization_id, channel, address FROM undeliverable_addresses WHERE address IN ({list})"
            );
            for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(addresses.clone())).await? {
                facts.undeliverable.insert((
                    row.parsed("organization_id")?,
                    row.parsed("channel")?,
                    row.text("address")?,
                ));
            }
            if let Some(sender) = sms_sender {
                let list = placeholders(2, addresses.len());
                let sql = format!(
                    "SELECT organization_id, address FROM sms_suppressions WHERE sender = $1 AND address IN ({list})"
                );
                let mut values = vec![Arg::from(sender)];
                values.extend(text_args(addresses));
                for row in self.db.fetch_all(AssertSqlSafe(sql), values).await? {
                    facts.suppressed.insert((row.parsed("organization_id")?, row.text("address")?));
                }
            }
        }
        let orgs: Vec<String> =
            messages.iter().map(|m| m.organization_id.to_string()).collect::<HashSet<_>>().into_iter().collect();
        let sql = format!("SELECT id, time_zone FROM organizations WHERE id IN ({})", placeholders(1, orgs.len()));
        for row in self.db.fetch_all(AssertSqlSafe(sql), text_args(orgs)).await? {
            let zone =
                TimeZoneName::parse(&row.text("time_zone")?).map_err(|_| StoreError::Corrupt("bad time zone"))?;
            facts.org_zones.insert(row.parsed("id")?, zone);
        }
        Ok(facts)
    }

    /// Commits the dispatcher's decisions, each with its trace, and the ends
    /// of the jobs that need no hand-off, in one transaction. For each
    /// decision, whether it took effect (a message no longer planned, because
    /// it was cancelled or taken meanwhile, is left alone); for each job, its
    /// state now (`None`: the lease was lost).
    pub async fn commit_decisions(
        &self,
        owner: &str,
        decisions: &[(&Message, Decided, Vec<String>)],
        jobs: &[(JobId, JobResult)],
    ) -> Result<(Vec<bool>, Vec<Option<JobState>>), StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut took = Vec::with_capacity(decisions.len());
        for (message, decided, trace) in decisions {
            let (org, id) = (message.organization_id.to_string(), message.id.to_string());
            let changed = match decided {
                Decided::Close { reason } => {
                    tx.execute(
                        "UPDATE messages SET state = 'suppressed', reason = $3, updated_at = $4
                         WHERE organization_id = $1 AND id = $2 AND state = 'planned'",
                        args([org.into(), id.into(), reason.as_str().into(), now.into()]),
                    )
                    .await?
                        == 1
                }
                Decided::Defer => true,
                Decided::Begin { channel, address } => {
                    tx.execute(
                        "UPDATE messages SET state = 'sending', channel = $3, address = $4, sending_at = $5,
                             updated_at = $5
                         WHERE organization_id = $1 AND id = $2 AND state = 'planned'",
                        args([org.into(), id.into(), channel.as_str().into(), address.as_str().into(), now.into()]),
                    )
                    .await?
                        == 1
                }
            };
            if changed {
                for line in trace {
                    note(&mut tx, message.id, now, line).await?;
                }
                if let Decided::Close { reason } = decided {
                    note(&mut tx, message.id, now, &format!("suppressed: {reason}")).await?;
                }
            }
            took.push(changed);
        }
        let recorded = self.finish_jobs_in(&mut tx, owner, jobs).await?;
        tx.commit().await?;
        Ok((took, recorded))
    }

    /// Records the providers' answers for messages in `sending`, with the
    /// ends of their jobs, in one transaction.
    pub async fn record_handoffs(
        &self,
        owner: &str,
        answers: &[(&Message, Handed)],
        jobs: &[(JobId, JobResult)],
    ) -> Result<Vec<Option<JobState>>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let handing = [MessageState::Sending, MessageState::InDoubt];
        for (message, handed) in answers {
            let (org, id) = (message.organization_id, message.id);
            match handed {
                Handed::Sent { provider_ref, line } => {
                    let change = Move {
                        from: &handing,
                        to: MessageState::Sent,
                        set: ", provider_ref = $5, sent_at = $4, reason = NULL",
                        extra: Some(provider_ref.clone()),
                        line,
                    };
                    move_in(&mut tx, org, id, change, now).await?;
                }
                Handed::InDoubt { reason } => {
                    let line = format!("in doubt: {reason}; to be reconciled with the provider, not resent");
                    let change = Move {
                        from: &[MessageState::Sending],
                        to: MessageState::InDoubt,
                        set: ", reason = $5",
                        extra: Some(reason.clone()),
                        line: &line,
                    };
                    move_in(&mut tx, org, id, change, now).await?;
                }
                Handed::BackToPlanned { why } => {
                    let change = Move {
                        from: &handing,
                        to: MessageState::Planned,
                        set: ", channel = NULL, address = NULL, sending_at = NULL, reason = NULL",
                        extra: None,
                        line: &format!("back to planned: {why}"),
                    };
                    move_in(&mut tx, org, id, change, now).await?;
                }
                Handed::Refused { state, reason } => {
                    let change = Move {
                        from: &handing,
                        to: *state,
                        set: ", reason = $5",
                        extra: Some(reason.clone()),
                        line: &format!("{}: {reason}", state.as_str()),
                    };
                    if move_in(&mut tx, org, id, change, now).await? && *state == MessageState::Undeliverable {
                        mark_undeliverable_in(&mut tx, org, id, reason, now).await?;
                    }
                }
                Handed::OptedOut { sender, address, reason } => {
                    if let Some(sender) = sender {
                        suppress_in(&mut tx, org, sender, address, now).await?;
                    }
                    let change = Move {
                        from: &handing,
                        to: MessageState::Suppressed,
                        set: ", reason = $5",
                        extra: Some(reason.clone()),
                        line: &format!("suppressed: {reason}"),
                    };
                    move_in(&mut tx, org, id, change, now).await?;
                }
            }
        }
        let recorded = self.finish_jobs_in(&mut tx, owner, jobs).await?;
        tx.commit().await?;
        Ok(recorded)
    }
}
