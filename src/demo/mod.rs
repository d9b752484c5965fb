//! `lockerlab demo`: the whole system on one machine. The simulator plays
//! days of a scenario, faults and all, and keeps every step its world took
//! (`sim::WorldStep`): each checkout, each input a person, sensor or the
//! runtime gave a controller, each failed drop-off a driver's app reported,
//! each link that dropped or came back. Then the same steps are played
//! through a broker, the capacity service and one emulated controller per
//! locker (SQLite stores and all), on a simulated clock that advances from
//! step to step once every message has been handled. The live lockers and
//! service get the simulated ones' secrets, so the codes and QR tokens the
//! world replays open the same doors. The two runs must agree on every
//! admission decision, locker, compartment and outcome: that is the parity
//! check.

mod play;
mod table;

use crate::emu::{spawn_locker, Durability, EmuConfig};
use crate::metrics::Outcome;
use crate::mqtt::{self, Clock, Endpoint, Progress};
use crate::protocol::{self, Reply, Route, Topics};
use crate::scenario::Scenario;
use crate::serve::{self, Gateway, ServeOptions};
use crate::service::{Service, ServiceConfig, ServiceStats};
use crate::sim::{self, history::HistoryRecord, Network, RunOptions, RunReport};
use crate::time::DAY;
use rumqttc::{Event, Packet, QoS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch, Notify};

const CLIENT: &str = "demo";

pub struct DemoOptions {
    /// An external broker; None starts one in the process.
    pub broker: Option<Endpoint>,
    /// Where the controllers' SQLite stores go.
    pub store_dir: PathBuf,
    /// Longest real wait for the system to settle after a step.
    pub settle_timeout: Duration,
    /// Write the world's steps here, one JSON object per line.
    pub world_out: Option<PathBuf>,
    /// Told (steps played, steps in all) after each step, for a progress bar.
    pub on_step: Option<Box<dyn Fn(usize, usize) + Send + Sync>>,
}

/// How an order ended, in the terms both runs share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Rejected,
    PickedUp,
    ExpiredReturned,
    /// Never deposited (no driver in time, or no compartment).
    DeliveryFailed,
    /// Delivered to another locker after a failed drop-off.
    Rerouted,
    /// The live run never reported an end.
    Open,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderResult {
    pub order: u64,
    /// Where it was deposited; if never, where it was ordered to.
    pub locker: String,
    pub compartment: Option<u32>,
    pub end: End,
}

pub struct DemoReport {
    /// `simulate`'s summary of the simulator's run.
    pub sim_table: String,
    pub sim: Vec<OrderResult>,
    pub live: Vec<OrderResult>,
    /// Orders on which the runs disagree, and inputs a live controller
    /// refused that the simulated one took, described.
    pub mismatches: Vec<String>,
    /// Checkout → answer, through the broker and the service.
    pub round_trips: Vec<Duration>,
    pub service: ServiceStats,
    pub wall: Duration,
    pub lockers: usize,
    pub days: u32,
    /// World steps played, and of those the kinds the happy path never
    /// meets, counted (see `play::trouble`).
    pub steps: usize,
    pub trouble: Vec<(&'static str, usize)>,
}

/// The scenario the demo plays: its first location and the `lockers - 1`
/// nearest to it (a neighbourhood, so discovery and fallback have lockers
/// to offer), in the scenario's order, for `days` days of demand;
/// everything else as the scenario says.
pub fn prepare(mut sc: Scenario, lockers: usize, days: u32) -> Result<Scenario, String> {
    if lockers == 0 || lockers > sc.locations.len() {
        return Err(format!(
            "--lockers must be 1-{} (locations in scenario `{}`)",
            sc.locations.len(),
            sc.name
        ));
    }
    if !(1..=366).contains(&days) {
        return Err(format!("--days must be 1-366, got {days}"));
    }
    let first = (sc.locations[0].lat, sc.locations[0].lon);
    let mut by_distance: Vec<usize> = (0..sc.locations.len()).collect();
    // Stable: the first location (distance 0) leads, ties keep their order.
    by_distance.sort_by(|&a, &b| {
        let d = |i: usize| {
            let l = &sc.locations[i];
            sim::haversine_km(first.0, first.1, l.lat, l.lon)
        };
        d(a).total_cmp(&d(b))
    });
    let mut keep = vec![false; sc.locations.len()];
    for &i in &by_distance[..lockers] {
        keep[i] = true;
    }
    let kept = |n: usize| keep[n];
    retain_indexed(&mut sc.locations, kept);
    if let Some(trace) = &sc.trace {
        // Replayed demand is indexed like the locations.
        let mut trace = (**trace).clone();
        retain_indexed(&mut trace.per_location, kept);
        sc.trace = Some(Arc::new(trace));
    }
    sc.horizon = days as i64 * DAY;
    sc.warmup = 0;
    sc.replications = 1;
    Ok(sc)
}

fn retain_indexed<T>(v: &mut Vec<T>, keep: impl Fn(usize) -> bool) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep(i - 1)
    });
}

