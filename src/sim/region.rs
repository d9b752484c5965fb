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

use super::audit_sink::AuditSink;
use super::error::SimError;
use super::RunOptions;
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
use crate::metrics::{FailCause, LocationMetrics, Outcome};
use crate::scenario::{Location, Scenario};
use crate::service::network::Network;
use crate::service::{
    self, LockerIdx, Output as ServiceOutput, Reply, Report, Service, ServiceConfig, What,
};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Exp1};
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy)]
enum Ev {
    Checkout(u32),
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
    dwell: Millis,
    retrieval_delay: Millis,
    deposit_at: Millis,
    expiry_at: Millis,
    compartment: CompartmentId,
    code: PickupCode,
    code_issued: bool,
    /// The customer came for it before the code reached them.
    awaiting_code: bool,
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
    /// Ended by a pickup (rather than a retrieval), for the history record.
    picked: bool,
    /// Finished (its slot may be reused).
    done: bool,
    /// A drop-off of it failed (a later doorstep is not a lapsed reservation).
    failed: bool,
    /// Tells this package from earlier ones in the same slot.
    gen: u32,
    /// Events processed in the region at its checkout and driver's scan.
    checkout_seq: u64,
    scan_seq: u64,
}

struct Site<'a> {
    loc: &'a Location,
    ctl: Controller,
    /// Local inputs numbered per source (service commands carry the
    /// service's numbers).
    seq: [u64; 4],
    /// Reports numbered like an outbox.
    reports: u64,
    /// The locker's keys, for the QR tokens the customer's app shows.
    keys: LockerKeys,
    /// Orders per hour for each hour of the week.
    rates: [f64; 168],
    arrivals: Stream,
    order_mix: Stream,
    lead: Stream,
    dwell: Stream,
    retrieval: Stream,
    access: Stream,
    customer: Stream,
    faults: Stream,
    next_order: u64,
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
    /// The region's capacity service, and reports on their way to it.
    service: Service,
    mail: VecDeque<service::Input>,
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
            let mut access = stream(Purpose::Access);
            let mut master = [0u8; 32];
            access.fill_bytes(&mut master);
            let keys = LockerKeys::from_master(&master);
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
                keys,
                rates: std::array::from_fn(|h| profile[h] * loc.orders_per_day),
                arrivals: stream(Purpose::Arrivals),
                order_mix: stream(Purpose::OrderMix),
                lead: stream(Purpose::LeadTime),
                dwell: stream(Purpose::Dwell),
                retrieval: stream(Purpose::Retrieval),
                access,
                customer: stream(Purpose::Customer),
                faults: stream(Purpose::Faults),
                next_order: 0,
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
            service,
            mail: VecDeque::new(),
            service_out: Vec::new(),
            decision: None,
            by_order: HashMap::default(),
            wake: Millis::MAX,
            occupancy: opts.record_occupancy.then(Vec::new),
            next_sample: 0,
            processed: 0,
            allocated: 0,
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
        })
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

    /// Next checkout after `from` under the hour-of-week rate profile: one
    /// unit-exponential draw, spent against the piecewise-constant intensity.
    fn next_arrival(&mut self, s: usize, from: Millis) -> Option<Millis> {
        let horizon = self.sc.horizon;
        if let Some(trace) = &self.sc.trace {
            let next = trace.per_location[self.index[s]].get(self.sites[s].trace_pos);
            return next.map(|o| o.checkout.max(from)).filter(|&t| t < horizon);
        }
        let site = &mut self.sites[s];
        if site.rates.iter().all(|&r| r <= 0.0) {
            return None;
        }
        let mut budget: f64 = Exp1.sample(&mut site.arrivals);
        let mut t = from;
        while t < horizon {
            let rate = site.rates[hour_of_week(t)];
            let hour_end = t - t.rem_euclid(HOUR) + HOUR;
            let mass = rate * (hour_end - t) as f64 / HOUR as f64;
            if budget < mass {
                let at = t + (budget / rate * HOUR as f64) as Millis;
                return (at < horizon).then_some(at);
            }
            budget -= mass;
            t = hour_end;
        }
        None
    }

    /// Feeds one input to a site's controller; its outputs land in
    /// `self.out` until the next input (read them with the helpers below).
    fn input(
        &mut self,
        s: usize,
        now: Millis,
        source: Source,
        input: Input,
    ) -> Result<(), SimError> {
        let site = &mut self.sites[s];
        let seq = &mut site.seq[source.index()];
        *seq += 1;
        let seq = *seq;
        self.apply(s, now, source, seq, input)
    }

    /// Feeds one numbered input to a site's controller and reports what it
    /// published (or, for a service command it refused, the refusal).
    fn apply(
        &mut self,
        s: usize,
        now: Millis,
        source: Source,
        seq: u64,
        input: Input,
    ) -> Result<(), SimError> {
        let site = &mut self.sites[s];
        let before = *site.ctl.view();
        self.out.clear();
        let refused = match site.ctl.handle(now, source, seq, &input, &mut self.out) {
            Ok(_) => None,
            // The service hears why, as over MQTT (a cancel crossing a
            // drop-off, a command for a package already gone).
            Err(e) if source == Source::Service => Some(e.to_string()),
            Err(e) => {
                return Err(SimError::Controller {
                    location: site.loc.id.clone(),
                    time: now,
                    input: format!("{input:?}"),
                    source: e,
                })
            }
        };
        let mut published = false;
        for i in 0..self.out.len() {
            if let Output::Publish { event } = self.out[i] {
                published = true;
                self.report(s, What::Event { event });
            }
        }
        if let Some(reason) = refused {
            let what = What::Error {
                command: Some(seq.to_string()),
                reason,
            };
            self.report(s, what);
        } else if !published && *self.sites[s].ctl.view() != before {
            self.report(s, What::Ledger);
        }
        let site = &mut self.sites[s];
        let view = site.ctl.view();
        site.occupancy.set(now, view.occupied);
        site.maintenance.set(now, view.maintenance);
        if let Some(sink) = &mut site.audit {
            sink.record(now, &self.out)?;
        }
        Ok(())
    }

    /// A report from site `s` to the service: on its way now if the link is
    /// up (it is handled at the next `pump`), else when the link returns.
    fn report(&mut self, s: usize, what: What) {
        let site = &mut self.sites[s];
        site.reports += 1;
        let report = service::Input::Report {
            locker: s as LockerIdx,
            seq: site.reports,
            report: Report {
                applied: site.ctl.last_seq(Source::Service),
                view: *site.ctl.view(),
                what,
            },
        };
        if site.link_up() {
            self.mail.push_back(report);
        } else {
            site.to_service.push_back(report);
        }
    }

    /// One input to the service, and everything it causes.
    fn tell_service(&mut self, now: Millis, input: service::Input) -> Result<(), SimError> {
        self.mail.push_back(input);
        self.pump(now)
    }

    /// Delivers messages to the service until none is left, and the
    /// service's outputs to controllers (queued while a link is down) and
    /// to the people they are for.
    fn pump(&mut self, now: Millis) -> Result<(), SimError> {
        // One buffer for the common, unnested case (a reroute pumps again
        // from inside `dispatch` and gets a fresh one).
        let mut outputs = std::mem::take(&mut self.service_out);
        while let Some(input) = self.mail.pop_front() {
            self.service.handle(now, input, &mut outputs);
            for o in outputs.drain(..) {
                self.dispatch(now, o)?;
            }
        }
        self.service_out = outputs;
        Ok(())
    }

    /// Schedules a `ServiceTick` for the service's next deadline, unless
    /// one is due by then.
    fn rewake(&mut self, now: Millis) {
        if let Some(at) = self.service.next_deadline() {
            let at = at.max(now);
            if at < self.wake {
                self.wake = at;
                self.schedule(at, Ev::ServiceTick);
            }
        }
    }

    fn dispatch(&mut self, now: Millis, output: ServiceOutput) -> Result<(), SimError> {
        match output {
            ServiceOutput::Command { locker, seq, input } => {
                let s = locker as usize;
                if self.sites[s].link_up() {
                    self.apply(s, now, Source::Service, seq, input)?;
                } else {
                    self.sites[s].to_locker.push_back((seq, input));
                }
            }
            ServiceOutput::Sync { locker } => self.report(locker as usize, What::Ledger),
            ServiceOutput::Retrieve { order, .. } => {
                if let Some(&slot) = self.by_order.get(&order) {
                    let p = self.pkgs[slot as usize];
                    if p.counted && !p.rerouted {
                        self.sites[p.home as usize].metrics.expired += 1;
                    }
                    self.schedule(now + p.retrieval_delay, Ev::Retrieval(slot));
                }
            }
            ServiceOutput::Reply { reply, .. } => self.hear(now, reply)?,
        }
        Ok(())
    }

    /// A customer, a driver or the checkout hears from the service.
    fn hear(&mut self, now: Millis, reply: Reply) -> Result<(), SimError> {
        if matches!(reply, Reply::Accepted { .. } | Reply::Rejected { .. }) {
            self.decision = Some(reply);
            return Ok(());
        }
        let Some(&slot) = self.by_order.get(&reply.order()) else {
            return Ok(()); // already finished here (a pickup, a retrieval)
        };
        match reply {
            Reply::Rerouted { locker, .. } => {
                // The driver takes the package there now.
                let pkg = &mut self.pkgs[slot as usize];
                pkg.at = locker;
                pkg.rerouted = true;
                self.on_driver(now, slot)
            }
            Reply::Code {
                code, expires_at, ..
            } => {
                let pkg = &mut self.pkgs[slot as usize];
                pkg.code = code;
                pkg.code_issued = true;
                pkg.expiry_at = expires_at;
                if pkg.awaiting_code {
                    pkg.awaiting_code = false;
                    // The customer comes as soon as they hear, if the locker is open.
                    self.come_back_counted(now, slot, now, false)?;
                }
                Ok(())
            }
            Reply::Reminder { .. } => {
                let p = self.pkgs[slot as usize];
                if p.counted && !p.rerouted {
                    self.sites[p.home as usize].metrics.reminders_sent += 1;
                }
                Ok(())
            }
            Reply::Outcome {
                outcome: Outcome::ReroutedDoorstep,
                ..
            } => {
                // Not after a failed drop-off: the reservation lapsed.
                let p = self.pkgs[slot as usize];
                if p.counted && !p.failed {
                    self.sites[p.home as usize].metrics.reservation_timeouts += 1;
                }
                self.finish_package(now, slot, Outcome::ReroutedDoorstep);
                Ok(())
            }
            // Pickups and retrievals end where they happen, in the world.
            _ => Ok(()),
        }
    }

    /// A door closes at the end of a session; the controller must confirm
    /// the step with the expected event, or the run is broken.
    #[allow(clippy::too_many_arguments)]
    fn close_door(
        &mut self,
        s: usize,
        now: Millis,
        compartment: CompartmentId,
        occupied: bool,
        package: u64,
        step: &str,
        confirms: impl Fn(&EventKind) -> bool,
    ) -> Result<(), SimError> {
        self.input(
            s,
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment,
                occupied,
            },
        )?;
        if self.published(confirms) {
            Ok(())
        } else {
            Err(self.invariant(s, now, format!("{step} of package {package} not confirmed")))
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

    fn failed(&self) -> Option<FailReason> {
        self.out.iter().find_map(|o| match o {
            Output::Publish {
                event:
                    crate::controller::Event {
                        kind: EventKind::DeliveryFailed { reason, .. },
                        ..
                    },
            } => Some(*reason),
            _ => None,
        })
    }

    fn faulted(&self) -> Vec<CompartmentId> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Publish {
                    event:
                        crate::controller::Event {
                            kind: EventKind::CompartmentFault { compartment, .. },
                            ..
                        },
                } => Some(*compartment),
                _ => None,
            })
            .collect()
    }

    fn handle(&mut self, now: Millis, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::Checkout(s) => self.on_checkout(s as usize, now),
            Ev::Driver { slot, gen } => {
                let p = &self.pkgs[slot as usize];
                if p.gen == gen && !p.done {
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
            Ev::Repair { site, compartment } => {
                let s = site as usize;
                if !self.sites[s].power_on {
                    let back = self.sites[s].power_back_at.max(now);
                    self.schedule(back, ev);
                    return Ok(());
                }
                self.input(s, now, Source::Kiosk, Input::Repair { compartment })?;
                Ok(())
            }
            Ev::OpsClear { site, compartment } => {
                let s = site as usize;
                if !self.sites[s].power_on {
                    let back = self.sites[s].power_back_at.max(now);
                    self.schedule(back, ev);
                    return Ok(());
                }
                self.sites[s].phantom[compartment as usize] = false;
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

    fn outage_rate(&self, kind: Outage) -> f64 {
        let f = &self.sc.faults;
        match kind {
            Outage::Screen => f.screen_failures_per_day,
            Outage::Network => f.network_outages_per_day,
            Outage::Power => f.power_outages_per_day,
        }
    }

    /// An outage starts (`until` = when it will end) or ends (None).
    fn set_outage(
        &mut self,
        s: usize,
        now: Millis,
        kind: Outage,
        until: Option<Millis>,
    ) -> Result<(), SimError> {
        let up = until.is_none();
        match kind {
            Outage::Screen => {
                let st = &mut self.sites[s];
                st.screen_ok = up;
                if let Some(end) = until {
                    st.screen_back_at = end;
                }
                if st.power_on {
                    self.input(s, now, Source::Runtime, Input::ScreenStatus { working: up })?;
                }
                Ok(())
            }
            Outage::Network => self.set_link(s, now, up, self.sites[s].power_on),
            Outage::Power => {
                if let Some(end) = until {
                    self.sites[s].power_back_at = end;
                }
                self.set_link(s, now, self.sites[s].net_up, up)
            }
        }
    }

    /// Network or power changed; handles the link going down or coming back.
    fn set_link(
        &mut self,
        s: usize,
        now: Millis,
        net_up: bool,
        power_on: bool,
    ) -> Result<(), SimError> {
        // What is on the wire arrives before the link changes (zero latency).
        self.pump(now)?;
        let was_up = self.sites[s].link_up();
        let was_powered = self.sites[s].power_on;
        {
            let st = &mut self.sites[s];
            st.net_up = net_up;
            st.power_on = power_on;
        }
        if power_on && !was_powered {
            // The controller boots with its stored state and reports what it
            // finds: screen and link (which may have changed while it was dark).
            let working = self.sites[s].screen_ok;
            self.input(s, now, Source::Runtime, Input::ScreenStatus { working })?;
            if !net_up {
                self.input(s, now, Source::Runtime, Input::Link { up: false })?;
            }
        }
        let is_up = self.sites[s].link_up();
        if was_up && !is_up {
            // The broker publishes the locker's will: the service knows at once.
            let lost = service::Input::Link {
                locker: s as LockerIdx,
                up: false,
            };
            self.tell_service(now, lost)?;
            if power_on {
                self.input(s, now, Source::Runtime, Input::Link { up: false })?;
            }
            let st = &mut self.sites[s];
            st.stale_epoch += 1;
            let check = Ev::StaleCheck {
                site: s as u32,
                epoch: st.stale_epoch,
            };
            self.schedule(now + self.sc.faults.stale_after, check);
        } else if !was_up && is_up {
            // What the locker said while away goes out first, in order,
            // before anything it says now; then the commands it missed.
            let backlog = std::mem::take(&mut self.sites[s].to_service);
            self.mail.extend(backlog);
            self.input(s, now, Source::Runtime, Input::Link { up: true })?;
            let st = &mut self.sites[s];
            if st.stale {
                st.stale = false;
                st.stale_time.set(now, 0);
            }
            while let Some((seq, cmd)) = self.sites[s].to_locker.pop_front() {
                self.apply(s, now, Source::Service, seq, cmd)?;
            }
            let back = service::Input::Link {
                locker: s as LockerIdx,
                up: true,
            };
            self.tell_service(now, back)?;
        }
        Ok(())
    }

    fn on_checkout(&mut self, s: usize, now: Millis) -> Result<(), SimError> {
        let sc = self.sc;
        let site = &mut self.sites[s];
        let id = (self.index[s] as u64) << 40 | site.next_order;
        site.next_order += 1;
        // Every order draws all its attributes, accepted or not, so each
        // stream stays aligned across policies (common random numbers).
        let tier = Tier::ALL[pick(&sc.tier_cdf, site.order_mix.gen())];
        let size = Size::ALL[pick(&sc.size_cdf, site.order_mix.gen())];
        let lead = sc.tiers[tier.index()].lead_time.sample(&mut site.lead);
        let dwell = sc.dwell[site.loc.kind.index()][tier.index()].sample(&mut site.dwell);
        let retrieval_delay = sc.retrieval_delay.sample(&mut site.retrieval);
        // The customer stream serves only checkouts, in order, so drawing the
        // typo only for customers who make one keeps it aligned.
        let mistype = site.customer.gen::<f64>() < sc.access.mistype_share;
        let (typo_pos, typo_delta) = if mistype {
            (
                site.customer.gen_range(0..6),
                site.customer.gen_range(1..10),
            )
        } else {
            (0, 0)
        };
        let uses_qr = sc.access.qr_share > 0.0 && site.customer.gen::<f64>() < sc.access.qr_share;
        // Replayed demand: the record's tier, size and (trace-driven) dwell
        // replace the draws, which are still made so every stream stays where
        // the generating run had it.
        let (tier, size, dwell) = match &sc.trace {
            None => (tier, size, dwell),
            Some(trace) => {
                let o = trace.per_location[self.index[s]][site.trace_pos];
                site.trace_pos += 1;
                let dwell = match (trace.dwell, o.dwell) {
                    (TraceDwell::Recorded, RecordedDwell::PickedUpAfter(d)) => d,
                    (TraceDwell::Recorded, RecordedDwell::NeverPickedUp) => NEVER,
                    _ => dwell,
                };
                (o.tier, o.size, dwell)
            }
        };
        if let Some(next) = self.next_arrival(s, now) {
            self.schedule_checkout(s, next);
        }

        let counted = now >= sc.warmup;
        if counted {
            self.sites[s].metrics.offered += 1;
        }
        let request = service::ReserveRequest {
            order: id,
            locker: s as LockerIdx,
            tier,
            size,
            lead,
            client: String::new(),
        };
        self.tell_service(now, service::Input::Reserve(request))?;
        let Some(Reply::Accepted {
            locker: at, due_by, ..
        }) = self.decision.take()
        else {
            if counted {
                self.sites[s]
                    .metrics
                    .record_outcome(Outcome::RejectedAtCheckout);
            }
            self.record_rejection(s, id, now, tier, size);
            return Ok(());
        };
        let at = at as usize;
        if counted {
            let m = &mut self.sites[s].metrics;
            m.accepted += 1;
            if at != s {
                m.served_elsewhere += 1;
            }
        }
        let slot = self.alloc(Pkg {
            id,
            home: s as u32,
            at: at as u32,
            counted,
            tier,
            size,
            dwell,
            retrieval_delay,
            deposit_at: 0,
            expiry_at: 0,
            compartment: 0,
            code: PickupCode::new(0).expect("0 is a code"),
            code_issued: false,
            awaiting_code: false,
            mistype,
            typo_pos,
            typo_delta,
            uses_qr,
            rerouted: false,
            waiting: false,
            checkout_at: now,
            occupied_at_deposit: 0,
            picked: false,
            done: false,
            failed: false,
            gen: 0,
            checkout_seq: self.processed,
            scan_seq: 0,
        });
        self.by_order.insert(id, slot);
        let arrival = self.sites[at].loc.hours.next_open(now + lead);
        // A carrier that cannot make the promise sends no driver: the
        // service's clock lapses the reservation.
        if arrival <= due_by {
            let gen = self.pkgs[slot as usize].gen;
            self.schedule(arrival, Ev::Driver { slot, gen });
        }
        Ok(())
    }

    /// Someone arrives at a kiosk another person is using: they wait their
    /// turn. Returns when the kiosk is free, or None if it is free now.
    fn kiosk_wait(&mut self, s: usize, slot: u32) -> Option<Millis> {
        let (until, busy) = (self.sites[s].busy_until, self.sites[s].in_session);
        let p = &mut self.pkgs[slot as usize];
        // A session ending right now still holds the kiosk until its end
        // event is handled: waiting until `now` queues behind it.
        if busy {
            if !p.waiting {
                p.waiting = true;
                self.sites[s].metrics.kiosk_waits += p.counted as u64;
            }
            Some(until)
        } else {
            p.waiting = false;
            None
        }
    }

    fn occupy_kiosk(&mut self, s: usize, now: Millis, duration: Millis) {
        if duration > 0 {
            self.sites[s].busy_until = now + duration;
            self.sites[s].in_session = true;
        }
    }

    fn on_driver(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            self.sites[s].metrics.outage_delays += p.counted as u64;
            return self.failed_drop_off(now, slot, FailCause::Power);
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            let gen = p.gen;
            self.schedule(until, Ev::Driver { slot, gen });
            return Ok(());
        }
        self.input(s, now, Source::Kiosk, Input::DriverScan { package: p.id })?;
        let Some(mut c) = self.opened() else {
            return match self.failed() {
                Some(FailReason::Full) => self.failed_drop_off(now, slot, FailCause::Full),
                // The reservation never reached the offline locker.
                Some(FailReason::NoReservation) => {
                    self.failed_drop_off(now, slot, FailCause::Offline)
                }
                other => Err(self.invariant(
                    s,
                    now,
                    format!("driver scan of package {} opened nothing: {other:?}", p.id),
                )),
            };
        };
        // Doors that jam, and compartments with something inside, are
        // reported; the controller takes them out of service and opens
        // another one.
        let f = &self.sc.faults;
        loop {
            let cause = if f.door_jam_probability > 0.0
                && self.sites[s].faults.gen::<f64>() < f.door_jam_probability
            {
                Some(FaultCause::Jam)
            } else if self.sites[s].phantom[c as usize] {
                Some(FaultCause::Blocked)
            } else {
                None
            };
            let Some(cause) = cause else { break };
            self.input(
                s,
                now,
                Source::Sensors,
                Input::CompartmentUnusable {
                    compartment: c,
                    cause,
                },
            )?;
            let next = self.opened();
            self.after_fault(s, now, c, cause, p.counted);
            match next {
                Some(next) => c = next,
                None => return self.failed_drop_off(now, slot, FailCause::Jam),
            }
        }
        self.pkgs[slot as usize].compartment = c;
        self.pkgs[slot as usize].scan_seq = self.processed;
        let duration = self.sc.kiosk.dropoff;
        self.occupy_kiosk(s, now, duration);
        if duration > 0 {
            self.schedule(now + duration, Ev::DepositDone(slot));
            Ok(())
        } else {
            self.on_deposit_done(now, slot)
        }
    }

    /// Schedules the repair (jam) or clearing (item inside) of a compartment
    /// the controller just took out of service.
    fn after_fault(
        &mut self,
        s: usize,
        now: Millis,
        c: CompartmentId,
        cause: FaultCause,
        counted: bool,
    ) {
        let f = &self.sc.faults;
        let site = &mut self.sites[s];
        let (delay, ev) = match cause {
            FaultCause::Jam => {
                site.metrics.door_jams += counted as u64;
                (
                    f.repair_time.sample(&mut site.faults),
                    Ev::Repair {
                        site: s as u32,
                        compartment: c,
                    },
                )
            }
            FaultCause::Blocked | FaultCause::SensorMismatch => {
                site.metrics.sensor_mismatches += counted as u64;
                (
                    f.ops_clear_time.sample(&mut site.faults),
                    Ev::OpsClear {
                        site: s as u32,
                        compartment: c,
                    },
                )
            }
        };
        self.schedule(now + delay, ev);
    }

    fn on_deposit_done(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            // The door closes on a dark locker: the controller sees it when
            // the power returns (the kiosk stays taken until then).
            let back = self.sites[s].power_back_at.max(now);
            self.sites[s].busy_until = back;
            self.schedule(back, Ev::DepositDone(slot));
            return Ok(());
        }
        self.sites[s].in_session = false;
        let c = p.compartment;
        let f = &self.sc.faults;
        if f.size_mismatch_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.size_mismatch_probability
        {
            // It does not fit after all: the driver closes the empty door.
            self.input(
                s,
                now,
                Source::Sensors,
                Input::DoorClosed {
                    compartment: c,
                    occupied: false,
                },
            )?;
            if self.failed() != Some(FailReason::NotDeposited) {
                return Err(self.invariant(s, now, "aborted deposit not reported".into()));
            }
            return self.failed_drop_off(now, slot, FailCause::SizeMismatch);
        }
        let occupied_before = self.sites[s].ctl.view().occupied;
        self.close_door(s, now, c, true, p.id, "deposit", |k| {
            matches!(k, EventKind::Deposited { .. })
        })?;
        if f.wrong_compartment_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.wrong_compartment_probability
        {
            // A parcel ends up in a compartment the software thinks empty.
            let site = &mut self.sites[s];
            let n = site.phantom.len() as u32;
            let x = site.faults.gen_range(0..n);
            if site.ctl.locker().state(x) == Some(CompartmentState::Available) {
                site.phantom[x as usize] = true;
            }
        }
        let sc = self.sc;
        let expiry_at = now + sc.pickup_window;
        {
            let pkg = &mut self.pkgs[slot as usize];
            pkg.deposit_at = now;
            pkg.expiry_at = expiry_at;
            pkg.occupied_at_deposit = occupied_before;
        }
        if p.counted && !p.rerouted {
            self.sites[p.home as usize].metrics.deposited += 1;
        }
        // The service hears of the deposit (now, or when the link is back),
        // issues the code and keeps the expiry clock; the customer comes
        // when they planned to, if that is before the window closes.
        let pickup_at = self.pickup_time(&p, s, now);
        if pickup_at < expiry_at {
            self.schedule(pickup_at, Ev::Pickup(slot));
        }
        Ok(())
    }

    /// When the customer collects a package deposited at site `s` at `now`:
    /// after its dwell, at the first moment that is both within the
    /// customers' pickup hours for the package's home kind and within the
    /// locker's opening hours. A pickup pushed to the start of a customer
    /// window spreads over its first hour by the dwell's sub-hour part
    /// (uniform enough, and no extra draw, so scenarios without pickup hours
    /// keep every stream unchanged). The result is a moment both sets of
    /// hours allow, so replaying it as a recorded dwell lands on it again.
    fn pickup_time(&self, p: &Pkg, s: usize, now: Millis) -> Millis {
        let wish = now.saturating_add(p.dwell);
        let locker = &self.sites[s].loc.hours;
        let kind = self.sites[p.home as usize].loc.kind.index();
        let Some(customer) = self.sc.pickup_hours[kind].as_ref().filter(|_| wish < NEVER) else {
            return locker.next_open(wish);
        };
        let mut t = customer.next_open(wish);
        if t > wish {
            t += p.dwell % HOUR;
        }
        // Alternate until both agree; hours that never overlap (checked a
        // few weeks ahead) leave the locker's hours to decide.
        for _ in 0..64 {
            let open = locker.next_open(t);
            let come = customer.next_open(open);
            if come == open {
                return open;
            }
            t = come;
        }
        locker.next_open(wish)
    }

    /// The driver could not deposit. Their app tells the service, which
    /// sends them to a nearby locker (once) or the package to the doorstep;
    /// the answer comes back through `hear`.
    fn failed_drop_off(
        &mut self,
        now: Millis,
        slot: u32,
        cause: FailCause,
    ) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        self.pkgs[slot as usize].failed = true;
        if !p.rerouted && p.counted {
            self.sites[p.home as usize].metrics.record_failure(cause);
        }
        // The controller's own report (when its link is up) says the same;
        // whichever the service hears first decides.
        let failed = service::Input::DropOffFailed {
            order: p.id,
            locker: p.at,
            reroute: cause != FailCause::SizeMismatch,
        };
        self.tell_service(now, failed)
    }

    fn on_pickup(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !p.code_issued {
            // The customer has not been told the code yet (the locker was
            // offline at deposit): they come once it arrives.
            self.pkgs[slot as usize].awaiting_code = true;
            return Ok(());
        }
        if !self.sites[s].power_on {
            let back = self.sites[s].power_back_at;
            return self.come_back(now, slot, back);
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            // The customer waits their turn, if the window is still open by then.
            return self.come_back_counted(now, slot, until, false);
        }
        if !self.sites[s].screen_ok {
            // No screen, no keypad: the app unlocks over Bluetooth, for most.
            let f = &self.sc.faults;
            if self.sites[s].faults.gen::<f64>() >= f.app_unlock_success_share {
                let back = self.sites[s].screen_back_at;
                return self.come_back(now, slot, back);
            }
            self.sites[s].metrics.app_unlocks += p.counted as u64;
            self.qr_pickup(now, slot)?;
        } else if p.uses_qr {
            self.qr_pickup(now, slot)?;
        } else {
            if p.mistype {
                self.pkgs[slot as usize].mistype = false;
                let wrong = typo(p.code, p.typo_pos, p.typo_delta);
                // A typo that happens to be another customer's live code would
                // open their door; at most (active codes / 10⁶) of typos, so
                // the model leaves it out rather than invent what follows.
                if !self.service.code_in_use(s as LockerIdx, wrong) {
                    self.input(s, now, Source::Kiosk, Input::Keypad { code: wrong })?;
                    if p.counted {
                        let rejected = self.out.iter().any(|o| {
                            matches!(
                                o,
                                Output::Audit {
                                    event: AuditEvent::CodeRejected
                                }
                            )
                        });
                        let lockout = self.out.iter().any(|o| {
                            matches!(
                                o,
                                Output::Alert {
                                    alert: Alert::KeypadLockout { .. }
                                }
                            )
                        });
                        let m = &mut self.sites[s].metrics;
                        m.wrong_code_attempts += rejected as u64;
                        m.lockouts += lockout as u64;
                    }
                }
            }
            self.input(s, now, Source::Kiosk, Input::Keypad { code: p.code })?;
        }
        let Some(c) = self.opened() else {
            return match self.screen() {
                Some(Screen::KeypadLocked { until }) => {
                    // Turned away; the customer comes back when the keypad unlocks.
                    self.sites[s].metrics.access_denials += p.counted as u64;
                    let back = self.sites[s].loc.hours.next_open(until);
                    self.come_back_counted(now, slot, back, false)
                }
                other => Err(self.invariant(
                    s,
                    now,
                    format!("pickup of package {} refused: {other:?}", p.id),
                )),
            };
        };
        self.pkgs[slot as usize].compartment = c;
        if !self.sites[s].link_up() {
            self.sites[s].metrics.pickups_offline += p.counted as u64;
        }
        let duration = self.sc.kiosk.pickup;
        self.occupy_kiosk(s, now, duration);
        if duration > 0 {
            self.schedule(now + duration, Ev::PickupDone(slot));
            Ok(())
        } else {
            self.on_pickup_done(now, slot)
        }
    }

    fn qr_pickup(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        let compartment = self.sites[s]
            .ctl
            .locker()
            .compartment_of(p.id)
            .ok_or_else(|| {
                self.invariant(s, now, format!("package {} has no compartment", p.id))
            })?;
        let site = &mut self.sites[s];
        let claims = qr::claims(
            &mut site.access,
            &site.loc.id,
            compartment,
            p.id,
            p.expiry_at,
        );
        let token = qr::sign(&site.keys, &claims);
        self.input(s, now, Source::Kiosk, Input::QrScan { token })
    }

    /// A customer held up by an outage comes back at `back`, if the pickup
    /// window is still open then.
    fn come_back(&mut self, now: Millis, slot: u32, back: Millis) -> Result<(), SimError> {
        self.come_back_counted(now, slot, back, true)
    }

    fn come_back_counted(
        &mut self,
        now: Millis,
        slot: u32,
        back: Millis,
        outage: bool,
    ) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if outage {
            self.sites[s].metrics.outage_delays += p.counted as u64;
        }
        let back = self.sites[s].loc.hours.next_open(back.max(now));
        // Too late: the service's clock expires the package.
        if back < p.expiry_at {
            self.schedule(back, Ev::Pickup(slot));
        }
        Ok(())
    }

    fn on_pickup_done(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            let back = self.sites[s].power_back_at.max(now);
            self.sites[s].busy_until = back;
            self.schedule(back, Ev::PickupDone(slot));
            return Ok(());
        }
        self.sites[s].in_session = false;
        let c = p.compartment;
        self.close_door(s, now, c, false, p.id, "pickup", |k| {
            matches!(k, EventKind::PickedUp { .. })
        })?;
        let f = &self.sc.faults;
        if f.forgotten_item_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.forgotten_item_probability
        {
            // Something left behind, too light for the door sensor to notice.
            self.sites[s].phantom[c as usize] = true;
        }
        self.pkgs[slot as usize].picked = true;
        self.left_compartment(now, slot, Outcome::PickedUp);
        Ok(())
    }

    /// A package has left its compartment at its site, by pickup or by
    /// retrieval (`outcome` unless it had been rerouted): metrics, the
    /// forecast's score, and its end.
    fn left_compartment(&mut self, now: Millis, slot: u32, outcome: Outcome) {
        let p = self.pkgs[slot as usize];
        let stay = now - p.deposit_at;
        let forecast = self.service.dwell_forecast_hours(p.id).map(from_hours);
        if p.counted && !p.rerouted {
            let m = &mut self.sites[p.home as usize].metrics;
            if outcome == Outcome::PickedUp {
                m.record_dwell(stay);
            }
            m.record_vacated(stay);
            m.record_forecast(forecast, stay);
        }
        let outcome = if p.rerouted {
            Outcome::ReroutedAlternateLocker
        } else {
            outcome
        };
        self.finish_package(now, slot, outcome);
    }

    fn on_retrieval(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            self.sites[s].metrics.outage_delays += p.counted as u64;
            let back = self.sites[s].power_back_at;
            self.schedule(back.max(now), Ev::Retrieval(slot));
            return Ok(());
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            self.schedule(until, Ev::Retrieval(slot));
            return Ok(());
        }
        self.input(s, now, Source::Kiosk, Input::OpsRetrieve { package: p.id })?;
        let Some(c) = self.opened() else {
            // The expiry command is still on its way to an offline locker:
            // operations come back later.
            self.schedule(now + HOUR, Ev::Retrieval(slot));
            return Ok(());
        };
        self.close_door(s, now, c, false, p.id, "retrieval", |k| {
            matches!(k, EventKind::Retrieved { .. })
        })?;
        self.left_compartment(now, slot, Outcome::ExpiredReturned);
        Ok(())
    }

    /// Periodic reconciliation: the sensors' full scan against the software.
    fn on_reconcile(&mut self, now: Millis, s: usize) -> Result<(), SimError> {
        let interval = self.sc.faults.reconciliation_interval;
        if self.sites[s].power_on {
            let site = &self.sites[s];
            let locker = site.ctl.locker();
            let occupied: Vec<bool> = (0..locker.compartment_count())
                .map(|c| {
                    site.phantom[c]
                        || matches!(
                            locker.state(c as CompartmentId),
                            Some(CompartmentState::Occupied | CompartmentState::Expired)
                        )
                })
                .collect();
            self.input(s, now, Source::Sensors, Input::Reconcile { occupied })?;
            let counted = now >= self.sc.warmup;
            for c in self.faulted() {
                self.after_fault(s, now, c, FaultCause::SensorMismatch, counted);
            }
        }
        // Reconciliation runs as long as anything is in flight.
        if now < self.sc.horizon || self.pkgs.len() != self.free_slots.len() {
            self.schedule(now + interval, Ev::Reconcile(s as u32));
        }
        Ok(())
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
        if p.done {
            return;
        }
        self.pkgs[slot as usize].done = true;
        self.by_order.remove(&p.id);
        if p.counted {
            self.sites[p.home as usize].metrics.record_outcome(outcome);
        }
        if self.history.is_some() {
            let deposited = p.expiry_at > 0; // set at deposit
            let at = &self.sites[p.at as usize];
            let record = HistoryRecord {
                order_id: p.id,
                location_id: self.sites[p.home as usize].loc.id.clone(),
                location_kind: self.sites[p.home as usize].loc.kind,
                tier: p.tier,
                size: p.size,
                checkout_ms: p.checkout_at,
                outcome: outcome.name(),
                deposit_location_id: deposited.then(|| at.loc.id.clone()),
                deposit_ms: deposited.then_some(p.deposit_at),
                pickup_ms: (deposited && p.picked).then_some(now),
                retrieval_ms: (deposited && !p.picked).then_some(now),
                occupied_at_deposit: deposited.then_some(p.occupied_at_deposit),
                compartments: deposited.then(|| at.ctl.locker().compartment_count() as u32),
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
        if let Some(h) = &mut self.history {
            let loc = self.sites[s].loc;
            h.push(HistoryRecord {
                order_id: id,
                location_id: loc.id.clone(),
                location_kind: loc.kind,
                tier,
                size,
                checkout_ms: now,
                outcome: Outcome::RejectedAtCheckout.name(),
                deposit_location_id: None,
                deposit_ms: None,
                pickup_ms: None,
                retrieval_ms: None,
                occupied_at_deposit: None,
                compartments: None,
                compartment: None,
                checkout_seq: self.processed,
                scan_seq: None,
                end_seq: None,
            });
        }
    }
}
