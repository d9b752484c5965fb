//! SIGKILL in the middle of a drop-off: the restarted controller resumes
//! from its store (a snapshot and the journal since); the deposit reaches
//! the service once; no compartment is bound twice. Broker and service run in the test process.

use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::domain::{Size, Tier};
use lockerlab::mqtt::{self, Clock, Endpoint};
use lockerlab::policy::Policy;
use lockerlab::protocol::{self, Reply, ReserveRequest, Topics};
use lockerlab::serve::{self, Gateway, ServeOptions};
use lockerlab::service::{CodeSeed, LockerSpec, Service, ServiceConfig};
use rumqttc::{Event, Packet, QoS};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const HOUR: i64 = 3_600_000;

struct Emu {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Emu {
    fn start(broker: &Endpoint, store: &std::path::Path) -> Emu {
        let mut child = Command::new(env!("CARGO_BIN_EXE_controller-emu"))
            .args([
                "--locker",
                "L1",
                "--region",
                "crash",
                "--insecure-dev-secret",
            ])
            .arg("--broker")
            .arg(broker.to_string())
            .arg("--store")
            .arg(store)
            .args(["--heartbeat-secs", "1"])
            // The kill lands between snapshots: the restart loads one and
            // replays the inputs after it.
            .args(["--snapshot-every", "2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Emu {
            child,
            stdin,
            lines,
        }
    }

    fn act(&mut self, action: &str) -> serde_json::Value {
        writeln!(self.stdin, "{action}").unwrap();
        self.lines.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

fn shop(
    rt: &tokio::runtime::Runtime,
    broker: &Endpoint,
    topics: &Topics,
) -> (rumqttc::AsyncClient, Arc<Mutex<Vec<Reply>>>) {
    let mut o = mqtt::options("shop-crash", broker, None);
    o.set_clean_session(true);
    o.set_manual_acks(false);
    let (client, mut events) = rt.block_on(async { mqtt::client(o, 64) });
    let replies = Arc::new(Mutex::new(Vec::new()));
    let sink = replies.clone();
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        while let Ok(ev) = events.poll().await {
            match ev {
                Event::Incoming(Packet::SubAck(_)) => {
                    let _ = tx.send(());
                }
                Event::Incoming(Packet::Publish(p)) => {
                    if let Ok(env) = protocol::decode::<Reply>(&p.payload) {
                        sink.lock().unwrap().push(env.body);
                    }
                }
                _ => {}
            }
        }
    });
    rt.block_on(client.subscribe(topics.reply("shop"), QoS::AtLeastOnce))
        .unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    (client, replies)
}

fn try_wait_for(
    replies: &Mutex<Vec<Reply>>,
    timeout: Duration,
    want: impl Fn(&Reply) -> bool,
) -> Option<Vec<Reply>> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let got: Vec<Reply> = replies
            .lock()
            .unwrap()
            .iter()
            .filter(|r| want(r))
            .cloned()
            .collect();
        if !got.is_empty() {
            return Some(got);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn wait_for(replies: &Mutex<Vec<Reply>>, want: impl Fn(&Reply) -> bool) -> Vec<Reply> {
    try_wait_for(replies, Duration::from_secs(5), want)
        .unwrap_or_else(|| panic!("no such reply in 5 s: {:?}", replies.lock().unwrap()))
}

#[test]
fn sigkill_mid_drop_off_loses_nothing_and_binds_no_compartment_twice() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let broker = mqtt::broker::given_or_embedded(None).unwrap();
    let topics = Topics::new("lockerlab", "crash").unwrap();
    let cfg = ServiceConfig {
        lockers: vec![LockerSpec::live(
            "L1",
            0,
            &DEV_REGION_SECRET,
            &CodeSeed::Insecure(3),
        )],
        policy: Policy::Snapshot {},
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 0,
        reservation_timeout: [12 * HOUR; 4],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        calendar: Default::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serve = rt.spawn(serve::serve(
        Gateway::new(Service::new(cfg).unwrap(), topics.clone()),
        ServeOptions {
            broker: broker.clone(),
            clock: Clock::real(),
            client_id: "serve-crash".into(),
            progress: None,
            subscribed: None,
            metrics: None,
            journal: None,
        },
        stop_rx,
    ));
    let (client, replies) = shop(&rt, &broker, &topics);
    let order = |id: u64| {
        let req = ReserveRequest {
            order: id,
            locker: "L1".into(),
            tier: Tier::SameDay,
            size: Size::S,
            client: "shop".into(),
            lead_ms: 0,
            kind: Default::default(),
        };
        let payload = protocol::encode(format!("o{id}"), 0, &req);
        // Asked again (same id) while the service may not be subscribed yet.
        for _ in 0..10 {
            rt.block_on(client.publish(topics.reserve(), QoS::AtLeastOnce, false, payload.clone()))
                .unwrap();
            let answer = |r: &Reply| matches!(r, Reply::Accepted { order, .. } | Reply::Rejected { order, .. } if *order == id);
            if let Some(mut got) = try_wait_for(&replies, Duration::from_secs(1), answer) {
                return got.remove(0);
            }
        }
        panic!("no answer to order {id}")
    };

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("L1.sqlite");
    let mut emu = Emu::start(&broker, &store);
    // Orders until the service has heard the locker announce itself.
    let mut id = 1;
    while !matches!(order(id), Reply::Accepted { .. }) {
        id += 1;
        assert!(id < 300, "the service never learned of L1");
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = id;
    let second = id + 1;
    assert!(matches!(order(second), Reply::Accepted { .. }));
    // Wait until both reservations are at the locker.
    for _ in 0..200 {
        if emu.act(r#"{"act":"status"}"#)["status"]["pending"][0] == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pass = lockerlab::access::pass::open_ended(
        &DEV_REGION_SECRET,
        lockerlab::access::pass::Role::Driver,
        "L1",
    );
    emu.act(&format!(r#"{{"act":"sign_in","pass":"{pass}"}}"#));
    let scan = emu.act(&format!(r#"{{"act":"driver_scan","package":{first}}}"#));
    let door = scan["door"].as_u64().expect("a door opened");
    // The process dies with the door open and the package in the driver's hands.
    emu.kill();
    let kept = lockerlab::emu::Store::inspect(&store).unwrap();
    let (through, _) = kept.snapshot().unwrap().expect("the locker snapshotted");
    assert!(kept
        .journal()
        .unwrap()
        .iter()
        .all(|(pos, _)| *pos >= through));
    drop(kept);

    let mut emu = Emu::start(&broker, &store);
    let status = emu.act(r#"{"act":"status"}"#);
    assert_eq!(
        status["door"].as_u64(),
        Some(door),
        "the door is still open: {status}"
    );
    assert_eq!(
        status["status"]["pending"][0], 1,
        "one reservation still unbound: {status}"
    );
    let put = emu.act(r#"{"act":"put"}"#);
    assert_eq!(put["events"][0]["event"], "deposited", "{put}");
    assert_eq!(put["events"][0]["compartment"].as_u64(), Some(door));
    // The second driver gets another compartment.
    let scan = emu.act(&format!(r#"{{"act":"driver_scan","package":{second}}}"#));
    let other = scan["door"].as_u64().expect("a door opened");
    assert_ne!(other, door, "a compartment was bound twice");
    emu.act(r#"{"act":"put"}"#);
    wait_for(
        &replies,
        |r| matches!(r, Reply::Code { order, .. } if *order == second),
    );
    let codes = wait_for(
        &replies,
        |r| matches!(r, Reply::Code { order, .. } if *order == first),
    );
    assert_eq!(codes.len(), 1, "the deposit was applied once");
    // Kill again with everything acknowledged: the restart re-sends nothing new.
    emu.kill();
    let mut emu = Emu::start(&broker, &store);
    let status = emu.act(r#"{"act":"status"}"#);
    assert_eq!(status["status"]["occupied"], 2, "{status}");
    std::thread::sleep(Duration::from_millis(300));
    emu.kill();
    stop_tx.send(true).unwrap();
    let service = rt.block_on(serve).unwrap().unwrap();
    assert_eq!(service.stats().codes_issued, 2);
    assert_eq!(service.stats().malformed, 0);
}
