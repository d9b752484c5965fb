//! The regional capacity service, sans IO: MQTT messages and the time go
//! in, messages to publish come out. It answers reservation requests with
//! the admission policy the simulator runs, pushes reservations and
//! credentials to lockers, consumes their reports once each, owns the
//! expiry clock, and stops offering lockers that have gone silent.
//! `lockerlab serve` and `lockerlab demo` drive it over a broker.

mod ledger;
#[cfg(feature = "mqtt")]
mod run;

pub use ledger::{Effect, LockerLedger};
#[cfg(feature = "mqtt")]
pub use run::{serve, ServeOptions};

use crate::access::{LockerKeys, PickupCode};
use crate::controller::{Admit, Event, EventKind};
use crate::domain::{LocationKind, PackageId, Size, Tier};
use crate::engine::time::to_hours;
use crate::engine::Millis;
use crate::forecast::{DwellFeatures, DwellModel, ForecastCache};
use crate::policy::{Admission, AdmissionRequest, ForecastPolicy, Policy, ReleaseOutlook};
use crate::protocol::{
    self, Command, CommandKind, CredentialCmd, LinkState, OrderOutcome, PackageCmd, RejectReason,
    Reply, ReportMsg, ReserveCmd, ReserveRequest, Route, Status, Topics, What,
};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

pub struct ServiceConfig {
    pub topics: Topics,
    pub policy: Policy,
    /// Per-locker policies (an exported policy file's `overrides`).
    pub overrides: BTreeMap<String, Policy>,
    pub pickup_window: Millis,
    pub reservation_timeout: [Millis; Tier::COUNT],
    /// A locker offline this long is stale: it is not offered until it is
    /// back. "Offline" is the broker's word (the locker's will, published
    /// when its keep-alive lapses), so a silent locker is noticed in real
    /// time, whatever clock the service runs on.
    pub stale_after: Millis,
    /// Every locker's keys derive from it (`LockerKeys::for_locker`).
    pub region_secret: [u8; 32],
    /// Seeds pickup-code generation. Production seeds it from the OS.
    pub code_seed: u64,
    /// The dwell model the forecast policy reads (a policy file names it).
    pub model: Option<Arc<DwellModel>>,
    /// Each locker's kind, a feature of the dwell model (default: the
    /// first kind, for lockers the scenario does not list).
    pub kinds: BTreeMap<String, LocationKind>,
}

impl ServiceConfig {
    /// The service for a scenario's network: its policy (and per-location
    /// overrides), pickup window, reservation timeouts and staleness rule.
    pub fn from_scenario(
        sc: &crate::scenario::Scenario,
        topics: Topics,
        region_secret: [u8; 32],
        code_seed: u64,
    ) -> Self {
        ServiceConfig {
            topics,
            policy: sc.policy.clone(),
            overrides: sc
                .locations
                .iter()
                .filter_map(|l| l.policy.clone().map(|p| (l.id.clone(), p)))
                .collect(),
            pickup_window: sc.pickup_window,
            reservation_timeout: Tier::ALL.map(|t| sc.tiers[t.index()].reservation_timeout),
            stale_after: sc.faults.stale_after,
            region_secret,
            code_seed,
            model: sc.forecast.clone(),
            kinds: sc
                .locations
                .iter()
                .map(|l| (l.id.clone(), l.kind))
                .collect(),
        }
    }

