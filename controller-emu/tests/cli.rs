//! Bad arguments and bad stdin lines: a clear message, never a panic.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn emu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_controller-emu"))
        .args(args)
        .arg("--insecure-dev-secret")
        .output()
        .unwrap()
}

#[test]
fn bad_arguments_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite");
    let store = store.to_str().unwrap();
    let layout = dir.path().join("layout.json");
    std::fs::write(&layout, r#"{"S":4,"XXL":1}"#).unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec![
                "--locker",
                "L1",
                "--broker",
                "mqtt://broker.example",
                "--store",
                store,
            ],
            "--insecure-plaintext",
        ),
        (
            vec![
                "--locker",
                "bad id",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--store",
                store,
            ],
            "locker id `bad id`",
        ),
        (
            vec!["--locker", "L1", "--broker", "http://x", "--store", store],
            "expected mqtt://HOST:PORT",
        ),
        (
            vec![
                "--locker",
                "L1",
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--store",
                store,
                "--layout",
                layout.to_str().unwrap(),
            ],
            "unknown size `XXL`",
        ),
    ];
    for (args, want) in cases {
        let o = emu(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!Path::new(store).exists(), "{args:?}: nothing was created");
    }
}

#[test]
fn without_a_key_file_it_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite");
    let o = Command::new(env!("CARGO_BIN_EXE_controller-emu"))
        .args([
            "--locker",
            "L1",
            "--broker",
            "mqtt://127.0.0.1:9",
            "--store",
        ])
        .arg(&store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--key-file <FILE>"), "{err}");
    assert!(!store.exists(), "nothing was created");
}

#[test]
fn a_bad_stdin_line_is_answered_and_the_next_one_works() {
    let dir = tempfile::tempdir().unwrap();
    // No broker listens on port 9: the locker serves people offline.
    let mut child = Command::new(env!("CARGO_BIN_EXE_controller-emu"))
        .args([
            "--locker",
            "L1",
            "--broker",
            "mqtt://127.0.0.1:9",
            "--exit-on-eof",
            "--insecure-dev-secret",
        ])
        .arg("--store")
        .arg(dir.path().join("s.sqlite"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{{\"act\":\"fly\"}}").unwrap();
    writeln!(stdin, "not json").unwrap();
    // A driver scans before signing in, signs in, scans an unknown package.
    writeln!(stdin, "{{\"act\":\"driver_scan\",\"package\":5}}").unwrap();
    let pass = lockerlab::access::pass::open_ended(
        &lockerlab::access::keys::DEV_REGION_SECRET,
        lockerlab::access::pass::Role::Driver,
        "L1",
    );
    writeln!(stdin, "{{\"act\":\"sign_in\",\"pass\":\"{pass}\"}}").unwrap();
    writeln!(stdin, "{{\"act\":\"driver_scan\",\"package\":5}}").unwrap();
    writeln!(stdin, "{{\"act\":\"status\"}}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("stdin line 1: unknown variant `fly`"));
    assert!(lines[1]["error"].as_str().unwrap().contains("stdin line 2"));
    assert_eq!(
        lines[2]["screen"]["screen"], "sign_in_first",
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["screen"]["screen"], "signed_in", "{}", lines[3]);
    // An unknown package: the screen says so, no door opens.
    assert_eq!(
        lines[4]["screen"]["screen"], "unknown_package",
        "{}",
        lines[4]
    );
    for l in &lines[2..5] {
        assert_eq!(l["door"], serde_json::Value::Null);
    }
    assert_eq!(lines[5]["status"]["locker"], "L1");
}
