//! One location's world for one replication. The world plays everyone around
//! the locker — customers, drivers, operations, and the regional service
//! (admission, codes, the authoritative expiry clock) — and the locker itself
//! is the controller core, driven input by input exactly as a real one is.

use super::audit_sink::AuditSink;
use super::RunOptions;
use crate::access::{qr, AuditEvent, LockerKeys, PickupCode};
use crate::controller::{
    Alert, Controller, EventKind, FailReason, Input, Output, Rejected, Screen, Source,
};
use crate::domain::locker::BuildPackageHasher;
use crate::domain::{CompartmentId, Size, Tier};
use crate::engine::rng::Stream;
use crate::engine::time::{hour_of_week, Millis, HOUR};
use crate::engine::{EventQueue, Purpose, StreamKey};
use crate::metrics::location::TimeWeighted;
use crate::metrics::{LocationMetrics, Outcome};
use crate::policy::{Admission, AdmissionPolicy, AdmissionRequest};
use crate::scenario::{Location, Scenario};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Exp1};
use std::collections::HashSet;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("location `{location}` at t={time} ms: the controller refused {input}: {source}")]
    Controller {
        location: String,
        time: Millis,
        input: String,
        #[source]
        source: Rejected,
    },
    #[error("location `{location}`: invariant broken at t={time} ms: {message}")]
    Invariant {
        location: String,
        time: Millis,
        message: String,
    },
    #[error("writing the audit log {path}: {source}")]
    Audit {
        path: String,
        #[source]
        source: std::io::Error,
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

/// A package in flight (accepted, not yet finished), with what its customer
/// will do at the kiosk.
#[derive(Debug, Clone, Copy)]
struct Pkg {
    id: u64,
    counted: bool,
    dwell: Millis,
    retrieval_delay: Millis,
    deposit_at: Millis,
    expiry_at: Millis,
    code: PickupCode,
    /// Types one wrong code first: digit `typo_pos` off by `typo_delta`.
    mistype: bool,
    typo_pos: u8,
    typo_delta: u8,
    uses_qr: bool,
}

pub struct LocationSim<'a> {
    sc: &'a Scenario,
    loc: &'a Location,
    queue: EventQueue<Ev>,
    ctl: Controller,
    out: Vec<Output>,
    seq: [u64; 4],
    /// The service's copy of the locker's keys (it issues codes and tokens).
    keys: LockerKeys,
    /// Codes active at this location, known to the service, for uniqueness.
    active_codes: HashSet<u32, BuildPackageHasher>,
    pkgs: Vec<Pkg>,
    free_slots: Vec<u32>,
    /// Orders per hour for each hour of the week.
    rates: [f64; 168],
    arrivals: Stream,
    order_mix: Stream,
    lead: Stream,
    dwell: Stream,
    retrieval: Stream,
    access: Stream,
    customer: Stream,
    next_order: u64,
    metrics: LocationMetrics,
    occupancy: TimeWeighted,
    check_invariants: bool,
    audit: Option<AuditSink>,
}

fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1)
}

/// The code with one digit changed: a plausible typo, never the code itself.
fn typo(code: PickupCode, pos: u8, delta: u8) -> PickupCode {
    let place = 10u32.pow(pos as u32);
    let digit = code.value() / place % 10;
    let wrong = (digit + delta as u32) % 10;
    PickupCode::new(code.value() - digit * place + wrong * place)
        .expect("six digits stay six digits")
}

