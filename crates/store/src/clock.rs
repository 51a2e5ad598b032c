//! The injected clock. Nothing in Rapport reads the system time directly, so
//! tests can pin it or move it across a DST change.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(Timestamp::now))
    }

    /// A clock a test moves by hand.
    pub fn manual(start: Timestamp) -> (Self, ManualClock) {
        let handle = ManualClock(Arc::new(Mutex::new(start)));
        let reader = handle.clone();
        (Self(Arc::new(move || reader.now())), handle)
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }

    /// The latest date anywhere on Earth (UTC+14): a birth date after it is
    /// in the future wherever the patient is.
    pub fn latest_today(&self) -> jiff::civil::Date {
        self.today_in(&jiff::tz::TimeZone::fixed(jiff::tz::offset(14)))
    }

    /// Today's date in `zone`.
    pub fn today_in(&self, zone: &jiff::tz::TimeZone) -> jiff::civil::Date {
        self.now().to_zoned(zone.clone()).date()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set(&self, to: Timestamp) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}
