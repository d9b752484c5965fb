//! `lockerlab serve`: the service core (`crate::service`) on MQTT. This
//! module is only the codec — topics and JSON in, typed inputs to the core,
//! typed outputs back to topics and JSON — and the broker loop (`run.rs`).
//! No service rule lives here.

#[cfg(feature = "emu")]
pub mod journal;
#[cfg(feature = "mqtt")]
pub mod metrics;
#[cfg(feature = "emu")]
mod rotate;
#[cfg(feature = "emu")]
mod run;

#[cfg(feature = "emu")]
pub use rotate::{rotate, Rotated};
#[cfg(feature = "emu")]
pub use run::{serve, until_subscribed, ServeOptions};

use crate::controller::Alert;
use crate::domain::{PackageId, Tier};
use crate::engine::Millis;
use crate::metrics::Outcome;
use crate::protocol::{
    self, Command, CommandKind, DropOffFailed, LinkState, OrderOutcome, Reply as WireReply,
    ReserveRequest, Route, Status, Topics,
};
use crate::service::{
    self, Input, LockerIdx, LockerLedger, Output, RejectReason, Reply, Report, Service,
    ServiceStats, What,
};
use std::collections::{HashMap, VecDeque};

/// A message to publish (QoS 1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// One step the service takes, as `serve --store` journals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A message from the broker (the service ticks to `now` first).
    Message {
        now: Millis,
        topic: String,
        payload: Vec<u8>,
    },
    /// A timer tick at `now` that had something due.
    Tick { now: Millis },
}

/// What [`Gateway::recover`] rebuilt from a journal.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The snapshot it started from: the journal position it covers (0:
    /// none, the whole journal was replayed).
    pub snapshot: i64,
    /// Entries replayed (after the snapshot).
    pub entries: i64,
    /// Outputs of the entries after the store's published mark: the
    /// broker may never have had them, so they go out again.
    pub republish: Vec<Outgoing>,
}

/// What a snapshot keeps of a gateway besides its core.
#[derive(serde::Serialize, serde::Deserialize)]
struct GatewayState {
    core: serde_json::Value,
    malformed: u64,
    unknown: u64,
    client_messages: u64,
    traffic: Vec<Traffic>,
    unapplied: Vec<VecDeque<(u64, Millis, Outgoing)>>,
}

/// One locker's traffic through the gateway, for a driver that waits for
/// the whole system to settle (see `mqtt::Progress`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    /// Its reports the core consumed (duplicates not counted).
    pub reports: u64,
    /// Commands published to it.
    pub commands: u64,
    /// Its link as its status topic last said.
    pub online: Option<bool>,
}

/// The service core behind its MQTT codec.
pub struct Gateway {
    core: Service,
    topics: Topics,
    /// Locker ids by index (the core's numbering) and back.
    ids: Vec<String>,
    index: HashMap<String, LockerIdx>,
    malformed: u64,
    /// Requests for lockers the service does not know, answered here.
    unknown: u64,
    /// Messages from clients (checkouts, drivers' apps) handled, well-formed or not.
    client_messages: u64,
    traffic: Vec<Traffic>,
    outputs: Vec<Output>,
    /// The last reservation request's answer, until the driver takes it
    /// (for its metrics): the tier asked for and the reason if rejected.
    decided: Option<(Tier, Option<RejectReason>)>,
    /// Stamped on every command (`with_epoch`); 0 until set.
    epoch: u64,
    /// Alerts lockers reported since the driver last took them.
    alerts: Vec<(String, Alert)>,
    /// Per locker, the commands it has not reported applied yet: (number,
    /// when last sent, the message), to send again (`retransmit`).
    unapplied: Vec<VecDeque<(u64, Millis, Outgoing)>>,
}

/// A command its locker has not reported applied this long after it was
/// sent (while the locker is online) is sent again: a broker that lost it
/// (a queue limit, a restart without persistence, AWS IoT Core's session
/// expiry) would otherwise leave it lost. The locker drops a repeat by its
/// number.
pub const RETRANSMIT_AFTER: Millis = 60_000;

