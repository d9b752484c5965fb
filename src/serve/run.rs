//! `serve` on MQTT: one long-lived client on a persistent session. rumqttc
//! re-sends unacknowledged publishes after a reconnect; subscriptions are
//! renewed on every connect. A message is acknowledged to the broker after
//! the service has handled it.

use super::journal::Journal;
use super::metrics::ServeMetrics;
use super::{Entry, Gateway, Outgoing, Traffic};
use crate::engine::Millis;
use crate::mqtt::{self, BrokerUrl, Clock, Endpoint, Progress};
use rumqttc::{
    ClientError, ConnectReturnCode, ConnectionError, Event, Packet, QoS, Request, SubscribeFilter,
    SubscribeReasonCode,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub struct ServeOptions {
    pub broker: Endpoint,
    pub clock: Clock,
    pub client_id: String,
    /// Shared counters for an in-process driver of the whole system.
    pub progress: Option<Arc<Progress>>,
    /// Told once the broker has acknowledged every subscription: a report
    /// published before then has no subscriber and is dropped by the
    /// broker, so an in-process driver starts its lockers only after this.
    pub subscribed: Option<oneshot::Sender<()>>,
    /// Kept up to date for `--metrics-addr` (see `mqtt::http`).
    pub metrics: Option<Arc<ServeMetrics>>,
    /// `serve --store`: every step journaled before it is taken; the
    /// service is rebuilt from it at start.
    pub journal: Option<Journal>,
}

/// What the service had done at the last [`account`]: each locker's
/// traffic and the client messages handled.
#[derive(Default)]
struct Seen {
    traffic: Vec<Traffic>,
    client_messages: u64,
}

/// Counts what the service did since `seen` (reports consumed and commands
/// sent per locker, client messages handled, links heard) into `progress`.
fn account(service: &Gateway, progress: Option<&Arc<Progress>>, seen: &mut Seen) {
    let Some(p) = progress else { return };
    let now = service.traffic();
    seen.traffic.resize(now.len(), Traffic::default());
    for ((id, t), was) in service.ids().iter().zip(now).zip(&mut seen.traffic) {
        if t != was {
            p.step(id, t.commands - was.commands, t.reports - was.reports);
            if let Some(up) = t.online {
                p.link_seen(id, up);
            }
            *was = *t;
        }
    }
    p.requests_handled(service.client_messages() - seen.client_messages);
    seen.client_messages = service.client_messages();
    p.set_deadline(service.next_deadline().unwrap_or(Millis::MAX));
}

/// Waits for [`serve`]'s `subscribed` signal, at most `timeout`.
pub async fn until_subscribed(
    subscribed: oneshot::Receiver<()>,
    timeout: Duration,
    broker: &BrokerUrl,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, subscribed).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(format!(
            "the service stopped before subscribing on {broker}"
        )),
        Err(_) => Err(format!(
            "the service's subscriptions on {broker} were not acknowledged within {timeout:?}"
        )),
    }
}

/// A line a minute for the operator: what the service did since the last.
struct Summary {
    last: std::time::Instant,
    was: crate::service::ServiceStats,
}

impl Summary {
    const EVERY: Duration = Duration::from_secs(60);

    fn new() -> Self {
        Self {
            last: std::time::Instant::now(),
            was: Default::default(),
        }
    }

    fn maybe_log(&mut self, service: &Gateway) {
        if self.last.elapsed() < Self::EVERY {
            return;
        }
        let now = service.stats();
        let online = service
            .traffic()
            .iter()
            .filter(|t| t.online == Some(true))
            .count();
        tracing::info!(
            requests = now.requests - self.was.requests,
            accepted = now.accepted - self.was.accepted,
            rejected = now.rejected - self.was.rejected,
            reports = now.reports - self.was.reports,
            malformed = now.malformed - self.was.malformed,
            lockers_online = online,
            lockers = service.ids().len(),
            open_orders = service.open_orders(),
            "last minute"
        );
        self.was = now;
        self.last = std::time::Instant::now();
    }
}

