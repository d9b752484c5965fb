//! One location's world for one replication: orders arrive, the policy
//! admits or rejects, drivers come, customers pick up or packages expire.

use crate::domain::{Locker, LockerError, RequestId, Size, Tier};
use crate::engine::rng::Stream;
use crate::engine::time::{hour_of_week, Millis, HOUR};
use crate::engine::{EventQueue, Purpose, StreamKey};
use crate::metrics::location::TimeWeighted;
use crate::metrics::{LocationMetrics, Outcome};
use crate::policy::{Admission, AdmissionPolicy, AdmissionRequest};
use crate::scenario::{Location, Scenario};
use rand::Rng;
use rand_distr::{Distribution, Exp1};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("location `{location}` at t={time} ms: {source}")]
    Locker {
        location: String,
        time: Millis,
        #[source]
        source: LockerError,
    },
    #[error("location `{location}`: invariant broken at t={time} ms: {message}")]
    Invariant {
        location: String,
        time: Millis,
        message: String,
    },
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Checkout,
    Driver(u32),
    Timeout(u32),
    Reminder(u32),
    Pickup(u32),
    Expiry(u32),
    Retrieval(u32),
}

/// A package in flight (accepted, not yet finished).
#[derive(Debug, Clone, Copy)]
struct Pkg {
    id: u64,
    counted: bool,
    dwell: Millis,
    retrieval_delay: Millis,
    deposit_at: Millis,
}

/// Which step of a package's life a request id belongs to.
#[derive(Clone, Copy)]
enum Step {
    Hold = 1,
    Assign,
    Deposit,
    Release,
    Pickup,
    Expire,
    Retrieve,
}

fn request(package: u64, step: Step) -> RequestId {
    RequestId(package << 3 | step as u64)
}

pub struct LocationSim<'a> {
    sc: &'a Scenario,
    loc: &'a Location,
    queue: EventQueue<Ev>,
    locker: Locker,
    pkgs: Vec<Pkg>,
    free_slots: Vec<u32>,
    /// Orders per hour for each hour of the week.
    rates: [f64; 168],
    arrivals: Stream,
    order_mix: Stream,
    lead: Stream,
    dwell: Stream,
    retrieval: Stream,
    next_order: u64,
    metrics: LocationMetrics,
    occupancy: TimeWeighted,
    check_invariants: bool,
}

fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1)
}

impl<'a> LocationSim<'a> {
    pub fn new(
        sc: &'a Scenario,
        location: usize,
        seed: u64,
        replication: u64,
        check_invariants: bool,
    ) -> Self {
        let loc = &sc.locations[location];
        let stream = |purpose| {
            StreamKey {
                seed,
                replication,
                location: location as u64,
                purpose,
            }
            .stream()
        };
        let profile = &sc.profiles[loc.kind.index()];
        let rates = std::array::from_fn(|h| profile[h] * loc.orders_per_day);
        Self {
            sc,
            loc,
            queue: EventQueue::new(),
            locker: Locker::new(loc.compartments),
            pkgs: Vec::new(),
            free_slots: Vec::new(),
            rates,
            arrivals: stream(Purpose::Arrivals),
            order_mix: stream(Purpose::OrderMix),
            lead: stream(Purpose::LeadTime),
            dwell: stream(Purpose::Dwell),
            retrieval: stream(Purpose::Retrieval),
            next_order: 0,
            metrics: LocationMetrics::default(),
            occupancy: TimeWeighted::new(sc.warmup, sc.horizon),
            check_invariants,
        }
    }

    /// Runs until every package has finished: checkouts stop at the horizon,
    /// and what is in flight then plays out.
    pub fn run(&mut self) -> Result<(), SimError> {
        if let Some(t) = self.next_arrival(0) {
            self.schedule(t, Ev::Checkout);
        }
        while let Some((now, ev)) = self.queue.pop() {
            self.handle(now, ev).map_err(|source| SimError::Locker {
                location: self.loc.id.clone(),
                time: now,
                source,
            })?;
            if self.check_invariants {
                self.locker
                    .check_invariants()
                    .map_err(|message| SimError::Invariant {
                        location: self.loc.id.clone(),
                        time: now,
                        message,
                    })?;
            }
        }
        if self.locker.holdings_len() != 0 || self.pkgs.len() != self.free_slots.len() {
            return Err(SimError::Invariant {
                location: self.loc.id.clone(),
                time: self.queue.now(),
                message: format!(
                    "{} packages still held after the run",
                    self.locker.holdings_len()
                ),
            });
        }
        Ok(())
    }

