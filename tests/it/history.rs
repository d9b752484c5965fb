//! Package history agrees with the run it comes from.

use lockerlab::metrics::{Outcome, Summary};
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use std::path::Path;

fn run() -> (sim::RunResult, Scenario) {
    let mut sc = Scenario::from_file(Path::new("scenarios/faulty-city.toml")).unwrap();
    sc.locations.truncate(12);
    sc.warmup = 0; // every order counted, so records and metrics must agree exactly
    let opts = RunOptions {
        record_history: true,
        keep_location_metrics: true,
        ..RunOptions::from_scenario(&sc)
    };
    (sim::run(&sc, &opts, &|_| {}).unwrap(), sc)
}

#[test]
fn records_agree_with_the_metrics() {
    let (r, sc) = run();
    let rows = &r.history[0];
    let mut total = lockerlab::metrics::LocationMetrics::default();
    for m in &r.metrics[0] {
        total.merge(m);
    }
    assert_eq!(rows.len() as u64, total.offered);
    for o in Outcome::ALL {
        let n = rows.iter().filter(|x| x.outcome == o).count() as u64;
        assert_eq!(n, total.outcome(o), "{}", o.name());
    }
    let ids: std::collections::HashSet<_> = rows.iter().map(|x| x.order_id).collect();
    assert_eq!(ids.len(), rows.len(), "order ids are unique");
    let mut dwell_sum = 0i64;
    let mut picked = 0;
    for x in rows {
        assert!(sc.locations.iter().any(|l| l.id == x.location_id));
        if let Some(d) = x.deposit_ms {
            assert!(d >= x.checkout_ms);
            assert!(x.pickup_ms.is_some() != x.retrieval_ms.is_some(), "{x:?}");
            assert!(x.occupied_at_deposit.unwrap() < x.compartments.unwrap());
        } else {
            assert!(x.pickup_ms.is_none() && x.retrieval_ms.is_none());
        }
        if x.outcome == Outcome::PickedUp {
            let dwell = x.pickup_ms.unwrap() - x.deposit_ms.unwrap();
            // Within the window, give or take the pickup session itself.
            assert!(
                dwell >= 0 && dwell < sc.pickup_window + sc.kiosk.pickup + 48 * 3_600_000,
                "{x:?}"
            );
            assert!(x.deposit_location_id.is_some());
            dwell_sum += dwell;
            picked += 1;
        }
    }
    let s = Summary::from_metrics(&total);
    let mean_hours = dwell_sum as f64 / picked as f64 / 3_600_000.0;
    assert!((mean_hours - s.get("dwell_hours_mean").unwrap()).abs() < 1e-9);
    assert!(rows
        .windows(2)
        .all(|w| (w[0].checkout_ms, w[0].order_id) <= (w[1].checkout_ms, w[1].order_id)));
}

#[test]
fn history_is_deterministic() {
    assert_eq!(run().0.history, run().0.history);
}
