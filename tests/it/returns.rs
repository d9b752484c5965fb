//! Customers' returns compete with deliveries for compartments until the
//! carrier's route collects them, and the route collects expired parcels.

use crate::common::variant::mean_totals;
use lockerlab::metrics::Summary;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use lockerlab::time::{DAY, HOUR};

const FAULTY: &str = "scenarios/faulty-city.toml";

fn faulty(settings: &[(&str, f64)]) -> Summary {
    mean_totals(FAULTY, settings, None)
}

#[test]
fn returns_show_in_the_faulty_city_and_take_capacity_from_deliveries() {
    let with = faulty(&[]);
    let v = |s: &Summary, n: &str| s.get(n).unwrap();
    assert!(v(&with, "returns_offered") > 10_000.0);
    assert_eq!(
        v(&with, "returns_accepted") + v(&with, "returns_rejected"),
        v(&with, "returns_offered")
    );
    assert!(
        v(&with, "returns_rejected") > 0.0,
        "some find the locker full"
    );
    let without = faulty(&[("returns.share_of_orders", 0.0)]);
    assert_eq!(v(&without, "returns_offered"), 0.0);
    // The same orders (returns draw from their own stream) find less room.
    assert_eq!(v(&with, "offered"), v(&without, "offered"));
    assert!(v(&with, "accepted") < v(&without, "accepted"));
    assert!(v(&with, "utilization") > v(&without, "utilization"));
}

#[test]
fn the_route_collects_expired_parcels_at_its_times() {
    let toml = r#"
[simulation]
seed = 9
horizon_days = 21
warmup_days = 0
[customers]
abandon_share = 0.2
[returns]
share_of_orders = 0.3
[routes]
collection_times = ["09:30", "16:00"]
[[locations]]
id = "SHOP"
kind = "grocery"
lat = 1.0
lon = 1.0
hours = "10:00-20:00"
compartments = { S = 40, M = 30, L = 10, XL = 4 }
"#;
    let sc = Scenario::from_toml(toml, "route.toml").unwrap();
    let opts = RunOptions {
        record_history: true,
        ..RunOptions::from_scenario(&sc)
    };
    let run = sim::run(&sc, &opts, &|_| {}).unwrap();
    let retrievals: Vec<i64> = run.history[0]
        .iter()
        .filter_map(|r| r.retrieval_ms)
        .collect();
    assert!(retrievals.len() > 20, "{}", retrievals.len());
    for t in retrievals {
        // 09:30 is before the shop opens: only the 16:00 pass finds it open.
        assert_eq!(sc.calendar.wall(t).rem_euclid(DAY), 16 * HOUR, "at {t}");
    }
    // Returns are not orders: no history rows, but counted.
    let totals = &run.totals[0];
    assert!(totals.get("returns_accepted").unwrap() > 0.0);
    assert_eq!(run.history[0].len() as f64, totals.get("offered").unwrap());
}
