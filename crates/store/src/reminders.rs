//! The store's steps for keeping a visit's reminders in line with it; the
//! engine's planner (`rapport_engine::reminders`) composes them into the
//! sync, in one transaction per batch. Every write of an appointment
//! enqueues a sync job in its own transaction (`job_kinds::sync_job`).

use rapport_domain::reminder::key_prefix;
use rapport_domain::{Appointment, AppointmentId, MessageId, OrganizationId};

use super::appointments::appointment_from_row;
use super::db::{Tx, args};
use super::{Store, StoreError};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderSync {
    pub planned: usize,
    pub cancelled: usize,
}

impl Store {
    /// Visit `id` as it stands, inside the caller's transaction (`None` once deleted).
    pub async fn appointment_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: AppointmentId,
    ) -> Result<Option<Appointment>, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT * FROM appointments WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        row.as_ref().map(appointment_from_row).transpose()
    }

    /// The reminders planned for visit `id` and not yet sent: each
    /// message's id and idempotency key (which names the visit's version).
    pub async fn planned_reminders_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: AppointmentId,
    ) -> Result<Vec<(MessageId, String)>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT id, idempotency_key FROM messages WHERE organization_id = $1 AND appointment_id = $2
                   AND state = 'planned' AND idempotency_key LIKE $3",
                args([org.to_string().into(), id.to_string().into(), format!("{}%", key_prefix(id)).into()]),
            )
            .await?;
        rows.iter().map(|r| Ok((r.parsed("id")?, r.text("idempotency_key")?))).collect()
    }
}