    /// The metrics and the number of events processed.
    pub fn finish(self) -> (LocationMetrics, u64) {
        let mut m = self.metrics;
        let window = (self.sc.horizon - self.sc.warmup) as u128;
        m.occupied_area = self.occupancy.finish();
        m.capacity_area = self.locker.compartment_count() as u128 * window;
        m.window_ms = window;
        (m, self.queue.processed())
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        // Every caller schedules at or after now: times are now + a
        // non-negative duration, or `next_open` of such a time.
        self.queue
            .schedule(at, ev)
            .expect("events are never scheduled in the past");
    }

    /// Next checkout after `from` under the hour-of-week rate profile: one
    /// unit-exponential draw, spent against the piecewise-constant intensity.
    fn next_arrival(&mut self, from: Millis) -> Option<Millis> {
        if self.rates.iter().all(|&r| r <= 0.0) {
            return None;
        }
        let mut budget: f64 = Exp1.sample(&mut self.arrivals);
        let mut t = from;
        while t < self.sc.horizon {
            let rate = self.rates[hour_of_week(t)];
            let hour_end = t - t.rem_euclid(HOUR) + HOUR;
            let mass = rate * (hour_end - t) as f64 / HOUR as f64;
            if budget < mass {
                let at = t + (budget / rate * HOUR as f64) as Millis;
                return (at < self.sc.horizon).then_some(at);
            }
            budget -= mass;
            t = hour_end;
        }
        None
    }

    fn handle(&mut self, now: Millis, ev: Ev) -> Result<(), LockerError> {
        match ev {
            Ev::Checkout => self.on_checkout(now),
            Ev::Driver(slot) => self.on_driver(now, slot),
            Ev::Timeout(slot) => {
                let p = self.pkgs[slot as usize];
                self.locker.release(request(p.id, Step::Release), p.id)?;
                if p.counted {
                    self.metrics.reservation_timeouts += 1;
                }
                self.finish_package(slot, Outcome::ReroutedDoorstep);
                Ok(())
            }
            Ev::Reminder(slot) => {
                if self.pkgs[slot as usize].counted {
                    self.metrics.reminders_sent += 1;
                }
                Ok(())
            }
            Ev::Pickup(slot) => {
                let p = self.pkgs[slot as usize];
                self.locker.pickup(request(p.id, Step::Pickup), p.id)?;
                self.occupancy.set(now, self.locker.view().occupied);
                if p.counted {
                    self.metrics.record_dwell(now - p.deposit_at);
                    self.metrics.record_vacated(now - p.deposit_at);
                }
                self.finish_package(slot, Outcome::PickedUp);
                Ok(())
            }
            Ev::Expiry(slot) => {
                let p = self.pkgs[slot as usize];
                self.locker.expire(request(p.id, Step::Expire), p.id)?;
                if p.counted {
                    self.metrics.expired += 1;
                }
                self.schedule(now + p.retrieval_delay, Ev::Retrieval(slot));
                Ok(())
            }
            Ev::Retrieval(slot) => {
                let p = self.pkgs[slot as usize];
                self.locker.retrieve(request(p.id, Step::Retrieve), p.id)?;
                self.occupancy.set(now, self.locker.view().occupied);
                if p.counted {
                    self.metrics.record_vacated(now - p.deposit_at);
                }
                self.finish_package(slot, Outcome::ExpiredReturned);
                Ok(())
            }
        }
    }

