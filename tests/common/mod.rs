//! Setup shared by the MQTT tests: a service and an emulated locker on a
//! broker, in the test process.

#![allow(dead_code)]

pub mod cli;
pub mod variant;

use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::access::LockerKeys;
use lockerlab::controller::ControllerConfig;
use lockerlab::domain::{Size, Tier};
use lockerlab::emu::{
    spawn_locker, Action, ActionResult, Durability, EmuConfig, EmuError, Request, Station,
};
use lockerlab::mqtt::{Clock, Endpoint};
use lockerlab::policy::Policy;
use lockerlab::protocol::{self, ReserveRequest, Topics};
use lockerlab::serve::metrics::ServeMetrics;
use lockerlab::serve::{self, Gateway, ServeOptions};
use lockerlab::service::{CodeSeed, LockerSpec, Service, ServiceConfig};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

const HOUR: i64 = 3_600_000;

/// A shop's request for an S compartment, as published on `svc/reserve`
/// (request id `o{order}`).
pub fn reserve_request(order: u64, locker: &str, tier: Tier) -> Vec<u8> {
    let req = ReserveRequest {
        order,
        locker: locker.into(),
        tier,
        size: Size::S,
        client: "shop".into(),
        lead_ms: 0,
        kind: Default::default(),
    };
    protocol::encode(format!("o{order}"), 0, &req)
}

pub struct RunningService {
    pub task: JoinHandle<Result<Gateway, String>>,
    pub stop: watch::Sender<bool>,
}

impl RunningService {
    pub async fn stop(self) -> Gateway {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap()
    }
}

/// A service for `lockers` with the snapshot policy (every free compartment
/// is offered), a 72-hour pickup window and no reminders.
pub fn snapshot_config(lockers: Vec<LockerSpec>) -> ServiceConfig {
    ServiceConfig {
        lockers,
        policy: Policy::Snapshot {},
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 0,
        reservation_timeout: [12 * HOUR; 4],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        calendar: Default::default(),
    }
}

/// `serve` for one locker, `L1`, with the snapshot policy.
pub fn start_service(broker: &Endpoint, topics: &Topics, client_id: &str) -> RunningService {
    start_service_with(broker, topics, client_id, None)
}

/// [`start_service`], keeping `metrics` up to date.
pub fn start_service_with(
    broker: &Endpoint,
    topics: &Topics,
    client_id: &str,
    metrics: Option<std::sync::Arc<ServeMetrics>>,
) -> RunningService {
    let cfg = snapshot_config(vec![LockerSpec::live(
        "L1",
        0,
        &DEV_REGION_SECRET,
        &CodeSeed::Insecure(5),
    )]);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve::serve(
        Gateway::new(Service::new(cfg).unwrap(), topics.clone()),
        ServeOptions {
            broker: broker.clone(),
            clock: Clock::real(),
            client_id: client_id.into(),
            progress: None,
            subscribed: None,
            metrics,
            journal: None,
        },
        stop_rx,
    ));
    RunningService { task, stop }
}

pub struct RunningLocker {
    pub id: String,
    pub task: JoinHandle<Result<Station, EmuError>>,
    pub tx: mpsc::Sender<Request>,
}

/// Locker `id` with `layout`, its store in `dir`.
pub fn start_locker(
    broker: &Endpoint,
    topics: &Topics,
    dir: &Path,
    id: &str,
    layout: [u32; 4],
    durability: Durability,
) -> RunningLocker {
    let cfg = EmuConfig {
        broker: broker.clone(),
        topics: topics.clone(),
        clock: Clock::real(),
        heartbeat_ms: Some(1_000),
        reconnect_delay: Duration::from_millis(100),
        progress: None,
        metrics: None,
    };
    let store = dir.join(format!("{id}.sqlite"));
    let config = ControllerConfig::default();
    let (task, tx) = spawn_locker(
        &store,
        id,
        layout,
        LockerKeys::for_locker(&DEV_REGION_SECRET, id),
        config,
        durability,
        cfg,
    )
    .unwrap();
    RunningLocker {
        id: id.to_string(),
        task,
        tx,
    }
}

impl RunningLocker {
    pub async fn act(&self, action: Action) -> ActionResult {
        let (rtx, rrx) = oneshot::channel();
        self.tx.send((action, Some(rtx))).await.unwrap();
        rrx.await.unwrap()
    }

    /// A driver signs in with a pass for this locker and scans `package`.
    pub async fn scan(&self, package: u64) -> ActionResult {
        let pass = lockerlab::access::pass::open_ended(
            &DEV_REGION_SECRET,
            lockerlab::access::pass::Role::Driver,
            &self.id,
        );
        self.act(Action::SignIn { pass }).await;
        self.act(Action::DriverScan { package }).await
    }

    /// Polls the locker's status until `done` holds (at most 2 s).
    pub async fn until(&self, done: impl Fn(&lockerlab::emu::StationStatus) -> bool) {
        for _ in 0..200 {
            if done(&self.act(Action::Status).await.status.unwrap()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) -> Station {
        drop(self.tx);
        self.task.await.unwrap().unwrap()
    }
}
