//! One counter the drivers in a process share, so a driver of the whole
//! system (the demo, the parity test) can tell when every message has been
//! handled: reports made minus reports consumed plus commands sent minus
//! commands applied. Each party adds what it caused before it subtracts
//! what it handled, so the count never reads zero while work is in flight.

use crate::engine::Millis;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug)]
pub struct Progress {
    pending: AtomicI64,
    /// The service's next timer (i64::MAX if none).
    next_deadline: AtomicI64,
    /// Broker connections made by controllers (each announces its ledger).
    connects: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            pending: AtomicI64::new(0),
            next_deadline: AtomicI64::new(Millis::MAX),
            connects: AtomicU64::new(0),
        }
    }
}

impl Progress {
    /// Work caused (`caused`) and handled (`handled`) by one step.
    pub fn step(&self, caused: u64, handled: u64) {
        if caused > 0 {
            self.pending.fetch_add(caused as i64, Ordering::SeqCst);
        }
        if handled > 0 {
            self.pending.fetch_sub(handled as i64, Ordering::SeqCst);
        }
    }

    /// A controller connected (after counting its announcement).
    pub fn connected(&self) {
        self.connects.fetch_add(1, Ordering::SeqCst);
    }

    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    pub fn set_deadline(&self, at: Millis) {
        self.next_deadline.store(at, Ordering::SeqCst);
    }

    /// Messages in flight or unhandled.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::SeqCst)
    }

    pub fn deadline(&self) -> Millis {
        self.next_deadline.load(Ordering::SeqCst)
    }

    /// Everything sent has been handled and no service timer is due at
    /// `now`. The deadline is read first: the service stores it after
    /// counting the commands its timers sent.
    pub fn settled(&self, now: Millis) -> bool {
        self.deadline() > now && self.pending() == 0
    }
}
