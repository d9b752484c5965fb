//! Streaming metrics: counters and histograms updated as events happen, so
//! memory grows with locations, not with events or packages.

pub mod display;
pub mod histogram;
pub mod location;
pub mod stats;
pub mod summary;
pub mod weekly;

pub use histogram::LogHistogram;
pub use location::{FailCause, LocationMetrics, Outcome, RejectedFor};
pub use summary::{Summary, SummaryMean, METRIC_NAMES};
pub use weekly::{WeekCounts, Weekly};
