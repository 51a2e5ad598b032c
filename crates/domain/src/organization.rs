//! The practice side: organizations (tenants), their locations and providers.

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};

use crate::contact::PhoneE164;
use crate::ids::{LocationId, OrganizationId, ProviderId};
use crate::message::window::SendingWindow;
use crate::patient::Address;
use crate::value::{LanguageTag, Npi, TimeZoneName};

/// A tenant: a practice or a health system. Nothing crosses between two.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    /// Used for patients whose own zone is unknown.
    pub time_zone: TimeZoneName,
    pub default_language: LanguageTag,
    /// Narrower hours than 08:00–21:00 for every message it sends, in each
    /// patient's local time; `None`: the default.
    pub sending_window: Option<SendingWindow>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Weekly opening hours in the location's local time: for each weekday,
/// a list of open intervals `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours {
    /// Index 0 is Monday.
    pub days: [Vec<(Time, Time)>; 7],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpeningHoursError {
    #[error("an interval does not end after it starts")]
    Backwards,
    #[error("intervals of one day overlap")]
    Overlap,
}

impl OpeningHours {
    /// Weekdays 08:00–17:00, closed at weekends: the demo and default.
    pub fn weekdays_8_to_5() -> Self {
        let open = vec![(Time::constant(8, 0, 0, 0), Time::constant(17, 0, 0, 0))];
        let mut days: [Vec<(Time, Time)>; 7] = Default::default();
        for day in days.iter_mut().take(5) {
            *day = open.clone();
        }
        Self { days }
    }

    /// Sorts each day and rejects backwards or overlapping intervals.
    pub fn validated(mut self) -> Result<Self, OpeningHoursError> {
        for day in &mut self.days {
            day.sort();
            if day.iter().any(|(s, e)| s >= e) {
                return Err(OpeningHoursError::Backwards);
            }
            if day.windows(2).any(|w| w[0].1 > w[1].0) {
                return Err(OpeningHoursError::Overlap);
            }
        }
        Ok(self)
    }

    pub fn is_open(&self, weekday: Weekday, at: Time) -> bool {
        let index = usize::try_from(weekday.to_monday_zero_offset()).unwrap_or(0);
        self.days[index].iter().any(|(s, e)| *s <= at && at < *e)
    }
}

/// A place where visits happen; its zone is the zone of its appointments.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: LocationId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub address: Address,
    pub phone: Option<PhoneE164>,
    pub time_zone: TimeZoneName,
    pub opening_hours: OpeningHours,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A clinician who sees patients at one or more locations.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: ProviderId,
    pub organization_id: OrganizationId,
    pub given_name: String,
    pub family_name: String,
    /// Shown to patients: "Dr", "NP" …
    pub title: Option<String>,
    pub npi: Option<Npi>,
    pub location_ids: Vec<LocationId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours() {
        let hours = OpeningHours::weekdays_8_to_5();
        assert!(hours.is_open(Weekday::Monday, Time::constant(8, 0, 0, 0)));
        assert!(!hours.is_open(Weekday::Monday, Time::constant(17, 0, 0, 0)));
        assert!(!hours.is_open(Weekday::Sunday, Time::constant(10, 0, 0, 0)));
        let mut bad = OpeningHours::default();
        bad.days[0] = vec![
            (Time::constant(9, 0, 0, 0), Time::constant(12, 0, 0, 0)),
            (Time::constant(11, 0, 0, 0), Time::constant(13, 0, 0, 0)),
        ];
        assert_eq!(bad.clone().validated(), Err(OpeningHoursError::Overlap));
        bad.days[0] = vec![(Time::constant(13, 0, 0, 0), Time::constant(12, 0, 0, 0))];
        assert_eq!(bad.validated(), Err(OpeningHoursError::Backwards));
    }
}
