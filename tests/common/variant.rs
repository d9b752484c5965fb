//! A shipped scenario with keys set by path, run, and its totals' means:
//! what the behaviour tests compare one setting against another with.

use lockerlab::metrics::Summary;
use lockerlab::scenario::edit::ScenarioSource;
use lockerlab::sim::{self, RunOptions};

/// Scenario `file` with each (key, value) set, its mean totals over
/// `replications` (None: the scenario's).
pub fn mean_totals(file: &str, settings: &[(&str, f64)], replications: Option<u32>) -> Summary {
    let text = std::fs::read_to_string(file).unwrap();
    let source = ScenarioSource::new(&text, file).unwrap();
    let settings: Vec<(String, f64)> = settings.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let sc = source.variant(None, &settings).unwrap();
    let opts = RunOptions {
        replications: replications.unwrap_or(sc.replications),
        ..RunOptions::from_scenario(&sc)
    };
    let report = sim::run(&sc, &opts, &|_| {}).unwrap();
    Summary::across(&report.totals).0
}
