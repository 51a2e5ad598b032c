//! Keeping a visit's reminders in line with the visit. Every write of an
//! appointment (created, changed, imported, deleted) enqueues a sync job in
//! its own transaction, so no change is missed even if the process dies;
//! the sync (`sync_reminders`) cancels the planned reminders the visit no
//! longer wants (their keys name an older version, or the visit is
//! cancelled, past or gone) and plans the wanted ones (planning a key twice
//! is a no-op). It is idempotent: running it again changes nothing.

use rapport_domain::message::pace::Priority;
use rapport_domain::reminder::{
    ReminderSchedule, WantedMessage, key_prefix, recent_no_show, schedule_for, wanted, why_unwanted,
};
use rapport_domain::{AppointmentId, AppointmentStatus, MessageId, MessagePlan, MessageState, OrganizationId};

use super::db::args;
use super::tasks::{NewTask, TaskKind};
use super::{NewJob, Store, StoreError};

/// The job kind that syncs one visit's reminders.
pub const REMINDER_SYNC_JOB: &str = "reminders.sync";

/// The sync job for a visit's state `tag` (its version, or `deleted`).
pub(super) fn sync_job(org: OrganizationId, id: AppointmentId, tag: &str, now: jiff::Timestamp) -> NewJob {
    NewJob {
        organization_id: Some(org),
        kind: REMINDER_SYNC_JOB.into(),
        payload: format!(r#"{{"appointment_id":"{id}"}}"#),
        idempotency_key: format!("{REMINDER_SYNC_JOB}:{id}:{tag}"),
        run_at: now,
        max_attempts: 10,
        rank: Priority::Timely.rank(),
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderSync {
    pub planned: usize,
    pub cancelled: usize,
}

impl Store {
    /// Brings visit `id`'s planned reminders in line with what it should
    /// have now: under the organization's most specific rule for it, or
    /// `schedule` when it has none.
    pub async fn sync_reminders(
        &self,
        org: OrganizationId,
        id: AppointmentId,
        schedule: &ReminderSchedule,
    ) -> Result<ReminderSync, StoreError> {
        let now = self.clock.now();
        let appointment = match self.get_appointment(org, id).await {
            Ok(a) => Some(a),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other),
        };
        let rules = self.reminder_rules(org).await?;
        let confirmed = match &appointment {
            Some(a) => self.is_confirmed(org, a).await?,
            None => false,
        };
        let wants: Vec<WantedMessage> = match &appointment {
            Some(a) if rules.is_empty() => wanted(a, schedule, confirmed, now),
            Some(a) => wanted(a, &schedule_for(&rules, a), confirmed, now),
            None => Vec::new(),
        };
        let planned = self
            .db
            .fetch_all(
                "SELECT id, idempotency_key FROM messages WHERE organization_id = $1 AND appointment_id = $2
                   AND state = 'planned' AND idempotency_key LIKE $3",
                args([org.to_string().into(), id.to_string().into(), format!("{}%", key_prefix(id)).into()]),
            )
            .await?;
        let mut report = ReminderSync::default();
        for row in planned {
            let key = row.text("idempotency_key")?;
            if !wants.iter().any(|w| w.key == key) {
                let reason = why_unwanted(&key, appointment.as_ref(), confirmed, now);
                let message: MessageId = row.parsed("id")?;
                if self.close_message(org, message, MessageState::Cancelled, &reason).await? {
                    report.cancelled += 1;
                }
            }
        }
        let Some(appointment) = appointment else { return Ok(report) };
        if appointment.details.status.is_upcoming() && appointment.details.start > now {
            self.cancel_recalls(org, appointment.details.patient_id).await?;
        }
        if appointment.details.status == AppointmentStatus::Cancelled && appointment.details.start > now {
            self.open_offer(org, &appointment).await?;
        }
        if recent_no_show(&appointment, now) {
            let task = NewTask {
                kind: TaskKind::NoShow,
                key: format!("noshow:{id}"),
                patient_id: Some(appointment.details.patient_id),
                appointment_id: Some(id),
                inbound_id: None,
            };
            self.raise_task(org, &task).await?;
        }
        for want in wants {
            let plan = MessagePlan {
                patient_id: appointment.details.patient_id,
                class: want.class,
                idempotency_key: want.key,
                subject: None,
                body: String::new(),
                template: Some(want.template),
                appointment_id: Some(id),
                priority: Priority::Timely,
                media: Vec::new(),
                channel: want.channel,
                to: None,
                due_at: want.due_at,
                expires_at: Some(want.expires_at),
            };
            match self.plan_message(org, &plan).await {
                Ok((_, true)) => report.planned += 1,
                Ok((_, false)) => {}
                // The patient was deleted: nothing to remind.
                Err(StoreError::UnknownReference { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }
}
