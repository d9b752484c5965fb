//! The store and station without a broker: persist before act, restart
//! from the journal, outbox numbering, injected faults.

use super::*;
use crate::access::keys::DEV_REGION_SECRET;
use crate::access::LockerKeys;
use crate::controller::{ControllerConfig, EventKind, Input, Source};
use crate::domain::{Size, Tier};
use crate::engine::Millis;
use crate::protocol::{self, Command, CommandKind, ReserveCmd, Topics};
use std::path::Path;

pub(super) fn open(path: &Path) -> Station {
    Station::new(node(path, "L1", &DEV_REGION_SECRET).unwrap())
}

/// Locker `id`'s node on the store at `path`, keyed from `secret`.
pub(super) fn node(path: &Path, id: &str, secret: &[u8; 32]) -> Result<Node, StoreError> {
    node_with_keys(path, id, LockerKeys::for_locker(secret, id))
}

/// Locker `id`'s node on the store at `path`, with `keys`.
pub(super) fn node_with_keys(path: &Path, id: &str, keys: LockerKeys) -> Result<Node, StoreError> {
    Node::open(
        path,
        id,
        [2, 1, 0, 0],
        keys,
        ControllerConfig::default(),
        Topics::new("lockerlab", "r1").unwrap(),
        Durability::Normal,
    )
}

/// L1's store itself, under the development secret, to write what no
/// controller would.
pub(super) fn raw_store(path: &Path) -> Store {
    let keys = LockerKeys::for_locker(&DEV_REGION_SECRET, "L1");
    Store::open(
        path,
        "L1",
        [2, 1, 0, 0],
        &keys.fingerprint(),
        None,
        Durability::Normal,
    )
    .unwrap()
}

/// Signs in as `role` at `st` (a locker keyed from the development secret).
pub(super) fn sign_in(st: &mut Station, now: Millis, role: crate::access::pass::Role) {
    let id = st.node.controller().locker_id().to_string();
    let pass = crate::access::pass::open_ended(&DEV_REGION_SECRET, role, &id);
    let r = st.act_on(now, &Action::SignIn { pass }).unwrap();
    assert_eq!(r.screen, Some(crate::controller::Screen::SignedIn { role }));
}

/// A driver signs in and scans `package`.
pub(super) fn scan(st: &mut Station, now: Millis, package: u64) -> ActionResult {
    sign_in(st, now, crate::access::pass::Role::Driver);
    st.act_on(now, &Action::DriverScan { package }).unwrap()
}

fn reserve(st: &mut Station, seq: u64, package: u64) -> ActionResult {
    let cmd = Command::Reserve(ReserveCmd {
        package,
        tier: Tier::NextDay,
        size: Size::S,
        hold: false,
    });
    st.command(
        0,
        CommandKind::Reserve,
        &protocol::encode_command(0, seq, 0, &cmd),
    )
    .unwrap()
}

#[test]
fn a_restarted_station_resumes_a_drop_off_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let door = {
        let mut st = open(&path);
        reserve(&mut st, 1, 100);
        reserve(&mut st, 2, 101);
        let r = scan(&mut st, 10, 100);
        r.door.expect("a door opened")
        // The process dies here, door open, package in the driver's hands.
    };
    let mut st = open(&path);
    let l = st.node.controller().locker();
    assert_eq!(l.compartment_of(100), Some(door), "the binding survived");
    assert_eq!(st.node.controller().view().pending, [1, 0, 0, 0]);
    // The door is physically still open: the driver finishes.
    assert_eq!(st.hw.open_doors(), vec![door]);
    let r = st.act_on(20, &Action::Put).unwrap();
    assert!(
        matches!(r.events[..], [EventKind::Deposited { package: 100, .. }]),
        "{r:?}"
    );
    // The next package cannot get the same compartment.
    let r = scan(&mut st, 30, 101);
    assert_ne!(r.door, Some(door));
    // The same command again (a broker redelivery) is ignored.
    assert!(reserve(&mut st, 2, 101).events.is_empty());
    assert_eq!(
        st.node.store().mirror_rows("compartments").unwrap()[door as usize],
        format!("{door}:Occupied:100")
    );
}

#[test]
fn the_outbox_keeps_numbering_and_order_across_restarts_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let seqs: Vec<u64> = {
        let mut st = open(&path);
        reserve(&mut st, 1, 100);
        scan(&mut st, 10, 100);
        st.act_on(11, &Action::Put).unwrap();
        let rows = st.node.store().outbox_after(0, 100).unwrap();
        rows.iter().map(|r| r.seq).collect()
    };
    assert!(seqs.len() >= 3, "ledger, ledger, deposited: {seqs:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    let mut st = open(&path);
    let rows = st.node.store().outbox_after(0, 100).unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
    let last = rows.last().unwrap();
    let m = protocol::decode_report("deposited", &last.payload).unwrap();
    assert_eq!(m.seq, last.seq);
    assert_eq!(m.report.applied, 1, "the reservation command was applied");
    for r in &rows {
        st.node.store().ack(r.seq).unwrap();
    }
    assert_eq!(st.node.store().outbox_len().unwrap(), 0);
    // New reports continue the numbering; numbers are never reused.
    st.node.announce(50).unwrap();
    let next = st.node.store().outbox_after(0, 10).unwrap();
    assert_eq!(next[0].seq, seqs.last().unwrap() + 1);
}

