//! What goes into and comes out of the controller core. Serde-serializable:
//! the same types travel over MQTT and through controller-emu's scripts.

use crate::access::pass::{PassError, Role};
use crate::access::{AuditEvent, CodeHash, PickupCode, QrRejection};
use crate::domain::{CompartmentId, PackageId, Size, Tier};
use crate::engine::Millis;
use serde::{Deserialize, Serialize};

/// Who sent an input. Each source numbers its inputs 1, 2, 3, … for
/// idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The regional capacity service (commands over the network).
    Service,
    /// The kiosk: keypad, scanner, driver and ops sessions.
    Kiosk,
    /// Door and occupancy sensors.
    Sensors,
    /// The controller's own runtime: clock ticks, link state.
    Runtime,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Service,
        Source::Kiosk,
        Source::Sensors,
        Source::Runtime,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// Service: an accepted reservation. `hold` binds a compartment now.
    Reserve {
        package: PackageId,
        tier: Tier,
        size: Size,
        #[serde(default)]
        hold: bool,
    },
    /// Service: release a reservation no driver used.
    CancelReservation { package: PackageId },
    /// Service: the keyed hash of the package's pickup code, valid until `not_after`.
    Credential {
        package: PackageId,
        code_hash: CodeHash,
        not_after: Millis,
    },
    /// Service (authoritative clock): the pickup window is over.
    Expire { package: PackageId },
    /// Service: new settings.
    Configure(ControllerConfig),
    /// Kiosk: a driver or operator shows a staff pass (`access::pass`).
    /// Drop-offs, retrievals and repairs need one.
    StaffPass {
        /// Shared: the simulator shows the same pass all day without
        /// copying it.
        #[serde(with = "shared_str")]
        pass: std::sync::Arc<str>,
    },
    /// Kiosk: a staff pass as the controller's verdict on it. What a
    /// journal keeps of a `StaffPass` input, so no store holds a pass.
    StaffChecked { verdict: super::PassVerdict },
    /// Kiosk: whoever is signed in signs out.
    SignOut,
    /// Kiosk: a signed-in driver scans a package to deposit.
    DriverScan { package: PackageId },
    /// Kiosk: six digits typed on the keypad.
    Keypad { code: PickupCode },
    /// Kiosk: a QR token shown to the scanner.
    QrScan { token: String },
    /// Kiosk: a typed code as its keyed hash. What a journal keeps of a
    /// `Keypad` input (`Controller::seal`), so no store holds a code.
    /// During a key rotation, also its hash under the keys being retired.
    KeypadHash {
        code_hash: CodeHash,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_hash: Option<CodeHash>,
    },
    /// Kiosk: a QR token as the controller's verdict on it. What a journal
    /// keeps of a `QrScan` input, so no store holds a bearer token.
    QrChecked { verdict: QrVerdict },
    /// Kiosk: a signed-in operator takes out an expired package.
    OpsRetrieve { package: PackageId },
    /// Sensors: a door closed; `occupied` is what the compartment sensor reads.
    DoorClosed {
        compartment: CompartmentId,
        occupied: bool,
    },
    /// Sensors or driver: the door opened for a drop-off cannot be used
    /// (jammed, or something is already inside).
    CompartmentUnusable {
        compartment: CompartmentId,
        cause: FaultCause,
    },
    /// Sensors: a full occupancy scan, one reading per compartment, for
    /// reconciliation against the software state.
    Reconcile { occupied: Vec<bool> },
    /// Kiosk (a signed-in operator): a compartment is repaired or cleared.
    Repair { compartment: CompartmentId },
    /// Runtime: the kiosk screen (and its keypad) works or not.
    ScreenStatus { working: bool },
    /// Runtime: network up or down.
    Link { up: bool },
    /// Runtime: time passes.
    Tick,
    /// Runtime: a command arrived from a newer service epoch (the service
    /// restarted and numbers its commands from 1 again): a fresh window
    /// for its numbers. An older or equal epoch changes nothing.
    ServiceEpoch { epoch: u64 },
}

/// An `Arc<str>` on the wire as a plain string (serde's own needs its `rc`
/// feature, which would rebuild every crate that uses serde).
mod shared_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        Ok(String::deserialize(d)?.into())
    }
}

impl Input {
    /// Who must be signed in at the kiosk for this input to act: a driver
    /// to scan, an operator to retrieve or repair.
    pub fn staff_role(&self) -> Option<Role> {
        match self {
            Input::DriverScan { .. } => Some(Role::Driver),
            Input::OpsRetrieve { .. } | Input::Repair { .. } => Some(Role::Operator),
            _ => None,
        }
    }
}

