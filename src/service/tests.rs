//! The core against controller cores, wired directly (typed values, no
//! codec): every command is applied at once and every controller output is
//! reported back, as the simulator's plumbing does.

use super::*;
use crate::controller::{
    Controller, ControllerConfig, FailReason, Input as Ctl, Output as Out, Source,
};
use crate::domain::{OpeningHours, Size, Tier};
use crate::forecast::DwellModel;
use crate::policy::Policy;
use crate::scenario::Discovery;
use crate::time::HOUR;
use std::path::Path;
use std::sync::Arc;

const SECRET: [u8; 32] = [3; 32];

mod codes_held;
mod snapshot;

struct World {
    svc: Service,
    lockers: Vec<Controller>,
    /// While set, commands are kept here instead of reaching their locker
    /// (lost on the way, or held to be tampered with).
    intercepted: Option<Vec<(LockerIdx, u64, Ctl)>>,
    kiosk: u64,
    outbox: Vec<u64>,
    replies: Vec<Reply>,
    retrievals: Vec<(PackageId, LockerIdx)>,
}

fn config(n: usize, policy: Policy) -> ServiceConfig {
    let lockers = (0..n)
        .map(|i| {
            let mut l = LockerSpec::live(&format!("L{i}"), i, &SECRET, &CodeSeed::Insecure(9));
            // Everyone is everyone's neighbour, nearest = lowest index.
            l.discovery = (0..n as LockerIdx).filter(|&j| j as usize != i).collect();
            l.fallback = l.discovery.clone();
            l
        })
        .collect();
    ServiceConfig {
        lockers,
        policy,
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 24 * HOUR,
        reservation_timeout: [12 * HOUR, 36 * HOUR, 60 * HOUR, 130 * HOUR],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        calendar: Default::default(),
    }
}

impl World {
    fn new(cfg: ServiceConfig, layouts: &[[u32; 4]]) -> World {
        let lockers = cfg
            .lockers
            .iter()
            .zip(layouts)
            .map(|(l, &layout)| {
                let keys = crate::access::LockerKeys::for_locker(&SECRET, &l.id);
                Controller::new(l.id.clone(), keys, layout, ControllerConfig::default())
            })
            .collect();
        let n = layouts.len();
        let mut w = World {
            svc: Service::new(cfg).unwrap(),
            lockers,
            intercepted: None,
            kiosk: 0,
            outbox: vec![0; n],
            replies: Vec::new(),
            retrievals: Vec::new(),
        };
        for i in 0..n {
            w.report(0, i as LockerIdx, What::Ledger);
        }
        w
    }

    fn report(&mut self, now: Millis, locker: LockerIdx, what: What) {
        let l = locker as usize;
        self.outbox[l] += 1;
        let report = Report {
            applied: self.lockers[l].applied_commands(),
            epoch: 0,
            view: *self.lockers[l].view(),
            what,
        };
        let seq = self.outbox[l];
        self.input(
            now,
            Input::Report {
                locker,
                seq,
                report,
            },
        );
    }

    fn input(&mut self, now: Millis, input: Input) {
        let mut out = Vec::new();
        self.svc.handle(now, input, &mut out);
        self.route(now, out);
    }

    fn tick(&mut self, now: Millis) {
        let mut out = Vec::new();
        self.svc.tick(now, &mut out);
        self.route(now, out);
    }

