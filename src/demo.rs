//! `lockerlab demo`: the whole system on one machine. The simulator plays a
//! day of a scenario's demand; then the same orders, drivers, customers and
//! operators are played through a broker, the capacity service and one
//! emulated controller per locker (SQLite stores and all), on a simulated
//! clock that advances from event to event once every message has been
//! handled. The two runs must agree on every admission decision,
//! compartment and outcome: that is the parity check.

use crate::access::keys::DEV_REGION_SECRET;
use crate::emu::{spawn_locker, Action, Durability, EmuConfig, Request};
use crate::engine::Millis;
use crate::metrics::Outcome;
use crate::mqtt::{self, BrokerUrl, Clock, Progress};
use crate::protocol::{self, Reply, ReserveRequest, Route, Topics};
use crate::scenario::Scenario;
use crate::serve::{self, Gateway, ServeOptions};
use crate::service::{Service, ServiceConfig, ServiceStats};
use crate::sim::{self, history::HistoryRecord, RunOptions, RunReport};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Notify};

const DAY: Millis = 24 * 3_600_000;
const CLIENT: &str = "demo";

pub struct DemoOptions {
    /// An external broker; None starts one in the process.
    pub broker: Option<BrokerUrl>,
    /// Where the controllers' SQLite stores go.
    pub store_dir: PathBuf,
    /// Longest real wait for the system to settle after a step.
    pub settle_timeout: Duration,
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
    pub locker: String,
    pub compartment: Option<u32>,
    pub end: End,
}

pub struct DemoReport {
    /// `simulate`'s summary of the simulator's run.
    pub sim_table: String,
    pub sim: Vec<OrderResult>,
    pub live: Vec<OrderResult>,
    /// Orders on which the runs disagree, described.
    pub mismatches: Vec<String>,
    /// Checkout → answer, through the broker and the service.
    pub round_trips: Vec<Duration>,
    pub service: ServiceStats,
    pub wall: Duration,
    pub lockers: usize,
}

/// The scenario the demo plays: its first `lockers` locations for one day
/// of demand, without the parts the live system does not emulate yet
/// (faults and outages, discovery and fallback, mistyped codes, QR codes).
pub fn prepare(mut sc: Scenario, lockers: usize) -> Result<Scenario, String> {
    if lockers == 0 || lockers > sc.locations.len() {
        return Err(format!(
            "--lockers must be 1-{} (locations in scenario `{}`)",
            sc.locations.len(),
            sc.name
        ));
    }
    sc.locations.truncate(lockers);
    sc.horizon = DAY;
    sc.warmup = 0;
    sc.replications = 1;
    let f = &mut sc.faults;
    f.door_jam_probability = 0.0;
    f.forgotten_item_probability = 0.0;
    f.wrong_compartment_probability = 0.0;
    f.size_mismatch_probability = 0.0;
    f.screen_failures_per_day = 0.0;
    f.network_outages_per_day = 0.0;
    f.power_outages_per_day = 0.0;
    sc.discovery = None;
    sc.fallback_radius_km = 0.0;
    sc.access.mistype_share = 0.0;
    sc.access.qr_share = 0.0;
    Ok(sc)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Checkout,
    Deposit,
    Pickup,
    Retrieve,
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

struct World {
    clock: Clock,
    progress: Arc<Progress>,
    lockers: HashMap<String, mpsc::Sender<Request>>,
    client: AsyncClient,
    topics: Topics,
    inbox: Arc<Inbox>,
    timeout: Duration,
}

impl World {
    async fn settle(&self, now: Millis) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.progress.settled(now) {
                // Twice, a moment apart: a message may be between parties.
                tokio::time::sleep(Duration::from_micros(200)).await;
                if self.progress.settled(now) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the system did not settle at t={now} ms within {:?}: {} messages pending, \
                     next service timer at {}",
                    self.timeout,
                    self.progress.pending(),
                    self.progress.deadline()
                ));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    async fn act(&self, locker: &str, action: Action) -> Result<crate::emu::ActionResult, String> {
        let tx = self
            .lockers
            .get(locker)
            .ok_or_else(|| format!("no emulated locker `{locker}`"))?;
        let (rtx, rrx) = oneshot::channel();
        tx.send((action, Some(rtx)))
            .await
            .map_err(|_| format!("locker `{locker}` stopped"))?;
        rrx.await.map_err(|_| format!("locker `{locker}` stopped"))
    }
}

