//! Playing the simulator's world through the live system, step by step:
//! the clock moves to the step's time, the system settles (the service's
//! timers due by then fire), the step is taken, the system settles again.

use super::{End, Inbox, OrderResult, CLIENT};
use crate::controller::{EventKind, FaultCause, Input};
use crate::emu::{Action, ActionResult, Request};
use crate::engine::Millis;
use crate::mqtt::{Clock, Progress};
use crate::protocol::{self, DropOffFailed, OrderOutcome, Reply, ReserveRequest, Topics};
use crate::scenario::Scenario;
use crate::sim::history::HistoryRecord;
use crate::sim::{WorldAct, WorldStep};
use crate::time::DAY;
use rumqttc::{AsyncClient, QoS};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

pub(super) struct Live<'a> {
    pub sc: &'a Scenario,
    pub clock: Clock,
    pub progress: Arc<Progress>,
    pub lockers: HashMap<String, mpsc::Sender<Request>>,
    pub client: AsyncClient,
    pub topics: Topics,
    pub inbox: Arc<Inbox>,
    pub timeout: Duration,
    pub on_step: Option<&'a (dyn Fn(usize, usize) + Send + Sync)>,
}

/// What the live run did with the world's steps.
pub(super) struct Played {
    /// Each order's live result, in the records' order.
    pub live: Vec<OrderResult>,
    pub round_trips: Vec<Duration>,
    /// Inputs a live controller refused (the simulated one took them all).
    pub refused: Vec<String>,
}

/// What kind of step the happy path never takes this is, if it is one:
/// faults and repairs, reconciliations, outages, failed drop-offs, the
/// controller's clock ticking while it is cut off, QR codes.
pub(super) fn trouble(act: &WorldAct) -> Option<&'static str> {
    Some(match act {
        WorldAct::DropOffFailed { .. } => "failed drop-offs",
        WorldAct::Link { up: false } => "links lost",
        WorldAct::Link { up: true } => "links back",
        WorldAct::Local { input, .. } => match input {
            Input::CompartmentUnusable {
                cause: FaultCause::Jam,
                ..
            } => "door jams",
            Input::CompartmentUnusable { .. } => "blocked compartments",
            Input::Repair { .. } => "repairs",
            Input::Reconcile { .. } => "reconciliations",
            Input::ScreenStatus { working: false } => "screens failed",
            Input::ScreenStatus { working: true } => "screens back",
            Input::Tick => "ticks while cut off",
            Input::QrScan { .. } | Input::QrChecked { .. } => "QR pickups",
            _ => return None,
        },
        WorldAct::Checkout { .. } => return None,
    })
}

