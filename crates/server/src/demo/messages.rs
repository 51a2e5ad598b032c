//! The demo's messages: a reminder for each booked visit of the next two
//! days, planned as care texts that expire when the visit starts. The
//! dispatcher in `serve` sends them to the log channel's outbox (or defers
//! them to the patient's morning), so the demo shows messages and their
//! decision traces from the first minute.

use jiff::SignedDuration;
use rapport_domain::{AppointmentStatus, Location, MessageClass, MessagePlan, Organization};

use crate::store::{AppointmentUpsert, Store, StoreError};

pub(super) async fn seed(
    store: &Store,
    org: &Organization,
    visits: &[AppointmentUpsert],
    locations: &[Location],
) -> Result<usize, StoreError> {
    let now = store.clock().now();
    let horizon = now + SignedDuration::from_hours(48);
    let mut planned = 0;
    for visit in visits {
        let v = &visit.details;
        if v.status != AppointmentStatus::Booked || v.start <= now || v.start > horizon {
            continue;
        }
        let Some(location) = locations.iter().find(|l| l.id == v.location_id) else { continue };
        let local = v.start.to_zoned(location.time_zone.tz());
        let body = format!(
            "{}: a reminder of your {} visit at {} on {} at {}. Reply STOP to opt out.",
            org.name,
            v.visit_type,
            location.name,
            local.strftime("%a %b %-d"),
            local.strftime("%-I:%M %p"),
        );
        let source = v.source.as_ref().map_or_else(|| format!("{planned}"), |s| s.value.clone());
        let plan = MessagePlan {
            patient_id: v.patient_id,
            class: MessageClass::Care,
            idempotency_key: format!("demo:{source}:reminder"),
            subject: Some(format!("Your visit at {}", location.name)),
            body,
            due_at: now,
            expires_at: Some(v.start),
        };
        store.plan_message(org.id, &plan).await?;
        planned += 1;
    }
    Ok(planned)
}