#[test]
fn a_jammed_door_moves_the_driver_to_another_compartment() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    reserve(&mut st, 1, 100);
    st.act_on(0, &Action::Jam { compartment: 0 }).unwrap();
    let r = scan(&mut st, 10, 100);
    assert_eq!(r.door, Some(1), "compartment 0 jammed, 1 opened");
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, EventKind::CompartmentFault { compartment: 0, .. })));
    assert_eq!(st.node.controller().view().maintenance, 1);
}

#[test]
fn malformed_commands_are_answered_on_the_error_topic_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    let before = *st.node.controller().view();
    let r = st
        .command(
            0,
            CommandKind::Reserve,
            br#"{"v":1,"id":"7","ts":0,"body":{"package":1}}"#,
        )
        .unwrap();
    assert!(r.events.is_empty());
    assert_eq!(*st.node.controller().view(), before);
    let rows = st.node.store().outbox_after(0, 10).unwrap();
    let err = rows
        .iter()
        .find(|r| r.topic.ends_with("/evt/error"))
        .unwrap();
    let m = protocol::decode_report("error", &err.payload).unwrap();
    match m.report.what {
        protocol::What::Error { command, reason } => {
            assert_eq!(command.as_deref(), Some("7"));
            assert!(reason.contains("missing field `tier`"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_store_for_another_locker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    drop(open(&path));
    let e = node(&path, "L2", &DEV_REGION_SECRET)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("locker `L1`, not `L2`"), "{e}");
}

/// A store from before schema versions (at 0) is brought to the current
/// version with its journal intact; one from a newer lockerlab is refused.
#[test]
fn stores_are_migrated_forward_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = open(&path);
    reserve(&mut st, 1, 42);
    drop(st);
    let version = |v: Option<u32>| {
        let raw = rusqlite::Connection::open(&path).unwrap();
        if let Some(v) = v {
            raw.pragma_update(None, "user_version", v).unwrap();
        }
        raw.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))
            .unwrap()
    };
    let latest = version(None);
    assert!(latest >= 1);
    version(Some(0));
    let st = open(&path);
    assert_eq!(st.node.controller().view().pending[Size::S.index()], 1);
    drop(st);
    assert_eq!(version(None), latest, "migrated");
    version(Some(latest + 1));
    let e = node(&path, "L1", &DEV_REGION_SECRET)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("newer lockerlab"), "{e}");
}

#[test]
fn a_faulty_sensor_is_caught_by_reconciliation() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    // Compartment 2 is empty, but its sensor now says it is full.
    st.act_on(
        0,
        &Action::SensorFault {
            compartment: 2,
            on: true,
        },
    )
    .unwrap();
    let r = st.act_on(10, &Action::Reconcile).unwrap();
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, EventKind::CompartmentFault { compartment: 2, .. })),
        "{r:?}"
    );
    assert_eq!(st.node.controller().view().maintenance, 1);
    // Repaired, it is offered again.
    sign_in(&mut st, 20, crate::access::pass::Role::Operator);
    st.act_on(20, &Action::Repair { compartment: 2 }).unwrap();
    assert_eq!(st.node.controller().view().maintenance, 0);
}

#[test]
fn a_replayed_input_drives_the_core_and_the_doors_follow() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    reserve(&mut st, 1, 100);
    let input = |source, input| Action::Input { source, input };
    let pass = crate::access::pass::open_ended(
        &DEV_REGION_SECRET,
        crate::access::pass::Role::Driver,
        "L1",
    );
    st.act_on(
        10,
        &input(Source::Kiosk, Input::StaffPass { pass: pass.into() }),
    )
    .unwrap();
    let scan = st
        .act_on(
            10,
            &input(Source::Kiosk, Input::DriverScan { package: 100 }),
        )
        .unwrap();
    let door = scan.door.expect("the core opened a door");
    assert_eq!(st.hw.open_doors(), vec![door]);
    // The world says what the sensor read when the door closed.
    let closed = Input::DoorClosed {
        compartment: door,
        occupied: true,
    };
    let r = st.act_on(20, &input(Source::Sensors, closed)).unwrap();
    assert!(r.events.contains(&EventKind::Deposited {
        package: 100,
        compartment: door
    }));
    assert!(st.hw.open_doors().is_empty(), "the door closed");
    assert!(st.hw.scan()[door as usize], "with the parcel inside");
    // Service commands come only over the broker, numbered.
    let forged = Input::Expire { package: 100 };
    let r = st.act_on(30, &input(Source::Service, forged)).unwrap();
    assert!(r.error.unwrap().contains("over the broker"));
    assert_eq!(st.node.controller().view().occupied, 1);
}

#[test]
fn a_journal_that_replays_to_another_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = open(&path);
    reserve(&mut st, 1, 100);
    scan(&mut st, 10, 100);
    st.act_on(20, &Action::Put).unwrap();
    drop(st);
    // The recorded state says the parcel is not there: what a controller
    // that decides differently from the one that wrote the journal would
    // rebuild, silently, before this check.
    {
        let mut store = raw_store(&path);
        let b = store.begin().unwrap();
        b.mirror(
            "UPDATE compartments SET state = 'Available', package = NULL WHERE package = 100",
            &[],
        )
        .unwrap();
        b.commit().unwrap();
    }
    let e = node(&path, "L1", &DEV_REGION_SECRET)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("refusing to start"), "{e}");
    assert!(e.contains("compartments row"), "{e}");
    assert!(e.contains("Occupied:100"), "{e}");
}
