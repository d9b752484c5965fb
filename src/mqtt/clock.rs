//! The clock the drivers read: real time, simulated time running `speed`
//! times faster, or simulated time that a driver sets (the demo steps it
//! from event to event). Clones share one time, so every party in a
//! process agrees on "now".

use crate::engine::Millis;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct Clock(Kind);

#[derive(Debug, Clone)]
enum Kind {
    Running {
        origin: Instant,
        start: Millis,
        speed: f64,
    },
    Manual(Arc<AtomicI64>),
}

/// How often a loop waiting on a manual clock looks again.
const MANUAL_POLL: Duration = Duration::from_millis(2);

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn real() -> Self {
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis);
        Self::accelerated(start, 1.0)
    }

    /// Starts at `start` and runs `speed` times faster than real time.
    pub fn accelerated(start: Millis, speed: f64) -> Self {
        Clock(Kind::Running {
            origin: Instant::now(),
            start,
            speed: speed.max(1e-6),
        })
    }

    /// Stands at `start` until [`Clock::set`] moves it.
    pub fn manual(start: Millis) -> Self {
        Clock(Kind::Manual(Arc::new(AtomicI64::new(start))))
    }

    /// Moves a manual clock (never backwards); no effect on running clocks.
    pub fn set(&self, t: Millis) {
        if let Kind::Manual(now) = &self.0 {
            now.fetch_max(t, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> Millis {
        match &self.0 {
            Kind::Running {
                origin,
                start,
                speed,
            } => start + (origin.elapsed().as_secs_f64() * 1000.0 * speed) as Millis,
            Kind::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// The real time until clock time `at` (zero if it has passed; a short
    /// poll interval for a manual clock, which someone else moves).
    pub fn until(&self, at: Millis) -> Duration {
        match &self.0 {
            Kind::Running { speed, .. } => {
                let ahead = (at - self.now()).max(0) as f64 / speed;
                Duration::from_secs_f64(ahead / 1000.0)
            }
            Kind::Manual(_) if at <= self.now() => Duration::ZERO,
            Kind::Manual(_) => MANUAL_POLL,
        }
    }

    /// Real duration of `ms` clock milliseconds (for a manual clock, a
    /// fixed 200 ms: periodic chores still run).
    pub fn span(&self, ms: Millis) -> Duration {
        match &self.0 {
            Kind::Running { speed, .. } => {
                Duration::from_secs_f64(ms.max(0) as f64 / speed / 1000.0)
            }
            Kind::Manual(_) => Duration::from_millis(200),
        }
    }
}
