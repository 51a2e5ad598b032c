//! When a message may reach a patient: inside the sending window and
//! outside the patient's quiet hours, both in the **patient's** local time
//! (RULES.md). A message due outside them waits for the next allowed moment,
//! found across DST changes by the IANA rules, never by a fixed offset.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::MessageClass;
use crate::patient::{PatientDetails, QuietHours};

/// The local hours messages may go out: `[start, end)`, within one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendingWindow {
    pub start: Time,
    pub end: Time,
}

impl SendingWindow {
    /// 08:00–21:00: the federal limit for solicitations, used for every message.
    pub const DEFAULT: SendingWindow =
        SendingWindow { start: Time::constant(8, 0, 0, 0), end: Time::constant(21, 0, 0, 0) };

    /// The stricter of two windows (an organization may narrow the default, never widen it).
    pub fn narrowed_by(self, other: SendingWindow) -> SendingWindow {
        SendingWindow { start: self.start.max(other.start), end: self.end.min(other.end) }
    }

    /// A state's own limit for a class of message: Florida allows marketing 08:00–20:00.
    pub fn for_state(state: Option<&str>, class: MessageClass) -> Option<SendingWindow> {
        match (state, class) {
            (Some("FL"), MessageClass::Marketing) => {
                Some(SendingWindow { start: Time::constant(8, 0, 0, 0), end: Time::constant(20, 0, 0, 0) })
            }
            _ => None,
        }
    }

    fn contains(&self, t: Time) -> bool {
        self.start <= t && t < self.end
    }

    /// An organization's own window, `HH:MM` to `HH:MM`: it may only narrow
    /// the default (08:00–21:00), and must leave some time.
    pub fn narrower(start: &str, end: &str) -> Result<SendingWindow, SendingWindowError> {
        let time = |s: &str| crate::value::parse_hhmm(s).map_err(|_| SendingWindowError::Format);
        let window = SendingWindow { start: time(start)?, end: time(end)? };
        if window.start >= window.end {
            return Err(SendingWindowError::Empty);
        }
        if window.narrowed_by(SendingWindow::DEFAULT) != window {
            return Err(SendingWindowError::Wider);
        }
        Ok(window)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendingWindowError {
    #[error("is not a time in HH:MM form")]
    Format,
    #[error("must start before it ends, within one day")]
    Empty,
    #[error("may only narrow the federal 08:00 to 21:00, never widen it")]
    Wider,
}

/// Everything that decides the hour for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingHours {
    pub window: SendingWindow,
    /// The patient's own quiet period, if they chose one.
    pub quiet: Option<QuietHours>,
}

impl SendingHours {
    /// One patient's hours for a class of message: the federal window,
    /// narrowed by the organization's own and the patient's state's rule,
    /// and the patient's quiet hours.
    pub fn for_patient(patient: &PatientDetails, own: Option<SendingWindow>, class: MessageClass) -> SendingHours {
        let mut window = SendingWindow::DEFAULT;
        if let Some(own) = own {
            window = window.narrowed_by(own);
        }
        if let Some(local_rule) = SendingWindow::for_state(patient.address.state.as_deref(), class) {
            window = window.narrowed_by(local_rule);
        }
        SendingHours { window, quiet: patient.quiet_hours }
    }

    pub fn allows(&self, local: Time) -> bool {
        self.window.contains(local) && !self.quiet.is_some_and(|q| q.contains(local))
    }

