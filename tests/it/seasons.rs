//! A year around the weekly profile: `[demand.calendar]` peaks scale
//! demand by their multipliers, a closed holiday shuts lockers with opening
//! hours for the local day, and scenarios/peak-season.toml shows its peak.

use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use lockerlab::time::Calendar;
use std::path::Path;

/// A grocery locker and a 24/7 one through December 2025 in Warsaw, with a
/// ×3 week and a closed Christmas Day.
fn december() -> Scenario {
    let toml = r#"
[simulation]
seed = 5
horizon_days = 31
warmup_days = 0
start_date = "2025-12-01"
timezone = "Europe/Warsaw"
replications = 4
[demand]
orders_per_day = 40
[demand.calendar]
[[demand.calendar.peaks]]
from = "12-08"
to = "12-14"
multiplier = 3
[[demand.calendar.holidays]]
date = "12-25"
multiplier = 0.5
closed = true
[[locations]]
id = "SHOP"
kind = "grocery"
lat = 52.23
lon = 21.01
hours = "07:00-22:00"
compartments = { S = 400, M = 300, L = 100, XL = 40 }
[[locations]]
id = "STATION"
kind = "commuter"
lat = 52.33
lon = 21.21
compartments = { S = 400, M = 300, L = 100, XL = 40 }
"#;
    Scenario::from_toml(toml, "december.toml").unwrap()
}

#[test]
fn a_peak_multiplies_the_orders_of_its_days() {
    let sc = december();
    let run = sim::run(&sc, &RunOptions::from_scenario(&sc), &|_| {}).unwrap();
    // Week 1 (12-08 … 12-14) is the peak; weeks 0 and 2 are not.
    let offered = |w: usize| -> f64 {
        run.weekly
            .iter()
            .map(|r| r.weeks[w].offered as f64)
            .sum::<f64>()
    };
    let ratio = offered(1) / ((offered(0) + offered(2)) / 2.0);
    // The weekly profile is the same in all three weeks: the ratio is the
    // multiplier, up to Poisson noise (~2,240 orders a normal week).
    assert!(
        (ratio - 3.0).abs() < 0.15,
        "peak week / normal week = {ratio}"
    );
}

#[test]
fn a_closed_holiday_shuts_lockers_with_opening_hours_only() {
    let sc = december();
    let christmas = Calendar::day_of_date(chrono::NaiveDate::from_ymd_opt(2025, 12, 25).unwrap());
    assert!(sc.calendar.is_closed_day(christmas));
    let opts = RunOptions {
        record_history: true,
        replications: 1,
        ..RunOptions::from_scenario(&sc)
    };
    let run = sim::run(&sc, &opts, &|_| {}).unwrap();
    let on_christmas = |id: &str| {
        run.history[0]
            .iter()
            .filter(|r| r.deposit_location_id.as_deref() == Some(id))
            .flat_map(|r| [r.deposit_ms, r.pickup_ms, r.retrieval_ms])
            .flatten()
            .filter(|&t| sc.calendar.day(t) == christmas)
            .count()
    };
    assert_eq!(on_christmas("SHOP"), 0, "the shop's locker is shut");
    assert!(on_christmas("STATION") > 0, "a 24/7 locker stays open");
    // The day after, the shop's drivers and customers catch up.
    let boxing_day = run.history[0]
        .iter()
        .filter(|r| r.deposit_location_id.as_deref() == Some("SHOP"))
        .filter_map(|r| r.deposit_ms)
        .filter(|&t| sc.calendar.day(t) == christmas + 1)
        .count();
    assert!(boxing_day > 40, "{boxing_day} deposits on 12-26");
}

#[test]
fn the_peak_season_scenario_turns_orders_away_at_the_peak() {
    let sc = Scenario::from_file(Path::new("scenarios/peak-season.toml")).unwrap();
    let opts = RunOptions {
        replications: 1,
        ..RunOptions::from_scenario(&sc)
    };
    let run = sim::run(&sc, &opts, &|_| {}).unwrap();
    let weeks = &run.weekly[0].weeks;
    let rate = |w: usize| weeks[w].accepted as f64 / weeks[w].offered as f64;
    // Week 49 from 2024-12-18 starts 2025-11-26: Black Friday's week.
    let peak = rate(49);
    let spring = (10..20).map(rate).sum::<f64>() / 10.0;
    assert!(weeks[49].offered as f64 > 1.3 * weeks[15].offered as f64);
    assert!(peak < spring - 0.05, "peak {peak} vs spring {spring}");
}
