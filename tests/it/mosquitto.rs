//! Against Mosquitto from Debian (`apt-get install mosquitto`; `.ci/run`
//! installs it): the ACL from controller-emu/mosquitto with per-locker
//! passwords and with per-locker TLS client certificates (made at test time
//! by tools/make-certs.sh with openssl), and a broker restart under traffic
//! over TLS. Without a mosquitto binary these tests say so and pass; CI
//! always has one.

use lockerlab::domain::Tier;
use lockerlab::emu::{Action, Durability};
use lockerlab::mqtt::{self, BrokerUrl, Credentials, Endpoint, TlsFiles};
use lockerlab::protocol::{self, OrderOutcome, Reply, Topics};
use rumqttc::{Event, Packet, QoS};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use crate::common;

fn mosquitto_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOCKERLAB_MOSQUITTO") {
        return Some(p.into());
    }
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// How clients prove who they are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Login {
    /// Plain MQTT, anyone.
    Anonymous,
    /// TLS (the broker's certificate checked), anyone.
    AnonymousTls,
    /// Plain MQTT, the repo's passwords and ACL.
    Passwords,
    /// TLS with a client certificate each; its common name is the username
    /// the ACL reads (`use_identity_as_username`).
    Certificates,
}

pub(crate) struct Broker {
    child: Child,
    conf: PathBuf,
    bin: PathBuf,
    pub url: BrokerUrl,
    /// The CA and certificates of a TLS listener.
    certs: PathBuf,
}

/// Identities with a certificate (the ACL's users and one it does not know).
const IDENTITIES: [&str; 5] = ["serve", "shop", "L001", "L002", "stranger"];

/// tools/make-certs.sh: a CA, the broker's certificate, one per identity.
fn make_certs(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/make-certs.sh");
    let ok = Command::new("bash")
        .arg(script)
        .arg(dir)
        .args(IDENTITIES)
        .status()
        .unwrap()
        .success();
    assert!(ok, "tools/make-certs.sh failed (is openssl installed?)");
}

