//! Where "now" comes from for timestamps and soft deletes, so tests can fix it.

use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// A source of the current time. The executor's clock sets `created_at`, `updated_at` and
/// `deleted_at`; see [`Executor::with_clock`](crate::Executor::with_clock).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// Truncates to whole microseconds: what PostgreSQL and MySQL `DATETIME(6)` store, so a
/// timestamp reads back equal to the one written on every database.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The system clock (the default), in whole microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// A clock that says what it is told: for tests.
///
/// ```
/// use kysera::clock::{Clock, FixedClock};
/// let t = "2026-01-02T03:04:05Z".parse().unwrap();
/// let clock = FixedClock::new(t);
/// assert_eq!(clock.now(), t);
/// clock.advance(chrono::TimeDelta::seconds(10));
/// assert_eq!(clock.now(), t + chrono::TimeDelta::seconds(10));
/// ```
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at `t` (truncated to microseconds).
    pub fn new(t: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(to_micros(t)))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to_micros(t);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = to_micros(*t + d);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
