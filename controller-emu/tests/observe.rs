//! What an operator sees of a running emulated locker: JSON log lines (the
//! connection, every action at debug, never a typed code) and the Prometheus
//! endpoint (actions by outcome, compartments, the link, `/healthz`).
//! The broker runs in the test process.

use lockerlab::mqtt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path`: (status line, body), or None while nothing listens.
fn get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_and_metrics_show_the_link_and_every_action_but_no_secret() {
    let broker = mqtt::broker::given_or_embedded(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_controller-emu"))
        .args([
            "--locker",
            "L1",
            "--region",
            "observe",
            "--insecure-dev-secret",
        ])
        .arg("--broker")
        .arg(broker.to_string())
        .arg("--store")
        .arg(dir.path().join("l1.sqlite"))
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["-v", "--log-format", "json", "--exit-on-eof"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, logs) = mpsc::channel::<String>();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let read_logs = |seen: &mut Vec<serde_json::Value>| {
        while let Ok(line) = logs.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            seen.push(v);
        }
    };
    until("the connected log line", || {
        read_logs(&mut seen);
        seen.iter()
            .any(|l| l["message"] == "connected")
            .then_some(())
    });
    let connected = seen.iter().find(|l| l["message"] == "connected").unwrap();
    assert_eq!(connected["level"], "INFO");
    assert_eq!(connected["locker"], "L1");
    assert!(connected["timestamp"].is_string(), "{connected}");
    until("/healthz 200", || {
        get(port, "/healthz").filter(|(status, _)| status == "HTTP/1.1 200 OK")
    });

    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut act = |line: &str| {
        writeln!(stdin, "{line}").unwrap();
        let mut reply = String::new();
        stdout.read_line(&mut reply).unwrap();
        serde_json::from_str::<serde_json::Value>(&reply).unwrap()
    };
    let wrong = act(r#"{"act":"keypad","code":"987123"}"#);
    assert_eq!(wrong["screen"]["screen"], "wrong_code", "{wrong}");
    let status = act(r#"{"act":"status"}"#);
    assert!(status["error"].is_null(), "{status}");

    let (status_line, body) = get(port, "/metrics").unwrap();
    assert_eq!(status_line, "HTTP/1.1 200 OK");
    for want in [
        "lockerlab_emu_actions_total{action=\"keypad\",outcome=\"wrong_code\"} 1",
        "lockerlab_emu_actions_total{action=\"status\",outcome=\"ok\"} 1",
        "lockerlab_emu_broker_connected 1",
        "lockerlab_emu_connects_total 1",
        "lockerlab_emu_compartments{state=\"available\"} 42",
        "lockerlab_emu_compartments{state=\"occupied\"} 0",
        "lockerlab_emu_build_info{version=",
    ] {
        assert!(body.contains(want), "no `{want}` in\n{body}");
    }
    assert!(body.ends_with("# EOF\n"), "{body}");

    drop(stdin);
    assert!(child.wait().unwrap().success(), "stops when stdin ends");
    read_logs(&mut seen);
    let keypad = seen
        .iter()
        .find(|l| l["message"] == "action" && l["action"] == "keypad")
        .unwrap_or_else(|| panic!("no debug line for the keypad action: {seen:?}"));
    assert_eq!(keypad["level"], "DEBUG");
    assert_eq!(keypad["outcome"], "wrong_code", "{keypad}");
    let all: String = seen.iter().map(|l| l.to_string()).collect();
    assert!(
        !all.contains("987123"),
        "a typed code reached the log: {all}"
    );
}
