//! Same scenario + seed ⇒ byte-identical output, whatever the thread count.

use lockerlab::policy::Policy;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions, RunReport};

fn output(sc: &Scenario, seed: u64, threads: usize) -> (String, String) {
    let opts = RunOptions {
        seed,
        replications: 2,
        check_invariants: false,
        audit_dir: None,
        record_history: false,
        record_occupancy: false,
        record_world: true,
        pool_locations: false,
        keep_location_metrics: true,
        cancel: None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let result = pool.install(|| sim::run(sc, &opts, &|_| {})).unwrap();
    let report = RunReport::new(sc, seed, &result);
    // The world's steps (what the demo replays) are an output too.
    assert!(result.world.iter().all(|w| !w.is_empty()));
    let world = serde_json::to_string(&result.world).unwrap();
    (
        serde_json::to_string_pretty(&report.to_json(None)).unwrap(),
        format!("{}\n{world}", report.to_csv()),
    )
}

#[test]
fn same_seed_same_bytes_on_one_and_two_threads() {
    let sc = Scenario::builtin();
    let one = output(&sc, 11, 1);
    let two = output(&sc, 11, 2);
    let again = output(&sc, 11, 2);
    assert_eq!(one, two);
    assert_eq!(two, again);
    assert!(one.0.contains("\"ci95\""));
}

#[test]
fn a_different_seed_gives_different_results() {
    let mut sc = Scenario::builtin();
    sc.locations.truncate(5);
    assert_ne!(output(&sc, 1, 1).0, output(&sc, 2, 1).0);
}

#[test]
fn policies_on_the_same_seed_see_the_same_orders() {
    // Common random numbers: the offered stream does not depend on the policy.
    let mut sc = Scenario::builtin();
    sc.locations.truncate(10);
    let offered = |p: Policy| {
        let mut sc = sc.clone();
        sc.policy = p;
        let opts = RunOptions {
            seed: 5,
            replications: 1,
            check_invariants: false,
            audit_dir: None,
            record_history: false,
            record_occupancy: false,
            record_world: false,
            pool_locations: false,
            keep_location_metrics: true,
            cancel: None,
        };
        let r = sim::run(&sc, &opts, &|_| {}).unwrap();
        r.metrics[0].iter().map(|m| m.offered).collect::<Vec<_>>()
    };
    let a = offered(Policy::Snapshot {});
    assert_eq!(a, offered(Policy::NaiveHold {}));
    assert_eq!(a, offered(Policy::default()));
}

#[test]
fn regions_with_faults_are_identical_on_one_and_two_threads() {
    // Discovery and fallback join lockers into multi-locker regions, and
    // outages, jams and reconciliation add their own streams and events.
    let mut sc = Scenario::from_file(std::path::Path::new("scenarios/faulty-city.toml")).unwrap();
    sc.locations.truncate(60);
    let net = lockerlab::sim::Network::build(&sc);
    assert!(
        net.regions.iter().any(|r| r.len() > 1),
        "the test needs shared regions"
    );
    let one = output(&sc, 21, 1);
    let two = output(&sc, 21, 2);
    assert_eq!(one, two);
}

/// A run told to stop (the Python package's Ctrl-C) skips the jobs not yet
/// started and says it was cancelled; one not told runs them all.
#[test]
fn a_cancelled_run_skips_the_jobs_left_and_says_so() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let sc = Scenario::builtin();
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = RunOptions {
        seed: 3,
        replications: 20,
        cancel: Some(cancel.clone()),
        ..RunOptions::default()
    };
    let done = AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let result = pool.install(|| {
        sim::run(&sc, &opts, &|n| {
            done.fetch_add(n, Ordering::Relaxed);
            cancel.store(true, Ordering::Relaxed);
        })
    });
    assert!(
        matches!(result, Err(sim::SimError::Cancelled)),
        "{result:?}"
    );
    let total = sc.locations.len() as u64 * 20;
    let finished = done.load(Ordering::Relaxed);
    assert!(
        finished > 0 && finished < total / 4,
        "{finished} of {total} location-runs"
    );
}
