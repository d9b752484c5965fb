//! One region's world for one replication: a group of lockers that interact
//! through discovery and fallback (a lone locker is a region of one).
//!
//! The world plays everyone around the lockers — customers, drivers,
//! operations, the hardware (doors that jam, sensors, screens, power, the
//! network) — and the plumbing between them and the two cores: each locker
//! is a `Controller`, the region's capacity service is a `Service`, driven
//! input by input exactly as the live drivers drive them. The world makes
//! no service decision and never changes a compartment itself: commands go
//! from the service to a controller (queued while its link is down),
//! reports from a controller to the service (likewise), with zero latency.

mod checkout;
mod dropoff;
mod outages;
mod pickup;
mod plumbing;
mod returns;
mod staff;

use super::audit_sink::AuditSink;
use super::error::SimError;
use super::{RunOptions, WorldAct, WorldStep};
use crate::access::pass::Role;
use crate::access::{qr, AuditEvent, LockerKeys, PickupCode};
use crate::controller::{
    Alert, Controller, EventKind, FailReason, FaultCause, Input, Output, Screen, Source,
};
use crate::demand::history::HistoryRecord;
use crate::demand::trace::{RecordedDwell, TraceDwell};
use crate::domain::locker::BuildPackageHasher;
use crate::domain::{CompartmentId, CompartmentState, Size, Tier};
use crate::engine::rng::Stream;
use crate::engine::time::{from_hours, hour_of_week, Millis, DAY, HOUR};
use crate::engine::{EventQueue, Purpose, StreamKey};
use crate::metrics::location::TimeWeighted;
use crate::metrics::{FailCause, LocationMetrics, Outcome, RejectedFor, Weekly};
use crate::scenario::{Location, Scenario};
use crate::service::network::Network;
use crate::service::{
    self, LockerIdx, Output as ServiceOutput, ParcelKind, Reply, Report, Service, ServiceConfig,
    What,
};
use rand::Rng;
use rand_distr::{Distribution, Exp1};
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy)]
enum Ev {
    Checkout(u32),
    /// A customer brings a return to site N.
    Return(u32),
    /// A driver comes for package `slot`, if it is still the package of
    /// generation `gen` (the service may have sent it to the doorstep while
    /// the driver waited for the kiosk).
    Driver {
        slot: u32,
        gen: u32,
    },
    DepositDone(u32),
    Pickup(u32),
    PickupDone(u32),
    Retrieval(u32),
    /// The service's next deadline (timeouts, reminders, expiries, staleness).
    ServiceTick,
    Repair {
        site: u32,
        compartment: u32,
    },
    OpsClear {
        site: u32,
        compartment: u32,
    },
    Reconcile(u32),
    OutageStart {
        site: u32,
        kind: Outage,
    },
    OutageEnd {
        site: u32,
        kind: Outage,
    },
    StaleCheck {
        site: u32,
        epoch: u32,
    },
}

/// Things that break for a while and come back, each a Poisson process per
/// locker (start rate per day, sampled duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    Screen,
    Network,
    Power,
}

impl Outage {
    const ALL: [Outage; 3] = [Outage::Screen, Outage::Network, Outage::Power];
}

/// Where a package is in its life cycle, as the people around it know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reserved; a driver is on the way, or not yet in the compartment.
    Reserved,
    /// In a compartment; the customer has no code yet.
    Deposited,
    /// In a compartment; the customer came before the code reached them and
    /// comes back as soon as it does.
    AwaitingCode,
    /// In a compartment; the customer has the code.
    CodeIssued,
    /// Taken out by its customer (its end is being recorded).
    PickedUp,
    /// Finished: its slot may be reused.
    Done,
}

