//! What the world did, step by step, when a run is asked to keep it: the
//! checkouts it sent the service, the drivers' apps reporting a failed
//! drop-off, every input it gave a controller itself (people, sensors, the
//! controller's clock and screen), and when a locker's link to the broker
//! went down or came back. `lockerlab demo` plays it through the live
//! system, so the live lockers and service meet exactly the simulator's
//! world and must answer it as the simulator's cores did.

use crate::controller::{Input, Source};
use crate::domain::{Size, Tier};
use crate::time::Millis;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldStep {
    pub at: Millis,
    /// Scenario index of the location it happened at (a checkout's: the
    /// locker the customer chose).
    pub location: usize,
    pub act: WorldAct,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "act", rename_all = "snake_case")]
pub enum WorldAct {
    /// A customer checks out: the request the shop sends the service.
    Checkout {
        order: u64,
        tier: Tier,
        size: Size,
        lead: Millis,
        kind: crate::service::ParcelKind,
    },
    /// A driver's app: the package could not be deposited here.
    DropOffFailed { order: u64, reroute: bool },
    /// An input the controller got from its own side, not the service's.
    /// Link changes are left out: a live controller makes them itself when
    /// its broker connection drops or returns (see `Link`).
    Local { source: Source, input: Input },
    /// The locker's link to the broker goes down (network or power) or
    /// comes back.
    Link { up: bool },
}

impl WorldAct {
    /// What the live system plays: every input but the link changes a live
    /// controller makes itself.
    pub fn of_local(source: Source, input: &Input) -> Option<WorldAct> {
        (!matches!(input, Input::Link { .. })).then(|| WorldAct::Local {
            source,
            input: input.clone(),
        })
    }
}
