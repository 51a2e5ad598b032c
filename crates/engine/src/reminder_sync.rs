//! A visit's reminders brought in line with the visit. The sync cancels
//! the planned reminders the visit no longer wants (their keys name an
//! older version, or the visit is cancelled, past or gone) and plans the
//! wanted ones (planning a key twice is a no-op), under the organization's
//! most specific rule, else the schedule given. It also does what a
//! visit's change calls for: a booking ends the patient's recall attempts,
//! a cancellation ahead offers the time to the waitlist, a recent no-show
//! raises a staff task. Idempotent: running it again changes nothing.

use std::collections::HashMap;

use jiff::Timestamp;
use rapport_domain::message::pace::Priority;
use rapport_domain::reminder::{
    ReminderRule, ReminderSchedule, WantedMessage, recent_no_show, schedule_for, wanted, why_unwanted,
};
use rapport_domain::{Appointment, AppointmentId, AppointmentStatus, MessagePlan, MessageState, OrganizationId};
use rapport_store::{NewTask, ReminderSync, Store, StoreError, TaskKind, Tx};

/// Syncs several visits in one transaction (a planner's batch: one commit,
/// not one per message); each organization's rules are read once.
pub async fn sync_visits(
    store: &Store,
    visits: &[(OrganizationId, AppointmentId)],
    schedule: &ReminderSchedule,
) -> Result<ReminderSync, StoreError> {
    let mut tx = store.begin().await?;
    let mut rules: HashMap<OrganizationId, Vec<ReminderRule>> = HashMap::new();
    let mut report = ReminderSync::default();
    for &(org, id) in visits {
        if let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(org) {
            slot.insert(store.reminder_rules_in(&mut tx, org).await?);
        }
        let own = rules.get(&org).map_or(&[][..], Vec::as_slice);
        let one = sync_in(store, &mut tx, org, id, own, schedule).await?;
        report.planned += one.planned;
        report.cancelled += one.cancelled;
    }
    tx.commit().await?;
    Ok(report)
}

/// One visit's sync, inside the batch's transaction.
async fn sync_in(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    id: AppointmentId,
    rules: &[ReminderRule],
    schedule: &ReminderSchedule,
) -> Result<ReminderSync, StoreError> {
    let now = store.clock().now();
    let appointment = store.appointment_in(tx, org, id).await?;
    let confirmed = match &appointment {
        Some(a) => store.confirmed_in(tx, org, a).await?,
        None => false,
    };
    let wants: Vec<WantedMessage> = match &appointment {
        Some(a) if rules.is_empty() => wanted(a, schedule, confirmed, now),
        Some(a) => wanted(a, &schedule_for(rules, a), confirmed, now),
        None => Vec::new(),
    };
    let mut report = ReminderSync::default();
    for (message, key) in store.planned_reminders_in(tx, org, id).await? {
        if !wants.iter().any(|w| w.key == key) {
            let reason = why_unwanted(&key, appointment.as_ref(), confirmed, now);
            if store.close_in(tx, org, message, MessageState::Cancelled, &reason).await? {
                report.cancelled += 1;
            }
        }
    }
    let Some(appointment) = appointment else { return Ok(report) };
    follow_change(store, tx, org, &appointment, now).await?;
    for want in wants {
        match store.plan_in(tx, org, &reminder_plan(&appointment, want), false).await {
            Ok(true) => report.planned += 1,
            Ok(false) => {}
            // The patient was deleted: nothing to remind.
            Err(StoreError::UnknownReference { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(report)
}

/// What a visit's change calls for besides its reminders.
async fn follow_change(
    store: &Store,
    tx: &mut Tx,
    org: OrganizationId,
    appointment: &Appointment,
    now: Timestamp,
) -> Result<(), StoreError> {
    let ahead = appointment.details.start > now;
    if appointment.details.status.is_upcoming() && ahead {
        store.cancel_recalls_in(tx, org, appointment.details.patient_id).await?;
    }
    if appointment.details.status == AppointmentStatus::Cancelled && ahead {
        crate::waitlist::open_offer_in(store, tx, org, appointment).await?;
    }
    if recent_no_show(appointment, now) {
        let task = NewTask {
            kind: TaskKind::NoShow,
            key: format!("noshow:{}", appointment.id),
            patient_id: Some(appointment.details.patient_id),
            appointment_id: Some(appointment.id),
            inbound_id: None,
        };
        store.add_task_in(tx, org, &task).await?;
    }
    Ok(())
}

/// A wanted reminder as a message to plan: its template composed for the
/// patient at hand-off, by the rule's channel or the patient's order.
fn reminder_plan(appointment: &Appointment, want: WantedMessage) -> MessagePlan {
    MessagePlan {
        patient_id: appointment.details.patient_id,
        class: want.class,
        idempotency_key: want.key,
        subject: None,
        body: String::new(),
        template: Some(want.template),
        appointment_id: Some(appointment.id),
        priority: Priority::Timely,
        media: Vec::new(),
        channel: want.channel,
        to: None,
        due_at: want.due_at,
        expires_at: Some(want.expires_at),
    }
}
