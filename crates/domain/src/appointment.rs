//! Appointments: when and where a patient is seen, with FHIR's status words.

use std::str::FromStr;

use jiff::Timestamp;

use crate::contact::UnknownWord;
use crate::ids::{AppointmentId, LocationId, OrganizationId, PatientId, ProviderId};
use crate::patient::ExternalId;
use crate::value::TimeZoneName;

/// FHIR R4 `Appointment.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppointmentStatus {
    Proposed,
    Pending,
    Booked,
    Arrived,
    Fulfilled,
    Cancelled,
    Noshow,
    EnteredInError,
    CheckedIn,
    Waitlist,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 10] = [
        AppointmentStatus::Proposed,
        AppointmentStatus::Pending,
        AppointmentStatus::Booked,
        AppointmentStatus::Arrived,
        AppointmentStatus::Fulfilled,
        AppointmentStatus::Cancelled,
        AppointmentStatus::Noshow,
        AppointmentStatus::EnteredInError,
        AppointmentStatus::CheckedIn,
        AppointmentStatus::Waitlist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Proposed => "proposed",
            AppointmentStatus::Pending => "pending",
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Arrived => "arrived",
            AppointmentStatus::Fulfilled => "fulfilled",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Noshow => "noshow",
            AppointmentStatus::EnteredInError => "entered-in-error",
            AppointmentStatus::CheckedIn => "checked-in",
            AppointmentStatus::Waitlist => "waitlist",
        }
    }

    /// Whether the visit is still expected to happen (reminders apply).
    pub fn is_upcoming(self) -> bool {
        matches!(self, AppointmentStatus::Proposed | AppointmentStatus::Pending | AppointmentStatus::Booked)
    }
}

impl FromStr for AppointmentStatus {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        AppointmentStatus::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s)).ok_or(UnknownWord(
            "proposed, pending, booked, arrived, fulfilled, cancelled, noshow, entered-in-error, checked-in or waitlist",
        ))
    }
}

/// What staff and integrations set on an appointment.
#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentDetails {
    pub patient_id: PatientId,
    pub provider_id: Option<ProviderId>,
    pub location_id: LocationId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub visit_type: String,
    pub status: AppointmentStatus,
    /// The id the source system (EHR) gives this visit; upserts key on it.
    pub source: Option<ExternalId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("end must be after start, and a visit may not last more than 24 hours")]
pub struct AppointmentSpanError;

impl AppointmentDetails {
    /// Checks what one field alone cannot: the span.
    pub fn check_span(&self) -> Result<(), AppointmentSpanError> {
        let seconds = self.end.as_second() - self.start.as_second();
        if seconds <= 0 || seconds > 24 * 3600 { Err(AppointmentSpanError) } else { Ok(()) }
    }
}

/// A stored appointment. Its zone is its location's, copied at write time so
/// a reminder can be worded without another lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: AppointmentId,
    pub organization_id: OrganizationId,
    pub time_zone: TimeZoneName,
    /// Increments on every change; reminders key on it so a rescheduled visit
    /// never gets the old time's reminder.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub details: AppointmentDetails,
}

impl Appointment {
    /// The start in the location's wall-clock time.
    pub fn local_start(&self) -> jiff::Zoned {
        self.details.start.to_zoned(self.time_zone.tz())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_fhir_words() {
        for status in AppointmentStatus::ALL {
            assert_eq!(status.as_str().parse::<AppointmentStatus>(), Ok(status));
        }
        assert!("done".parse::<AppointmentStatus>().is_err());
        assert!(AppointmentStatus::Booked.is_upcoming());
        assert!(!AppointmentStatus::Cancelled.is_upcoming());
    }
}