/// A package in flight (accepted, not yet finished), with what its customer
/// will do at the kiosk.
#[derive(Debug, Clone, Copy)]
struct Pkg {
    id: u64,
    /// Site (region-local) whose customer ordered it: its metrics.
    home: u32,
    /// Site where it is reserved or deposited.
    at: u32,
    counted: bool,
    tier: Tier,
    size: Size,
    /// Deposit → when the customer means to come (`NEVER`: they never do).
    dwell: Millis,
    /// Reminder → when the customer comes because of it (`NEVER`: it does
    /// not move them).
    reminder_delay: Millis,
    /// The planned visit is the reminder's doing.
    reminded: bool,
    retrieval_delay: Millis,
    deposit_at: Millis,
    expiry_at: Millis,
    compartment: CompartmentId,
    code: PickupCode,
    stage: Stage,
    /// Types one wrong code first: digit `typo_pos` off by `typo_delta`.
    mistype: bool,
    typo_pos: u8,
    typo_delta: u8,
    uses_qr: bool,
    /// Delivered to another locker after a failed drop-off.
    rerouted: bool,
    /// Waiting for the kiosk (counted once per wait, however many turns it takes).
    waiting: bool,
    checkout_at: Millis,
    occupied_at_deposit: u32,
    /// A drop-off of it failed (a later doorstep is not a lapsed reservation).
    failed: bool,
    /// An order, or a customer's return (dropped off by the customer,
    /// collected by the carrier).
    kind: ParcelKind,
    /// Tells this package from earlier ones in the same slot.
    gen: u32,
    /// Events processed in the region at its checkout and driver's scan.
    checkout_seq: u64,
    scan_seq: u64,
}

impl Pkg {
    /// A package just reserved at site `at` for a customer of site `home`,
    /// whose customer never comes and who types nothing (the caller sets
    /// what its people do).
    #[allow(clippy::too_many_arguments)]
    fn reserved(
        id: u64,
        home: usize,
        at: usize,
        kind: ParcelKind,
        tier: Tier,
        size: Size,
        now: Millis,
        checkout_seq: u64,
    ) -> Pkg {
        Pkg {
            id,
            home: home as u32,
            at: at as u32,
            counted: false,
            tier,
            size,
            dwell: NEVER,
            reminder_delay: NEVER,
            reminded: false,
            retrieval_delay: 0,
            deposit_at: 0,
            expiry_at: 0,
            compartment: 0,
            code: PickupCode::new(0).expect("0 is a code"),
            stage: Stage::Reserved,
            mistype: false,
            typo_pos: 0,
            typo_delta: 0,
            uses_qr: false,
            rerouted: false,
            waiting: false,
            checkout_at: now,
            occupied_at_deposit: 0,
            failed: false,
            kind,
            gen: 0,
            checkout_seq,
            scan_seq: 0,
        }
    }
}

struct Site<'a> {
    loc: &'a Location,
    ctl: Controller,
    /// Local inputs numbered per source (service commands carry the
    /// service's numbers).
    seq: [u64; 4],
    /// Reports numbered like an outbox.
    reports: u64,
    /// Its ledger changed since its last report (see `report`).
    ledger_dirty: bool,
    /// The locker's keys, for the QR tokens the customer's app shows and
    /// the staff passes drivers and operators sign in with.
    keys: LockerKeys,
    /// Today's driver and operator passes (by `Role`), with their day.
    passes: [Option<(Millis, std::sync::Arc<str>)>; 2],
    /// Orders per hour for each hour of the week.
    rates: [f64; 168],
    arrivals: Stream,
    order_mix: Stream,
    lead: Stream,
    dwell: Stream,
    retrieval: Stream,
    access: Stream,
    customer: Stream,
    behaviour: Stream,
    returns: Stream,
    faults: Stream,
    next_order: u64,
    next_return: u64,
    /// Next order of this location's replayed demand (with a trace).
    trace_pos: usize,
    metrics: LocationMetrics,
    occupancy: TimeWeighted,
    maintenance: TimeWeighted,
    stale_time: TimeWeighted,
    net_up: bool,
    power_on: bool,
    screen_ok: bool,
    /// When each outage ends (for people who wait it out).
    power_back_at: Millis,
    screen_back_at: Millis,
    /// Offline for longer than `stale_after` (the controller degrades).
    stale: bool,
    stale_epoch: u32,
    /// Service → locker commands waiting for the link, in order.
    to_locker: VecDeque<(u64, Input)>,
    /// Locker → service reports waiting for the link, in order.
    to_service: VecDeque<service::Input>,
    /// Items in compartments the software does not know about.
    phantom: Vec<bool>,
    /// The kiosk is in someone's hands until then (while `in_session`).
    busy_until: Millis,
    in_session: bool,
    audit: Option<AuditSink>,
}

impl Site<'_> {
    fn link_up(&self) -> bool {
        self.net_up && self.power_on
    }
}