impl<'a> LocationSim<'a> {
    pub fn new(
        sc: &'a Scenario,
        location: usize,
        replication: u64,
        opts: &RunOptions,
    ) -> Result<Self, SimError> {
        let loc = &sc.locations[location];
        let seed = opts.seed;
        let audit = match &opts.audit_dir {
            Some(dir) => Some(AuditSink::create(dir, &loc.id, replication)?),
            None => None,
        };
        let stream = |purpose| {
            StreamKey {
                seed,
                replication,
                location: location as u64,
                purpose,
            }
            .stream()
        };
        let mut access = stream(Purpose::Access);
        let mut master = [0u8; 32];
        access.fill_bytes(&mut master);
        let keys = LockerKeys::from_master(&master);
        let profile = &sc.profiles[loc.kind.index()];
        let rates = std::array::from_fn(|h| profile[h] * loc.orders_per_day);
        Ok(Self {
            sc,
            loc,
            queue: EventQueue::new(),
            ctl: Controller::new(
                loc.id.clone(),
                keys.clone(),
                loc.compartments,
                sc.access.controller,
            ),
            out: Vec::with_capacity(16),
            seq: [0; 4],
            keys,
            active_codes: HashSet::default(),
            pkgs: Vec::new(),
            free_slots: Vec::new(),
            rates,
            arrivals: stream(Purpose::Arrivals),
            order_mix: stream(Purpose::OrderMix),
            lead: stream(Purpose::LeadTime),
            dwell: stream(Purpose::Dwell),
            retrieval: stream(Purpose::Retrieval),
            access,
            customer: stream(Purpose::Customer),
            next_order: 0,
            metrics: LocationMetrics::default(),
            occupancy: TimeWeighted::new(sc.warmup, sc.horizon),
            check_invariants: opts.check_invariants,
            audit,
        })
    }

    /// Runs until every package has finished: checkouts stop at the horizon,
    /// and what is in flight then plays out.
    pub fn run(&mut self) -> Result<(), SimError> {
        if let Some(t) = self.next_arrival(0) {
            self.schedule_checkout(t);
        }
        while let Some((now, ev)) = self.queue.pop() {
            self.handle(now, ev)?;
            if self.check_invariants {
                self.ctl
                    .locker()
                    .check_invariants()
                    .map_err(|message| self.invariant(now, message))?;
            }
        }
        if self.ctl.locker().holdings_len() != 0 || self.pkgs.len() != self.free_slots.len() {
            let message = format!(
                "{} packages still held after the run",
                self.ctl.locker().holdings_len()
            );
            return Err(self.invariant(self.queue.now(), message));
        }
        Ok(())
    }

    /// The metrics and the number of events processed.
    pub fn finish(self) -> Result<(LocationMetrics, u64), SimError> {
        if let Some(audit) = self.audit {
            audit.close()?;
        }
        let mut m = self.metrics;
        let window = (self.sc.horizon - self.sc.warmup) as u128;
        m.occupied_area = self.occupancy.finish();
        m.capacity_area = self.ctl.locker().compartment_count() as u128 * window;
        m.window_ms = window;
        Ok((m, self.queue.processed()))
    }

    fn invariant(&self, time: Millis, message: String) -> SimError {
        SimError::Invariant {
            location: self.loc.id.clone(),
            time,
            message,
        }
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        // Every caller schedules at or after now: times are now + a
        // non-negative duration, or `next_open` of such a time.
        self.queue
            .schedule(at, ev)
            .expect("events are never scheduled in the past");
    }

    /// Orders arrive one after another: the next checkout rides the queue's lane.
    fn schedule_checkout(&mut self, at: Millis) {
        self.queue
            .schedule_lane(at, Ev::Checkout)
            .expect("one checkout pending at a time, never in the past");
    }

    /// Feeds one input to the controller; its outputs land in `self.out`.
    fn input(&mut self, now: Millis, source: Source, input: Input) -> Result<(), SimError> {
        let s = &mut self.seq[source.index()];
        *s += 1;
        self.out.clear();
        match self.ctl.handle(now, source, *s, &input, &mut self.out) {
            Ok(_) => match &mut self.audit {
                Some(sink) => sink.record(now, &self.out),
                None => Ok(()),
            },
            Err(source) => Err(SimError::Controller {
                location: self.loc.id.clone(),
                time: now,
                input: format!("{input:?}"),
                source,
            }),
        }
    }

    fn opened(&self) -> Option<CompartmentId> {
        self.out.iter().find_map(|o| match o {
            Output::OpenDoor { compartment } => Some(*compartment),
            _ => None,
        })
    }

