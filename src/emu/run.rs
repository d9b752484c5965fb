//! The station on MQTT. One broker connection at a time, each a fresh
//! client on a persistent session: on every connect it subscribes again
//! (rumqttc does not restore subscriptions), announces itself on the
//! retained status topic (the will resets it to offline) and re-sends the
//! whole outbox in order; a report leaves the outbox only on its PUBACK.
//! A command is acknowledged to the broker only after it is stored. While
//! the link is down the station keeps serving people.

use super::metrics::EmuMetrics;
use super::station::{Action, ActionResult, Station};
use super::store::StoreError;
use crate::controller::Input;
use crate::controller::Source;
use crate::engine::Millis;
use crate::mqtt::{self, Backoff, Clock, Endpoint, Progress};
use crate::protocol::{self, LinkState, Route, Status, Topics};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct EmuConfig {
    pub broker: Endpoint,
    pub topics: Topics,
    pub clock: Clock,
    /// Clock milliseconds between the controller's clock ticks; None: the
    /// driver ticks it (the demo replays the simulator's ticks).
    pub heartbeat_ms: Option<Millis>,
    /// Real time before the first reconnection attempt; it doubles while
    /// the broker stays unreachable, up to [`MAX_RECONNECT_DELAY`].
    pub reconnect_delay: Duration,
    /// Shared counters for an in-process driver of the whole system.
    pub progress: Option<Arc<Progress>>,
    /// Kept up to date for `--metrics-addr` (see `mqtt::http`).
    pub metrics: Option<Arc<EmuMetrics>>,
}

/// The longest wait between reconnection attempts.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// An action and where to send its result.
pub type Request = (Action, Option<oneshot::Sender<ActionResult>>);

#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Ended {
    /// The connection failed or was cut: serve offline, then reconnect.
    Lost,
    /// The action channel closed: stop.
    Shutdown,
}

/// Per-connection bookkeeping of publishes in flight.
#[derive(Default)]
struct Flight {
    /// Highest outbox number handed to this connection's client.
    sent_upto: u64,
    /// Outbox number of each publish handed over, in order (None: status).
    order: VecDeque<Option<u64>>,
    by_pkid: HashMap<u16, u64>,
}

/// A running in-process locker: its task and the channel people act
/// through.
pub type Running = (
    tokio::task::JoinHandle<Result<Station, EmuError>>,
    mpsc::Sender<Request>,
);

/// Opens locker `id`'s store at `store` (with its `keys`) and runs it on
/// `cfg` in a task: how the demo, the load test and the tests start lockers
/// in-process.
pub fn spawn_locker(
    store: &std::path::Path,
    id: &str,
    layout: [u32; crate::domain::Size::COUNT],
    keys: crate::access::LockerKeys,
    config: crate::controller::ControllerConfig,
    durability: super::Durability,
    cfg: EmuConfig,
) -> Result<Running, StoreError> {
    let node = super::Node::open(
        store,
        id,
        layout,
        keys,
        config,
        cfg.topics.clone(),
        durability,
    )?;
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(Emulator::new(Station::new(node), cfg).run(rx));
    Ok((task, tx))
}

pub struct Emulator {
    station: Station,
    cfg: EmuConfig,
    link_wanted: bool,
    /// When the driver cut the link (the controller hears it then, not
    /// when the connection has been torn down).
    cut_at: Option<Millis>,
    /// Reports made and commands applied, as last added to `progress`.
    counted: (u64, u64),
    backoff: Backoff,
}

impl Emulator {
    pub fn new(station: Station, cfg: EmuConfig) -> Self {
        Emulator {
            station,
            link_wanted: true,
            cut_at: None,
            counted: (0, 0),
            backoff: Backoff::new(cfg.reconnect_delay, MAX_RECONNECT_DELAY),
            cfg,
        }
    }

    /// Logs and counts what an action, command or tick raised.
    fn raised(&self, result: &ActionResult) {
        for alert in &result.alerts {
            tracing::warn!(locker = %self.station.node.locker_id(), ?alert, "alert");
        }
        if let Some(m) = &self.cfg.metrics {
            m.raised(result);
        }
    }

