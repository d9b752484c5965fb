//! How long a locker takes to come back after a year of traffic: `Node::open`
//! loads the store's last snapshot and replays the journal since (issue 13
//! asks for under 1 s), or, with snapshots off, replays every input the
//! locker ever accepted.
//!
//!     cargo bench --bench controller_restart
//!
//! The year: the default layout (42 compartments), 40 parcels a day, each
//! reserved, its driver signed in, deposited, given a code and picked up
//! with it — seven journaled inputs a parcel, eight for the one customer in
//! ten who mistypes first: 103,661 in all with the service's epoch. Building
//! the two stores takes a few seconds; criterion times the reopening
//! (throughput in inputs of the year per second). Measured on the 2-core
//! CI machine: 15 ms from the last snapshot (3,661 inputs replayed after
//! it); 88 ms replaying the whole journal (91 ms before snapshots, 64 ms
//! before drivers signed in).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockerlab::access::{LockerKeys, PickupCode};
use lockerlab::controller::ControllerConfig;
use lockerlab::domain::{Size, Tier};
use lockerlab::emu::{Action, Durability, Node, Station, SNAPSHOT_EVERY};
use lockerlab::protocol::{self, Command, CredentialCmd, ReserveCmd, Topics};
use std::hint::black_box;
use std::path::Path;

const SECRET: [u8; 32] = [3; 32];
const LAYOUT: [u32; 4] = [20, 14, 6, 2];
const PER_DAY: u64 = 40;
const DAYS: u64 = 365;
const MIN: i64 = 60_000;

fn open(path: &Path, snapshot_every: u64) -> Node {
    let mut node = Node::open(
        path,
        "L1",
        LAYOUT,
        LockerKeys::for_locker(&SECRET, "L1"),
        ControllerConfig::default(),
        Topics::new("lockerlab", "r1").unwrap(),
        Durability::Normal,
    )
    .expect("the store opens");
    node.set_snapshot_every(snapshot_every);
    node
}

/// A year of parcels through one locker, snapshotting every
/// `snapshot_every` inputs; returns the journal's length.
fn a_year(path: &Path, snapshot_every: u64) -> u64 {
    let keys = LockerKeys::for_locker(&SECRET, "L1");
    let pass =
        lockerlab::access::pass::open_ended(&SECRET, lockerlab::access::pass::Role::Driver, "L1");
    let mut st = Station::new(open(path, snapshot_every));
    let mut seq = 0;
    let mut command = |st: &mut Station, now: i64, cmd: Command| {
        seq += 1;
        let r = st
            .command(
                now,
                cmd.kind(),
                &protocol::encode_command(1, seq, now, &cmd),
            )
            .unwrap();
        assert!(r.error.is_none(), "{r:?}");
    };
    for n in 0..PER_DAY * DAYS {
        let package = n + 1;
        let now = (n as i64) * 24 * 60 * MIN / PER_DAY as i64;
        let reserve = ReserveCmd {
            package,
            tier: Tier::NextDay,
            size: Size::S,
            hold: false,
        };
        command(&mut st, now, Command::Reserve(reserve));
        st.act_on(now + MIN, &Action::SignIn { pass: pass.clone() })
            .unwrap();
        let scan = st
            .act_on(now + MIN, &Action::DriverScan { package })
            .unwrap();
        assert!(scan.door.is_some(), "{scan:?}");
        st.act_on(now + MIN, &Action::Put).unwrap();
        let code = PickupCode::new(100_000 + (package % 900_000) as u32).unwrap();
        let credential = CredentialCmd {
            package,
            code_hash: keys.hash_code(code),
            not_after: now + 72 * 60 * MIN,
        };
        command(&mut st, now + 2 * MIN, Command::Credential(credential));
        if package % 10 == 0 {
            let wrong = PickupCode::new(999_999).unwrap();
            st.act_on(now + 3 * MIN, &Action::Keypad { code: wrong })
                .unwrap();
        }
        let pickup = st.act_on(now + 4 * MIN, &Action::Keypad { code }).unwrap();
        assert!(pickup.door.is_some(), "{pickup:?}");
        st.act_on(now + 4 * MIN, &Action::Take).unwrap();
    }
    st.node.store().journal().unwrap().len() as u64
}

fn restart(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.sqlite");
    let snapshots = dir.path().join("snapshots.sqlite");
    let inputs = a_year(&whole, 0);
    a_year(&snapshots, SNAPSHOT_EVERY);
    let mut group = c.benchmark_group("controller");
    group.sample_size(10);
    // Per input of the year, either way: what a restart costs per input
    // the locker has seen.
    group.throughput(Throughput::Elements(inputs));
    for (name, path) in [
        ("restart_after_a_year", &snapshots),
        ("restart_after_a_year_whole_journal", &whole),
    ] {
        let replayed = open(path, 0).replayed();
        eprintln!("{name}: replays {replayed} of {inputs} inputs");
        group.bench_function(name, |b| b.iter(|| black_box(open(path, 0).reports_made())));
    }
    group.finish();
}

criterion_group!(benches, restart);
criterion_main!(benches);