    fn route(&mut self, now: Millis, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Reply { reply, .. } => self.replies.push(reply),
                Output::Command { locker, seq, input } => match &mut self.intercepted {
                    Some(kept) => kept.push((locker, seq, input)),
                    None => {
                        self.locker(now, locker, Source::Service, seq, input);
                    }
                },
                Output::Sync { locker } => self.report(now, locker, What::Ledger),
                Output::Retrieve { order, locker } => self.retrievals.push((order, locker)),
            }
        }
    }

    /// Feeds a controller and reports what it publishes; returns the door.
    fn locker(
        &mut self,
        now: Millis,
        l: LockerIdx,
        source: Source,
        seq: u64,
        input: Ctl,
    ) -> Option<u32> {
        let ctl = &mut self.lockers[l as usize];
        let before = *ctl.view();
        let mut out = Vec::new();
        let res = ctl.handle(now, source, seq, &input, &mut out);
        let changed = *ctl.view() != before;
        let mut door = None;
        let mut published = false;
        for o in out {
            match o {
                Out::Publish { event } => {
                    published = true;
                    self.report(now, l, What::Event { event });
                }
                Out::OpenDoor { compartment } => door = Some(compartment),
                _ => {}
            }
        }
        if let Err(e) = res {
            let what = What::Error {
                command: Some(seq.to_string()),
                reason: e.to_string(),
            };
            self.report(now, l, what);
        } else if !published && (changed || source == Source::Service) {
            // As `emu::Node`: every applied command is confirmed.
            self.report(now, l, What::Ledger);
        }
        door
    }

    /// Signs in whoever `input` needs (a driver, an operator) first.
    fn kiosk(&mut self, now: Millis, l: LockerIdx, input: Ctl) -> Option<u32> {
        if let Some(role) = input.staff_role() {
            let id = self.lockers[l as usize].locker_id().to_string();
            let pass = crate::access::pass::open_ended(&SECRET, role, &id);
            self.kiosk += 1;
            self.locker(
                now,
                l,
                Source::Kiosk,
                self.kiosk,
                Ctl::StaffPass { pass: pass.into() },
            );
        }
        self.kiosk += 1;
        self.locker(now, l, Source::Kiosk, self.kiosk, input)
    }

    fn close(&mut self, now: Millis, l: LockerIdx, compartment: u32, occupied: bool) {
        self.kiosk += 1;
        let input = Ctl::DoorClosed {
            compartment,
            occupied,
        };
        self.locker(now, l, Source::Sensors, self.kiosk, input);
    }

    fn reserve(&mut self, now: Millis, order: PackageId, locker: LockerIdx, tier: Tier) -> Reply {
        self.reserve_sized(now, order, locker, tier, Size::S)
    }

    fn reserve_sized(
        &mut self,
        now: Millis,
        order: PackageId,
        locker: LockerIdx,
        tier: Tier,
        size: Size,
    ) -> Reply {
        let req = ReserveRequest {
            order,
            locker,
            tier,
            size,
            lead: 0,
            client: "shop".into(),
            kind: Default::default(),
        };
        self.input(now, Input::Reserve(req));
        self.replies
            .iter()
            .rev()
            .find(|r| r.order() == order)
            .cloned()
            .unwrap()
    }

    fn outcome(&self, order: PackageId) -> Option<Outcome> {
        self.replies.iter().find_map(|r| match r {
            Reply::Outcome { order: o, outcome } if *o == order => Some(*outcome),
            _ => None,
        })
    }
}

