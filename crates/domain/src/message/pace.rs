//! How fast a sender may send, and who goes first when it cannot keep up.
//!
//! A sender (an SMS number, an email account) has a rate (messages a second,
//! with a burst) and may have a daily cap. The rate is a GCRA (generic cell
//! rate algorithm): the bucket remembers the theoretical arrival time of the
//! next message, so one timestamp per sender holds the whole state, which
//! several processes can share in a database row.
//!
//! Priorities: replies to patients first, then reminders and other timely
//! messages, then bulk. The dispatcher leases due work in that order, and
//! the daily cap keeps headroom for the higher classes: bulk may use 70% of
//! it, reminders 90%, replies all of it.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::MessageClass;
use crate::consent::Channel;

/// Who goes first when senders are busy. Ordered: `Reply` < `Timely` < `Bulk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// An answer to something the patient just wrote.
    Reply,
    /// Reminders, confirmations, care instructions: messages with a moment.
    Timely,
    /// Newsletters, campaigns, recalls sent by the thousand.
    Bulk,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Reply, Priority::Timely, Priority::Bulk];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Reply => "reply",
            Priority::Timely => "timely",
            Priority::Bulk => "bulk",
        }
    }

    /// Its rank in the queue: lower goes first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Reply => 0,
            Priority::Timely => 1,
            Priority::Bulk => 2,
        }
    }

    /// What a message of `class` gets unless its planner says otherwise.
    pub fn default_for(class: MessageClass) -> Self {
        match class {
            MessageClass::Transactional | MessageClass::Care => Priority::Timely,
            MessageClass::Marketing => Priority::Bulk,
        }
    }

    /// The share of a daily cap it may use, in percent.
    fn daily_share(self) -> u64 {
        match self {
            Priority::Reply => 100,
            Priority::Timely => 90,
            Priority::Bulk => 70,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be reply, timely or bulk")]
pub struct UnknownPriority;

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s).ok_or(UnknownPriority)
    }
}

/// A sender's limit: `bucket` names the sender (`sms:+13125550100`).
#[derive(Debug, Clone, PartialEq)]
pub struct SenderLimit {
    pub channel: Channel,
    pub bucket: String,
    pub limit: RateLimit,
}

/// A sender's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// The spacing of messages at the sustained rate.
    pub every: SignedDuration,
    /// How many may go at once after a quiet spell (at least 1).
    pub burst: u32,
    /// At most this many a day (UTC), if set.
    pub daily: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    #[error("rate_per_second must be above 0 and at most 10000")]
    Rate,
    #[error("burst must be at least 1")]
    Burst,
}

impl RateLimit {
    /// `per_second` messages a second, `burst` at once (default: one second's worth).
    pub fn new(per_second: f64, burst: Option<u32>, daily: Option<u64>) -> Result<Self, RateLimitError> {
        if !(per_second > 0.0 && per_second <= 10_000.0) {
            return Err(RateLimitError::Rate);
        }
        let burst = burst.unwrap_or_else(|| per_second.ceil() as u32);
        if burst == 0 {
            return Err(RateLimitError::Burst);
        }
        let every = SignedDuration::from_secs_f64(1.0 / per_second);
        Ok(Self { every, burst, daily })
    }
}

/// One sender's state: the theoretical arrival time of its next message,
/// and how many it sent on `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub next_at: Timestamp,
    pub day: Date,
    pub sent: u64,
}

impl Bucket {
    /// A sender that has not sent yet.
    pub fn fresh(now: Timestamp) -> Self {
        Self { next_at: now, day: utc_day(now), sent: 0 }
    }
}

fn utc_day(at: Timestamp) -> Date {
    at.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Why a message must wait, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The sender is at its rate: the next place.
    Rate(Timestamp),
    /// The message's share of the daily cap is used up: the next UTC day.
    Daily(Timestamp),
}

impl Wait {
    pub fn until(self) -> Timestamp {
        match self {
            Wait::Rate(at) | Wait::Daily(at) => at,
        }
    }
}

