//! Messages, their decision trace, and the log channel's outbox. Planning
//! commits the message and its send job together. The moves of a message
//! through its hand-off to a provider are `delivery.rs`.

use jiff::Timestamp;
use rapport_domain::message::MessageEvent;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{
    AppointmentId, Channel, LanguageTag, Message, MessageClass, MessageId, MessagePlan, MessageState, OrganizationId,
    PatientId,
};

use super::db::{Row, Tx, args};
use super::{Page, PageRequest, Store, StoreError};

/// Runs of a send job before it gives up (a run cut short by a crash counts).
pub const SEND_ATTEMPTS: i64 = 10;

/// Which messages to list: every given criterion must match.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub patient: Option<PatientId>,
    /// Its class, which is its purpose for consent (transactional, care, marketing).
    pub class: Option<MessageClass>,
    pub state: Option<MessageState>,
    /// Its template kind (what it is for: `appointment_reminder` …).
    pub template: Option<TemplateKind>,
    /// The visit it is about.
    pub appointment: Option<AppointmentId>,
    /// Its idempotency key starts so (those asked for one way, e.g. through FHIR).
    pub key_prefix: Option<String>,
}

/// What the log channel would have sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub message_id: MessageId,
    pub channel: Channel,
    pub address: String,
    pub subject: Option<String>,
    pub body: String,
    pub created_at: Timestamp,
}

pub(super) fn message_from_row(r: &Row) -> Result<Message, StoreError> {
    Ok(Message {
        id: r.parsed("id")?,
        organization_id: r.parsed("organization_id")?,
        plan: MessagePlan {
            patient_id: r.parsed("patient_id")?,
            class: r.parsed("class")?,
            idempotency_key: r.text("idempotency_key")?,
            subject: r.opt_text("subject")?,
            body: r.text("body")?,
            template: r
                .opt_text("template_kind")?
                .map(|k| TemplateKind::parse(&k))
                .transpose()
                .map_err(|_| StoreError::Corrupt("bad template kind"))?,
            appointment_id: r.opt_parsed("appointment_id")?,
            priority: r.parsed("priority")?,
            media: r.opt_text("media")?.map(|m| m.lines().map(str::to_owned).collect()).unwrap_or_default(),
            channel: r.opt_parsed("only_channel")?,
            to: r.opt_text("to_address")?,
            due_at: r.timestamp("due_at")?,
            expires_at: r.opt_int("expires_at")?.map(super::db::from_micros).transpose()?,
        },
        state: r.parsed("state")?,
        channel: r.opt_parsed("channel")?,
        address: r.opt_text("address")?,
        language: r
            .opt_text("language")?
            .map(|l| LanguageTag::parse(&l))
            .transpose()
            .map_err(|_| StoreError::Corrupt("bad language"))?,
        provider_ref: r.opt_text("provider_ref")?.map(rapport_domain::ProviderRef::from),
        sending_at: r.opt_int("sending_at")?.map(super::db::from_micros).transpose()?,
        handed_at: r.opt_int("handed_at")?.map(super::db::from_micros).transpose()?,
        reason: r.opt_text("reason")?,
        sent_at: r.opt_int("sent_at")?.map(super::db::from_micros).transpose()?,
        created_at: r.timestamp("created_at")?,
    })
}

/// The outbox's columns, in the order of [`outbox_args`].
pub(super) const OUTBOX_COLUMNS: &str =
    "outbox (id, organization_id, message_id, channel, address, subject, body, created_at)";

pub(super) fn outbox_args(org: OrganizationId, entry: &OutboxEntry) -> Vec<super::db::Arg> {
    args([
        MessageId::generate().to_string().into(),
        org.to_string().into(),
        entry.message_id.to_string().into(),
        entry.channel.as_str().into(),
        entry.address.as_str().into(),
        entry.subject.clone().into(),
        entry.body.as_str().into(),
        entry.created_at.into(),
    ])
}

