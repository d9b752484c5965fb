//! Staff passes at the kiosk: who may scan, retrieve and repair, for how
//! long, and what a pass that keeps failing gets.

use super::*;

fn alerts(out: &[Output]) -> Vec<Alert> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert { alert } => Some(*alert),
            _ => None,
        })
        .collect()
}

fn refused(r: &mut Rig, now: Millis, pass: String, reason: PassError) {
    let out = r.send(now, Source::Kiosk, Input::StaffPass { pass: pass.into() });
    assert_eq!(screen(&out), Some(Screen::InvalidPass), "{out:?}");
    assert_eq!(alerts(&out), vec![Alert::PassRefused { reason }]);
    let out = r.send(now, Source::Kiosk, Input::DriverScan { package: 1 });
    assert_eq!(opened(&out), None, "{reason:?}: {out:?}");
}

#[test]
fn no_door_opens_for_a_driver_without_a_valid_pass_for_this_locker() {
    let mut r = Rig::new("L1", 1);
    r.reserve(0, 1);
    // No pass at all: the kiosk asks for one; the service hears nothing
    // (the driver signs in and scans again).
    let out = r.send(MIN, Source::Kiosk, Input::DriverScan { package: 1 });
    assert_eq!(opened(&out), None);
    assert_eq!(
        screen(&out),
        Some(Screen::SignInFirst { role: Role::Driver })
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Publish { .. })));
    // Another locker's pass, one signed with another key, an operator's.
    let l2 = Rig::new("L2", 1);
    refused(&mut r, MIN, l2.pass(Role::Driver), PassError::WrongLocker);
    let forged = staff_pass("L1", LockerKeys::from_master(&[9; 32]), Role::Driver);
    refused(&mut r, MIN, forged, PassError::BadSignature);
    r.sign_in(MIN, Role::Operator);
    let out = r.send(MIN, Source::Kiosk, Input::DriverScan { package: 1 });
    assert_eq!(opened(&out), None);
    assert_eq!(r.c.locker().view().pending[Size::S.index()], 1);
    // A pass outside its window (the controller's clock never goes back,
    // so this comes last).
    let week = 7 * 24 * 60 * MIN;
    let mine = r.pass(Role::Driver);
    refused(&mut r, week + 1, mine, PassError::Expired);
    assert_eq!(r.c.locker().view().pending[Size::S.index()], 1);
}

#[test]
fn the_drivers_own_pass_opens_the_reserved_compartment_until_it_expires() {
    let mut r = Rig::new("L1", 1);
    r.reserve(0, 1);
    let week = 7 * 24 * 60 * MIN;
    let out = r.scan(week, 1);
    assert!(opened(&out).is_some(), "{out:?}");
}

#[test]
fn retrieval_and_repair_need_an_operator_and_a_driver_pass_is_not_one() {
    let mut r = Rig::new("L1", 1);
    let c = r.deposit(0, 1, 123_456);
    r.send(MIN, Source::Service, Input::Expire { package: 1 });
    let retrieve = Input::OpsRetrieve { package: 1 };
    r.sign_in(2 * MIN, Role::Driver);
    let out = r.send(2 * MIN, Source::Kiosk, retrieve.clone());
    assert_eq!(opened(&out), None);
    assert_eq!(
        screen(&out),
        Some(Screen::SignInFirst {
            role: Role::Operator
        })
    );
    r.sign_in(2 * MIN, Role::Operator);
    assert_eq!(opened(&r.send(2 * MIN, Source::Kiosk, retrieve)), Some(c));
    r.send(
        3 * MIN,
        Source::Sensors,
        Input::DoorClosed {
            compartment: c,
            occupied: false,
        },
    );
    // A jammed door goes to maintenance; only an operator brings it back.
    r.send(
        4 * MIN,
        Source::Sensors,
        Input::CompartmentUnusable {
            compartment: c,
            cause: FaultCause::Jam,
        },
    );
    r.send(5 * MIN, Source::Kiosk, Input::SignOut);
    r.send(5 * MIN, Source::Kiosk, Input::Repair { compartment: c });
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Maintenance));
    r.sign_in(5 * MIN, Role::Driver);
    r.send(5 * MIN, Source::Kiosk, Input::Repair { compartment: c });
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Maintenance));
    r.sign_in(5 * MIN, Role::Operator);
    r.send(5 * MIN, Source::Kiosk, Input::Repair { compartment: c });
    assert_eq!(r.c.locker().state(c), Some(CompartmentState::Available));
}

