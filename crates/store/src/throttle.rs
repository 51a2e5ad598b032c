//! Sign-in throttling: failures counted per key (an account's name digest,
//! a client address) in a fixed window; too many lock the key for a while.
//! Kept in the database, so every process and a restart see the same counts.

use jiff::{SignedDuration, Timestamp};

use super::db::args;
use super::{Store, StoreError};

/// How many failures within `window` lock a key, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub max_failures: i64,
    pub window: SignedDuration,
    pub lockout: SignedDuration,
}

impl Store {
    /// Until when `key` is locked, if it is now.
    pub async fn login_locked_until(&self, key: &str) -> Result<Option<Timestamp>, StoreError> {
        let row = self
            .db
            .fetch_optional(
                "SELECT locked_until FROM login_attempts WHERE key = $1 AND locked_until > $2",
                args([key.into(), self.clock.now().into()]),
            )
            .await?;
        row.and_then(|r| r.opt_int("locked_until").transpose())
            .map(|us| us.and_then(super::db::from_micros))
            .transpose()
    }

    /// Counts a failure of `key`; returns the lock's end when this failure
    /// reached the limit. One statement, so concurrent failures all count.
    pub async fn record_login_failure(&self, key: &str, rule: ThrottleRule) -> Result<Option<Timestamp>, StoreError> {
        let now = self.clock.now();
        let window_floor = now - rule.window;
        let row = self
            .db
            .fetch_optional(
                "INSERT INTO login_attempts (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL)
                 ON CONFLICT (key) DO UPDATE SET
                     failures = CASE WHEN login_attempts.window_start < $3 THEN 1 ELSE login_attempts.failures + 1 END,
                     window_start = CASE WHEN login_attempts.window_start < $3 THEN $2
                                         ELSE login_attempts.window_start END
                 RETURNING failures",
                args([key.into(), now.into(), window_floor.into()]),
            )
            .await?;
        let failures = row.map(|r| r.int("failures")).transpose()?.unwrap_or(1);
        if failures < rule.max_failures {
            return Ok(None);
        }
        let until = now + rule.lockout;
        self.db
            .execute(
                "UPDATE login_attempts SET locked_until = $2, failures = 0, window_start = $3 WHERE key = $1",
                args([key.into(), until.into(), now.into()]),
            )
            .await?;
        Ok(Some(until))
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.db.execute("DELETE FROM login_attempts WHERE key = $1", args([key.into()])).await.map(drop)
    }
}