    fn screen(&self) -> Option<Screen> {
        self.out.iter().find_map(|o| match o {
            Output::Screen { message } => Some(*message),
            _ => None,
        })
    }

    fn published(&self, wanted: impl Fn(&EventKind) -> bool) -> bool {
        self.out
            .iter()
            .any(|o| matches!(o, Output::Publish { event } if wanted(&event.kind)))
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

    fn handle(&mut self, now: Millis, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::Checkout => self.on_checkout(now),
            Ev::Driver(slot) => self.on_driver(now, slot),
            Ev::Timeout(slot) => {
                let p = self.pkgs[slot as usize];
                self.input(
                    now,
                    Source::Service,
                    Input::CancelReservation { package: p.id },
                )?;
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
            Ev::Pickup(slot) => self.on_pickup(now, slot),
            Ev::Expiry(slot) => {
                let p = self.pkgs[slot as usize];
                self.input(now, Source::Service, Input::Expire { package: p.id })?;
                self.active_codes.remove(&p.code.value());
                if p.counted {
                    self.metrics.expired += 1;
                }
                self.schedule(now + p.retrieval_delay, Ev::Retrieval(slot));
                Ok(())
            }
            Ev::Retrieval(slot) => {
                let p = self.pkgs[slot as usize];
                self.input(now, Source::Kiosk, Input::OpsRetrieve { package: p.id })?;
                let c = self
                    .opened()
                    .ok_or_else(|| self.invariant(now, "no door opened for retrieval".into()))?;
                self.input(
                    now,
                    Source::Sensors,
                    Input::DoorClosed {
                        compartment: c,
                        occupied: false,
                    },
                )?;
                self.occupancy.set(now, self.ctl.view().occupied);
                if p.counted {
                    self.metrics.record_vacated(now - p.deposit_at);
                }
                self.finish_package(slot, Outcome::ExpiredReturned);
                Ok(())
            }
        }
    }

    fn on_checkout(&mut self, now: Millis) -> Result<(), SimError> {
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
        let mistype = self.customer.gen::<f64>() < sc.access.mistype_share;
        let typo_pos = self.customer.gen_range(0..6);
        let typo_delta = self.customer.gen_range(1..10);
        let uses_qr = self.customer.gen::<f64>() < sc.access.qr_share;
        if let Some(next) = self.next_arrival(now) {
            self.schedule_checkout(next);
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
        let hold = match sc.policy.admit(self.ctl.view(), &req) {
            Admission::Reject => None,
            Admission::ReserveCapacity => Some(false),
            Admission::HoldCompartment => Some(true),
        };
        let accepted = match hold {
            None => false,
            Some(hold) => {
                let reserve = Input::Reserve {
                    package: id,
                    tier,
                    size,
                    hold,
                };
                match self.input(now, Source::Service, reserve) {
                    Ok(()) => true,
                    // The policy promised more than the locker holds: a refusal, not a crash.
                    Err(SimError::Controller { .. }) => false,
                    Err(e) => return Err(e),
                }
            }
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
            expiry_at: 0,
            code: PickupCode::new(0).expect("0 is a code"),
            mistype,
            typo_pos,
            typo_delta,
            uses_qr,
        });
        let arrival = self.loc.hours.next_open(now + lead);
        if arrival > due_by {
            self.schedule(due_by, Ev::Timeout(slot));
        } else {
            self.schedule(arrival, Ev::Driver(slot));
        }
        Ok(())
    }

    fn on_driver(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        self.input(now, Source::Kiosk, Input::DriverScan { package: p.id })?;
        let Some(c) = self.opened() else {
            if self.published(|k| {
                matches!(
                    k,
                    EventKind::DeliveryFailed {
                        reason: FailReason::Full,
                        ..
                    }
                )
            }) {
                // The driver stands at a full locker: the package goes to the doorstep.
                if p.counted {
                    self.metrics.failed_deliveries += 1;
                }
                self.finish_package(slot, Outcome::ReroutedDoorstep);
                return Ok(());
            }
            return Err(self.invariant(
                now,
                format!(
                    "driver scan of package {} opened nothing: {:?}",
                    p.id, self.out
                ),
            ));
        };
        self.input(
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: true,
            },
        )?;
        if !self.published(|k| matches!(k, EventKind::Deposited { .. })) {
            return Err(self.invariant(now, format!("deposit of package {} not confirmed", p.id)));
        }
        self.occupancy.set(now, self.ctl.view().occupied);
        let sc = self.sc;
        let expiry_at = now + sc.pickup_window;

        // The service issues the customer's code, unique among this location's
        // active codes, and pushes only its keyed hash to the locker.
        let active = &self.active_codes;
        let code = PickupCode::generate(&mut self.access, |c| active.contains(&c.value()));
        self.active_codes.insert(code.value());
        let credential = Input::Credential {
            package: p.id,
            code_hash: self.keys.hash_code(code),
            not_after: expiry_at,
        };
        self.input(now, Source::Service, credential)?;
        let pkg = &mut self.pkgs[slot as usize];
        pkg.deposit_at = now;
        pkg.expiry_at = expiry_at;
        pkg.code = code;
        if p.counted {
            self.metrics.deposited += 1;
        }
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

    fn on_pickup(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        if p.uses_qr {
            let compartment = self.ctl.locker().compartment_of(p.id).ok_or_else(|| {
                self.invariant(now, format!("package {} has no compartment", p.id))
            })?;
            let claims = qr::claims(
                &mut self.access,
                &self.loc.id,
                compartment,
                p.id,
                p.expiry_at,
            );
            let token = qr::sign(&self.keys, &claims);
            self.input(now, Source::Kiosk, Input::QrScan { token })?;
        } else {
            if p.mistype {
                self.pkgs[slot as usize].mistype = false;
                let wrong = typo(p.code, p.typo_pos, p.typo_delta);
                // A typo that happens to be another customer's live code would
                // open their door; at most (active codes / 10⁶) of typos, so
                // the model leaves it out rather than invent what follows.
                if !self.active_codes.contains(&wrong.value()) {
                    self.input(now, Source::Kiosk, Input::Keypad { code: wrong })?;
                    self.count_keypad_answer(p.counted);
                }
            }
            self.input(now, Source::Kiosk, Input::Keypad { code: p.code })?;
        }
        let Some(c) = self.opened() else {
            return match self.screen() {
                Some(Screen::KeypadLocked { until }) => {
                    // Turned away; the customer comes back when the keypad unlocks.
                    if p.counted {
                        self.metrics.access_denials += 1;
                    }
                    let back = self.loc.hours.next_open(until);
                    if back < p.expiry_at {
                        self.schedule(back, Ev::Pickup(slot));
                    } else {
                        self.schedule(p.expiry_at, Ev::Expiry(slot));
                    }
                    Ok(())
                }
                other => Err(self.invariant(
                    now,
                    format!("pickup of package {} refused: {other:?}", p.id),
                )),
            };
        };
        self.input(
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: false,
            },
        )?;
        if !self.published(|k| matches!(k, EventKind::PickedUp { .. })) {
            return Err(self.invariant(now, format!("pickup of package {} not confirmed", p.id)));
        }
        self.active_codes.remove(&p.code.value());
        self.occupancy.set(now, self.ctl.view().occupied);
        if p.counted {
            self.metrics.record_dwell(now - p.deposit_at);
            self.metrics.record_vacated(now - p.deposit_at);
        }
        self.finish_package(slot, Outcome::PickedUp);
        Ok(())
    }

    fn count_keypad_answer(&mut self, counted: bool) {
        if !counted {
            return;
        }
        for o in &self.out {
            match o {
                Output::Audit {
                    event: AuditEvent::CodeRejected,
                } => self.metrics.wrong_code_attempts += 1,
                Output::Alert {
                    alert: Alert::KeypadLockout { .. },
                } => self.metrics.lockouts += 1,
                _ => {}
            }
        }
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
