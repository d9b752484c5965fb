//! One region's world for one replication: a group of lockers that interact
//! through discovery and fallback (a lone locker is a region of one).
//!
//! The world plays everyone around the lockers — customers, drivers,
//! operations, the hardware (doors that jam, sensors, screens, power, the
//! network) and the regional service (discovery, admission, code issue, the
//! authoritative expiry clock). Each locker is the controller core, driven
//! input by input exactly as a real one is; the world never changes a
//! compartment itself.

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
use crate::domain::{CompartmentId, CompartmentState, LockerView, Size, Tier};
use crate::engine::rng::Stream;
use crate::engine::time::{from_hours, hour_of_week, to_hours, Millis, DAY, HOUR};
use crate::engine::{EventQueue, Purpose, StreamKey};
use crate::forecast::{DwellFeatures, ForecastCache};
use crate::metrics::location::TimeWeighted;
use crate::metrics::{FailCause, LocationMetrics, Outcome};
use crate::policy::{
    Admission, AdmissionRequest, ForecastPolicy, OptimizedPolicy, PlanInput, Policy, ReleaseOutlook,
};
use crate::scenario::{Location, Scenario};
use crate::service::network::Network;
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Exp1};
use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone, Copy)]
enum Ev {
    Checkout(u32),
    Driver(u32),
    DepositDone(u32),
    Timeout(u32),
    Reminder(u32),
    Pickup(u32),
    PickupDone(u32),
    Expiry(u32),
    Retrieval(u32),
    Repair { site: u32, compartment: u32 },
    OpsClear { site: u32, compartment: u32 },
    Reconcile(u32),
    OutageStart { site: u32, kind: Outage },
    OutageEnd { site: u32, kind: Outage },
    StaleCheck { site: u32, epoch: u32 },
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
    /// Its reservation holds a specific compartment (naive-hold).
    held: bool,
    /// Waiting for the kiosk (counted once per wait, however many turns it takes).
    waiting: bool,
    checkout_at: Millis,
    occupied_at_deposit: u32,
    /// Ended by a pickup (rather than a retrieval), for the history record.
    picked: bool,
    /// Index of the dwell forecast made at deposit in the region's cache
    /// (`NO_FORECAST` without a model).
    forecast: u32,
    /// Position in its site's `occupants` while it holds a compartment.
    occ_pos: u32,
    /// Accepted at `at` and not yet deposited (nor finished).
    pending: bool,
    /// Events processed in the region at its checkout and driver's scan.
    checkout_seq: u64,
    scan_seq: u64,
}

const NO_FORECAST: u32 = u32::MAX;

/// A service reaction waiting for the link (the world acts on kiosk outputs
/// at once; the service only learns of events when the locker is online).
#[derive(Debug, Clone, Copy)]
enum Note {
    IssueCode(u32),
    RetireCode(u32),
}

