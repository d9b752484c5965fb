//! Demand forecasting: how many orders of each tier will a locker be
//! offered on each day of the coming week? A regression forest over the
//! calendar (weekday, month, the operator's named peaks and holidays) and
//! the locker's own demand a week and more before, trained on history files
//! (`lockerlab forecast train-demand`). The optimized policy's daily plan
//! reads it instead of a flat trailing mean.
//!
//! Like the dwell forest, the model and its features need no heavy
//! dependencies (the service reads it); counting, training and scoring need
//! the `lab` feature.

pub mod events;
pub mod features;
pub mod model;

#[cfg(feature = "lab")]
pub mod eval;
#[cfg(feature = "lab")]
pub mod series;
#[cfg(feature = "lab")]
pub mod train;

pub use events::EventCalendar;
pub use model::{DemandEvaluation, DemandHyperparameters, DemandMeta, DemandModel};
