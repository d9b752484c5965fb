//! `lockerlab loadtest`: how much one `serve` takes. N emulated controllers
//! (SQLite stores and all) and the service on one broker; checkouts arrive
//! at a fixed rate spread over the lockers, each answered by the service
//! and, when accepted, pushed to its locker, which reports its ledger back.
//! Reports the reservation round trip (checkout → answer) at that rate.

use crate::access::keys::DEV_REGION_SECRET;
use crate::access::LockerKeys;
use crate::controller::ControllerConfig;
use crate::domain::{Size, Tier};
use crate::emu::{spawn_locker, Durability, EmuConfig};
use crate::engine::Millis;
use crate::mqtt::{self, Clock, Endpoint};
use crate::policy::Policy;
use crate::protocol::{self, Reply, ReserveRequest, Topics};
use crate::serve::{self, Gateway, ServeOptions};
use crate::service::{CodeSeed, LockerSpec, Service, ServiceConfig, ServiceStats};
use rand::{Rng, SeedableRng};
use rumqttc::{Event, Packet, QoS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub struct LoadOptions {
    pub broker: Option<Endpoint>,
    pub lockers: usize,
    /// Checkouts per second, over all lockers.
    pub rate: f64,
    pub seconds: f64,
    pub store_dir: PathBuf,
}

pub struct LoadReport {
    pub sent: u64,
    pub answered: u64,
    pub accepted: u64,
    /// Round trips of answered checkouts, sorted.
    pub round_trips_ms: Vec<f64>,
    pub service: ServiceStats,
    pub elapsed: Duration,
    /// Reports the lockers queued and had acknowledged by the end.
    pub reports_acked: u64,
    pub reports_left: u64,
}

const HOUR: Millis = 3_600_000;

impl LoadReport {
    pub fn quantile(&self, p: f64) -> f64 {
        let v = &self.round_trips_ms;
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }

    pub fn to_table(&self, opts: &LoadOptions) -> String {
        let secs = self.elapsed.as_secs_f64();
        let msgs = self.service.requests * 2 + self.accepted + self.service.reports;
        format!(
            "{} lockers, {:.0} checkouts/s offered for {:.0} s\n\
             sent {}  answered {}  accepted {}  ({:.0} answered/s)\n\
             reservation round trip: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n\
             service: {} requests, {} reports ({} duplicates), {} malformed; \
             ~{:.0} MQTT messages/s through the service\n\
             locker outboxes: {} reports acknowledged, {} still queued\n",
            opts.lockers,
            opts.rate,
            opts.seconds,
            self.sent,
            self.answered,
            self.accepted,
            self.answered as f64 / secs,
            self.quantile(0.5),
            self.quantile(0.9),
            self.quantile(0.99),
            self.round_trips_ms.last().copied().unwrap_or(f64::NAN),
            self.service.requests,
            self.service.reports,
            self.service.duplicate_reports,
            self.service.malformed,
            msgs as f64 / secs,
            self.reports_acked,
            self.reports_left,
        )
    }
}

pub async fn run(opts: &LoadOptions) -> Result<LoadReport, String> {
    let broker = mqtt::broker::given_or_embedded(opts.broker.as_ref())?;
    let topics = Topics::new("lockerlab", "load").map_err(|e| e.to_string())?;
    let clock = Clock::real();
    // Snapshot admission: capacity never runs out here (nobody deposits),
    // so every checkout costs the full path: answer, command, ledger report.
    let ids: Vec<String> = (0..opts.lockers).map(|i| format!("L{i:05}")).collect();
    let cfg = ServiceConfig {
        lockers: ids
            .iter()
            .enumerate()
            .map(|(i, id)| LockerSpec::live(id, i, &DEV_REGION_SECRET, &CodeSeed::Insecure(1)))
            .collect(),
        policy: Policy::Snapshot {},
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 0,
        reservation_timeout: [24 * HOUR; Tier::COUNT],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        calendar: Default::default(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let serve_task = tokio::spawn(serve::serve(
        Gateway::new(Service::new(cfg)?, topics.clone()),
        ServeOptions {
            broker: broker.clone(),
            clock: clock.clone(),
            client_id: format!("lockerlab-serve-load-{}", std::process::id()),
            progress: None,
            subscribed: Some(subscribed_tx),
            metrics: None,
            journal: None,
        },
        stop_rx,
    ));
    serve::until_subscribed(subscribed, Duration::from_secs(10), &broker.url).await?;
    std::fs::create_dir_all(&opts.store_dir)
        .map_err(|e| format!("{}: {e}", opts.store_dir.display()))?;
    let mut senders = Vec::new();
    let mut emus = Vec::new();
    for id in &ids {
        let store = opts.store_dir.join(format!("{id}.sqlite"));
        let _ = std::fs::remove_file(&store);
        let cfg = EmuConfig {
            broker: broker.clone(),
            topics: topics.clone(),
            clock: clock.clone(),
            heartbeat_ms: Some(30_000),
            reconnect_delay: Duration::from_millis(500),
            progress: None,
            metrics: None,
        };
        let (task, tx) = spawn_locker(
            &store,
            id,
            [20, 14, 6, 2],
            LockerKeys::for_locker(&DEV_REGION_SECRET, id),
            ControllerConfig::default(),
            Durability::Normal,
            cfg,
        )
        .map_err(|e| e.to_string())?;
        senders.push(tx);
        emus.push(task);
    }

    let id = format!("lockerlab-load-{}", std::process::id());
    let (client, mut events) = mqtt::clean_client(&id, &broker, 1 << 16);
    type Sent = HashMap<u64, Instant>;
    let sent_at: Arc<Mutex<Sent>> = Arc::default();
    let answers: Arc<Mutex<Vec<(f64, bool)>>> = Arc::default();
    let (ready_tx, mut ready_rx) = mpsc::channel(1);
    let listener = {
        let (sent_at, answers, topics) = (sent_at.clone(), answers.clone(), topics.clone());
        let client = client.clone();
        tokio::spawn(async move {
            while let Ok(ev) = events.poll().await {
                match ev {
                    Event::Incoming(Packet::ConnAck(_)) => {
                        let _ = client.try_subscribe(topics.reply("load"), QoS::AtLeastOnce);
                    }
                    Event::Incoming(Packet::SubAck(_)) => {
                        let _ = ready_tx.try_send(());
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let Ok(env) = protocol::decode::<Reply>(&p.payload) else {
                            continue;
                        };
                        let (order, ok) = match env.body {
                            Reply::Accepted { order, .. } => (order, true),
                            Reply::Rejected { order, .. } => (order, false),
                            _ => continue,
                        };
                        if let Some(t0) = sent_at.lock().expect("no panics").remove(&order) {
                            let ms = t0.elapsed().as_secs_f64() * 1000.0;
                            answers.lock().expect("no panics").push((ms, ok));
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
        .await
        .map_err(|_| format!("no subscription acknowledgement from {broker}"))?;
    // Let every locker connect and announce itself.
    tokio::time::sleep(Duration::from_millis(500 + 2 * opts.lockers as u64)).await;

    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let start = Instant::now();
    let total = (opts.rate * opts.seconds).round() as u64;
    let period = Duration::from_secs_f64(1.0 / opts.rate.max(1e-3));
    let mut next = tokio::time::Instant::now();
    for order in 1..=total {
        next += period;
        tokio::time::sleep_until(next).await;
        let locker = &ids[rng.gen_range(0..ids.len())];
        let req = ReserveRequest {
            order,
            locker: locker.clone(),
            tier: Tier::ALL[rng.gen_range(0..Tier::COUNT)],
            size: Size::ALL[rng.gen_range(0..2)],
            client: "load".into(),
            lead_ms: 0,
            kind: Default::default(),
        };
        let payload = protocol::encode(format!("load-{order}"), clock.now(), &req);
        sent_at
            .lock()
            .expect("no panics")
            .insert(order, Instant::now());
        client
            .publish(topics.reserve(), QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| e.to_string())?;
    }
    // Stragglers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sent_at.lock().expect("no panics").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(senders);
    let mut reports_acked = 0;
    let mut reports_left = 0;
    for e in emus {
        if let Ok(Ok(station)) = e.await {
            let store = station.node.store();
            let left = store.outbox_len().unwrap_or(0);
            reports_left += left;
            reports_acked += station.node.reports_made() - left;
        }
    }
    let _ = stop_tx.send(true);
    let service = serve_task.await.map_err(|e| e.to_string())??;
    listener.abort();
    let answers = answers.lock().expect("no panics").clone();
    let mut round_trips_ms: Vec<f64> = answers.iter().map(|a| a.0).collect();
    round_trips_ms.sort_by(f64::total_cmp);
    Ok(LoadReport {
        sent: total,
        answered: answers.len() as u64,
        accepted: answers.iter().filter(|a| a.1).count() as u64,
        round_trips_ms,
        service: service.stats(),
        elapsed,
        reports_acked,
        reports_left,
    })
}
