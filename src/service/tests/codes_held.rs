//! A pickup code reaches the customer only once the locker holds its
//! credential: lost, late or refused credential commands never leave a
//! customer with a code the keypad rejects.

use super::*;
use crate::access::PickupCode;

fn code_for(w: &World, order: PackageId) -> Option<PickupCode> {
    w.replies.iter().find_map(|r| match r {
        Reply::Code { order: o, code, .. } if *o == order => Some(*code),
        _ => None,
    })
}

/// Order 1 reserved at locker 0 and deposited while the service's
/// commands are intercepted; returns them.
fn deposited_unconfirmed(w: &mut World) -> Vec<(LockerIdx, u64, Ctl)> {
    let r = w.reserve(0, 1, 0, Tier::NextDay);
    assert!(matches!(r, Reply::Accepted { locker: 0, .. }), "{r:?}");
    w.intercepted = Some(Vec::new());
    let c = w.kiosk(HOUR, 0, Ctl::DriverScan { package: 1 }).unwrap();
    w.close(HOUR, 0, c, true);
    let kept = w.intercepted.take().unwrap();
    assert!(
        kept.iter()
            .any(|(_, _, i)| matches!(i, Ctl::Credential { package: 1, .. })),
        "{kept:?}"
    );
    kept
}

#[test]
fn a_code_is_sent_only_when_the_locker_confirms_its_credential() {
    let mut w = World::new(config(1, Policy::Snapshot {}), &[[1, 0, 0, 0]]);
    let kept = deposited_unconfirmed(&mut w);
    // The deposit is known, the code drawn, but the locker does not hold
    // it yet: the customer hears nothing.
    assert_eq!(code_for(&w, 1), None, "{:?}", w.replies);
    // Other reports from the locker (a ledger change) release nothing.
    w.report(2 * HOUR, 0, What::Ledger);
    assert_eq!(code_for(&w, 1), None);
    // The command arrives late; the locker applies and confirms it.
    for (l, seq, input) in kept {
        w.locker(3 * HOUR, l, Source::Service, seq, input);
    }
    let code = code_for(&w, 1).expect("the code, once confirmed");
    let door = w.kiosk(3 * HOUR, 0, Ctl::Keypad { code });
    assert!(door.is_some(), "the code the customer got opens the door");
}

#[test]
fn a_credential_the_locker_refuses_never_sends_its_code() {
    let mut w = World::new(config(1, Policy::Snapshot {}), &[[1, 0, 0, 0]]);
    let kept = deposited_unconfirmed(&mut w);
    // Corrupted on the way: the locker refuses it (no such package here)
    // and says so; its number is applied all the same.
    for (l, seq, mut input) in kept {
        if let Ctl::Credential { package, .. } = &mut input {
            *package = 99;
        }
        w.locker(2 * HOUR, l, Source::Service, seq, input);
    }
    assert!(w.lockers[0].applied_commands() >= 2);
    assert_eq!(code_for(&w, 1), None, "{:?}", w.replies);
    assert_eq!(w.svc.stats().locker_errors, 1);
}
