//! Controller core: flows, access rules, idempotency.

use super::*;
use crate::access::pass::{self, PassError, Role};
use crate::access::AuditEvent;
use crate::access::{qr, PickupCode};
use crate::domain::{CompartmentState, Tier};
use proptest::prelude::*;
use rand::SeedableRng;

const MIN: Millis = 60_000;

mod rotation;
mod snapshot;
mod staff;

struct Rig {
    c: Controller,
    keys: LockerKeys,
    seq: [u64; 4],
    out: Vec<Output>,
}

impl Rig {
    fn new(id: &str, master: u8) -> Self {
        let keys = LockerKeys::from_master(&[master; 32]);
        Self {
            c: Controller::new(id, keys.clone(), [2, 1, 0, 0], ControllerConfig::default()),
            keys,
            seq: [0; 4],
            out: Vec::new(),
        }
    }

    fn send(&mut self, now: Millis, source: Source, input: Input) -> Vec<Output> {
        self.seq[source.index()] += 1;
        self.out.clear();
        let s = self.seq[source.index()];
        self.c
            .handle(now, source, s, &input, &mut self.out)
            .expect("accepted");
        self.out.clone()
    }

    /// The service reserves room for a small next-day `package`.
    fn reserve(&mut self, now: Millis, package: u64) -> Vec<Output> {
        self.send(
            now,
            Source::Service,
            Input::Reserve {
                package,
                tier: Tier::NextDay,
                size: Size::S,
                hold: false,
            },
        )
    }

    /// Reserve, deposit and attach a credential; returns the compartment.
    fn deposit(&mut self, now: Millis, package: u64, code: u32) -> CompartmentId {
        self.reserve(now, package);
        let out = self.scan(now, package);
        let c = opened(&out).expect("door opens for the driver");
        let out = self.send(
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: true,
            },
        );
        assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::Deposited { package, compartment: c })));
        let hash = self.keys.hash_code(PickupCode::new(code).unwrap());
        self.send(
            now,
            Source::Service,
            Input::Credential {
                package,
                code_hash: hash,
                not_after: now + 72 * 60 * MIN,
            },
        );
        c
    }

    /// A pass for `role` at L1 and L2, valid for the first week.
    fn pass(&self, role: Role) -> String {
        staff_pass(self.c.locker_id(), self.keys.clone(), role)
    }

    fn sign_in(&mut self, now: Millis, role: Role) -> Vec<Output> {
        let pass = self.pass(role);
        self.send(now, Source::Kiosk, Input::StaffPass { pass: pass.into() })
    }

    /// A driver signs in and scans `package`: the scan's outputs.
    fn scan(&mut self, now: Millis, package: u64) -> Vec<Output> {
        self.sign_in(now, Role::Driver);
        self.send(now, Source::Kiosk, Input::DriverScan { package })
    }

    fn type_code(&mut self, now: Millis, code: u32) -> Vec<Output> {
        self.send(
            now,
            Source::Kiosk,
            Input::Keypad {
                code: PickupCode::new(code).unwrap(),
            },
        )
    }
}

/// A week's pass for `role` at `locker` alone, signed with `keys`.
fn staff_pass(locker: &str, keys: LockerKeys, role: Role) -> String {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
    let claims = pass::claims(
        &mut rng,
        role,
        "R1",
        vec![locker.into()],
        0,
        7 * 24 * 60 * MIN,
    );
    pass::issue(&claims, |_| keys.clone()).unwrap()
}

fn opened(out: &[Output]) -> Option<CompartmentId> {
    out.iter().find_map(|o| match o {
        Output::OpenDoor { compartment } => Some(*compartment),
        _ => None,
    })
}

fn screen(out: &[Output]) -> Option<Screen> {
    out.iter().find_map(|o| match o {
        Output::Screen { message } => Some(*message),
        _ => None,
    })
}

#[test]
fn deposit_then_pickup_by_code() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 10, 123_456);
    let out = r.type_code(MIN, 123_456);
    assert_eq!(opened(&out), Some(c));
    let out = r.send(
        MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: false,
        },
    );
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::PickedUp { package: 10, compartment: c })));
    assert_eq!(r.c.view().occupied, 0);
    // Single use: the same code never opens anything again.
    assert_eq!(opened(&r.type_code(2 * MIN, 123_456)), None);
}

