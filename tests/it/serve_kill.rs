//! `serve --store` killed with SIGKILL at random moments while orders,
//! drop-offs and pickups flow through two emulated lockers and Mosquitto
//! (which keeps the service's session and queues its messages), then
//! started again, 24 times. Every order is accepted once, its parcel is
//! deposited, the customer's one code opens its door, and it ends with one
//! outcome; the lockers end empty, with no reservation left over.

use crate::common;
use crate::mosquitto::{peer, Broker, Login, Peer};
use lockerlab::domain::Tier;
use lockerlab::emu::{Action, Durability};
use lockerlab::mqtt::Endpoint;
use lockerlab::protocol::{self, OrderOutcome, Reply, Topics};
use rumqttc::QoS;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KILLS: usize = 24;
const PROBES: u64 = 1_000_000;
const LOCKERS: [&str; 2] = ["L001", "L002"];

fn spawn_serve(url: &str, store: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_lockerlab"))
        .args(["serve", "--insecure-dev-secret", "--policy", "snapshot"])
        .args(["--durability", "normal", "--broker", url, "--scenario"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/live.toml"))
        .arg("--store")
        .arg(store)
        // Snapshots often, so kills land before, during and after them.
        .args(["--snapshot-every", "50"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Where an order is, as the shop and the people at the lockers know it.
#[derive(Debug, Default)]
struct Order {
    locker: usize,
    sent_at: Option<Instant>,
    deposited: bool,
    collected: bool,
}

/// The shop's replies, by order: distinct acceptances, codes, outcomes.
#[derive(Debug, Default)]
struct Heard {
    accepted: BTreeMap<u64, BTreeSet<String>>,
    rejected: BTreeSet<u64>,
    codes: BTreeMap<u64, BTreeSet<String>>,
    outcomes: BTreeMap<u64, BTreeSet<String>>,
}

fn heard(shop: &Peer) -> Heard {
    let mut h = Heard::default();
    for (_, payload) in shop.got.lock().unwrap().iter() {
        let Ok(env) = protocol::decode::<Reply>(payload) else {
            continue;
        };
        match env.body {
            Reply::Accepted { order, locker, .. } => {
                h.accepted.entry(order).or_default().insert(locker);
            }
            Reply::Rejected { order, .. } => {
                h.rejected.insert(order);
            }
            Reply::Code { order, code, .. } => {
                h.codes.entry(order).or_default().insert(code.to_string());
            }
            Reply::Outcome { order, outcome } => {
                let name = match outcome {
                    OrderOutcome::PickedUp => "picked_up".to_string(),
                    other => format!("{other:?}"),
                };
                h.outcomes.entry(order).or_default().insert(name);
            }
            _ => {}
        }
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_again_and_again_under_traffic_loses_no_order_and_applies_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path(), Login::Anonymous) else {
        return;
    };
    let url = broker.url.to_string();
    let endpoint: Endpoint = broker.url.clone().into();
    let t = Topics::new("lockerlab", "r1").unwrap();
    let lockers: Vec<_> = LOCKERS
        .iter()
        .map(|id| {
            common::start_locker(
                &endpoint,
                &t,
                dir.path(),
                id,
                [8, 0, 0, 0],
                Durability::Normal,
            )
        })
        .collect();
    let shop = peer(&endpoint, "shop-kill", vec![t.reply("shop")], true).await;
    let store: PathBuf = dir.path().join("serve.sqlite");
    let log = dir.path().join("serve.log");
    let serve = Arc::new(Mutex::new(spawn_serve(&url, &store, &log)));

    // Until the service has heard both lockers, a request may be refused:
    // probe orders (from PROBES on) until each locker accepts one; those
    // accepted go through their whole life like the others.
    let mut orders: BTreeMap<u64, Order> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (l, id) in LOCKERS.iter().enumerate() {
        for probe in (PROBES + 1_000 * l as u64).. {
            assert!(Instant::now() < deadline, "the service never heard {id}");
            shop.client
                .publish(
                    t.reserve(),
                    QoS::AtLeastOnce,
                    false,
                    common::reserve_request(probe, id, Tier::NextDay),
                )
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            if heard(&shop).accepted.contains_key(&probe) {
                orders.insert(
                    probe,
                    Order {
                        locker: l,
                        sent_at: Some(Instant::now()),
                        ..Order::default()
                    },
                );
                break;
            }
        }
    }

    // The killer: SIGKILL at a random moment, start again.
    let killer = {
        let (serve, url, store, log) = (serve.clone(), url.clone(), store.clone(), log.clone());
        std::thread::spawn(move || {
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            for _ in 0..KILLS {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                std::thread::sleep(Duration::from_millis(100 + x % 400));
                let mut child = serve.lock().unwrap();
                child.kill().unwrap();
                child.wait().unwrap();
                *child = spawn_serve(&url, &store, &log);
            }
        })
    };

    let mut next = 1u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let h = heard(&shop);
        let killing = !killer.is_finished();
        // A probe answered late is an order like the others.
        for (id, at) in &h.accepted {
            if !orders.contains_key(id) {
                let locker = LOCKERS.iter().position(|l| at.contains(*l)).unwrap();
                orders.insert(
                    *id,
                    Order {
                        locker,
                        ..Order::default()
                    },
                );
            }
        }
        let open = orders.values().filter(|o| !o.collected).count();
        // New orders while the killer works, a few at a time (capacity
        // never runs out, so every refusal would be the service's fault).
        if killing && open < 4 {
            let l = (next % 2) as usize;
            shop.client
                .publish(
                    t.reserve(),
                    QoS::AtLeastOnce,
                    false,
                    common::reserve_request(next, LOCKERS[l], Tier::NextDay),
                )
                .await
                .unwrap();
            orders.insert(
                next,
                Order {
                    locker: l,
                    sent_at: Some(Instant::now()),
                    ..Order::default()
                },
            );
            next += 1;
        }
        // A driver scans only once every reservation the shop was told of
        // is at the locker: a scan that finds none is a failed drop-off,
        // which would reroute the order (the driver comes hours later in
        // life; here the reservation may still be on its way).
        // Likewise a customer types a code only once the locker holds every
        // code the shop was sent (wrong codes lock the keypad).
        let (mut ready, mut codes_ready) = (Vec::new(), Vec::new());
        for (l, locker) in lockers.iter().enumerate() {
            let status = locker.act(Action::Status).await.status.unwrap();
            let mine = |o: &Order| o.locker == l && !o.collected;
            let told = orders
                .iter()
                .filter(|(id, o)| mine(o) && !o.deposited && h.accepted.contains_key(id))
                .count();
            ready.push(status.pending[0] as usize == told);
            let sent = orders
                .iter()
                .filter(|(id, o)| mine(o) && o.deposited && h.codes.contains_key(id))
                .count();
            codes_ready.push(status.credentials == sent);
        }
        for (&id, o) in orders.iter_mut() {
            let locker = &lockers[o.locker];
            if !h.accepted.contains_key(&id) {
                // Unanswered (the service died with it): ask again; a retry
                // gets the first answer.
                if o.sent_at
                    .is_some_and(|at| at.elapsed() > Duration::from_secs(2))
                {
                    shop.client
                        .publish(
                            t.reserve(),
                            QoS::AtLeastOnce,
                            false,
                            common::reserve_request(id, LOCKERS[o.locker], Tier::NextDay),
                        )
                        .await
                        .unwrap();
                    o.sent_at = Some(Instant::now());
                }
                continue;
            }
            if !o.deposited {
                if !ready[o.locker] {
                    continue;
                }
                if locker.scan(id).await.door.is_some() {
                    locker.act(Action::Put).await;
                    o.deposited = true;
                }
                continue;
            }
            if !o.collected && codes_ready[o.locker] {
                let Some(code) = h.codes.get(&id).and_then(|c| c.iter().next()) else {
                    continue;
                };
                let code = code.parse().unwrap();
                if locker.act(Action::Keypad { code }).await.door.is_some() {
                    locker.act(Action::Take).await;
                    o.collected = true;
                }
            }
        }
        let ended = orders.keys().all(|id| h.outcomes.contains_key(id));
        if !killing && ended && orders.values().all(|o| o.collected) {
            break;
        }
        if Instant::now() > deadline {
            let stuck: Vec<_> = orders
                .iter()
                .filter(|(id, o)| !o.collected || !h.outcomes.contains_key(id))
                .collect();
            panic!(
                "orders never ended: {stuck:?}\nserve's log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killer.join().unwrap();

    let h = heard(&shop);
    assert!(
        orders.len() > KILLS,
        "traffic throughout: {} orders",
        orders.len()
    );
    let refused: Vec<_> = h.rejected.iter().filter(|&&id| id < PROBES).collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    for id in orders.keys() {
        assert_eq!(h.accepted[id].len(), 1, "order {id}: {:?}", h.accepted[id]);
        assert_eq!(
            h.codes[id].len(),
            1,
            "order {id} got one code: {:?}",
            h.codes[id]
        );
        assert_eq!(
            h.outcomes[id],
            BTreeSet::from(["picked_up".to_string()]),
            "order {id}"
        );
    }
    for locker in &lockers {
        let s = locker.act(Action::Status).await.status.unwrap();
        assert_eq!(
            (s.occupied, s.pending, s.credentials),
            (0, [0; 4], 0),
            "{} ends empty: {s:?}",
            s.locker
        );
    }
    let mut child = serve.lock().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    // The kills fell between journaling and publishing: restarts sent
    // again what the broker had not acknowledged.
    let log = std::fs::read_to_string(&log).unwrap();
    let replays: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("replayed the service's journal"))
        .filter_map(|l| {
            l.split("republished=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let field = |line: &str, name: &str| -> String {
        line.split(&format!("{name}="))
            .nth(1)
            .and_then(|v| v.split(' ').next())
            .unwrap_or("?")
            .to_string()
    };
    let last = log
        .lines()
        .rfind(|l| l.contains("replayed the service's journal"))
        .unwrap_or_default();
    eprintln!(
        "{} orders, {KILLS} kills, {} starts logged, republished per start: {replays:?}; \
         the last start began at the snapshot through entry {} and replayed {} entries \
         after it in {} s",
        orders.len(),
        replays.len(),
        field(last, "snapshot_through"),
        field(last, "entries"),
        field(last, "seconds"),
    );
    assert!(replays.len() > KILLS / 2, "{log}");
    assert!(replays.iter().sum::<u64>() > 0, "{log}");
    // Snapshots were taken under traffic, and the last start replayed only
    // what came after the latest (every 50 entries, once all published).
    assert!(!log.contains("no snapshots"), "{log}");
    let through: i64 = field(last, "snapshot_through").parse().unwrap_or(0);
    let replayed: i64 = field(last, "entries").parse().unwrap_or(i64::MAX);
    assert!(through > 0 && replayed < through, "{last}");
}
