//! Sharded runs (`--shard I/N --partials DIR`) merge to exactly what the
//! one-machine command writes, and `lockerlab merge` refuses every set of
//! partials that is not one complete run.

use crate::common::cli::{lockerlab, stderr, stdout};
use std::path::Path;

const QUICK: &str = "scenarios/quickstart.toml";

fn ok(args: &[&str]) -> String {
    let o = lockerlab(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn refused(args: &[&str]) -> String {
    let o = lockerlab(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    stderr(&o)
}

/// Every file of `a` is in `b` with the same bytes (timing.json aside:
/// timing is never the same twice).
fn same_files(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "timing.json")
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for n in names {
        let x = std::fs::read(a.join(&n)).unwrap();
        let y = std::fs::read(b.join(&n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(
            x == y,
            "{n} differs between the one-machine run and the merge"
        );
    }
}

fn simulate_shards(dir: &Path, n: u32, extra: &[&str]) {
    for i in 0..n {
        let shard = format!("{i}/{n}");
        let mut args = vec![
            "simulate",
            QUICK,
            "--replications",
            "3",
            "-q",
            "--shard",
            &shard,
            "--partials",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&args);
    }
}

#[test]
fn a_sharded_simulate_merges_to_the_one_machine_output_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let one = t.path().join("one");
    let merged = t.path().join("merged");
    let partials = t.path().join("partials");
    let csv_one = ok(&[
        "simulate",
        QUICK,
        "--replications",
        "3",
        "-q",
        "--format",
        "csv",
        "--out-dir",
        one.to_str().unwrap(),
    ]);
    // Four shards for three regions × three replications: uneven on purpose.
    simulate_shards(&partials, 4, &[]);
    let csv_merged = ok(&[
        "merge",
        partials.to_str().unwrap(),
        "-q",
        "--format",
        "csv",
        "--out-dir",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(csv_one, csv_merged);
    same_files(&one, &merged);
    // JSON on stdout is summary.json (the merge has no timing of its own).
    let json = ok(&[
        "merge",
        partials.to_str().unwrap(),
        "-q",
        "--format",
        "json",
    ]);
    assert_eq!(
        json,
        std::fs::read_to_string(one.join("summary.json")).unwrap()
    );
}

#[test]
fn a_sharded_sweep_merges_to_the_one_machine_output_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let (one, merged, partials) = (
        t.path().join("one"),
        t.path().join("merged"),
        t.path().join("partials"),
    );
    let sweep = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            QUICK,
            "--vary",
            "policy.shares.same_day=0.1:0.4:0.1",
            "--replications",
            "3",
            "-q",
        ];
        a.extend_from_slice(extra);
        ok(&a)
    };
    let json_one = sweep(&["--format", "json", "--out-dir", one.to_str().unwrap()]);
    for i in 0..4 {
        sweep(&[
            "--shard",
            &format!("{i}/4"),
            "--partials",
            partials.to_str().unwrap(),
        ]);
    }
    let json_merged = ok(&[
        "merge",
        partials.to_str().unwrap(),
        "-q",
        "--format",
        "json",
        "--out-dir",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(json_one, json_merged);
    same_files(&one, &merged);
}

#[test]
fn a_sharded_compare_merges_to_the_one_machine_output_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let (one, merged, partials) = (
        t.path().join("one"),
        t.path().join("merged"),
        t.path().join("partials"),
    );
    let compare = |extra: &[&str]| {
        let mut a = vec![
            "compare",
            QUICK,
            "--policies",
            "tier-partition,snapshot,tier-partition:shares.same_day=0.2",
            "--replications",
            "4",
            "--metrics",
            "acceptance_rate,utilization",
            "-q",
        ];
        a.extend_from_slice(extra);
        ok(&a)
    };
    let json_one = compare(&["--format", "json", "--out-dir", one.to_str().unwrap()]);
    let table_one = compare(&[]);
    for i in 0..3 {
        compare(&[
            "--shard",
            &format!("{i}/3"),
            "--partials",
            partials.to_str().unwrap(),
        ]);
    }
    let p = partials.to_str().unwrap();
    let json_merged = ok(&[
        "merge",
        p,
        "-q",
        "--format",
        "json",
        "--out-dir",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(json_one, json_merged);
    assert_eq!(table_one, ok(&["merge", p, "-q"]));
    same_files(&one, &merged);
}

#[test]
fn auto_takes_the_index_from_the_array_variable() {
    let t = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_lockerlab"))
        .args([
            "simulate",
            QUICK,
            "--replications",
            "2",
            "-q",
            "--shard",
            "auto/3",
        ])
        .arg("--partials")
        .arg(t.path())
        .env("JOB_COMPLETION_INDEX", "2")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(t.path().join("shard-0002-of-0003.manifest.json").exists());
}

#[test]
fn a_rerun_shard_replaces_its_partial_and_leaves_no_stale_data() {
    let t = tempfile::tempdir().unwrap();
    simulate_shards(t.path(), 2, &[]);
    // Shard 0 again, on other numbers: its old data files go with its old manifest.
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "3",
        "--seed",
        "99",
        "-q",
        "--shard",
        "0/2",
        "--partials",
        t.path().to_str().unwrap(),
    ]);
    let names: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("shard-0000"))
        .collect();
    assert_eq!(names.len(), 3, "manifest and two data files: {names:?}");
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    // And the set now mixes seeds, which the merge refuses.
    let e = refused(&["merge", t.path().to_str().unwrap()]);
    assert!(
        e.contains("another seed (7;") && e.contains("has 99)"),
        "{e}"
    );
}

#[test]
fn merge_refuses_missing_and_duplicate_shards() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p");
    simulate_shards(&p, 4, &[]);
    let copy = t.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&p).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.starts_with("shard-0001") {
            std::fs::copy(e.path(), copy.join(&name)).unwrap();
        }
        if name.starts_with("shard-0002") || name.starts_with("shard-0003") {
            std::fs::rename(e.path(), copy.join(&name)).unwrap();
        }
    }
    let e = refused(&["merge", p.to_str().unwrap()]);
    assert!(
        e.contains("missing 2 of 4 shards: 2, 3 (run each with --shard I/4)"),
        "{e}"
    );
    let e = refused(&["merge", p.to_str().unwrap(), copy.to_str().unwrap()]);
    assert!(e.contains("shard 1 of 4 appears 2 times"), "{e}");
    assert!(e.contains("nothing was merged"), "{e}");
}

