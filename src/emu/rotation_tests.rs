//! A locker's key rotation through its store: a store written under the
//! old keys opens under the new ones given the old as previous, its audit
//! chain records the move, and what the old key hashed still opens.

use super::*;
use crate::access::audit::{self, AuditEvent, AuditHeader, AuditRecord, AUDIT_FORMAT};
use crate::access::pass::{self, Role};
use crate::access::{AuditKey, LockerKeys, PickupCode};
use crate::domain::{Size, Tier};
use crate::engine::Millis;
use crate::protocol::{self, Command, CredentialCmd, ReserveCmd};
use std::path::Path;

const OLD: [u8; 32] = [7; 32];
const NEW: [u8; 32] = [8; 32];
const MIN: Millis = 60_000;

fn keys(secret: &[u8; 32]) -> LockerKeys {
    LockerKeys::for_locker(secret, "L1")
}

fn open(path: &Path, keys: LockerKeys) -> Result<Station, StoreError> {
    Ok(Station::new(super::tests::node_with_keys(
        path, "L1", keys,
    )?))
}

fn command(st: &mut Station, seq: u64, now: Millis, cmd: Command) {
    let r = st
        .command(
            now,
            cmd.kind(),
            &protocol::encode_command(1, seq, now, &cmd),
        )
        .unwrap();
    assert!(r.error.is_none(), "{r:?}");
}

/// Package `p` deposited at `st` with `code` hashed under `issued_under`.
fn deposit(st: &mut Station, p: u64, code: u32, issued_under: &LockerKeys, secret: &[u8; 32]) {
    let reserve = ReserveCmd {
        package: p,
        tier: Tier::NextDay,
        size: Size::S,
        hold: false,
    };
    command(st, 2 * p - 1, p as Millis * MIN, Command::Reserve(reserve));
    let pass = pass::open_ended(secret, Role::Driver, "L1");
    st.act_on(p as Millis * MIN, &Action::SignIn { pass })
        .unwrap();
    let scan = st
        .act_on(p as Millis * MIN, &Action::DriverScan { package: p })
        .unwrap();
    assert!(scan.door.is_some(), "{scan:?}");
    st.act_on(p as Millis * MIN, &Action::Put).unwrap();
    let credential = CredentialCmd {
        package: p,
        code_hash: issued_under.hash_code(PickupCode::new(code).unwrap()),
        not_after: 100 * 60 * MIN,
    };
    command(
        st,
        2 * p,
        p as Millis * MIN,
        Command::Credential(credential),
    );
}

/// The store's audit chain as the log `audit export` writes.
fn audit_log(st: &Station) -> (Vec<u8>, String) {
    let header = AuditHeader {
        audit: AUDIT_FORMAT,
        locker: "L1".into(),
    };
    let mut text = serde_json::to_string(&header).unwrap() + "\n";
    for line in st.node.store().audit_lines().unwrap() {
        text += &line;
        text.push('\n');
    }
    let head = st.node.store().audit_end().unwrap().1.unwrap();
    (text.into_bytes(), head)
}

#[test]
fn a_store_moves_to_the_new_keys_and_old_codes_and_passes_open_during_the_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = open(&path, keys(&OLD)).unwrap();
    deposit(&mut st, 1, 111_111, &keys(&OLD), &OLD);
    deposit(&mut st, 2, 222_222, &keys(&OLD), &OLD);
    drop(st);

    let refused = open(&path, keys(&NEW)).err().unwrap().to_string();
    assert!(refused.contains("another secret"), "{refused}");

    let mut st = open(&path, keys(&NEW).with_previous(keys(&OLD))).unwrap();
    assert_eq!(
        st.node.store().meta("key_fingerprint").unwrap(),
        Some(keys(&NEW).fingerprint())
    );
    let last: AuditRecord =
        serde_json::from_str(st.node.store().audit_lines().unwrap().last().unwrap()).unwrap();
    let new_audit = AuditKey::for_locker(&NEW, "L1");
    assert_eq!(
        last.event,
        AuditEvent::KeyRotated {
            key: new_audit.fingerprint()
        }
    );
    // A code issued before the rotation; a driver with a pass from the old
    // secret; a code issued under the new key.
    let pickup = st
        .act_on(
            10 * MIN,
            &Action::Keypad {
                code: PickupCode::new(111_111).unwrap(),
            },
        )
        .unwrap();
    assert!(pickup.door.is_some(), "{pickup:?}");
    st.act_on(10 * MIN, &Action::Take).unwrap();
    deposit(&mut st, 3, 333_333, &keys(&NEW), &OLD);
    drop(st);

    // The rotation is over: the store is the new keys', the journal
    // replays (the old code's hash kept beside its new one), old passes
    // and codes no longer open.
    let mut st = open(&path, keys(&NEW)).unwrap();
    let stale = st
        .act_on(
            20 * MIN,
            &Action::Keypad {
                code: PickupCode::new(222_222).unwrap(),
            },
        )
        .unwrap();
    assert!(stale.door.is_none(), "{stale:?}");
    let fresh = st
        .act_on(
            21 * MIN,
            &Action::Keypad {
                code: PickupCode::new(333_333).unwrap(),
            },
        )
        .unwrap();
    assert!(fresh.door.is_some(), "{fresh:?}");
    st.act_on(21 * MIN, &Action::Take).unwrap();
    let pass = pass::open_ended(&OLD, Role::Driver, "L1");
    let r = st.act_on(22 * MIN, &Action::SignIn { pass }).unwrap();
    assert_ne!(
        r.screen,
        Some(crate::controller::Screen::SignedIn { role: Role::Driver })
    );

    // One chain across the rotation: it verifies with both keys, and
    // not with either alone.
    let (log, head) = audit_log(&st);
    let old_audit = AuditKey::for_locker(&OLD, "L1");
    let v = audit::verify(&log, &head, |_| vec![new_audit.clone(), old_audit.clone()]).unwrap();
    assert!(v.records > 10, "{v:?}");
    let e = audit::verify(&log, &head, |_| vec![old_audit.clone()]).unwrap_err();
    assert!(e.reason.contains("keys not given"), "{e}");
    assert!(audit::verify(&log, &head, |_| vec![new_audit.clone()]).is_err());
    drop(st);
    let back = open(&path, keys(&OLD)).err().unwrap().to_string();
    assert!(back.contains("another secret"), "{back}");
}
