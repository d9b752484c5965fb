//! Demand that does not come from the scenario's arrival process: the
//! per-order history record a run writes, and a trace of recorded orders
//! replayed as demand. Below `scenario` and `sim`: it depends on neither.

pub mod history;
pub mod trace;
