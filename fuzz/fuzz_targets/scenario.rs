//! Scenario TOML → parse → validate → compile; a scenario that compiles and
//! is small enough is also simulated for a day (what `validate` accepts,
//! `simulate` must run without panic, abort or hang).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};

const DAY_MS: i64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut sc) = Scenario::from_toml(text, "fuzz.toml") else {
        return;
    };
    // Bounded work per input: a day, one replication, a few hundred orders.
    let orders: f64 = sc.locations.iter().map(|l| l.orders_per_day).sum();
    if sc.locations.len() > 8 || orders > 400.0 {
        return;
    }
    sc.horizon = sc.horizon.min(DAY_MS as _);
    sc.warmup = 0;
    sc.replications = 1;
    let opts = RunOptions {
        check_invariants: true,
        ..RunOptions::from_scenario(&sc)
    };
    if let Ok(result) = sim::run(&sc, &opts, &|_| {}) {
        assert_eq!(result.totals.len(), 1);
        assert_eq!(result.location_means.len(), sc.locations.len());
    }
});