impl Live<'_> {
    pub async fn settle(&self, now: Millis) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.progress.wait_settled(now, left).await {
                // Twice, a scheduler turn apart: a message may be between
                // parties.
                tokio::task::yield_now().await;
                if self.progress.settled(now) {
                    return Ok(());
                }
                continue;
            }
            return Err(format!(
                "the system did not settle at t={now} ms within {:?}: {} messages pending, \
                 next service timer at {}, lockers not settled: {:?}",
                self.timeout,
                self.progress.pending(),
                self.progress.deadline(),
                self.progress.unsettled()
            ));
        }
    }

    /// Fires the service's timers due before `t` each at its own time, as
    /// the simulator's service ticks do.
    async fn timers_until(&self, t: Millis) -> Result<(), String> {
        loop {
            let next = self.progress.deadline();
            if next >= t {
                return Ok(());
            }
            self.clock.set(next);
            self.settle(next).await?;
        }
    }

    async fn act(&self, locker: &str, action: Action) -> Result<ActionResult, String> {
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

    /// A client message to the service (counted until the service has it).
    async fn send(
        &self,
        topic: String,
        id: String,
        now: Millis,
        body: &impl Serialize,
    ) -> Result<(), String> {
        self.progress.request_sent();
        self.client
            .publish(
                topic,
                QoS::AtLeastOnce,
                false,
                protocol::encode(id, now, body),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Plays the world's steps in order; returns each order's live result
    /// (in record order), the checkout round trips and any refused inputs.
    pub async fn play(
        &self,
        steps: &[WorldStep],
        records: &[HistoryRecord],
    ) -> Result<Played, String> {
        let mut deposits: HashMap<u64, (String, u32)> = HashMap::new();
        let mut round_trips = Vec::new();
        let mut refused = Vec::new();
        let mut last = 0;
        for (played, step) in steps.iter().enumerate() {
            if let Some(told) = self.on_step {
                told(played, steps.len());
            }
            let t = step.at;
            self.timers_until(t).await?;
            self.clock.set(t);
            self.settle(t).await?;
            last = t;
            let locker = &self.sc.locations[step.location].id;
            match &step.act {
                WorldAct::Checkout {
                    order,
                    tier,
                    size,
                    lead,
                    kind,
                } => {
                    let req = ReserveRequest {
                        order: *order,
                        locker: locker.clone(),
                        tier: *tier,
                        size: *size,
                        client: CLIENT.into(),
                        lead_ms: *lead,
                        kind: *kind,
                    };
                    let sent = Instant::now();
                    self.send(self.topics.reserve(), format!("co-{order}"), t, &req)
                        .await?;
                    self.inbox
                        .wait_for(*order, self.timeout, |r| {
                            matches!(r, Reply::Accepted { .. } | Reply::Rejected { .. })
                        })
                        .await
                        .ok_or_else(|| format!("order {order}: no answer to the checkout"))?;
                    round_trips.push(sent.elapsed());
                }
                WorldAct::DropOffFailed { order, reroute } => {
                    let msg = DropOffFailed {
                        order: *order,
                        locker: locker.clone(),
                        reroute: *reroute,
                    };
                    self.send(self.topics.dropoff_failed(), format!("df-{order}"), t, &msg)
                        .await?;
                }
                WorldAct::Local { source, input } => {
                    let action = Action::Input {
                        source: *source,
                        input: input.clone(),
                    };
                    let r = self.act(locker, action).await?;
                    if let Some(e) = r.error {
                        refused.push(format!(
                            "locker {locker} at t={t} ms refused {input:?}, which the simulated \
                             one took: {e}"
                        ));
                    }
                    for e in &r.events {
                        if let EventKind::Deposited {
                            package,
                            compartment,
                        } = *e
                        {
                            deposits.insert(package, (locker.clone(), compartment));
                        }
                    }
                }
                WorldAct::Link { up } => {
                    self.progress.cut(locker, !up);
                    self.act(locker, Action::Link { up: *up }).await?;
                }
            }
            self.settle(t).await?;
        }
        // Let every timer still set (reservation timeouts, expiries) fire.
        loop {
            let next = self.progress.deadline();
            if next == Millis::MAX || next > last + 30 * DAY {
                break;
            }
            self.clock.set(next);
            self.settle(next).await?;
            last = next;
        }
        let live = self.results(records, &deposits).await;
        Ok(Played {
            live,
            round_trips,
            refused,
        })
    }

    async fn results(
        &self,
        records: &[HistoryRecord],
        deposits: &HashMap<u64, (String, u32)>,
    ) -> Vec<OrderResult> {
        let accepted = |order: u64| {
            self.inbox
                .replies
                .lock()
                .expect("no panics while held")
                .get(&order)
                .is_some_and(|rs| rs.iter().any(|r| matches!(r, Reply::Accepted { .. })))
        };
        // Outcomes still on their way to the demo's client (2 s in all).
        let deadline = Instant::now() + Duration::from_secs(2);
        for r in records {
            if accepted(r.order_id) {
                let ended = |x: &Reply| matches!(x, Reply::Outcome { .. });
                let left = deadline.saturating_duration_since(Instant::now());
                self.inbox.wait_for(r.order_id, left, ended).await;
            }
        }
        let replies = self.inbox.replies.lock().expect("no panics while held");
        records
            .iter()
            .map(|r| {
                let end = replies
                    .get(&r.order_id)
                    .and_then(|rs| {
                        rs.iter().find_map(|x| match x {
                            Reply::Rejected { .. } => Some(End::Rejected),
                            Reply::Outcome { outcome, .. } => Some(match outcome {
                                OrderOutcome::PickedUp => End::PickedUp,
                                OrderOutcome::ExpiredReturned => End::ExpiredReturned,
                                OrderOutcome::DeliveryFailed => End::DeliveryFailed,
                                OrderOutcome::ReroutedAlternateLocker => End::Rerouted,
                            }),
                            _ => None,
                        })
                    })
                    .unwrap_or(End::Open);
                let (locker, compartment) = match deposits.get(&r.order_id) {
                    Some((l, c)) => (l.clone(), Some(*c)),
                    None => (r.location_id.clone(), None),
                };
                OrderResult {
                    order: r.order_id,
                    locker,
                    compartment,
                    end,
                }
            })
            .collect()
    }
}
