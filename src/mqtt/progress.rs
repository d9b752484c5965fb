//! Counters the drivers in a process share, so a driver of the whole system
//! (the demo, the parity test) can tell when every message has been
//! handled. Per locker: reports it made minus reports the service consumed,
//! plus commands the service sent it minus commands it applied; and what
//! the service last heard of its link. Each party adds what it caused
//! before it subtracts what it handled, so a count never reads zero while
//! work is in flight. A locker the driver cut off holds its reports (and
//! the broker its commands) until it is back: it counts as settled once the
//! service has heard its will.

use crate::engine::Millis;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Default, Clone, Copy)]
struct Locker {
    pending: i64,
    /// Cut off from the broker by the driver.
    cut: bool,
    /// The link as the service last heard it (its status topic).
    seen_online: Option<bool>,
}

#[derive(Debug)]
pub struct Progress {
    lockers: Mutex<BTreeMap<String, Locker>>,
    /// Client messages (checkouts, drivers' reports) published, not yet handled.
    requests: AtomicI64,
    /// The service's next timer (i64::MAX if none).
    next_deadline: AtomicI64,
    /// Broker connections made by controllers (each announces its ledger).
    connects: AtomicU64,
    /// Woken on every change, so a waiter sees "settled" the moment it is
    /// (polling would cost a timer tick, a millisecond or more, per step).
    changed: Notify,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            lockers: Mutex::new(BTreeMap::new()),
            requests: AtomicI64::new(0),
            next_deadline: AtomicI64::new(Millis::MAX),
            connects: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }
}

impl Progress {
    fn with<R>(&self, locker: &str, f: impl FnOnce(&mut Locker) -> R) -> R {
        let mut all = self.lockers.lock().expect("no panics while held");
        let r = match all.get_mut(locker) {
            Some(l) => f(l),
            None => f(all.entry(locker.to_string()).or_default()),
        };
        drop(all);
        self.changed.notify_waiters();
        r
    }

    /// Work `locker`'s traffic caused (`caused`) and handled (`handled`).
    pub fn step(&self, locker: &str, caused: u64, handled: u64) {
        if caused > 0 || handled > 0 {
            self.with(locker, |l| l.pending += caused as i64 - handled as i64);
        }
    }

    /// A client message is on its way to the service.
    pub fn request_sent(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// The service handled `n` client messages.
    pub fn requests_handled(&self, n: u64) {
        if n > 0 {
            self.requests.fetch_sub(n as i64, Ordering::SeqCst);
            self.changed.notify_waiters();
        }
    }

    /// The driver cut `locker` off the broker (true) or let it back (false).
    pub fn cut(&self, locker: &str, cut: bool) {
        self.with(locker, |l| l.cut = cut);
    }

    /// What the service last heard of `locker`'s link.
    pub fn link_seen(&self, locker: &str, online: bool) {
        self.with(locker, |l| l.seen_online = Some(online));
    }

    /// A controller connected (after counting its announcement).
    pub fn connected(&self) {
        self.connects.fetch_add(1, Ordering::SeqCst);
    }

    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    pub fn set_deadline(&self, at: Millis) {
        if self.next_deadline.swap(at, Ordering::SeqCst) != at {
            self.changed.notify_waiters();
        }
    }

    /// Messages in flight or unhandled, on links that are up.
    pub fn pending(&self) -> i64 {
        let all = self.lockers.lock().expect("no panics while held");
        let lockers: i64 = all.values().filter(|l| !l.cut).map(|l| l.pending).sum();
        lockers + self.requests.load(Ordering::SeqCst)
    }

    pub fn deadline(&self) -> Millis {
        self.next_deadline.load(Ordering::SeqCst)
    }

    /// Everything sent has been handled, the service has heard every link
    /// as it is, and no service timer is due at `now`. The deadline is read
    /// first: the service stores it after counting the commands its timers
    /// sent.
    pub fn settled(&self, now: Millis) -> bool {
        if self.deadline() <= now || self.requests.load(Ordering::SeqCst) != 0 {
            return false;
        }
        let all = self.lockers.lock().expect("no panics while held");
        all.values().all(|l| {
            if l.cut {
                l.seen_online == Some(false)
            } else {
                l.pending == 0 && l.seen_online != Some(false)
            }
        })
    }

    /// Waits until `settled(now)` holds, at most `timeout`; false if it
    /// did not.
    pub async fn wait_settled(&self, now: Millis, timeout: Duration) -> bool {
        let wait = async {
            loop {
                // Registered before the check, so a change between the
                // check and the wait still wakes it.
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.settled(now) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Lockers the service has not heard as the driver left them, for a
    /// message when the system does not settle.
    pub fn unsettled(&self) -> Vec<String> {
        let all = self.lockers.lock().expect("no panics while held");
        all.iter()
            .filter(|(_, l)| {
                if l.cut {
                    l.seen_online != Some(false)
                } else {
                    l.pending != 0 || l.seen_online == Some(false)
                }
            })
            .map(|(id, l)| format!("{id} ({} pending, cut {})", l.pending, l.cut))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_locker_settles_once_its_will_is_heard_and_counts_again_when_back() {
        let p = Progress::default();
        p.link_seen("A", true);
        p.link_seen("B", true);
        p.step("A", 1, 0);
        assert!(!p.settled(0), "A's report is in flight");
        p.step("A", 0, 1);
        assert!(p.settled(0));
        // B is cut: its report waits in its outbox.
        p.cut("B", true);
        p.step("B", 1, 0);
        assert!(!p.settled(0), "the service has not heard B's will");
        p.link_seen("B", false);
        assert!(p.settled(0), "held work on a cut link does not count");
        assert_eq!(p.pending(), 0);
        p.cut("B", false);
        assert!(!p.settled(0), "back: B's report is in flight again");
        p.link_seen("B", true);
        p.step("B", 0, 1);
        assert!(p.settled(0));
        p.request_sent();
        assert!(!p.settled(0), "a checkout is on its way");
        p.requests_handled(1);
        p.set_deadline(5);
        assert!(p.settled(4) && !p.settled(5), "a timer due at 5");
    }

    #[tokio::test]
    async fn a_waiter_hears_the_change_that_settles_the_system() {
        let p = std::sync::Arc::new(Progress::default());
        p.link_seen("A", true);
        p.step("A", 1, 0);
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move { p.wait_settled(0, Duration::from_secs(30)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "A's report is in flight");
        p.step("A", 0, 1);
        assert!(waiter.await.unwrap());
        p.step("A", 1, 0);
        assert!(!p.wait_settled(0, Duration::from_millis(20)).await);
    }
}