struct Site<'a> {
    loc: &'a Location,
    ctl: Controller,
    seq: [u64; 4],
    keys: LockerKeys,
    /// Codes active at this location, known to the service, for uniqueness.
    active_codes: HashSet<u32, BuildPackageHasher>,
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
    /// Packages in compartments here, kept with a dwell model only: the
    /// forecast policy asks which of them will be gone by a given time.
    occupants: Vec<u32>,
    /// The optimized policy's day: orders offered per tier today and on the
    /// last seven days (its demand forecast), accepted today, and today's
    /// quotas from the plan.
    offered_today: [u32; Tier::COUNT],
    offered_days: VecDeque<[u32; Tier::COUNT]>,
    accepted_today: [u32; Tier::COUNT],
    quota: [f64; Tier::COUNT],
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
    /// The service's view: offline for longer than `stale_after`.
    stale: bool,
    stale_epoch: u32,
    /// Service → locker commands waiting for the link, in order.
    to_locker: VecDeque<Input>,
    /// Reservations in `to_locker`, by package size and tier, for admission.
    queued_pending: [u32; Size::COUNT],
    queued_held: [u32; Tier::COUNT],
    /// Cancellations in `to_locker`: (package, size, tier, held a compartment).
    queued_cancels: Vec<(u64, Size, Tier, bool)>,
    /// Locker → service reactions waiting for the link.
    to_service: VecDeque<Note>,
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

    /// The ledger as the service sees it: the locker's plus reservations
    /// still on their way to it.
    fn service_view(&self) -> LockerView {
        let mut v = *self.ctl.view();
        for k in 0..Size::COUNT {
            v.pending[k] += self.queued_pending[k];
        }
        for t in 0..Tier::COUNT {
            v.held_by_tier[t] += self.queued_held[t];
        }
        for &(_, size, tier, held) in &self.queued_cancels {
            // A cancelled hold frees a compartment the view cannot name; it
            // is credited when the locker applies it.
            if !held {
                v.pending[size.index()] = v.pending[size.index()].saturating_sub(1);
            }
            v.held_by_tier[tier.index()] = v.held_by_tier[tier.index()].saturating_sub(1);
        }
        v
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
    net: &'a Network,
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
    /// The scenario's dwell forecast, memoized per feature key (one per
    /// region, so parallel regions never share a lock).
    forecast: Option<ForecastCache>,
    /// Hourly samples (with `record_occupancy`) and the next hour to take.
    occupancy: Option<Vec<super::OccupancySample>>,
    next_sample: Millis,
    /// The day the optimized policy's quotas were planned for.
    plan_day: Millis,
    /// Events processed so far (history records note where orders fell).
    processed: u64,
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
                keys,
                active_codes: HashSet::default(),
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
                occupants: Vec::new(),
                offered_today: [0; Tier::COUNT],
                offered_days: VecDeque::new(),
                accepted_today: [0; Tier::COUNT],
                quota: [f64::INFINITY; Tier::COUNT],
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
                queued_pending: [0; Size::COUNT],
                queued_held: [0; Tier::COUNT],
                queued_cancels: Vec::new(),
                to_service: VecDeque::new(),
                phantom: vec![false; n],
                busy_until: 0,
                in_session: false,
                audit,
            });
        }
        Ok(Self {
            sc,
            net,
            index: region.to_vec(),
            sites,
            queue: EventQueue::new(),
            pkgs: Vec::new(),
            free_slots: Vec::new(),
            out: Vec::with_capacity(16),
            check_invariants: opts.check_invariants,
            history: opts.record_history.then(Vec::new),
            forecast: sc.forecast.clone().map(ForecastCache::new),
            occupancy: opts.record_occupancy.then(Vec::new),
            next_sample: 0,
            plan_day: 0,
            processed: 0,
        })
    }

    /// Runs until every package has finished: checkouts stop at the horizon,
    /// and what is in flight then plays out.
    pub fn run(&mut self) -> Result<(), SimError> {
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
        self.out.clear();
        if let Err(e) = site.ctl.handle(now, source, *seq, &input, &mut self.out) {
            return Err(SimError::Controller {
                location: site.loc.id.clone(),
                time: now,
                input: format!("{input:?}"),
                source: e,
            });
        }
        let view = site.ctl.view();
        site.occupancy.set(now, view.occupied);
        site.maintenance.set(now, view.maintenance);
        if let Some(sink) = &mut site.audit {
            sink.record(now, &self.out)?;
        }
        Ok(())
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

    /// A service command: delivered now if the locker is online, else queued.
    fn command(&mut self, s: usize, now: Millis, input: Input) -> Result<(), SimError> {
        if self.sites[s].link_up() {
            self.input(s, now, Source::Service, input)
        } else {
            let site = &mut self.sites[s];
            if let Input::Reserve { size, tier, .. } = input {
                site.queued_pending[size.index()] += 1;
                site.queued_held[tier.index()] += 1;
            }
            site.to_locker.push_back(input);
            Ok(())
        }
    }

    /// Takes a package's reservation back out of the queue, if it is still
    /// there; true if it was.
    fn unqueue_reservation(&mut self, s: usize, package: u64) -> bool {
        let site = &mut self.sites[s];
        let pos = site
            .to_locker
            .iter()
            .position(|i| matches!(i, Input::Reserve { package: p, .. } if *p == package));
        if let Some(pos) = pos {
            if let Some(Input::Reserve { size, tier, .. }) = site.to_locker.remove(pos) {
                site.queued_pending[size.index()] -= 1;
                site.queued_held[tier.index()] -= 1;
            }
            true
        } else {
            false
        }
    }

    /// The service releases a package's reservation: taken back out of the
    /// queue if it never left, else a cancellation (queued while offline,
    /// and already left out of the service's view of capacity).
    fn release_reservation(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if self.unqueue_reservation(s, p.id) {
            return Ok(());
        }
        if !self.sites[s].link_up() {
            self.sites[s]
                .queued_cancels
                .push((p.id, p.size, p.tier, p.held));
        }
        self.command(s, now, Input::CancelReservation { package: p.id })
    }

    /// The service learns something from a locker (now, or when it is back online).
    fn note(&mut self, s: usize, now: Millis, note: Note) -> Result<(), SimError> {
        if self.sites[s].link_up() {
            self.apply_note(s, now, note)
        } else {
            self.sites[s].to_service.push_back(note);
            Ok(())
        }
    }

    fn apply_note(&mut self, s: usize, now: Millis, note: Note) -> Result<(), SimError> {
        match note {
            Note::RetireCode(code) => {
                self.sites[s].active_codes.remove(&code);
                Ok(())
            }
            Note::IssueCode(slot) => {
                let p = self.pkgs[slot as usize];
                if now >= p.expiry_at {
                    // The window closed before the service heard of the
                    // deposit; a customer already waiting for the code never
                    // gets one, and the package expires.
                    if p.awaiting_code {
                        self.pkgs[slot as usize].awaiting_code = false;
                        self.schedule(now, Ev::Expiry(slot));
                    }
                    return Ok(());
                }
                // The service issues the customer's code, unique among this
                // location's active codes, and pushes only its keyed hash.
                let site = &mut self.sites[s];
                let active = &site.active_codes;
                let code = PickupCode::generate(&mut site.access, |c| active.contains(&c.value()));
                site.active_codes.insert(code.value());
                let credential = Input::Credential {
                    package: p.id,
                    code_hash: site.keys.hash_code(code),
                    not_after: p.expiry_at,
                };
                self.command(s, now, credential)?;
                let pkg = &mut self.pkgs[slot as usize];
                pkg.code = code;
                pkg.code_issued = true;
                if pkg.awaiting_code {
                    pkg.awaiting_code = false;
                    // The customer comes as soon as they hear, if the locker is open.
                    self.come_back_counted(now, slot, now, false)?;
                }
                Ok(())
            }
        }
    }

    fn handle(&mut self, now: Millis, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::Checkout(s) => self.on_checkout(s as usize, now),
            Ev::Driver(slot) => self.on_driver(now, slot),
            Ev::DepositDone(slot) => self.on_deposit_done(now, slot),
            Ev::Timeout(slot) => {
                let p = self.pkgs[slot as usize];
                self.release_reservation(now, slot)?;
                if p.counted {
                    self.sites[p.home as usize].metrics.reservation_timeouts += 1;
                }
                self.finish_package(now, slot, Outcome::ReroutedDoorstep);
                Ok(())
            }
            Ev::Reminder(slot) => {
                let p = self.pkgs[slot as usize];
                if p.counted && !p.rerouted {
                    self.sites[p.home as usize].metrics.reminders_sent += 1;
                }
                Ok(())
            }
            Ev::Pickup(slot) => self.on_pickup(now, slot),
            Ev::PickupDone(slot) => self.on_pickup_done(now, slot),
            Ev::Expiry(slot) => {
                let p = self.pkgs[slot as usize];
                let s = p.at as usize;
                self.command(s, now, Input::Expire { package: p.id })?;
                if p.code_issued {
                    self.note(s, now, Note::RetireCode(p.code.value()))?;
                }
                if p.counted && !p.rerouted {
                    self.sites[p.home as usize].metrics.expired += 1;
                }
                self.schedule(now + p.retrieval_delay, Ev::Retrieval(slot));
                Ok(())
            }
            Ev::Retrieval(slot) => self.on_retrieval(now, slot),
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
            self.input(s, now, Source::Runtime, Input::Link { up: true })?;
            let st = &mut self.sites[s];
            if st.stale {
                st.stale = false;
                st.stale_time.set(now, 0);
            }
            // Commands first (they are older), then what the service missed.
            while let Some(cmd) = self.sites[s].to_locker.pop_front() {
                let st = &mut self.sites[s];
                match cmd {
                    Input::Reserve { size, tier, .. } => {
                        st.queued_pending[size.index()] -= 1;
                        st.queued_held[tier.index()] -= 1;
                    }
                    Input::CancelReservation { package } => {
                        st.queued_cancels.retain(|c| c.0 != package)
                    }
                    _ => {}
                }
                match self.input(s, now, Source::Service, cmd) {
                    Ok(_) => {}
                    // A reservation the locker cannot take any more: its
                    // driver will find none and fall back.
                    Err(SimError::Controller { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            while let Some(n) = self.sites[s].to_service.pop_front() {
                self.apply_note(s, now, n)?;
            }
        }
        Ok(())
    }

    fn on_checkout(&mut self, s: usize, now: Millis) -> Result<(), SimError> {
        self.roll_day(now)?;
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
        let due_by = now + sc.tiers[tier.index()].reservation_timeout;
        let req = AdmissionRequest {
            now,
            tier,
            size,
            due_by,
        };
        self.sites[s].offered_today[tier.index()] += 1;
        let chosen = self.choose_locker(s, &req, lead)?;
        let Some((at, hold)) = chosen else {
            if counted {
                self.sites[s]
                    .metrics
                    .record_outcome(Outcome::RejectedAtCheckout);
            }
            self.record_rejection(s, id, now, tier, size);
            return Ok(());
        };
        self.sites[at].accepted_today[tier.index()] += 1;
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
            held: hold,
            waiting: false,
            checkout_at: now,
            occupied_at_deposit: 0,
            picked: false,
            forecast: NO_FORECAST,
            occ_pos: 0,
            pending: true,
            checkout_seq: self.processed,
            scan_seq: 0,
        });
        let reserve = Input::Reserve {
            package: id,
            tier,
            size,
            hold,
        };
        self.command(at, now, reserve)?;
        let arrival = self.sites[at].loc.hours.next_open(now + lead);
        if arrival > due_by {
            self.schedule(due_by, Ev::Timeout(slot));
        } else {
            self.schedule(arrival, Ev::Driver(slot));
        }
        Ok(())
    }

    /// Discovery and admission: the customer's home locker, then (with
    /// discovery on) nearby ones, nearest first; the first eligible locker
    /// whose policy accepts takes the reservation.
    fn choose_locker(
        &self,
        home: usize,
        req: &AdmissionRequest,
        lead: Millis,
    ) -> Result<Option<(usize, bool)>, SimError> {
        if let Some(choice) = self.offer(home, req, lead) {
            return Ok(Some(choice));
        }
        if self.sc.discovery.is_some() {
            for &j in &self.net.discovery[self.index[home]] {
                let c = self
                    .index
                    .binary_search(&j)
                    .expect("discovery neighbours share the region");
                if let Some(choice) = self.offer(c, req, lead) {
                    return Ok(Some(choice));
                }
            }
        }
        Ok(None)
    }

    /// Would locker `c` be shown, and would its policy take the order?
    fn offer(&self, c: usize, req: &AdmissionRequest, lead: Millis) -> Option<(usize, bool)> {
        let sc = self.sc;
        let site = &self.sites[c];
        // A locker that has been silent too long is hidden and takes no new
        // reservations.
        if site.stale {
            return None;
        }
        let view = site.service_view();
        if let Some(d) = &sc.discovery {
            let fits: u32 = view.capacity[req.size.index()..].iter().sum();
            if fits == 0 || site.loc.hours.next_open(req.now + lead) > req.due_by {
                return None;
            }
            if d.hide_below_free_share > 0.0 {
                let free: u32 = view.available[req.size.index()..].iter().sum();
                let promised: u32 = view.pending[req.size.index()..].iter().sum();
                let share = free.saturating_sub(promised) as f64 / fits as f64;
                if share <= d.hide_below_free_share {
                    return None;
                }
            }
        }
        let policy = site.loc.policy.as_ref().unwrap_or(&sc.policy);
        let outlook = match policy {
            Policy::Forecast(f) => self.release_outlook(c, req, f),
            Policy::Optimized(o) => {
                let t = req.tier.index();
                if site.accepted_today[t] as f64 >= site.quota[t].ceil() {
                    return None;
                }
                self.release_outlook(c, req, &o.check)
            }
            _ => None,
        };
        match policy.admit_with(&view, req, outlook.as_ref()) {
            Admission::Reject => None,
            Admission::ReserveCapacity => Some((c, false)),
            // A specific compartment can only be held by the locker itself.
            Admission::HoldCompartment => site.link_up().then_some((c, true)),
        }
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
            // The reservation this driver held is released (when the locker
            // hears of it).
            self.release_reservation(now, slot)?;
            return self.failed_drop_off(now, slot, FailCause::Power);
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            self.schedule(until, Ev::Driver(slot));
            return Ok(());
        }
        self.input(s, now, Source::Kiosk, Input::DriverScan { package: p.id })?;
        let Some(mut c) = self.opened() else {
            return match self.failed() {
                Some(FailReason::Full) => self.failed_drop_off(now, slot, FailCause::Full),
                Some(FailReason::NoReservation) => {
                    // The reservation never reached the offline locker.
                    self.unqueue_reservation(s, p.id);
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
            pkg.pending = false;
            pkg.expiry_at = expiry_at;
            pkg.occupied_at_deposit = occupied_before;
        }
        if p.counted && !p.rerouted {
            self.sites[p.home as usize].metrics.deposited += 1;
        }
        self.note(s, now, Note::IssueCode(slot))?;
        let reminder_at = expiry_at - sc.reminder_before_expiry;
        let pickup_at = self.pickup_time(&p, s, now);
        if let Some(cache) = self.forecast.as_mut() {
            let f = DwellFeatures {
                tier: p.tier,
                size: p.size,
                kind: self.sites[p.home as usize].loc.kind,
                checkout_ms: p.checkout_at,
                deposit_ms: now,
                occupied: occupied_before,
                compartments: self.sites[s].loc.compartments.iter().sum(),
            };
            let i = cache.index_of(&f);
            let pos = self.sites[s].occupants.len() as u32;
            self.sites[s].occupants.push(slot);
            let pkg = &mut self.pkgs[slot as usize];
            pkg.forecast = i;
            pkg.occ_pos = pos;
        }
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

    fn forecast_mean(&self, p: &Pkg) -> Option<Millis> {
        let cache = self.forecast.as_ref()?;
        (p.forecast != NO_FORECAST).then(|| from_hours(cache.get(p.forecast).mean_hours))
    }

    /// The package leaves its compartment at site `s`.
    fn vacate(&mut self, s: usize, slot: u32) {
        let p = &self.pkgs[slot as usize];
        if p.forecast == NO_FORECAST {
            return;
        }
        let pos = p.occ_pos as usize;
        let occ = &mut self.sites[s].occupants;
        if occ.get(pos) != Some(&slot) {
            return; // not tracked here (deposited elsewhere)
        }
        occ.swap_remove(pos);
        if let Some(&moved) = occ.get(pos) {
            self.pkgs[moved as usize].occ_pos = pos as u32;
        }
    }

    /// At the first checkout of a new day: close the day's demand counts and,
    /// for sites under the optimized policy, plan the day's quotas.
    fn roll_day(&mut self, now: Millis) -> Result<(), SimError> {
        let day = now / DAY;
        if day == self.plan_day {
            return Ok(());
        }
        let passed = (day - self.plan_day).clamp(1, 7);
        self.plan_day = day;
        for s in 0..self.sites.len() {
            let site = &mut self.sites[s];
            for i in 0..passed {
                let counts = if i == 0 {
                    site.offered_today
                } else {
                    [0; Tier::COUNT]
                };
                site.offered_days.push_front(counts);
            }
            site.offered_days.truncate(7);
            site.offered_today = [0; Tier::COUNT];
            site.accepted_today = [0; Tier::COUNT];
            let policy = site.loc.policy.as_ref().unwrap_or(&self.sc.policy);
            if let Policy::Optimized(o) = *policy {
                let quota = match self.plan_input(s, day * DAY, &o) {
                    Some(input) => o.plan(&input).map_err(|m| self.invariant(s, now, m))?,
                    None => [f64::INFINITY; Tier::COUNT],
                };
                self.sites[s].quota = quota;
            }
        }
        Ok(())
    }

    /// The optimized policy's LP input for site `s` on the day starting at
    /// `day_start`: demand = the mean of the last seven days' orders per
    /// tier; presence of today's packages and reservations at each noon, and
    /// each tier's chance of being in the locker `j` days after acceptance,
    /// from the dwell forecast. None until a day of demand has been seen.
    fn plan_input(
        &mut self,
        s: usize,
        day_start: Millis,
        o: &OptimizedPolicy,
    ) -> Option<PlanInput> {
        let h = o.horizon_days as usize;
        let site = &self.sites[s];
        if site.offered_days.is_empty() {
            return None;
        }
        let n = site.offered_days.len() as f64;
        let mut mean = [0.0; Tier::COUNT];
        for d in &site.offered_days {
            for t in 0..Tier::COUNT {
                mean[t] += d[t] as f64 / n;
            }
        }
        let compartments: u32 = site.loc.compartments.iter().sum();
        let kind = site.loc.kind;
        let noon = |k: usize| day_start + k as Millis * DAY + DAY / 2;
        // A typical package per tier, deposited at its promise after noon today.
        let cache = self.forecast.as_mut()?;
        let mut typical = [0u32; Tier::COUNT];
        for t in Tier::ALL {
            let promise = from_hours(o.check.promise_hours.get(t));
            typical[t.index()] = cache.index_of(&DwellFeatures {
                tier: t,
                size: Size::M,
                kind,
                checkout_ms: noon(0),
                deposit_ms: noon(0) + promise,
                occupied: compartments / 2,
                compartments,
            });
        }
        let cache = self.forecast.as_ref()?;
        let gone = |t: Tier, hours: f64| cache.get(typical[t.index()]).p_within(hours.max(0.0));
        let stay: [Vec<f64>; Tier::COUNT] = Tier::ALL.map(|t| {
            let promise = o.check.promise_hours.get(t);
            (0..h)
                .map(|j| {
                    let since_arrival = 24.0 * j as f64 - promise;
                    if since_arrival < 0.0 {
                        0.0
                    } else {
                        1.0 - gone(t, since_arrival)
                    }
                })
                .collect()
        });
        let site = &self.sites[s];
        let now = day_start;
        let mut present = vec![0.0; h];
        for &slot in &site.occupants {
            let p = &self.pkgs[slot as usize];
            let pred = cache.get(p.forecast);
            let elapsed = to_hours(now - p.deposit_at);
            for (k, v) in present.iter_mut().enumerate() {
                *v += 1.0 - pred.p_within_given(elapsed, to_hours(noon(k) - now));
            }
        }
        for p in self.pkgs.iter().filter(|p| p.pending && p.at as usize == s) {
            let arrive = self.promise_of(p, &o.check);
            for (k, v) in present.iter_mut().enumerate() {
                if arrive <= noon(k) {
                    *v += 1.0 - gone(p.tier, to_hours(noon(k) - arrive));
                }
            }
        }
        Some(PlanInput {
            compartments: compartments as f64,
            demand: vec![mean; h],
            present,
            stay,
        })
    }

    /// When an accepted reservation was promised, by the policy's rule.
    fn promise_of(&self, p: &Pkg, policy: &ForecastPolicy) -> Millis {
        policy.promised_at(&AdmissionRequest {
            now: p.checkout_at,
            tier: p.tier,
            size: p.size,
            due_by: p.checkout_at + self.sc.tiers[p.tier.index()].reservation_timeout,
        })
    }

    /// What the forecast policy reads about site `c` for a request (see
    /// `ForecastPolicy::outlook`), from the memoized dwell forecasts of the
    /// packages in its compartments and its pending reservations.
    fn release_outlook(
        &self,
        c: usize,
        req: &AdmissionRequest,
        policy: &ForecastPolicy,
    ) -> Option<ReleaseOutlook> {
        let cache = self.forecast.as_ref()?;
        let site = &self.sites[c];
        let now = req.now;
        let promised: Vec<(Millis, Size)> = self
            .pkgs
            .iter()
            .filter(|p| p.pending && p.at as usize == c)
            .map(|p| (self.promise_of(p, policy), p.size))
            .collect();
        let mut sizes = Vec::with_capacity(site.occupants.len());
        let mut stays = Vec::with_capacity(site.occupants.len());
        for &slot in &site.occupants {
            let p = &self.pkgs[slot as usize];
            if let Some(size) = site.ctl.locker().size_of(p.compartment) {
                sizes.push(size);
                stays.push((p.forecast, to_hours(now - p.deposit_at)));
            }
        }
        let gone = |i: usize, ahead: f64| {
            let (forecast, stayed) = stays[i];
            cache.get(forecast).p_within_given(stayed, ahead)
        };
        Some(policy.outlook(req, promised, &sizes, gone))
    }

    /// The driver could not deposit: try a nearby locker (once), else the doorstep.
    fn failed_drop_off(
        &mut self,
        now: Millis,
        slot: u32,
        cause: FailCause,
    ) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        if !p.rerouted {
            if p.counted {
                self.sites[p.home as usize].metrics.record_failure(cause);
            }
            if cause != FailCause::SizeMismatch {
                if let Some(alt) = self.alternative(p.at as usize, p.size, now) {
                    let pkg = &mut self.pkgs[slot as usize];
                    pkg.at = alt as u32;
                    pkg.rerouted = true;
                    let reserve = Input::Reserve {
                        package: p.id,
                        tier: p.tier,
                        size: p.size,
                        hold: false,
                    };
                    self.command(alt, now, reserve)?;
                    return self.on_driver(now, slot);
                }
            }
        }
        self.finish_package(now, slot, Outcome::ReroutedDoorstep);
        Ok(())
    }

    /// The nearest other locker the driver can use right now.
    fn alternative(&self, s: usize, size: Size, now: Millis) -> Option<usize> {
        self.net.fallback[self.index[s]]
            .iter()
            .map(|&j| {
                self.index
                    .binary_search(&j)
                    .expect("fallback neighbours share the region")
            })
            .find(|&a| {
                let site = &self.sites[a];
                site.link_up()
                    && !site.stale
                    && site.loc.hours.is_open(now)
                    && site.service_view().can_commit(size)
            })
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
                if !self.sites[s].active_codes.contains(&wrong.value()) {
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
        if back < p.expiry_at {
            self.schedule(back, Ev::Pickup(slot));
        } else {
            self.schedule(p.expiry_at.max(now), Ev::Expiry(slot));
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
        self.note(s, now, Note::RetireCode(p.code.value()))?;
        self.pkgs[slot as usize].picked = true;
        self.left_compartment(now, slot, Outcome::PickedUp);
        Ok(())
    }

    /// A package has left its compartment at its site, by pickup or by
    /// retrieval (`outcome` unless it had been rerouted): metrics, the
    /// forecast's score, the occupant list, and its end.
    fn left_compartment(&mut self, now: Millis, slot: u32, outcome: Outcome) {
        let p = self.pkgs[slot as usize];
        let stay = now - p.deposit_at;
        let forecast = self.forecast_mean(&p);
        if p.counted && !p.rerouted {
            let m = &mut self.sites[p.home as usize].metrics;
            if outcome == Outcome::PickedUp {
                m.record_dwell(stay);
            }
            m.record_vacated(stay);
            m.record_forecast(forecast, stay);
        }
        self.vacate(p.at as usize, slot);
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

    fn finish_package(&mut self, now: Millis, slot: u32, outcome: Outcome) {
        self.pkgs[slot as usize].pending = false;
        let p = self.pkgs[slot as usize];
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
