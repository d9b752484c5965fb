//! Demand replayed from history: a generated history replayed with its
//! recorded dwell times reproduces the generating run, order by order.

use lockerlab::domain::LocationKind;
use lockerlab::metrics::Outcome;
use lockerlab::policy::Policy;
use lockerlab::scenario::Scenario;
use lockerlab::sim::trace::{DemandTrace, TraceDwell};
use lockerlab::sim::{self, RunOptions, RunReport};
use std::path::Path;
use std::sync::Arc;

fn scenario() -> Scenario {
    let mut sc = Scenario::from_file(Path::new("scenarios/history-sample.toml")).unwrap();
    sc.horizon = 35 * 86_400_000;
    sc
}

fn run(sc: &Scenario) -> sim::RunResult {
    let opts = RunOptions {
        record_history: true,
        ..RunOptions::from_scenario(sc)
    };
    sim::run(sc, &opts, &|_| {}).unwrap()
}

/// The scenario's demand as `records` say it happened.
fn trace(
    sc: &Scenario,
    records: &[lockerlab::sim::history::HistoryRecord],
    dwell: TraceDwell,
) -> Result<DemandTrace, String> {
    DemandTrace::build(
        &sc.name,
        sc.locations.iter().map(|l| (l.id.as_str(), l.kind)),
        records,
        dwell,
    )
}

fn report_json(sc: &Scenario, r: &sim::RunResult) -> String {
    serde_json::to_string(&RunReport::new(sc, sc.seed, r).to_json(None)).unwrap()
}

#[test]
fn replaying_recorded_dwell_reproduces_the_generating_run() {
    let sc = scenario();
    let original = run(&sc);
    let records = &original.history[0];
    for dwell in [TraceDwell::Recorded, TraceDwell::Model] {
        let mut replay = sc.clone();
        replay.trace = Some(Arc::new(trace(&sc, records, dwell).unwrap()));
        let again = run(&replay);
        assert_eq!(&again.history[0], records, "{dwell:?}");
        assert_eq!(report_json(&replay, &again), report_json(&sc, &original));
    }
}

#[test]
fn recorded_dwell_survives_a_different_policy() {
    let sc = scenario();
    let original = run(&sc);
    let mut replay = sc.clone();
    replay.policy = Policy::Snapshot {};
    replay.trace = Some(Arc::new(
        trace(&sc, &original.history[0], TraceDwell::Recorded).unwrap(),
    ));
    let again = run(&replay);
    let (a, b) = (&original.history[0], &again.history[0]);
    // Same demand: the same orders, at the same times, tiers and sizes.
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.order_id, x.checkout_ms, x.tier, x.size),
            (y.order_id, y.checkout_ms, y.tier, y.size)
        );
    }
    // Snapshot accepts more, and a package both runs deposited at once
    // after the same wait keeps its recorded stay.
    let accepted = |h: &[lockerlab::sim::history::HistoryRecord]| {
        h.iter()
            .filter(|r| r.outcome != Outcome::RejectedAtCheckout)
            .count()
    };
    assert!(accepted(b) > accepted(a));
    let both: Vec<_> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| {
            x.pickup_ms.is_some()
                && x.deposit_ms == y.deposit_ms
                && x.deposit_location_id == y.deposit_location_id
        })
        .collect();
    let same_stay = both
        .iter()
        .filter(|(x, y)| {
            y.pickup_ms.map(|p| p - y.deposit_ms.unwrap())
                == Some(x.pickup_ms.unwrap() - x.deposit_ms.unwrap())
        })
        .count();
    assert!(both.len() > 100, "{}", both.len());
    // All but the rare customer held up at the keypad by someone else's typos.
    assert!(
        same_stay as f64 >= 0.99 * both.len() as f64,
        "{same_stay} of {}",
        both.len()
    );
}

#[test]
fn a_location_missing_from_the_scenario_is_named() {
    let sc = scenario();
    let mut records = run(&sc).history.remove(0);
    records[5].location_id = "alexanderplatz".into();
    let err = trace(&sc, &records, TraceDwell::Recorded).unwrap_err();
    assert!(err.contains("`alexanderplatz`"), "{err}");
    assert!(err.contains(&records[5].order_id.to_string()), "{err}");
}

/// Once accepted: the kind chooses the dwell features and demand profile.
#[test]
fn a_location_kind_contradicting_the_scenario_is_refused() {
    let sc = scenario();
    let mut records = run(&sc).history.remove(0);
    let kind = records[7].location_kind;
    let other = LocationKind::ALL.into_iter().find(|k| *k != kind).unwrap();
    records[7].location_kind = other;
    let err = trace(&sc, &records, TraceDwell::Recorded).unwrap_err();
    assert!(
        err.contains(&format!("order {}:", records[7].order_id)),
        "{err}"
    );
    assert!(
        err.contains(other.name()) && err.contains(kind.name()),
        "{err}"
    );
}