/// What a region's run produced.
#[derive(Debug)]
pub struct RegionOutput {
    /// Metrics per scenario location index.
    pub metrics: Vec<(usize, LocationMetrics)>,
    pub events: u64,
    /// Every order's record, in the order orders finished (when recorded).
    pub history: Vec<HistoryRecord>,
    /// Hourly capacity held by tier (when recorded).
    pub occupancy: Vec<super::OccupancySample>,
    /// The world's steps in the order taken (when recorded).
    pub world: Vec<WorldStep>,
    /// The region's counted orders by checkout week.
    pub weekly: Weekly,
}

pub struct RegionSim<'a> {
    sc: &'a Scenario,
    /// Scenario index of each site.
    index: Vec<usize>,
    sites: Vec<Site<'a>>,
    queue: EventQueue<Ev>,
    pkgs: Vec<Pkg>,
    free_slots: Vec<u32>,
    out: Vec<Output>,
    check_invariants: bool,
    /// Every order's record, when asked for (`lockerlab history`).
    history: Option<Vec<HistoryRecord>>,
    /// The world's steps, when asked for (`lockerlab demo`).
    world: Option<Vec<WorldStep>>,
    /// The region's capacity service, and reports on their way to it.
    service: Service,
    mail: VecDeque<service::Input>,
    /// Sites whose ledger changed since they last reported, in that order.
    dirty: Vec<u32>,
    service_out: Vec<ServiceOutput>,
    /// The service's answer to the checkout being handled.
    decision: Option<Reply>,
    /// Package slot by order id.
    by_order: HashMap<u64, u32, BuildPackageHasher>,
    /// When a `ServiceTick` is due (`Millis::MAX`: none).
    wake: Millis,
    /// Hourly samples (with `record_occupancy`) and the next hour to take.
    occupancy: Option<Vec<super::OccupancySample>>,
    next_sample: Millis,
    /// Events processed so far (history records note where orders fell).
    processed: u64,
    /// Packages allocated so far (their generations).
    allocated: u32,
    weekly: Weekly,
}

/// A dwell so long the package is never picked up (it expires).
const NEVER: Millis = Millis::MAX / 4;

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

fn exp_days<R: Rng>(rng: &mut R, per_day: f64) -> Millis {
    let e: f64 = Exp1.sample(rng);
    (e / per_day * DAY as f64) as Millis
}

impl<'a> RegionSim<'a> {
    pub fn new(
        sc: &'a Scenario,
        net: &'a Network,
        region: &[usize],
        replication: u64,
        opts: &RunOptions,
    ) -> Result<Self, SimError> {
        let mut sites = Vec::with_capacity(region.len());
        let mut code_streams = Vec::with_capacity(region.len());
        for &i in region {
            let loc = &sc.locations[i];
            let stream = |purpose| {
                StreamKey {
                    seed: opts.seed,
                    replication,
                    location: i as u64,
                    purpose,
                }
                .stream()
            };
            let (keys, access) = super::locker_secrets(opts.seed, replication, i);
            // The service draws codes from where the stream now stands; the
            // customers' apps draw QR nonces from their own copy.
            code_streams.push((keys.clone(), access.clone()));
            let profile = &sc.profiles[loc.kind.index()];
            let ctl = Controller::new(
                loc.id.clone(),
                keys.clone(),
                loc.compartments,
                sc.access.controller,
            );
            let n = ctl.locker().compartment_count();
            let audit = match &opts.audit_dir {
                Some(dir) => Some(AuditSink::create(dir, &loc.id, replication)?),
                None => None,
            };
            sites.push(Site {
                loc,
                ctl,
                seq: [0; 4],
                reports: 0,
                ledger_dirty: false,
                keys,
                passes: [None, None],
                rates: std::array::from_fn(|h| profile[h] * loc.orders_per_day),
                arrivals: stream(Purpose::Arrivals),
                order_mix: stream(Purpose::OrderMix),
                lead: stream(Purpose::LeadTime),
                dwell: stream(Purpose::Dwell),
                retrieval: stream(Purpose::Retrieval),
                access,
                customer: stream(Purpose::Customer),
                behaviour: stream(Purpose::Behaviour),
                returns: stream(Purpose::Returns),
                faults: stream(Purpose::Faults),
                next_order: 0,
                next_return: 0,
                trace_pos: 0,
                metrics: LocationMetrics::default(),
                occupancy: TimeWeighted::new(sc.warmup, sc.horizon),
                maintenance: TimeWeighted::new(sc.warmup, sc.horizon),
                stale_time: TimeWeighted::new(sc.warmup, sc.horizon),
                net_up: true,
                power_on: true,
                screen_ok: true,
                power_back_at: 0,
                screen_back_at: 0,
                stale: false,
                stale_epoch: 0,
                to_locker: VecDeque::new(),
                to_service: VecDeque::new(),
                phantom: vec![false; n],
                busy_until: 0,
                in_session: false,
                audit,
            });
        }
        let mut streams = code_streams.into_iter();
        let cfg = ServiceConfig::for_region(sc, net, region, |_| {
            streams.next().expect("one key and code stream per site")
        });
        let service = Service::new(cfg).map_err(|message| SimError::Invariant {
            location: sc.locations[region[0]].id.clone(),
            time: 0,
            message,
        })?;
        Ok(Self {
            sc,
            index: region.to_vec(),
            sites,
            queue: EventQueue::new(),
            pkgs: Vec::new(),
            free_slots: Vec::new(),
            out: Vec::with_capacity(16),
            check_invariants: opts.check_invariants,
            history: opts.record_history.then(Vec::new),
            world: opts.record_world.then(Vec::new),
            service,
            mail: VecDeque::new(),
            dirty: Vec::new(),
            service_out: Vec::new(),
            decision: None,
            by_order: HashMap::default(),
            wake: Millis::MAX,
            occupancy: opts.record_occupancy.then(Vec::new),
            next_sample: 0,
            processed: 0,
            allocated: 0,
            weekly: Weekly::default(),
        })
    }