#[test]
fn discovery_offers_the_nearest_locker_that_accepts() {
    // Naive hold: each reservation holds a compartment, so a locker stops
    // accepting when its compartments are promised.
    let mut cfg = config(3, Policy::NaiveHold {});
    cfg.discovery = Some(Discovery {
        radius_km: 1.0,
        hide_below_free_share: 0.0,
    });
    let mut w = World::new(cfg, &[[1, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]);
    let r = w.reserve(0, 1, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { locker: 0, .. }), "{r:?}");
    w.kiosk(HOUR, 0, Ctl::DriverScan { package: 1 });
    w.close(HOUR, 0, 0, true);
    // Locker 0 is full; locker 1 holds only an XL compartment (an S
    // package fits there); discovery takes the nearest that accepts.
    let r = w.reserve(HOUR, 2, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { locker: 1, .. }), "{r:?}");
    let r = w.reserve(HOUR, 3, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { locker: 2, .. }), "{r:?}");
    let r = w.reserve(HOUR, 4, 0, Tier::NextDay);
    assert!(
        matches!(
            r,
            Reply::Rejected {
                reason: RejectReason::Policy,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn discovery_hides_lockers_closed_when_the_driver_comes() {
    let mut cfg = config(2, Policy::Snapshot {});
    cfg.discovery = Some(Discovery {
        radius_km: 1.0,
        hide_below_free_share: 0.0,
    });
    // Locker 0 opens only on Sundays: a same-day driver due on Monday
    // cannot reach it, so the checkout goes to locker 1.
    let sunday = crate::domain::hours::DayHours {
        open: 0,
        close: 1440,
    };
    let mut days = [None; 7];
    days[6] = Some(sunday);
    cfg.lockers[0].hours = OpeningHours::new(days).unwrap();
    let mut w = World::new(cfg, &[[1, 0, 0, 0], [1, 0, 0, 0]]);
    let req = ReserveRequest {
        order: 1,
        locker: 0,
        tier: Tier::SameDay,
        size: Size::S,
        lead: 2 * HOUR,
        client: "shop".into(),
        kind: Default::default(),
    };
    w.input(0, Input::Reserve(req));
    assert!(
        matches!(w.replies[0], Reply::Accepted { locker: 1, .. }),
        "{:?}",
        w.replies
    );
}

/// Without discovery too: a locker the driver can only reach after the
/// reservation's deadline refuses the order as `Unreachable` (it used to
/// accept it, and the reservation lapsed to the doorstep: a broken
/// promise counted nowhere), while a lead time that makes it is accepted.
#[test]
fn an_order_no_driver_can_deliver_in_time_is_refused_as_unreachable() {
    let mut cfg = config(1, Policy::Snapshot {});
    assert!(cfg.discovery.is_none());
    // Open on Saturdays only (from hour 120); the scenario starts on a
    // Monday.
    let mut days = [None; 7];
    days[5] = Some(crate::domain::hours::DayHours {
        open: 0,
        close: 1440,
    });
    cfg.lockers[0].hours = OpeningHours::new(days).unwrap();
    let mut w = World::new(cfg, &[[60, 0, 0, 0]]);
    let reserve = |w: &mut World, order, tier, lead| {
        let req = ReserveRequest {
            order,
            locker: 0,
            tier,
            size: Size::S,
            lead,
            client: "shop".into(),
            kind: Default::default(),
        };
        w.input(0, Input::Reserve(req));
        w.replies.last().cloned().unwrap()
    };
    assert_eq!(
        reserve(&mut w, 1, Tier::SameDay, 2 * HOUR),
        Reply::Rejected {
            order: 1,
            reason: RejectReason::Unreachable
        }
    );
    // A standard order's reservation (130 h here) outlasts the wait for
    // Saturday.
    assert!(
        matches!(
            reserve(&mut w, 2, Tier::Standard, 2 * HOUR),
            Reply::Accepted { .. }
        ),
        "{:?}",
        w.replies
    );
}

#[test]
fn a_failed_drop_off_is_rerouted_once_then_goes_to_the_doorstep() {
    let mut w = World::new(
        config(2, Policy::Snapshot {}),
        &[[1, 0, 0, 0], [1, 0, 0, 0]],
    );
    w.reserve(0, 1, 0, Tier::NextDay);
    // The only compartment jams: the controller reports a failed delivery.
    let c = w.kiosk(HOUR, 0, Ctl::DriverScan { package: 1 }).unwrap();
    w.kiosk(
        HOUR,
        0,
        Ctl::CompartmentUnusable {
            compartment: c,
            cause: crate::controller::FaultCause::Jam,
        },
    );
    assert!(
        w.replies.contains(&Reply::Rerouted {
            order: 1,
            locker: 1
        }),
        "{:?}",
        w.replies
    );
    assert_eq!(
        w.lockers[1].view().pending,
        [1, 0, 0, 0],
        "reserved at the fallback"
    );
    let c = w.kiosk(HOUR, 1, Ctl::DriverScan { package: 1 }).unwrap();
    w.close(HOUR, 1, c, true);
    let code = w
        .replies
        .iter()
        .find_map(|r| match r {
            Reply::Code {
                order: 1,
                locker: 1,
                code,
                ..
            } => Some(*code),
            _ => None,
        })
        .expect("a code at the fallback locker");
    let door = w.kiosk(2 * HOUR, 1, Ctl::Keypad { code }).unwrap();
    w.close(2 * HOUR, 1, door, false);
    assert_eq!(w.outcome(1), Some(Outcome::ReroutedAlternateLocker));

    // Order 2: locker 0 is repaired and takes it, but its driver finds the
    // locker dark and goes to locker 1, which then has no room either: no
    // second reroute, the doorstep.
    w.kiosk(3 * HOUR, 0, Ctl::Repair { compartment: 0 });
    let r = w.reserve(3 * HOUR, 2, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { locker: 0, .. }), "{r:?}");
    w.input(
        3 * HOUR,
        Input::DropOffFailed {
            order: 2,
            locker: 0,
            reroute: true,
        },
    );
    assert!(w.replies.contains(&Reply::Rerouted {
        order: 2,
        locker: 1
    }));
    let report = What::Event {
        event: crate::controller::Event {
            id: 99,
            time: 3 * HOUR,
            kind: EventKind::DeliveryFailed {
                package: 2,
                reason: FailReason::Full,
            },
        },
    };
    w.report(3 * HOUR, 1, report);
    assert_eq!(w.outcome(2), Some(Outcome::ReroutedDoorstep));
    assert_eq!(w.svc.stats().rerouted, 2);
}

#[test]
fn timeouts_reminders_expiry_and_retrieval_run_on_the_service_clock() {
    let mut w = World::new(config(1, Policy::Snapshot {}), &[[2, 0, 0, 0]]);
    w.reserve(0, 1, 0, Tier::SameDay);
    w.reserve(0, 2, 0, Tier::SameDay);
    let c = w.kiosk(HOUR, 0, Ctl::DriverScan { package: 2 }).unwrap();
    w.close(HOUR, 0, c, true);
    assert_eq!(w.svc.next_deadline(), Some(12 * HOUR));
    w.tick(12 * HOUR);
    assert_eq!(
        w.outcome(1),
        Some(Outcome::ReroutedDoorstep),
        "no driver in time"
    );
    assert_eq!(w.lockers[0].view().pending, [0, 0, 0, 0]);
    w.tick(HOUR + 48 * HOUR - 1);
    assert!(!w
        .replies
        .iter()
        .any(|r| matches!(r, Reply::Reminder { .. })));
    w.tick(HOUR + 48 * HOUR);
    assert!(w.replies.contains(&Reply::Reminder {
        order: 2,
        expires_at: HOUR + 72 * HOUR
    }));
    w.tick(HOUR + 72 * HOUR);
    assert_eq!(w.retrievals, vec![(2, 0)], "operations are sent");
    let door = w
        .kiosk(80 * HOUR, 0, Ctl::OpsRetrieve { package: 2 })
        .unwrap();
    w.close(80 * HOUR, 0, door, false);
    assert_eq!(w.outcome(2), Some(Outcome::ExpiredReturned));
}

#[test]
fn reports_for_unknown_lockers_or_orders_change_nothing() {
    let mut w = World::new(config(1, Policy::Snapshot {}), &[[1, 0, 0, 0]]);
    let before = w.svc.stats().clone();
    let report = Report {
        applied: 0,
        epoch: 0,
        view: *w.lockers[0].view(),
        what: What::Ledger,
    };
    w.input(
        0,
        Input::Report {
            locker: 7,
            seq: 1,
            report,
        },
    );
    w.input(
        0,
        Input::Link {
            locker: 7,
            up: false,
        },
    );
    w.input(
        0,
        Input::DropOffFailed {
            order: 12345,
            locker: 0,
            reroute: true,
        },
    );
    assert_eq!(w.svc.stats(), &before);
    let r = w.reserve(0, 1, 9, Tier::SameDay);
    assert!(matches!(
        r,
        Reply::Rejected {
            reason: RejectReason::UnknownLocker,
            ..
        }
    ));
}

/// Day 0: twenty orders; day 1: forty; next-day and standard in turn, at
/// a locker of `size` small compartments. Returns the orders of each tier
/// accepted on day 0 and on day 1, and the service.
fn two_days(policy: &str, size: u32) -> ([usize; 2], [usize; 2], World) {
    let model = DwellModel::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/default"
    )))
    .expect("the shipped model");
    let mut cfg = config(1, crate::policy::spec::parse(policy).unwrap());
    cfg.model = Some(Arc::new(model));
    let mut w = World::new(cfg, &[[size, 0, 0, 0]]);
    let tiers = [Tier::NextDay, Tier::Standard];
    let count = |w: &mut World, at: Millis, orders: std::ops::Range<u64>| {
        let mut accepted = [0; 2];
        for o in orders {
            let t = (o % 2) as usize;
            if matches!(w.reserve(at, o, 0, tiers[t]), Reply::Accepted { .. }) {
                accepted[t] += 1;
            }
        }
        accepted
    };
    let day0 = count(&mut w, HOUR, 0..20);
    let day1 = count(&mut w, 24 * HOUR + HOUR, 100..140);
    (day0, day1, w)
}

