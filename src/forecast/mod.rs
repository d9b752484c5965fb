//! Dwell-time forecasting: how long will a package just deposited hold its
//! compartment? A quantile-regression forest (CART trees grown over
//! histograms of the discrete features, in parallel) predicts a calibrated
//! distribution P(dwell ≤ t) and a mean.
//!
//! The core here — feature pipeline, trees, calibration, model files,
//! prediction and the simulator's cache — has no heavy dependencies, so the
//! simulator and the controller read models without smartcore or polars.
//! Training, baselines, evaluation and charts need the `lab` feature.

pub mod cache;
mod codec;
pub mod demand;
pub mod features;
#[cfg(feature = "lab")]
pub mod grow;
pub mod isotonic;
pub mod logistic;
mod memo;
pub mod model;
pub mod prediction;
pub mod tree;

#[cfg(feature = "lab")]
pub mod baselines;
#[cfg(feature = "lab")]
pub mod charts;
#[cfg(feature = "lab")]
pub mod eval;
#[cfg(feature = "lab")]
mod smartcore_tree;
#[cfg(feature = "lab")]
pub mod train;

pub use cache::{CacheState, ForecastCache};
pub use features::{DwellFeatures, FeatureKey, FEATURE_COUNT, FEATURE_NAMES};
pub use model::{DwellModel, Hyperparameters, ModelError, ModelMeta, TrackedMetrics, Trainer};
pub use prediction::{DwellPrediction, GRID_HOURS, GRID_LEN, REPORT_HOURS};

/// What admission policies read about dwell: a distribution for a package
/// with these features. The ground-truth dwell process stays the scenario's;
/// this is the operator's belief about it.
pub trait DwellForecast {
    fn forecast(&mut self, features: &DwellFeatures) -> &DwellPrediction;
}
