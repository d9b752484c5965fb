//! What goes into and comes out of the service core. Typed values only: the
//! `serve` driver turns them into MQTT topics and JSON, the simulator hands
//! them to its people and controllers directly.

use crate::access::PickupCode;
use crate::controller::{Event, Input as LockerInput};
use crate::domain::{CompartmentId, LockerView, PackageId, Size, Tier};
use crate::metrics::Outcome;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A locker of the service's region: its place in `ServiceConfig::lockers`.
pub type LockerIdx = u32;

/// What a reservation is for: an order on its way to the customer, or a
/// customer's return that a carrier collects from the locker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParcelKind {
    #[default]
    Delivery,
    /// The customer drops it off; no code is issued, and it waits for the
    /// carrier's collection like an expired parcel.
    Return,
}

impl ParcelKind {
    pub fn is_delivery(&self) -> bool {
        *self == ParcelKind::Delivery
    }
}

/// A checkout asks for a reservation, naming the customer's chosen locker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveRequest {
    /// The order (package) id, unique in the region.
    pub order: PackageId,
    /// The locker the customer chose; discovery may offer a nearby one.
    pub locker: LockerIdx,
    pub tier: Tier,
    pub size: Size,
    /// The carrier's lead time from checkout to the driver's arrival (0:
    /// unknown): a locker closed then cannot keep the promise.
    pub lead: Millis,
    /// Who answers go to (the driver's business, not the core's).
    pub client: String,
    pub kind: ParcelKind,
}

/// Locker → service: an event, a ledger update, or the locker's rejection
/// of a command. Every report carries the locker's ledger after it and the
/// highest service command it has applied, so the service admits against
/// the locker's own numbers plus what is in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub applied: u64,
    /// The service epoch `applied` counts in (0 where there are none): a
    /// restarted service credits only its own epoch's numbers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
    pub view: LockerView,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum What {
    /// A controller event (its `id` increases by one per event).
    Event { event: Event },
    /// The ledger changed without an event (a driver session bound a
    /// compartment, a reservation arrived).
    Ledger,
    /// A command the locker could not apply.
    Error {
        command: Option<String>,
        reason: String,
    },
    /// Something for the operator (a lockout, a door left open, a sensor
    /// that disagrees): the service logs and counts it, nothing more.
    Alert { alert: crate::controller::Alert },
}

impl What {
    /// The report's kind: the event's name, `ledger`, `error` or `alert`
    /// (the last level of its MQTT topic).
    pub fn topic_kind(&self) -> &'static str {
        match self {
            What::Event { event } => event.kind.name(),
            What::Ledger => "ledger",
            What::Error { .. } => "error",
            What::Alert { .. } => "alert",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Reserve(ReserveRequest),
    /// A locker's report, numbered by its outbox (repeats are dropped).
    Report {
        locker: LockerIdx,
        seq: u64,
        report: Report,
    },
    /// The locker's link, as the broker sees it (its retained status).
    Link {
        locker: LockerIdx,
        up: bool,
    },
    /// The driver's app: the drop-off at `locker` failed (the locker is
    /// dark or unreachable, or its controller said no). The reservation is
    /// released and, with `reroute`, the package goes to a fallback locker.
    /// Repeats, and reports of a failure the service already handled (the
    /// controller's own `delivery_failed`), change nothing.
    DropOffFailed {
        order: PackageId,
        locker: LockerIdx,
        reroute: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The admission policy said no (at every locker offered).
    Policy,
    /// The locker has been silent too long; it is not offered.
    Stale,
    /// No driver can reach the locker before the reservation's deadline:
    /// the carrier's lead time and the locker's opening hours put the
    /// earliest drop-off after it. Accepting would be a promise already
    /// broken.
    Unreachable,
    /// The service knows no such locker (it never reported).
    UnknownLocker,
    /// The order id is already in use for a different request.
    DuplicateOrder,
}

/// Service → customer (through the checkout client).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    Accepted {
        order: PackageId,
        locker: LockerIdx,
        hold: bool,
        /// The reservation lapses if no driver deposits by then.
        due_by: Millis,
    },
    Rejected {
        order: PackageId,
        reason: RejectReason,
    },
    /// The drop-off failed; the driver takes the package to this locker.
    Rerouted { order: PackageId, locker: LockerIdx },
    /// The package is in the locker: the customer's code.
    Code {
        order: PackageId,
        locker: LockerIdx,
        compartment: CompartmentId,
        code: PickupCode,
        expires_at: Millis,
    },
    /// The pickup window closes soon.
    Reminder {
        order: PackageId,
        expires_at: Millis,
    },
    /// How the order ended.
    Outcome { order: PackageId, outcome: Outcome },
}

impl Reply {
    pub fn order(&self) -> PackageId {
        match *self {
            Reply::Accepted { order, .. }
            | Reply::Rejected { order, .. }
            | Reply::Rerouted { order, .. }
            | Reply::Code { order, .. }
            | Reply::Reminder { order, .. }
            | Reply::Outcome { order, .. } => order,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An answer or notice for the order's client.
    Reply { client: String, reply: Reply },
    /// A command for a locker's controller, numbered per locker from 1.
    Command {
        locker: LockerIdx,
        seq: u64,
        input: LockerInput,
    },
    /// Ask a locker whose ledger the service does not know to report it.
    Sync { locker: LockerIdx },
    /// Operations should take an expired package out of its locker (the
    /// locker confirmed the expiry).
    Retrieve { order: PackageId, locker: LockerIdx },
}

/// Counters for logs, the demo's summary and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceStats {
    pub requests: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub reports: u64,
    /// Reports seen before (redelivered by QoS 1 or re-sent after a crash).
    pub duplicate_reports: u64,
    /// Reports numbered far beyond the locker's count (forged or corrupt),
    /// refused.
    pub implausible_reports: u64,
    /// Messages the driver could not decode (counted by the driver).
    pub malformed: u64,
    pub locker_errors: u64,
    pub picked_up: u64,
    pub expired_returned: u64,
    /// Returns collected by the carrier (not in `expired_returned`).
    pub returns_collected: u64,
    pub delivery_failed: u64,
    pub rerouted: u64,
    pub codes_issued: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
