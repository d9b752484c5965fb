//! The command line as users meet it: formats, exit codes, error messages.

use std::path::Path;

use crate::common::cli;
use cli::{lockerlab, stderr};

const CONTRACT: [&str; 12] = [
    "offered",
    "accepted",
    "rejected",
    "acceptance_rate",
    "failed_deliveries",
    "failed_delivery_rate",
    "picked_up",
    "expired",
    "utilization",
    "dwell_hours_mean",
    "dwell_hours_p95",
    "reservation_timeouts",
];

#[test]
fn json_output_has_the_documented_shape() {
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--format",
        "json",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "scenario",
        "seed",
        "replications",
        "events",
        "wall_seconds",
        "events_per_second",
        "totals",
        "locations",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["replications"], 5, "the scenario's");
    assert!(v["ci95"]["acceptance_rate"].is_number(), "{}", v["ci95"]);
    let one = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--format",
        "json",
        "--replications",
        "1",
        "-q",
    ]);
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert!(one.get("ci95").is_none(), "one replication has no CI");
    assert_eq!(v["scenario"], "quickstart");
    assert_eq!(v["seed"], 7);
    for name in CONTRACT {
        assert!(v["totals"][name].is_number(), "totals.{name}");
    }
    let locs = v["locations"].as_array().unwrap();
    assert_eq!(locs.len(), 3);
    assert_eq!(locs[0]["id"], "central-station");
    let offered: f64 = locs.iter().map(|l| l["offered"].as_f64().unwrap()).sum();
    assert_eq!(offered, v["totals"]["offered"].as_f64().unwrap());
}

#[test]
fn replications_add_confidence_intervals() {
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--format",
        "json",
        "--replications",
        "4",
        "--seed",
        "9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["replications"], 4);
    assert_eq!(v["seed"], 9);
    for name in CONTRACT {
        let hw = v["ci95"][name].as_f64();
        assert!(
            hw.is_some_and(|h| h >= 0.0) || v["ci95"][name].is_null(),
            "ci95.{name}"
        );
    }
    assert!(v["ci95"]["offered"].as_f64().unwrap() > 0.0);
}