/// Appends lines to messages' traces, each message's in order, in one
/// statement (after one read of where each trace ends). The messages are
/// locked first, so that a webhook noting one at the same time waits
/// rather than taking the same place in its trace.
pub(super) async fn notes_in(tx: &mut Tx, lines: &[(MessageId, &str)], at: Timestamp) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<String> =
        lines.iter().map(|(id, _)| id.to_string()).collect::<std::collections::HashSet<_>>().into_iter().collect();
    ids.sort();
    // Each message locked, and where its trace ends read by its own index
    // probe (a correlated MAX, never a scan of every trace).
    let sql = format!(
        "SELECT id, (SELECT MAX(e.seq) FROM message_events e WHERE e.message_id = messages.id) AS top
         FROM messages WHERE id IN ({}) ORDER BY id {}",
        super::db::placeholders(1, ids.len()),
        tx.for_update()
    );
    let mut top: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let found = tx.fetch_all(sqlx::AssertSqlSafe(sql), ids.into_iter().map(super::db::Arg::from).collect()).await?;
    for row in found {
        top.insert(row.text("id")?, row.opt_int("top")?.unwrap_or(0));
    }
    let rows = lines
        .iter()
        .map(|(id, line)| {
            let seq = top.entry(id.to_string()).or_insert(0);
            *seq += 1;
            vec![id.to_string().into(), (*seq).into(), at.into(), (*line).into()]
        })
        .collect();
    super::db::insert_rows(tx, "message_events (message_id, seq, at, note)", rows).await
}

/// Appends one line to a message's trace (the message locked first, as in `notes_in`).
pub(super) async fn note(tx: &mut Tx, id: MessageId, at: Timestamp, text: &str) -> Result<(), StoreError> {
    let lock = format!("SELECT id FROM messages WHERE id = $1 {}", tx.for_update());
    tx.fetch_optional(sqlx::AssertSqlSafe(lock), args([id.to_string().into()])).await?;
    tx.execute(
        "INSERT INTO message_events (message_id, seq, at, note)
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM message_events WHERE message_id = $1), $2, $3)",
        args([id.to_string().into(), at.into(), text.into()]),
    )
    .await
    .map(drop)
}

