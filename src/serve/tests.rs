//! The service against the controller core, wired in memory through the
//! protocol's encoders and decoders (no broker).

use super::*;
use crate::access::{LockerKeys, PickupCode};
use crate::controller::{Controller, ControllerConfig, Input, Output, Source};
use crate::domain::{Size, Tier};
use crate::policy::{Policy, TierPartition, TierShares};
use crate::protocol::{decode, encode, Reply, Report, ReserveRequest, Route, What};
use crate::service::{CodeSeed, LockerSpec, ServiceConfig};

const SECRET: [u8; 32] = [7; 32];
const HOUR: Millis = 3_600_000;

struct Loop {
    svc: Gateway,
    ctl: Controller,
    kiosk: u64,
    outbox: u64,
    replies: Vec<Reply>,
    errors: Vec<String>,
    /// Every report published, to replay duplicates.
    sent_reports: Vec<(String, Vec<u8>)>,
}

fn config(policy: Policy) -> ServiceConfig {
    one_locker(policy, &SECRET, 1)
}

/// Locker L1 under `secret`, codes from the test seed `codes`, short
/// timeouts: the service the gateway and emulator tests talk to.
pub(crate) fn one_locker(policy: Policy, secret: &[u8; 32], codes: u64) -> ServiceConfig {
    ServiceConfig {
        lockers: vec![LockerSpec::live(
            "L1",
            0,
            secret,
            &CodeSeed::Insecure(codes),
        )],
        policy,
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 0,
        reservation_timeout: [12 * HOUR, 36 * HOUR, 60 * HOUR, 130 * HOUR],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        calendar: Default::default(),
    }
}

fn gateway(policy: Policy) -> Gateway {
    gateway_with(config(policy))
}

fn gateway_with(cfg: ServiceConfig) -> Gateway {
    let core = Service::new(cfg).unwrap();
    Gateway::new(core, Topics::new("lockerlab", "r1").unwrap())
}

impl Loop {
    fn new(policy: Policy, layout: [u32; 4]) -> Loop {
        Loop::with(config(policy), layout)
    }

    fn with(cfg: ServiceConfig, layout: [u32; 4]) -> Loop {
        let keys = LockerKeys::for_locker(&SECRET, "L1");
        let mut l = Loop {
            svc: gateway_with(cfg),
            ctl: Controller::new("L1", keys, layout, ControllerConfig::default()),
            kiosk: 0,
            outbox: 0,
            replies: Vec::new(),
            errors: Vec::new(),
            sent_reports: Vec::new(),
        };
        // The locker introduces itself with a ledger report.
        l.report(0, What::Ledger);
        l
    }

    fn report(&mut self, now: Millis, what: What) {
        self.outbox += 1;
        let topic = self.svc.topics().report("L1", what.topic_kind());
        let report = Report {
            applied: self.ctl.applied_commands(),
            epoch: 0,
            view: *self.ctl.view(),
            what,
        };
        let payload = encode(self.outbox.to_string(), now, &report);
        self.sent_reports.push((topic.clone(), payload.clone()));
        self.deliver(now, &topic, &payload);
    }

    /// Delivers one message to the service and everything that follows.
    fn deliver(&mut self, now: Millis, topic: &str, payload: &[u8]) {
        let mut out = Vec::new();
        self.svc.handle(now, topic, payload, &mut out);
        self.route(now, out);
    }

    fn tick(&mut self, now: Millis) {
        let mut out = Vec::new();
        self.svc.tick(now, &mut out);
        self.route(now, out);
    }

