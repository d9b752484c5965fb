//! The discrete-event kernel: integer time, an event queue with a total order,
//! and seeded random streams. It knows nothing about lockers; `sim` builds the
//! locker world on top of it (SimPy-style: a tiny core everything else uses).

pub mod queue;
pub mod rng;

pub use queue::{EventQueue, LaneError, PastEvent};
pub use rng::{Purpose, StreamKey};
// Time sits below everything (`crate::time`); the engine re-exports it.
pub use crate::time;
pub use crate::time::Millis;
