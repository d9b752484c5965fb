//! Setting a newcomer up: `init` writes a starter scenario that runs,
//! `completions` and `man` describe the real command tree.

use crate::common::cli;
use cli::{lockerlab, stderr, stdout};

#[test]
fn init_writes_a_starter_that_validates_and_runs_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my-city.toml");
    let f = file.to_str().unwrap();
    let o = lockerlab(&["init", "my-city", "--out", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("lockerlab validate"), "{}", stderr(&o));
    let o = lockerlab(&["validate", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lockerlab(&["simulate", f, "--quiet", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scenario"], "my-city");
    assert!(v["totals"]["offered"].as_f64().unwrap() > 100.0);

    let before = std::fs::read(&file).unwrap();
    std::fs::write(&file, b"mine").unwrap();
    let o = lockerlab(&["init", "my-city", "--out", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("never overwrites"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    assert!(!before.is_empty());
    let o = lockerlab(&["init", "../escape me"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_and_the_man_page_know_every_subcommand() {
    let bash = stdout(&lockerlab(&["completions", "bash"]));
    let man = stdout(&lockerlab(&["man"]));
    assert!(
        man.starts_with(".ie") || man.contains(".TH lockerlab"),
        "{}",
        &man[..200.min(man.len())]
    );
    for sub in [
        "simulate", "compare", "sweep", "tune", "serve", "demo", "forecast", "init",
    ] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
        assert!(man.contains(sub), "man page lacks {sub}");
    }
    assert!(bash.contains("--replications"), "flags complete too");
    let o = lockerlab(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "an unknown shell is bad input");
}

/// The committed schema is what `lockerlab schema` prints (regenerate it
/// with `lockerlab schema --out docs/scenario.schema.json`), it knows every
/// section, refuses unknown keys, and every shipped scenario points at it.
#[test]
fn the_scenario_schema_is_current_and_every_scenario_names_it() {
    let o = lockerlab(&["schema"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    let committed = std::fs::read_to_string("docs/scenario.schema.json").unwrap();
    assert!(
        printed == committed,
        "docs/scenario.schema.json is stale: run `lockerlab schema --out docs/scenario.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
    for section in [
        "simulation",
        "lifecycle",
        "tiers",
        "demand",
        "dwell",
        "policy",
        "access",
        "faults",
        "kiosk",
        "discovery",
        "fallback",
        "locations",
        "pickup_hours",
        "forecast",
    ] {
        assert!(
            schema["properties"].get(section).is_some(),
            "the schema lacks [{section}]"
        );
    }
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("#:schema ../docs/scenario.schema.json\n"),
            "{} does not name the schema on its first line",
            path.display()
        );
    }
}
