//! The forecast policy on common random numbers: it accepts more than the
//! tier partition without sending drivers to full lockers, keeps every
//! invariant, and gives the same answer on any thread count.

use lockerlab::forecast::DwellModel;
use lockerlab::metrics::Summary;
use lockerlab::policy::{spec, Policy};
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use std::path::Path;
use std::sync::Arc;

fn scenario(policy: &str) -> Scenario {
    let mut sc = Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap();
    sc.policy = spec::parse(policy).unwrap();
    sc.forecast = Some(Arc::new(
        DwellModel::load(Path::new("models/city")).unwrap(),
    ));
    sc
}

fn totals(sc: &Scenario, check: bool) -> Vec<Summary> {
    let opts = RunOptions {
        replications: 6,
        check_invariants: check,
        ..RunOptions::from_scenario(sc)
    };
    sim::run(sc, &opts, &|_| {}).unwrap().totals
}

fn mean(s: &[Summary], metric: &str) -> f64 {
    s.iter().map(|x| x.get(metric).unwrap()).sum::<f64>() / s.len() as f64
}

#[test]
fn forecast_accepts_more_than_tier_partition_with_no_more_failures() {
    let base = totals(&scenario("tier-partition"), false);
    let fc = totals(&scenario("forecast:confidence=0.999"), true);
    assert_eq!(mean(&base, "offered"), mean(&fc, "offered"), "same orders");
    let (a0, a1) = (mean(&base, "acceptance_rate"), mean(&fc, "acceptance_rate"));
    assert!(a1 > a0 + 0.015, "forecast {a1} vs tier-partition {a0}");
    assert_eq!(mean(&base, "failed_deliveries"), 0.0);
    assert!(mean(&fc, "failed_delivery_rate") < 0.001);
    // The bar is the knob: trusting the mean accepts more than 0.999 does.
    let loose = totals(&scenario("forecast:confidence=0.5"), false);
    assert!(mean(&loose, "acceptance_rate") > a1);
}

#[test]
fn forecast_runs_are_identical_on_one_and_two_threads() {
    let sc = scenario("forecast:confidence=0.99");
    let on = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| totals(&sc, false))
    };
    assert_eq!(on(1), on(2));
}

#[test]
fn a_forecast_policy_without_a_model_is_refused() {
    let text = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace(
            "kind = \"tier-partition\"\nshares = { same_day = 0.3, next_day = 0.5 }",
            "kind = \"forecast\"\nconfidence = 0.99",
        );
    assert!(text.contains("confidence = 0.99"));
    let err = Scenario::from_toml(&text, "q.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("policy.kind") && err.contains("[forecast] model"),
        "{err}"
    );
    assert!(matches!(
        spec::parse("forecast").unwrap(),
        Policy::Forecast(_)
    ));
}

#[test]
fn optimized_plans_daily_quotas_and_beats_tier_partition() {
    let base = totals(&scenario("tier-partition"), false);
    let opt = totals(&scenario("optimized:check.confidence=0.999"), true);
    let (a0, a1) = (
        mean(&base, "acceptance_rate"),
        mean(&opt, "acceptance_rate"),
    );
    assert!(a1 > a0 + 0.015, "optimized {a1} vs tier-partition {a0}");
    assert!(mean(&opt, "failed_delivery_rate") < 0.001);
    // The plan binds: a zero buffer plans differently from a 30% one.
    let roomy = totals(
        &scenario("optimized:check.confidence=0.999,buffer=0.3"),
        false,
    );
    assert_ne!(mean(&roomy, "accepted"), mean(&opt, "accepted"));
}