    /// Runs until every package has finished: checkouts stop at the horizon,
    /// and what is in flight then plays out.
    pub fn run(&mut self) -> Result<(), SimError> {
        // Every locker introduces itself with its ledger, as on a connect.
        for s in 0..self.sites.len() {
            self.report(s, What::Ledger);
        }
        self.pump(0)?;
        let f = &self.sc.faults;
        for s in 0..self.sites.len() {
            if let Some(t) = self.next_arrival(s, 0) {
                self.schedule_checkout(s, t);
            }
            if let Some(t) = self.next_return(s, 0) {
                self.schedule(t, Ev::Return(s as u32));
            }
            let site = s as u32;
            // Fault processes draw only when switched on, so a scenario with
            // every rate at 0 runs exactly as one without faults.
            for kind in Outage::ALL {
                let rate = self.outage_rate(kind);
                if rate > 0.0 {
                    let t = exp_days(&mut self.sites[s].faults, rate);
                    self.schedule_if_before_horizon(t, Ev::OutageStart { site, kind });
                }
            }
            if f.sensor_faults() {
                self.schedule(f.reconciliation_interval, Ev::Reconcile(site));
            }
        }
        while let Some((now, ev)) = self.queue.pop() {
            self.processed += 1;
            self.sample_until(now);
            self.handle(now, ev)?;
            self.pump(now)?;
            self.rewake(now);
            if self.check_invariants {
                for s in 0..self.sites.len() {
                    self.sites[s]
                        .ctl
                        .locker()
                        .check_invariants()
                        .map_err(|m| self.invariant(s, now, m))?;
                }
            }
        }
        for s in 0..self.sites.len() {
            let held = self.sites[s].ctl.locker().holdings_len();
            if held != 0 {
                return Err(self.invariant(
                    s,
                    self.queue.now(),
                    format!("{held} packages still held after the run"),
                ));
            }
        }
        if self.pkgs.len() != self.free_slots.len() {
            return Err(self.invariant(0, self.queue.now(), "packages left in flight".into()));
        }
        Ok(())
    }

