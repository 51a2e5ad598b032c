//! When a provider (or a room) can be booked: a schedule's weekly hours at
//! one location, cut into slots of one length, within an optional planning
//! horizon. Slots are never stored: they are computed on demand, busy where
//! a booked visit overlaps them, so they can never disagree with the diary.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::ids::{LocationId, OrganizationId, ProviderId, ScheduleId};
use crate::organization::OpeningHours;
use crate::patient::ExternalId;

/// What staff and integrations set on a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDetails {
    /// Where; its zone reads the hours.
    pub location_id: LocationId,
    /// Whose diary; `None`: the location's own (a room, a clinic).
    pub provider_id: Option<ProviderId>,
    /// When slots are offered, in the location's local time.
    pub hours: OpeningHours,
    /// Each slot's length.
    pub slot_minutes: i64,
    /// Slots only from here (FHIR's `planningHorizon.start`).
    pub horizon_start: Option<Timestamp>,
    /// Slots only until here.
    pub horizon_end: Option<Timestamp>,
    pub active: bool,
    /// What the slots are for ("Immunization"), as the source named it.
    pub service_type: Option<String>,
    pub comment: Option<String>,
    /// The id the source system gives this schedule; a create finds it again.
    pub source: Option<ExternalId>,
}

impl ScheduleDetails {
    /// The shortest and longest slot offered.
    pub const SLOT_MINUTES: std::ops::RangeInclusive<i64> = 5..=480;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub organization_id: OrganizationId,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub details: ScheduleDetails,
}

/// One bookable period of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub schedule_id: ScheduleId,
    pub start: Timestamp,
    pub end: Timestamp,
    /// A booked visit overlaps it.
    pub busy: bool,
}