/// Which journal entries' outputs the broker has acknowledged, so a
/// restart republishes only the rest.
#[derive(Default)]
struct Published {
    /// Publishes handed to the client and not yet acknowledged.
    unacked: u64,
    /// The journal position last recorded as published.
    marked: i64,
    last_write: Option<std::time::Instant>,
}

impl Published {
    /// Recording costs a commit: at most once a second unless `now`.
    const EVERY: Duration = Duration::from_secs(1);

    fn handed_over(&mut self) {
        self.unacked += 1;
    }

    fn acked(&mut self) {
        self.unacked = self.unacked.saturating_sub(1);
    }

    /// With nothing waiting and nothing unacknowledged, every entry so far
    /// is out: record it (a stale mark only republishes more).
    /// Then, every `Journal::snapshot_every` entries, the service's state
    /// is kept and the entries before it dropped: all of them are applied
    /// and published, so a restart needs only what follows.
    fn mark(
        &mut self,
        journal: Option<&mut Journal>,
        service: &Gateway,
        idle: bool,
        now: bool,
    ) -> Result<(), String> {
        let Some(j) = journal else { return Ok(()) };
        let recent = self.last_write.is_some_and(|t| t.elapsed() < Self::EVERY);
        if !idle || self.unacked > 0 || j.last() == self.marked || (recent && !now) {
            return Ok(());
        }
        j.set_published_through(j.last())?;
        self.marked = j.last();
        self.last_write = Some(std::time::Instant::now());
        if j.snapshot_due() {
            let started = std::time::Instant::now();
            match service.snapshot() {
                Ok(state) => {
                    j.save_snapshot(j.last(), &state)?;
                    tracing::debug!(
                        through = j.last(),
                        bytes = state.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "snapshot"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no snapshots: restarts replay the whole journal");
                    j.set_snapshot_every(0);
                }
            }
        }
        Ok(())
    }
}

/// Longest real time between ticks (stale checks, timers).
const TICK: Duration = Duration::from_millis(100);

/// Runs until `stop` turns true; returns the service (for its counters).
/// A broker that refuses the credentials is an error: retrying cannot fix
/// it, and an operator must hear it from `serve`, not from the broker's log.
pub async fn serve(
    mut service: Gateway,
    opts: ServeOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<Gateway, String> {
    let mqtt_opts = mqtt::options(&opts.client_id, &opts.broker, None);
    let (client, mut events) = mqtt::client(mqtt_opts, 1 << 16);
    let filters = service.topics().service_filters();
    let mut subscribed = opts.subscribed;
    let mut link = mqtt::Backoff::default();
    let broker = opts.broker.to_string();
    let mut summary = Summary::new();
    let mut backlog: VecDeque<Outgoing> = VecDeque::new();
    let mut journal = opts.journal;
    if let Some(j) = &journal {
        let started = std::time::Instant::now();
        let r = service.recover(j)?;
        tracing::info!(
            snapshot_through = r.snapshot,
            entries = r.entries,
            republished = r.republish.len(),
            open_orders = service.open_orders(),
            seconds = started.elapsed().as_secs_f64(),
            "replayed the service's journal"
        );
        backlog.extend(r.republish);
    }
    let mut published = Published::default();
    let mut out = Vec::new();
    let mut seen = Seen::default();
    loop {
        let deadline = service.next_deadline();
        tokio::select! {
            ev = events.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(broker, after_attempts = link.attempts(), "connected");
                    link.reset();
                    if let Some(m) = &opts.metrics {
                        // Ready again only once the subscriptions are.
                        m.set_ready(false);
                    }
                    // One SUBSCRIBE for all, so one SUBACK says when the
                    // service hears everything.
                    let all = filters
                        .iter()
                        .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                    let _ = client.try_subscribe_many(all);
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused: Vec<&String> = filters
                        .iter()
                        .zip(&ack.return_codes)
                        .filter(|(_, c)| matches!(c, SubscribeReasonCode::Failure))
                        .map(|(f, _)| f)
                        .collect();
                    if refused.is_empty() {
                        if let Some(tx) = subscribed.take() {
                            let _ = tx.send(());
                        }
                        if let Some(m) = &opts.metrics {
                            m.set_ready(true);
                        }
                    } else {
                        tracing::error!(
                            broker,
                            ?refused,
                            "the broker refused these subscriptions: the service is deaf \
                             to them (check the broker's ACL for this user)"
                        );
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    // The time it is handled, not the time the wait began
                    // (a driver may have moved a manual clock meanwhile).
                    let now = opts.clock.now();
                    let started = std::time::Instant::now();
                    tracing::debug!(topic = %p.topic, bytes = p.payload.len(), "received");
                    // Journaled before it is acted on or acknowledged: a
                    // crash after this replays it, a crash before gets it
                    // again from the broker.
                    let entry = Entry::Message {
                        now,
                        topic: p.topic.to_string(),
                        payload: p.payload.to_vec(),
                    };
                    service.step(journal.as_mut(), entry, &mut out)?;
                    if let Some(m) = &opts.metrics {
                        m.handled_in(started.elapsed().as_secs_f64());
                    }
                    backlog.extend(out.drain(..));
                    let _ = client.try_ack(&p);
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => published.acked(),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(
                    code @ (ConnectReturnCode::BadUserNamePassword
                    | ConnectReturnCode::NotAuthorized),
                )) => {
                    let user = opts.broker.credentials.as_ref().map_or("(none)", |c| &c.username);
                    return Err(format!(
                        "the broker {} refused the connection ({code:?}) for user `{user}`: \
                         check --username and --password-file",
                        opts.broker
                    ));
                }
                // Waiting does not fix a certificate: the operator must hear it.
                Err(e) if let Some((theirs, why)) = mqtt::certificate_failure(&e) => {
                    let check = if theirs {
                        "its certificate does not verify against --tls-ca (or the system's CAs) \
                         for this host name"
                    } else {
                        "it refused this client's certificate: check --tls-cert and --tls-key \
                         and the CA the broker trusts"
                    };
                    return Err(format!("TLS with the broker {} failed: {why}; {check}", opts.broker));
                }
                Err(e) => {
                    let wait = link.wait();
                    tracing::warn!(
                        broker,
                        error = %e,
                        attempt = link.attempts(),
                        retry_in_ms = wait.as_millis() as u64,
                        "broker connection failed"
                    );
                    if let Some(m) = &opts.metrics {
                        m.set_ready(false);
                    }
                    tokio::time::sleep(wait).await;
                }
            },
            _ = opts.clock.wake(deadline, TICK) => {
                let now = opts.clock.now();
                if service.next_deadline().is_some_and(|d| d <= now) {
                    service.step(journal.as_mut(), Entry::Tick { now }, &mut out)?;
                } else {
                    // Nothing due: only finished orders are forgotten,
                    // which the next journaled step at a later time does
                    // the same in a replay.
                    service.tick(now, &mut out);
                }
                service.retransmit(now, &mut out);
                backlog.extend(out.drain(..));
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    published.mark(journal.as_mut(), &service, backlog.is_empty(), true)?;
                    return Ok(service);
                }
            }
        }
        account(&service, opts.progress.as_ref(), &mut seen);
        while let Some(m) = backlog.pop_front() {
            tracing::debug!(topic = %m.topic, bytes = m.payload.len(), retain = m.retain, "publish");
            // A full request queue hands the message back: keep it, in
            // order, for the next turn.
            let refused = client.try_publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload);
            if let Err(ClientError::TryRequest(Request::Publish(p))) = refused {
                backlog.push_front(Outgoing {
                    topic: p.topic,
                    payload: p.payload.to_vec(),
                    retain: p.retain,
                });
                break;
            }
            published.handed_over();
        }
        published.mark(journal.as_mut(), &service, backlog.is_empty(), false)?;
        summary.maybe_log(&service);
        let decided = service.take_decision();
        if let Some((tier, reason)) = decided {
            tracing::debug!(?tier, rejected = ?reason, "decision");
        }
        for (locker, alert) in service.take_alerts() {
            tracing::warn!(%locker, alert = alert.name(), ?alert, "locker alert");
            if let Some(m) = &opts.metrics {
                m.alerted(&locker, &alert);
            }
        }
        if let Some(m) = &opts.metrics {
            if let Some((tier, reason)) = decided {
                m.decided(tier, reason);
            }
            m.observe(&service, backlog.len());
        }
    }
}
