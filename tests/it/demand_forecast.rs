//! The demand forecast end to end through the CLI: histories of a small
//! network with a sale week, `forecast train-demand`, `eval` and `check`
//! (which passes against the model's own holdout errors and fails, exit 3,
//! against better ones), the errors a user meets, and the optimized policy
//! planning with the model.

use crate::common::cli::{lockerlab, stderr, stdout};
use std::path::Path;

const SCENARIO: &str = r#"
name = "demand-forecast-test"

[simulation]
seed = 3
start_date = "2025-03-03"
horizon_days = 120
warmup_days = 7
replications = 1

[demand]
orders_per_day = 60

[[demand.calendar.peaks]]
name = "spring sale"
from = "05-12"
to = "05-18"
multiplier = 2.0

[policy]
kind = "tier-partition"

[[locations]]
id = "a"
kind = "commuter"
lat = 52.52
lon = 13.37
compartments = { S = 30, M = 20, L = 8, XL = 2 }

[[locations]]
id = "b"
kind = "apartment"
lat = 52.50
lon = 13.41
compartments = { S = 30, M = 20, L = 8, XL = 2 }
orders_per_day = 120
"#;

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_demand_eval_and_check_gate_the_forest_against_the_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let history = |seed: &str| {
        let out = dir.path().join(format!("h{seed}.parquet"));
        let o = lockerlab(&[
            "history",
            arg(&scenario),
            "--seed",
            seed,
            "-q",
            "--out",
            arg(&out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (train, holdout) = (history("1"), history("2"));
    let model = dir.path().join("demand");
    let o = lockerlab(&[
        "forecast",
        "train-demand",
        arg(&train),
        "--scenario",
        arg(&scenario),
        "--holdout",
        arg(&holdout),
        "--out-dir",
        arg(&model),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("seasonal naive"), "{}", stdout(&o));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("demand-meta.json")).unwrap())
            .unwrap();
    let e = &meta["evaluation"];
    let wape = |k: &str| e[k]["wape"].as_f64().unwrap();
    // Two lockers × four tiers × the days with five weeks behind them.
    assert_eq!(e["model"]["n"].as_u64(), Some(2 * 4 * (120 - 34)));
    assert!(wape("model") < wape("trailing_mean"), "{e}");
    assert!(wape("model") < wape("seasonal_naive"), "{e}");
    assert!(
        wape("model_event_days") < wape("trailing_mean_event_days"),
        "{e}"
    );

    // The rows other learners get: one per locker, tier and day.
    let rows = dir.path().join("rows.csv");
    let o = lockerlab(&[
        "forecast",
        "demand-features",
        arg(&train),
        "--scenario",
        arg(&scenario),
        "--out",
        arg(&rows),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&rows).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("location,day,tier,weekday,month,peak"),
        "{header}"
    );
    assert!(header.ends_with(",level,orders"), "{header}");
    assert_eq!(text.lines().count(), 1 + 2 * 4 * (120 - 34));

    let check = |baseline: &Path| {
        lockerlab(&[
            "forecast",
            "check",
            arg(&model),
            arg(&holdout),
            "--scenario",
            arg(&scenario),
            "--baseline",
            arg(baseline),
        ])
    };
    let own = model.join("demand-meta.json");
    let o = check(&own);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // A baseline 10% better than the model fails the gate, naming the check.
    let mut better = meta.clone();
    let w = better["evaluation"]["model"]["wape"].as_f64().unwrap();
    better["evaluation"]["model"]["wape"] = serde_json::json!(w * 0.9);
    let better_path = dir.path().join("better.json");
    std::fs::write(&better_path, better.to_string()).unwrap();
    let o = check(&better_path);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("WAPE vs baseline"), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("WAPE vs baseline ") && l.ends_with("WORSE")),
        "{}",
        stdout(&o)
    );

    // A demand model needs the scenario that dates the rows; a dwell
    // model refuses one.
    let o = lockerlab(&["forecast", "eval", arg(&model), arg(&holdout)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--scenario"), "{}", stderr(&o));
    let o = lockerlab(&[
        "forecast",
        "eval",
        "models/default",
        "data/history-holdout.parquet",
        "--scenario",
        arg(&scenario),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("demand models"), "{}", stderr(&o));
    // A history from another scenario is named as such.
    let o = lockerlab(&[
        "forecast",
        "eval",
        arg(&model),
        "data/history-holdout.parquet",
        "--scenario",
        arg(&scenario),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("another scenario"), "{}", stderr(&o));

    // The optimized policy plans with it; a broken model directory is a
    // clear error, not a silent fallback.
    let run = |demand: &Path| {
        lockerlab(&[
            "simulate",
            arg(&scenario),
            "--policy",
            "optimized",
            "--model",
            "models/default",
            "--demand-model",
            arg(demand),
            "--format",
            "json",
        ])
    };
    let o = run(&model);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(model.join("demand-trees.json"), "[]\n").unwrap();
    let o = run(&model);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("demand-trees.json"), "{}", stderr(&o));

    // `sweep --model` keeps the scenario's own `[forecast] demand_model`
    // (it used to replace the whole table): a missing one is named.
    let with_demand = dir.path().join("with-demand.toml");
    std::fs::write(
        &with_demand,
        format!("{SCENARIO}\n[forecast]\ndemand_model = \"no-such-dir\"\n"),
    )
    .unwrap();
    let o = lockerlab(&[
        "sweep",
        arg(&with_demand),
        "--vary",
        "capacity.scale=1:1.5:0.5",
        "--model",
        "models/default",
        "--replications",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("demand_model"), "{}", stderr(&o));
}
