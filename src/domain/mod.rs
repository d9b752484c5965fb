//! The locker domain: sizes, tiers, packages, locations and the compartment
//! state machine. Pure data and rules; no time source, no IO, no randomness.

pub mod compartment;
pub mod hours;
pub mod location;
pub mod locker;
pub mod size;
pub mod tier;

pub use compartment::{Compartment, CompartmentState, RequestId, Transition, TransitionError};
pub use hours::OpeningHours;
pub use location::LocationKind;
pub use locker::{CompartmentId, Locker, LockerError, LockerState, LockerView, PackageId};
pub use size::Size;
pub use tier::Tier;
