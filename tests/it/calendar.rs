//! The simulator keeps local calendar time: a scenario's start date and time
//! zone decide which instants fall on a weekend or outside opening hours.

use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use lockerlab::time::{DAY, HOUR};

/// One locker closed at weekends, a week of orders, starting at 00:00 local
/// on `start` in `zone`.
fn deposits(start: &str, zone: &str) -> Vec<i64> {
    let toml = format!(
        r#"
[simulation]
seed = 3
horizon_days = 7
warmup_days = 0
start_date = "{start}"
timezone = "{zone}"
[demand]
orders_per_day = 60
[[locations]]
id = "OFFICE"
kind = "office"
lat = 40.75
lon = -73.99
hours = {{ default = "07:00-20:00", sat = "closed", sun = "closed" }}
compartments = {{ S = 30, M = 20, L = 8, XL = 2 }}
"#
    );
    let sc = Scenario::from_toml(&toml, "office.toml").unwrap();
    let opts = RunOptions {
        record_history: true,
        ..RunOptions::from_scenario(&sc)
    };
    let run = sim::run(&sc, &opts, &|_| {}).unwrap();
    run.history[0].iter().filter_map(|r| r.deposit_ms).collect()
}

#[test]
fn a_locker_closed_at_weekends_takes_nothing_on_a_local_weekend() {
    // Saturday 2024-01-06 00:00 in New York: the first 48 hours are a
    // weekend there, whatever day instant 0 would be in UTC.
    let weekend_start = deposits("2024-01-06", "America/New_York");
    assert!(!weekend_start.is_empty());
    let first = *weekend_start.iter().min().unwrap();
    // Monday 07:00 local is the first moment a driver finds it open.
    assert!(first >= 2 * DAY + 7 * HOUR, "first deposit at {first} ms");

    // Starting on the Monday, drivers deposit from the first morning.
    let weekday_start = deposits("2024-01-08", "America/New_York");
    assert!(
        weekday_start.iter().any(|&t| t < DAY),
        "no deposit on day 0"
    );
}

#[test]
fn opening_hours_follow_the_local_clock_across_a_clock_change() {
    // New York moves its clocks forward on Sunday 2024-03-10: from then on
    // 07:00 local is 11:00 UTC, not 12:00.
    for t in deposits("2024-03-04", "America/New_York") {
        let local_hour = if t < 6 * DAY + 2 * HOUR {
            t % DAY / HOUR
        } else {
            (t + HOUR) % DAY / HOUR
        };
        assert!(
            (7..20).contains(&local_hour),
            "deposit at {t} ms: {local_hour}:00 local"
        );
    }
}
