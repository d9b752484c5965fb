//! The locker controller core: one struct per locker that turns inputs
//! (service commands, kiosk actions, sensor signals, link changes, ticks) into
//! outputs (open a door, show a message, publish an event, raise an alert,
//! append to the audit log). No clock, no IO, no randomness inside: the
//! simulator, controller-emu and the service all drive this same code.

mod faults;
mod io;
mod keypad;
mod kiosk;
mod replay;
mod snapshot;
mod staff;

pub use io::{
    Alert, ControllerConfig, Event, EventKind, FailReason, FaultCause, Handled, Input, Output,
    QrVerdict, Screen, Source,
};
pub(crate) use replay::halves;
pub use replay::{Admit, ReplayWindow, MAX_JUMP, MAX_SEQ};
pub use snapshot::ControllerState;
pub use staff::{PassVerdict, MAX_REFUSED_SCANS, STAFF_IDLE_MS};

use crate::access::pass::Role;
use crate::access::{qr, AuditEvent, CodeHash, LockerKeys, QrRejection};
use crate::domain::{
    CompartmentId, CompartmentState, Locker, LockerError, LockerView, PackageId, RequestId, Size,
};
use crate::engine::Millis;
use keypad::Keypad;
use std::collections::HashMap;

/// A service command that cannot apply to this locker's state. Drivers log
/// it (and answer it on the protocol's error topic); state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("{0}")]
    Locker(#[from] LockerError),
    #[error("package {0} has no deposited compartment to attach a credential to")]
    NotDeposited(PackageId),
    #[error("the code hash is already active for another package")]
    DuplicateCode,
    #[error("the controller is degraded (offline too long) and takes no new reservations")]
    Degraded,
    #[error("a reconciliation scan has {got} readings for {expected} compartments")]
    BadReading { got: usize, expected: usize },
    #[error("package {0}'s drop-off is in progress: its reservation is in use")]
    DropOffInProgress(PackageId),
    #[error("package {0} is being picked up")]
    PickupInProgress(PackageId),
    #[error("input number {seq} is implausible after {high} (forged or corrupt): refused")]
    ImplausibleSequence { seq: u64, high: u64 },
    #[error("{0}")]
    BadConfig(String),
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Credential {
    package: PackageId,
    compartment: CompartmentId,
    hash: CodeHash,
    not_after: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Session {
    Deposit {
        package: PackageId,
        compartment: CompartmentId,
    },
    Pickup {
        package: PackageId,
        compartment: CompartmentId,
    },
    Retrieval {
        package: PackageId,
        compartment: CompartmentId,
    },
}

impl Session {
    fn compartment(self) -> CompartmentId {
        match self {
            Session::Deposit { compartment, .. }
            | Session::Pickup { compartment, .. }
            | Session::Retrieval { compartment, .. } => compartment,
        }
    }
}

/// Code hashes are already uniformly random (HMAC outputs): use their first
/// bytes as the table hash instead of hashing them again.
#[derive(Default, Clone, Copy)]
struct Prehashed;

#[derive(Default)]
struct PrehashedHasher(u64);

impl std::hash::BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

pub struct Controller {
    locker_id: String,
    keys: LockerKeys,
    config: ControllerConfig,
    locker: Locker,
    windows: [ReplayWindow; 4],
    /// The service epoch the `Service` window counts in.
    service_epoch: u64,
    credentials: HashMap<CodeHash, Credential, Prehashed>,
    /// The active code hash of each compartment's package, by compartment id.
    code_of: Vec<Option<CodeHash>>,
    session: Option<Session>,
    /// When the session in progress opened its door.
    session_since: Millis,
    /// Sessions whose door stayed open past `session_timeout_ms`: the kiosk
    /// moved on, but each door's close still settles its package.
    abandoned: Vec<Session>,
    keypad: Keypad,
    /// Who is signed in at the kiosk, if anyone.
    staff: Option<staff::Staff>,
    /// Passes with refused scans, and those locked out for them.
    strikes: Vec<staff::Strikes>,
    /// Passes that verified here, by their text: the simulator's drivers
    /// show the same pass all day. Derived, never stored.
    passes: HashMap<Box<str>, crate::access::pass::Grant, staff::TailHash>,
    next_event_id: u64,
    link_up: bool,
    /// When the link went down, while it is down.
    link_down_at: Option<Millis>,
    degraded: bool,
    screen_ok: bool,
    now: Millis,
}

impl Controller {
    pub fn new(
        locker_id: impl Into<String>,
        keys: LockerKeys,
        compartments: [u32; Size::COUNT],
        config: ControllerConfig,
    ) -> Self {
        let locker = Locker::new(compartments);
        Self {
            locker_id: locker_id.into(),
            keys,
            config,
            code_of: vec![None; locker.compartment_count()],
            locker,
            windows: [ReplayWindow::default(); 4],
            service_epoch: 0,
            credentials: HashMap::default(),
            session: None,
            session_since: 0,
            abandoned: Vec::new(),
            keypad: Keypad::default(),
            staff: None,
            strikes: Vec::new(),
            passes: HashMap::default(),
            next_event_id: 1,
            link_up: true,
            link_down_at: None,
            degraded: false,
            screen_ok: true,
            now: 0,
        }
    }

    pub fn locker_id(&self) -> &str {
        &self.locker_id
    }

    /// The latest time any input carried (the controller's clock).
    pub fn clock(&self) -> Millis {
        self.now
    }

    /// The capacity ledger, as admission policies read it.
    pub fn view(&self) -> &LockerView {
        self.locker.view()
    }

    pub fn locker(&self) -> &Locker {
        &self.locker
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// Offline for longer than `stale_after_ms` (as of the last input).
    pub fn degraded(&self) -> bool {
        self.degraded
    }

    /// Until when the keypad is locked (a time in the past if it is not).
    pub fn keypad_locked_until(&self) -> Millis {
        self.keypad.locked_until
    }

    pub fn active_credentials(&self) -> usize {
        self.credentials.len()
    }

    /// Active credentials as (package, compartment, code hash, not after),
    /// in no particular order: what a controller's store caches.
    pub fn credentials(
        &self,
    ) -> impl Iterator<Item = (PackageId, CompartmentId, CodeHash, Millis)> + '_ {
        self.credentials
            .values()
            .map(|c| (c.package, c.compartment, c.hash, c.not_after))
    }

    /// The compartment whose door a session in progress opened (a driver,
    /// customer or operator who has not closed it yet).
    pub fn open_session_door(&self) -> Option<CompartmentId> {
        self.session.map(Session::compartment)
    }

    /// Every door a session opened and nobody has closed: the session in
    /// progress and those that timed out.
    pub fn open_doors(&self) -> impl Iterator<Item = CompartmentId> + '_ {
        self.session
            .iter()
            .chain(&self.abandoned)
            .map(|s| s.compartment())
    }

    /// The session, in progress or timed out, whose door is `compartment`.
    fn session_at(&self, compartment: CompartmentId) -> Option<Session> {
        self.session
            .iter()
            .chain(&self.abandoned)
            .copied()
            .find(|s| s.compartment() == compartment)
    }

    /// Whether a session, in progress or timed out, holds `package`'s door.
    fn in_session(&self, wanted: impl Fn(Session) -> bool) -> bool {
        self.session
            .iter()
            .chain(&self.abandoned)
            .any(|&s| wanted(s))
    }

    /// The highest input number seen from `source` (0 if none).
    pub fn last_seq(&self, source: Source) -> u64 {
        self.windows[source.index()].high()
    }

    /// What reports tell the service as `applied`: every command of its
    /// epoch up to this number has been taken (a gap stops it, so the
    /// service resends what was lost on the way).
    pub fn applied_commands(&self) -> u64 {
        self.windows[Source::Service.index()].contiguous()
    }

    /// The service epoch whose commands the controller numbers now.
    pub fn service_epoch(&self) -> u64 {
        self.service_epoch
    }

    /// The input as a journal may keep it: a typed code becomes its keyed
    /// hash, a QR token or staff pass the verdict on its signature and
    /// claims, so a store holds nothing that opens a door. Handling the sealed input at
    /// `now` does exactly what handling `input` would; `None` if `input`
    /// holds no secret.
    pub fn seal(&self, now: Millis, input: &Input) -> Option<Input> {
        match input {
            Input::Keypad { code } => Some(Input::KeypadHash {
                code_hash: self.keys.hash_code(*code),
                previous_hash: self.keys.previous().map(|k| k.hash_code(*code)),
            }),
            Input::QrScan { token } => Some(Input::QrChecked {
                verdict: self.check_qr(self.now.max(now), token),
            }),
            Input::StaffPass { pass } => Some(Input::StaffChecked {
                verdict: self.check_pass(self.now.max(now), pass),
            }),
            _ => None,
        }
    }

    /// Handles one input from `source`, numbered `seq` (1, 2, … per source).
    /// Outputs are appended to `out`. An input seen before produces nothing.
    pub fn handle(
        &mut self,
        now: Millis,
        source: Source,
        seq: u64,
        input: &Input,
        out: &mut Vec<Output>,
    ) -> Result<Handled, Rejected> {
        match self.windows[source.index()].check_and_mark(seq) {
            Admit::New => {}
            Admit::Duplicate => return Ok(Handled::Duplicate),
            Admit::TooOld => return Ok(Handled::TooOld),
            Admit::Implausible => {
                let high = self.windows[source.index()].high();
                return Err(Rejected::ImplausibleSequence { seq, high });
            }
        }
        // The controller's clock never runs backwards, whatever its inputs say.
        // Nor past any real clock: every time it keeps stays far from
        // overflow, and a snapshot of it restores.
        self.now = self.now.max(crate::time::clamp_instant(now));
        let now = self.now;
        self.check_degraded(now, out);
        self.check_session_timeout(now, out);
        let req = RequestId((source.index() as u64) << 58 | seq);
        match input {
            Input::Reserve {
                package,
                tier,
                size,
                hold,
            } => {
                if self.degraded {
                    return Err(Rejected::Degraded);
                }
                if *hold {
                    self.locker.hold_compartment(req, *package, *tier, *size)?;
                } else {
                    self.locker.reserve_capacity(*package, *tier, *size)?;
                }
            }
            Input::CancelReservation { package } => {
                // The driver is at the door: the deposit decides, not the
                // service's clock (its confirmation gets the package a code).
                if self.in_session(
                    |s| matches!(s, Session::Deposit { package: p, .. } if p == *package),
                ) {
                    return Err(Rejected::DropOffInProgress(*package));
                }
                self.locker.release(req, *package)?;
                self.publish(
                    now,
                    EventKind::ReservationReleased { package: *package },
                    out,
                );
            }
            Input::Credential {
                package,
                code_hash,
                not_after,
            } => self.store_credential(*package, *code_hash, *not_after)?,
            Input::Expire { package } => {
                // The customer has the door open: the pickup decides.
                if self.in_session(
                    |s| matches!(s, Session::Pickup { package: p, .. } if p == *package),
                ) {
                    return Err(Rejected::PickupInProgress(*package));
                }
                let compartment = self.locker.expire(req, *package)?;
                self.revoke(compartment);
                self.publish(
                    now,
                    EventKind::Expired {
                        package: *package,
                        compartment,
                    },
                    out,
                );
            }
            Input::Configure(config) => {
                config.check().map_err(Rejected::BadConfig)?;
                self.config = *config;
            }
            Input::StaffPass { pass } => {
                let verdict = self.check_pass_cached(now, pass);
                self.sign_in(now, verdict, out)
            }
            Input::StaffChecked { verdict } => self.sign_in(now, *verdict, out),
            Input::SignOut => self.sign_out(out),
            Input::DriverScan { package } => self.driver_scan(now, req, *package, out)?,
            Input::Keypad { code } => {
                let previous = self.keys.previous().map(|k| k.hash_code(*code));
                self.keypad_code(now, self.keys.hash_code(*code), previous, out)
            }
            Input::KeypadHash {
                code_hash,
                previous_hash,
            } => self.keypad_code(now, *code_hash, *previous_hash, out),
            Input::QrScan { token } => self.qr_scan(self.check_qr(now, token), out),
            Input::QrChecked { verdict } => self.qr_scan(*verdict, out),
            Input::OpsRetrieve { package } => self.ops_retrieve(now, *package, out),
            Input::DoorClosed {
                compartment,
                occupied,
            } => self.door_closed(now, req, *compartment, *occupied, out)?,
            Input::CompartmentUnusable { compartment, cause } => {
                self.unusable(now, req, *compartment, *cause, out)?
            }
            Input::Reconcile { occupied } => self.reconcile(now, req, occupied, out)?,
            Input::Repair { compartment } => {
                if self.signed_in(Role::Operator, now, out).is_some()
                    && self.locker.state(*compartment) == Some(CompartmentState::Maintenance)
                {
                    self.locker.repair(req, *compartment)?;
                    out.push(Output::Audit {
                        event: AuditEvent::Repaired {
                            compartment: *compartment,
                        },
                    });
                    self.publish(
                        now,
                        EventKind::CompartmentRepaired {
                            compartment: *compartment,
                        },
                        out,
                    );
                }
            }
            Input::ScreenStatus { working } => self.screen_ok = *working,
            Input::Link { up } => {
                self.link_up = *up;
                if *up {
                    self.link_down_at = None;
                    if self.degraded {
                        self.degraded = false;
                        self.publish(now, EventKind::Recovered, out);
                    }
                } else if self.link_down_at.is_none() {
                    self.link_down_at = Some(now);
                }
            }
            Input::Tick => {}
            Input::ServiceEpoch { epoch } => {
                if *epoch > self.service_epoch {
                    self.service_epoch = *epoch;
                    self.windows[Source::Service.index()] = ReplayWindow::default();
                }
            }
        }
        Ok(Handled::Applied)
    }

    /// Enters degraded mode once the link has been down for `stale_after_ms`.
    fn check_degraded(&mut self, now: Millis, out: &mut Vec<Output>) {
        if let Some(since) = self.link_down_at {
            if !self.degraded && now - since >= self.config.stale_after_ms {
                self.degraded = true;
                self.publish(now, EventKind::Degraded, out);
            }
        }
    }

    /// A door left open past `session_timeout_ms` (a jam, a walk-away, a
    /// crash between unlatching and the person's close) must not keep the
    /// kiosk busy for everyone else: the session steps aside and operations
    /// hear of the open door. Its close, whenever it comes, still settles
    /// the package.
    fn check_session_timeout(&mut self, now: Millis, out: &mut Vec<Output>) {
        let Some(session) = self.session else {
            return;
        };
        if now - self.session_since < self.config.session_timeout_ms {
            return;
        }
        let compartment = session.compartment();
        self.session = None;
        self.abandoned.push(session);
        out.push(Output::Audit {
            event: AuditEvent::SessionTimedOut { compartment },
        });
        out.push(Output::Alert {
            alert: Alert::DoorLeftOpen { compartment },
        });
    }

    fn publish(&mut self, time: Millis, kind: EventKind, out: &mut Vec<Output>) {
        let id = self.next_event_id;
        self.next_event_id += 1;
        out.push(Output::Publish {
            event: Event { id, time, kind },
        });
    }

    /// A new session may start only when none is running: one kiosk, one
    /// person at a time.
    fn busy(&self, out: &mut Vec<Output>) -> bool {
        if self.session.is_some() {
            out.push(Output::Screen {
                message: Screen::Busy,
            });
            true
        } else {
            false
        }
    }

    fn open(&mut self, session: Session, out: &mut Vec<Output>) {
        let compartment = session.compartment();
        self.session = Some(session);
        self.session_since = self.now;
        out.push(Output::Audit {
            event: AuditEvent::DoorOpened { compartment },
        });
        out.push(Output::OpenDoor { compartment });
        out.push(Output::Screen {
            message: Screen::OpenDoor { compartment },
        });
    }

    fn store_credential(
        &mut self,
        package: PackageId,
        hash: CodeHash,
        not_after: Millis,
    ) -> Result<(), Rejected> {
        let not_after = crate::time::clamp_instant(not_after);
        let compartment = self
            .locker
            .compartment_of(package)
            .filter(|&c| self.locker.state(c) == Some(CompartmentState::Occupied))
            .ok_or(Rejected::NotDeposited(package))?;
        if let Some(other) = self.credentials.get(&hash) {
            if other.package != package {
                return Err(Rejected::DuplicateCode);
            }
        }
        // A re-issued credential replaces the old one.
        self.revoke(compartment);
        self.credentials.insert(
            hash,
            Credential {
                package,
                compartment,
                hash,
                not_after,
            },
        );
        self.code_of[compartment as usize] = Some(hash);
        Ok(())
    }

    /// Retires the credential of the package in `compartment`, if any.
    fn revoke(&mut self, compartment: CompartmentId) {
        if let Some(h) = self.code_of[compartment as usize].take() {
            self.credentials.remove(&h);
        }
    }
}

#[cfg(test)]
mod tests;