fn sim_end(outcome: Outcome) -> End {
    match outcome {
        Outcome::RejectedAtCheckout => End::Rejected,
        Outcome::PickedUp => End::PickedUp,
        Outcome::ExpiredReturned => End::ExpiredReturned,
        Outcome::ReroutedAlternateLocker => End::Rerouted,
        Outcome::ReroutedDoorstep => End::DeliveryFailed,
    }
}

/// The world's steps as JSON lines, each with its locker's id.
fn write_steps(
    path: &std::path::Path,
    sc: &Scenario,
    steps: &[sim::WorldStep],
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for s in steps {
        let line = serde_json::json!({
            "at": s.at,
            "locker": sc.locations[s.location].id,
            "step": s.act,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Replies to the demo's client, by order, and a bell for new ones.
#[derive(Default)]
struct Inbox {
    replies: Mutex<HashMap<u64, Vec<Reply>>>,
    bell: Notify,
}

impl Inbox {
    async fn wait_for(
        &self,
        order: u64,
        timeout: Duration,
        want: impl Fn(&Reply) -> bool,
    ) -> Option<Reply> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.bell.notified();
            if let Some(r) = self
                .replies
                .lock()
                .expect("no panics while held")
                .get(&order)
                .and_then(|rs| rs.iter().find(|r| want(r)).cloned())
            {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// Runs the demo on a prepared scenario (see [`prepare`]).
pub async fn run(sc: &Scenario, opts: &DemoOptions) -> Result<DemoReport, String> {
    let started = Instant::now();
    // 1. The simulator's run, with every order's record and every step of
    //    its world.
    let run_opts = RunOptions {
        seed: sc.seed,
        replications: 1,
        record_history: true,
        record_world: true,
        pool_locations: false,
        keep_location_metrics: false,
        ..RunOptions::default()
    };
    let result = sim::run(sc, &run_opts, &|_| {}).map_err(|e| e.to_string())?;
    let sim_table = RunReport::new(sc, sc.seed, &result).to_table(None, false);
    let records: Vec<HistoryRecord> = result.history.into_iter().next().unwrap_or_default();
    let steps = result.world.into_iter().next().unwrap_or_default();
    if let Some(path) = &opts.world_out {
        write_steps(path, sc, &steps).map_err(|e| format!("{}: {e}", path.display()))?;
    }

    // 2. Broker, service, controllers, with the simulated lockers' secrets.
    let broker = mqtt::broker::given_or_embedded(opts.broker.as_ref())?;
    let topics = Topics::new("lockerlab", "demo").map_err(|e| e.to_string())?;
    let clock = Clock::manual(0);
    let progress = Arc::new(Progress::default());
    let secrets = |i: usize| sim::locker_secrets(sc.seed, 0, i);
    let net = Network::build(sc);
    let all: Vec<usize> = (0..sc.locations.len()).collect();
    let service = Gateway::new(
        Service::new(ServiceConfig::for_region(sc, &net, &all, secrets))?,
        topics.clone(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let (subscribed_tx, subscribed) = oneshot::channel();
    let serve_task = tokio::spawn(serve::serve(
        service,
        ServeOptions {
            broker: broker.clone(),
            clock: clock.clone(),
            client_id: format!("lockerlab-serve-{}", std::process::id()),
            progress: Some(progress.clone()),
            subscribed: Some(subscribed_tx),
            metrics: None,
            journal: None,
        },
        stop_rx,
    ));
    // A locker announces itself the moment it connects; the service must
    // be listening by then, or the broker drops the announcement.
    serve::until_subscribed(subscribed, opts.settle_timeout, &broker.url).await?;
    std::fs::create_dir_all(&opts.store_dir)
        .map_err(|e| format!("{}: {e}", opts.store_dir.display()))?;
    let mut lockers = HashMap::new();
    let mut emu_tasks = Vec::new();
    for (i, loc) in sc.locations.iter().enumerate() {
        let store = opts.store_dir.join(format!("{}.sqlite", loc.id));
        let _ = std::fs::remove_file(&store);
        let cfg = EmuConfig {
            broker: broker.clone(),
            topics: topics.clone(),
            clock: clock.clone(),
            // The world's steps carry the ticks the simulator gave it.
            heartbeat_ms: None,
            reconnect_delay: Duration::from_millis(20),
            progress: Some(progress.clone()),
            metrics: None,
        };
        let (task, tx) = spawn_locker(
            &store,
            &loc.id,
            loc.compartments,
            secrets(i).0,
            sc.access.controller,
            Durability::Normal,
            cfg,
        )
        .map_err(|e| e.to_string())?;
        lockers.insert(loc.id.clone(), tx);
        emu_tasks.push(task);
    }

    // 3. The demo's own client: checkouts and drivers' reports out, replies in.
    let inbox = Arc::new(Inbox::default());
    let id = format!("lockerlab-demo-{}", std::process::id());
    let (client, mut events) = mqtt::clean_client(&id, &broker, 1024);
    client
        .subscribe(topics.reply(CLIENT), QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    let (sub_tx, sub_rx) = oneshot::channel();
    let listener = {
        let inbox = inbox.clone();
        let topics = topics.clone();
        tokio::spawn(async move {
            let mut sub_tx = Some(sub_tx);
            while let Ok(ev) = events.poll().await {
                match ev {
                    Event::Incoming(Packet::SubAck(_)) => {
                        if let Some(tx) = sub_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        if let (Ok(Route::Reply { .. }), Ok(env)) = (
                            topics.parse(&p.topic),
                            protocol::decode::<Reply>(&p.payload),
                        ) {
                            let order = env.body.order();
                            inbox
                                .replies
                                .lock()
                                .expect("no panics while held")
                                .entry(order)
                                .or_default()
                                .push(env.body);
                            inbox.bell.notify_waiters();
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    tokio::time::timeout(opts.settle_timeout, sub_rx)
        .await
        .map_err(|_| format!("no subscription acknowledgement from {broker}"))?
        .map_err(|_| format!("lost the connection to {broker}"))?;

    let world = play::Live {
        sc,
        clock: clock.clone(),
        progress: progress.clone(),
        lockers,
        client,
        topics,
        inbox,
        timeout: opts.settle_timeout,
        on_step: opts.on_step.as_deref(),
    };
    // Every locker has connected and introduced itself to the service.
    let deadline = Instant::now() + opts.settle_timeout;
    while world.progress.connects() < sc.locations.len() as u64 {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} lockers connected to {broker}",
                world.progress.connects(),
                sc.locations.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    world.settle(0).await?;

    let played = world.play(&steps, &records).await;
    // Stop everything whatever happened, then report.
    drop(world.lockers);
    for t in emu_tasks {
        let _ = t.await;
    }
    let _ = stop_tx.send(true);
    let service = serve_task.await.map_err(|e| e.to_string())??;
    listener.abort();
    let played = played?;

    let sim: Vec<OrderResult> = records
        .iter()
        .map(|r| OrderResult {
            order: r.order_id,
            locker: r
                .deposit_location_id
                .clone()
                .unwrap_or_else(|| r.location_id.clone()),
            compartment: r.compartment,
            end: sim_end(r.outcome),
        })
        .collect();
    let mut mismatches: Vec<String> = sim
        .iter()
        .zip(&played.live)
        .filter(|(s, l)| s != l)
        .map(|(s, l)| format!("order {}: simulator {s:?}, live {l:?}", s.order))
        .collect();
    mismatches.extend(played.refused);
    let mut trouble = std::collections::BTreeMap::new();
    for kind in steps.iter().filter_map(|s| play::trouble(&s.act)) {
        *trouble.entry(kind).or_insert(0) += 1;
    }
    Ok(DemoReport {
        sim_table,
        sim,
        live: played.live,
        mismatches,
        round_trips: played.round_trips,
        service: service.stats(),
        wall: started.elapsed(),
        lockers: sc.locations.len(),
        days: (sc.horizon / DAY) as u32,
        steps: steps.len(),
        trouble: trouble.into_iter().collect(),
    })
}