    /// `now` if a message may go now in `zone`; otherwise the next moment it
    /// may (a window opening or a quiet period ending), within a week; `None`
    /// if the rules leave no moment at all.
    pub fn next_allowed(&self, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = now.to_zoned(zone.clone());
        if self.allows(local.time()) {
            return Some(now);
        }
        let mut candidates = Vec::new();
        for day in 0..8 {
            let date = local.date().checked_add(day.days()).ok()?;
            let opening_times = std::iter::once(self.window.start).chain(self.quiet.map(|q| q.end));
            for time in opening_times {
                if let Ok(at) = date.to_datetime(time).to_zoned(zone.clone()) {
                    candidates.push(at.timestamp());
                }
            }
        }
        candidates.sort();
        candidates.into_iter().filter(|at| *at > now).find(|at| self.allows(at.to_zoned(zone.clone()).time()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn hours(quiet: Option<(&str, &str)>) -> SendingHours {
        let quiet = quiet.map(|(s, e)| QuietHours::parse(s, e).expect("quiet"));
        SendingHours { window: SendingWindow::DEFAULT, quiet }
    }

    #[test]
    fn inside_the_window_a_message_goes_now() {
        let ny = TimeZone::get("America/New_York").expect("zone");
        assert_eq!(hours(None).next_allowed(at("2026-06-10T14:00:00Z"), &ny), Some(at("2026-06-10T14:00:00Z")));
    }

    #[test]
    fn at_night_it_waits_for_eight_local_across_dst_changes() {
        let ny = TimeZone::get("America/New_York").expect("zone");
        // 22:00 EST on the eve of spring forward: 08:00 EDT is 12:00 UTC.
        assert_eq!(hours(None).next_allowed(at("2026-03-08T03:00:00Z"), &ny), Some(at("2026-03-08T12:00:00Z")));
        // 23:30 EDT on the eve of fall back: 08:00 EST is 13:00 UTC.
        assert_eq!(hours(None).next_allowed(at("2026-11-01T03:30:00Z"), &ny), Some(at("2026-11-01T13:00:00Z")));
        // 06:00 in Phoenix (no DST): two hours later.
        let phoenix = TimeZone::get("America/Phoenix").expect("zone");
        assert_eq!(hours(None).next_allowed(at("2026-07-01T13:00:00Z"), &phoenix), Some(at("2026-07-01T15:00:00Z")));
    }

    #[test]
    fn the_patients_quiet_hours_and_a_narrower_window_push_it_later() {
        let chicago = TimeZone::get("America/Chicago").expect("zone");
        // 08:30 CDT, but the patient sleeps until 09:30.
        let late_riser = hours(Some(("21:00", "09:30")));
        assert_eq!(late_riser.next_allowed(at("2026-06-10T13:30:00Z"), &chicago), Some(at("2026-06-10T14:30:00Z")));
        // 18:30 CDT, an organization that texts 09:00–18:00: tomorrow 09:00.
        let narrow = SendingWindow::DEFAULT
            .narrowed_by(SendingWindow { start: Time::constant(9, 0, 0, 0), end: Time::constant(18, 0, 0, 0) });
        let office = SendingHours { window: narrow, quiet: None };
        assert_eq!(office.next_allowed(at("2026-06-10T23:30:00Z"), &chicago), Some(at("2026-06-11T14:00:00Z")));
        // Quiet all day long: never.
        let never = hours(Some(("07:00", "22:00")));
        assert_eq!(never.next_allowed(at("2026-06-10T13:30:00Z"), &chicago), None);
    }

    #[test]
    fn florida_limits_marketing_to_eight_pm() {
        let window = SendingWindow::for_state(Some("FL"), MessageClass::Marketing).expect("a Florida rule");
        assert_eq!(window.end, Time::constant(20, 0, 0, 0));
        assert_eq!(SendingWindow::for_state(Some("FL"), MessageClass::Care), None);
        assert_eq!(SendingWindow::for_state(Some("NY"), MessageClass::Marketing), None);
    }

    #[test]
    fn an_organization_may_narrow_the_window_never_widen_it() {
        let office = SendingWindow::narrower("09:00", "17:30").expect("narrower");
        assert_eq!((office.start, office.end), (Time::constant(9, 0, 0, 0), Time::constant(17, 30, 0, 0)));
        assert_eq!(SendingWindow::narrower("07:00", "17:00"), Err(SendingWindowError::Wider));
        assert_eq!(SendingWindow::narrower("09:00", "21:30"), Err(SendingWindowError::Wider));
        assert_eq!(SendingWindow::narrower("12:00", "12:00"), Err(SendingWindowError::Empty));
        assert_eq!(SendingWindow::narrower("9am", "5pm"), Err(SendingWindowError::Format));
    }
}