/// What the signature and claims of a scanned QR token say, before the
/// controller checks that its package is still here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum QrVerdict {
    Signed {
        package: PackageId,
        compartment: CompartmentId,
    },
    Rejected {
        reason: QrRejection,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// Wrong codes in a row before the keypad locks.
    pub max_wrong_codes: u32,
    /// How long the keypad stays locked the first time, and how long wrong
    /// codes are remembered.
    pub lockout_ms: Millis,
    /// The longest lockout: each lockout in a streak lasts four times the
    /// one before, up to this; each quiet `max_lockout_ms` forgives a step.
    #[serde(default = "default_max_lockout")]
    pub max_lockout_ms: Millis,
    /// After this long without a link the controller is degraded: it refuses
    /// new reservations but keeps serving pickups and cached drop-offs.
    #[serde(default = "default_stale_after")]
    pub stale_after_ms: Millis,
    /// A door a session opened and nobody closed within this frees the
    /// kiosk and raises a `door_left_open` alert.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_ms: Millis,
}

fn default_stale_after() -> Millis {
    60 * 60 * 1000
}

fn default_session_timeout() -> Millis {
    5 * 60 * 1000
}

fn default_max_lockout() -> Millis {
    24 * 60 * 60 * 1000
}

impl ControllerConfig {
    /// The settings a live locker accepts over the wire: a keypad that
    /// locks (after 1–100 wrong codes, for 1 minute to 7 days, escalating
    /// to at most 7 days) and a
    /// staleness bound of 1 minute to a year. A configure command outside
    /// them is refused, so a bad or forged one cannot switch the lockout
    /// off.
    pub fn check(&self) -> Result<(), String> {
        const MINUTE: Millis = 60 * 1000;
        const DAY: Millis = 24 * 60 * MINUTE;
        let bad = |field: &str, value: String, range: &str| {
            Err(format!(
                "configure: {field} must be in {range}, got {value}"
            ))
        };
        if !(1..=100).contains(&self.max_wrong_codes) {
            return bad(
                "max_wrong_codes",
                self.max_wrong_codes.to_string(),
                "[1, 100]",
            );
        }
        if !(MINUTE..=7 * DAY).contains(&self.lockout_ms) {
            return bad(
                "lockout_ms",
                self.lockout_ms.to_string(),
                "[60000, 604800000] (1 min to 7 days)",
            );
        }
        if !(self.lockout_ms..=7 * DAY).contains(&self.max_lockout_ms) {
            return bad(
                "max_lockout_ms",
                self.max_lockout_ms.to_string(),
                &format!("[lockout_ms = {}, 604800000] (to 7 days)", self.lockout_ms),
            );
        }
        if !(MINUTE / 2..=60 * MINUTE).contains(&self.session_timeout_ms) {
            return bad(
                "session_timeout_ms",
                self.session_timeout_ms.to_string(),
                "[30000, 3600000] (30 s to an hour)",
            );
        }
        if !(MINUTE..=365 * DAY).contains(&self.stale_after_ms) {
            return bad(
                "stale_after_ms",
                self.stale_after_ms.to_string(),
                "[60000, 31536000000] (1 min to a year)",
            );
        }
        Ok(())
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            max_wrong_codes: 5,
            lockout_ms: 15 * 60 * 1000,
            max_lockout_ms: default_max_lockout(),
            session_timeout_ms: default_session_timeout(),
            stale_after_ms: default_stale_after(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum Output {
    OpenDoor {
        compartment: CompartmentId,
    },
    Screen {
        message: Screen,
    },
    Publish {
        event: Event,
    },
    Alert {
        alert: Alert,
    },
    /// Append to the audit chain.
    Audit {
        event: AuditEvent,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum Screen {
    OpenDoor {
        compartment: CompartmentId,
    },
    NoCompartment,
    UnknownPackage,
    WrongCode {
        tries_left: u32,
    },
    KeypadLocked {
        until: Millis,
    },
    InvalidToken,
    /// Another session is in progress at this kiosk; try again shortly.
    Busy,
    /// A staff pass was accepted.
    SignedIn {
        role: Role,
    },
    /// Show a `role` pass first.
    SignInFirst {
        role: Role,
    },
    /// The staff pass shown is not valid here and now.
    InvalidPass,
    /// The pass scanned too many packages already inside: refused until
    /// `until`.
    PassLocked {
        until: Millis,
    },
}

impl Screen {
    /// The serde tag: `open_door`, `wrong_code`, … (a metrics label).
    pub fn name(&self) -> &'static str {
        match self {
            Screen::OpenDoor { .. } => "open_door",
            Screen::NoCompartment => "no_compartment",
            Screen::UnknownPackage => "unknown_package",
            Screen::WrongCode { .. } => "wrong_code",
            Screen::KeypadLocked { .. } => "keypad_locked",
            Screen::InvalidToken => "invalid_token",
            Screen::Busy => "busy",
            Screen::SignedIn { .. } => "signed_in",
            Screen::SignInFirst { .. } => "sign_in_first",
            Screen::InvalidPass => "invalid_pass",
            Screen::PassLocked { .. } => "pass_locked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub enum Alert {
    /// The keypad locked until `until`: the `level`-th lockout in a row
    /// (each lasts four times the one before, up to the cap).
    KeypadLockout { until: Millis, level: u32 },
    /// A sensor disagrees with the state the software expects.
    SensorMismatch { compartment: CompartmentId },
    /// A door a session opened stayed open past the session timeout.
    DoorLeftOpen { compartment: CompartmentId },
    /// A compartment went out of service.
    CompartmentFault {
        compartment: CompartmentId,
        cause: FaultCause,
    },
    /// A staff pass was refused (forged, for another locker, expired):
    /// failed driver or operator authentication.
    PassRefused { reason: PassError },
    /// A signed-in driver scanned a package that is already inside (or,
    /// online, one the locker does not hold): no door opened.
    ScanRefused { package: PackageId },
    /// A pass scanned `MAX_REFUSED_SCANS` packages already inside: it is
    /// refused until `until`.
    PassLocked { until: Millis },
}

impl Alert {
    /// The serde tag: `keypad_lockout`, `sensor_mismatch`, … (a metrics
    /// label and the last level of its topic).
    pub fn name(&self) -> &'static str {
        match self {
            Alert::PassRefused { .. } => "pass_refused",
            Alert::ScanRefused { .. } => "scan_refused",
            Alert::PassLocked { .. } => "pass_locked",
            Alert::KeypadLockout { .. } => "keypad_lockout",
            Alert::SensorMismatch { .. } => "sensor_mismatch",
            Alert::CompartmentFault { .. } => "compartment_fault",
            Alert::DoorLeftOpen { .. } => "door_left_open",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultCause {
    /// The door did not open.
    Jam,
    /// Something is inside a compartment the software thinks empty.
    Blocked,
    /// Found by reconciliation: the sensor disagrees with the software.
    SensorMismatch,
}

/// An event for the service, with a unique id that increases by one per
/// event, so the service can apply each exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub time: Millis,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Deposited {
        package: PackageId,
        compartment: CompartmentId,
    },
    DeliveryFailed {
        package: PackageId,
        reason: FailReason,
    },
    PickedUp {
        package: PackageId,
        compartment: CompartmentId,
    },
    Expired {
        package: PackageId,
        compartment: CompartmentId,
    },
    Retrieved {
        package: PackageId,
        compartment: CompartmentId,
    },
    ReservationReleased {
        package: PackageId,
    },
    KeypadLockout {
        until: Millis,
    },
    CompartmentFault {
        compartment: CompartmentId,
        cause: FaultCause,
    },
    CompartmentRepaired {
        compartment: CompartmentId,
    },
    /// The link has been down for `stale_after_ms`: new reservations pause.
    Degraded,
    /// The link is back after a degraded spell.
    Recovered,
}

impl EventKind {
    /// The serde tag: `deposited`, `picked_up`, … (the last level of the
    /// event's MQTT topic).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Deposited { .. } => "deposited",
            EventKind::DeliveryFailed { .. } => "delivery_failed",
            EventKind::PickedUp { .. } => "picked_up",
            EventKind::Expired { .. } => "expired",
            EventKind::Retrieved { .. } => "retrieved",
            EventKind::ReservationReleased { .. } => "reservation_released",
            EventKind::KeypadLockout { .. } => "keypad_lockout",
            EventKind::CompartmentFault { .. } => "compartment_fault",
            EventKind::CompartmentRepaired { .. } => "compartment_repaired",
            EventKind::Degraded => "degraded",
            EventKind::Recovered => "recovered",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// No usable compartment fits the package.
    Full,
    /// The package was not in the compartment when the door closed.
    NotDeposited,
    /// The controller holds no reservation for the package.
    NoReservation,
    /// Every compartment tried jammed or was blocked.
    Jam,
}

/// What happened to an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Seen before: no outputs.
    Duplicate,
    /// Older than the replay window, so it cannot be told from a duplicate:
    /// not applied, no outputs. The sender should hear of it.
    TooOld,
}
