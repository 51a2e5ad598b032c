//! The practice side: organizations (tenants), their locations and providers.

use jiff::civil::{Time, Weekday};
use jiff::{Timestamp, Zoned};

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

    /// Open at `at`, read in its own zone.
    pub fn is_open_at(&self, at: &Zoned) -> bool {
        self.is_open(at.weekday(), at.time())
    }

    /// Whether the place opened at some instant in `(after, until]`, in
    /// `after`'s zone: an after-hours answer given at `after` is due again
    /// only once the place has opened and closed since.
    pub fn opened_between(&self, after: &Zoned, until: &Zoned) -> bool {
        if until.timestamp() <= after.timestamp() {
            return false;
        }
        let week = jiff::SignedDuration::from_hours(24 * 8);
        if until.timestamp().duration_since(after.timestamp()) > week {
            return self.days.iter().any(|day| !day.is_empty());
        }
        let until = until.with_time_zone(after.time_zone().clone());
        let mut date = after.date();
        while date <= until.date() {
            let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
            for (start, _) in &self.days[index] {
                if let Ok(opening) = date.to_datetime(*start).to_zoned(after.time_zone().clone())
                    && opening.timestamp() > after.timestamp()
                    && opening.timestamp() <= until.timestamp()
                {
                    return true;
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        false
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
mod opening_tests {
    use super::*;

    fn at(text: &str) -> Zoned {
        format!("{text}[America/Chicago]").parse().expect("zoned")
    }

    #[test]
    fn a_place_opened_between_two_instants_only_if_an_opening_falls_between() {
        let hours = OpeningHours::weekdays_8_to_5();
        // Tuesday night to Wednesday 07:59: still the same closed stretch.
        assert!(!hours.opened_between(&at("2026-11-24T19:00"), &at("2026-11-25T07:59")));
        // Tuesday night to Wednesday night: it opened at 08:00 Wednesday.
        assert!(hours.opened_between(&at("2026-11-24T19:00"), &at("2026-11-25T19:00")));
        // Friday evening to Monday 07:00: the weekend is one closed stretch.
        assert!(!hours.opened_between(&at("2026-11-27T18:00"), &at("2026-11-30T07:00")));
        assert!(hours.opened_between(&at("2026-11-27T18:00"), &at("2026-11-30T08:00")));
        assert!(!hours.opened_between(&at("2026-11-25T19:00"), &at("2026-11-24T19:00")), "backwards");
        assert!(hours.opened_between(&at("2026-10-01T19:00"), &at("2026-11-24T19:00")), "weeks apart");
        assert!(!OpeningHours::default().opened_between(&at("2026-10-01T19:00"), &at("2026-11-24T19:00")));
        assert!(hours.is_open_at(&at("2026-11-24T08:00")) && !hours.is_open_at(&at("2026-11-24T17:00")));
    }
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