#[test]
fn a_code_opens_only_its_own_compartment() {
    let mut r = Rig::new("L1", 1);
    let a = r.deposit(0, 1, 111_111);
    let b = r.deposit(0, 2, 222_222);
    assert_ne!(a, b);
    let out = r.type_code(MIN, 222_222);
    assert_eq!(opened(&out), Some(b));
}

#[test]
fn a_code_for_one_locker_never_opens_another() {
    let mut l1 = Rig::new("L1", 1);
    let mut l2 = Rig::new("L2", 2);
    l1.deposit(0, 1, 333_333);
    l2.deposit(0, 9, 444_444);
    assert_eq!(opened(&l2.type_code(MIN, 333_333)), None);
    assert!(matches!(
        screen(&l2.type_code(MIN, 333_333)),
        Some(Screen::WrongCode { .. })
    ));
}

#[test]
fn expired_codes_never_open() {
    // By the service's expiry command …
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 1, 555_555);
    let out = r.send(10 * MIN, Source::Service, Input::Expire { package: 1 });
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::Expired { package: 1, compartment: c })));
    assert_eq!(opened(&r.type_code(11 * MIN, 555_555)), None);
    // … and by the controller's own clock, even with no command (offline).
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 555_555);
    assert_eq!(opened(&r.type_code(72 * 60 * MIN + 1, 555_555)), None);
}

#[test]
fn five_wrong_codes_lock_the_keypad_and_raise_an_alert() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_123);
    for i in 0..4 {
        let out = r.type_code(i, 999_999);
        assert_eq!(
            screen(&out),
            Some(Screen::WrongCode {
                tries_left: 4 - i as u32
            })
        );
    }
    let out = r.type_code(5, 999_999);
    let until = 5 + ControllerConfig::default().lockout_ms;
    assert!(out.contains(&Output::Alert {
        alert: Alert::KeypadLockout { until, level: 1 }
    }));
    // Even the right code is refused while locked.
    assert_eq!(
        screen(&r.type_code(6, 123_123)),
        Some(Screen::KeypadLocked { until })
    );
    assert!(opened(&r.type_code(until, 123_123)).is_some());
}

#[test]
fn a_success_does_not_reset_the_wrong_code_count() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 100_001);
    r.deposit(0, 2, 100_002);
    for t in 0..4 {
        r.type_code(t, 999_999);
    }
    let c = opened(&r.type_code(4, 100_001)).unwrap();
    r.send(
        4,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: false,
        },
    );
    assert!(matches!(
        screen(&r.type_code(5, 999_999)),
        Some(Screen::KeypadLocked { .. })
    ));
}

#[test]
fn qr_tokens_open_once_and_only_here() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 7, 424_242);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let token = qr::sign(&r.keys, &qr::claims(&mut rng, "L1", c, 7, 60 * MIN));
    let wrong_compartment = qr::sign(&r.keys, &qr::claims(&mut rng, "L1", c + 1, 7, 60 * MIN));
    let other_locker = qr::sign(&r.keys, &qr::claims(&mut rng, "L2", c, 7, 60 * MIN));
    for bad in [&wrong_compartment, &other_locker] {
        let out = r.send(MIN, Source::Kiosk, Input::QrScan { token: bad.clone() });
        assert_eq!(screen(&out), Some(Screen::InvalidToken));
    }
    let out = r.send(
        MIN,
        Source::Kiosk,
        Input::QrScan {
            token: token.clone(),
        },
    );
    assert_eq!(opened(&out), Some(c));
    r.send(
        MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: false,
        },
    );
    let out = r.send(2 * MIN, Source::Kiosk, Input::QrScan { token });
    assert_eq!(
        screen(&out),
        Some(Screen::InvalidToken),
        "a used token never opens again"
    );
    // The QR pickup also retired the keypad code.
    assert_eq!(opened(&r.type_code(3 * MIN, 424_242)), None);
}

