//! The engine against queueing theory: scenarios/erlang-loss.toml is an
//! M/G/c/c loss system, whose blocking probability is Erlang B(c, a) whatever
//! the service-time distribution (insensitivity). We check the simulated
//! rejection rate against the formula at two loads and two dwell
//! distributions, one with coefficient of variation 3, using a 99% confidence
//! interval across independent replications.

use lockerlab::metrics::Summary;
use lockerlab::scenario::{Dist, DistSpec, Scenario};
use lockerlab::sim::{self, RunOptions};
use std::path::Path;

fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// t_{0.995, 19}: two-sided 99% for 20 replications.
const T995_19: f64 = 2.861;

fn check(orders_per_day: f64, dwell: Dist) {
    let mut sc = Scenario::from_file(Path::new("scenarios/erlang-loss.toml")).unwrap();
    sc.locations[0].orders_per_day = orders_per_day;
    // Four years per replication: heavy-tailed dwell needs long runs for a
    // tight interval.
    sc.horizon = sc.warmup + 4 * 365 * 86_400_000;
    for row in sc.dwell.iter_mut() {
        for d in row.iter_mut() {
            *d = dwell.clone();
        }
    }
    let c = sc.locations[0].compartments.iter().sum::<u32>();
    let a = orders_per_day / 24.0 * dwell.mean_hours();
    let expected = erlang_b(c, a);

    let opts = RunOptions {
        keep_location_metrics: true,
        ..RunOptions::from_scenario(&sc)
    };
    assert_eq!(opts.replications, 20);
    let result = sim::run(&sc, &opts, &|_| {}).unwrap();
    let rates: Vec<f64> = result
        .metrics
        .iter()
        .map(|rep| {
            let s = Summary::from_metrics(&rep[0]);
            s.get("rejected").unwrap() / s.get("offered").unwrap()
        })
        .collect();
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let sd = (rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = T995_19 * sd / n.sqrt();
    eprintln!(
        "a={a:.2} c={c} {dwell:?}: simulated {mean:.5} ± {half:.5} (99%), Erlang B {expected:.5}"
    );
    assert!(
        (mean - expected).abs() <= half,
        "load {a:.2} Erlangs on {c} compartments, {dwell:?}: simulated {mean:.5} ± {half:.5}, Erlang B {expected:.5}"
    );
    // The interval must be tight enough to mean something.
    assert!(
        half < 0.15 * expected,
        "CI too wide: ±{half:.5} around {expected:.5}"
    );
}

fn exponential() -> Dist {
    Dist::Exponential { mean_hours: 12.0 }
}

fn heavy_tailed() -> Dist {
    DistSpec::lognormal(12.0, 3.0).compile().unwrap()
}

#[test]
fn erlang_b_high_load_exponential() {
    check(16.0, exponential()); // a = 8, B ≈ 0.1217
}

#[test]
fn erlang_b_low_load_exponential() {
    check(10.0, exponential()); // a = 5, B ≈ 0.0184
}

#[test]
fn erlang_b_high_load_cv3() {
    check(16.0, heavy_tailed());
}

#[test]
fn erlang_b_low_load_cv3() {
    check(10.0, heavy_tailed());
}

#[test]
fn formula_sanity() {
    assert!((erlang_b(10, 8.0) - 0.1217).abs() < 1e-4);
    assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
}