    /// Metrics per scenario location index, and the number of events.
    /// Records the state at every hour mark up to `now`: nothing changes
    /// between events, so the state before this event is the state then.
    /// Draws nothing and schedules nothing, so results are unchanged.
    fn sample_until(&mut self, now: Millis) {
        let Some(log) = self.occupancy.as_mut() else {
            return;
        };
        while self.next_sample <= now && self.next_sample < self.sc.horizon {
            for (site, &location) in self.sites.iter().zip(&self.index) {
                let v = site.ctl.view();
                log.push(super::OccupancySample {
                    location,
                    hour: (self.next_sample / HOUR) as u32,
                    held_by_tier: v.held_by_tier,
                    compartments: v.capacity.iter().sum(),
                });
            }
            self.next_sample += HOUR;
        }
    }

    pub fn finish(self) -> Result<RegionOutput, SimError> {
        let window = (self.sc.horizon - self.sc.warmup) as u128;
        let mut out = Vec::with_capacity(self.sites.len());
        for (site, &i) in self.sites.into_iter().zip(&self.index) {
            if let Some(audit) = site.audit {
                audit.close()?;
            }
            let mut m = site.metrics;
            m.occupied_area = site.occupancy.finish();
            m.maintenance_area = site.maintenance.finish();
            m.stale_ms = site.stale_time.finish();
            m.capacity_area = site.ctl.locker().compartment_count() as u128 * window;
            m.window_ms = window;
            out.push((i, m));
        }
        Ok(RegionOutput {
            metrics: out,
            events: self.queue.processed(),
            history: self.history.unwrap_or_default(),
            occupancy: self.occupancy.unwrap_or_default(),
            world: self.world.unwrap_or_default(),
            weekly: self.weekly,
        })
    }

    /// Notes a step of the world at site `s`, when the run keeps them.
    fn log(&mut self, s: usize, at: Millis, act: impl FnOnce() -> Option<WorldAct>) {
        if let Some(world) = &mut self.world {
            if let Some(act) = act() {
                world.push(WorldStep {
                    at,
                    location: self.index[s],
                    act,
                });
            }
        }
    }