#[test]
fn one_session_at_a_time() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_321);
    r.send(
        0,
        Source::Service,
        Input::Reserve {
            package: 2,
            tier: Tier::SameDay,
            size: Size::S,
            hold: false,
        },
    );
    let c = opened(&r.scan(MIN, 2)).unwrap();
    assert_eq!(screen(&r.type_code(MIN, 123_321)), Some(Screen::Busy));
    r.send(
        MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: true,
        },
    );
    assert!(opened(&r.type_code(MIN, 123_321)).is_some());
}

#[test]
fn full_locker_fails_the_delivery_and_releases_the_reservation() {
    let mut r = Rig::new("L1", 1);
    for p in 0..3 {
        r.deposit(0, p, 100_000 + p as u32);
    }
    r.send(
        0,
        Source::Service,
        Input::Reserve {
            package: 9,
            tier: Tier::SameDay,
            size: Size::S,
            hold: false,
        },
    );
    let out = r.scan(MIN, 9);
    assert_eq!(screen(&out), Some(Screen::NoCompartment));
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::DeliveryFailed { package: 9, reason: FailReason::Full })));
    assert_eq!(r.c.view().pending, [0; 4]);
}

#[test]
fn event_ids_are_unique_and_increase_by_one() {
    let mut r = Rig::new("L1", 1);
    let mut ids = Vec::new();
    for p in 0..3 {
        r.deposit(p as Millis, p, 200_000 + p as u32);
        let c = opened(&r.type_code(MIN, 200_000 + p as u32)).unwrap();
        let out = r.send(
            MIN,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: false,
            },
        );
        ids.extend(out.iter().filter_map(|o| match o {
            Output::Publish { event } => Some(event.id),
            _ => None,
        }));
    }
    assert_eq!(ids, vec![2, 4, 6]);
}

fn input_strategy() -> impl Strategy<Value = (Source, Input)> {
    let package = 0u64..4;
    prop_oneof![
        (package.clone(), any::<bool>()).prop_map(|(p, hold)| (
            Source::Service,
            Input::Reserve {
                package: p,
                tier: Tier::NextDay,
                size: Size::S,
                hold
            }
        )),
        package
            .clone()
            .prop_map(|p| (Source::Service, Input::CancelReservation { package: p })),
        package
            .clone()
            .prop_map(|p| (Source::Service, Input::Expire { package: p })),
        (package.clone(), 0u32..3).prop_map(|(p, code)| (
            Source::Service,
            Input::Credential {
                package: p,
                code_hash: LockerKeys::from_master(&[1; 32])
                    .hash_code(PickupCode::new(code).unwrap()),
                not_after: 10 * MIN
            }
        )),
        prop_oneof![Just(Role::Driver), Just(Role::Operator)].prop_map(|role| (
            Source::Kiosk,
            Input::StaffPass {
                pass: staff_pass("L1", LockerKeys::from_master(&[1; 32]), role).into()
            }
        )),
        Just((
            Source::Kiosk,
            Input::StaffPass {
                pass: staff_pass("L1", LockerKeys::from_master(&[2; 32]), Role::Driver).into()
            }
        )),
        Just((Source::Kiosk, Input::SignOut)),
        package
            .clone()
            .prop_map(|p| (Source::Kiosk, Input::DriverScan { package: p })),
        package
            .clone()
            .prop_map(|p| (Source::Kiosk, Input::OpsRetrieve { package: p })),
        (0u32..3).prop_map(|c| (
            Source::Kiosk,
            Input::Keypad {
                code: PickupCode::new(c).unwrap()
            }
        )),
        (0u32..3, any::<bool>()).prop_map(|(c, occupied)| (
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied
            }
        )),
        any::<bool>().prop_map(|up| (Source::Runtime, Input::Link { up })),
        any::<bool>().prop_map(|working| (Source::Runtime, Input::ScreenStatus { working })),
        Just((Source::Runtime, Input::Tick)),
        (0u32..3, any::<bool>()).prop_map(|(c, jam)| (
            Source::Sensors,
            Input::CompartmentUnusable {
                compartment: c,
                cause: if jam {
                    FaultCause::Jam
                } else {
                    FaultCause::Blocked
                }
            }
        )),
        proptest::collection::vec(any::<bool>(), 3)
            .prop_map(|occupied| (Source::Sensors, Input::Reconcile { occupied })),
        (0u32..3).prop_map(|c| (Source::Kiosk, Input::Repair { compartment: c })),
    ]
}