impl Gateway {
    pub fn new(core: Service, topics: Topics) -> Self {
        let ids: Vec<String> = core.config().lockers.iter().map(|l| l.id.clone()).collect();
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as LockerIdx))
            .collect();
        Self {
            core,
            topics,
            traffic: vec![Traffic::default(); ids.len()],
            unapplied: vec![VecDeque::new(); ids.len()],
            ids,
            index,
            malformed: 0,
            epoch: 0,
            alerts: Vec::new(),
            unknown: 0,
            client_messages: 0,
            outputs: Vec::new(),
            decided: None,
        }
    }

    /// Numbers this service's commands in `epoch`: larger than any earlier
    /// run's (`serve` takes its start time in ms), so its lockers take its
    /// numbers, which start at 1, for new ones and refuse an earlier run's.
    pub fn with_epoch(self, epoch: u64) -> Self {
        Self { epoch, ..self }
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    pub fn core(&self) -> &Service {
        &self.core
    }

    pub fn stats(&self) -> ServiceStats {
        let mut s = self.core.stats().clone();
        s.malformed += self.malformed;
        s.requests += self.unknown;
        s.rejected += self.unknown;
        s
    }

    pub fn locker(&self, id: &str) -> Option<&LockerLedger> {
        self.core.locker(*self.index.get(id)?)
    }

    /// Each locker's traffic, by the core's numbering (see [`Gateway::ids`]).
    pub fn traffic(&self) -> &[Traffic] {
        &self.traffic
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn client_messages(&self) -> u64 {
        self.client_messages
    }

    pub fn remembered_orders(&self) -> usize {
        self.core.remembered_orders()
    }

    pub fn open_orders(&self) -> usize {
        self.core.open_orders()
    }

    /// The answer to the last reservation request handled, once.
    pub fn take_decision(&mut self) -> Option<(Tier, Option<RejectReason>)> {
        self.decided.take()
    }

    /// The alerts lockers reported since the last call, with their lockers
    /// (once each: a redelivered report's alert is not repeated).
    pub fn take_alerts(&mut self) -> Vec<(String, Alert)> {
        std::mem::take(&mut self.alerts)
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.core.next_deadline()
    }

    /// Takes one step as `serve` took it live (a message after a tick to
    /// its time, or a tick): the same code path live and in a replay.
    pub fn apply(&mut self, entry: &Entry, out: &mut Vec<Outgoing>) {
        match entry {
            Entry::Message {
                now,
                topic,
                payload,
            } => {
                self.tick(*now, out);
                self.handle(*now, topic, payload, out);
            }
            Entry::Tick { now } => self.tick(*now, out),
        }
    }

    /// Journals `entry` (committed before anything else happens), then
    /// takes it. Without a journal, only takes it.
    #[cfg(feature = "emu")]
    pub fn step(
        &mut self,
        journal: Option<&mut journal::Journal>,
        entry: Entry,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), String> {
        if let Some(j) = journal {
            j.append(&entry)?;
        }
        self.apply(&entry, out);
        Ok(())
    }

    /// Rebuilds a fresh gateway from `journal`: every entry replayed, the
    /// outputs of those after the published mark kept to send again.
    /// Alerts and decisions replayed are old news and are dropped.
    #[cfg(feature = "emu")]
    pub fn recover(&mut self, journal: &journal::Journal) -> Result<Recovered, String> {
        let since = journal.published_through()?;
        let mut r = Recovered::default();
        let mut out = Vec::new();
        let start = match journal.snapshot()? {
            Some((through, state)) => {
                self.load(&state)?;
                r.snapshot = through;
                through
            }
            None => 0,
        };
        journal.replay_after(start, |pos, entry| {
            self.apply(&entry, &mut out);
            if pos > since {
                r.republish.append(&mut out);
            } else {
                out.clear();
            }
            r.entries += 1;
            Ok(())
        })?;
        self.alerts.clear();
        self.decided = None;
        Ok(r)
    }

    /// The gateway's state and its core's (`Service::snapshot`), as a
    /// store keeps it.
    pub fn snapshot(&self) -> Result<Vec<u8>, String> {
        let state = GatewayState {
            core: self.core.snapshot()?,
            malformed: self.malformed,
            unknown: self.unknown,
            client_messages: self.client_messages,
            traffic: self.traffic.clone(),
            unapplied: self.unapplied.clone(),
        };
        serde_json::to_vec(&state).map_err(|e| format!("service snapshot: {e}"))
    }

    /// Puts a snapshot into this gateway, fresh from the configuration it
    /// was taken under.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        let s: GatewayState =
            serde_json::from_slice(bytes).map_err(|e| format!("service snapshot: {e}"))?;
        if s.traffic.len() != self.ids.len() || s.unapplied.len() != self.ids.len() {
            return Err(format!(
                "service snapshot: {} lockers, this service has {}",
                s.traffic.len(),
                self.ids.len()
            ));
        }
        self.core.load(s.core)?;
        self.malformed = s.malformed;
        self.unknown = s.unknown;
        self.client_messages = s.client_messages;
        self.traffic = s.traffic;
        self.unapplied = s.unapplied;
        Ok(())
    }

    /// Sends again each command an online locker has not reported applied
    /// within [`RETRANSMIT_AFTER`] of its last sending. Not a step of the
    /// core: nothing is journaled, and a replay rebuilds the list.
    pub fn retransmit(&mut self, now: Millis, out: &mut Vec<Outgoing>) {
        for (l, sent) in self.unapplied.iter_mut().enumerate() {
            let online = self
                .core
                .locker(l as LockerIdx)
                .is_some_and(|x| x.online && !x.stale);
            if !online {
                continue;
            }
            for (_, at, message) in sent.iter_mut() {
                if now - *at >= RETRANSMIT_AFTER {
                    *at = now;
                    out.push(message.clone());
                }
            }
        }
    }

    /// Moves the core to new keys (`Service::rekey`); the credentials it
    /// re-sends wait behind the commands not yet applied, all dated a
    /// retransmission ago so the first retransmission after `now` sends
    /// them in order (a rotation runs before the broker is reached): an
    /// older credential still on its way under the old key cannot land
    /// after, and replace, its package's new one. How many.
    pub fn rekey(
        &mut self,
        now: Millis,
        keys: impl IntoIterator<Item = (crate::access::LockerKeys, crate::service::CodeRng)>,
    ) -> Result<usize, String> {
        let due = now - RETRANSMIT_AFTER;
        for (_, at, _) in self.unapplied.iter_mut().flatten() {
            *at = due;
        }
        let mut outputs = Vec::new();
        let resent = self.core.rekey(keys, &mut outputs)?;
        let mut messages = Vec::new();
        self.encode(due, &mut outputs, &mut messages);
        Ok(resent)
    }

    /// Commands sent and not yet reported applied, over all lockers.
    pub fn unapplied(&self) -> usize {
        self.unapplied.iter().map(VecDeque::len).sum()
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Outgoing>) {
        let mut outputs = std::mem::take(&mut self.outputs);
        self.core.tick(now, &mut outputs);
        self.encode(now, &mut outputs, out);
        self.outputs = outputs;
    }

    /// One message from the broker; a malformed one is answered on the
    /// service's error topic.
    pub fn handle(&mut self, now: Millis, topic: &str, payload: &[u8], out: &mut Vec<Outgoing>) {
        let mut outputs = std::mem::take(&mut self.outputs);
        let decoded = self.decode(now, topic, payload, out);
        match decoded {
            Ok(Some(input)) => {
                let report_from = match input {
                    Input::Report { locker, .. } => Some(locker as usize),
                    _ => None,
                };
                let asked = match &input {
                    Input::Reserve(r) => Some((r.order, r.tier)),
                    _ => None,
                };
                let alert = match &input {
                    Input::Report {
                        report:
                            Report {
                                what: What::Alert { alert },
                                ..
                            },
                        ..
                    } => Some(*alert),
                    _ => None,
                };
                let before = self.core.stats().reports;
                self.core.handle(now, input, &mut outputs);
                if let Some(l) = report_from {
                    let applied = self.core.locker(l as LockerIdx).map_or(0, |x| x.applied());
                    let sent = &mut self.unapplied[l];
                    while sent.front().is_some_and(|&(seq, ..)| seq <= applied) {
                        sent.pop_front();
                    }
                    let new = self.core.stats().reports - before;
                    self.traffic[l].reports += new;
                    if let (Some(alert), 1) = (alert, new) {
                        self.alerts.push((self.ids[l].clone(), alert));
                    }
                }
                if let Some((order, tier)) = asked {
                    self.decided = outputs.iter().find_map(|o| match o {
                        Output::Reply {
                            reply: Reply::Accepted { order: o, .. },
                            ..
                        } if *o == order => Some((tier, None)),
                        Output::Reply {
                            reply: Reply::Rejected { order: o, reason },
                            ..
                        } if *o == order => Some((tier, Some(*reason))),
                        _ => None,
                    });
                }
            }
            Ok(None) => {}
            Err(reason) => {
                self.malformed += 1;
                let id = serde_json::from_slice::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
                let body = protocol::ErrorBody {
                    topic: topic.chars().take(200).collect(),
                    id,
                    reason,
                };
                out.push(Outgoing {
                    topic: self.topics.service_error(),
                    payload: protocol::encode("error", now, &body),
                    retain: false,
                });
            }
        }
        self.encode(now, &mut outputs, out);
        self.outputs = outputs;
    }

    fn locker_index(&self, id: &str) -> Result<LockerIdx, String> {
        self.index.get(id).copied().ok_or_else(|| {
            format!(
                "unknown locker `{}`",
                id.chars().take(64).collect::<String>()
            )
        })
    }

    fn decode(
        &mut self,
        now: Millis,
        topic: &str,
        payload: &[u8],
        out: &mut Vec<Outgoing>,
    ) -> Result<Option<Input>, String> {
        let route = self.topics.parse(topic).map_err(|e| e.to_string())?;
        if matches!(route, Route::Reserve | Route::DropOffFailed) {
            self.client_messages += 1;
        }
        let input = match route {
            Route::Reserve => {
                let env = protocol::decode::<ReserveRequest>(payload).map_err(|e| e.to_string())?;
                let r = env.body;
                protocol::check_level("client", &r.client).map_err(|e| e.to_string())?;
                let Some(&locker) = self.index.get(&r.locker) else {
                    // Not a locker of this region: answered without the core.
                    self.unknown += 1;
                    self.decided = Some((r.tier, Some(RejectReason::UnknownLocker)));
                    let reply = WireReply::Rejected {
                        order: r.order,
                        reason: RejectReason::UnknownLocker,
                    };
                    out.push(self.wire_reply(now, &r.client, r.order, &reply));
                    return Ok(None);
                };
                Input::Reserve(service::ReserveRequest {
                    order: r.order,
                    locker,
                    tier: r.tier,
                    size: r.size,
                    lead: r.lead_ms,
                    client: r.client,
                    kind: r.kind,
                })
            }
            Route::DropOffFailed => {
                let env = protocol::decode::<DropOffFailed>(payload).map_err(|e| e.to_string())?;
                let d = env.body;
                Input::DropOffFailed {
                    order: d.order,
                    locker: self.locker_index(&d.locker)?,
                    reroute: d.reroute,
                }
            }
            Route::Report { locker, kind } => {
                let mut msg = protocol::decode_report(&kind, payload).map_err(|e| e.to_string())?;
                // Numbers applied in another epoch are not this service's
                // commands (a report queued before a restart).
                if msg.report.epoch != self.epoch {
                    msg.report.applied = 0;
                }

                Input::Report {
                    locker: self.locker_index(&locker)?,
                    seq: msg.seq,
                    report: msg.report,
                }
            }
            Route::Status { locker } => {
                let env = protocol::decode::<Status>(payload).map_err(|e| e.to_string())?;
                let locker = self.locker_index(&locker)?;
                let up = env.body.state == LinkState::Online;
                self.traffic[locker as usize].online = Some(up);
                Input::Link { locker, up }
            }
            // The service's own outputs, if a wildcard brings them back.
            Route::Reply { .. } | Route::ServiceError | Route::Command { .. } => return Ok(None),
        };
        Ok(Some(input))
    }

    fn wire_reply(
        &self,
        now: Millis,
        client: &str,
        order: PackageId,
        reply: &WireReply,
    ) -> Outgoing {
        Outgoing {
            topic: self.topics.reply(client),
            payload: protocol::encode(format!("{order}"), now, reply),
            retain: false,
        }
    }

    fn encode(&mut self, now: Millis, outputs: &mut Vec<Output>, out: &mut Vec<Outgoing>) {
        for o in outputs.drain(..) {
            match o {
                Output::Reply { client, reply } => {
                    if let Some(wire) = self.to_wire(reply.clone()) {
                        out.push(self.wire_reply(now, &client, reply.order(), &wire));
                    }
                }
                Output::Command { locker, seq, input } => {
                    let Some(command) = Command::from_input(&input) else {
                        continue;
                    };
                    self.traffic[locker as usize].commands += 1;
                    let message = Outgoing {
                        topic: self
                            .topics
                            .command(&self.ids[locker as usize], command.kind()),
                        payload: protocol::encode_command(self.epoch, seq, now, &command),
                        retain: false,
                    };
                    self.unapplied[locker as usize].push_back((seq, now, message.clone()));
                    out.push(message);
                }
                Output::Sync { locker } => out.push(Outgoing {
                    topic: self
                        .topics
                        .command(&self.ids[locker as usize], CommandKind::Sync),
                    payload: protocol::encode_sync(now),
                    retain: false,
                }),
                // Operations' task list is not on MQTT (yet): the emulator's
                // operator retrieves on its own schedule.
                Output::Retrieve { .. } => {}
            }
        }
    }

    fn to_wire(&self, reply: Reply) -> Option<WireReply> {
        let id = |l: LockerIdx| self.ids[l as usize].clone();
        Some(match reply {
            Reply::Accepted {
                order,
                locker,
                hold,
                due_by,
            } => WireReply::Accepted {
                order,
                locker: id(locker),
                hold,
                due_by,
            },
            Reply::Rejected { order, reason } => WireReply::Rejected { order, reason },
            Reply::Rerouted { order, locker } => WireReply::Rerouted {
                order,
                locker: id(locker),
            },
            Reply::Code {
                order,
                locker,
                compartment,
                code,
                expires_at,
            } => WireReply::Code {
                order,
                locker: id(locker),
                compartment,
                code,
                expires_at,
            },
            Reply::Reminder { order, expires_at } => WireReply::Reminder { order, expires_at },
            Reply::Outcome { order, outcome } => WireReply::Outcome {
                order,
                outcome: match outcome {
                    Outcome::PickedUp => OrderOutcome::PickedUp,
                    Outcome::ExpiredReturned => OrderOutcome::ExpiredReturned,
                    Outcome::ReroutedAlternateLocker => OrderOutcome::ReroutedAlternateLocker,
                    Outcome::ReroutedDoorstep => OrderOutcome::DeliveryFailed,
                    // Rejections are answered as such, not as outcomes.
                    Outcome::RejectedAtCheckout => return None,
                },
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
