//! The demo's messages: a reminder for each booked visit of the next two
//! days, planned from the shipped `appointment_reminder` template as care
//! texts that expire when the visit starts. The dispatcher in `serve`
//! composes each in the patient's language and sends it to the log
//! channel's outbox (or defers it to the patient's morning), so the demo
//! shows messages and their decision traces from the first minute.

use jiff::SignedDuration;
use rapport_domain::message::template::TemplateKind;
use rapport_domain::{AppointmentId, AppointmentStatus, MessageClass, MessagePlan, Organization};

use crate::store::{AppointmentUpsert, Store, StoreError};

pub(super) async fn seed(
    store: &Store,
    org: &Organization,
    visits: &[(AppointmentId, AppointmentUpsert)],
) -> Result<usize, StoreError> {
    let now = store.clock().now();
    let horizon = now + SignedDuration::from_hours(48);
    let kind = TemplateKind::parse("appointment_reminder").map_err(|_| StoreError::Corrupt("demo template kind"))?;
    let mut planned = 0;
    for (id, visit) in visits {
        let v = &visit.details;
        if v.status != AppointmentStatus::Booked || v.start <= now || v.start > horizon {
            continue;
        }
        let plan = MessagePlan {
            patient_id: v.patient_id,
            class: MessageClass::Care,
            idempotency_key: format!("demo:{id}:reminder"),
            subject: None,
            body: String::new(),
            template: Some(kind.clone()),
            appointment_id: Some(*id),
            priority: rapport_domain::message::pace::Priority::Timely,
            media: Vec::new(),
            due_at: now,
            expires_at: Some(v.start),
        };
        store.plan_message(org.id, &plan).await?;
        planned += 1;
    }
    Ok(planned)
}
