//! The capacity service of one region, sans IO: typed inputs and the time
//! go in, typed outputs come out (like `controller::Controller` for a
//! locker). It answers checkouts — discovery, admission under every policy,
//! the optimized policy's daily plan — pushes reservations, credentials and
//! expiries to lockers, consumes their reports once each, issues codes,
//! times out reservations, owns the expiry clock, sends reminders and
//! retrieval tasks, reroutes failed drop-offs, and stops offering lockers
//! that have gone silent. `lockerlab serve` drives it over MQTT; the codec
//! lives there, not here.

mod admission;
mod codes;
mod config;
mod io;
mod ledger;
pub mod network;
mod orders;
mod plan;
mod rekey;
mod snapshot;
mod timers;

pub use codes::{CodeRng, CodeSeed};
pub use config::{LockerSpec, ServiceConfig};
pub use io::{
    Input, LockerIdx, Output, ParcelKind, RejectReason, Reply, Report, ReserveRequest,
    ServiceStats, What,
};
pub use ledger::{Effect, LockerLedger, Occupant};

use crate::access::PickupCode;
use crate::controller::{Admit, Event, EventKind, FailReason, Input as LockerInput};
use crate::domain::locker::BuildPackageHasher;
use crate::domain::{CompartmentId, PackageId, Size};
use crate::forecast::{DwellFeatures, ForecastCache};
use crate::metrics::Outcome;
use crate::policy::AdmissionRequest;
use crate::time::Millis;
use orders::{Order, OrderState, Timer, KEEP_FINISHED};
use plan::DayCounts;
use std::collections::{HashMap, VecDeque};
use timers::Timers;

/// What the service keeps per locker.
#[derive(serde::Serialize, serde::Deserialize)]
struct Site {
    ledger: LockerLedger,
    day: DayCounts,
    /// Pickup codes waiting for the locker to apply their credential
    /// command (by its number, ascending): a customer never gets a code
    /// the locker does not hold.
    held_codes: VecDeque<(u64, PackageId)>,
}

pub struct Service {
    cfg: ServiceConfig,
    sites: Vec<Site>,
    orders: HashMap<PackageId, Order, BuildPackageHasher>,
    /// Orders that ended, oldest first, to forget after `KEEP_FINISHED`.
    finished: VecDeque<(Millis, PackageId)>,
    /// Due times; ties fire in the order they were set.
    timers: Timers,
    stats: ServiceStats,
    /// Dwell predictions, memoized per feature key (with a model).
    forecast: Option<ForecastCache>,
    /// The day the optimized policy's quotas were planned for.
    plan_day: i64,
    /// Lockers the broker says are gone (a region can have hundreds of
    /// lockers; staleness is checked on every event).
    offline: Vec<LockerIdx>,
}

impl Service {
    pub fn new(cfg: ServiceConfig) -> Result<Self, String> {
        cfg.check()?;
        let forecast = cfg.model.clone().map(ForecastCache::new);
        let plan_day = cfg.calendar.day(0);
        let sites = cfg
            .lockers
            .iter()
            .map(|_| Site {
                ledger: LockerLedger::new(),
                day: DayCounts::new(),
                held_codes: VecDeque::new(),
            })
            .collect();
        Ok(Self {
            cfg,
            sites,
            orders: HashMap::default(),
            finished: VecDeque::new(),
            timers: Timers::default(),
            stats: ServiceStats::default(),
            forecast,
            plan_day,
            offline: Vec::new(),
        })
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    pub fn locker(&self, locker: LockerIdx) -> Option<&LockerLedger> {
        self.sites.get(locker as usize).map(|s| &s.ledger)
    }

    /// Is `code` a live pickup code at `locker`?
    pub fn code_in_use(&self, locker: LockerIdx, code: PickupCode) -> bool {
        self.sites
            .get(locker as usize)
            .is_some_and(|s| s.ledger.codes.contains(&code.value()))
    }

    /// The mean dwell the model forecast for a deposited order (with a
    /// model), for scoring the forecast against what happened.
    pub fn dwell_forecast_hours(&self, order: PackageId) -> Option<f64> {
        let cache = self.forecast.as_ref()?;
        let o = self.orders.get(&order)?;
        o.compartment_size.map(|_| cache.get(o.forecast).mean_hours)
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

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let timer = self.timers.peek().map(|(t, ..)| t);
        let stale = self
            .offline
            .iter()
            .map(|&l| &self.sites[l as usize].ledger)
            .filter(|l| !l.stale)
            .filter_map(|l| l.offline_since)
            .map(|t| t + self.cfg.stale_after)
            .min();
        timer.into_iter().chain(stale).min()
    }

    pub fn handle(&mut self, now: Millis, input: Input, out: &mut Vec<Output>) {
        // A clock (or a replayed journal) past any real time must not
        // overflow deadlines computed from it.
        let now = crate::time::clamp_instant(now);
        self.handle_input(now, input, out);
        self.drop_void_timers();
    }

    fn handle_input(&mut self, now: Millis, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Reserve(req) => self.request(now, req, out),
            Input::Report {
                locker,
                seq,
                report,
            } => self.report(now, locker, seq, report, out),
            Input::Link { locker, up } => {
                let Some(site) = self.sites.get(locker as usize) else {
                    return;
                };
                if up {
                    let known = site.ledger.known();
                    self.heard(locker);
                    if !known {
                        // Its announcement came before we listened.
                        out.push(Output::Sync { locker });
                    }
                } else {
                    if site.ledger.offline_since.is_none() {
                        self.offline.push(locker);
                    }
                    self.sites[locker as usize].ledger.lost(now);
                }
            }
            Input::DropOffFailed {
                order,
                locker,
                reroute,
            } => {
                let Some(o) = self.orders.get(&order).filter(|o| o.at == locker) else {
                    return;
                };
                if let OrderState::Reserved { held } = o.state {
                    let (size, tier) = (o.request.size, o.request.tier);
                    let cancel = LockerInput::CancelReservation { package: order };
                    self.command(locker, cancel, Effect::Cancel { size, tier, held }, out);
                    self.failed_drop_off(now, order, reroute, out);
                }
            }
        }
    }

