//! When a failed job runs again: exponential backoff with jitter, so that a
//! provider's outage is not met by every job retrying at the same moment.

use jiff::SignedDuration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub base: SignedDuration,
    /// The longest wait.
    pub max: SignedDuration,
    /// Each wait is moved by up to this fraction either way (0.2: ±20 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: SignedDuration::from_secs(30), max: SignedDuration::from_hours(1), jitter: 0.2 }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 for the first),
    /// given `unit`, a random number in [0, 1).
    pub fn delay(&self, attempt: i64, unit: f64) -> SignedDuration {
        let doublings = attempt.clamp(1, 32) - 1;
        let raw = self.base.as_secs_f64() * 2f64.powi(doublings as i32);
        let capped = raw.min(self.max.as_secs_f64());
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        SignedDuration::from_secs_f64((capped * factor).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_within_the_jitter() {
        let policy = RetryPolicy::default();
        let secs = |attempt, unit| policy.delay(attempt, unit).as_secs_f64().round() as i64;
        assert_eq!([secs(1, 0.5), secs(2, 0.5), secs(3, 0.5), secs(8, 0.5), secs(30, 0.5)], [30, 60, 120, 3600, 3600]);
        assert_eq!((secs(1, 0.0), secs(1, 0.999_999)), (24, 36), "±20 %");
        assert_eq!(secs(0, 0.5), 30, "an attempt number below 1 counts as the first");
    }
}
