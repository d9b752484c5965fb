//! What `serve --metrics-addr` exports for Prometheus: the service's
//! decisions by tier, outcome and reason, the lockers it hears, its
//! traffic and its health. Read off the gateway after each turn of the
//! serve loop (no rule here: the counts are the core's own, observed).

use super::{Gateway, Traffic};
use crate::domain::Tier;
use crate::service::RejectReason;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum TierLabel {
    same_day,
    next_day,
    two_day,
    standard,
}

impl From<Tier> for TierLabel {
    fn from(t: Tier) -> Self {
        match t {
            Tier::SameDay => TierLabel::same_day,
            Tier::NextDay => TierLabel::next_day,
            Tier::TwoDay => TierLabel::two_day,
            Tier::Standard => TierLabel::standard,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum OutcomeLabel {
    accepted,
    rejected,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum ReasonLabel {
    none,
    policy,
    stale,
    unreachable,
    unknown_locker,
    duplicate_order,
}

impl From<RejectReason> for ReasonLabel {
    fn from(r: RejectReason) -> Self {
        match r {
            RejectReason::Policy => ReasonLabel::policy,
            RejectReason::Stale => ReasonLabel::stale,
            RejectReason::Unreachable => ReasonLabel::unreachable,
            RejectReason::UnknownLocker => ReasonLabel::unknown_locker,
            RejectReason::DuplicateOrder => ReasonLabel::duplicate_order,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    tier: TierLabel,
    outcome: OutcomeLabel,
    reason: ReasonLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    locker: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum LinkLabel {
    online,
    offline,
    never_heard,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabels {
    link: LinkLabel,
}

/// The counters the gateway keeps as totals, last exported (a counter
/// moves by the difference).
#[derive(Default)]
struct Exported {
    stats: crate::service::ServiceStats,
    commands: u64,
}

/// The metrics of one `serve` process.
pub struct ServeMetrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    alerts: Family<AlertLabels, Counter>,
    reports: Counter,
    duplicate_reports: Counter,
    implausible_reports: Counter,
    malformed: Counter,
    locker_errors: Counter,
    picked_up: Counter,
    expired_returned: Counter,
    delivery_failed: Counter,
    rerouted: Counter,
    codes_issued: Counter,
    commands: Counter,
    lockers: Family<LinkLabels, Gauge>,
    open_orders: Gauge,
    unapplied: Gauge,
    backlog: Gauge,
    broker_connected: Gauge,
    handle_seconds: Histogram,
    exported: Mutex<Exported>,
    healthy: AtomicBool,
}

impl ServeMetrics {
    /// `policy` is the spec of the policy served (`policy::spec::to_spec`).
    pub fn new(region: &str, policy: &str) -> Self {
        let mut registry = Registry::with_prefix("lockerlab_serve");
        registry.register(
            "build",
            "The running service: version, region and the policy it serves",
            Info::new(vec![
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                ("region".to_string(), region.to_string()),
                ("policy".to_string(), policy.to_string()),
            ]),
        );
        let m = Self {
            registry,
            decisions: Family::default(),
            alerts: Family::default(),
            reports: Counter::default(),
            duplicate_reports: Counter::default(),
            implausible_reports: Counter::default(),
            malformed: Counter::default(),
            locker_errors: Counter::default(),
            picked_up: Counter::default(),
            expired_returned: Counter::default(),
            delivery_failed: Counter::default(),
            rerouted: Counter::default(),
            codes_issued: Counter::default(),
            commands: Counter::default(),
            lockers: Family::default(),
            open_orders: Gauge::default(),
            unapplied: Gauge::default(),
            backlog: Gauge::default(),
            broker_connected: Gauge::default(),
            // 10 µs to ~80 ms: a decision is microseconds; a slow one shows.
            handle_seconds: Histogram::new(exponential_buckets(1e-5, 2.0, 14)),
            exported: Mutex::new(Exported::default()),
            healthy: AtomicBool::new(false),
        };
        m.register_all()
    }

    fn register_all(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "decisions",
            "Reservation requests answered, by tier, outcome and rejection reason",
            self.decisions.clone(),
        );
        r.register(
            "alerts",
            "Alerts lockers reported for the operator, by locker and alert",
            self.alerts.clone(),
        );
        for (name, help, c) in [
            ("reports", "Locker reports consumed", &self.reports),
            (
                "duplicate_reports",
                "Locker reports seen before (redelivered)",
                &self.duplicate_reports,
            ),
            (
                "implausible_reports",
                "Locker reports refused as forged or corrupt",
                &self.implausible_reports,
            ),
            (
                "malformed",
                "Messages that could not be decoded",
                &self.malformed,
            ),
            (
                "locker_errors",
                "Errors lockers reported",
                &self.locker_errors,
            ),
            ("picked_up", "Packages picked up", &self.picked_up),
            (
                "expired_returned",
                "Packages expired and retrieved",
                &self.expired_returned,
            ),
            (
                "delivery_failed",
                "Orders never deposited",
                &self.delivery_failed,
            ),
            (
                "rerouted",
                "Orders rerouted to another locker",
                &self.rerouted,
            ),
            ("codes_issued", "Pickup codes issued", &self.codes_issued),
            ("commands", "Commands published to lockers", &self.commands),
        ] {
            r.register(name, help, c.clone());
        }
        r.register(
            "lockers",
            "Lockers of the region by link state as their status topic last said",
            self.lockers.clone(),
        );
        r.register(
            "open_orders",
            "Orders not yet ended",
            self.open_orders.clone(),
        );
        r.register(
            "unapplied_commands",
            "Commands sent that their lockers have not reported applied (resent until they do)",
            self.unapplied.clone(),
        );
        r.register(
            "outgoing_backlog",
            "Messages waiting for room in the client's queue",
            self.backlog.clone(),
        );
        r.register(
            "broker_connected",
            "1 while connected to the broker with every subscription acknowledged",
            self.broker_connected.clone(),
        );
        r.register(
            "handle_seconds",
            "Real time the service took to handle one message",
            self.handle_seconds.clone(),
        );
        self
    }

    /// A reservation request was answered (the gateway saw the reply).
    pub(super) fn decided(&self, tier: Tier, reason: Option<RejectReason>) {
        self.decisions
            .get_or_create(&DecisionLabels {
                tier: tier.into(),
                outcome: if reason.is_some() {
                    OutcomeLabel::rejected
                } else {
                    OutcomeLabel::accepted
                },
                reason: reason.map_or(ReasonLabel::none, ReasonLabel::from),
            })
            .inc();
    }

    /// Locker `locker` reported `alert`.
    pub(super) fn alerted(&self, locker: &str, alert: &crate::controller::Alert) {
        self.alerts
            .get_or_create(&AlertLabels {
                locker: locker.to_string(),
                name: alert.name().to_string(),
            })
            .inc();
    }

    pub(super) fn handled_in(&self, seconds: f64) {
        self.handle_seconds.observe(seconds);
    }

    /// Connected with every subscription acknowledged (true), or not.
    pub fn set_ready(&self, ready: bool) {
        self.healthy.store(ready, Ordering::SeqCst);
        self.broker_connected.set(i64::from(ready));
    }

    /// The service hears its topics.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Brings the totals and gauges up to what `gateway` says now.
    pub(super) fn observe(&self, gateway: &Gateway, backlog: usize) {
        let s = gateway.stats();
        let commands: u64 = gateway.traffic().iter().map(|t| t.commands).sum();
        let mut was = self.exported.lock().expect("no panics while held");
        let moves = [
            (&self.reports, s.reports, was.stats.reports),
            (
                &self.duplicate_reports,
                s.duplicate_reports,
                was.stats.duplicate_reports,
            ),
            (
                &self.implausible_reports,
                s.implausible_reports,
                was.stats.implausible_reports,
            ),
            (&self.malformed, s.malformed, was.stats.malformed),
            (
                &self.locker_errors,
                s.locker_errors,
                was.stats.locker_errors,
            ),
            (&self.picked_up, s.picked_up, was.stats.picked_up),
            (
                &self.expired_returned,
                s.expired_returned,
                was.stats.expired_returned,
            ),
            (
                &self.delivery_failed,
                s.delivery_failed,
                was.stats.delivery_failed,
            ),
            (&self.rerouted, s.rerouted, was.stats.rerouted),
            (&self.codes_issued, s.codes_issued, was.stats.codes_issued),
            (&self.commands, commands, was.commands),
        ];
        for (counter, now, before) in moves {
            if now > before {
                counter.inc_by(now - before);
            }
        }
        *was = Exported { stats: s, commands };
        drop(was);
        let count = |want: Option<bool>| {
            gateway
                .traffic()
                .iter()
                .filter(|t: &&Traffic| t.online == want)
                .count() as i64
        };
        for (link, want) in [
            (LinkLabel::online, Some(true)),
            (LinkLabel::offline, Some(false)),
            (LinkLabel::never_heard, None),
        ] {
            self.lockers
                .get_or_create(&LinkLabels { link })
                .set(count(want));
        }
        self.open_orders.set(gateway.open_orders() as i64);
        self.unapplied.set(gateway.unapplied() as i64);
        self.backlog.set(backlog as i64);
    }
}

impl crate::mqtt::http::Exporter for ServeMetrics {
    fn encode(&self) -> String {
        crate::mqtt::http::encode(&self.registry)
    }

    fn unhealthy(&self) -> Option<&'static str> {
        (!self.healthy()).then_some("not connected to the broker with every subscription")
    }
}