impl Schedule {
    /// The slots starting in `[from, to)`, their hours read in `zone` (the
    /// location's), each within the planning horizon, busy where one of
    /// `booked` (start, end) overlaps. An inactive schedule has none. On a
    /// day the clocks change, a slot at a wall time that does not exist
    /// starts at the next one that does; a slot is always its length long.
    pub fn slots(
        &self,
        zone: &TimeZone,
        from: Timestamp,
        to: Timestamp,
        booked: &[(Timestamp, Timestamp)],
    ) -> Vec<Slot> {
        let d = &self.details;
        let mut out = Vec::new();
        if !d.active || from >= to || !ScheduleDetails::SLOT_MINUTES.contains(&d.slot_minutes) {
            return out;
        }
        let length = SignedDuration::from_mins(d.slot_minutes);
        let from = d.horizon_start.map_or(from, |h| h.max(from));
        let Ok(mut date) = from.to_zoned(zone.clone()).date().yesterday() else { return out };
        let last = to.to_zoned(zone.clone()).date();
        while date <= last {
            let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
            for (open, close) in &d.hours.days[index] {
                let mut at = *open;
                while let Ok(ends) = at.checked_add(length)
                    && ends <= *close
                {
                    if let Ok(start) = date.to_datetime(at).to_zoned(zone.clone()) {
                        let start = start.timestamp();
                        let end = start + length;
                        let within = d.horizon_end.is_none_or(|h| end <= h);
                        if start >= from && start < to && within {
                            let busy = booked.iter().any(|(s, e)| *s < end && *e > start);
                            out.push(Slot { schedule_id: self.id, start, end, busy });
                        }
                    }
                    at = ends;
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        out.sort_by_key(|s| s.start);
        out.dedup_by_key(|s| s.start);
        out
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::Time;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("an instant")
    }

    fn schedule(hours: OpeningHours, minutes: i64) -> Schedule {
        Schedule {
            id: ScheduleId::generate(),
            organization_id: OrganizationId::generate(),
            version: 1,
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
            details: ScheduleDetails {
                location_id: LocationId::generate(),
                provider_id: None,
                hours,
                slot_minutes: minutes,
                horizon_start: None,
                horizon_end: None,
                active: true,
                service_type: None,
                comment: None,
                source: None,
            },
        }
    }

    fn mornings() -> OpeningHours {
        let mut hours = OpeningHours::default();
        for day in hours.days.iter_mut().take(5) {
            *day = vec![(Time::constant(9, 0, 0, 0), Time::constant(10, 0, 0, 0))];
        }
        hours
    }

    #[test]
    fn a_weekday_morning_is_cut_into_slots_in_the_locations_zone() {
        let chicago = TimeZone::get("America/Chicago").expect("zone");
        // Monday 2026-11-30 and Tuesday: 09:00–10:00 Chicago (15:00Z), 20-minute slots.
        let slots =
            schedule(mornings(), 20).slots(&chicago, at("2026-11-30T00:00:00Z"), at("2026-12-02T00:00:00Z"), &[]);
        let starts: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2026-11-30T15:00:00Z",
                "2026-11-30T15:20:00Z",
                "2026-11-30T15:40:00Z",
                "2026-12-01T15:00:00Z",
                "2026-12-01T15:20:00Z",
                "2026-12-01T15:40:00Z"
            ]
        );
        assert!(slots.iter().all(|s| s.end == s.start + SignedDuration::from_mins(20) && !s.busy));
        // A 25-minute length leaves the last 10 minutes unoffered.
        let slots =
            schedule(mornings(), 25).slots(&chicago, at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z"), &[]);
        assert_eq!(slots.len(), 2);
        // Saturday and Sunday have none.
        let weekend =
            schedule(mornings(), 20).slots(&chicago, at("2026-12-05T06:00:00Z"), at("2026-12-07T06:00:00Z"), &[]);
        assert!(weekend.is_empty());
    }

    #[test]
    fn a_booked_visit_makes_every_slot_it_overlaps_busy() {
        let utc = TimeZone::UTC;
        let booked = [(at("2026-11-30T09:20:00Z"), at("2026-11-30T09:35:00Z"))];
        let slots =
            schedule(mornings(), 15).slots(&utc, at("2026-11-30T00:00:00Z"), at("2026-11-30T23:00:00Z"), &booked);
        let busy: Vec<bool> = slots.iter().map(|s| s.busy).collect();
        assert_eq!(busy, [false, true, true, false]);
        // A visit ending as a slot starts does not take it.
        let touching = [(at("2026-11-30T08:45:00Z"), at("2026-11-30T09:00:00Z"))];
        let slots =
            schedule(mornings(), 15).slots(&utc, at("2026-11-30T00:00:00Z"), at("2026-11-30T23:00:00Z"), &touching);
        assert!(slots.iter().all(|s| !s.busy));
    }

    #[test]
    fn the_horizon_the_window_and_an_inactive_schedule_bound_the_slots() {
        let utc = TimeZone::UTC;
        let mut s = schedule(mornings(), 15);
        s.details.horizon_start = Some(at("2026-11-30T09:15:00Z"));
        s.details.horizon_end = Some(at("2026-11-30T09:45:00Z"));
        let slots = s.slots(&utc, at("2026-11-01T00:00:00Z"), at("2026-12-31T00:00:00Z"), &[]);
        let starts: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
        assert_eq!(starts, ["2026-11-30T09:15:00Z", "2026-11-30T09:30:00Z"]);
        // The window's end excludes a slot starting at it.
        let s = schedule(mornings(), 15);
        assert_eq!(s.slots(&utc, at("2026-11-30T09:00:00Z"), at("2026-11-30T09:30:00Z"), &[]).len(), 2);
        let mut off = schedule(mornings(), 15);
        off.details.active = false;
        assert!(off.slots(&utc, at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z"), &[]).is_empty());
    }

    #[test]
    fn across_the_clock_change_slots_keep_their_wall_times_and_length() {
        let new_york = TimeZone::get("America/New_York").expect("zone");
        let mut hours = OpeningHours::default();
        // Sunday 2026-11-01, when clocks fall back at 02:00: open 01:00–03:00.
        hours.days[6] = vec![(Time::constant(1, 0, 0, 0), Time::constant(3, 0, 0, 0))];
        let slots = schedule(hours, 60).slots(&new_york, at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"), &[]);
        let starts: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
        // 01:00 EDT and 02:00 EST: two slots, each an hour.
        assert_eq!(starts, ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"]);
    }
}
