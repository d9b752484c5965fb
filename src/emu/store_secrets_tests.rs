//! What a locker's store may hold: no typed code, no QR token, owner-only
//! files, and only the key it was written under.

use super::tests::{node, open, raw_store};
use super::*;
use crate::access::keys::DEV_REGION_SECRET;
use crate::access::{qr, LockerKeys, PickupCode};
use crate::controller::{Input, Source};
use crate::domain::{Size, Tier};
use crate::protocol::{self, Command, CredentialCmd, ReserveCmd};
use rand::SeedableRng;
use std::path::Path;

const CODE: u32 = 987_123;
const WRONG: u32 = 456_789;

fn command(st: &mut Station, seq: u64, cmd: Command) {
    let kind = cmd.kind();
    let r = st
        .command(0, kind, &protocol::encode_command(0, seq, 0, &cmd))
        .unwrap();
    assert!(r.error.is_none(), "{r:?}");
}

/// A parcel deposited in L1 with pickup code `CODE`; returns its door.
fn deposited(st: &mut Station) -> u32 {
    let reserve = ReserveCmd {
        package: 100,
        tier: Tier::NextDay,
        size: Size::S,
        hold: false,
    };
    command(st, 1, Command::Reserve(reserve));
    let door = super::tests::scan(st, 10, 100).door.unwrap();
    st.act_on(20, &Action::Put).unwrap();
    let keys = LockerKeys::for_locker(&DEV_REGION_SECRET, "L1");
    let credential = CredentialCmd {
        package: 100,
        code_hash: keys.hash_code(PickupCode::new(CODE).unwrap()),
        not_after: 1_000_000_000,
    };
    command(st, 2, Command::Credential(credential));
    door
}

/// Every byte of the store's files, as text where it is text.
fn files_text(path: &Path) -> String {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::read(format!("{}{s}", path.display())).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

#[test]
fn no_typed_code_qr_token_or_staff_pass_reaches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = open(&path);
    let door = deposited(&mut st);
    let keys = LockerKeys::for_locker(&DEV_REGION_SECRET, "L1");
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    let other = qr::sign(&keys, &qr::claims(&mut rng, "L2", door, 100, 1 << 40));
    let token = qr::sign(&keys, &qr::claims(&mut rng, "L1", door, 100, 1 << 40));
    let code = |c| Action::Keypad {
        code: PickupCode::new(c).unwrap(),
    };
    st.act_on(30, &code(WRONG)).unwrap();
    st.act_on(
        31,
        &Action::Qr {
            token: other.clone(),
        },
    )
    .unwrap();
    let r = st
        .act_on(
            32,
            &Action::Qr {
                token: token.clone(),
            },
        )
        .unwrap();
    assert_eq!(r.door, Some(door), "the sealed token still opens");
    st.act_on(33, &Action::Take).unwrap();
    drop(st);
    let text = files_text(&path);
    // The driver's pass `deposited` signed in with: neither it nor its tags.
    let pass = crate::access::pass::open_ended(
        &DEV_REGION_SECRET,
        crate::access::pass::Role::Driver,
        "L1",
    );
    let tags = pass.split_once('.').unwrap().1.to_string();
    for secret in [WRONG.to_string(), other.clone(), token.clone(), pass, tags] {
        assert!(!text.contains(&secret), "the store holds `{secret}`");
    }
    // Replaying the sealed journal rebuilds the same locker.
    let st = open(&path);
    let l = st.node.controller().locker();
    assert_eq!(l.compartment_of(100), None, "picked up, replayed");
    assert_eq!(st.node.controller().view().occupied, 0);
}

#[test]
fn a_journal_with_plaintext_codes_is_sealed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = open(&path);
    deposited(&mut st);
    drop(st);
    // A store written before sealing journaled the typed code itself.
    {
        let mut store = raw_store(&path);
        let batch = store.begin().unwrap();
        batch
            .journal(&store::JournalEntry {
                time: 40,
                source: Source::Kiosk,
                seq: 50,
                input: Input::Keypad {
                    code: PickupCode::new(CODE).unwrap(),
                },
            })
            .unwrap();
        // The code opened the door: its credential is gone, as that
        // version's transaction recorded.
        batch
            .mirror("DELETE FROM credentials WHERE package = 100", &[])
            .unwrap();
        batch.commit().unwrap();
        assert!(files_text(&path).contains(&CODE.to_string()));
    }
    let st = open(&path);
    // The old code still did what it did (the door opened for it) …
    assert!(st.node.controller().open_session_door().is_some());
    drop(st);
    // … and the store no longer holds it.
    assert!(!files_text(&path).contains(&CODE.to_string()));
    let st = open(&path);
    assert!(st.node.controller().open_session_door().is_some());
    let journal = st.node.store().journal().unwrap();
    assert!(journal
        .iter()
        .any(|(_, e)| matches!(e.input, Input::KeypadHash { .. })));
    assert!(!journal
        .iter()
        .any(|(_, e)| matches!(e.input, Input::Keypad { .. })));
}

#[cfg(unix)]
#[test]
fn the_store_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    // Even a file someone made world-readable first.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut st = open(&path);
    deposited(&mut st);
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}");
    }
}

#[test]
fn a_store_written_under_another_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    drop(open(&path));
    let e = node(&path, "L1", &[7; 32]).err().unwrap().to_string();
    assert!(e.contains("another secret"), "{e}");
}
