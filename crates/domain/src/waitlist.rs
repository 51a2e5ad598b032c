//! The waitlist: patients who want an earlier visit, with what would suit
//! them (a provider, a location, a visit type, a date range, weekdays and a
//! time of day). When a booked visit is cancelled, its slot is offered by
//! text to the entries it suits, a batch at a time; the first valid YES
//! takes it. Pure: whether a slot suits an entry, and the offer's timing.

use jiff::civil::{Date, Time, Weekday};
use jiff::{SignedDuration, Timestamp};

use crate::appointment::Appointment;
use crate::ids::{LocationId, ProviderId};

/// What would suit a patient; every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    pub provider_id: Option<ProviderId>,
    pub location_id: Option<LocationId>,
    pub visit_type: Option<String>,
    /// Local dates, inclusive.
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    /// Empty: any day.
    pub days: Vec<Weekday>,
    /// The visit starts at or after `from` and before `until`, local time.
    pub from: Option<Time>,
    pub until: Option<Time>,
}

/// A weekday's three-letter name (`mon`).
pub fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// `mon` … `sun`.
pub fn parse_day(name: &str) -> Option<Weekday> {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    days.into_iter().find(|d| day_name(*d) == name.trim().to_ascii_lowercase())
}

impl Criteria {
    /// Whether `slot` (a freed visit, in its location's zone) suits.
    pub fn suits(&self, slot: &Appointment) -> bool {
        let d = &slot.details;
        let local = slot.local_start();
        let (date, time) = (local.date(), local.time());
        self.provider_id.is_none_or(|p| d.provider_id == Some(p))
            && self.location_id.is_none_or(|l| d.location_id == l)
            && self.visit_type.as_ref().is_none_or(|v| *v == d.visit_type)
            && self.earliest.is_none_or(|e| date >= e)
            && self.latest.is_none_or(|l| date <= l)
            && (self.days.is_empty() || self.days.contains(&date.weekday()))
            && self.from.is_none_or(|f| time >= f)
            && self.until.is_none_or(|u| time < u)
    }
}

/// How many patients one round of offers goes to.
pub const BATCH: usize = 5;

/// How long a round of offers stays open.
pub const ROUND: SignedDuration = SignedDuration::from_hours(2);

/// A freed slot is offered only if it starts at least this far ahead.
pub const LEAD: SignedDuration = SignedDuration::from_hours(2);

/// When a round opened at `now` closes: after `ROUND`, or an hour before the
/// visit, whichever is sooner; `None` when too late to offer at all.
pub fn round_closes(slot_start: Timestamp, now: Timestamp) -> Option<Timestamp> {
    if slot_start < now + LEAD {
        return None;
    }
    Some((now + ROUND).min(slot_start - SignedDuration::from_hours(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::AppointmentStatus;

    #[test]
    fn a_slot_suits_an_entry_when_every_given_criterion_holds_in_the_locations_time() {
        // Tuesday 24 November 2026, 10:30 in New York.
        let slot = crate::fixtures::visit("2026-11-24T15:30:00Z", "America/New_York", 1, AppointmentStatus::Cancelled);
        assert!(Criteria::default().suits(&slot));
        let mornings = Criteria {
            days: vec![Weekday::Tuesday, Weekday::Thursday],
            from: Some(Time::constant(8, 0, 0, 0)),
            until: Some(Time::constant(12, 0, 0, 0)),
            earliest: Some(jiff::civil::date(2026, 11, 23)),
            latest: Some(jiff::civil::date(2026, 11, 24)),
            visit_type: Some("follow-up".into()),
            location_id: Some(slot.details.location_id),
            ..Criteria::default()
        };
        assert!(mornings.suits(&slot));
        assert!(!Criteria { until: Some(Time::constant(10, 30, 0, 0)), ..mornings.clone() }.suits(&slot));
        assert!(!Criteria { days: vec![Weekday::Monday], ..mornings.clone() }.suits(&slot));
        assert!(!Criteria { latest: Some(jiff::civil::date(2026, 11, 23)), ..mornings.clone() }.suits(&slot));
        assert!(!Criteria { provider_id: Some(ProviderId::generate()), ..mornings }.suits(&slot));
        assert_eq!(parse_day(" Tue"), Some(Weekday::Tuesday));
    }

    #[test]
    fn a_round_closes_after_two_hours_or_an_hour_before_the_visit() {
        let at = |t: &str| t.parse::<Timestamp>().expect("valid");
        assert_eq!(
            round_closes(at("2026-11-24T15:00:00Z"), at("2026-11-23T15:00:00Z")),
            Some(at("2026-11-23T17:00:00Z"))
        );
        assert_eq!(
            round_closes(at("2026-11-24T15:00:00Z"), at("2026-11-24T12:30:00Z")),
            Some(at("2026-11-24T14:00:00Z"))
        );
        assert_eq!(round_closes(at("2026-11-24T15:00:00Z"), at("2026-11-24T13:30:00Z")), None, "too late to offer");
    }
}