    fn on_checkout(&mut self, now: Millis) -> Result<(), LockerError> {
        let sc = self.sc;
        let id = self.next_order;
        self.next_order += 1;
        // Every order draws all its attributes, accepted or not, so each
        // stream stays aligned across policies (common random numbers).
        let tier = Tier::ALL[pick(&sc.tier_cdf, self.order_mix.gen())];
        let size = Size::ALL[pick(&sc.size_cdf, self.order_mix.gen())];
        let lead = sc.tiers[tier.index()].lead_time.sample(&mut self.lead);
        let dwell = sc.dwell[self.loc.kind.index()][tier.index()].sample(&mut self.dwell);
        let retrieval_delay = sc.retrieval_delay.sample(&mut self.retrieval);
        if let Some(next) = self.next_arrival(now) {
            self.schedule(next, Ev::Checkout);
        }

        let counted = now >= sc.warmup;
        if counted {
            self.metrics.offered += 1;
        }
        let due_by = now + sc.tiers[tier.index()].reservation_timeout;
        let req = AdmissionRequest {
            now,
            tier,
            size,
            due_by,
        };
        let accepted = match sc.policy.admit(self.locker.view(), &req) {
            Admission::Reject => false,
            Admission::ReserveCapacity => self.locker.reserve_capacity(id, tier, size).is_ok(),
            Admission::HoldCompartment => self
                .locker
                .hold_compartment(request(id, Step::Hold), id, tier, size)
                .is_ok(),
        };
        if !accepted {
            if counted {
                self.metrics.record_outcome(Outcome::RejectedAtCheckout);
            }
            return Ok(());
        }
        if counted {
            self.metrics.accepted += 1;
        }
        let slot = self.alloc(Pkg {
            id,
            counted,
            dwell,
            retrieval_delay,
            deposit_at: 0,
        });
        let arrival = self.loc.hours.next_open(now + lead);
        if arrival > due_by {
            self.schedule(due_by, Ev::Timeout(slot));
        } else {
            self.schedule(arrival, Ev::Driver(slot));
        }
        Ok(())
    }

    fn on_driver(&mut self, now: Millis, slot: u32) -> Result<(), LockerError> {
        let p = self.pkgs[slot as usize];
        match self.locker.assign(request(p.id, Step::Assign), p.id) {
            Err(LockerError::NoFit(_)) => {
                // The driver stands at a full locker: the package goes to the doorstep.
                self.locker.release(request(p.id, Step::Release), p.id)?;
                if p.counted {
                    self.metrics.failed_deliveries += 1;
                }
                self.finish_package(slot, Outcome::ReroutedDoorstep);
                return Ok(());
            }
            other => other?,
        };
        self.locker.deposit(request(p.id, Step::Deposit), p.id)?;
        self.occupancy.set(now, self.locker.view().occupied);
        self.pkgs[slot as usize].deposit_at = now;
        if p.counted {
            self.metrics.deposited += 1;
        }
        let sc = self.sc;
        let expiry_at = now + sc.pickup_window;
        let reminder_at = expiry_at - sc.reminder_before_expiry;
        let pickup_at = self.loc.hours.next_open(now + p.dwell);
        let remind = sc.reminder_before_expiry > 0;
        if pickup_at < expiry_at {
            if remind && reminder_at < pickup_at {
                self.schedule(reminder_at, Ev::Reminder(slot));
            }
            self.schedule(pickup_at, Ev::Pickup(slot));
        } else {
            if remind {
                self.schedule(reminder_at, Ev::Reminder(slot));
            }
            self.schedule(expiry_at, Ev::Expiry(slot));
        }
        Ok(())
    }

    fn alloc(&mut self, p: Pkg) -> u32 {
        match self.free_slots.pop() {
            Some(s) => {
                self.pkgs[s as usize] = p;
                s
            }
            None => {
                self.pkgs.push(p);
                (self.pkgs.len() - 1) as u32
            }
        }
    }

    fn finish_package(&mut self, slot: u32, outcome: Outcome) {
        if self.pkgs[slot as usize].counted {
            self.metrics.record_outcome(outcome);
        }
        self.free_slots.push(slot);
    }
}