    fn route(&mut self, now: Millis, out: Vec<Outgoing>) {
        for m in out {
            match self.svc.topics().parse(&m.topic).unwrap() {
                Route::Command {
                    kind: protocol::CommandKind::Sync,
                    ..
                } => {
                    protocol::decode_sync(&m.payload).unwrap();
                    self.report(now, What::Ledger);
                }
                Route::Command { kind, .. } => {
                    let msg = protocol::decode_command(kind, &m.payload).unwrap();
                    self.locker(now, Source::Service, msg.seq, msg.command.to_input());
                }
                Route::Reply { .. } => self.replies.push(decode::<Reply>(&m.payload).unwrap().body),
                Route::ServiceError => {
                    let e = decode::<protocol::ErrorBody>(&m.payload).unwrap();
                    self.errors.push(e.body.reason);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Feeds the locker core; returns the door it opened.
    fn locker(&mut self, now: Millis, source: Source, seq: u64, input: Input) -> Option<u32> {
        let before = *self.ctl.view();
        let mut out = Vec::new();
        let res = self.ctl.handle(now, source, seq, &input, &mut out);
        let mut door = None;
        let mut published = false;
        for o in out {
            match o {
                Output::Publish { event } => {
                    published = true;
                    self.report(now, What::Event { event });
                }
                Output::OpenDoor { compartment } => door = Some(compartment),
                _ => {}
            }
        }
        if let Err(e) = res {
            self.report(
                now,
                What::Error {
                    command: Some(seq.to_string()),
                    reason: e.to_string(),
                },
            );
        } else if !published && (*self.ctl.view() != before || source == Source::Service) {
            // As `emu::Node`: every applied command is confirmed.
            self.report(now, What::Ledger);
        }
        door
    }

    /// Signs in whoever `input` needs (a driver, an operator) first.
    fn kiosk(&mut self, now: Millis, input: Input) -> Option<u32> {
        if let Some(role) = input.staff_role() {
            let pass = crate::access::pass::open_ended(&SECRET, role, "L1");
            self.kiosk += 1;
            self.locker(
                now,
                Source::Kiosk,
                self.kiosk,
                Input::StaffPass { pass: pass.into() },
            );
        }
        self.kiosk += 1;
        self.locker(now, Source::Kiosk, self.kiosk, input)
    }

    fn request(&mut self, now: Millis, order: u64, tier: Tier, size: Size) -> Reply {
        let req = ReserveRequest {
            order,
            locker: "L1".into(),
            tier,
            size,
            client: "shop".into(),
            lead_ms: 0,
            kind: Default::default(),
        };
        let topic = self.svc.topics().reserve();
        self.deliver(now, &topic, &encode(format!("r{order}"), now, &req));
        self.replies.last().cloned().unwrap()
    }

    fn deposit(&mut self, now: Millis, package: u64) -> u32 {
        let c = self.kiosk(now, Input::DriverScan { package }).unwrap();
        self.locker(
            now,
            Source::Sensors,
            self.kiosk + 1000,
            Input::DoorClosed {
                compartment: c,
                occupied: true,
            },
        );
        c
    }

    fn code_of(&self, order: u64) -> Option<PickupCode> {
        self.replies.iter().find_map(|r| match r {
            Reply::Code { order: o, code, .. } if *o == order => Some(*code),
            _ => None,
        })
    }

    fn outcome_of(&self, order: u64) -> Option<OrderOutcome> {
        self.replies.iter().find_map(|r| match r {
            Reply::Outcome { order: o, outcome } if *o == order => Some(*outcome),
            _ => None,
        })
    }
}

fn snapshot() -> Policy {
    Policy::Snapshot {}
}

#[test]
fn reservation_deposit_code_and_pickup() {
    let mut l = Loop::new(snapshot(), [1, 1, 0, 0]);
    let r = l.request(0, 1, Tier::NextDay, Size::M);
    assert!(matches!(r, Reply::Accepted { hold: false, .. }), "{r:?}");
    assert_eq!(
        l.ctl.view().pending,
        [0, 1, 0, 0],
        "the locker holds the reservation"
    );
    let c = l.deposit(HOUR, 1);
    assert_eq!(c, 1, "the M compartment");
    let code = l.code_of(1).expect("a code was sent to the customer");
    assert_eq!(l.ctl.active_credentials(), 1);
    let door = l.kiosk(2 * HOUR, Input::Keypad { code });
    assert_eq!(door, Some(1));
    l.locker(
        2 * HOUR,
        Source::Sensors,
        5000,
        Input::DoorClosed {
            compartment: 1,
            occupied: false,
        },
    );
    assert_eq!(l.outcome_of(1), Some(OrderOutcome::PickedUp));
    assert_eq!(l.svc.stats().picked_up, 1);
    assert_eq!(l.svc.open_orders(), 0);
    // A finished order is remembered for a day (retries), then forgotten.
    l.tick(2 * HOUR + 24 * HOUR - 1);
    assert_eq!(l.svc.remembered_orders(), 1);
    l.tick(2 * HOUR + 24 * HOUR);
    assert_eq!(l.svc.remembered_orders(), 0);
}

#[test]
fn the_service_cancels_unused_reservations_and_expires_packages() {
    let mut l = Loop::new(snapshot(), [2, 0, 0, 0]);
    l.request(0, 1, Tier::SameDay, Size::S);
    l.request(0, 2, Tier::SameDay, Size::S);
    l.deposit(HOUR, 2);
    // Order 1: no driver by the deadline.
    l.tick(12 * HOUR);
    assert_eq!(l.outcome_of(1), Some(OrderOutcome::DeliveryFailed));
    assert_eq!(l.ctl.view().pending, [0, 0, 0, 0]);
    // Order 2: never collected; the service's clock expires it.
    l.tick(HOUR + 72 * HOUR - 1);
    assert_eq!(l.outcome_of(2), None);
    l.tick(HOUR + 72 * HOUR);
    assert_eq!(l.ctl.active_credentials(), 0, "the code was revoked");
    let door = l
        .kiosk(80 * HOUR, Input::OpsRetrieve { package: 2 })
        .unwrap();
    l.locker(
        80 * HOUR,
        Source::Sensors,
        9000,
        Input::DoorClosed {
            compartment: door,
            occupied: false,
        },
    );
    assert_eq!(l.outcome_of(2), Some(OrderOutcome::ExpiredReturned));
}

#[test]
fn every_parcel_still_there_at_reminder_time_gets_a_reminder() {
    let cfg = ServiceConfig {
        reminder_before_expiry: 24 * HOUR,
        ..config(snapshot())
    };
    let mut l = Loop::with(cfg, [2, 0, 0, 0]);
    l.request(0, 1, Tier::SameDay, Size::S);
    l.request(0, 2, Tier::SameDay, Size::S);
    l.deposit(HOUR, 1);
    l.deposit(HOUR, 2);
    // Order 1 is collected before its reminder; order 2 is not.
    let code = l.code_of(1).unwrap();
    let door = l.kiosk(10 * HOUR, Input::Keypad { code }).unwrap();
    l.locker(
        10 * HOUR,
        Source::Sensors,
        7000,
        Input::DoorClosed {
            compartment: door,
            occupied: false,
        },
    );
    let reminders = |l: &Loop| -> Vec<(u64, Millis)> {
        l.replies
            .iter()
            .filter_map(|r| match r {
                Reply::Reminder { order, expires_at } => Some((*order, *expires_at)),
                _ => None,
            })
            .collect()
    };
    l.tick(HOUR + 48 * HOUR - 1);
    assert!(reminders(&l).is_empty());
    l.tick(HOUR + 48 * HOUR);
    assert_eq!(reminders(&l), vec![(2, HOUR + 72 * HOUR)]);
    // One reminder per parcel, then the expiry.
    l.tick(HOUR + 72 * HOUR);
    assert_eq!(reminders(&l).len(), 1);
    assert_eq!(l.ctl.active_credentials(), 0);
}

#[test]
fn a_return_gets_no_code_and_waits_for_the_carrier() {
    let mut l = Loop::new(snapshot(), [1, 0, 0, 0]);
    let req = ReserveRequest {
        order: 7,
        locker: "L1".into(),
        tier: Tier::Standard,
        size: Size::S,
        client: "shop".into(),
        lead_ms: 0,
        kind: crate::service::ParcelKind::Return,
    };
    let payload = encode("r7", 0, &req);
    assert!(String::from_utf8_lossy(&payload).contains(r#""kind":"return""#));
    let topic = l.svc.topics().reserve();
    l.deliver(0, &topic, &payload);
    assert!(matches!(l.replies.last(), Some(Reply::Accepted { .. })));
    let door = l.deposit(HOUR, 7);
    assert_eq!(l.code_of(7), None, "nobody collects a return with a code");
    assert_eq!(l.ctl.active_credentials(), 0);
    // The locker was told at once that it waits for collection.
    let door2 = l
        .kiosk(5 * HOUR, Input::OpsRetrieve { package: 7 })
        .unwrap();
    assert_eq!(door, door2);
    l.locker(
        5 * HOUR,
        Source::Sensors,
        8000,
        Input::DoorClosed {
            compartment: door,
            occupied: false,
        },
    );
    assert_eq!(l.outcome_of(7), Some(OrderOutcome::ExpiredReturned));
    let stats = l.svc.stats();
    assert_eq!((stats.returns_collected, stats.expired_returned), (1, 0));
}

#[test]
fn reports_and_requests_are_applied_once() {
    let mut l = Loop::new(snapshot(), [1, 0, 0, 0]);
    l.request(0, 1, Tier::SameDay, Size::S);
    let again = l.request(0, 1, Tier::SameDay, Size::S);
    assert!(matches!(again, Reply::Accepted { .. }));
    assert_eq!(
        l.svc.stats().requests,
        1,
        "a retried request is answered, not re-admitted"
    );
    assert_eq!(l.ctl.view().pending, [1, 0, 0, 0]);
    l.deposit(HOUR, 1);
    let codes = l.svc.stats().codes_issued;
    // QoS 1 redelivers every report once more.
    for (topic, payload) in l.sent_reports.clone() {
        l.deliver(2 * HOUR, &topic, &payload);
    }
    assert_eq!(l.svc.stats().codes_issued, codes, "no second code");
    assert!(l.svc.stats().duplicate_reports >= 3);
    // The order id reused for another request is refused.
    let other = l.request(0, 1, Tier::TwoDay, Size::S);
    assert!(matches!(
        other,
        Reply::Rejected {
            reason: RejectReason::DuplicateOrder,
            ..
        }
    ));
}

#[test]
fn silent_lockers_are_stale_until_they_report() {
    let mut l = Loop::new(snapshot(), [3, 0, 0, 0]);
    // Quiet is fine while the broker says the locker is connected.
    l.tick(5 * HOUR);
    assert!(matches!(
        l.request(5 * HOUR, 9, Tier::SameDay, Size::S),
        Reply::Accepted { .. }
    ));
    // Its keep-alive lapsed: the broker published its will.
    let status = l.svc.topics().status("L1");
    let offline = encode(
        "will",
        0,
        &protocol::Status {
            state: LinkState::Offline,
        },
    );
    l.deliver(5 * HOUR, &status, &offline);
    l.tick(6 * HOUR - 1);
    assert!(
        !l.svc.locker("L1").unwrap().stale,
        "a short outage is tolerated"
    );
    l.tick(6 * HOUR);
    let r = l.request(6 * HOUR, 1, Tier::SameDay, Size::S);
    assert!(
        matches!(
            r,
            Reply::Rejected {
                reason: RejectReason::Stale,
                ..
            }
        ),
        "{r:?}"
    );
    l.report(7 * HOUR, What::Ledger);
    let r = l.request(7 * HOUR, 2, Tier::SameDay, Size::S);
    assert!(matches!(r, Reply::Accepted { .. }), "{r:?}");
}

#[test]
fn admission_counts_reservations_still_in_flight() {
    // Tier partition: same-day gets 50% of 2 compartments = 1.
    let policy = Policy::TierPartition(TierPartition {
        shares: TierShares {
            same_day: 0.5,
            next_day: 0.5,
            two_day: 0.0,
            standard: 0.0,
        },
    });
    let mut l = Loop::new(policy, [2, 0, 0, 0]);
    // Deliver the request without letting the command reach the locker.
    let req = ReserveRequest {
        order: 1,
        locker: "L1".into(),
        tier: Tier::SameDay,
        size: Size::S,
        client: "shop".into(),
        lead_ms: 0,
        kind: Default::default(),
    };
    let mut out = Vec::new();
    let topic = l.svc.topics().reserve();
    l.svc.handle(0, &topic, &encode("a", 0, &req), &mut out);
    assert_eq!(l.ctl.view().pending, [0, 0, 0, 0], "not applied yet");
    let req2 = ReserveRequest { order: 2, ..req };
    l.svc.handle(0, &topic, &encode("b", 0, &req2), &mut out);
    let reply = out
        .iter()
        .filter_map(|m| decode::<Reply>(&m.payload).ok().map(|e| e.body))
        .find(|r| {
            matches!(
                r,
                Reply::Rejected { order: 2, .. } | Reply::Accepted { order: 2, .. }
            )
        })
        .unwrap();
    assert!(
        matches!(
            reply,
            Reply::Rejected {
                reason: RejectReason::Policy,
                ..
            }
        ),
        "the in-flight same-day reservation uses the tier's share: {reply:?}"
    );
}

#[test]
fn malformed_messages_are_answered_on_the_error_topic() {
    let mut l = Loop::new(snapshot(), [1, 0, 0, 0]);
    let topic = l.svc.topics().reserve();
    l.deliver(0, &topic, br#"{"v":1,"id":"x","ts":0,"body":{"order":1}}"#);
    assert_eq!(l.errors.len(), 1);
    assert!(
        l.errors[0].contains("missing field `locker`"),
        "{}",
        l.errors[0]
    );
    l.deliver(0, "lockerlab/r1/L1/evt/deposited", b"garbage");
    assert!(l.errors[1].contains("not UTF-8 JSON"), "{}", l.errors[1]);
    assert_eq!(l.svc.stats().malformed, 2);
}

#[test]
fn policies_the_service_cannot_run_are_refused_with_a_reason() {
    let policy = crate::policy::spec::parse("forecast:confidence=0.99").unwrap();
    let e = Service::new(config(policy)).err().unwrap();
    assert!(e.contains("give a model"), "{e}");
    let policy = crate::policy::spec::parse("optimized").unwrap();
    let e = Service::new(config(policy)).err().unwrap();
    assert!(
        e.contains("`optimized`") && e.contains("give a model"),
        "{e}"
    );
}

#[test]
fn a_restarted_service_asks_lockers_it_hears_of_for_their_ledger() {
    let mut l = Loop::new(snapshot(), [2, 0, 0, 0]);
    l.request(0, 1, Tier::SameDay, Size::S);
    // The service restarts: it knows nothing, until the broker hands it the
    // locker's retained status.
    l.svc = gateway(snapshot());
    let r = l.request(HOUR, 2, Tier::SameDay, Size::S);
    assert!(matches!(
        r,
        Reply::Rejected {
            reason: RejectReason::UnknownLocker,
            ..
        }
    ));
    let status = l.svc.topics().status("L1");
    let online = encode(
        "status",
        0,
        &protocol::Status {
            state: LinkState::Online,
        },
    );
    l.deliver(HOUR, &status, &online);
    // The sync was answered with the locker's ledger (order 1's reservation in it).
    assert_eq!(
        l.svc.locker("L1").unwrap().view().unwrap().pending,
        [1, 0, 0, 0]
    );
    let r = l.request(HOUR, 3, Tier::SameDay, Size::S);
    assert!(matches!(r, Reply::Accepted { .. }), "{r:?}");
}

#[test]
fn a_drivers_failed_drop_off_sends_the_package_to_the_doorstep_and_is_counted() {
    let mut l = Loop::new(snapshot(), [1, 1, 0, 0]);
    let r = l.request(0, 1, Tier::NextDay, Size::M);
    assert!(matches!(r, Reply::Accepted { .. }), "{r:?}");
    let topic = l.svc.topics().dropoff_failed();
    assert_eq!(l.svc.topics().parse(&topic).unwrap(), Route::DropOffFailed);
    let msg = protocol::DropOffFailed {
        order: 1,
        locker: "L1".into(),
        reroute: false,
    };
    l.deliver(HOUR, &topic, &encode("df-1", HOUR, &msg));
    // No fallback to offer (and none asked for): the doorstep; the locker
    // is told to release the reservation.
    assert_eq!(l.outcome_of(1), Some(OrderOutcome::DeliveryFailed));
    assert_eq!(l.ctl.view().pending.iter().sum::<u32>(), 0);
    // A report naming a locker the service does not serve is refused.
    let stranger = protocol::DropOffFailed {
        order: 1,
        locker: "L9".into(),
        reroute: true,
    };
    l.deliver(HOUR, &topic, &encode("df-2", HOUR, &stranger));
    assert!(l.errors.last().unwrap().contains("unknown locker `L9`"));
    // Both count as client messages handled (a driver waits on them).
    assert_eq!(l.svc.client_messages(), 3);
    let t = l.svc.traffic()[0];
    assert!(t.commands >= 2, "reserve and cancel: {t:?}");
    assert!(t.reports >= 1, "{t:?}");
}

/// Once, a clock at the end of time (a fuzzed `tick`) overflowed a
/// reservation's deadline: the service takes no instant past any real one.
#[test]
fn a_clock_past_any_real_time_overflows_nothing() {
    let mut l = Loop::new(snapshot(), [1, 1, 0, 0]);
    for (order, now) in [(7, i64::MAX - 50), (8, i64::MAX)] {
        l.tick(now);
        // Wrapped, the deadline would be in 1970 minus 292 million years.
        let r = l.request(now, order, Tier::SameDay, Size::S);
        assert!(
            matches!(r, Reply::Accepted { due_by, .. } if due_by > 0),
            "{r:?}"
        );
    }
}
