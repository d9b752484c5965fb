//! A key rotation at the locker: during the overlap what either key made
//! opens; after it, only what the new key made.

use super::*;

fn old() -> LockerKeys {
    LockerKeys::from_master(&[1; 32])
}

fn new() -> LockerKeys {
    LockerKeys::from_master(&[2; 32])
}

/// A rig under `keys` whose package 1 is deposited with `code` hashed
/// under `issued_under` (the service's key when it sent the credential).
fn deposited(keys: LockerKeys, issued_under: &LockerKeys, code: u32) -> (Rig, CompartmentId) {
    let mut r = Rig::new("L1", 1);
    r.c = Controller::new(
        "L1",
        keys.clone(),
        [2, 1, 0, 0],
        ControllerConfig::default(),
    );
    r.keys = keys;
    r.reserve(0, 1);
    let c = opened(&r.scan(0, 1)).expect("the driver's door opens");
    let closed = Input::DoorClosed {
        compartment: c,
        occupied: true,
    };
    r.send(0, Source::Sensors, closed);
    let credential = Input::Credential {
        package: 1,
        code_hash: issued_under.hash_code(PickupCode::new(code).unwrap()),
        not_after: 72 * 60 * MIN,
    };
    r.send(0, Source::Service, credential);
    (r, c)
}

#[test]
fn during_the_overlap_codes_tokens_and_passes_of_either_key_open() {
    let both = || new().with_previous(old());
    for issued_under in [old(), new()] {
        let (mut r, c) = deposited(both(), &issued_under, 123_456);
        // Sealed, the code keeps its hash under both keys, and the sealed
        // input opens exactly as the typed one.
        let typed = Input::Keypad {
            code: PickupCode::new(123_456).unwrap(),
        };
        let sealed = r.c.seal(MIN, &typed).unwrap();
        let Input::KeypadHash { previous_hash, .. } = sealed else {
            panic!("{sealed:?}")
        };
        assert_eq!(
            previous_hash,
            Some(old().hash_code(PickupCode::new(123_456).unwrap()))
        );
        assert_eq!(opened(&r.send(MIN, Source::Kiosk, sealed)), Some(c));
    }
    // A pass and a QR token signed under the old key.
    let (mut r, c) = deposited(both(), &old(), 123_456);
    let pass = staff_pass("L1", old(), Role::Operator);
    let out = r.send(MIN, Source::Kiosk, Input::StaffPass { pass: pass.into() });
    assert!(out.contains(&Output::Screen {
        message: Screen::SignedIn {
            role: Role::Operator
        }
    }));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let token = qr::sign(&old(), &qr::claims(&mut rng, "L1", c, 1, 60 * MIN));
    assert_eq!(
        opened(&r.send(MIN, Source::Kiosk, Input::QrScan { token })),
        Some(c)
    );
}

#[test]
fn after_the_overlap_only_the_new_key_opens() {
    let (mut r, c) = deposited(new(), &old(), 123_456);
    let out = r.type_code(MIN, 123_456);
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::CodeRejected
    }));
    let pass = staff_pass("L1", old(), Role::Driver);
    let out = r.send(MIN, Source::Kiosk, Input::StaffPass { pass: pass.into() });
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Alert {
                alert: Alert::PassRefused { .. }
            }
        )),
        "{out:?}"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let token = qr::sign(&old(), &qr::claims(&mut rng, "L1", c, 1, 60 * MIN));
    let out = r.send(2 * MIN, Source::Kiosk, Input::QrScan { token });
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::QrRejected {
            reason: QrRejection::BadSignature
        }
    }));
    // A third key is no previous key.
    let third = LockerKeys::from_master(&[3; 32]);
    let (mut r, _) = deposited(new().with_previous(old()), &third, 654_321);
    let out = r.type_code(MIN, 654_321);
    assert!(out.contains(&Output::Audit {
        event: AuditEvent::CodeRejected
    }));
}
