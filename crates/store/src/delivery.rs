//! A message's moves through its hand-off to a provider (see the state
//! diagram in `rapport_domain::message::lifecycle`). Each move is one
//! `UPDATE … WHERE state IN (…)` with its trace line in the same
//! transaction, so of two processes racing for the same move exactly one
//! wins, and a move from a state the message has left changes nothing.
//! Also here: addresses that cannot receive, and each SMS sender's
//! suppression list (STOP).

use rapport_domain::{Channel, MessageId, MessageState, OrganizationId, ProviderRef};

use super::db::{Tx, args};
use super::messages::note;
use super::{Store, StoreError};

/// What a provider's status report did to its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The message moved to the reported state.
    Applied(MessageState),
    /// Already there or further along (a repeat, or a late report): nothing changed.
    Unchanged,
    /// No message of that id, or it was handed to another provider reference.
    Unknown,
}

/// Remembers, in the caller's transaction, that the address message `id`
/// went to cannot receive on its channel.
pub(super) async fn mark_undeliverable_in(
    tx: &mut Tx,
    org: OrganizationId,
    id: MessageId,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO undeliverable_addresses (organization_id, channel, address, reason, at)
         SELECT organization_id, channel, address, $3, $4 FROM messages
         WHERE organization_id = $1 AND id = $2 AND channel IS NOT NULL AND address IS NOT NULL
         ON CONFLICT (organization_id, channel, address) DO NOTHING",
        args([org.to_string().into(), id.to_string().into(), reason.into(), now.into()]),
    )
    .await
    .map(drop)
}

/// Puts `address` on `sender`'s suppression list, in the caller's transaction.
pub(super) async fn suppress_in(
    tx: &mut Tx,
    org: OrganizationId,
    sender: &str,
    address: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sms_suppressions (organization_id, sender, address, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, sender, address) DO NOTHING",
        args([org.to_string().into(), sender.into(), address.into(), now.into()]),
    )
    .await
    .map(drop)
}

/// Records, in the caller's transaction, that the hand-offs of `messages`
/// (still `sending`) are crossing their point of no return at `at`; or,
/// with `None`, that they did not start after all.
pub(super) async fn record_started_in(
    tx: &mut Tx,
    messages: &[(OrganizationId, MessageId)],
    at: Option<jiff::Timestamp>,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut values = vec![at.into()];
    for (org, id) in messages {
        values.extend([id.to_string().into(), org.to_string().into()]);
    }
    let sql = format!(
        "UPDATE messages SET handed_at = $1 FROM (VALUES {}) AS v
         WHERE messages.id = v.column1 AND messages.organization_id = v.column2 AND messages.state = 'sending'",
        super::db::tuples(2, messages.len(), 2)
    );
    tx.execute(sqlx::AssertSqlSafe(sql), values).await.map(drop)
}

/// One move of a message between states, with its trace line, in the
/// caller's transaction; false if the message was in none of `change.from`.
pub(super) async fn move_in(
    tx: &mut Tx,
    org: OrganizationId,
    id: MessageId,
    change: Move,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let from = change.from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "UPDATE messages SET state = $3, updated_at = $4{} WHERE organization_id = $1 AND id = $2 AND state IN ({from})",
        change.set
    );
    let mut values = args([org.to_string().into(), id.to_string().into(), change.to.as_str().into(), now.into()]);
    if let Some(extra) = change.extra {
        values.push(extra.into());
    }
    let changed = tx.execute(sqlx::AssertSqlSafe(sql), values).await?;
    if changed == 1 {
        note(tx, id, now, &change.line).await?;
    }
    Ok(changed == 1)
}

/// One state change: from any of `from` to `to`, setting `set` too (SQL
/// after `updated_at`, with `$5` bound to `extra`), traced as `line`.
pub(super) struct Move {
    from: &'static [MessageState],
    to: MessageState,
    set: &'static str,
    extra: Option<String>,
    line: String,
}

/// Where a message is while its hand-off is unsettled.
const HANDING: &[MessageState] = &[MessageState::Sending, MessageState::InDoubt];

impl Move {
    /// `sending | in_doubt → sent`: the provider took it, under `provider_ref`.
    pub(super) fn sent(provider_ref: &ProviderRef, line: &str) -> Self {
        let set = ", provider_ref = $5, sent_at = $4, reason = NULL";
        Move {
            from: HANDING,
            to: MessageState::Sent,
            set,
            extra: Some(provider_ref.as_str().into()),
            line: line.into(),
        }
    }

    /// `sending → in_doubt`, with why we cannot tell.
    pub(super) fn in_doubt(reason: &str) -> Self {
        let line = format!("in doubt: {reason}; to be reconciled with the provider, not resent");
        Move {
            from: &[MessageState::Sending],
            to: MessageState::InDoubt,
            set: ", reason = $5",
            extra: Some(reason.into()),
            line,
        }
    }