fn run(inputs: &[(Source, Input)], twice: bool) -> (Vec<Vec<Output>>, Vec<Result<(), Rejected>>) {
    let mut c = Controller::new(
        "L1",
        LockerKeys::from_master(&[1; 32]),
        [2, 1, 0, 0],
        ControllerConfig::default(),
    );
    let mut seq = [0u64; 4];
    let mut outputs = Vec::new();
    let mut results = Vec::new();
    for (i, (source, input)) in inputs.iter().enumerate() {
        seq[source.index()] += 1;
        let mut out = Vec::new();
        let first = c.handle(
            i as Millis * 1000,
            *source,
            seq[source.index()],
            input,
            &mut out,
        );
        if twice {
            let again = c.handle(
                i as Millis * 1000,
                *source,
                seq[source.index()],
                input,
                &mut out,
            );
            assert_eq!(again, Ok(Handled::Duplicate));
        }
        outputs.push(out);
        results.push(first.map(|_| ()));
        c.locker().check_invariants().unwrap();
    }
    (outputs, results)
}

/// Once, one service command numbered 18446744073709551615 made the locker
/// drop every later command, persistently and without a word.
#[test]
fn a_forged_command_number_is_refused_and_later_commands_apply() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    let expire = Input::Expire { package: 1 };
    let mut out = Vec::new();
    let high = r.c.last_seq(Source::Service);
    for seq in [u64::MAX, high + MAX_JUMP + 1] {
        let refused = r.c.handle(MIN, Source::Service, seq, &expire, &mut out);
        assert_eq!(refused, Err(Rejected::ImplausibleSequence { seq, high }));
        assert!(out.is_empty(), "{out:?}");
    }
    assert_eq!(r.c.last_seq(Source::Service), high);
    let out = r.send(MIN, Source::Service, expire);
    assert!(
        out.iter().any(|o| matches!(o, Output::Publish { event } if matches!(event.kind, EventKind::Expired { package: 1, .. }))),
        "{out:?}"
    );
}

proptest! {
    /// Any input delivered twice gives the same outputs, once.
    #[test]
    fn duplicated_inputs_change_nothing(inputs in proptest::collection::vec(input_strategy(), 0..60)) {
        prop_assert_eq!(run(&inputs, false), run(&inputs, true));
    }
}

#[test]
fn a_jammed_door_goes_to_maintenance_and_the_driver_gets_another() {
    let mut r = Rig::new("L1", 1);
    r.send(
        0,
        Source::Service,
        Input::Reserve {
            package: 1,
            tier: Tier::NextDay,
            size: Size::S,
            hold: false,
        },
    );
    let first = opened(&r.scan(0, 1)).unwrap();
    let out = r.send(
        0,
        Source::Sensors,
        Input::CompartmentUnusable {
            compartment: first,
            cause: FaultCause::Jam,
        },
    );
    assert!(out.contains(&Output::Alert {
        alert: Alert::CompartmentFault {
            compartment: first,
            cause: FaultCause::Jam
        }
    }));
    let second = opened(&out).expect("another compartment opens");
    assert_ne!(first, second);
    assert_eq!(
        r.c.locker().state(first),
        Some(CompartmentState::Maintenance)
    );
    r.send(
        0,
        Source::Sensors,
        Input::DoorClosed {
            compartment: second,
            occupied: true,
        },
    );
    assert_eq!(r.c.locker().compartment_of(1), Some(second));
    // The last two compartments jam as well: the delivery fails.
    r.send(
        0,
        Source::Service,
        Input::Reserve {
            package: 2,
            tier: Tier::NextDay,
            size: Size::S,
            hold: false,
        },
    );
    let c = opened(&r.scan(0, 2)).unwrap();
    let out = r.send(
        0,
        Source::Sensors,
        Input::CompartmentUnusable {
            compartment: c,
            cause: FaultCause::Jam,
        },
    );
    assert!(opened(&out).is_none());
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::DeliveryFailed { package: 2, reason: FailReason::Jam })));
    assert_eq!(r.c.view().maintenance, 2);
    r.sign_in(MIN, Role::Operator);
    r.send(MIN, Source::Kiosk, Input::Repair { compartment: first });
    assert_eq!(r.c.locker().state(first), Some(CompartmentState::Available));
    r.c.locker().check_invariants().unwrap();
}

