//! A locker station: the node (core + store) wired to hardware. People act
//! on it through [`Action`]s, the JSON lines `controller-emu` reads on stdin
//! and the demo sends in-process; the core's door commands reach the
//! hardware only after the input that caused them is stored.

use super::hardware::{EmulatedHardware, Hardware};
use super::node::{Applied, Node};
use super::store::StoreError;
use crate::access::PickupCode;
use crate::controller::{Alert, EventKind, FaultCause, Input, Output, Screen, Source};
use crate::domain::{CompartmentId, CompartmentState, PackageId};
use crate::engine::Millis;
use crate::protocol::CommandKind;
use serde::{Deserialize, Serialize};

/// Something a driver, customer, operator or test does at the locker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "act", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A driver or operator signs in with a staff pass (`lockerlab keys
    /// pass`): drop-offs, retrievals and repairs need one.
    SignIn { pass: String },
    /// Whoever is signed in signs out.
    SignOut,
    /// A signed-in driver scans a package to deposit it.
    DriverScan { package: PackageId },
    /// Put the package into the open compartment and close its door.
    Put,
    /// Take the package out of the open compartment and close its door.
    Take,
    /// Close the open door without putting anything in or taking it out.
    Close,
    /// A customer types a pickup code.
    Keypad { code: PickupCode },
    /// A customer shows a QR token.
    Qr { token: String },
    /// A signed-in operator opens an expired package's compartment.
    OpsRetrieve { package: PackageId },
    /// Fault injection: the next opening of this door jams.
    Jam { compartment: CompartmentId },
    /// Fault injection: this occupancy sensor reads the opposite.
    SensorFault {
        compartment: CompartmentId,
        on: bool,
    },
    /// A signed-in operator repaired (or cleared) a compartment.
    Repair { compartment: CompartmentId },
    /// Compare every occupancy sensor with the software state.
    Reconcile,
    /// The kiosk screen (and keypad) fails or works again.
    Screen { working: bool },
    /// Cut the locker off the network, or reconnect it.
    Link { up: bool },
    /// Print the locker's state.
    Status,
    /// One input exactly as the simulator's world gave it to its controller
    /// (a person, a sensor, the runtime): how `lockerlab demo` replays the
    /// simulated world. The emulated doors follow: an opened door is open,
    /// a closed one closed; the sensor reading is the input's.
    Input { source: Source, input: Input },
}

impl ActionResult {
    /// How the action ended, in a word: `error` if the locker refused it,
    /// else the screen it showed (`open_door`, `wrong_code`, …), else `ok`.
    pub fn outcome(&self) -> &'static str {
        match (&self.error, &self.screen) {
            (Some(_), _) => "error",
            (None, Some(screen)) => screen.name(),
            (None, None) => "ok",
        }
    }
}

impl Action {
    /// The serde tag (`driver_scan`, `keypad`, …): a metrics label.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SignIn { .. } => "sign_in",
            Action::SignOut => "sign_out",
            Action::DriverScan { .. } => "driver_scan",
            Action::Put => "put",
            Action::Take => "take",
            Action::Close => "close",
            Action::Keypad { .. } => "keypad",
            Action::Qr { .. } => "qr",
            Action::OpsRetrieve { .. } => "ops_retrieve",
            Action::Jam { .. } => "jam",
            Action::SensorFault { .. } => "sensor_fault",
            Action::Repair { .. } => "repair",
            Action::Reconcile => "reconcile",
            Action::Screen { .. } => "screen",
            Action::Link { .. } => "link",
            Action::Status => "status",
            Action::Input { .. } => "input",
        }
    }
}

/// The answer to an action (one JSON line on stdout).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActionResult {
    /// The door that is open now, if any.
    pub door: Option<CompartmentId>,
    pub screen: Option<Screen>,
    /// Events the action produced (also queued for the service).
    pub events: Vec<EventKind>,
    /// Alerts for the operator the action raised (a lockout, a sensor
    /// that disagrees, a compartment out of service).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StationStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationStatus {
    pub locker: String,
    pub occupied: u32,
    pub available: [u32; 4],
    pub pending: [u32; 4],
    pub maintenance: u32,
    pub credentials: usize,
    pub outbox: u64,
    pub degraded: bool,
    pub link_up: bool,
}

pub struct Station {
    pub node: Node,
    pub hw: EmulatedHardware,
}

impl Station {
    /// A station whose emulated compartments hold what the store says.
    pub fn new(node: Node) -> Self {
        let l = node.controller().locker();
        let occupied = (0..l.compartment_count() as CompartmentId)
            .map(|c| {
                matches!(
                    l.state(c),
                    Some(CompartmentState::Occupied | CompartmentState::Expired)
                )
            })
            .collect();
        let mut hw = EmulatedHardware::with_contents(occupied);
        // A door unlatched before a restart is still open: the person at
        // it finishes and closes it.
        for c in node.controller().open_doors() {
            hw.open_door(c);
        }
        Station { hw, node }
    }

    /// Feeds one input and acts on its outputs: doors open (a jammed one is
    /// reported back to the core, which may open another), screens show.
    fn feed(
        &mut self,
        now: Millis,
        source: Source,
        input: Input,
        result: &mut ActionResult,
    ) -> Result<(), StoreError> {
        let mut pending = vec![(source, input)];
        while let Some((source, input)) = pending.pop() {
            let applied = self.node.local(now, source, &input)?;
            self.act(applied, result, &mut pending);
        }
        Ok(())
    }