    /// `sending | in_doubt → planned`: it may be sent again.
    pub(super) fn back_to_planned(why: &str) -> Self {
        let set = ", channel = NULL, address = NULL, sending_at = NULL, handed_at = NULL, reason = NULL";
        Move { from: HANDING, to: MessageState::Planned, set, extra: None, line: format!("back to planned: {why}") }
    }

    /// `in_doubt → sent`: staff know it arrived.
    fn settled_sent() -> Self {
        let line = "marked sent by staff: they know it arrived".to_owned();
        Move {
            from: &[MessageState::InDoubt],
            to: MessageState::Sent,
            set: ", sent_at = $4, reason = NULL",
            extra: None,
            line,
        }
    }

    /// `in_doubt → planned`: staff chose to send it again.
    fn resent() -> Self {
        let set = ", channel = NULL, address = NULL, sending_at = NULL, handed_at = NULL, reason = NULL";
        let line = "back to planned: staff chose to send it again (it may arrive twice)".to_owned();
        Move { from: &[MessageState::InDoubt], to: MessageState::Planned, set, extra: None, line }
    }

    /// `sending | in_doubt → failed | undeliverable | suppressed`, for good.
    pub(super) fn ended(state: MessageState, reason: &str) -> Self {
        let line = format!("{}: {reason}", state.as_str());
        Move { from: HANDING, to: state, set: ", reason = $5", extra: Some(reason.into()), line }
    }
}

/// A provider's report on a message (a status callback).
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub message_id: MessageId,
    pub provider_ref: ProviderRef,
    /// `Sent`, `Delivered`, `Read`, `Failed` or `Undeliverable`.
    pub state: MessageState,
    /// The provider's reason (an error code), for failures.
    pub reason: Option<String>,
}

/// What staff decide about a message in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// They know it arrived (the mail log, the patient): `sent`.
    Sent,
    /// Send it again, knowing it may arrive twice: `planned`, its job due now.
    Resend,
}