#[test]
fn reconciliation_takes_phantom_items_out_of_service() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 1, 111_222);
    // Compartment 0 or 1 holds package 1; another reads occupied with nothing booked.
    let phantom = if c == 0 { 1 } else { 0 };
    let mut scan = vec![false; 3];
    scan[c as usize] = true;
    scan[phantom as usize] = true;
    let out = r.send(MIN, Source::Sensors, Input::Reconcile { occupied: scan });
    assert_eq!(
        r.c.locker().state(phantom),
        Some(CompartmentState::Maintenance)
    );
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::CompartmentFault { compartment: phantom, cause: FaultCause::SensorMismatch })));
    // A booked compartment reading empty is reported, not taken out (its package stays on the books).
    let out = r.send(
        MIN,
        Source::Sensors,
        Input::Reconcile {
            occupied: vec![false; 3],
        },
    );
    assert!(out.contains(&Output::Alert {
        alert: Alert::SensorMismatch { compartment: c }
    }));
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Occupied));
    let mut out = Vec::new();
    let bad = r.c.handle(
        MIN,
        Source::Sensors,
        99,
        &Input::Reconcile {
            occupied: vec![true],
        },
        &mut out,
    );
    assert_eq!(
        bad,
        Err(Rejected::BadReading {
            got: 1,
            expected: 3
        })
    );
}

#[test]
fn offline_too_long_the_controller_degrades_and_pauses_reservations() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 1, 333_444);
    r.send(MIN, Source::Runtime, Input::Link { up: false });
    // Pickups go on offline.
    assert_eq!(opened(&r.type_code(2 * MIN, 333_444)), Some(c));
    r.send(
        2 * MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: false,
        },
    );
    let out = r.send(2 * HOUR, Source::Runtime, Input::Tick);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::Degraded)));
    assert!(r.c.degraded());
    let mut out = Vec::new();
    let refused = r.c.handle(
        2 * HOUR,
        Source::Service,
        100,
        &Input::Reserve {
            package: 5,
            tier: Tier::SameDay,
            size: Size::S,
            hold: false,
        },
        &mut out,
    );
    assert_eq!(refused, Err(Rejected::Degraded));
    let out = r.send(3 * HOUR, Source::Runtime, Input::Link { up: true });
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::Recovered)));
    assert!(!r.c.degraded());
}

#[test]
fn a_broken_screen_refuses_codes_but_not_app_tokens() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 7, 555_666);
    r.send(MIN, Source::Runtime, Input::ScreenStatus { working: false });
    let out = r.type_code(MIN, 555_666);
    assert_eq!(opened(&out), None);
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::KeypadUnavailable
    }));
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    let token = qr::sign(&r.keys, &qr::claims(&mut rng, "L1", c, 7, HOUR));
    assert_eq!(
        opened(&r.send(MIN, Source::Kiosk, Input::QrScan { token })),
        Some(c)
    );
}

const HOUR: Millis = 60 * MIN;

#[test]
fn a_compartment_holding_a_package_is_never_taken_off_the_books() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 1, 777_888);
    let out = r.send(
        MIN,
        Source::Sensors,
        Input::CompartmentUnusable {
            compartment: c,
            cause: FaultCause::Jam,
        },
    );
    assert!(out.contains(&Output::Alert {
        alert: Alert::SensorMismatch { compartment: c }
    }));
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Occupied));
    assert_eq!(opened(&r.type_code(2 * MIN, 777_888)), Some(c));
}

impl Rig {
    /// Sends an input the controller must refuse; returns why.
    fn refused(&mut self, now: Millis, source: Source, input: Input) -> Rejected {
        self.seq[source.index()] += 1;
        self.out.clear();
        let s = self.seq[source.index()];
        self.c
            .handle(now, source, s, &input, &mut self.out)
            .expect_err("refused")
    }
}

