//! Patients' answers to their visits' reminders: the store's steps (the
//! message answered, the visit locked, the answer recorded, the visit
//! cancelled, its sync enqueued), which the engine's `answers.rs` composes
//! with the answer's consequences in one transaction.
//!
//! The EHR integration's hook: answers to visits that came from a source
//! system wait in `answers_to_write_back` until marked written back.

use jiff::Timestamp;
use rapport_domain::{
    Answer, Appointment, AppointmentId, AppointmentStatus, Channel, InboundTextId, MessageId, OrganizationId,
    PatientId, VisitAnswerId,
};

use super::appointments::appointment_from_row;
use super::db::{Row, Tx, args};
use super::job_kinds::sync_job;
use super::versioned::{self, Target, Versioned};
use super::{Store, StoreError};

/// An answer to give: to the visit message `message_id` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    pub message_id: MessageId,
    pub answer: Answer,
    /// How it came: a text, a key in a call, a link in an email.
    pub channel: Channel,
    /// The text it came in, if any.
    pub inbound_id: Option<InboundTextId>,
}

/// What giving an answer did.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// Recorded; the visit as it stands now.
    Applied(Appointment),
    /// The same answer stood already: nothing changed.
    Already(Appointment),
    /// The message no longer answers for the visit: it changed since,
    /// was cancelled, has begun, or is gone.
    Closed,
}

/// A recorded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitAnswer {
    pub id: VisitAnswerId,
    pub appointment_id: AppointmentId,
    /// The visit's version it answered.
    pub appointment_version: i64,
    pub patient_id: PatientId,
    pub answer: Answer,
    pub channel: Channel,
    pub message_id: MessageId,
    pub inbound_id: Option<InboundTextId>,
    pub answered_at: Timestamp,
}

pub(super) fn answer_from_row(r: &Row) -> Result<VisitAnswer, StoreError> {
    Ok(VisitAnswer {
        id: r.parsed("id")?,
        appointment_id: r.parsed("appointment_id")?,
        appointment_version: r.int("appointment_version")?,
        patient_id: r.parsed("patient_id")?,
        answer: r.parsed("answer")?,
        channel: r.parsed("channel")?,
        message_id: r.parsed("message_id")?,
        inbound_id: r.opt_parsed("inbound_id")?,
        answered_at: r.timestamp("answered_at")?,
    })
}

/// The patient's latest answer to visit `a` as it stands (its current
/// version): an SQL expression over a row `a` of `appointments`, shared by
/// every query that asks whether a visit is confirmed or answered.
pub(super) const LATEST_ANSWER: &str =
    "(SELECT v.answer FROM visit_answers v WHERE v.organization_id = a.organization_id
       AND v.appointment_id = a.id AND v.appointment_version = a.version
     ORDER BY v.answered_at DESC, v.id DESC LIMIT 1)";

/// The latest answer to the visit `$2` of `$1` as it stands.
fn latest_sql() -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {LATEST_ANSWER} AS answer FROM appointments a WHERE a.organization_id = $1 AND a.id = $2"
    ))
}

fn latest_args(org: OrganizationId, visit: &Appointment) -> Vec<super::db::Arg> {
    args([org.to_string().into(), visit.id.to_string().into()])
}

/// The answer a `latest_sql` row holds, if any.
fn latest_of(row: Option<Row>) -> Result<Option<Answer>, StoreError> {
    row.map(|r| r.opt_parsed::<Answer>("answer")).transpose().map(Option::flatten)
}

