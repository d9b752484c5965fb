//! `serve` on MQTT: one long-lived client on a persistent session. rumqttc
//! re-sends unacknowledged publishes after a reconnect; subscriptions are
//! renewed on every connect. A message is acknowledged to the broker after
//! the service has handled it.

use super::{Gateway, Outgoing, Traffic};
use crate::engine::Millis;
use crate::mqtt::{self, BrokerUrl, Clock, Credentials, Progress};
use rumqttc::{ClientError, Event, Packet, QoS, Request};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct ServeOptions {
    pub broker: BrokerUrl,
    pub credentials: Option<Credentials>,
    pub clock: Clock,
    pub client_id: String,
    /// Shared counters for an in-process driver of the whole system.
    pub progress: Option<Arc<Progress>>,
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

/// Longest real time between ticks (stale checks, timers).
const TICK: Duration = Duration::from_millis(100);

/// Runs until `stop` turns true; returns the service (for its counters).
pub async fn serve(
    mut service: Gateway,
    opts: ServeOptions,
    mut stop: watch::Receiver<bool>,
) -> Gateway {
    let mqtt_opts = mqtt::options(
        &opts.client_id,
        &opts.broker,
        opts.credentials.as_ref(),
        None,
    );
    let (client, mut events) = mqtt::client(mqtt_opts, 1 << 16);
    let filters = service.topics().service_filters();
    let mut backlog: VecDeque<Outgoing> = VecDeque::new();
    let mut out = Vec::new();
    let mut seen = Seen::default();
    loop {
        let deadline = service.next_deadline();
        tokio::select! {
            ev = events.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for f in &filters {
                        let _ = client.try_subscribe(f.clone(), QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    // The time it is handled, not the time the wait began
                    // (a driver may have moved a manual clock meanwhile).
                    let now = opts.clock.now();
                    service.tick(now, &mut out);
                    service.handle(now, &p.topic, &p.payload, &mut out);
                    backlog.extend(out.drain(..));
                    let _ = client.try_ack(&p);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            },
            _ = opts.clock.wake(deadline, TICK) => {
                service.tick(opts.clock.now(), &mut out);
                backlog.extend(out.drain(..));
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    return service;
                }
            }
        }
        account(&service, opts.progress.as_ref(), &mut seen);
        while let Some(m) = backlog.pop_front() {
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
        }
    }
}
