//! A run's memory grows with the work it holds, not with the product of
//! replications and locations. Once every (replication, location) kept its
//! full metrics (~45 KB, mostly the dwell histogram) until the end:
//! `--replications 100000` asked for 1.76 GB on one location, 88 GB on
//! 10,000.
//!
//! The peak heap is measured with a counting allocator, in a binary of its
//! own so no other test's allocations are counted.

#[path = "common/heap.rs"]
mod heap;

use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const DAY: i64 = 86_400_000;

/// Peak heap above the start of a run of `replications` of `sc`.
fn peak_of_run(sc: &Scenario, replications: u32) -> (isize, usize) {
    let opts = RunOptions {
        replications,
        ..RunOptions::from_scenario(sc)
    };
    // Two threads, as on the CI machine: the window of jobs in flight
    // grows with the thread count.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let start = heap::live();
    heap::reset_peak();
    let result = pool.install(|| sim::run(sc, &opts, &|_| {})).unwrap();
    let peak = heap::peak() - start;
    (peak, result.totals.len())
}

#[test]
fn memory_does_not_grow_with_replications_times_locations() {
    let mut sc = Scenario::builtin();
    sc.locations.truncate(20);
    sc.warmup = 0;
    sc.horizon = 2 * DAY;
    let (few, n) = peak_of_run(&sc, 40);
    assert_eq!(n, 40);
    let (many, n) = peak_of_run(&sc, 1000);
    assert_eq!(n, 1000);
    eprintln!("peak heap: {few} bytes for 40 replications, {many} for 1000 (20 locations)");
    // 1000 × 20 kept metrics would be ~900 MB; the fold keeps a window's
    // outputs and a summary per replication (~0.3 KB). The slack covers
    // the summaries and how many region simulations happen to be in flight
    // at the peak; keeping even 400 bytes per (replication, location)
    // would exceed it.
    assert!(
        many < few + (8 << 20),
        "peak grew from {few} to {many} bytes with replications"
    );
}
