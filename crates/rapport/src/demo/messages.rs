//! The demo's messages: the reminder planner's own work (3 days and 1 day
//! before each booked visit, a confirmation for one booked inside that
//! time), done at seeding for the visits of the next three days, so the
//! demo shows messages and their decision traces from the first minute.
//! The planner in `serve` takes up the rest from the sync jobs the
//! appointments' import enqueued; planning a key twice is a no-op.

use jiff::SignedDuration;
use rapport_domain::reminder::ReminderSchedule;
use rapport_domain::{AppointmentId, AppointmentStatus, Organization};

use crate::engine::reminder_sync::sync_visits;
use crate::store::{AppointmentUpsert, Store, StoreError};

pub(super) async fn seed(
    store: &Store,
    org: &Organization,
    visits: &[(AppointmentId, AppointmentUpsert)],
) -> Result<usize, StoreError> {
    let now = store.clock().now();
    let horizon = now + SignedDuration::from_hours(72);
    let schedule = ReminderSchedule::standard();
    let mut planned = 0;
    for (id, visit) in visits {
        let v = &visit.details;
        if v.status != AppointmentStatus::Booked || v.start <= now || v.start > horizon {
            continue;
        }
        planned += sync_visits(store, &[(org.id, *id)], &schedule).await?.planned;
    }
    Ok(planned)
}
