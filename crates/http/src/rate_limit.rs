//! A request rate limit per client address: a token bucket that holds a
//! minute's allowance and refills continuously. Kept in memory, per
//! process (several processes each allow the rate); time comes from the
//! injected clock. Sign-in has its own, stricter throttle in the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use jiff::Timestamp;

/// Beyond this many tracked addresses, full buckets are forgotten.
const MAX_TRACKED: usize = 50_000;

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl RateLimiter {
    /// `per_minute` requests a minute per address, in bursts of as many; 0 turns it off.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request's token for `client`, or says in how many seconds one will be there.
    pub fn check(&self, client: IpAddr, now: Timestamp) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: capacity, at: now });
        let elapsed = now.duration_since(bucket.at).as_secs_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_minute_then_one_request_per_interval() {
        let limiter = RateLimiter::new(60);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let start = Timestamp::from_second(1_700_000_000).expect("time");
        for _ in 0..60 {
            assert_eq!(limiter.check(a, start), Ok(()));
        }
        assert_eq!(limiter.check(a, start), Err(1));
        assert_eq!(limiter.check(b, start), Ok(()), "addresses are separate");
        let later = start + jiff::SignedDuration::from_secs(1);
        assert_eq!(limiter.check(a, later), Ok(()), "one token a second refills");
        assert_eq!(limiter.check(a, later), Err(1));
        assert_eq!(RateLimiter::new(0).check(a, start), Ok(()), "0 turns it off");
    }
}