impl Store {
    /// Plans a message for a live patient of `org`, with its send job; a
    /// key planned before returns that message (and `false`). The
    /// appointment it names, if any, must be that patient's. A templated
    /// message must name a kind the organization or Rapport has a template
    /// of, and an appointment when the template speaks of one.
    pub async fn plan_message(&self, org: OrganizationId, plan: &MessagePlan) -> Result<(Message, bool), StoreError> {
        let mut tx = self.db.begin().await?;
        let created = self.plan_in(&mut tx, org, plan, false).await?;
        tx.commit().await?;
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM messages WHERE organization_id = $1 AND idempotency_key = $2",
                args([org.to_string().into(), plan.idempotency_key.as_str().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((message_from_row(&row)?, created))
    }

    /// [`plan_message`](Store::plan_message) within the caller's
    /// transaction; `true` when the message is new. With `any_visit`, the
    /// appointment may be another patient's (a freed slot offered from the
    /// waitlist: only its time, place and provider are worded).
    pub async fn plan_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        plan: &MessagePlan,
        any_visit: bool,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        tx.fetch_optional(
            "SELECT id FROM patients WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
            args([org.to_string().into(), plan.patient_id.to_string().into()]),
        )
        .await?
        .ok_or(StoreError::UnknownReference { field: "patient_id".into() })?;
        if let Some(appointment) = plan.appointment_id {
            tx.fetch_optional(
                "SELECT id FROM appointments WHERE organization_id = $1 AND id = $2 AND ($4 = 1 OR patient_id = $3)",
                args([
                    org.to_string().into(),
                    appointment.to_string().into(),
                    plan.patient_id.to_string().into(),
                    i64::from(any_visit).into(),
                ]),
            )
            .await?
            .ok_or(StoreError::UnknownReference { field: "appointment_id".into() })?;
        }
        if let Some(kind) = &plan.template {
            let own = self.templates_of_kind_in(tx, org, kind).await?;
            let shipped = rapport_domain::message::builtin::templates().iter().filter(|t| &t.kind == kind);
            let mut contents = own.iter().map(|t| &t.content).chain(shipped).peekable();
            if contents.peek().is_none() {
                return Err(StoreError::UnknownReference { field: "template".into() });
            }
            if plan.appointment_id.is_none() && contents.any(|c| c.needs_appointment()) {
                return Err(StoreError::Invalid {
                    field: "appointment_id".into(),
                    reason: "is required: the template speaks of the appointment".into(),
                });
            }
        }
        let id = MessageId::generate();
        let created = tx
            .execute(
                "INSERT INTO messages (id, organization_id, patient_id, class, idempotency_key, state, subject, body,
                     due_at, expires_at, created_at, updated_at, template_kind, appointment_id, priority, media,
                     only_channel, to_address)
                 VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (organization_id, idempotency_key) DO NOTHING",
                args([
                    id.to_string().into(),
                    org.to_string().into(),
                    plan.patient_id.to_string().into(),
                    plan.class.as_str().into(),
                    plan.idempotency_key.as_str().into(),
                    plan.subject.clone().into(),
                    plan.body.as_str().into(),
                    plan.due_at.into(),
                    plan.expires_at.map(super::db::micros).into(),
                    now.into(),
                    plan.template.as_ref().map(|k| k.as_str().to_owned()).into(),
                    plan.appointment_id.map(|a| a.to_string()).into(),
                    plan.priority.as_str().into(),
                    (!plan.media.is_empty()).then(|| plan.media.join("\n")).into(),
                    plan.channel.map(|c| c.as_str()).into(),
                    plan.to.clone().into(),
                ]),
            )
            .await?
            == 1;
        if created {
            note(tx, id, now, &format!("planned as {} for {}", plan.class, plan.due_at)).await?;
            let job = super::job_kinds::send_job(org, id, plan.due_at, plan.priority.rank());
            self.enqueue_job_in(tx, &job).await?;
        }
        Ok(created)
    }