#[test]
fn the_optimized_policy_plans_each_day_and_enforces_its_quotas() {
    let (check0, check1, _) = two_days("forecast:confidence=0.5", 40);
    // The optimized policy has no plan on day 0 (no demand seen), so only
    // the same check applies.
    let (day0, day1, w) = two_days("optimized:buffer=0.5,check.confidence=0.5", 40);
    assert_eq!(day0, check0);
    // On day 1 its plan, expecting ten of each tier a day with half the
    // locker as room, keeps standard orders (longer stays) to a quota and
    // no quota on next-day ones, whose freed room takes more of them than
    // the check alone did.
    let quota = w.svc.sites[0].day.quota;
    let standard = quota[Tier::Standard.index()][Size::S.index()];
    assert!(standard.is_finite() && standard < 10.0, "{quota:?}");
    assert!(quota[Tier::NextDay.index()][Size::S.index()].is_infinite());
    assert_eq!(day1[1] as f64, standard.ceil(), "the quota is enforced");
    assert!(day1[0] > check1[0], "next-day: {day1:?} vs {check1:?}");
}

/// The optimized plan's expected standard orders for day 35, after 35
/// days of four a day (three M, one L), planning with `demand`.
fn planned_after_quiet_weeks(
    policy: &str,
    demand: Option<crate::forecast::demand::DemandModel>,
) -> [f64; crate::domain::Size::COUNT] {
    let model = DwellModel::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/default"
    )))
    .expect("the shipped model");
    let policy = crate::policy::spec::parse(policy).unwrap();
    let Policy::Optimized(o) = policy.clone() else {
        unreachable!()
    };
    let mut cfg = config(1, policy);
    cfg.model = Some(Arc::new(model));
    cfg.demand_model = demand.map(Arc::new);
    let mut w = World::new(cfg, &[[100, 60, 30, 10]]);
    let mut order = 0;
    for day in 0..35 {
        for size in [Size::M, Size::M, Size::M, Size::L] {
            order += 1;
            let at = day * 24 * HOUR + HOUR;
            w.reserve_sized(at, order, 0, Tier::Standard, size);
        }
    }
    w.reserve_sized(35 * 24 * HOUR, 10_000, 0, Tier::SameDay, Size::S);
    let input = w.svc.plan_input(0, 35, &o).expect("a plan");
    input.demand[0][Tier::Standard.index()]
}

