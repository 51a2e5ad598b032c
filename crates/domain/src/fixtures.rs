//! Test fixtures shared by the domain's unit tests.

use jiff::{SignedDuration, Timestamp};

use crate::appointment::{Appointment, AppointmentDetails, AppointmentStatus};
use crate::ids::{AppointmentId, LocationId, OrganizationId, PatientId};
use crate::value::TimeZoneName;

/// A 30-minute follow-up starting at `start` (RFC 3339), in `zone`.
pub fn visit(start: &str, zone: &str, version: i64, status: AppointmentStatus) -> Appointment {
    let start: Timestamp = start.parse().expect("valid in the test");
    Appointment {
        id: AppointmentId::generate(),
        organization_id: OrganizationId::generate(),
        time_zone: TimeZoneName::parse(zone).expect("valid in the test"),
        version,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
        details: AppointmentDetails {
            patient_id: PatientId::generate(),
            provider_id: None,
            location_id: LocationId::generate(),
            start,
            end: start + SignedDuration::from_mins(30),
            visit_type: "follow-up".into(),
            status,
            source: None,
        },
    }
}
