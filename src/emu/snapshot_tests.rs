//! A locker restarted from its store's snapshot and the journal since is
//! the locker that never stopped: same answers, same reports, same state.

use super::tests::{node, sign_in};
use super::*;
use crate::access::keys::DEV_REGION_SECRET;
use crate::access::pass::Role;
use crate::access::{LockerKeys, PickupCode};
use crate::controller::{Input, Source};
use crate::domain::{Size, Tier};
use crate::engine::Millis;
use crate::protocol::{self, Command, CredentialCmd, PackageCmd, ReserveCmd};
use std::path::Path;

const MIN: Millis = 60_000;

/// One step of a week at a two-compartment-per-size locker.
enum Step {
    Command(Command),
    Act(Action),
    SignIn(Role),
}

/// Parcels reserved, delivered, given codes, picked up (some after a wrong
/// code), expired and retrieved, a fault and its repair: every kind of
/// state a snapshot has to carry, with steps that leave a session open.
fn week() -> Vec<(Millis, Step)> {
    let keys = LockerKeys::for_locker(&DEV_REGION_SECRET, "L1");
    let mut steps = Vec::new();
    for p in 1..=12u64 {
        let t = p as Millis * 60 * MIN;
        let reserve = ReserveCmd {
            package: p,
            tier: Tier::ALL[p as usize % 4],
            size: Size::S,
            hold: p % 5 == 0,
        };
        steps.push((t, Step::Command(Command::Reserve(reserve))));
        steps.push((t + MIN, Step::SignIn(Role::Driver)));
        steps.push((t + MIN, Step::Act(Action::DriverScan { package: p })));
        steps.push((t + 2 * MIN, Step::Act(Action::Put)));
        let code = PickupCode::new(100_000 + p as u32).unwrap();
        let credential = CredentialCmd {
            package: p,
            code_hash: keys.hash_code(code),
            not_after: t + 30 * MIN,
        };
        steps.push((t + 3 * MIN, Step::Command(Command::Credential(credential))));
        if p % 3 == 0 {
            let wrong = PickupCode::new(999_999).unwrap();
            steps.push((t + 4 * MIN, Step::Act(Action::Keypad { code: wrong })));
        }
        if p % 4 == 0 {
            // Not collected: it expires and operations take it out.
            let expire = Command::Expire(PackageCmd { package: p });
            steps.push((t + 31 * MIN, Step::Command(expire)));
            steps.push((t + 32 * MIN, Step::SignIn(Role::Operator)));
            steps.push((t + 32 * MIN, Step::Act(Action::OpsRetrieve { package: p })));
            steps.push((t + 33 * MIN, Step::Act(Action::Take)));
        } else {
            steps.push((t + 5 * MIN, Step::Act(Action::Keypad { code })));
            steps.push((t + 6 * MIN, Step::Act(Action::Take)));
        }
    }
    let fault = Input::CompartmentUnusable {
        compartment: 1,
        cause: crate::controller::FaultCause::Blocked,
    };
    let end = 14 * 60 * MIN;
    steps.push((
        end,
        Step::Act(Action::Input {
            source: Source::Sensors,
            input: fault,
        }),
    ));
    steps.push((end + MIN, Step::SignIn(Role::Operator)));
    steps.push((end + MIN, Step::Act(Action::Repair { compartment: 1 })));
    steps
}

fn take(st: &mut Station, seq: &mut u64, now: Millis, step: &Step) -> ActionResult {
    match step {
        Step::Command(cmd) => {
            *seq += 1;
            let payload = protocol::encode_command(1, *seq, now, cmd);
            st.command(now, cmd.kind(), &payload).unwrap()
        }
        Step::Act(action) => st.act_on(now, action).unwrap(),
        Step::SignIn(role) => {
            sign_in(st, now, *role);
            ActionResult::default()
        }
    }
}

fn station(path: &Path, snapshot_every: u64) -> Station {
    let mut n = node(path, "L1", &DEV_REGION_SECRET).unwrap();
    n.set_snapshot_every(snapshot_every);
    Station::new(n)
}

fn reports(st: &Station) -> Vec<OutboxRow> {
    st.node.store().outbox_after(0, usize::MAX >> 1).unwrap()
}

#[test]
fn a_locker_restarted_from_snapshots_is_the_locker_that_never_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let week = week();
    let mut steady = station(&dir.path().join("steady.sqlite"), 0);
    let mut seq_steady = 0;
    let mut doors = 0;
    for every in [1, 3, 7] {
        let path = dir.path().join(format!("every-{every}.sqlite"));
        let mut restarted = station(&path, every);
        let mut seq = 0;
        if every == 1 {
            // The reference runs alongside the first pass only.
            for (now, step) in &week {
                let want = take(&mut steady, &mut seq_steady, *now, step);
                let got = take(&mut restarted, &mut seq, *now, step);
                assert_eq!(got, want, "every {every}, at {now}");
                doors += want.door.is_some() as usize;
                drop(restarted);
                restarted = station(&path, every);
                assert!(restarted.node.replayed() < every as usize + 1);
            }
        } else {
            for (i, (now, step)) in week.iter().enumerate() {
                take(&mut restarted, &mut seq, *now, step);
                if i % 2 == 0 {
                    drop(restarted);
                    restarted = station(&path, every);
                    assert!(restarted.node.replayed() <= every as usize);
                }
            }
        }
        let state = |st: &Station| serde_json::to_string(&st.node.controller().snapshot()).unwrap();
        assert_eq!(state(&restarted), state(&steady), "every {every}");
        assert_eq!(reports(&restarted), reports(&steady), "every {every}");
        let kept = restarted.node.store().journal().unwrap().len();
        assert!(
            kept <= every as usize,
            "every {every}: {kept} journal rows kept"
        );
        for table in ["compartments", "reservations", "credentials"] {
            let rows = |st: &Station| st.node.store().mirror_rows(table).unwrap();
            assert_eq!(rows(&restarted), rows(&steady), "{table}");
        }
    }
    // Twelve drop-offs, nine pickups, three retrievals: the week did
    // what it says, and left every compartment free.
    assert_eq!(doors, 24);
    let free = steady.node.controller().view().available;
    assert_eq!(free, [2, 1, 0, 0]);
}

#[test]
fn a_corrupt_snapshot_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l1.sqlite");
    let mut st = station(&path, 2);
    let mut seq = 0;
    for (now, step) in week().iter().take(8) {
        take(&mut st, &mut seq, *now, step);
    }
    drop(st);
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE snapshot SET state = json_set(state, '$.controller.locker_id', 'L9')",
        [],
    )
    .unwrap();
    let e = node(&path, "L1", &DEV_REGION_SECRET)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("snapshot"), "{e}");
    assert!(e.contains("locker `L9`, not `L1`"), "{e}");
    assert!(e.contains("refusing to start"), "{e}");
}