#[test]
fn the_optimized_plan_reads_the_demand_forecast_per_size() {
    // The trailing mean: four a day, split by the tier's size mix.
    let optimized = "optimized:check.confidence=0.5";
    let flat = planned_after_quiet_weeks(optimized, None);
    assert!((flat[Size::M.index()] - 3.0).abs() < 1e-9, "{flat:?}");
    assert!((flat[Size::L.index()] - 1.0).abs() < 1e-9, "{flat:?}");
    assert_eq!(flat[Size::S.index()], 0.0);
    // A forecast of three times the level.
    let model = crate::forecast::demand::model::constant_model(3.0);
    let forecast = planned_after_quiet_weeks(optimized, Some(model.clone()));
    assert!(
        (forecast[Size::M.index()] - 9.0).abs() < 1e-9,
        "{forecast:?}"
    );
    assert!(
        (forecast[Size::L.index()] - 3.0).abs() < 1e-9,
        "{forecast:?}"
    );
    // Told to, the plan keeps the trailing mean though it has the model.
    let told = "optimized:demand=trailing-mean,check.confidence=0.5";
    assert_eq!(planned_after_quiet_weeks(told, Some(model)), flat);
}

/// A locker in Warsaw open 08:00–18:15 local; a same-day order at
/// Wednesday 18:00 local whose driver needs 30 minutes cannot arrive while
/// it is open before the reservation lapses 12 hours later.
const WARSAW: &str = r#"
[simulation]
start_date = "2026-11-30"
timezone = "Europe/Warsaw"
[tiers.same_day]
reservation_timeout_hours = 12
[discovery]
radius_km = 1.0
[[locations]]
id = "W1"
kind = "commuter"
lat = 52.23
lon = 21.01
hours = "08:00-18:15"
compartments = { S = 4, M = 0, L = 0, XL = 0 }
"#;