/// Takes a place for one message of `priority` in `bucket` at `now`, or
/// says when to try again (the next place at the rate, or the next UTC day
/// when its share of the daily cap is used up). A refusal changes nothing.
pub fn admit(bucket: &mut Bucket, limit: &RateLimit, priority: Priority, now: Timestamp) -> Result<(), Wait> {
    let today = utc_day(now);
    let sent_today = if bucket.day == today { bucket.sent } else { 0 };
    if let Some(daily) = limit.daily {
        let allowed = daily * priority.daily_share() / 100;
        if sent_today >= allowed {
            let tomorrow = today.tomorrow().ok().and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok());
            return Err(Wait::Daily(tomorrow.map_or(now + SignedDuration::from_hours(24), |z| z.timestamp())));
        }
    }
    let tolerance = limit.every * i32::try_from(limit.burst.saturating_sub(1)).unwrap_or(i32::MAX);
    let start = bucket.next_at.max(now);
    if start.duration_since(now) > tolerance {
        return Err(Wait::Rate(start - tolerance));
    }
    bucket.next_at = start + limit.every;
    bucket.day = today;
    bucket.sent = sent_today + 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("valid in the test")
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limit = RateLimit::new(2.0, Some(3), None).expect("valid in the test");
        let now = at("2026-11-23T10:00:00Z");
        let mut bucket = Bucket::fresh(now);
        for _ in 0..3 {
            assert_eq!(admit(&mut bucket, &limit, Priority::Bulk, now), Ok(()));
        }
        let again = admit(&mut bucket, &limit, Priority::Bulk, now).expect_err("the burst is spent");
        assert_eq!(again, Wait::Rate(at("2026-11-23T10:00:00.5Z")), "the next place, half a second on");
        let before = bucket;
        assert!(admit(&mut bucket, &limit, Priority::Reply, now).is_err());
        assert_eq!(bucket, before, "a refusal changes nothing");
        assert_eq!(admit(&mut bucket, &limit, Priority::Bulk, again.until()), Ok(()));
        // After a quiet spell the burst is back, never more.
        let later = at("2026-11-23T10:01:00Z");
        for _ in 0..3 {
            assert_eq!(admit(&mut bucket, &limit, Priority::Bulk, later), Ok(()));
        }
        assert!(admit(&mut bucket, &limit, Priority::Bulk, later).is_err());
    }

    #[test]
    fn the_daily_cap_keeps_headroom_for_replies_and_resets_at_midnight_utc() {
        let limit = RateLimit::new(1000.0, None, Some(10)).expect("valid in the test");
        let mut now = at("2026-11-23T23:00:00Z");
        let mut bucket = Bucket::fresh(now);
        let sent = |priority, bucket: &mut Bucket, now: &mut Timestamp| {
            let mut n = 0;
            while admit(bucket, &limit, priority, *now).is_ok() {
                n += 1;
                *now += SignedDuration::from_millis(1);
            }
            n
        };
        assert_eq!(sent(Priority::Bulk, &mut bucket, &mut now), 7, "bulk: 70% of the cap");
        assert_eq!(sent(Priority::Timely, &mut bucket, &mut now), 2, "reminders: up to 90%");
        assert_eq!(sent(Priority::Reply, &mut bucket, &mut now), 1, "replies: the rest");
        assert_eq!(admit(&mut bucket, &limit, Priority::Reply, now), Err(Wait::Daily(at("2026-11-24T00:00:00Z"))));
        assert_eq!(admit(&mut bucket, &limit, Priority::Bulk, at("2026-11-24T00:00:00Z")), Ok(()));
        assert_eq!(bucket.sent, 1, "a new day, a new count");
    }

    #[test]
    fn limits_and_priorities_read_their_words() {
        assert_eq!(RateLimit::new(0.0, None, None), Err(RateLimitError::Rate));
        assert_eq!(RateLimit::new(1.0, Some(0), None), Err(RateLimitError::Burst));
        let slow = RateLimit::new(0.5, None, None).expect("valid in the test");
        assert_eq!((slow.every, slow.burst), (SignedDuration::from_secs(2), 1));
        assert_eq!("reply".parse::<Priority>(), Ok(Priority::Reply));
        assert!(Priority::Reply < Priority::Timely && Priority::Timely < Priority::Bulk);
        assert_eq!(Priority::default_for(MessageClass::Marketing), Priority::Bulk);
    }
}
