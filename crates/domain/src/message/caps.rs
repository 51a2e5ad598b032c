//! How often a patient may be messaged: rolling limits per day and per week
//! (RULES.md: exempt care texts at most 1 a day and 3 a week). Given what
//! was sent, the earliest moment the next message may go.

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    pub per_day: usize,
    pub per_week: usize,
}

const DAY: SignedDuration = SignedDuration::from_hours(24);
const WEEK: SignedDuration = SignedDuration::from_hours(24 * 7);

impl FrequencyCap {
    /// The FCC's healthcare exemption for texts.
    pub const CARE_TEXTS: FrequencyCap = FrequencyCap { per_day: 1, per_week: 3 };

    fn allows(&self, sent: &[Timestamp], at: Timestamp) -> bool {
        let within = |span: SignedDuration| sent.iter().filter(|s| **s <= at && at - span < **s).count();
        within(DAY) < self.per_day && within(WEEK) < self.per_week
    }

    /// `now`, or the first moment after it when both rolling windows have room.
    pub fn next_allowed(&self, sent: &[Timestamp], now: Timestamp) -> Timestamp {
        if self.per_day == 0 || self.per_week == 0 {
            return Timestamp::MAX;
        }
        let mut candidates: Vec<Timestamp> =
            std::iter::once(now).chain(sent.iter().flat_map(|s| [*s + DAY, *s + WEEK])).filter(|t| *t >= now).collect();
        candidates.sort();
        candidates.into_iter().find(|t| self.allows(sent, *t)).unwrap_or(Timestamp::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn one_a_day_and_three_a_week() {
        let cap = FrequencyCap::CARE_TEXTS;
        let now = at("2026-11-20T15:00:00Z");
        assert_eq!(cap.next_allowed(&[], now), now);
        let this_morning = [at("2026-11-20T09:00:00Z")];
        assert_eq!(cap.next_allowed(&this_morning, now), at("2026-11-21T09:00:00Z"), "24 hours after the last");
        let three = [at("2026-11-16T10:00:00Z"), at("2026-11-17T10:00:00Z"), at("2026-11-18T10:00:00Z")];
        assert_eq!(cap.next_allowed(&three, now), at("2026-11-23T10:00:00Z"), "a week after the first of three");
        let old = [at("2026-11-01T10:00:00Z"), at("2026-11-02T10:00:00Z"), at("2026-11-03T10:00:00Z")];
        assert_eq!(cap.next_allowed(&old, now), now, "long ago counts for nothing");
    }
}
