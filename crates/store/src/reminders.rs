//! Keeping a visit's reminders in line with the visit. Every write of an
//! appointment (created, changed, imported, deleted) enqueues a sync job in
//! its own transaction, so no change is missed even if the process dies;
//! the sync (`sync_reminders`) cancels the planned reminders the visit no
//! longer wants (their keys name an older version, or the visit is
//! cancelled, past or gone) and plans the wanted ones (planning a key twice
//! is a no-op). It is idempotent: running it again changes nothing.

use std::collections::HashMap;

use rapport_domain::message::pace::Priority;
use rapport_domain::reminder::{
    ReminderRule, ReminderSchedule, WantedMessage, key_prefix, recent_no_show, schedule_for, wanted, why_unwanted,
};
use rapport_domain::{AppointmentId, AppointmentStatus, MessageId, MessagePlan, MessageState, OrganizationId};

use super::appointments::appointment_from_row;
use super::db::{Tx, args};
use super::tasks::{NewTask, TaskKind};
use super::{JobKind, JobWork, NewJob, Store, StoreError};

/// The sync job for a visit's state `tag` (its version, or `deleted`).
pub(super) fn sync_job(org: OrganizationId, id: AppointmentId, tag: &str, now: jiff::Timestamp) -> NewJob {
    NewJob {
        organization_id: Some(org),
        kind: JobKind::ReminderSync.as_str().into(),
        payload: JobWork::ReminderSync { appointment_id: id }.payload(),
        idempotency_key: format!("{}:{id}:{tag}", JobKind::ReminderSync.as_str()),
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
    /// `schedule` when it has none. One transaction.
    pub async fn sync_reminders(
        &self,
        org: OrganizationId,
        id: AppointmentId,
        schedule: &ReminderSchedule,
    ) -> Result<ReminderSync, StoreError> {
        self.sync_reminders_many(&[(org, id)], schedule).await
    }

    /// [`sync_reminders`](Store::sync_reminders) for several visits in one
    /// transaction (a planner's batch: one commit instead of one per
    /// message); each organization's rules are read once.
    pub async fn sync_reminders_many(
        &self,
        visits: &[(OrganizationId, AppointmentId)],
        schedule: &ReminderSchedule,
    ) -> Result<ReminderSync, StoreError> {
        let mut tx = self.db.begin().await?;
        let mut rules: HashMap<OrganizationId, Vec<ReminderRule>> = HashMap::new();
        let mut report = ReminderSync::default();
        for &(org, id) in visits {
            if let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(org) {
                slot.insert(self.reminder_rules_in(&mut tx, org).await?);
            }
            let own = rules.get(&org).map_or(&[][..], Vec::as_slice);
            let one = self.sync_in(&mut tx, org, id, own, schedule).await?;
            report.planned += one.planned;
            report.cancelled += one.cancelled;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn sync_in(
        &self,
        tx: &mut Tx,
        org: OrganizationId,
        id: AppointmentId,
        rules: &[ReminderRule],
        schedule: &ReminderSchedule,
    ) -> Result<ReminderSync, StoreError> {
        let now = self.clock.now();
        let row = tx
            .fetch_optional(
                "SELECT * FROM appointments WHERE organization_id = $1 AND id = $2",
                args([org.to_string().into(), id.to_string().into()]),
            )
            .await?;
        let appointment = row.as_ref().map(appointment_from_row).transpose()?;
        let confirmed = match &appointment {
            Some(a) => self.confirmed_in(tx, org, a).await?,
            None => false,
        };
        let wants: Vec<WantedMessage> = match &appointment {
            Some(a) if rules.is_empty() => wanted(a, schedule, confirmed, now),
            Some(a) => wanted(a, &schedule_for(rules, a), confirmed, now),
            None => Vec::new(),
        };
        let planned = tx
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
                if self.close_in(tx, org, message, MessageState::Cancelled, &reason).await? {
                    report.cancelled += 1;
                }
            }
        }
        let Some(appointment) = appointment else { return Ok(report) };
        if appointment.details.status.is_upcoming() && appointment.details.start > now {
            self.cancel_recalls_in(tx, org, appointment.details.patient_id).await?;
        }
        if appointment.details.status == AppointmentStatus::Cancelled && appointment.details.start > now {
            self.open_offer_in(tx, org, &appointment).await?;
        }
        if recent_no_show(&appointment, now) {
            let task = NewTask {
                kind: TaskKind::NoShow,
                key: format!("noshow:{id}"),
                patient_id: Some(appointment.details.patient_id),
                appointment_id: Some(id),
                inbound_id: None,
            };
            self.add_task_in(tx, org, &task).await?;
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
            match self.plan_in(tx, org, &plan, false).await {
                Ok(true) => report.planned += 1,
                Ok(false) => {}
                // The patient was deleted: nothing to remind.
                Err(StoreError::UnknownReference { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }
}