    fn act(
        &mut self,
        applied: Applied,
        result: &mut ActionResult,
        pending: &mut Vec<(Source, Input)>,
    ) {
        if let Some(e) = applied.rejected {
            result.error = Some(e);
        }
        for o in applied.outputs {
            match o {
                Output::OpenDoor { compartment } => {
                    if self.hw.open_door(compartment) {
                        result.door = Some(compartment);
                    } else {
                        pending.push((
                            Source::Sensors,
                            Input::CompartmentUnusable {
                                compartment,
                                cause: FaultCause::Jam,
                            },
                        ));
                    }
                }
                Output::Screen { message } => {
                    self.hw.show(message);
                    result.screen = Some(message);
                }
                Output::Publish { event } => result.events.push(event.kind),
                Output::Alert { alert } => result.alerts.push(alert),
                Output::Audit { .. } => {}
            }
        }
    }

    /// A service command from the broker.
    pub fn command(
        &mut self,
        now: Millis,
        kind: CommandKind,
        payload: &[u8],
    ) -> Result<ActionResult, StoreError> {
        let mut result = ActionResult::default();
        let applied = self.node.command(now, kind, payload)?;
        let mut pending = Vec::new();
        self.act(applied, &mut result, &mut pending);
        Ok(result)
    }

    /// A runtime input (tick, link change).
    pub fn runtime(&mut self, now: Millis, input: Input) -> Result<ActionResult, StoreError> {
        let mut result = ActionResult::default();
        self.feed(now, Source::Runtime, input, &mut result)?;
        Ok(result)
    }

    fn open_door(&self) -> Option<CompartmentId> {
        self.hw.open_doors().first().copied()
    }

    fn close(&mut self, now: Millis, result: &mut ActionResult) -> Result<(), StoreError> {
        let Some(c) = self.open_door() else {
            result.error = Some("no door is open".into());
            return Ok(());
        };
        let occupied = self.hw.close_door(c);
        self.feed(
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied,
            },
            result,
        )
    }

    pub fn act_on(&mut self, now: Millis, action: &Action) -> Result<ActionResult, StoreError> {
        let mut r = ActionResult::default();
        match action {
            Action::SignIn { pass } => {
                let input = Input::StaffPass {
                    pass: pass.as_str().into(),
                };
                self.feed(now, Source::Kiosk, input, &mut r)?;
            }
            Action::SignOut => self.feed(now, Source::Kiosk, Input::SignOut, &mut r)?,
            Action::DriverScan { package } => {
                let input = Input::DriverScan { package: *package };
                self.feed(now, Source::Kiosk, input, &mut r)?;
            }
            Action::Put | Action::Take => match self.open_door() {
                Some(c) => {
                    if *action == Action::Put {
                        self.hw.put(c);
                    } else {
                        self.hw.take(c);
                    }
                    self.close(now, &mut r)?;
                }
                None => r.error = Some("no door is open".into()),
            },
            Action::Close => self.close(now, &mut r)?,
            Action::Keypad { code } => {
                self.feed(now, Source::Kiosk, Input::Keypad { code: *code }, &mut r)?
            }
            Action::Qr { token } => {
                let input = Input::QrScan {
                    token: token.clone(),
                };
                self.feed(now, Source::Kiosk, input, &mut r)?
            }
            Action::OpsRetrieve { package } => {
                let input = Input::OpsRetrieve { package: *package };
                self.feed(now, Source::Kiosk, input, &mut r)?
            }
            Action::Jam { compartment } => self.hw.jam(*compartment),
            Action::SensorFault { compartment, on } => self.hw.sensor_fault(*compartment, *on),
            Action::Repair { compartment } => {
                self.hw.sensor_fault(*compartment, false);
                let input = Input::Repair {
                    compartment: *compartment,
                };
                self.feed(now, Source::Kiosk, input, &mut r)?
            }
            Action::Reconcile => {
                let input = Input::Reconcile {
                    occupied: self.hw.scan(),
                };
                self.feed(now, Source::Sensors, input, &mut r)?
            }
            Action::Screen { working } => {
                let input = Input::ScreenStatus { working: *working };
                self.feed(now, Source::Runtime, input, &mut r)?
            }
            Action::Input {
                source: Source::Service,
                ..
            } => r.error = Some("service commands come over the broker, numbered".into()),
            Action::Input { source, input } => {
                if let Input::DoorClosed {
                    compartment,
                    occupied,
                } = *input
                {
                    self.hw.close_door(compartment);
                    self.hw.set_contents(compartment, occupied);
                }
                self.feed(now, *source, input.clone(), &mut r)?
            }
            // The runtime handles the link; here it only reports the state.
            Action::Link { .. } | Action::Status => {}
        }
        if r.door.is_none() {
            r.door = self.open_door();
        }
        if *action == Action::Status {
            r.status = Some(self.status()?);
        }
        Ok(r)
    }

    pub fn status(&self) -> Result<StationStatus, StoreError> {
        let ctl = self.node.controller();
        let v = ctl.view();
        Ok(StationStatus {
            locker: ctl.locker_id().to_string(),
            occupied: v.occupied,
            available: v.available,
            pending: v.pending,
            maintenance: v.maintenance,
            credentials: ctl.active_credentials(),
            outbox: self.node.store().outbox_len()?,
            degraded: ctl.degraded(),
            link_up: ctl.link_up(),
        })
    }
}