#[test]
fn a_configure_outside_the_live_bounds_is_refused_and_changes_nothing() {
    let mut r = Rig::new("L1", 4);
    let before = *r.c.config();
    for bad in [
        ControllerConfig {
            lockout_ms: 0,
            ..before
        },
        ControllerConfig {
            max_wrong_codes: 0,
            ..before
        },
        ControllerConfig {
            stale_after_ms: -1,
            ..before
        },
        ControllerConfig {
            max_lockout_ms: before.lockout_ms - 1,
            ..before
        },
        ControllerConfig {
            session_timeout_ms: 0,
            ..before
        },
    ] {
        let e = r.refused(0, Source::Service, Input::Configure(bad));
        assert!(matches!(e, Rejected::BadConfig(_)), "{e}");
        assert_eq!(*r.c.config(), before);
    }
    let tighter = ControllerConfig {
        max_wrong_codes: 3,
        lockout_ms: 60 * MIN,
        ..before
    };
    r.send(0, Source::Service, Input::Configure(tighter));
    assert_eq!(*r.c.config(), tighter);
}

#[test]
fn scanning_a_deposited_package_opens_nothing() {
    let mut r = Rig::new("L1", 4);
    let c = r.deposit(MIN, 1, 123_456);
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Occupied));
    // Anyone holding the label scans it again: the door stays shut, the
    // service hears of no failed delivery, the attempt is audited.
    let out = r.scan(2 * MIN, 1);
    assert_eq!(opened(&out), None, "{out:?}");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Publish { .. })),
        "{out:?}"
    );
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::DriverScan {
            package: 1,
            compartment: None
        }
    }));
    assert!(out.contains(&Output::Alert {
        alert: Alert::ScanRefused { package: 1 }
    }));
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Occupied));
    assert_eq!(r.c.locker().compartment_of(1), Some(c));
}

#[test]
fn a_service_command_crossing_a_kiosk_session_never_strands_a_package() {
    let mut r = Rig::new("L1", 4);
    let reserve = Input::Reserve {
        package: 1,
        tier: Tier::SameDay,
        size: Size::S,
        hold: false,
    };
    r.send(0, Source::Service, reserve);
    let c = opened(&r.scan(MIN, 1)).unwrap();
    // The reservation lapses while the driver has the door open: refused.
    let e = r.refused(
        MIN,
        Source::Service,
        Input::CancelReservation { package: 1 },
    );
    assert!(matches!(e, Rejected::DropOffInProgress(1)), "{e}");
    r.send(
        MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: true,
        },
    );
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Occupied));
    // A cancel that arrives after the deposit (it was queued while the
    // locker was offline) must not release the package inside.
    let e = r.refused(
        2 * MIN,
        Source::Service,
        Input::CancelReservation { package: 1 },
    );
    assert!(
        matches!(e, Rejected::Locker(LockerError::Deposited(1))),
        "{e}"
    );
    assert_eq!(r.c.locker().compartment_of(1), Some(c));

    // The window closes while the customer has the door open: the pickup wins.
    let code_hash = r.keys.hash_code(PickupCode::new(123_456).unwrap());
    let credential = Input::Credential {
        package: 1,
        code_hash,
        not_after: 60 * MIN,
    };
    r.send(2 * MIN, Source::Service, credential);
    let door = opened(&r.type_code(3 * MIN, 123_456)).unwrap();
    let e = r.refused(3 * MIN, Source::Service, Input::Expire { package: 1 });
    assert!(matches!(e, Rejected::PickupInProgress(1)), "{e}");
    let out = r.send(
        3 * MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: door,
            occupied: false,
        },
    );
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if matches!(event.kind, EventKind::PickedUp { package: 1, .. }))));
}

