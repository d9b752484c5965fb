//! Little's law on a long run: the time-average number of compartments in use
//! equals the deposit rate times the mean time a package spends in its
//! compartment (L = λW), checked per replication with a 95% CI on L / λW.

use lockerlab::metrics::Summary;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use std::path::Path;

const DAY: i64 = 86_400_000;

#[test]
fn mean_occupied_equals_deposit_rate_times_time_in_compartment() {
    let mut sc = Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap();
    // Whole weeks, so the window starts and ends in the same weekly phase.
    sc.warmup = 7 * DAY;
    sc.horizon = sc.warmup + 52 * 7 * DAY;
    let opts = RunOptions {
        seed: 2024,
        replications: 10,
        check_invariants: false,
        audit_dir: None,
        record_history: false,
        record_occupancy: false,
        record_world: false,
        pool_locations: false,
        keep_location_metrics: true,
        cancel: None,
    };
    let result = sim::run(&sc, &opts, &|_| {}).unwrap();
    let window_hours = (sc.horizon - sc.warmup) as f64 / 3_600_000.0;
    let mut ratios = Vec::new();
    for rep in &result.metrics {
        for m in rep {
            let s = Summary::from_metrics(m);
            let l = s.get("mean_occupied").unwrap();
            let lambda = s.get("deposited").unwrap() / window_hours;
            let w = s.get("occupancy_hours_mean").unwrap();
            assert!(
                l > 5.0,
                "the location must be busy for the test to mean anything"
            );
            ratios.push(l / (lambda * w));
        }
    }
    let n = ratios.len() as f64;
    let mean = ratios.iter().sum::<f64>() / n;
    let sd = (ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = 2.045 * sd / n.sqrt(); // t_{0.975, 29}
    eprintln!(
        "L / (λW) = {mean:.5} ± {half:.5} over {} location-runs",
        ratios.len()
    );
    assert!(
        (mean - 1.0).abs() <= half.max(1e-3),
        "L/(λW) = {mean} ± {half}"
    );
    assert!(half < 0.01, "interval too wide to test anything: ±{half}");
}