/// Runs the demo on a prepared scenario (see [`prepare`]).
pub async fn run(sc: &Scenario, opts: &DemoOptions) -> Result<DemoReport, String> {
    let started = Instant::now();
    // 1. The simulator's run, with every order's record.
    let run_opts = RunOptions {
        seed: sc.seed,
        replications: 1,
        record_history: true,
        ..RunOptions::default()
    };
    let result = sim::run(sc, &run_opts, &|_| {}).map_err(|e| e.to_string())?;
    let sim_table = RunReport::new(sc, sc.seed, &result).to_table(None);
    let records: Vec<HistoryRecord> = result.history.into_iter().next().unwrap_or_default();

    // 2. Broker, service, controllers.
    let broker = mqtt::broker::given_or_embedded(opts.broker.as_ref())?;
    let topics = Topics::new("lockerlab", "demo").map_err(|e| e.to_string())?;
    let clock = Clock::manual(0);
    let progress = Arc::new(Progress::default());
    let service = Gateway::new(
        Service::new(ServiceConfig::live(
            sc,
            &DEV_REGION_SECRET,
            sc.seed,
            sc.calendar.clone(),
        ))?,
        topics.clone(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let serve_task = tokio::spawn(serve::serve(
        service,
        ServeOptions {
            broker: broker.clone(),
            credentials: None,
            clock: clock.clone(),
            client_id: format!("lockerlab-serve-{}", std::process::id()),
            progress: Some(progress.clone()),
        },
        stop_rx,
    ));
    std::fs::create_dir_all(&opts.store_dir)
        .map_err(|e| format!("{}: {e}", opts.store_dir.display()))?;
    let mut lockers = HashMap::new();
    let mut emu_tasks = Vec::new();
    for loc in &sc.locations {
        let store = opts.store_dir.join(format!("{}.sqlite", loc.id));
        let _ = std::fs::remove_file(&store);
        let cfg = EmuConfig {
            broker: broker.clone(),
            credentials: None,
            topics: topics.clone(),
            clock: clock.clone(),
            heartbeat_ms: 60_000,
            reconnect_delay: Duration::from_millis(200),
            progress: Some(progress.clone()),
        };
        let (task, tx) = spawn_locker(
            &store,
            &loc.id,
            loc.compartments,
            &DEV_REGION_SECRET,
            sc.access.controller,
            Durability::Normal,
            cfg,
        )
        .map_err(|e| e.to_string())?;
        lockers.insert(loc.id.clone(), tx);
        emu_tasks.push(task);
    }

    // 3. The demo's own client: checkouts out, replies in.
    let inbox = Arc::new(Inbox::default());
    let mut o = mqtt::options(
        &format!("lockerlab-demo-{}", std::process::id()),
        &broker,
        None,
        None,
    );
    o.set_clean_session(true);
    o.set_manual_acks(false);
    let (client, mut events) = mqtt::client(o, 1024);
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
                            let order = reply_order(&env.body);
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

    let world = World {
        clock: clock.clone(),
        progress: progress.clone(),
        lockers,
        client,
        topics,
        inbox,
        timeout: opts.settle_timeout,
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

    let play = play(&world, &records).await;
    // Stop everything whatever happened, then report.
    drop(world.lockers);
    for t in emu_tasks {
        let _ = t.await;
    }
    let _ = stop_tx.send(true);
    let service = serve_task.await.map_err(|e| e.to_string())?;
    listener.abort();
    let (live, round_trips) = play?;

    let sim: Vec<OrderResult> = records
        .iter()
        .map(|r| OrderResult {
            order: r.order_id,
            locker: r.location_id.clone(),
            compartment: r.compartment,
            end: sim_end(r.outcome),
        })
        .collect();
    let mismatches = sim
        .iter()
        .zip(&live)
        .filter(|(s, l)| s != l)
        .map(|(s, l)| format!("order {}: simulator {s:?}, live {l:?}", s.order))
        .collect();
    Ok(DemoReport {
        sim_table,
        sim,
        live,
        mismatches,
        round_trips,
        service: service.stats(),
        wall: started.elapsed(),
        lockers: sc.locations.len(),
    })
}

fn reply_order(r: &Reply) -> u64 {
    match r {
        Reply::Accepted { order, .. }
        | Reply::Rejected { order, .. }
        | Reply::Rerouted { order, .. }
        | Reply::Code { order, .. }
        | Reply::Reminder { order, .. }
        | Reply::Outcome { order, .. } => *order,
    }
}

/// Plays the records' steps in time order; returns each order's live
/// result (in record order) and the checkout round trips.
async fn play(
    world: &World,
    records: &[HistoryRecord],
) -> Result<(Vec<OrderResult>, Vec<Duration>), String> {
    // Simultaneous events in the simulator's order: by time, then by where
    // they fell in its event sequence.
    let mut steps: Vec<(Millis, u64, Step, usize)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        steps.push((r.checkout_ms, r.checkout_seq, Step::Checkout, i));
        if let (Some(t), Some(seq)) = (r.deposit_ms, r.scan_seq) {
            steps.push((t, seq, Step::Deposit, i));
        }
        let end = r.end_seq.unwrap_or(u64::MAX);
        if let Some(t) = r.pickup_ms {
            steps.push((t, end, Step::Pickup, i));
        }
        if let Some(t) = r.retrieval_ms {
            steps.push((t, end, Step::Retrieve, i));
        }
    }
    steps.sort();
    let mut accepted = vec![false; records.len()];
    let mut compartment: Vec<Option<u32>> = vec![None; records.len()];
    let mut round_trips = Vec::new();
    let mut last = 0;
    for &(t, _, step, i) in &steps {
        world.clock.set(t);
        world.settle(t).await?;
        last = t;
        let r = &records[i];
        let locker = r.location_id.as_str();
        match step {
            Step::Checkout => {
                let req = ReserveRequest {
                    order: r.order_id,
                    locker: locker.to_string(),
                    tier: r.tier,
                    size: r.size,
                    client: CLIENT.into(),
                    lead_ms: 0,
                };
                let sent = Instant::now();
                world
                    .client
                    .publish(
                        world.topics.reserve(),
                        QoS::AtLeastOnce,
                        false,
                        protocol::encode(format!("co-{}", r.order_id), t, &req),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let answer = world
                    .inbox
                    .wait_for(r.order_id, world.timeout, |r| {
                        matches!(r, Reply::Accepted { .. } | Reply::Rejected { .. })
                    })
                    .await
                    .ok_or_else(|| format!("order {}: no answer to the checkout", r.order_id))?;
                round_trips.push(sent.elapsed());
                accepted[i] = matches!(answer, Reply::Accepted { .. });
            }
            _ if !accepted[i] => {}
            Step::Deposit => {
                let scan = world
                    .act(
                        locker,
                        Action::DriverScan {
                            package: r.order_id,
                        },
                    )
                    .await?;
                if let Some(c) = scan.door {
                    world.act(locker, Action::Put).await?;
                    compartment[i] = Some(c);
                }
            }
            Step::Pickup => {
                let code = world
                    .inbox
                    .wait_for(r.order_id, world.timeout, |r| {
                        matches!(r, Reply::Code { .. })
                    })
                    .await;
                if let Some(Reply::Code { code, .. }) = code {
                    let typed = world.act(locker, Action::Keypad { code }).await?;
                    if typed.door.is_some() {
                        world.act(locker, Action::Take).await?;
                    }
                }
            }
            Step::Retrieve => {
                let opened = world
                    .act(
                        locker,
                        Action::OpsRetrieve {
                            package: r.order_id,
                        },
                    )
                    .await?;
                if opened.door.is_some() {
                    world.act(locker, Action::Take).await?;
                }
            }
        }
        world.settle(t).await?;
    }
    // Let every timer still set (reservation timeouts, expiries) fire.
    loop {
        let next = world.progress.deadline();
        if next == Millis::MAX || next > last + 30 * DAY {
            break;
        }
        world.clock.set(next);
        world.settle(next).await?;
        last = next;
    }
    // Outcomes still on their way to the demo's client.
    for (i, r) in records.iter().enumerate() {
        if accepted[i] {
            let ended = |x: &Reply| matches!(x, Reply::Outcome { .. });
            world
                .inbox
                .wait_for(r.order_id, Duration::from_secs(2), ended)
                .await;
        }
    }
    let replies = world.inbox.replies.lock().expect("no panics while held");
    let live = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let end = replies
                .get(&r.order_id)
                .and_then(|rs| {
                    rs.iter().find_map(|x| match x {
                        Reply::Rejected { .. } => Some(End::Rejected),
                        Reply::Outcome { outcome, .. } => Some(match outcome {
                            protocol::OrderOutcome::PickedUp => End::PickedUp,
                            protocol::OrderOutcome::ExpiredReturned => End::ExpiredReturned,
                            protocol::OrderOutcome::DeliveryFailed => End::DeliveryFailed,
                            protocol::OrderOutcome::ReroutedAlternateLocker => End::Rerouted,
                        }),
                        _ => None,
                    })
                })
                .unwrap_or(End::Open);
            OrderResult {
                order: r.order_id,
                locker: r.location_id.clone(),
                compartment: compartment[i],
                end,
            }
        })
        .collect();
    Ok((live, round_trips))
}

impl DemoReport {
    /// The live run beside the simulator's, and the parity verdict.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let count = |v: &[OrderResult], e: End| v.iter().filter(|o| o.end == e).count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nlive: serve + {} emulated controllers over MQTT, one simulated day",
            self.lockers
        );
        let _ = writeln!(out, "{:<30} {:>10} {:>10}", "orders", "simulator", "live");
        let _ = writeln!(out, "{:-<30} {:->10} {:->10}", "", "", "");
        for (name, e) in [
            ("rejected_at_checkout", End::Rejected),
            ("picked_up", End::PickedUp),
            ("expired_returned", End::ExpiredReturned),
            ("delivery_failed", End::DeliveryFailed),
            ("still_open", End::Open),
        ] {
            let _ = writeln!(
                out,
                "{:<30} {:>10} {:>10}",
                name,
                count(&self.sim, e),
                count(&self.live, e)
            );
        }
        let mut rt: Vec<f64> = self
            .round_trips
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        rt.sort_by(f64::total_cmp);
        let q = |p: f64| {
            rt.get(((rt.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            out,
            "\nreservation round trip (checkout → answer): p50 {:.2} ms, p99 {:.2} ms over {}",
            q(0.5),
            q(0.99),
            rt.len()
        );
        let s = &self.service;
        let _ = writeln!(
            out,
            "service: {} requests, {} reports ({} duplicates), {} codes issued, {} malformed",
            s.requests, s.reports, s.duplicate_reports, s.codes_issued, s.malformed
        );
        let _ = writeln!(out, "wall time {:.1} s", self.wall.as_secs_f64());
        if self.mismatches.is_empty() {
            let _ = writeln!(
                out,
                "parity: all {} orders got the same decision, compartment and outcome",
                self.sim.len()
            );
        } else {
            let _ = writeln!(
                out,
                "parity: {} of {} orders differ:",
                self.mismatches.len(),
                self.sim.len()
            );
            for m in self.mismatches.iter().take(20) {
                let _ = writeln!(out, "  {m}");
            }
        }
        out
    }
}