    fn reply(&self, order: PackageId, reply: Reply, out: &mut Vec<Output>) {
        let client = self
            .orders
            .get(&order)
            .map(|o| o.request.client.clone())
            .unwrap_or_default();
        out.push(Output::Reply { client, reply });
    }

    /// Numbers and sends a command; returns its number.
    fn command(
        &mut self,
        locker: LockerIdx,
        input: LockerInput,
        effect: Effect,
        out: &mut Vec<Output>,
    ) -> u64 {
        let seq = self.sites[locker as usize].ledger.send(effect);
        out.push(Output::Command { locker, seq, input });
        seq
    }

    fn request(&mut self, now: Millis, req: ReserveRequest, out: &mut Vec<Output>) {
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
            out.push(Output::Reply {
                client: req.client,
                reply,
            });
            return;
        }
        self.stats.requests += 1;
        let tier = req.tier;
        let due_by = now + self.cfg.reservation_timeout[tier.index()];
        let admission = AdmissionRequest {
            now,
            tier,
            size: req.size,
            due_by,
        };
        let decision = match self.roll_day(now) {
            _ if req.locker as usize >= self.sites.len() => Err(RejectReason::UnknownLocker),
            _ if req.kind == ParcelKind::Return => self.admit_return(&req),
            // A plan that cannot be solved admits nothing new today.
            Err(_) => Err(RejectReason::Policy),
            Ok(()) => {
                self.sites[req.locker as usize].day.offered_today[tier.index()]
                    [req.size.index()] += 1;
                self.choose_locker(&req, &admission)
            }
        };
        let (reply, state, at) = match decision {
            Ok((at, hold)) => {
                self.stats.accepted += 1;
                if req.kind == ParcelKind::Delivery {
                    self.sites[at as usize].day.accepted_today[tier.index()][req.size.index()] += 1;
                }
                let reserve = LockerInput::Reserve {
                    package: req.order,
                    tier,
                    size: req.size,
                    hold,
                };
                let effect = Effect::Reserve {
                    size: req.size,
                    tier,
                };
                self.command(at, reserve, effect, out);
                self.timers
                    .set(due_by, req.order, Timer::ReservationDue, tier);
                let promised = self.cfg.promised_at(at, &admission);
                self.sites[at as usize]
                    .ledger
                    .promise(req.order, promised, req.size);
                let reply = Reply::Accepted {
                    order: req.order,
                    locker: at,
                    hold,
                    due_by,
                };
                (reply, OrderState::Reserved { held: hold }, at)
            }
            Err(reason) => {
                self.stats.rejected += 1;
                self.finished.push_back((now, req.order));
                let reply = Reply::Rejected {
                    order: req.order,
                    reason,
                };
                (reply, OrderState::Rejected, req.locker)
            }
        };
        out.push(Output::Reply {
            client: req.client.clone(),
            reply: reply.clone(),
        });
        self.orders.insert(
            req.order,
            Order {
                request: req,
                reply,
                state,
                at,
                rerouted: false,
                code: None,
                checkout_at: now,
                due_by,
                deposit_at: 0,
                compartment: 0,
                compartment_size: None,
                expires_at: 0,
                forecast: 0,
                occ_pos: 0,
            },
        );
    }

    fn report(
        &mut self,
        now: Millis,
        locker: LockerIdx,
        seq: u64,
        report: Report,
        out: &mut Vec<Output>,
    ) {
        if locker as usize >= self.sites.len() {
            return;
        }
        self.heard(locker);
        let ledger = &mut self.sites[locker as usize].ledger;
        match ledger.reports.check_and_mark(seq) {
            Admit::New => {}
            Admit::Duplicate | Admit::TooOld => {
                self.stats.duplicate_reports += 1;
                return;
            }
            // A forged leap would hide every genuine report after it.
            Admit::Implausible => {
                self.stats.implausible_reports += 1;
                return;
            }
        }
        ledger.observe(seq, report.applied, report.view);
        self.stats.reports += 1;
        match report.what {
            What::Event { event } => self.event(now, locker, event, out),
            What::Ledger | What::Alert { .. } => {}
            What::Error { command, .. } => {
                self.stats.locker_errors += 1;
                // A credential the locker refused opens nothing: its code
                // is never sent.
                let refused = command.and_then(|c| c.parse::<u64>().ok());
                self.sites[locker as usize]
                    .held_codes
                    .retain(|&(n, _)| Some(n) != refused);
            }
        }
        self.release_codes(locker, out);
    }

    /// Sends the codes whose credentials the locker has now applied.
    fn release_codes(&mut self, locker: LockerIdx, out: &mut Vec<Output>) {
        loop {
            let site = &mut self.sites[locker as usize];
            let package = match site.held_codes.front() {
                Some(&(n, package)) if n <= site.ledger.applied() => package,
                _ => return,
            };
            site.held_codes.pop_front();
            // An order that moved on meanwhile (expired, retired) gets no
            // code.
            let Some(o) = self.orders.get(&package) else {
                continue;
            };
            let (Some(code), OrderState::Deposited) = (o.code, o.state) else {
                continue;
            };
            let reply = Reply::Code {
                order: package,
                locker,
                compartment: o.compartment,
                code,
                expires_at: o.expires_at,
            };
            self.reply(package, reply, out);
        }
    }

    fn event(&mut self, now: Millis, locker: LockerIdx, event: Event, out: &mut Vec<Output>) {
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
        // A locker speaks only for orders it holds (a rerouted order's first
        // locker confirming the cancel, or a forged report, changes nothing).
        if order.at != locker {
            return;
        }
        let (state, rerouted, kind) = (order.state, order.rerouted, order.request.kind);
        let open = matches!(state, OrderState::Reserved { .. } | OrderState::CancelSent);
        let left = |o: Outcome| {
            if rerouted {
                Outcome::ReroutedAlternateLocker
            } else {
                o
            }
        };
        match event.kind {
            EventKind::Deposited { .. } if open && kind == ParcelKind::Return => {
                // Nobody collects a return with a code: it waits for the
                // carrier, as an expired parcel does.
                self.command(locker, LockerInput::Expire { package }, Effect::None, out);
                self.set_state(package, OrderState::ExpireSent);
            }
            EventKind::Deposited { compartment, .. } if open => {
                self.issue_code(now, locker, package, compartment, event.time, out);
            }
            EventKind::Expired { .. } => {
                self.retire_code(package);
                self.set_state(package, OrderState::Expired);
                // Operations go for what the locker says it expired (a
                // customer at the door when the window closed takes it).
                out.push(Output::Retrieve {
                    order: package,
                    locker,
                });
            }
            EventKind::PickedUp { .. } => self.finish(now, package, left(Outcome::PickedUp), out),
            EventKind::Retrieved { .. } => {
                self.finish(now, package, left(Outcome::ExpiredReturned), out)
            }
            EventKind::ReservationReleased { .. } if state == OrderState::CancelSent => {
                self.finish(now, package, Outcome::ReroutedDoorstep, out)
            }
            EventKind::DeliveryFailed { reason, .. } if open => {
                // A package that does not fit is not worth another locker.
                self.failed_drop_off(now, package, reason != FailReason::NotDeposited, out)
            }
            _ => {}
        }
    }

    /// The driver could not deposit: the nearest usable locker (once), else
    /// the doorstep.
    fn failed_drop_off(
        &mut self,
        now: Millis,
        package: PackageId,
        reroute: bool,
        out: &mut Vec<Output>,
    ) {
        let o = &self.orders[&package];
        let (from, size, tier, rerouted) = (o.at, o.request.size, o.request.tier, o.rerouted);
        let alt = (reroute && !rerouted)
            .then(|| self.alternative(from, size, now))
            .flatten();
        let Some(alt) = alt else {
            return self.finish(now, package, Outcome::ReroutedDoorstep, out);
        };
        let admission = o.admission();
        let promised = self.cfg.promised_at(from, &admission);
        self.sites[from as usize]
            .ledger
            .unpromise(package, promised, size);
        let promised = self.cfg.promised_at(alt, &admission);
        self.sites[alt as usize]
            .ledger
            .promise(package, promised, size);
        let o = self.orders.get_mut(&package).expect("looked up above");
        o.at = alt;
        o.rerouted = true;
        o.state = OrderState::Reserved { held: false };
        self.stats.rerouted += 1;
        let reserve = LockerInput::Reserve {
            package,
            tier,
            size,
            hold: false,
        };
        self.command(alt, reserve, Effect::Reserve { size, tier }, out);
        self.reply(
            package,
            Reply::Rerouted {
                order: package,
                locker: alt,
            },
            out,
        );
    }

    /// The order ends: its code retired, its client told, forgotten in a day.
    fn finish(&mut self, now: Millis, package: PackageId, outcome: Outcome, out: &mut Vec<Output>) {
        if self
            .orders
            .get(&package)
            .is_none_or(|o| o.state == OrderState::Done)
        {
            return;
        }
        self.retire_code(package);
        self.set_state(package, OrderState::Done);
        self.finished.push_back((now, package));
        match outcome {
            Outcome::PickedUp => self.stats.picked_up += 1,
            Outcome::ExpiredReturned
                if self.orders[&package].request.kind == ParcelKind::Return =>
            {
                self.stats.returns_collected += 1
            }
            Outcome::ExpiredReturned => self.stats.expired_returned += 1,
            Outcome::ReroutedDoorstep => self.stats.delivery_failed += 1,
            Outcome::ReroutedAlternateLocker | Outcome::RejectedAtCheckout => {}
        }
        self.reply(
            package,
            Reply::Outcome {
                order: package,
                outcome,
            },
            out,
        );
    }

    fn set_state(&mut self, package: PackageId, state: OrderState) {
        let Some(o) = self.orders.get_mut(&package) else {
            return;
        };
        let was_promised = matches!(o.state, OrderState::Reserved { .. });
        o.state = state;
        let ledger = &mut self.sites[o.at as usize].ledger;
        if was_promised && !matches!(state, OrderState::Reserved { .. }) {
            let promised = self.cfg.promised_at(o.at, &o.admission());
            ledger.unpromise(package, promised, o.request.size);
        }
        if state == OrderState::Done {
            // Gone from its compartment: no longer an occupant.
            let pos = o.occ_pos;
            if ledger.occupants.get(pos).map(|o| o.package) == Some(package) {
                ledger.occupants.swap_remove(pos);
                if let Some(moved) = ledger.occupants.get(pos) {
                    if let Some(m) = self.orders.get_mut(&moved.package) {
                        m.occ_pos = pos;
                    }
                }
            }
        }
    }

    fn retire_code(&mut self, package: PackageId) {
        if let Some(o) = self.orders.get_mut(&package) {
            if let Some(code) = o.code.take() {
                self.sites[o.at as usize].ledger.codes.remove(&code.value());
            }
        }
    }

    fn issue_code(
        &mut self,
        now: Millis,
        locker: LockerIdx,
        package: PackageId,
        compartment: CompartmentId,
        deposited_at: Millis,
        out: &mut Vec<Output>,
    ) {
        // The service's clock is authoritative: a locker clock ahead of it
        // does not lengthen the pickup window.
        let expires_at = deposited_at.min(now) + self.cfg.pickup_window;
        let spec = &mut self.cfg.lockers[locker as usize];
        let ledger = &mut self.sites[locker as usize].ledger;
        let code = PickupCode::generate(&mut spec.codes, |c| ledger.codes.contains(&c.value()));
        ledger.codes.insert(code.value());
        let credential = LockerInput::Credential {
            package,
            code_hash: spec.keys.hash_code(code),
            not_after: expires_at,
        };
        self.stats.codes_issued += 1;
        let n = self.command(locker, credential, Effect::None, out);
        self.sites[locker as usize]
            .held_codes
            .push_back((n, package));
        self.set_state(package, OrderState::Deposited);
        self.track_occupant(locker, package, compartment, deposited_at);
        if let Some(o) = self.orders.get_mut(&package) {
            o.code = Some(code);
            o.compartment = compartment;
            o.deposit_at = deposited_at;
            o.expires_at = expires_at;
            // One timer at a time per deposit: the reminder's sets the expiry.
            let before = self.cfg.reminder_before_expiry;
            let tier = o.request.tier;
            if before > 0 {
                self.timers
                    .set(expires_at - before, package, Timer::Reminder, tier);
            } else {
                self.timers.set(expires_at, package, Timer::Expiry, tier);
            }
        }
    }

    /// With a dwell model: the deposited package's prediction and its place
    /// among the locker's occupants.
    fn track_occupant(
        &mut self,
        locker: LockerIdx,
        package: PackageId,
        compartment: CompartmentId,
        deposited_at: Millis,
    ) {
        if self.forecast.is_none() {
            return;
        }
        let ledger = &mut self.sites[locker as usize].ledger;
        let (Some(cache), Some(order), Some(view)) = (
            self.forecast.as_mut(),
            self.orders.get_mut(&package),
            ledger.view(),
        ) else {
            return;
        };
        let home = order.request.locker as usize;
        let features = DwellFeatures {
            tier: order.request.tier,
            size: order.request.size,
            kind: self.cfg.lockers[home].kind,
            checkout_ms: order.checkout_at,
            deposit_ms: deposited_at,
            deposit_wall: self.cfg.calendar.wall(deposited_at),
            // The report carries the ledger after the deposit.
            occupied: view.occupied.saturating_sub(1),
            compartments: view.total_capacity(),
        };
        order.forecast = cache.index_of(&features);
        order.deposit_at = deposited_at;
        order.compartment_size = ledger.size_of(compartment);
        order.occ_pos = ledger.occupants.len();
        ledger.occupants.push(Occupant {
            package,
            size: order.compartment_size.unwrap_or(Size::S),
            forecast: order.forecast,
            deposit_at: deposited_at,
        });
    }

    /// Fires due timers (reservation timeouts, reminders, expiries), forgets
    /// orders finished a day ago, and marks lockers silent for longer than
    /// `stale_after` as stale.
    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        let now = crate::time::clamp_instant(now);
        while let Some((at, package, timer)) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.fire(package, timer, out);
        }
        while let Some(&(at, package)) = self.finished.front() {
            if at + KEEP_FINISHED > now {
                break;
            }
            self.finished.pop_front();
            self.orders.remove(&package);
        }
        let stale_after = self.cfg.stale_after;
        for &l in &self.offline {
            let ledger = &mut self.sites[l as usize].ledger;
            if ledger.offline_since.is_some_and(|t| now - t >= stale_after) {
                ledger.stale = true;
            }
        }
        self.drop_void_timers();
    }

    /// Locker `locker` spoke (or the broker says it is back).
    fn heard(&mut self, locker: LockerIdx) {
        let ledger = &mut self.sites[locker as usize].ledger;
        if ledger.offline_since.is_some() {
            self.offline.retain(|&l| l != locker);
        }
        ledger.heard();
    }

    /// Pops timers at the front that can no longer fire (a reservation
    /// used before its deadline, a package picked up before its reminder),
    /// so `next_deadline` names a time when there is something to do and a
    /// driver does not wake for nothing.
    fn drop_void_timers(&mut self) {
        while let Some((_, package, timer)) = self.timers.peek() {
            let live = self
                .orders
                .get(&package)
                .is_some_and(|o| timer.applies_to(o.state));
            if live {
                break;
            }
            self.timers.pop();
        }
    }

    fn fire(&mut self, package: PackageId, timer: Timer, out: &mut Vec<Output>) {
        let Some(order) = self.orders.get(&package) else {
            return;
        };
        let (at, size, tier, expires_at) = (
            order.at,
            order.request.size,
            order.request.tier,
            order.expires_at,
        );
        match (timer, order.state) {
            (Timer::ReservationDue, OrderState::Reserved { held }) => {
                let cancel = LockerInput::CancelReservation { package };
                self.command(at, cancel, Effect::Cancel { size, tier, held }, out);
                self.set_state(package, OrderState::CancelSent);
            }
            (Timer::Reminder, OrderState::Deposited) => {
                let reply = Reply::Reminder {
                    order: package,
                    expires_at,
                };
                self.reply(package, reply, out);
                self.timers.set(expires_at, package, Timer::Expiry, tier);
            }
            (Timer::Expiry, OrderState::Deposited) => {
                self.command(at, LockerInput::Expire { package }, Effect::None, out);
                self.set_state(package, OrderState::ExpireSent);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