#[test]
fn merge_refuses_partials_of_another_scenario_command_or_version() {
    let t = tempfile::tempdir().unwrap();
    // Another scenario: shard 1 ran a copy with one number changed.
    let other = t.path().join("other.toml");
    let text = std::fs::read_to_string(QUICK).unwrap();
    std::fs::write(
        &other,
        text.replace("orders_per_day = 40", "orders_per_day = 41"),
    )
    .unwrap();
    let p = t.path().join("p");
    let pd = p.to_str().unwrap();
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "2",
        "-q",
        "--shard",
        "0/2",
        "--partials",
        pd,
    ]);
    ok(&[
        "simulate",
        other.to_str().unwrap(),
        "--replications",
        "2",
        "-q",
        "--shard",
        "1/2",
        "--partials",
        pd,
    ]);
    let e = refused(&["merge", pd]);
    assert!(e.contains("another scenario (SHA-256"), "{e}");

    // Another command: a sweep's shard beside a simulate's.
    let q = t.path().join("q");
    let qd = q.to_str().unwrap();
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "2",
        "-q",
        "--shard",
        "0/2",
        "--partials",
        qd,
    ]);
    ok(&[
        "sweep",
        QUICK,
        "--vary",
        "policy.shares.same_day=0.1:0.2:0.1",
        "--replications",
        "2",
        "-q",
        "--shard",
        "1/2",
        "--partials",
        qd,
    ]);
    let e = refused(&["merge", qd]);
    assert!(e.contains("another command (sweep; "), "{e}");

    // The same command with other arguments (more replications).
    let r = t.path().join("r");
    let rd = r.to_str().unwrap();
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "2",
        "-q",
        "--shard",
        "0/2",
        "--partials",
        rd,
    ]);
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "3",
        "-q",
        "--shard",
        "1/2",
        "--partials",
        rd,
    ]);
    let e = refused(&["merge", rd]);
    assert!(e.contains("the same command with other arguments"), "{e}");

    // Another version of lockerlab wrote every partial.
    let v = t.path().join("v");
    simulate_shards(&v, 2, &[]);
    for e in std::fs::read_dir(&v).unwrap() {
        let path = e.unwrap().path();
        if path.to_string_lossy().ends_with(".manifest.json") {
            let m = std::fs::read_to_string(&path).unwrap();
            let version = env!("CARGO_PKG_VERSION");
            let m = m.replace(
                &format!("\"lockerlab_version\": \"{version}\""),
                "\"lockerlab_version\": \"0.0.1\"",
            );
            std::fs::write(&path, m).unwrap();
        }
    }
    let e = refused(&["merge", v.to_str().unwrap()]);
    assert!(e.contains("written by lockerlab 0.0.1"), "{e}");

    // Shards split into another number of parts.
    let s = t.path().join("s");
    let sd = s.to_str().unwrap();
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "2",
        "-q",
        "--shard",
        "0/2",
        "--partials",
        sd,
    ]);
    ok(&[
        "simulate",
        QUICK,
        "--replications",
        "2",
        "-q",
        "--shard",
        "1/3",
        "--partials",
        sd,
    ]);
    let e = refused(&["merge", sd]);
    assert!(e.contains("another number of shards (of 3;"), "{e}");
}