    fn invariant(&self, site: usize, time: Millis, message: String) -> SimError {
        SimError::Invariant {
            location: self.sites[site].loc.id.clone(),
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

    fn schedule_if_before_horizon(&mut self, at: Millis, ev: Ev) {
        if at < self.sc.horizon {
            self.schedule(at, ev);
        }
    }

    /// Orders arrive one after another. A lone locker's next checkout rides
    /// the queue's lane (a heap push and pop saved); several lockers share
    /// the heap. Either way the event order is the same.
    fn schedule_checkout(&mut self, site: usize, at: Millis) {
        if self.sites.len() == 1 {
            self.queue
                .schedule_lane(at, Ev::Checkout(0))
                .expect("one checkout pending at a time, never in the past");
        } else {
            self.schedule(at, Ev::Checkout(site as u32));
        }
    }

    fn handle(&mut self, now: Millis, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::Checkout(s) => self.on_checkout(s as usize, now),
            Ev::Return(s) => self.on_return(s as usize, now),
            Ev::Driver { slot, gen } => {
                let p = &self.pkgs[slot as usize];
                if p.gen == gen && p.stage != Stage::Done {
                    self.on_driver(now, slot)?;
                }
                Ok(())
            }
            Ev::DepositDone(slot) => self.on_deposit_done(now, slot),
            Ev::Pickup(slot) => self.on_pickup(now, slot),
            Ev::PickupDone(slot) => self.on_pickup_done(now, slot),
            Ev::Retrieval(slot) => self.on_retrieval(now, slot),
            // A tick superseded by an earlier one (which rescheduled) is void.
            Ev::ServiceTick if now != self.wake => Ok(()),
            Ev::ServiceTick => {
                self.wake = Millis::MAX;
                let mut outputs = std::mem::take(&mut self.service_out);
                self.service.tick(now, &mut outputs);
                for o in outputs.drain(..) {
                    self.dispatch(now, o)?;
                }
                self.service_out = outputs;
                Ok(())
            }
            Ev::Repair { site, compartment } | Ev::OpsClear { site, compartment } => {
                let s = site as usize;
                if !self.sites[s].power_on {
                    let back = self.sites[s].power_back_at.max(now);
                    self.schedule(back, ev);
                    return Ok(());
                }
                if matches!(ev, Ev::OpsClear { .. }) {
                    // What was left inside is taken out.
                    self.sites[s].phantom[compartment as usize] = false;
                }
                self.sign_in(s, now, Role::Operator)?;
                self.input(s, now, Source::Kiosk, Input::Repair { compartment })?;
                Ok(())
            }
            Ev::Reconcile(site) => self.on_reconcile(now, site as usize),
            Ev::OutageStart { site, kind } => {
                let s = site as usize;
                let f = &self.sc.faults;
                let dist = match kind {
                    Outage::Screen => &f.screen_repair_time,
                    Outage::Network => &f.network_outage_duration,
                    Outage::Power => &f.power_outage_duration,
                };
                let end = now + dist.sample(&mut self.sites[s].faults);
                self.set_outage(s, now, kind, Some(end))?;
                self.schedule(end, Ev::OutageEnd { site, kind });
                Ok(())
            }
            Ev::OutageEnd { site, kind } => {
                let s = site as usize;
                self.set_outage(s, now, kind, None)?;
                let rate = self.outage_rate(kind);
                let next = now + exp_days(&mut self.sites[s].faults, rate);
                self.schedule_if_before_horizon(next, Ev::OutageStart { site, kind });
                Ok(())
            }
            Ev::StaleCheck { site, epoch } => {
                let s = site as usize;
                let st = &mut self.sites[s];
                if st.stale_epoch == epoch && !st.link_up() && !st.stale {
                    st.stale = true;
                    st.stale_time.set(now, 1);
                    if st.power_on {
                        // The controller's own clock says the same: degraded mode.
                        self.input(s, now, Source::Runtime, Input::Tick)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn alloc(&mut self, mut p: Pkg) -> u32 {
        self.allocated = self.allocated.wrapping_add(1);
        p.gen = self.allocated;
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

    fn finish_package(&mut self, now: Millis, slot: u32, outcome: Outcome) {
        let p = self.pkgs[slot as usize];
        if p.stage == Stage::Done {
            return;
        }
        self.pkgs[slot as usize].stage = Stage::Done;
        let picked = p.stage == Stage::PickedUp;
        self.by_order.remove(&p.id);
        if p.counted {
            self.sites[p.home as usize].metrics.record_outcome(outcome);
            self.weekly.record(p.checkout_at, outcome);
        }
        if self.history.is_some() && p.kind == ParcelKind::Delivery {
            let deposited = p.expiry_at > 0; // set at deposit
            let at = &self.sites[p.at as usize];
            let record = HistoryRecord {
                order_id: p.id,
                location_id: self.sites[p.home as usize].loc.id.clone(),
                location_kind: self.sites[p.home as usize].loc.kind,
                tier: p.tier,
                size: p.size,
                checkout_ms: p.checkout_at,
                outcome,
                deposit_location_id: deposited.then(|| at.loc.id.clone()),
                deposit_ms: deposited.then_some(p.deposit_at),
                pickup_ms: (deposited && picked).then_some(now),
                retrieval_ms: (deposited && !picked).then_some(now),
                occupied_at_deposit: deposited.then_some(p.occupied_at_deposit),
                compartments: deposited.then(|| at.ctl.locker().compartment_count() as u32),
                warmup: !p.counted,
                compartment: deposited.then_some(p.compartment),
                checkout_seq: p.checkout_seq,
                scan_seq: deposited.then_some(p.scan_seq),
                end_seq: deposited.then_some(self.processed),
            };
            if let Some(h) = &mut self.history {
                h.push(record);
            }
        }
        self.free_slots.push(slot);
    }

    /// A rejected order's record (it never gets a package slot).
    fn record_rejection(&mut self, s: usize, id: u64, now: Millis, tier: Tier, size: Size) {
        if now >= self.sc.warmup {
            self.weekly.record(now, Outcome::RejectedAtCheckout);
        }
        if let Some(h) = &mut self.history {
            let loc = self.sites[s].loc;
            h.push(HistoryRecord {
                order_id: id,
                location_id: loc.id.clone(),
                location_kind: loc.kind,
                tier,
                size,
                checkout_ms: now,
                outcome: Outcome::RejectedAtCheckout,
                deposit_location_id: None,
                deposit_ms: None,
                pickup_ms: None,
                retrieval_ms: None,
                occupied_at_deposit: None,
                compartments: None,
                warmup: now < self.sc.warmup,
                compartment: None,
                checkout_seq: self.processed,
                scan_seq: None,
                end_seq: None,
            });
        }
    }
}
