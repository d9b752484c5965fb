//! What `controller-emu --metrics-addr` exports for Prometheus: what people
//! did at the locker and how it went, the events and alerts the controller
//! raised, the commands it applied, its outbox and compartments, its link.
//! Observed from the station after each action, command and tick (the
//! counts are the core's; no rule here).

use super::station::{Action, ActionResult, Station};
use super::store::StoreError;
use crate::controller::Source;
use crate::mqtt::http::Exporter;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
    /// [`ActionResult::outcome`]: `ok`, `error`, or the screen shown.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// The metrics of one emulated locker.
pub struct EmuMetrics {
    registry: Registry,
    actions: Family<ActionLabels, Counter>,
    events: Family<NameLabels, Counter>,
    alerts: Family<NameLabels, Counter>,
    commands: Counter,
    reports: Counter,
    connects: Counter,
    broker_connected: Gauge,
    outbox: Gauge,
    compartments: Family<StateLabels, Gauge>,
    degraded: Gauge,
    /// Commands applied and reports made, as last exported.
    exported: (AtomicU64, AtomicU64),
}

impl EmuMetrics {
    pub fn new(locker: &str, region: &str) -> Self {
        let mut registry = Registry::with_prefix("lockerlab_emu");
        registry.register(
            "build",
            "The running emulated locker: version, locker id and region",
            Info::new(vec![
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                ("locker".to_string(), locker.to_string()),
                ("region".to_string(), region.to_string()),
            ]),
        );
        let m = Self {
            registry: Registry::default(),
            actions: Family::default(),
            events: Family::default(),
            alerts: Family::default(),
            commands: Counter::default(),
            reports: Counter::default(),
            connects: Counter::default(),
            broker_connected: Gauge::default(),
            outbox: Gauge::default(),
            compartments: Family::default(),
            degraded: Gauge::default(),
            exported: (AtomicU64::new(0), AtomicU64::new(0)),
        };
        // Metrics are shared handles: the registry keeps clones.
        registry.register(
            "actions",
            "Actions at the locker (drivers, customers, operations) by action and outcome",
            m.actions.clone(),
        );
        registry.register(
            "events",
            "Events the controller reported to the service, by event",
            m.events.clone(),
        );
        registry.register(
            "alerts",
            "Alerts the controller raised for the operator, by alert",
            m.alerts.clone(),
        );
        registry.register(
            "commands_applied",
            "Service commands stored and applied",
            m.commands.clone(),
        );
        registry.register(
            "reports",
            "Reports queued for the service",
            m.reports.clone(),
        );
        registry.register(
            "connects",
            "Connections to the broker made",
            m.connects.clone(),
        );
        registry.register(
            "broker_connected",
            "1 while connected to the broker",
            m.broker_connected.clone(),
        );
        registry.register(
            "outbox_pending",
            "Reports not yet acknowledged by the broker",
            m.outbox.clone(),
        );
        registry.register(
            "compartments",
            "Compartments by state (occupied, available, reserved, maintenance)",
            m.compartments.clone(),
        );
        registry.register(
            "degraded",
            "1 while the locker has been offline long enough to pause reservations",
            m.degraded.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts an action by a person (or a test) and what came of it.
    pub(super) fn acted(&self, action: &Action, result: &ActionResult) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.name().to_string(),
                outcome: result.outcome().to_string(),
            })
            .inc();
        self.raised(result);
    }

    /// Counts the events and alerts an action, command or tick raised.
    pub(super) fn raised(&self, result: &ActionResult) {
        for e in &result.events {
            let name = e.name().to_string();
            self.events.get_or_create(&NameLabels { name }).inc();
        }
        for a in &result.alerts {
            let name = a.name().to_string();
            self.alerts.get_or_create(&NameLabels { name }).inc();
        }
    }

    pub(super) fn link(&self, up: bool) {
        if up {
            self.connects.inc();
        }
        self.broker_connected.set(i64::from(up));
    }

    /// Brings the totals and gauges up to what the station says now.
    pub(super) fn observe(&self, station: &Station) -> Result<(), StoreError> {
        let node = &station.node;
        let applied = node.controller().last_seq(Source::Service);
        let made = node.reports_made();
        let was_applied = self.exported.0.swap(applied, Ordering::Relaxed);
        let was_made = self.exported.1.swap(made, Ordering::Relaxed);
        self.commands.inc_by(applied.saturating_sub(was_applied));
        self.reports.inc_by(made.saturating_sub(was_made));
        let status = station.status()?;
        self.outbox.set(status.outbox as i64);
        self.degraded.set(i64::from(status.degraded));
        for (state, n) in [
            ("occupied", status.occupied),
            ("available", status.available.iter().sum()),
            ("reserved", status.pending.iter().sum()),
            ("maintenance", status.maintenance),
        ] {
            self.compartments
                .get_or_create(&StateLabels {
                    state: state.to_string(),
                })
                .set(i64::from(n));
        }
        Ok(())
    }

    fn connected(&self) -> bool {
        self.broker_connected.get() == 1
    }
}

impl Exporter for EmuMetrics {
    fn encode(&self) -> String {
        crate::mqtt::http::encode(&self.registry)
    }

    fn unhealthy(&self) -> Option<&'static str> {
        (!self.connected()).then_some("not connected to the broker")
    }
}
