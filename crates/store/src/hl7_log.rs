//! The integration log: every HL7 v2 message received, kept (committed)
//! before its acknowledgement, once per sender and control id, with what
//! became of it. The raw message holds patient data: it stays in the
//! database, never in a log line.

use std::str::FromStr;

use jiff::Timestamp;
use rapport_domain::contact::UnknownWord;
use rapport_domain::{AppointmentId, Hl7MessageId, OrganizationId, PatientId};

use super::db::{Row, args};
use super::{Page, PageRequest, Store, StoreError, paginate};

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hl7Status {
    /// Kept, not applied yet (or the process stopped while applying).
    Received,
    Applied,
    /// Not a message Rapport takes or can read (ACK AR).
    Rejected,
    /// Could not be applied now (ACK AE): a mapping, storage.
    Failed,
}

impl Hl7Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Hl7Status::Received => "received",
            Hl7Status::Applied => "applied",
            Hl7Status::Rejected => "rejected",
            Hl7Status::Failed => "failed",
        }
    }
}

impl FromStr for Hl7Status {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Hl7Status::Received, Hl7Status::Applied, Hl7Status::Rejected, Hl7Status::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or(UnknownWord("received, applied, rejected or failed"))
    }
}

/// A message as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hl7Entry {
    pub id: Hl7MessageId,
    pub sender: String,
    pub control_id: String,
    pub message_type: String,
    pub received_at: Timestamp,
    pub status: Hl7Status,
    pub reason: Option<String>,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
}

fn entry_from_row(r: &Row) -> Result<Hl7Entry, StoreError> {
    Ok(Hl7Entry {
        id: r.parsed("id")?,
        sender: r.text("sender")?,
        control_id: r.text("control_id")?,
        message_type: r.text("message_type")?,
        received_at: r.timestamp("received_at")?,
        status: r.parsed("status")?,
        reason: r.opt_text("reason")?,
        patient_id: r.opt_parsed("patient_id")?,
        appointment_id: r.opt_parsed("appointment_id")?,
    })
}

impl Store {
    /// Keeps a message; `(entry, true)` when it is new, the entry kept
    /// before under the same sender and control id otherwise.
    pub async fn receive_hl7(
        &self,
        org: OrganizationId,
        sender: &str,
        control_id: &str,
        message_type: &str,
        raw: &str,
    ) -> Result<(Hl7Entry, bool), StoreError> {
        let id = Hl7MessageId::generate();
        let created = self
            .db
            .execute(
                "INSERT INTO hl7_messages (id, organization_id, sender, control_id, message_type, raw, received_at, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'received')
                 ON CONFLICT (organization_id, sender, control_id) DO NOTHING",
                args([
                    id.to_string().into(),
                    org.to_string().into(),
                    sender.into(),
                    control_id.into(),
                    message_type.into(),
                    raw.into(),
                    self.clock.now().into(),
                ]),
            )
            .await?;
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM hl7_messages WHERE organization_id = $1 AND sender = $2 AND control_id = $3",
                args([org.to_string().into(), sender.into(), control_id.into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((entry_from_row(&row)?, created == 1))
    }

    /// Records what became of a kept message.
    pub async fn settle_hl7(
        &self,
        org: OrganizationId,
        id: Hl7MessageId,
        status: Hl7Status,
        reason: Option<&str>,
        patient: Option<PatientId>,
        appointment: Option<AppointmentId>,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE hl7_messages SET status = $3, reason = $4, patient_id = $5, appointment_id = $6
                 WHERE organization_id = $1 AND id = $2",
                args([
                    org.to_string().into(),
                    id.to_string().into(),
                    status.as_str().into(),
                    reason.into(),
                    patient.map(|p| p.to_string()).into(),
                    appointment.map(|a| a.to_string()).into(),
                ]),
            )
            .await
            .map(drop)
    }

    /// One kept message with its raw text.
    pub async fn hl7_message(&self, org: OrganizationId, id: Hl7MessageId) -> Result<(Hl7Entry, String), StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT * FROM hl7_messages WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((entry_from_row(&row)?, row.text("raw")?))
    }

    /// The log, oldest first.
    pub async fn hl7_log(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Hl7Entry>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM hl7_messages WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                args([org.to_string().into(), page.after.clone().into(), ((page.limit() + 1) as i64).into()]),
            )
            .await?;
        let items = rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |e| e.id.to_string()))
    }
}
