//! The clock the drivers read: real time, simulated time running `speed`
//! times faster, or simulated time that a driver sets (the demo steps it
//! from event to event). Clones share one time, so every party in a
//! process agrees on "now".

use crate::engine::Millis;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Clock(Kind);

#[derive(Debug, Clone)]
enum Kind {
    Running {
        origin: Instant,
        start: Millis,
        speed: f64,
    },
    Manual(Arc<Manual>),
}

#[derive(Debug, Default)]
struct Manual {
    now: AtomicI64,
    /// Woken whenever the clock moves, so a party waiting for a time acts
    /// the moment a driver sets it (not a timer tick later).
    moved: Notify,
}

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
        Clock(Kind::Manual(Arc::new(Manual {
            now: AtomicI64::new(start),
            moved: Notify::new(),
        })))
    }

    /// Moves a manual clock (never backwards); no effect on running clocks.
    pub fn set(&self, t: Millis) {
        if let Kind::Manual(m) = &self.0 {
            if m.now.fetch_max(t, Ordering::SeqCst) < t {
                m.moved.notify_waiters();
            }
        }
    }

    pub fn now(&self) -> Millis {
        match &self.0 {
            Kind::Running {
                origin,
                start,
                speed,
            } => start + (origin.elapsed().as_secs_f64() * 1000.0 * speed) as Millis,
            Kind::Manual(m) => m.now.load(Ordering::SeqCst),
        }
    }

    /// Resolves when the clock reaches `at` (None: never), or after
    /// `longest` of real time, whichever comes first. A manual clock wakes
    /// its waiters when a driver moves it.
    pub async fn wake(&self, at: Option<Millis>, longest: Duration) {
        let reached = async {
            let Some(at) = at else {
                return std::future::pending().await;
            };
            match &self.0 {
                Kind::Running { speed, .. } => {
                    let ahead = (at - self.now()).max(0) as f64 / speed;
                    tokio::time::sleep(Duration::from_secs_f64(ahead / 1000.0)).await
                }
                Kind::Manual(m) => loop {
                    // Registered before the check: a move in between wakes it.
                    let moved = m.moved.notified();
                    tokio::pin!(moved);
                    moved.as_mut().enable();
                    if m.now.load(Ordering::SeqCst) >= at {
                        return;
                    }
                    moved.await;
                },
            }
        };
        let _ = tokio::time::timeout(longest, reached).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_party_waiting_on_a_manual_clock_wakes_when_it_is_moved_there() {
        let clock = Clock::manual(0);
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move {
                let began = Instant::now();
                clock.wake(Some(100), Duration::from_secs(30)).await;
                (clock.now(), began.elapsed())
            })
        };
        tokio::task::yield_now().await;
        clock.set(50); // not there yet: keeps waiting
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.set(100);
        let (now, waited) = waiter.await.unwrap();
        assert_eq!(now, 100);
        assert!(
            waited < Duration::from_secs(5),
            "woke by the move, not the limit"
        );
        // Nothing due: the real-time limit ends the wait.
        let began = Instant::now();
        clock.wake(None, Duration::from_millis(20)).await;
        assert!(began.elapsed() >= Duration::from_millis(20));
        // Already past: no wait.
        clock.wake(Some(10), Duration::from_secs(30)).await;
    }
}
