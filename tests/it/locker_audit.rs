//! A live locker's audit chain: kept in its store with the journal, keyed
//! with the locker's key, continued across restarts, exported with
//! `lockerlab audit export` and checked with `lockerlab audit verify`.

use crate::common::cli::{lockerlab, stderr};
use lockerlab::access::keys::hex;
use lockerlab::access::{LockerKeys, PickupCode};
use lockerlab::controller::ControllerConfig;
use lockerlab::emu::{Action, Durability, Node, Station};
use lockerlab::protocol::Topics;
use std::path::Path;

const SECRET: [u8; 32] = [42; 32];

fn station(store: &Path) -> Station {
    let node = Node::open(
        store,
        "L1",
        [2, 1, 0, 0],
        LockerKeys::for_locker(&SECRET, "L1"),
        ControllerConfig::default(),
        Topics::new("lockerlab", "r1").unwrap(),
        Durability::Normal,
    )
    .unwrap();
    Station::new(node)
}

fn wrong_codes(st: &mut Station, from: i64, n: i64) {
    let wrong = Action::Keypad {
        code: PickupCode::new(999_999).unwrap(),
    };
    for t in from..from + n {
        st.act_on(t, &wrong).unwrap();
    }
}

#[test]
fn the_audit_chain_survives_restarts_and_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("L1.sqlite");
    let secret = dir.path().join("region.key");
    std::fs::write(&secret, hex(&SECRET)).unwrap();
    let secret = secret.to_str().unwrap();
    let mut st = station(&store);
    wrong_codes(&mut st, 0, 3);
    drop(st);
    // Restarted, it continues the same chain.
    let mut st = station(&store);
    wrong_codes(&mut st, 10, 3);
    drop(st);

    let log = dir.path().join("L1.audit.jsonl");
    let log_s = log.to_str().unwrap();
    let store_s = store.to_str().unwrap();
    let o = lockerlab(&["audit", "export", store_s, "--out", log_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    // Five wrong codes lock the keypad; the sixth meets the lockout. Every
    // attempt is recorded, none twice, across the restart.
    assert_eq!(text.matches("code_rejected").count(), 5, "{text}");
    assert_eq!(text.matches("lockout_started").count(), 1, "{text}");
    assert_eq!(text.matches("keypad_locked").count(), 1, "{text}");
    let o = lockerlab(&["audit", "verify", log_s, "--secret-file", secret]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("intact"),
        "{o:?}"
    );

    // Under another region's secret the tags do not hold.
    let other = dir.path().join("other.key");
    std::fs::write(&other, hex(&[7; 32])).unwrap();
    let o = lockerlab(&[
        "audit",
        "verify",
        log_s,
        "--secret-file",
        other.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    // The last record cut off: the head says so.
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    std::fs::write(&log, cut).unwrap();
    let o = lockerlab(&["audit", "verify", log_s, "--secret-file", secret]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    // A file that is not a store is refused, not misread.
    let o = lockerlab(&["audit", "export", secret, "--out", log_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A locker rotated to a new region secret: `audit verify` takes the old
/// one as `--previous-secret-file`, and says what is missing without it.
#[test]
fn a_rotated_lockers_chain_verifies_with_both_secrets() {
    const NEW: [u8; 32] = [43; 32];
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("L1.sqlite");
    let mut st = station(&store);
    wrong_codes(&mut st, 0, 2);
    drop(st);
    let node = Node::open(
        &store,
        "L1",
        [2, 1, 0, 0],
        LockerKeys::for_locker(&NEW, "L1").with_previous(LockerKeys::for_locker(&SECRET, "L1")),
        ControllerConfig::default(),
        Topics::new("lockerlab", "r1").unwrap(),
        Durability::Normal,
    )
    .unwrap();
    let mut st = Station::new(node);
    wrong_codes(&mut st, 10, 2);
    drop(st);

    let file = |name: &str, secret: &[u8; 32]| {
        let p = dir.path().join(name);
        std::fs::write(&p, hex(secret)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (old, new) = (file("old.key", &SECRET), file("new.key", &NEW));
    let log = dir.path().join("L1.audit.jsonl");
    let log_s = log.to_str().unwrap();
    let o = lockerlab(&["audit", "export", store.to_str().unwrap(), "--out", log_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("key_rotated").count(), 1, "{text}");
    let both = [
        "audit",
        "verify",
        log_s,
        "--secret-file",
        &new,
        "--previous-secret-file",
        &old,
    ];
    let o = lockerlab(&both);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = lockerlab(&["audit", "verify", log_s, "--secret-file", &new]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = lockerlab(&["audit", "verify", log_s, "--secret-file", &old]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("give the secret it was rotated to"),
        "{}",
        stderr(&o)
    );
}