impl Store {
    /// The first of `refs` (a lookup's matches) that no other message of
    /// `org` is recorded under: the one that is message `id`'s.
    pub async fn unclaimed_ref(
        &self,
        org: OrganizationId,
        id: MessageId,
        refs: &[ProviderRef],
    ) -> Result<Option<ProviderRef>, StoreError> {
        if refs.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT provider_ref FROM messages WHERE organization_id = $1 AND id <> $2 AND provider_ref IN ({})",
            super::db::placeholders(3, refs.len())
        );
        let mut values = args([org.to_string().into(), id.to_string().into()]);
        values.extend(refs.iter().map(|r| r.as_str().into()));
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), values).await?;
        let claimed: Vec<String> = rows.iter().map(|r| r.text("provider_ref")).collect::<Result<_, _>>()?;
        Ok(refs.iter().find(|r| !claimed.iter().any(|c| c == r.as_str())).cloned())
    }

    /// Settles message `id` of `org` if it is in doubt; false if it is not.
    pub async fn settle_in_doubt(
        &self,
        org: OrganizationId,
        id: MessageId,
        settle: Settle,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let change = match settle {
            Settle::Sent => Move::settled_sent(),
            Settle::Resend => Move::resent(),
        };
        let moved = move_in(&mut tx, org, id, change, now).await?;
        if moved && settle == Settle::Resend {
            let job = super::job_kinds::send_job(org, id, now, 0);
            self.requeue_job_in(&mut tx, &job).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn move_message(&self, org: OrganizationId, id: MessageId, change: Move) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let moved = move_in(&mut tx, org, id, change, self.clock.now()).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// `sending | in_doubt → sent`: the provider took it, under `provider_ref`.
    pub async fn record_sent(
        &self,
        org: OrganizationId,
        id: MessageId,
        provider_ref: &ProviderRef,
        line: &str,
    ) -> Result<bool, StoreError> {
        self.move_message(org, id, Move::sent(provider_ref, line)).await
    }

    /// `sending → in_doubt`: the provider may have it; the reason says why
    /// we cannot tell.
    pub async fn record_in_doubt(&self, org: OrganizationId, id: MessageId, reason: &str) -> Result<bool, StoreError> {
        self.move_message(org, id, Move::in_doubt(reason)).await
    }

    /// `sending | in_doubt → planned`: the provider refused it before taking
    /// it, or a lookup proved it never arrived; it may be sent again.
    pub async fn return_to_planned(&self, org: OrganizationId, id: MessageId, why: &str) -> Result<bool, StoreError> {
        self.move_message(org, id, Move::back_to_planned(why)).await
    }

    /// Applies a provider's status report: forward only, idempotent.
    pub async fn apply_delivery_report(
        &self,
        org: OrganizationId,
        report: &DeliveryReport,
    ) -> Result<ReportOutcome, StoreError> {
        let message = match self.message(org, report.message_id).await {
            Ok(message) => message,
            Err(StoreError::NotFound) => return Ok(ReportOutcome::Unknown),
            Err(error) => return Err(error),
        };
        if message.provider_ref.as_ref().is_some_and(|r| *r != report.provider_ref) {
            return Ok(ReportOutcome::Unknown);
        }
        if !message.state.reached_provider() || message.state.delivery_rank() >= report.state.delivery_rank() {
            return Ok(ReportOutcome::Unchanged);
        }
        let from: Vec<MessageState> = MessageState::ALL
            .into_iter()
            .filter(|s| s.reached_provider() && !s.undelivered() && s.delivery_rank() < report.state.delivery_rank())
            .collect();
        let reason = report.reason.clone().unwrap_or_default();
        let line = match &report.reason {
            Some(reason) => format!("provider reports {}: {reason}", report.state.as_str()),
            None => format!("provider reports {}", report.state.as_str()),
        };
        let set = ", provider_ref = $5, sent_at = COALESCE(sent_at, $4), reason = NULLIF($6, '')";
        let now = self.clock.now();
        let from_sql = from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE messages SET state = $3, updated_at = $4{set} WHERE organization_id = $1 AND id = $2 AND state IN ({from_sql})"
        );
        let mut tx = self.db.begin().await?;
        let changed = tx
            .execute(
                sqlx::AssertSqlSafe(sql),
                args([
                    org.to_string().into(),
                    message.id.to_string().into(),
                    report.state.as_str().into(),
                    now.into(),
                    report.provider_ref.as_str().into(),
                    reason.as_str().into(),
                ]),
            )
            .await?;
        if changed == 0 {
            return Ok(ReportOutcome::Unchanged);
        }
        note(&mut tx, message.id, now, &line).await?;
        if report.state == MessageState::Undeliverable {
            let why = report.reason.as_deref().unwrap_or("undeliverable");
            mark_undeliverable_in(&mut tx, org, message.id, why, now).await?;
        }
        tx.commit().await?;
        Ok(ReportOutcome::Applied(report.state))
    }

    /// Which of the `(channel, address)` candidates are known not to receive.
    pub async fn undeliverable_channels(
        &self,
        org: OrganizationId,
        candidates: &[(Channel, String)],
    ) -> Result<Vec<Channel>, StoreError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = args([org.to_string().into()]);
        let mut clauses = Vec::new();
        for (channel, address) in candidates {
            values.push(channel.as_str().into());
            values.push(address.as_str().into());
            clauses.push(format!("(channel = ${} AND address = ${})", values.len() - 1, values.len()));
        }
        let sql = format!(
            "SELECT channel FROM undeliverable_addresses WHERE organization_id = $1 AND ({})",
            clauses.join(" OR ")
        );
        let rows = self.db.fetch_all(sqlx::AssertSqlSafe(sql), values).await?;
        rows.iter().map(|r| r.parsed("channel")).collect()
    }

    /// A 32-byte key this deployment keeps for itself under `name`,
    /// generated on first use (by whichever process asks first).
    pub async fn deployment_key(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fresh = rapport_secret::hex(&rapport_secret::random_bytes::<32>());
        self.db
            .execute(
                "INSERT INTO deployment_keys (name, key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                args([name.into(), fresh.into(), self.clock.now().into()]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional("SELECT key FROM deployment_keys WHERE name = $1", args([name.into()]))
            .await?
            .ok_or(StoreError::NotFound)?;
        let hex = row.text("key")?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| StoreError::Corrupt("a deployment key is not hex"))
    }

    /// Records that `address` texted STOP (or an equivalent) to `sender`:
    /// nothing more is texted to it from that number until it opts back in.
    pub async fn suppress_sms(&self, org: OrganizationId, sender: &str, address: &str) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        suppress_in(&mut tx, org, sender, address, self.clock.now()).await?;
        tx.commit().await
    }

    pub async fn is_sms_suppressed(
        &self,
        org: OrganizationId,
        sender: &str,
        address: &str,
    ) -> Result<bool, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT 1 AS one FROM sms_suppressions WHERE organization_id = $1 AND sender = $2 AND address = $3",
                args([org.to_string().into(), sender.into(), address.into()]),
            )
            .await?;
        Ok(row.is_some())
    }

    /// Whether the number opted out of texts from any of the organization's senders.
    pub async fn is_sms_suppressed_anywhere(&self, org: OrganizationId, address: &str) -> Result<bool, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT 1 AS one FROM sms_suppressions WHERE organization_id = $1 AND address = $2 LIMIT 1",
                args([org.to_string().into(), address.into()]),
            )
            .await?;
        Ok(row.is_some())
    }
}
