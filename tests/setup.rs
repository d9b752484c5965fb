//! Setting a newcomer up: `init` writes a starter scenario that runs,
//! `completions` and `man` describe the real command tree.

#[path = "common/cli.rs"]
mod cli;
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