#[test]
fn a_sign_in_ends_when_its_holder_goes_idle_signs_out_or_a_customer_comes() {
    let mut r = Rig::new("L1", 1);
    for p in 1..=4 {
        r.reserve(0, p);
    }
    let scan = |r: &mut Rig, now, package| {
        let out = r.send(now, Source::Kiosk, Input::DriverScan { package });
        let c = opened(&out);
        if let Some(c) = c {
            r.send(
                now,
                Source::Sensors,
                Input::DoorClosed {
                    compartment: c,
                    occupied: true,
                },
            );
        }
        c.is_some()
    };
    r.sign_in(0, Role::Driver);
    // Each scan keeps the sign-in alive; a pause longer than the idle
    // limit ends it.
    assert!(scan(&mut r, STAFF_IDLE_MS, 1));
    assert!(!scan(&mut r, 2 * STAFF_IDLE_MS + 1, 2));
    r.sign_in(2 * STAFF_IDLE_MS + 1, Role::Driver);
    r.send(2 * STAFF_IDLE_MS + 1, Source::Kiosk, Input::SignOut);
    assert!(!scan(&mut r, 2 * STAFF_IDLE_MS + 2, 2));
    // A customer typing a code: the driver has left the kiosk.
    r.sign_in(2 * STAFF_IDLE_MS + 3, Role::Driver);
    r.type_code(2 * STAFF_IDLE_MS + 3, 999_999);
    assert!(!scan(&mut r, 2 * STAFF_IDLE_MS + 4, 2));
    r.sign_in(2 * STAFF_IDLE_MS + 5, Role::Driver);
    assert!(scan(&mut r, 2 * STAFF_IDLE_MS + 5, 2));
}

#[test]
fn a_pass_that_keeps_scanning_packages_inside_is_locked_out_and_alerts() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    r.reserve(0, 2);
    r.sign_in(MIN, Role::Driver);
    let mut locked = Vec::new();
    for i in 1..=MAX_REFUSED_SCANS {
        let out = r.send(MIN, Source::Kiosk, Input::DriverScan { package: 1 });
        assert_eq!(opened(&out), None);
        assert!(alerts(&out).contains(&Alert::ScanRefused { package: 1 }));
        locked.extend(
            alerts(&out)
                .into_iter()
                .filter(|a| matches!(a, Alert::PassLocked { .. })),
        );
        assert_eq!(locked.len(), (i == MAX_REFUSED_SCANS) as usize, "scan {i}");
    }
    let until = MIN + ControllerConfig::default().lockout_ms;
    assert_eq!(locked, vec![Alert::PassLocked { until }]);
    // Signed out, and the pass is refused until then, even for a package
    // it could deliver.
    let out = r.send(MIN, Source::Kiosk, Input::DriverScan { package: 2 });
    assert_eq!(opened(&out), None);
    let out = r.sign_in(2 * MIN, Role::Driver);
    assert_eq!(screen(&out), Some(Screen::PassLocked { until }));
    assert_eq!(
        opened(&r.send(2 * MIN, Source::Kiosk, Input::DriverScan { package: 2 })),
        None
    );
    // Another driver's pass is not locked out by it.
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(99);
    let claims = pass::claims(
        &mut rng,
        Role::Driver,
        "R2",
        vec!["L1".into()],
        0,
        until * 2,
    );
    let other = pass::issue(&claims, |_| r.keys.clone()).unwrap();
    let out = r.send(
        2 * MIN,
        Source::Kiosk,
        Input::StaffPass { pass: other.into() },
    );
    assert_eq!(screen(&out), Some(Screen::SignedIn { role: Role::Driver }));
    r.send(2 * MIN, Source::Kiosk, Input::SignOut);
    // After the lockout the first pass works again.
    assert!(opened(&r.scan(until, 2)).is_some());
}

#[test]
fn a_sealed_pass_does_what_the_pass_does_and_holds_no_pass() {
    let mut r = Rig::new("L1", 1);
    r.reserve(0, 1);
    for (now, pass) in [(MIN, r.pass(Role::Driver)), (MIN, "junk".to_string())] {
        let input = Input::StaffPass {
            pass: pass.as_str().into(),
        };
        let sealed = r.c.seal(now, &input).expect("a pass is sealed");
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains(&pass), "{text}");
        let mut twin = Rig::new("L1", 1);
        twin.reserve(0, 1);
        assert_eq!(
            r.send(now, Source::Kiosk, input),
            twin.send(now, Source::Kiosk, sealed)
        );
    }
}

#[test]
fn an_operator_going_for_a_customers_parcel_is_refused_alerted_and_locked_out() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    r.sign_in(MIN, Role::Operator);
    for i in 1..=MAX_REFUSED_SCANS {
        let out = r.send(MIN, Source::Kiosk, Input::OpsRetrieve { package: 1 });
        assert_eq!(opened(&out), None, "not expired: not theirs to take");
        assert!(alerts(&out).contains(&Alert::ScanRefused { package: 1 }));
        let locked = alerts(&out)
            .iter()
            .any(|a| matches!(a, Alert::PassLocked { .. }));
        assert_eq!(locked, i == MAX_REFUSED_SCANS, "attempt {i}");
    }
    // Cut off, the expiry may be on its way: no alert, no strike.
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    r.send(MIN, Source::Runtime, Input::Link { up: false });
    r.sign_in(MIN, Role::Operator);
    for _ in 0..2 * MAX_REFUSED_SCANS {
        let out = r.send(MIN, Source::Kiosk, Input::OpsRetrieve { package: 1 });
        assert_eq!(opened(&out), None);
        assert!(alerts(&out).is_empty(), "{out:?}");
    }
}