    /// The optimized policy plans daily quotas from the simulator's demand
    /// history, which the service does not keep yet; the forecast policy
    /// needs its dwell model.
    pub fn check(&self) -> Result<(), String> {
        let all = std::iter::once((None, &self.policy))
            .chain(self.overrides.iter().map(|(k, p)| (Some(k), p)));
        for (locker, p) in all {
            let at = locker.map_or("the policy".to_string(), |l| format!("override `{l}`"));
            match p {
                Policy::Optimized(_) => {
                    return Err(format!(
                        "{at} is `optimized`; `serve` runs naive-hold, snapshot, tier-partition \
                         and forecast policies"
                    ))
                }
                Policy::Forecast(_) if self.model.is_none() => {
                    return Err(format!(
                        "{at} reads dwell forecasts: give a model (--model DIR, or a policy \
                         file that names one)"
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A message to publish (QoS 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Counters for logs, the demo's summary and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStats {
    pub requests: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub reports: u64,
    /// Reports seen before (redelivered by QoS 1 or re-sent after a crash).
    pub duplicate_reports: u64,
    pub malformed: u64,
    pub locker_errors: u64,
    pub picked_up: u64,
    pub expired_returned: u64,
    pub delivery_failed: u64,
    pub codes_issued: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderState {
    Rejected,
    Reserved { held: bool },
    CancelSent,
    Deposited,
    ExpireSent,
    Expired,
    Done,
}

struct Order {
    request: ReserveRequest,
    /// The first answer, repeated to a client that asks again.
    reply: Reply,
    state: OrderState,
    code: Option<PickupCode>,
    checkout_at: Millis,
    /// With a dwell model, while deposited: when, in what compartment size,
    /// its prediction and its place in the locker's occupant list.
    deposit_at: Millis,
    compartment_size: Option<Size>,
    forecast: u32,
    occ_pos: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    ReservationDue,
    Expiry,
}

/// How long a finished (or rejected) order is remembered, so a client's
/// retry gets the same answer; then it is forgotten and memory stays
/// bounded by the orders of about a day.
const KEEP_FINISHED: Millis = 24 * 3_600_000;

pub struct Service {
    cfg: ServiceConfig,
    lockers: BTreeMap<String, LockerLedger>,
    orders: HashMap<PackageId, Order>,
    /// Orders that ended, oldest first, to forget after `KEEP_FINISHED`.
    finished: std::collections::VecDeque<(Millis, PackageId)>,
    timers: BinaryHeap<Reverse<(Millis, PackageId, Timer)>>,
    rng: Xoshiro256PlusPlus,
    stats: ServiceStats,
    /// Dwell predictions, memoized per feature key (with a model).
    forecast: Option<ForecastCache>,
}

impl Service {
    pub fn new(cfg: ServiceConfig) -> Result<Self, String> {
        cfg.check()?;
        let rng = Xoshiro256PlusPlus::seed_from_u64(cfg.code_seed);
        let forecast = cfg.model.clone().map(ForecastCache::new);
        Ok(Self {
            cfg,
            lockers: BTreeMap::new(),
            orders: HashMap::new(),
            finished: std::collections::VecDeque::new(),
            timers: BinaryHeap::new(),
            rng,
            stats: ServiceStats::default(),
            forecast,
        })
    }

    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    pub fn topics(&self) -> &Topics {
        &self.cfg.topics
    }

    pub fn locker(&self, id: &str) -> Option<&LockerLedger> {
        self.lockers.get(id)
    }

    /// Orders the service remembers (open, or ended within a day).
    pub fn remembered_orders(&self) -> usize {
        self.orders.len()
    }

    /// Orders still open (reserved or in a locker).
    pub fn open_orders(&self) -> usize {
        self.orders
            .values()
            .filter(|o| !matches!(o.state, OrderState::Rejected | OrderState::Done))
            .count()
    }

    /// Commands sent to all lockers so far.
    pub fn commands_sent(&self) -> u64 {
        self.lockers.values().map(|l| l.sent()).sum()
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let timer = self.timers.peek().map(|Reverse((t, _, _))| *t);
        let stale = self
            .lockers
            .values()
            .filter(|l| !l.stale)
            .filter_map(|l| l.offline_since)
            .map(|t| t + self.cfg.stale_after)
            .min();
        timer.into_iter().chain(stale).min()
    }

    /// One message from the broker.
    pub fn handle(&mut self, now: Millis, topic: &str, payload: &[u8], out: &mut Vec<Outgoing>) {
        if let Err(reason) = self.route(now, topic, payload, out) {
            self.stats.malformed += 1;
            let id = serde_json::from_slice::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
            let body = protocol::ErrorBody {
                topic: topic.chars().take(200).collect(),
                id,
                reason,
            };
            out.push(Outgoing {
                topic: self.cfg.topics.service_error(),
                payload: protocol::encode("error", now, &body),
                retain: false,
            });
        }
    }

    fn route(
        &mut self,
        now: Millis,
        topic: &str,
        payload: &[u8],
        out: &mut Vec<Outgoing>,
    ) -> Result<(), String> {
        match self.cfg.topics.parse(topic).map_err(|e| e.to_string())? {
            Route::Reserve => {
                let env = protocol::decode::<ReserveRequest>(payload).map_err(|e| e.to_string())?;
                protocol::check_level("client", &env.body.client).map_err(|e| e.to_string())?;
                self.request(now, env.body, out);
            }
            Route::Report { locker, kind } => {
                let msg = protocol::decode_report(&kind, payload).map_err(|e| e.to_string())?;
                self.report(now, &locker, msg, out);
            }
            Route::Status { locker } => {
                let env = protocol::decode::<Status>(payload).map_err(|e| e.to_string())?;
                let ledger = self.ledger(&locker);
                match env.body.state {
                    LinkState::Online => {
                        let known = ledger.known();
                        ledger.heard();
                        if !known {
                            // Its announcement came before we listened.
                            out.push(Outgoing {
                                topic: self.cfg.topics.command(&locker, CommandKind::Sync),
                                payload: protocol::encode_sync(now),
                                retain: false,
                            });
                        }
                    }
                    LinkState::Offline => {
                        ledger.online = false;
                        ledger.offline_since.get_or_insert(now);
                    }
                }
            }
            // The service's own outputs, if a wildcard brings them back.
            Route::Reply { .. } | Route::ServiceError | Route::Command { .. } => {}
        }
        Ok(())
    }

    fn ledger(&mut self, locker: &str) -> &mut LockerLedger {
        let secret = self.cfg.region_secret;
        self.lockers
            .entry(locker.to_string())
            .or_insert_with(|| LockerLedger::new(LockerKeys::for_locker(&secret, locker)))
    }

    fn reply(&self, now: Millis, client: &str, order: PackageId, reply: &Reply) -> Outgoing {
        Outgoing {
            topic: self.cfg.topics.reply(client),
            payload: protocol::encode(format!("{order}"), now, reply),
            retain: false,
        }
    }

    fn command(&mut self, now: Millis, locker: &str, command: Command, effect: Effect) -> Outgoing {
        let seq = self.ledger(locker).send(effect);
        Outgoing {
            topic: self.cfg.topics.command(locker, command.kind()),
            payload: protocol::encode_command(seq, now, &command),
            retain: false,
        }
    }

    fn request(&mut self, now: Millis, req: ReserveRequest, out: &mut Vec<Outgoing>) {
        if let Some(o) = self.orders.get(&req.order) {
            // A retried request gets its first answer; another request
            // reusing the id is refused without touching the order.
            let reply = if o.request == req {
                o.reply.clone()
            } else {
                Reply::Rejected {
                    order: req.order,
                    reason: RejectReason::DuplicateOrder,
                }
            };
            out.push(self.reply(now, &req.client, req.order, &reply));
            return;
        }
        self.stats.requests += 1;
        let due_by = now + self.cfg.reservation_timeout[req.tier.index()];
        let decision = self.admit(now, &req, due_by);
        let (reply, state) = match decision {
            Ok(hold) => {
                self.stats.accepted += 1;
                let cmd = Command::Reserve(ReserveCmd {
                    package: req.order,
                    tier: req.tier,
                    size: req.size,
                    hold,
                });
                let effect = Effect::Reserve {
                    size: req.size,
                    tier: req.tier,
                };
                let msg = self.command(now, &req.locker, cmd, effect);
                out.push(msg);
                self.timers
                    .push(Reverse((due_by, req.order, Timer::ReservationDue)));
                self.ledger(&req.locker).pending.insert(req.order);
                let reply = Reply::Accepted {
                    order: req.order,
                    locker: req.locker.clone(),
                    hold,
                    due_by,
                };
                (reply, OrderState::Reserved { held: hold })
            }
            Err(reason) => {
                self.stats.rejected += 1;
                let reply = Reply::Rejected {
                    order: req.order,
                    reason,
                };
                self.finished.push_back((now, req.order));
                (reply, OrderState::Rejected)
            }
        };
        out.push(self.reply(now, &req.client, req.order, &reply));
        self.orders.insert(
            req.order,
            Order {
                request: req,
                reply,
                state,
                code: None,
                checkout_at: now,
                deposit_at: 0,
                compartment_size: None,
                forecast: 0,
                occ_pos: 0,
            },
        );
    }

    /// The policy's answer: Ok(hold a compartment?) or why not.
    fn admit(
        &self,
        now: Millis,
        req: &ReserveRequest,
        due_by: Millis,
    ) -> Result<bool, RejectReason> {
        let ledger = self
            .lockers
            .get(&req.locker)
            .filter(|l| l.known())
            .ok_or(RejectReason::UnknownLocker)?;
        if ledger.stale {
            return Err(RejectReason::Stale);
        }
        let view = ledger.view().ok_or(RejectReason::UnknownLocker)?;
        let policy = self
            .cfg
            .overrides
            .get(&req.locker)
            .unwrap_or(&self.cfg.policy);
        let request = AdmissionRequest {
            now,
            tier: req.tier,
            size: req.size,
            due_by,
        };
        let outlook = match policy {
            Policy::Forecast(f) => self.outlook(ledger, &request, f),
            _ => None,
        };
        match policy.admit_with(&view, &request, outlook.as_ref()) {
            Admission::Reject => Err(RejectReason::Policy),
            Admission::ReserveCapacity => Ok(false),
            // A specific compartment can only be held by a locker that is there.
            Admission::HoldCompartment if ledger.online => Ok(true),
            Admission::HoldCompartment => Err(RejectReason::Policy),
        }
    }

    /// The forecast policy's outlook for a locker (as the simulator builds
    /// it): its pending reservations and its occupants, in deposit order
    /// with the simulator's swap-remove, so the sums come out the same.
    fn outlook(
        &self,
        ledger: &LockerLedger,
        request: &AdmissionRequest,
        policy: &ForecastPolicy,
    ) -> Option<ReleaseOutlook> {
        let cache = self.forecast.as_ref()?;
        let promised = ledger
            .pending
            .iter()
            .filter_map(|id| self.orders.get(id))
            .map(|o| {
                let t = o.request.tier;
                let at = AdmissionRequest {
                    now: o.checkout_at,
                    tier: t,
                    size: o.request.size,
                    due_by: o.checkout_at + self.cfg.reservation_timeout[t.index()],
                };
                (policy.promised_at(&at), o.request.size)
            })
            .collect();
        let occupants: Vec<&Order> = ledger
            .occupants
            .iter()
            .filter_map(|id| self.orders.get(id))
            .collect();
        let sizes: Vec<Size> = occupants
            .iter()
            .map(|o| o.compartment_size.unwrap_or(Size::S))
            .collect();
        let gone = |i: usize, ahead: f64| {
            let o = occupants[i];
            cache
                .get(o.forecast)
                .p_within_given(to_hours(request.now - o.deposit_at), ahead)
        };
        Some(policy.outlook(request, promised, &sizes, gone))
    }

    fn report(&mut self, now: Millis, locker: &str, msg: ReportMsg, out: &mut Vec<Outgoing>) {
        let ledger = self.ledger(locker);
        ledger.heard();
        let fresh = ledger.reports.check_and_mark(msg.seq) == Admit::New;
        if fresh {
            ledger.observe(msg.seq, msg.report.applied, msg.report.view);
        }
        if !fresh {
            self.stats.duplicate_reports += 1;
            return;
        }
        self.stats.reports += 1;
        match msg.report.what {
            What::Event { event } => self.event(now, locker, event, out),
            What::Ledger => {}
            What::Error { .. } => self.stats.locker_errors += 1,
        }
    }

    fn event(&mut self, now: Millis, locker: &str, event: Event, out: &mut Vec<Outgoing>) {
        let package = match event.kind {
            EventKind::Deposited { package, .. }
            | EventKind::PickedUp { package, .. }
            | EventKind::Expired { package, .. }
            | EventKind::Retrieved { package, .. }
            | EventKind::ReservationReleased { package }
            | EventKind::DeliveryFailed { package, .. } => package,
            _ => return,
        };
        let Some(order) = self.orders.get(&package) else {
            return;
        };
        if order.request.locker != locker {
            return;
        }
        let (state, client) = (order.state, order.request.client.clone());
        let outcome = match event.kind {
            EventKind::Deposited { compartment, .. } => {
                if matches!(state, OrderState::Reserved { .. } | OrderState::CancelSent) {
                    self.issue_code(now, locker, package, compartment, event.time, out);
                }
                None
            }
            EventKind::Expired { .. } => {
                self.retire_code(locker, package);
                self.set_state(package, OrderState::Expired);
                None
            }
            EventKind::PickedUp { .. } => Some(OrderOutcome::PickedUp),
            EventKind::Retrieved { .. } => Some(OrderOutcome::ExpiredReturned),
            _ => Some(OrderOutcome::DeliveryFailed),
        };
        if let Some(outcome) = outcome {
            if state == OrderState::Done {
                return;
            }
            self.retire_code(locker, package);
            self.set_state(package, OrderState::Done);
            self.finished.push_back((now, package));
            match outcome {
                OrderOutcome::PickedUp => self.stats.picked_up += 1,
                OrderOutcome::ExpiredReturned => self.stats.expired_returned += 1,
                OrderOutcome::DeliveryFailed => self.stats.delivery_failed += 1,
            }
            let reply = Reply::Outcome {
                order: package,
                outcome,
            };
            out.push(self.reply(now, &client, package, &reply));
        }
    }

    fn set_state(&mut self, package: PackageId, state: OrderState) {
        if let Some(o) = self.orders.get_mut(&package) {
            o.state = state;
            if !matches!(state, OrderState::Reserved { .. }) {
                if let Some(l) = self.lockers.get_mut(&o.request.locker) {
                    l.pending.remove(&package);
                }
            }
            if matches!(state, OrderState::Done) {
                // Gone from its compartment: no longer an occupant.
                let pos = o.occ_pos;
                if let Some(l) = self.lockers.get_mut(&o.request.locker) {
                    if l.occupants.get(pos) == Some(&package) {
                        l.occupants.swap_remove(pos);
                        if let Some(&moved) = l.occupants.get(pos) {
                            if let Some(m) = self.orders.get_mut(&moved) {
                                m.occ_pos = pos;
                            }
                        }
                    }
                }
            }
        }
    }

    fn retire_code(&mut self, locker: &str, package: PackageId) {
        let code = self.orders.get_mut(&package).and_then(|o| o.code.take());
        if let (Some(code), Some(l)) = (code, self.lockers.get_mut(locker)) {
            l.codes.remove(&code.value());
        }
    }

    fn issue_code(
        &mut self,
        now: Millis,
        locker: &str,
        package: PackageId,
        compartment: u32,
        deposited_at: Millis,
        out: &mut Vec<Outgoing>,
    ) {
        // The service's clock is authoritative: a locker clock ahead of it
        // does not lengthen the pickup window.
        let expires_at = deposited_at.min(now) + self.cfg.pickup_window;
        let ledger = self.lockers.get_mut(locker).expect("reported above");
        let code = PickupCode::generate(&mut self.rng, |c| ledger.codes.contains(&c.value()));
        ledger.codes.insert(code.value());
        let code_hash = ledger.keys.hash_code(code);
        self.stats.codes_issued += 1;
        let cmd = Command::Credential(CredentialCmd {
            package,
            code_hash,
            not_after: expires_at,
        });
        let msg = self.command(now, locker, cmd, Effect::None);
        out.push(msg);
        self.set_state(package, OrderState::Deposited);
        self.track_occupant(locker, package, compartment, deposited_at);
        let order = self.orders.get_mut(&package).expect("checked by caller");
        order.code = Some(code);
        let client = order.request.client.clone();
        self.timers
            .push(Reverse((expires_at, package, Timer::Expiry)));
        let reply = Reply::Code {
            order: package,
            locker: locker.to_string(),
            compartment,
            code,
            expires_at,
        };
        out.push(self.reply(now, &client, package, &reply));
    }

    /// With a dwell model: the deposited package's prediction (features as
    /// the simulator computes them at deposit) and its place among the
    /// locker's occupants.
    fn track_occupant(
        &mut self,
        locker: &str,
        package: PackageId,
        compartment: u32,
        deposited_at: Millis,
    ) {
        let (Some(cache), Some(ledger), Some(order)) = (
            self.forecast.as_mut(),
            self.lockers.get_mut(locker),
            self.orders.get_mut(&package),
        ) else {
            return;
        };
        let Some(view) = ledger.view() else {
            return;
        };
        let kind = self
            .cfg
            .kinds
            .get(locker)
            .copied()
            .unwrap_or(LocationKind::ALL[0]);
        let features = DwellFeatures {
            tier: order.request.tier,
            size: order.request.size,
            kind,
            checkout_ms: order.checkout_at,
            deposit_ms: deposited_at,
            // The report carries the ledger after the deposit.
            occupied: view.occupied.saturating_sub(1),
            compartments: view.total_capacity(),
        };
        order.forecast = cache.index_of(&features);
        order.deposit_at = deposited_at;
        order.compartment_size = ledger.size_of(compartment);
        order.occ_pos = ledger.occupants.len();
        ledger.occupants.push(package);
    }

    /// Fires due timers (reservation timeouts, expiries) and marks lockers
    /// silent for longer than `stale_after` as stale.
    pub fn tick(&mut self, now: Millis, out: &mut Vec<Outgoing>) {
        while let Some(&Reverse((at, package, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(order) = self.orders.get(&package) else {
                continue;
            };
            let (locker, size, tier) = (
                order.request.locker.clone(),
                order.request.size,
                order.request.tier,
            );
            match (timer, order.state) {
                (Timer::ReservationDue, OrderState::Reserved { held }) => {
                    let cmd = Command::Cancel(PackageCmd { package });
                    let msg = self.command(now, &locker, cmd, Effect::Cancel { size, tier, held });
                    out.push(msg);
                    self.set_state(package, OrderState::CancelSent);
                }
                (Timer::Expiry, OrderState::Deposited) => {
                    let cmd = Command::Expire(PackageCmd { package });
                    let msg = self.command(now, &locker, cmd, Effect::None);
                    out.push(msg);
                    self.set_state(package, OrderState::ExpireSent);
                }
                _ => {}
            }
        }
        while let Some(&(at, package)) = self.finished.front() {
            if at + KEEP_FINISHED > now {
                break;
            }
            self.finished.pop_front();
            self.orders.remove(&package);
        }
        let stale_after = self.cfg.stale_after;
        for l in self.lockers.values_mut() {
            if l.offline_since.is_some_and(|t| now - t >= stale_after) {
                l.stale = true;
            }
        }
    }
}

#[cfg(test)]
mod tests;