impl Store {
    /// The visit the answered message is about and the message's key
    /// (which names the visit's version it asked about), inside the
    /// caller's transaction; `None` for a message about no visit.
    pub async fn answered_message_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        message: MessageId,
    ) -> Result<Option<(String, AppointmentId)>, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT idempotency_key, appointment_id FROM messages WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), message.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(visit) = row.opt_parsed::<AppointmentId>("appointment_id")? else { return Ok(None) };
        Ok(Some((row.text("idempotency_key")?, visit)))
    }

    /// Visit `id`, its row locked until the caller's transaction ends (two
    /// answers at once are taken in turn); `None` once deleted.
    pub async fn lock_appointment_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: AppointmentId,
    ) -> Result<Option<Appointment>, StoreError> {
        let lock = format!("SELECT * FROM appointments WHERE organization_id = $1 AND id = $2 {}", tx.for_update());
        let row =
            tx.fetch_optional(sqlx::AssertSqlSafe(lock), args([org.to_string().into(), id.to_string().into()])).await?;
        row.as_ref().map(appointment_from_row).transpose()
    }

    /// The patient's latest answer to `visit` as it stands (its version).
    pub async fn latest_answer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        visit: &Appointment,
    ) -> Result<Option<Answer>, StoreError> {
        latest_of(tx.fetch_optional(latest_sql(), latest_args(org, visit)).await?)
    }

    /// Records `given` as the patient's answer to `visit` as it stands.
    pub async fn record_answer_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        visit: &Appointment,
        given: &NewAnswer,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO visit_answers (id, organization_id, appointment_id, appointment_version, patient_id, answer,
                 channel, message_id, inbound_id, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            args([
                VisitAnswerId::generate().to_string().into(),
                org.to_string().into(),
                visit.id.to_string().into(),
                visit.version.into(),
                visit.details.patient_id.to_string().into(),
                given.answer.as_str().into(),
                given.channel.as_str().into(),
                given.message_id.to_string().into(),
                given.inbound_id.map(|i| i.to_string()).into(),
                self.clock.now().into(),
            ]),
        )
        .await?;
        Ok(())
    }

    /// Cancels `visit` under its version, inside the caller's transaction;
    /// the new version.
    pub async fn cancel_appointment_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        visit: &Appointment,
    ) -> Result<i64, StoreError> {
        let target = Target {
            table: Versioned::Appointments,
            tenant: org.to_string(),
            id: visit.id.to_string(),
            expected: visit.version,
        };
        let status = args([AppointmentStatus::Cancelled.as_str().into()]);
        versioned::update(tx, target, "status = $1", status, self.clock.now()).await
    }

    /// Enqueues visit `id`'s reminder sync for its state `tag`, inside the
    /// caller's transaction (a tag already queued is a no-op).
    pub async fn enqueue_sync_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: AppointmentId,
        tag: &str,
    ) -> Result<(), StoreError> {
        self.enqueue_jobs_in(tx, &[sync_job(org, id, tag, self.clock.now())]).await
    }

    /// Whether the patient's latest answer to the visit as it stands is a
    /// confirmation, within the caller's transaction.
    pub async fn confirmed_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        visit: &Appointment,
    ) -> Result<bool, StoreError> {
        Ok(latest_of(tx.fetch_optional(latest_sql(), latest_args(org, visit)).await?)? == Some(Answer::Confirm))
    }

    /// A patient's answers, newest first (the last 200).
    pub async fn patient_answers(
        &self,
        org: OrganizationId,
        patient: PatientId,
    ) -> Result<Vec<VisitAnswer>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM visit_answers WHERE organization_id = $1 AND patient_id = $2
                 ORDER BY answered_at DESC, id DESC LIMIT 200",
                args([org.to_string().into(), patient.to_string().into()]),
            )
            .await?;
        rows.iter().map(answer_from_row).collect()
    }

    /// A visit's answers, oldest first.
    pub async fn visit_answers(&self, org: OrganizationId, id: AppointmentId) -> Result<Vec<VisitAnswer>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM visit_answers WHERE organization_id = $1 AND appointment_id = $2
                 ORDER BY answered_at, id",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        rows.iter().map(answer_from_row).collect()
    }
}

/// An answer to write back to the EHR the visit came from.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBack {
    pub answer: VisitAnswer,
    /// The visit's id in its source system.
    pub source: rapport_domain::ExternalId,
}

impl Store {
    /// The hook for the EHR integration: answers to visits that came from a
    /// source system and are not written back yet, oldest first.
    pub async fn answers_to_write_back(&self, org: OrganizationId, limit: usize) -> Result<Vec<WriteBack>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT v.*, a.source_system, a.source_id FROM visit_answers v
                 JOIN appointments a ON a.organization_id = v.organization_id AND a.id = v.appointment_id
                 WHERE v.organization_id = $1 AND v.written_back_at IS NULL AND a.source_system IS NOT NULL
                 ORDER BY v.answered_at, v.id LIMIT $2",
                args([org.to_string().into(), (limit as i64).into()]),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WriteBack {
                    answer: answer_from_row(r)?,
                    source: rapport_domain::ExternalId {
                        system: r.text("source_system")?,
                        value: r.text("source_id")?,
                    },
                })
            })
            .collect()
    }

    /// Marks answers written back to their source system.
    pub async fn mark_written_back(&self, org: OrganizationId, ids: &[VisitAnswerId]) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        for id in ids {
            tx.execute(
                "UPDATE visit_answers SET written_back_at = $3 WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into(), now.into()]),
            )
            .await?;
        }
        tx.commit().await
    }
}