    pub async fn message(&self, org: OrganizationId, id: MessageId) -> Result<Message, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM messages WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        message_from_row(&row)
    }

    /// Appends a line to a message of `org`'s trace (what happened after
    /// the hand-off: a keypad answer on a call).
    pub async fn note_message(&self, org: OrganizationId, id: MessageId, text: &str) -> Result<(), StoreError> {
        self.message(org, id).await?;
        let mut tx = self.db.begin().await?;
        note(&mut tx, id, self.clock.now(), text).await?;
        tx.commit().await
    }

    /// A message's decision trace, oldest first.
    pub async fn message_events(&self, org: OrganizationId, id: MessageId) -> Result<Vec<MessageEvent>, StoreError> {
        self.message(org, id).await?;
        let rows = self
            .db
            .fetch_all("SELECT * FROM message_events WHERE message_id = $1 ORDER BY seq", args([id.to_string().into()]))
            .await?;
        rows.iter().map(|r| Ok(MessageEvent { at: r.timestamp("at")?, note: r.text("note")? })).collect()
    }

    /// An organization's messages, newest first, narrowed by `query`.
    pub async fn messages(
        &self,
        org: OrganizationId,
        query: &MessageQuery,
        page: &PageRequest,
    ) -> Result<Page<Message>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM messages WHERE organization_id = $1 AND ($2 IS NULL OR patient_id = $2)
                   AND ($3 IS NULL OR class = $3) AND ($4 IS NULL OR state = $4)
                   AND ($5 IS NULL OR template_kind = $5) AND ($6 IS NULL OR appointment_id = $6)
                   AND ($7 IS NULL OR id < $7) AND ($9 IS NULL OR substr(idempotency_key, 1, length($9)) = $9)
                 ORDER BY id DESC LIMIT $8",
                args([
                    org.to_string().into(),
                    query.patient.map(|p| p.to_string()).into(),
                    query.class.map(|c| c.as_str()).into(),
                    query.state.map(|s| s.as_str()).into(),
                    query.template.as_ref().map(|k| k.as_str().to_owned()).into(),
                    query.appointment.map(|a| a.to_string()).into(),
                    page.after.clone().into(),
                    ((page.limit() + 1) as i64).into(),
                    query.key_prefix.clone().into(),
                ]),
            )
            .await?;
        let items = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(super::paginate(items, page.limit(), |m| m.id.to_string()))
    }

    /// Moves a planned message to `cancelled` or `suppressed` with the
    /// reason; false if it was no longer planned.
    pub async fn close_message(
        &self,
        org: OrganizationId,
        id: MessageId,
        state: MessageState,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let changed = self.close_in(&mut tx, org, id, state, reason).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// [`close_message`](Store::close_message) within the caller's transaction.
    pub async fn close_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: MessageId,
        state: MessageState,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let changed = tx
            .execute(
                "UPDATE messages SET state = $3, reason = $4, updated_at = $5
                 WHERE organization_id = $1 AND id = $2 AND state = 'planned'",
                args([org.to_string().into(), id.to_string().into(), state.as_str().into(), reason.into(), now.into()]),
            )
            .await?;
        if changed == 1 {
            note(tx, id, now, &format!("{}: {reason}", state.as_str())).await?;
        }
        Ok(changed == 1)
    }

    /// The log channel's hand-off: writes the outbox entries, in one
    /// statement. A message already there is left as it is, as a
    /// provider's duplicate detection would.
    /// Their start is recorded in the same transaction: written means
    /// started, so a log hand-off is never in doubt.
    pub async fn write_outbox_many(&self, entries: &[(OrganizationId, OutboxEntry)]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let rows = entries.iter().map(|(org, entry)| outbox_args(*org, entry)).collect();
        super::db::insert_rows_then(&mut tx, OUTBOX_COLUMNS, rows, "ON CONFLICT (message_id) DO NOTHING").await?;
        let started: Vec<(OrganizationId, MessageId)> = entries.iter().map(|(org, e)| (*org, e.message_id)).collect();
        super::delivery::record_started_in(&mut tx, &started, Some(self.clock.now())).await?;
        tx.commit().await
    }

    /// How many of `org`'s messages are in `state`.
    pub async fn count_messages_in(&self, org: OrganizationId, state: MessageState) -> Result<i64, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM messages WHERE organization_id = $1 AND state = $2",
                args([org.to_string().into(), state.as_str().into()]),
            )
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }

    /// Whether the log channel's outbox holds the message (its lookup).
    pub async fn in_outbox(&self, org: OrganizationId, id: MessageId) -> Result<bool, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT 1 AS one FROM outbox WHERE organization_id = $1 AND message_id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        Ok(row.is_some())
    }

    /// The log channel's outbox of `org`, newest message first; the cursor is a message id.
    pub async fn outbox(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<OutboxEntry>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM outbox WHERE organization_id = $1 AND ($2 IS NULL OR message_id < $2)
                 ORDER BY message_id DESC LIMIT $3",
                args([org.to_string().into(), page.after.clone().into(), ((page.limit() + 1) as i64).into()]),
            )
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(OutboxEntry {
                    message_id: r.parsed("message_id")?,
                    channel: r.parsed("channel")?,
                    address: r.text("address")?,
                    subject: r.opt_text("subject")?,
                    body: r.text("body")?,
                    created_at: r.timestamp("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(super::paginate(items, page.limit(), |e| e.message_id.to_string()))
    }
}