impl Broker {
    /// Mosquitto on a free port, clients logging in by `login`.
    pub(crate) fn start(dir: &Path, login: Login) -> Option<Broker> {
        let Some(bin) = mosquitto_binary() else {
            eprintln!("mosquitto is not installed: test skipped (CI installs it)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("controller-emu/mosquitto");
        // `user root` keeps mosquitto (started by root in CI) from dropping
        // to a user that cannot read the test's private temporary files.
        let mut conf = format!(
            "listener {port} 127.0.0.1\nuser root\npersistence true\npersistence_location {}/\n\
             autosave_interval 1\nset_tcp_nodelay true\nmax_queued_messages 10000\n",
            dir.display()
        );
        let certs = dir.join("certs");
        let tls = matches!(login, Login::AnonymousTls | Login::Certificates);
        if tls {
            make_certs(&certs);
            conf += &format!(
                "cafile {0}/ca.pem\ncertfile {0}/broker.pem\nkeyfile {0}/broker.key\n",
                certs.display()
            );
        }
        match login {
            Login::Anonymous | Login::AnonymousTls => conf += "allow_anonymous true\n",
            Login::Passwords => {
                let passwd = dir.join("passwd");
                std::fs::copy(repo.join("passwords.txt"), &passwd).unwrap();
                let ok = Command::new("mosquitto_passwd")
                    .arg("-U")
                    .arg(&passwd)
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "mosquitto_passwd -U failed");
                conf += &format!(
                    "allow_anonymous false\npassword_file {}\nacl_file {}\n",
                    passwd.display(),
                    repo.join("acl").display()
                );
            }
            Login::Certificates => {
                conf += &format!(
                    "require_certificate true\nuse_identity_as_username true\n\
                     allow_anonymous false\nacl_file {}\n",
                    repo.join("acl").display()
                );
            }
        }
        let path = dir.join("mosquitto.conf");
        std::fs::write(&path, conf).unwrap();
        let url = BrokerUrl {
            host: "127.0.0.1".into(),
            port,
            tls,
        };
        let child = Self::spawn(&bin, &path, &url);
        Some(Broker {
            child,
            conf: path,
            bin,
            url,
            certs,
        })
    }

    /// How `identity` connects: its password or its certificate (and the
    /// broker's CA) as the login asks.
    fn endpoint(&self, identity: &str, password: &str) -> Endpoint {
        let credentials = Credentials {
            username: identity.into(),
            password: password.into(),
        };
        let (credentials, files) = match (self.url.tls, password.is_empty()) {
            (false, true) => (None, TlsFiles::default()),
            (false, false) => (Some(credentials), TlsFiles::default()),
            (true, _) => {
                let cert = IDENTITIES.contains(&identity).then_some(identity);
                (
                    None,
                    TlsFiles {
                        ca: Some(self.certs.join("ca.pem")),
                        cert: cert.map(|c| self.certs.join(format!("{c}.pem"))),
                        key: cert.map(|c| self.certs.join(format!("{c}.key"))),
                    },
                )
            }
        };
        Endpoint::new(self.url.clone(), credentials, &files, false).unwrap()
    }

    fn spawn(bin: &Path, conf: &Path, url: &BrokerUrl) -> Child {
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((url.host.as_str(), url.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// Stops it gracefully (it saves sessions and queued messages) and
    /// starts it again on the same port.
    fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(&self.bin, &self.conf, &self.url);
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as (topic, payload).
type Received = (String, Vec<u8>);

/// A plain client that records what it receives.
pub(crate) struct Peer {
    pub client: rumqttc::AsyncClient,
    pub got: Arc<Mutex<Vec<Received>>>,
    suback: Arc<Mutex<Vec<Vec<rumqttc::SubscribeReasonCode>>>>,
    refused: Arc<Mutex<bool>>,
}

/// Connects `id`; subscribes to `filters` on every connect. With
/// `reconnect`, it rides out broker restarts (a persistent session).
pub(crate) async fn peer(
    broker: &Endpoint,
    id: &str,
    filters: Vec<String>,
    reconnect: bool,
) -> Peer {
    let mut o = mqtt::options(id, broker, None);
    o.set_clean_session(!reconnect);
    o.set_manual_acks(false);
    let (client, mut events) = mqtt::client(o, 64);
    let got = Arc::new(Mutex::new(Vec::new()));
    let suback = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(false));
    let (g, s, r) = (got.clone(), suback.clone(), refused.clone());
    let (tx, rx) = oneshot::channel();
    let sub = client.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for f in &filters {
                        let _ = sub.try_subscribe(f.clone(), QoS::AtLeastOnce);
                    }
                    if filters.is_empty() {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    g.lock()
                        .unwrap()
                        .push((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(Event::Incoming(Packet::SubAck(a))) => {
                    let n = {
                        let mut acks = s.lock().unwrap();
                        acks.push(a.return_codes);
                        acks.len()
                    };
                    if n >= filters.len() {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                Ok(_) => {}
                Err(_) if reconnect => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => {
                    *r.lock().unwrap() = true;
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                    return;
                }
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
    Peer {
        client,
        got,
        suback,
        refused,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_passwords_a_locker_cannot_reach_another_lockers_topics() {
    the_acl_holds(Login::Passwords).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_certificates_a_locker_cannot_reach_another_lockers_topics() {
    the_acl_holds(Login::Certificates).await
}

/// The repo's ACL, whoever's identity the broker takes from `login`.
async fn the_acl_holds(login: Login) {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), login) else {
        return;
    };
    let t = Topics::new("lockerlab", "r1").unwrap();
    let intruders = match login {
        Login::Passwords => vec![(
            "a wrong password",
            broker.endpoint("L001", "not-the-password"),
        )],
        Login::Certificates => {
            // L001's name on a certificate from another CA.
            let other = dir.path().join("other-ca");
            make_certs(&other);
            let files = TlsFiles {
                ca: Some(broker.certs.join("ca.pem")),
                cert: Some(other.join("L001.pem")),
                key: Some(other.join("L001.key")),
            };
            let forged = Endpoint::new(broker.url.clone(), None, &files, false).unwrap();
            vec![
                ("no client certificate", broker.endpoint("nobody", "")),
                ("another CA's certificate", forged),
            ]
        }
        _ => unreachable!("the ACL needs identities"),
    };
    for (what, endpoint) in intruders {
        let intruder = peer(&endpoint, "intruder", vec![], false).await;
        assert!(*intruder.refused.lock().unwrap(), "{what} is refused");
    }

    let serve = peer(
        &broker.endpoint("serve", "serve-dev-password"),
        "serve",
        t.service_filters().to_vec(),
        false,
    )
    .await;
    let l2 = peer(
        &broker.endpoint("L002", "l002-dev-password"),
        "L002",
        vec![t.locker_filter("L002")],
        false,
    )
    .await;
    // L001 also tries to listen to L002's commands.
    let l1_filters = vec![t.locker_filter("L002"), t.locker_filter("L001")];
    let l1 = peer(
        &broker.endpoint("L001", "l001-dev-password"),
        "L001",
        l1_filters,
        false,
    )
    .await;
    // The service commands both lockers.
    for locker in ["L001", "L002"] {
        let topic = t.command(locker, protocol::CommandKind::Expire);
        serve
            .client
            .publish(topic, QoS::AtLeastOnce, false, locker.as_bytes().to_vec())
            .await
            .unwrap();
    }
    // L001 forges a report as L002, and sends one of its own.
    l1.client
        .publish(
            t.report("L002", "deposited"),
            QoS::AtLeastOnce,
            false,
            b"forged".to_vec(),
        )
        .await
        .unwrap();
    l1.client
        .publish(
            t.report("L001", "ledger"),
            QoS::AtLeastOnce,
            false,
            b"genuine".to_vec(),
        )
        .await
        .unwrap();
    // A locker cannot impersonate the service either.
    l1.client
        .publish(
            t.command("L002", protocol::CommandKind::Expire),
            QoS::AtLeastOnce,
            false,
            b"fake".to_vec(),
        )
        .await
        .unwrap();
    // Nor can a checkout client publish reports as a locker named after it.
    let shop = peer(
        &broker.endpoint("shop", "shop-dev-password"),
        "shop",
        vec![],
        false,
    )
    .await;
    shop.client
        .publish(
            t.report("shop", "ledger"),
            QoS::AtLeastOnce,
            false,
            b"shop as a locker".to_vec(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let l1_got: Vec<String> = l1
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(
        l1_got,
        vec![t.command("L001", protocol::CommandKind::Expire)],
        "L001 sees only its own command"
    );
    let l2_got: Vec<Vec<u8>> = l2
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        l2_got,
        vec![b"L002".to_vec()],
        "L002 gets the service's command, not L001's fake"
    );
    let serve_got: Vec<Vec<u8>> = serve
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        serve_got,
        vec![b"genuine".to_vec()],
        "the forged reports never reached the service"
    );
    // Mosquitto 2 grants the subscription and filters every message by
    // the ACL on delivery: what matters is what arrives (checked above).
    assert_eq!(l1.suback.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_event_and_applies_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut broker) = Broker::start(dir.path(), Login::AnonymousTls) else {
        return;
    };
    let url = broker.endpoint("anyone", "");
    let t = Topics::new("lockerlab", "restart").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let serve = common::start_service(&url, &t, "serve-restart");
    let locker = common::start_locker(&url, &t, dir.path(), "L1", [4, 0, 0, 0], Durability::Full);
    let shop = peer(&url, "shop-restart", vec![t.reply("shop")], true).await;
    let replies = |shop: &Peer| -> Vec<Reply> {
        shop.got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, p)| protocol::decode::<Reply>(p).ok().map(|e| e.body))
            .collect()
    };
    let wait = |what: &'static str, want: Box<dyn Fn(&Reply) -> bool + Send>| {
        let got = shop.got.clone();
        async move {
            for _ in 0..1000 {
                let n = got
                    .lock()
                    .unwrap()
                    .iter()
                    .filter_map(|(_, p)| protocol::decode::<Reply>(p).ok().map(|e| e.body))
                    .filter(|r| want(r))
                    .count();
                if n > 0 {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no {what} within 10 s");
        }
    };
    let order = |id: u64| common::reserve_request(id, "L1", Tier::SameDay);
    // Orders until the service has heard the locker's announcement.
    let mut first = 0;
    for id in 1..300u64 {
        // Asked again (same id) while the service may not be subscribed yet.
        let mut answered = false;
        for _ in 0..10 {
            shop.client
                .publish(t.reserve(), QoS::AtLeastOnce, false, order(id))
                .await
                .unwrap();
            let answer = wait(
                "an answer",
                Box::new(
                    move |r| matches!(r, Reply::Accepted { order, .. } | Reply::Rejected { order, .. } if *order == id),
                ),
            );
            if tokio::time::timeout(Duration::from_secs(1), answer)
                .await
                .is_ok()
            {
                answered = true;
                break;
            }
        }
        assert!(answered, "no answer to order {id}");
        if replies(&shop)
            .iter()
            .any(|r| matches!(r, Reply::Accepted { order, .. } if *order == id))
        {
            first = id;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(first > 0, "the service never learned of L1");
    let second = first + 1;
    shop.client
        .publish(t.reserve(), QoS::AtLeastOnce, false, order(second))
        .await
        .unwrap();
    wait(
        "the second answer",
        Box::new(move |r| matches!(r, Reply::Accepted { order, .. } if *order == second)),
    )
    .await;
    locker.until(|s| s.pending[0] == 2).await;
    locker.scan(first).await;
    locker.act(Action::Put).await;
    wait(
        "the first code",
        Box::new(move |r| matches!(r, Reply::Code { order, .. } if *order == first)),
    )
    .await;

    // The broker goes down; the locker goes on; the broker comes back.
    broker.stop();
    locker.scan(second).await;
    locker.act(Action::Put).await;
    assert!(locker.act(Action::Status).await.status.unwrap().outbox >= 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart();

    assert_eq!(
        wait(
            "the second code",
            Box::new(move |r| matches!(r, Reply::Code { order, .. } if *order == second))
        )
        .await,
        1
    );
    let code = replies(&shop)
        .into_iter()
        .find_map(|r| match r {
            Reply::Code { order, code, .. } if order == first => Some(code),
            _ => None,
        })
        .unwrap();
    let typed = locker.act(Action::Keypad { code }).await;
    assert!(typed.door.is_some(), "{typed:?}");
    locker.act(Action::Take).await;
    let done = wait("the pickup", Box::new(move |r| matches!(r, Reply::Outcome { order, outcome: OrderOutcome::PickedUp } if *order == first))).await;
    assert_eq!(done, 1, "applied once");
    locker.until(|s| s.outbox == 0).await;
    assert_eq!(
        locker.act(Action::Status).await.status.unwrap().outbox,
        0,
        "every event acknowledged"
    );
    locker.stop().await;
    let service = serve.stop().await;
    assert_eq!(service.stats().codes_issued, 2, "one code per deposit");
    assert_eq!(service.stats().picked_up, 1);
}

/// The demo with nothing switched off, over Mosquitto (fast enough for
/// two days of a faulty neighbourhood): every order gets the same
/// decision, locker, compartment and outcome live as in the simulator,
/// and the days did go off the happy path in every way the world knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_neighbourhood_plays_the_same_live_as_in_the_simulator() {
    use lockerlab::demo::{self, DemoOptions};
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), Login::Anonymous) else {
        return;
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/faulty-city.toml");
    let mut sc = lockerlab::scenario::Scenario::from_file(&path).unwrap();
    // Every failure often enough to happen in two days at eight lockers.
    let f = &mut sc.faults;
    f.door_jam_probability = 0.05;
    f.size_mismatch_probability = 0.05;
    f.wrong_compartment_probability = 0.05;
    f.forgotten_item_probability = 0.05;
    f.network_outages_per_day = 1.0;
    f.power_outages_per_day = 0.5;
    f.screen_failures_per_day = 0.5;
    let sc = demo::prepare(sc, 8, 2).unwrap();
    let opts = DemoOptions {
        broker: Some(broker.url.clone().into()),
        store_dir: dir.path().join("stores"),
        settle_timeout: Duration::from_secs(30),
        world_out: None,
        on_step: None,
    };
    let report = demo::run(&sc, &opts).await.unwrap();
    let table = format!("{}{}", report.sim_table, report.to_table());
    assert!(report.mismatches.is_empty(), "{table}");
    let seen = |kind: &str| {
        report
            .trouble
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    };
    for kind in [
        "links lost",
        "links back",
        "door jams",
        "blocked compartments",
        "failed drop-offs",
        "repairs",
        "reconciliations",
        "screens failed",
        "QR pickups",
    ] {
        assert!(seen(kind) > 0, "no {kind} in the days played:\n{table}");
    }
    let metric = |name: &str| -> f64 {
        table
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("no `{name}` in\n{table}"))
    };
    assert!(
        metric("served_elsewhere ") > 0.0,
        "discovery sent some orders to a neighbour:\n{table}"
    );
    assert!(metric("wrong_code_attempts ") > 0.0, "{table}");
    assert!(
        report.live.iter().all(|o| o.end != demo::End::Open),
        "{table}"
    );
}

/// Publishes `payload` to `topic` at QoS 1 with Mosquitto's own client (ours
/// refuses to send more than 64 KiB).
fn mosquitto_pub(url: &BrokerUrl, dir: &Path, topic: &str, payload: &[u8]) {
    let file = dir.join("payload");
    std::fs::write(&file, payload).unwrap();
    let ok = Command::new("mosquitto_pub")
        .args([
            "-h",
            &url.host,
            "-p",
            &url.port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
        ])
        .arg("-f")
        .arg(&file)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mosquitto_pub failed");
}

/// Once one message over 64 KiB put every client (`serve`, the emulator)
/// into a reconnect loop: refused unacknowledged, redelivered on reconnect,
/// forever. A client now takes it (the codec refuses the payload) and the
/// next message gets through. The broker here sets no packet limit; the
/// repo's configuration does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_does_not_wedge_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), Login::Anonymous) else {
        return;
    };
    let url = &broker.url;
    let sub = peer(&url.clone().into(), "listener", vec!["big/#".into()], true).await;
    mosquitto_pub(url, dir.path(), "big/one", &vec![b'x'; 100 * 1024]);
    mosquitto_pub(url, dir.path(), "big/two", b"after");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let topics: Vec<String> = sub
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        if topics.len() >= 2 || Instant::now() > deadline {
            assert_eq!(topics, ["big/one", "big/two"], "both arrive, in order");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sub.got.lock().unwrap()[0].1.len(), 100 * 1024);
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("controller-emu/mosquitto/mosquitto.conf"),
    )
    .unwrap();
    assert!(
        conf.lines().any(|l| l.trim() == "max_packet_size 65536"),
        "the shipped broker configuration keeps such packets out"
    );
}

/// Runs `serve` on the live scenario with `args` until it stops (at most
/// 20 s: it must not retry what retrying cannot fix); its exit code and
/// stderr.
fn serve_until_it_stops(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockerlab"))
        .args(["serve", "--insecure-dev-secret", "--scenario"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/live.toml"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve {args:?} kept retrying what retrying cannot fix");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

/// `serve` with a password the broker refuses stops at once with exit 2
/// and says why; it used to retry forever in silence, and only the
/// broker's log said "not authorised".
#[test]
fn serve_with_a_refused_password_stops_with_exit_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), Login::Passwords) else {
        return;
    };
    let wrong = dir.path().join("serve.password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let url = broker.url.to_string();
    let (code, stderr) = serve_until_it_stops(&[
        "--broker".as_ref(),
        url.as_ref(),
        "--username".as_ref(),
        "serve".as_ref(),
        "--password-file".as_ref(),
        wrong.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("the broker {} refused the connection", broker.url))
            && stderr.contains("for user `serve`")
            && stderr.contains("--password-file"),
        "{stderr}"
    );
}

/// A certificate problem is the operator's to fix, as a password is: the
/// broker's certificate from a CA `serve` was not told to trust, or a
/// client certificate the broker does not trust, stops `serve` with exit 2
/// and a message that says which side failed.
#[test]
fn serve_with_a_certificate_that_fails_stops_with_exit_2_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), Login::Certificates) else {
        return;
    };
    let other = dir.path().join("other-ca");
    make_certs(&other);
    let url = broker.url.to_string();
    let ours = &broker.certs;
    let run = |ca: &Path, certs: &Path| {
        serve_until_it_stops(&[
            "--broker".as_ref(),
            url.as_ref(),
            "--tls-ca".as_ref(),
            ca.join("ca.pem").as_os_str(),
            "--tls-cert".as_ref(),
            certs.join("serve.pem").as_os_str(),
            "--tls-key".as_ref(),
            certs.join("serve.key").as_os_str(),
        ])
    };
    let (code, stderr) = run(&other, ours);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("TLS with the broker {url} failed"))
            && stderr.contains("does not verify against --tls-ca"),
        "{stderr}"
    );
    let (code, stderr) = run(ours, &other);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refused this client's certificate") && stderr.contains("--tls-cert"),
        "{stderr}"
    );
}