#[test]
fn merge_refuses_a_changed_data_file_and_a_changed_scenario() {
    let t = tempfile::tempdir().unwrap();
    let sc = t.path().join("quick.toml");
    std::fs::copy(QUICK, &sc).unwrap();
    let p = t.path().join("p");
    let pd = p.to_str().unwrap();
    for i in 0..2 {
        ok(&[
            "simulate",
            sc.to_str().unwrap(),
            "--replications",
            "2",
            "-q",
            "--shard",
            &format!("{i}/2"),
            "--partials",
            pd,
        ]);
    }
    // The scenario file changed after the shards ran.
    let text = std::fs::read_to_string(&sc).unwrap();
    std::fs::write(&sc, format!("{text}\n# edited\n")).unwrap();
    let e = refused(&["merge", pd]);
    assert!(e.contains("is not the scenario the shards ran"), "{e}");
    std::fs::write(&sc, text).unwrap();
    ok(&["merge", pd, "-q"]);
    // A data file changed.
    let data = std::fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".locations."))
        .unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    std::fs::write(&data, bytes).unwrap();
    let e = refused(&["merge", pd]);
    assert!(e.contains("its SHA-256 is not the one"), "{e}");
}

#[test]
fn shard_arguments_are_checked_before_anything_runs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_str().unwrap();
    let e = refused(&["simulate", QUICK, "--shard", "4/4", "--partials", d]);
    assert!(e.contains("shards are numbered 0 to 3"), "{e}");
    let e = refused(&[
        "simulate",
        QUICK,
        "--shard",
        "0/2",
        "--partials",
        d,
        "--out-dir",
        d,
    ]);
    assert!(e.contains("give --out-dir to `lockerlab merge`"), "{e}");
    let e = refused(&["merge", d]);
    assert!(e.contains("no partials (*.manifest.json) here"), "{e}");
    // clap: --shard needs --partials.
    let o = lockerlab(&["simulate", QUICK, "--shard", "0/2"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The Kubernetes template's shard count is its Job's completion count,
/// and the array script takes N from Slurm: a template that drifts would
/// leave shards unrun (and the merge would refuse).
#[test]
fn the_cluster_templates_agree_on_the_shard_count() {
    let job = std::fs::read_to_string("deploy/kubernetes/sweep-job.yaml").unwrap();
    let after = |key: &str| -> u32 {
        let at = job.find(key).unwrap_or_else(|| panic!("no {key}")) + key.len();
        let digits: String = job[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    assert_eq!(after("completions: "), after("auto/"));
    assert_eq!(after("completions: "), after("parallelism: "));
    let slurm = std::fs::read_to_string("deploy/slurm/lockerlab-array.sh").unwrap();
    assert!(slurm.contains("--shard \"auto/$SLURM_ARRAY_TASK_COUNT\""));
}

#[test]
fn a_sharded_tune_merges_to_the_one_machine_choice_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("partials");
    let path = |name: &str| t.path().join(name).to_str().unwrap().to_string();
    let tune = |extra: &[&str]| {
        let mut a = vec![
            "tune",
            QUICK,
            "--family",
            "tier-partition",
            "--max-broken-promise-rate",
            "0.05",
            "--per-location",
            "--replications",
            "2",
            "-q",
        ];
        a.extend_from_slice(extra);
        ok(&a)
    };
    let (policy_one, cands_one) = (path("one.json"), path("one.csv"));
    let json_one = tune(&[
        "--format",
        "json",
        "--out",
        &policy_one,
        "--candidates",
        &cands_one,
    ]);
    let table_one = tune(&[]);
    for i in 0..3 {
        tune(&[
            "--shard",
            &format!("{i}/3"),
            "--partials",
            p.to_str().unwrap(),
        ]);
    }
    let (policy_merged, cands_merged) = (path("merged.json"), path("merged.csv"));
    let json_merged = ok(&[
        "merge",
        p.to_str().unwrap(),
        "-q",
        "--format",
        "json",
        "--out",
        &policy_merged,
        "--candidates",
        &cands_merged,
    ]);
    assert_eq!(json_one, json_merged);
    assert_eq!(table_one, ok(&["merge", p.to_str().unwrap(), "-q"]));
    for (a, b) in [(policy_one, policy_merged), (cands_one, cands_merged)] {
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }
}