#[test]
fn out_dir_files_are_byte_identical_across_runs_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for (out, threads) in [(&a, "1"), (&b, "2")] {
        let o = lockerlab(&[
            "simulate",
            "scenarios/quickstart.toml",
            "--replications",
            "3",
            "--quiet",
            "--threads",
            threads,
            "--out-dir",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for f in ["summary.json", "locations.csv"] {
        let x = std::fs::read(a.join(f)).unwrap();
        assert!(!x.is_empty());
        assert_eq!(x, std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    assert!(a.join("timing.json").exists());
}

#[test]
fn csv_has_a_row_per_location_and_a_total() {
    let o = lockerlab(&["simulate", "scenarios/quickstart.toml", "--format", "csv"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1);
    assert!(lines[0].starts_with("location,offered,accepted,rejected,acceptance_rate"));
    assert!(lines[4].starts_with("TOTAL,"));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_scenarios_exit_2_naming_file_key_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let loc = "[[locations]]\nid = \"a\"\nkind = \"office\"\ncompartments = { S = 2 }\n";
    let cases = [
        (
            "unknown.toml",
            format!("[simulation]\nhorizn_days = 3\n{loc}"),
            "simulation.horizn_days",
            "expected one of",
        ),
        (
            "type.toml",
            format!("[simulation]\nhorizon_days = \"ten\"\n{loc}"),
            "simulation.horizon_days",
            "expected f64",
        ),
        (
            "range.toml",
            format!("[simulation]\nwarmup_days = 40\n{loc}"),
            "simulation.warmup_days",
            "shorter than horizon_days",
        ),
        (
            "kind.toml",
            loc.replace("office", "stadium"),
            "locations[0].kind",
            "expected one of",
        ),
        (
            "size.toml",
            loc.replace("S = 2", "XXL = 2"),
            "locations[0].compartments.XXL",
            "S, M, L, XL",
        ),
        (
            "dist.toml",
            format!("[[dwell]]\ndist = \"lognormal\"\nmean_hours = 3\n{loc}"),
            "dwell[0].cv",
            "required",
        ),
        (
            "mix.toml",
            format!("[demand]\ntier_mix = {{ overnight = 1 }}\n{loc}"),
            "demand.tier_mix.overnight",
            "same_day",
        ),
        (
            "hours.toml",
            loc.replace("kind", "hours = \"9-5\"\nkind"),
            "locations[0].hours",
            "HH:MM-HH:MM",
        ),
        ("empty.toml", String::new(), "locations", "at least one"),
        // Once a panic in `simulate` (the lead time overflowed the clock).
        (
            "lead.toml",
            format!("[tiers.same_day]\nlead_time = {{ dist = \"fixed\", hours = 3e12 }}\n{loc}"),
            "tiers.same_day.lead_time.hours",
            "at most 87660 hours",
        ),
        (
            "dwell.toml",
            format!("[[dwell]]\ndist = \"lognormal\"\nmean_hours = 1e11\ncv = 1\n{loc}"),
            "dwell[0].mean_hours",
            "at most 87660 hours",
        ),
        // Once accepted and silently overruled by the locker's hours.
        (
            "pickup.toml",
            format!(
                "[pickup_hours]\noffice = \"20:00-23:00\"\n{}",
                loc.replace("kind", "hours = \"08:00-18:00\"\nkind")
            ),
            "pickup_hours.office",
            "never overlaps the opening hours of locations[0]",
        ),
        // Once a run that never ended (a scan every 0 ms).
        (
            "scan.toml",
            format!("[faults]\nreconciliation_interval_hours = 1e-9\n{loc}"),
            "faults.reconciliation_interval_hours",
            "must be in [0.1, 8760]",
        ),
        // A cap below the first lockout would shorten it.
        (
            "lockout.toml",
            format!("[access]\nlockout_minutes = 60\nmax_lockout_minutes = 30\n{loc}"),
            "access.max_lockout_minutes",
            "must be in [60, 10080], got 30",
        ),
        (
            "syntax.toml",
            "x = [\n".to_string(),
            "syntax.toml:2",
            "expected",
        ),
    ];
    for (name, text, path, expectation) in cases {
        let file = write(dir.path(), name, &text);
        for cmd in ["validate", "simulate"] {
            let o = lockerlab(&[cmd, &file]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}: {err}");
            assert!(
                err.contains(name),
                "{name}: error must name the file: {err}"
            );
            assert!(
                err.contains(path),
                "{name}: error must name `{path}`: {err}"
            );
            assert!(
                err.contains(expectation),
                "{name}: error must say `{expectation}`: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["simulate", "--replications", "0"],
        vec!["simulate", "--format", "xml"],
        vec!["simulate", "--seed", "-1"],
        vec!["simulate", "/nonexistent/scenario.toml"],
        vec!["frobnicate"],
    ] {
        let o = lockerlab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = lockerlab(&["validate", path.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
            assert!(String::from_utf8_lossy(&o.stdout).contains("ok"));
        }
    }
}

#[test]
fn audit_logs_from_a_run_verify_and_tampering_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "-q",
        "--audit-dir",
        audit.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = audit.join("central-station-r0.audit.jsonl");
    let verify = |log: &std::path::Path| {
        lockerlab(&["audit", "verify", "--dev-secret", log.to_str().unwrap()])
    };
    let o = verify(&log);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("intact") && out.contains("matches the published head"),
        "{out}"
    );

    // The key is not optional, and a wrong secret is not the right one.
    let o = lockerlab(&["audit", "verify", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "ab".repeat(32)).unwrap();
    let o = lockerlab(&[
        "audit",
        "verify",
        "--secret-file",
        secret.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(":2: record content"), "{}", stderr(&o));

    // Change one record's time: the chain breaks exactly there.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut record: serde_json::Value = serde_json::from_str(&lines[10]).unwrap();
    record["time"] = serde_json::json!(record["time"].as_i64().unwrap() + 1);
    lines[10] = record.to_string();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let o = verify(&log);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(":11: record content does not match its tag"),
        "{}",
        stderr(&o)
    );

    // Cut the last record: only the published head can tell.
    let log2 = audit.join("market-hall-r0.audit.jsonl");
    let text = std::fs::read_to_string(&log2).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    std::fs::write(&log2, kept[..kept.len() - 1].join("\n") + "\n").unwrap();
    let o = verify(&log2);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("published head"), "{}", stderr(&o));

    // Emptied, its head deleted: once exit 0.
    std::fs::write(&log2, "").unwrap();
    std::fs::remove_file(log2.with_extension("head")).unwrap();
    let o = verify(&log2);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no published head"), "{}", stderr(&o));

    // A byte that is not UTF-8 is tampering too (it once exited 2).
    let log3 = audit.join("riverside-flats-r0.audit.jsonl");
    let mut bytes = std::fs::read(&log3).unwrap();
    let at = bytes.iter().position(|&b| b == b'"').unwrap() + 1;
    bytes[at] = 0xff;
    std::fs::write(&log3, bytes).unwrap();
    let o = verify(&log3);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    let o = verify(std::path::Path::new("/nonexistent.audit.jsonl"));
    assert_eq!(o.status.code(), Some(2));
}

/// Once read until the machine ran out of memory.
#[test]
fn a_device_is_not_a_scenario() {
    let o = lockerlab(&["validate", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn history_writes_one_csv_row_per_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.csv");
    let o = lockerlab(&[
        "history",
        "scenarios/quickstart.toml",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "order_id,location_id,location_kind,tier,size,checkout_ms,outcome,deposit_location_id,deposit_ms,pickup_ms,retrieval_ms,occupied_at_deposit,compartments,warmup"
    );
    let rows: Vec<&str> = lines.collect();
    let n = rows.len();
    assert!(
        stderr(&o).contains(&format!("{n} orders")),
        "{}",
        stderr(&o)
    );
    assert!(n > 1000);
    let marked = rows.iter().filter(|r| r.ends_with(",true")).count();
    assert!(marked > 100, "{marked} warm-up rows");
    // --warmup omit: the same file without them.
    let omitted = dir.path().join("o.csv");
    let o = lockerlab(&[
        "history",
        "scenarios/quickstart.toml",
        "--out",
        omitted.to_str().unwrap(),
        "--seed",
        "3",
        "--warmup",
        "omit",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&omitted).unwrap();
    assert_eq!(text.lines().count() - 1, n - marked);
    assert!(!text.contains(",true\n"));
    let o = lockerlab(&["history", "scenarios/quickstart.toml", "--out", "x.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(".csv or .parquet"), "{}", stderr(&o));
}

#[test]
fn forecast_train_eval_and_check_gate_on_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    let m = model.to_str().unwrap();
    let o = lockerlab(&[
        "forecast",
        "train",
        "data/history-train.parquet",
        "--out-dir",
        m,
        "--holdout",
        "data/history-holdout.parquet",
        "--trees",
        "20",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    for name in [
        "forest",
        "global mean",
        "per-tier mean",
        "tier x kind empirical",
    ] {
        assert!(table.contains(name), "{table}");
    }
    for f in ["meta.json", "forest.bin", "baselines.json"] {
        assert!(model.join(f).is_file(), "{f}");
    }

    let report = dir.path().join("report");
    let o = lockerlab(&[
        "forecast",
        "eval",
        m,
        "data/history-holdout.parquet",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for chart in [
        "predicted_vs_actual",
        "reliability",
        "feature_importance",
        "residuals",
    ] {
        let png = std::fs::read(report.join(format!("{chart}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG", "{chart}");
        assert!(png.len() > 10_000, "{chart}: {} bytes", png.len());
        let svg = std::fs::read_to_string(report.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"), "{chart}");
    }
    let metrics = std::fs::read_to_string(report.join("metrics.json")).unwrap();
    assert!(metrics.contains("max_calibration_error"));

    // Against its own metadata the model passes...
    let meta = model.join("meta.json");
    let check = |baseline: &Path| {
        lockerlab(&[
            "forecast",
            "check",
            m,
            "data/history-holdout.parquet",
            "--baseline",
            baseline.to_str().unwrap(),
        ])
    };
    let o = check(&meta);
    assert!(o.status.success(), "{}", stderr(&o));
    // ...and against a baseline whose MAE is 5% better it fails, naming it.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    let mae = &mut json["evaluation"]["metrics"]["mae_hours"];
    *mae = serde_json::json!(mae.as_f64().unwrap() * 0.95);
    let better = dir.path().join("better.json");
    std::fs::write(&better, serde_json::to_string(&json).unwrap()).unwrap();
    let o = check(&better);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("mae_hours"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("rmse_hours"), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.lines()
            .any(|l| l.starts_with("mae_hours") && l.ends_with("WORSE")),
        "{out}"
    );
}

/// The exported matrix is the training set: one row per deposited package
/// whose stay ended, the model's feature columns and the dwell.
#[test]
fn forecast_features_writes_the_matrix_the_forest_sees() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    let o = lockerlab(&[
        "forecast",
        "features",
        "data/history-train.parquet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let mut header: Vec<&str> = lockerlab::forecast::FEATURE_NAMES.to_vec();
    header.push("dwell_hours");
    assert_eq!(lines.next(), Some(header.join(",").as_str()));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    // docs/data.md: 41,210 of the sample's orders were deposited and ended.
    assert_eq!(rows.len(), 41_210);
    assert!(rows.iter().all(|r| r.len() == header.len() && r[13] >= 0.0));
}

#[test]
fn forecast_errors_exit_2() {
    let o = lockerlab(&[
        "forecast",
        "eval",
        "models/nope",
        "data/history-train.parquet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("models/nope"), "{}", stderr(&o));
    let o = lockerlab(&[
        "forecast",
        "train",
        "data/history-train.parquet",
        "--out-dir",
        "/tmp/never",
        "--sample-fraction",
        "1.5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sample_fraction"), "{}", stderr(&o));
    let o = lockerlab(&[
        "forecast",
        "train",
        "data/history-train.parquet",
        "--out-dir",
        "/tmp/never",
        "--trainer",
        "smartcore",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("max_features must be 1"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn replayed_history_must_match_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.csv");
    std::fs::write(
        &history,
        "order_id,location_id,location_kind,tier,size,checkout_ms,outcome,deposit_location_id,deposit_ms,pickup_ms,retrieval_ms,occupied_at_deposit,compartments\n\
         1,atlantis,commuter,next_day,S,1000,rejected_at_checkout,,,,,,\n",
    )
    .unwrap();
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`atlantis`"), "{}", stderr(&o));
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--history-dwell",
        "model",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--history"), "{}", stderr(&o));
}

#[test]
fn replaying_a_generated_history_reports_the_generating_run() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.parquet");
    let h = history.to_str().unwrap();
    let o = lockerlab(&[
        "history",
        "scenarios/quickstart.toml",
        "--seed",
        "4",
        "--out",
        h,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "scenarios/quickstart.toml",
            "--seed",
            "4",
            // A history file is one run.
            "--replications",
            "1",
            "--format",
            "csv",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = lockerlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let original = run(&[]);
    assert_eq!(run(&["--history", h]), original);
    assert_eq!(run(&["--history", h, "--history-dwell", "model"]), original);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockerlab"))
        .args([
            "simulate",
            "scenarios/quickstart.toml",
            "--quiet",
            "--replications",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn exported_policies_round_trip_into_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    let f = file.to_str().unwrap();
    let o = lockerlab(&[
        "export-policy",
        "--policy",
        "tier-partition:shares.same_day=0.2,shares.next_day=0.6",
        "--override",
        "market-hall=snapshot",
        "--out",
        f,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let loaded = lockerlab::policy::file::PolicyFile::load(&file).unwrap();
    assert_eq!(
        loaded.policy,
        lockerlab::policy::spec::parse("tier-partition:shares.same_day=0.2,shares.next_day=0.6")
            .unwrap()
    );
    assert_eq!(
        loaded.overrides["market-hall"],
        lockerlab::policy::Policy::Snapshot {}
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), loaded.to_json());
    // Once accepted: text after the policy.
    let damaged = dir.path().join("damaged.json");
    std::fs::write(&damaged, loaded.to_json() + "garbage\n").unwrap();
    let err = lockerlab::policy::file::PolicyFile::load(&damaged).unwrap_err();
    assert!(
        err.contains("after the policy: trailing characters"),
        "{err}"
    );
    let run = |policy: &str| {
        let o = lockerlab(&[
            "simulate",
            "scenarios/quickstart.toml",
            "--format",
            "csv",
            "--quiet",
            "--policy",
            policy,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let from_file = run(f);
    let scenario = run("tier-partition");
    assert_ne!(from_file, scenario);
    // market-hall ran snapshot, the others the file's shares.
    let row = |csv: &str, id: &str| csv.lines().find(|l| l.starts_with(id)).unwrap().to_string();
    let shares = run("tier-partition:shares.same_day=0.2,shares.next_day=0.6");
    assert_eq!(
        row(&from_file, "central-station"),
        row(&shares, "central-station")
    );
    assert_eq!(
        row(&from_file, "market-hall"),
        row(&run("snapshot"), "market-hall")
    );
    // A file that names a model checks its hash.
    let o = lockerlab(&["export-policy", "--policy", "forecast", "--out", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--model"), "{}", stderr(&o));
}

#[test]
fn sweeps_are_identical_across_thread_counts_and_feed_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = |t: &str| {
        let d = dir.path().join(format!("sweep{t}"));
        let o = lockerlab(&[
            "sweep",
            "scenarios/quickstart.toml",
            "--vary",
            "policy.shares.same_day=0.1:0.3:0.1",
            "--vary",
            "policy.shares.next_day=0.4:0.5:0.1",
            "--policies",
            "tier-partition",
            "--replications",
            "3",
            "--threads",
            t,
            "--out-dir",
            d.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        d
    };
    let (one, two) = (out("1"), out("2"));
    for f in [
        "replications.csv",
        "replications.parquet",
        "summary.csv",
        "summary.parquet",
    ] {
        assert_eq!(
            std::fs::read(one.join(f)).unwrap(),
            std::fs::read(two.join(f)).unwrap(),
            "{f}"
        );
    }
    let summary = std::fs::read_to_string(one.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 6);
    assert_eq!(
        std::fs::read_to_string(one.join("replications.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 6 * 3
    );
    let report = dir.path().join("report");
    let o = lockerlab(&[
        "report",
        one.to_str().unwrap(),
        "--out-dir",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    for chart in ["frontier", "heatmap"] {
        assert!(html.contains(&format!("src=\"{chart}.png\"")), "{chart}");
        let png = std::fs::read(report.join(format!("{chart}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    }
    assert!(!html.contains("src=\"/"), "links stay relative");
    let o = lockerlab(&[
        "sweep",
        "scenarios/quickstart.toml",
        "--vary",
        "policy.shares.same_day=1:0:1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn compare_pairs_policies_and_flags_significance() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockerlab(&[
        "compare",
        "scenarios/quickstart.toml",
        "--policies",
        "tier-partition,snapshot,tier-partition",
        "--replications",
        "6",
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("compare.csv")).unwrap();
    let line = |policy: &str, metric: &str| {
        csv.lines()
            .filter(|l| l.starts_with(&format!("{policy},{metric},")))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // Snapshot accepts far more than tier-partition on the same orders.
    let snap = &line("snapshot", "acceptance_rate")[0];
    assert!(snap.ends_with(",true"), "{snap}");
    // The same policy twice: a paired difference of exactly zero.
    let same = &line("tier-partition", "acceptance_rate")[1];
    assert!(same.contains(",0,0,false"), "{same}");
    let o = lockerlab(&[
        "compare",
        "scenarios/quickstart.toml",
        "--policies",
        "snapshot",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn occupancy_is_recorded_without_changing_results_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let d = dir.path().join(name);
        let mut args = vec![
            "simulate",
            "scenarios/quickstart.toml",
            "--quiet",
            "--out-dir",
            d.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = lockerlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        d
    };
    let plain = run("plain", &[]);
    let with = run("with", &["--occupancy"]);
    assert_eq!(
        std::fs::read(plain.join("summary.json")).unwrap(),
        std::fs::read(with.join("summary.json")).unwrap()
    );
    let csv = std::fs::read_to_string(with.join("occupancy.csv")).unwrap();
    let rows: Vec<Vec<u64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|x| x.parse().unwrap()).collect())
        .collect();
    assert!(rows.len() > 3 * 24 * 7, "{} rows", rows.len());
    // Tier partition never promises more than the locker holds.
    assert!(rows.iter().all(|r| r[1..5].iter().sum::<u64>() <= r[5]));
    assert!(rows.iter().any(|r| r[1..5].iter().sum::<u64>() > 0));
    let report = dir.path().join("report");
    let o = lockerlab(&[
        "report",
        with.to_str().unwrap(),
        "--out-dir",
        report.to_str().unwrap(),
        "--location",
        "market-hall",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("src=\"occupancy.png\"") && html.contains("market-hall"));
    assert!(html.contains("src=\"utilization.png\""));
    let o = lockerlab(&[
        "report",
        with.to_str().unwrap(),
        "--out-dir",
        report.to_str().unwrap(),
        "--location",
        "atlantis",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn serve_and_demo_refuse_bad_arguments_with_exit_2() {
    let cases: [(&[&str], &str); 12] = [
        // Plain MQTT leaves this machine only when told to.
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://broker.example:1883",
            ],
            "use mqtts://broker.example:8883 (TLS), or pass --insecure-plaintext",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--tls-ca",
                "ca.pem",
            ],
            "need an mqtts:// broker",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtts://127.0.0.1",
                "--tls-ca",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtts://127.0.0.1",
                "--tls-cert",
                "serve.pem",
            ],
            "--tls-key <FILE>",
        ),
        // No secret: refused, not the public development one.
        (
            &["serve", "--broker", "mqtt://127.0.0.1:1883"],
            "--secret-file <FILE>",
        ),
        (
            &[
                "serve",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--secret-file",
                "x",
                "--insecure-dev-secret",
            ],
            "cannot be used with",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "tcp://127.0.0.1:1883",
            ],
            "expected mqtt://HOST:PORT",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://127.0.0.1:0",
            ],
            "port `0`",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--policy",
                "forecast:confidence=0.99",
            ],
            "reads a dwell model",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--policy",
                "optimized",
            ],
            "reads a dwell model",
        ),
        (
            &[
                "serve",
                "--insecure-dev-secret",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--prefix",
                "a/b/c/d",
            ],
            "at most 3",
        ),
        (
            &["demo", "scenarios/quickstart.toml", "--lockers", "9"],
            "--lockers must be 1-3",
        ),
    ];
    for (args, want) in cases {
        let o = lockerlab(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// Once printed "No such file or directory (os error 2)" twice.
#[test]
fn an_os_error_is_said_once() {
    let o = lockerlab(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--model",
        "/nonexistent-model",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// Once printed raw: an escape sequence in a scenario id reached the
/// terminal from an error message.
#[test]
fn errors_do_not_pass_escape_codes_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let loc = "[[locations]]\nid = \"a\\u001b[2J\"\nkind = \"office\"\ncompartments = { S = 2 }\n";
    let file = write(dir.path(), "esc.toml", &loc.repeat(2));
    let o = lockerlab(&["validate", &file]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("duplicate location id `a\\u{1b}[2J`"),
        "{err:?}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// `simulate --history` once suggested `--skip-bad-rows`, which it rejects
/// (a replay never skips); the forecast commands, which take it, still do.
#[test]
fn only_commands_that_skip_bad_rows_suggest_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "order_id,location_id,location_kind,tier,size,checkout_ms,outcome,\
         deposit_location_id,deposit_ms,pickup_ms,retrieval_ms,occupied_at_deposit,compartments\n\
         1,a,commuter,overnight,S,1000,rejected_at_checkout,,,,,,\n",
    )
    .unwrap();
    let o = lockerlab(&[
        "simulate",
        "scenarios/history-sample.toml",
        "--history",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("column `tier`"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("skip-bad-rows"), "{}", stderr(&o));
    let o = lockerlab(&["forecast", "eval", "models/default", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(or pass --skip-bad-rows)"),
        "{}",
        stderr(&o)
    );
}

/// Per-location tuning reads each location's metrics pooled over the
/// replications, which a run keeps only when asked.
#[test]
fn tune_per_location_reads_pooled_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tuned.json");
    let o = lockerlab(&[
        "tune",
        "scenarios/quickstart.toml",
        "--family",
        "tier-partition",
        "--per-location",
        "--replications",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let file = lockerlab::policy::file::PolicyFile::load(&out).unwrap();
    let said = format!("per location: {} of 3 locations", file.overrides.len());
    assert!(text.contains(&said), "{said}: {text}");
}

/// `export-policy --policy FILE.json` writes a policy file again, with its
/// overrides and model carried over (the model's path made relative to the
/// new file) and `--override` applied on top: `--policy` takes a spec or a
/// file everywhere.
#[test]
fn a_policy_file_is_exported_again_with_more_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.json");
    let o = lockerlab(&[
        "export-policy",
        "--policy",
        "forecast:confidence=0.99",
        "--model",
        "models/default",
        "--override",
        "market-hall=snapshot",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second = dir.path().join("deep/er/second.json");
    let o = lockerlab(&[
        "export-policy",
        "--policy",
        first.to_str().unwrap(),
        "--override",
        "central-station=naive-hold",
        "--out",
        second.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    use lockerlab::policy::file::PolicyFile;
    let (a, b) = (
        PolicyFile::load(&first).unwrap(),
        PolicyFile::load(&second).unwrap(),
    );
    assert_eq!(b.policy, a.policy);
    assert_eq!(
        b.overrides["market-hall"],
        lockerlab::policy::Policy::Snapshot {}
    );
    assert_eq!(
        b.overrides["central-station"],
        lockerlab::policy::Policy::NaiveHold {}
    );
    let (ma, mb) = (a.model.unwrap(), b.model.clone().unwrap());
    assert_eq!(mb.forest_sha256, ma.forest_sha256);
    assert!(mb.path.starts_with("../../"), "{}", mb.path);
    assert_eq!(
        std::fs::canonicalize(b.model_dir(&second).unwrap()).unwrap(),
        std::fs::canonicalize("models/default").unwrap()
    );
}

/// A rotation needs a new secret, a store to rotate, and codes whose state
/// can be kept.
#[test]
fn serve_refuses_a_rotation_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str, byte: u8| {
        let p = dir.path().join(name);
        std::fs::write(&p, lockerlab::access::keys::hex(&[byte; 32])).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (old, new) = (key("old.key", 1), key("new.key", 2));
    let store = dir.path().join("s.sqlite");
    let store = store.to_str().unwrap();
    let serve = [
        "serve",
        "--broker",
        "mqtt://127.0.0.1:1883",
        "--secret-file",
    ];
    let cases: [(Vec<&str>, &str); 3] = [
        (
            [
                &serve[..],
                &[&new, "--previous-secret-file", &new, "--store", store],
            ]
            .concat(),
            "a rotation needs a new one",
        ),
        (
            [&serve[..], &[&new, "--previous-secret-file", &old]].concat(),
            "--store <FILE>",
        ),
        (
            [
                &serve[..],
                &[&new, "--previous-secret-file", &old, "--store", store],
                &["--insecure-code-seed", "1"],
            ]
            .concat(),
            "not --insecure-code-seed",
        ),
    ];
    for (args, want) in cases {
        let o = lockerlab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(!std::path::Path::new(store).exists(), "no store made");
}