#[test]
fn a_locked_keypad_leaves_qr_pickups_open() {
    // One vandal's wrong codes lock the keypad, not the locker: customers
    // with a QR token (or the app) still get their parcels.
    let mut r = Rig::new("L1", 5);
    let c = r.deposit(0, 7, 424_242);
    for t in 0..5 {
        r.type_code(t, 999_999);
    }
    assert!(matches!(
        screen(&r.type_code(10, 424_242)),
        Some(Screen::KeypadLocked { .. })
    ));
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
    let token = qr::sign(&r.keys, &qr::claims(&mut rng, "L1", c, 7, 60 * MIN));
    let out = r.send(MIN, Source::Kiosk, Input::QrScan { token });
    assert_eq!(opened(&out), Some(c));
}

#[test]
fn lockouts_in_a_row_escalate_and_alert_with_their_level() {
    let mut r = Rig::new("L1", 6);
    r.deposit(0, 1, 123_123);
    let mut now = 0;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut out = Vec::new();
        for _ in 0..5 {
            out = r.type_code(now, 999_999);
        }
        let (until, level) = out
            .iter()
            .find_map(|o| match o {
                Output::Alert {
                    alert: Alert::KeypadLockout { until, level },
                } => Some((*until, *level)),
                _ => None,
            })
            .expect("the fifth wrong code locks");
        seen.push(((until - now) / MIN, level));
        now = until;
    }
    assert_eq!(seen, [(15, 1), (60, 2), (240, 3)]);
}

#[test]
fn a_door_left_open_frees_the_kiosk_and_its_late_close_still_counts() {
    let mut r = Rig::new("L1", 7);
    let timeout = r.c.config().session_timeout_ms;
    let a = r.deposit(0, 1, 111_111);
    let b = r.deposit(0, 2, 222_222);
    // The first customer opens their door and walks away from it.
    assert_eq!(opened(&r.type_code(MIN, 111_111)), Some(a));
    // Before the timeout the kiosk is theirs …
    assert_eq!(
        screen(&r.type_code(MIN + timeout - 1, 222_222)),
        Some(Screen::Busy)
    );
    // … after it, the next customer is served and operations hear of the door.
    let out = r.type_code(MIN + timeout, 222_222);
    assert!(out.contains(&Output::Alert {
        alert: Alert::DoorLeftOpen { compartment: a }
    }));
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::SessionTimedOut { compartment: a }
    }));
    assert_eq!(opened(&out), Some(b));
    assert_eq!(r.c.open_doors().collect::<Vec<_>>(), [b, a]);
    // While the door is open the service cannot expire that package.
    let e = r.refused(MIN + timeout, Source::Service, Input::Expire { package: 1 });
    assert!(matches!(e, Rejected::PickupInProgress(1)), "{e}");
    // Both doors close, in either order: both pickups count.
    for (c, package) in [(a, 1), (b, 2)] {
        let out = r.send(
            2 * timeout,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: false,
            },
        );
        assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::PickedUp { package, compartment: c })), "{out:?}");
    }
    assert_eq!(r.c.open_doors().count(), 0);
    assert_eq!(r.c.view().occupied, 0);
}

#[test]
fn a_drop_off_left_open_still_blocks_the_cancel_and_deposits_on_close() {
    let mut r = Rig::new("L1", 8);
    let timeout = r.c.config().session_timeout_ms;
    let reserve = Input::Reserve {
        package: 1,
        tier: Tier::SameDay,
        size: Size::S,
        hold: false,
    };
    r.send(0, Source::Service, reserve);
    let c = opened(&r.scan(0, 1)).unwrap();
    // A tick after the timeout frees the kiosk (no one needs to be waiting).
    let out = r.send(timeout, Source::Runtime, Input::Tick);
    assert!(out.contains(&Output::Alert {
        alert: Alert::DoorLeftOpen { compartment: c }
    }));
    assert_eq!(r.c.open_session_door(), None);
    let e = r.refused(
        timeout,
        Source::Service,
        Input::CancelReservation { package: 1 },
    );
    assert!(matches!(e, Rejected::DropOffInProgress(1)), "{e}");
    let out = r.send(
        2 * timeout,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: true,
        },
    );
    assert!(out.iter().any(|o| matches!(o, Output::Publish { event } if event.kind == EventKind::Deposited { package: 1, compartment: c })), "{out:?}");
}