    fn account(&mut self) {
        if let Some(m) = &self.cfg.metrics {
            // The store answers from memory or a small query; a failure
            // here costs a stale gauge, not the locker.
            if let Err(e) = m.observe(&self.station) {
                tracing::warn!(locker = %self.station.node.locker_id(), error = %e, "metrics");
            }
        }
        if let Some(p) = &self.cfg.progress {
            let made = self.station.node.reports_made();
            let applied = self.station.node.controller().last_seq(Source::Service);
            let locker = self.station.node.locker_id();
            p.step(locker, made - self.counted.0, applied - self.counted.1);
            self.counted = (made, applied);
        }
    }

    fn now(&self) -> Millis {
        self.cfg.clock.now()
    }

    fn locker(&self) -> String {
        self.station.node.locker_id().to_string()
    }

    fn status(&self, state: LinkState) -> Vec<u8> {
        protocol::encode("status", self.now(), &Status { state })
    }

    /// Runs until the action channel closes; returns the station.
    pub async fn run(mut self, mut actions: mpsc::Receiver<Request>) -> Result<Station, EmuError> {
        self.account();
        loop {
            if self.link_wanted {
                match self.connected(&mut actions).await? {
                    Ended::Shutdown => return Ok(self.station),
                    Ended::Lost => {}
                }
                let now = self.cut_at.take().unwrap_or_else(|| self.now());
                let r = self.station.runtime(now, Input::Link { up: false })?;
                self.raised(&r);
                self.account();
            }
            // Offline: serve people until it is time to try again.
            let retry = tokio::time::sleep(self.backoff.wait());
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    _ = &mut retry, if self.link_wanted => break,
                    req = actions.recv() => match req {
                        None => return Ok(self.station),
                        Some(req) => {
                            self.action(req, None)?;
                        }
                    },
                }
            }
        }
    }

    fn action(
        &mut self,
        (action, reply): Request,
        client: Option<&AsyncClient>,
    ) -> Result<bool, EmuError> {
        let now = self.now();
        let mut cut = false;
        if let Action::Link { up } = action {
            cut = !up && self.link_wanted && client.is_some();
            self.link_wanted = up;
            if cut {
                self.cut_at = Some(now);
            }
        }
        let result = self.station.act_on(now, &action)?;
        tracing::debug!(
            locker = %self.station.node.locker_id(),
            action = action.name(),
            outcome = result.outcome(),
            error = result.error.as_deref(),
            events = ?result.events.iter().map(|e| e.name()).collect::<Vec<_>>(),
            "action"
        );
        if let Some(m) = &self.cfg.metrics {
            m.acted(&action, &result);
        }
        self.raised(&result);
        self.account();
        if let Some(tx) = reply {
            let _ = tx.send(result);
        }
        Ok(cut)
    }

    async fn connected(
        &mut self,
        actions: &mut mpsc::Receiver<Request>,
    ) -> Result<Ended, EmuError> {
        let locker = self.locker();
        let will = (
            self.cfg.topics.status(&locker),
            self.status(LinkState::Offline),
        );
        let opts = mqtt::options(&format!("locker-{locker}"), &self.cfg.broker, Some(will));
        let (client, mut events) = mqtt::client(opts, 1024);
        let mut flight = Flight::default();
        let mut online = false;
        let beat = self.cfg.heartbeat_ms;
        let mut heartbeat = tokio::time::interval(self.cfg.clock.span(beat.unwrap_or(1)));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ended = loop {
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(ev) => {
                        if self.on_event(ev, &client, &mut flight, &mut online)? {
                            self.flush(&client, &mut flight)?;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(
                            locker,
                            broker = %self.cfg.broker,
                            error = %e,
                            attempt = self.backoff.attempts() + 1,
                            "broker connection failed"
                        );
                        break Ended::Lost;
                    }
                },
                req = actions.recv() => match req {
                    None => break Ended::Shutdown,
                    Some(req) => {
                        if self.action(req, Some(&client))? {
                            // Cut off: drop the connection without a
                            // DISCONNECT, so the broker publishes the will.
                            break Ended::Lost;
                        }
                        if online {
                            self.flush(&client, &mut flight)?;
                        }
                    }
                },
                _ = heartbeat.tick(), if beat.is_some() => {
                    let now = self.now();
                    let r = self.station.runtime(now, Input::Tick)?;
                    self.raised(&r);
                    self.account();
                    if online {
                        self.flush(&client, &mut flight)?;
                    }
                }
            }
        };
        if let Ended::Shutdown = ended {
            if online {
                self.drain(&client, &mut events, &mut flight).await?;
            }
        }
        if let Some(m) = &self.cfg.metrics {
            m.link(false);
        }
        drop(events);
        Ok(ended)
    }

    /// On shutdown: give the broker a moment to acknowledge what is in
    /// flight, then say goodbye on the status topic.
    async fn drain(
        &mut self,
        client: &AsyncClient,
        events: &mut EventLoop,
        flight: &mut Flight,
    ) -> Result<(), EmuError> {
        let locker = self.locker();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut online = true;
        while self.station.node.store().outbox_len()? > 0 {
            match tokio::time::timeout_at(deadline, events.poll()).await {
                Ok(Ok(ev)) => {
                    self.on_event(ev, client, flight, &mut online)?;
                    self.flush(client, flight)?;
                }
                _ => return Ok(()),
            }
        }
        let bye = self.status(LinkState::Offline);
        let _ = client.try_publish(self.cfg.topics.status(&locker), QoS::AtLeastOnce, true, bye);
        let _ = client.try_disconnect();
        while let Ok(Ok(ev)) = tokio::time::timeout_at(deadline, events.poll()).await {
            if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                break;
            }
        }
        Ok(())
    }

    /// Handles one event of the connection; true if the outbox may have
    /// something new to send.
    fn on_event(
        &mut self,
        ev: Event,
        client: &AsyncClient,
        flight: &mut Flight,
        online: &mut bool,
    ) -> Result<bool, EmuError> {
        let locker = self.locker();
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                tracing::info!(
                    locker,
                    broker = %self.cfg.broker,
                    after_attempts = self.backoff.attempts(),
                    "connected"
                );
                self.backoff.reset();
                if let Some(m) = &self.cfg.metrics {
                    m.link(true);
                }
                *online = true;
                *flight = Flight::default();
                let _ =
                    client.try_subscribe(self.cfg.topics.locker_filter(&locker), QoS::AtLeastOnce);
                let status = self.status(LinkState::Online);
                if client
                    .try_publish(
                        self.cfg.topics.status(&locker),
                        QoS::AtLeastOnce,
                        true,
                        status,
                    )
                    .is_ok()
                {
                    flight.order.push_back(None);
                }
                let now = self.now();
                let r = self.station.runtime(now, Input::Link { up: true })?;
                self.raised(&r);
                self.station.node.announce(now)?;
                self.account();
                if let Some(p) = &self.cfg.progress {
                    p.connected();
                }
                Ok(true)
            }
            Event::Incoming(Packet::Publish(p)) => {
                let now = self.now();
                if let Ok(Route::Command { locker: to, kind }) = self.cfg.topics.parse(&p.topic) {
                    if to == locker {
                        let r = self.station.command(now, kind, &p.payload)?;
                        tracing::debug!(
                            locker,
                            command = ?kind,
                            error = r.error.as_deref(),
                            "command"
                        );
                        self.raised(&r);
                        self.account();
                    }
                }
                // Stored (or not ours): the broker may forget it now.
                let _ = client.try_ack(&p);
                Ok(true)
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(Some(seq)) = flight.order.pop_front() {
                    flight.by_pkid.insert(pkid, seq);
                }
                Ok(false)
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(seq) = flight.by_pkid.remove(&ack.pkid) {
                    self.station.node.store().ack(seq)?;
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Hands outbox rows not yet sent on this connection to the client, in
    /// order, until its queue is full.
    fn flush(&mut self, client: &AsyncClient, flight: &mut Flight) -> Result<(), EmuError> {
        loop {
            let rows = self
                .station
                .node
                .store()
                .outbox_after(flight.sent_upto, 64)?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in rows {
                if client
                    .try_publish(row.topic, QoS::AtLeastOnce, false, row.payload)
                    .is_err()
                {
                    return Ok(());
                }
                flight.order.push_back(Some(row.seq));
                flight.sent_upto = row.seq;
            }
        }
    }
}