#[test]
fn a_real_clock_service_on_wednesday_18_00_local_decides_as_the_simulator_does() {
    use crate::forecast::DwellFeatures;
    use crate::scenario::Scenario;
    use crate::time::{parse_timezone, Calendar, DAY, MINUTE};
    let sc = Scenario::from_toml(WARSAW, "warsaw.toml").unwrap();
    // The simulator: instants from the scenario's start, Monday 30 Nov 00:00 local.
    let sim_now = 2 * DAY + 18 * HOUR;
    let sim_cfg = ServiceConfig::live(&sc, &SECRET, &CodeSeed::Insecure(9), sc.calendar.clone());
    // `serve` on a real clock: Unix milliseconds, 2026-12-02T17:00Z.
    let real_now = 1_796_230_800_000;
    let warsaw = parse_timezone("Europe/Warsaw").unwrap();
    let real_cfg = ServiceConfig::live(
        &sc,
        &SECRET,
        &CodeSeed::Insecure(9),
        Calendar::real_clock(warsaw, real_now),
    );
    // The same service read in UTC, where it is 17:00 and the locker open.
    let utc = parse_timezone("UTC").unwrap();
    let utc_cfg = ServiceConfig::live(
        &sc,
        &SECRET,
        &CodeSeed::Insecure(9),
        Calendar::real_clock(utc, real_now),
    );

    let features = |cal: &Calendar, now: Millis| {
        DwellFeatures {
            tier: Tier::SameDay,
            size: Size::S,
            kind: crate::domain::LocationKind::Commuter,
            checkout_ms: now - HOUR,
            deposit_ms: now,
            deposit_wall: cal.wall(now),
            occupied: 1,
            compartments: 4,
        }
        .encode()
    };
    let sim_features = features(&sim_cfg.calendar, sim_now);
    assert_eq!(sim_features, features(&real_cfg.calendar, real_now));
    // Weekday (0 = Monday) and hour of the deposit, as the forest sees them.
    assert_eq!((sim_features[7], sim_features[8]), (2.0, 18.0));
    assert_eq!(features(&utc_cfg.calendar, real_now)[8], 17.0);

    let decide = |cfg: ServiceConfig, now: Millis| {
        let mut w = World::new(cfg, &[[60, 0, 0, 0]]);
        w.svc.handle(
            0,
            Input::Link {
                locker: 0,
                up: true,
            },
            &mut Vec::new(),
        );
        let req = ReserveRequest {
            order: 1,
            locker: 0,
            tier: Tier::SameDay,
            size: Size::S,
            lead: 30 * MINUTE,
            client: "shop".into(),
            kind: Default::default(),
        };
        w.input(now, Input::Reserve(req));
        w.replies.last().cloned().unwrap()
    };
    let sim = decide(sim_cfg, sim_now);
    assert!(matches!(sim, Reply::Rejected { .. }), "{sim:?}");
    assert_eq!(decide(real_cfg, real_now), sim);
    assert!(matches!(decide(utc_cfg, real_now), Reply::Accepted { .. }));
}

/// Once, one report numbered 18446744073709551615 on a locker's ledger
/// topic made the service ignore every later report from that locker.
#[test]
fn a_forged_report_number_hides_no_genuine_report() {
    let mut w = World::new(config(1, Policy::NaiveHold {}), &[[2, 0, 0, 0]]);
    let forged = Report {
        applied: 0,
        epoch: 0,
        view: *w.lockers[0].view(),
        what: What::Ledger,
    };
    for seq in [u64::MAX, w.outbox[0] + 1 + crate::controller::MAX_JUMP] {
        let mut out = Vec::new();
        let report = forged.clone();
        w.svc.handle(
            0,
            Input::Report {
                locker: 0,
                seq,
                report,
            },
            &mut out,
        );
        assert!(out.is_empty());
    }
    assert_eq!(w.svc.stats().implausible_reports, 2);
    // The genuine locker carries on: a reservation, a deposit, a code.
    let r = w.reserve(HOUR, 1, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { .. }), "{r:?}");
    w.kiosk(2 * HOUR, 0, Ctl::DriverScan { package: 1 });
    w.close(2 * HOUR, 0, 0, true);
    assert!(
        w.replies
            .iter()
            .any(|r| matches!(r, Reply::Code { order: 1, .. })),
        "{:?}",
        w.replies
    );
}
