//! Payloads. Every payload is an [`Envelope`]: schema version, idempotency
//! id, timestamp and a body whose type the topic determines.

use crate::access::{CodeHash, PickupCode};
use crate::controller::{ControllerConfig, Input};
use crate::domain::{CompartmentId, PackageId, Size, Tier};
use crate::engine::Millis;
use crate::service::ParcelKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    /// Schema version: [`super::SCHEMA_VERSION`].
    pub v: u32,
    /// Idempotency id: a receiver applies each id once. For commands it is
    /// the service's sequence number for that locker; for locker reports the
    /// locker's outbox sequence number; for reservation requests the
    /// client's request id.
    pub id: String,
    /// Milliseconds on the sender's clock.
    pub ts: Millis,
    /// Commands only: the service's epoch (when it started, in ms). A
    /// locker numbers commands per epoch, so a restarted service's numbers,
    /// which start again at 1, are not mistaken for replays. 0 (absent)
    /// elsewhere.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
    pub body: T,
}

/// Service → locker, on `{locker}/cmd/{kind}`. The topic's last level
/// says which; the body is the variant's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Reserve(ReserveCmd),
    Cancel(PackageCmd),
    Credential(CredentialCmd),
    Expire(PackageCmd),
    Configure(ControllerConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveCmd {
    pub package: PackageId,
    pub tier: Tier,
    pub size: Size,
    #[serde(default)]
    pub hold: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageCmd {
    pub package: PackageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialCmd {
    pub package: PackageId,
    pub code_hash: CodeHash,
    pub not_after: Millis,
}

impl Command {
    pub fn kind(&self) -> super::CommandKind {
        use super::CommandKind as K;
        match self {
            Command::Reserve(_) => K::Reserve,
            Command::Cancel(_) => K::Cancel,
            Command::Credential(_) => K::Credential,
            Command::Expire(_) => K::Expire,
            Command::Configure(_) => K::Configure,
        }
    }

    /// The command that carries a service input to a locker (None for
    /// inputs that do not come from the service).
    pub fn from_input(input: &Input) -> Option<Command> {
        Some(match *input {
            Input::Reserve {
                package,
                tier,
                size,
                hold,
            } => Command::Reserve(ReserveCmd {
                package,
                tier,
                size,
                hold,
            }),
            Input::CancelReservation { package } => Command::Cancel(PackageCmd { package }),
            Input::Credential {
                package,
                code_hash,
                not_after,
            } => Command::Credential(CredentialCmd {
                package,
                code_hash,
                not_after,
            }),
            Input::Expire { package } => Command::Expire(PackageCmd { package }),
            Input::Configure(c) => Command::Configure(c),
            _ => return None,
        })
    }

    /// The controller core's input for this command.
    pub fn to_input(&self) -> Input {
        match *self {
            Command::Reserve(r) => Input::Reserve {
                package: r.package,
                tier: r.tier,
                size: r.size,
                hold: r.hold,
            },
            Command::Cancel(p) => Input::CancelReservation { package: p.package },
            Command::Credential(c) => Input::Credential {
                package: c.package,
                code_hash: c.code_hash,
                not_after: c.not_after,
            },
            Command::Expire(p) => Input::Expire { package: p.package },
            Command::Configure(c) => Input::Configure(c),
        }
    }
}

// Locker → service, on `{locker}/evt/{kind}`: the service core's `Report`
// (an event, a ledger update, or a refused command), as JSON.
pub use crate::service::{RejectReason, Report, What};

/// Retained on `{locker}/status`; the MQTT will sets `offline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub state: LinkState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Online,
    Offline,
}

/// Checkout → service on `svc/reserve`: may `locker` take this order?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// The order (package) id, unique in the region.
    pub order: PackageId,
    pub locker: String,
    pub tier: Tier,
    pub size: Size,
    /// Answers and notices go to `svc/reply/{client}`.
    pub client: String,
    /// The carrier's lead time to the driver's arrival, if known: with
    /// discovery on, a locker closed then is not offered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lead_ms: Millis,
    /// `return`: a customer's return to drop off (default `delivery`).
    #[serde(default, skip_serializing_if = "ParcelKind::is_delivery")]
    pub kind: ParcelKind,
}

/// A driver's app → service on `svc/dropoff-failed`: the package could not
/// go into `locker` (no compartment opened, every door jammed, it did not
/// fit, the locker was dark). `reroute`: the package may go to another
/// locker nearby (false when it fits none of this size, so the doorstep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropOffFailed {
    pub order: PackageId,
    pub locker: String,
    pub reroute: bool,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Service → client on `svc/reply/{client}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    Accepted {
        order: PackageId,
        locker: String,
        hold: bool,
        /// The reservation lapses if no driver deposits by then.
        due_by: Millis,
    },
    Rejected {
        order: PackageId,
        reason: RejectReason,
    },
    /// The drop-off failed; the driver takes the package to `locker`.
    Rerouted { order: PackageId, locker: String },
    /// The package is in the locker: the customer's code (the SMS/e-mail
    /// gateway's job in production).
    Code {
        order: PackageId,
        locker: String,
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
    Outcome {
        order: PackageId,
        outcome: OrderOutcome,
    },
}

impl Reply {
    /// The order the reply is about.
    pub fn order(&self) -> PackageId {
        match self {
            Reply::Accepted { order, .. }
            | Reply::Rejected { order, .. }
            | Reply::Rerouted { order, .. }
            | Reply::Code { order, .. }
            | Reply::Reminder { order, .. }
            | Reply::Outcome { order, .. } => *order,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderOutcome {
    PickedUp,
    ExpiredReturned,
    /// Delivered to another locker after a failed drop-off, and ended there.
    ReroutedAlternateLocker,
    /// No driver came in time, or no locker could take it: the doorstep.
    DeliveryFailed,
}

/// On `svc/error` (from the service) or `{locker}/evt/error`'s reason: what
/// was wrong with a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub topic: String,
    pub id: Option<String>,
    pub reason: String,
}
