//! Predictions memoized by feature key. Features are discrete (see
//! `features`), and in a simulated month the same keys repeat many times, so
//! each forest walk happens once per key. Packages keep the index of their
//! prediction, so policies can ask about them again without a lookup.

use super::features::{DwellFeatures, FeatureKey};
use super::model::DwellModel;
use super::prediction::DwellPrediction;
use super::DwellForecast;
use crate::domain::locker::BuildPackageHasher;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ForecastCache {
    model: Arc<DwellModel>,
    index: HashMap<FeatureKey, u32, BuildPackageHasher>,
    predictions: Vec<DwellPrediction>,
    pub hits: u64,
    pub misses: u64,
}

impl ForecastCache {
    pub fn new(model: Arc<DwellModel>) -> ForecastCache {
        ForecastCache {
            model,
            index: HashMap::default(),
            predictions: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The index of the prediction for these features (computed on first use).
    pub fn index_of(&mut self, features: &DwellFeatures) -> u32 {
        let key = features.key();
        if let Some(&i) = self.index.get(&key) {
            self.hits += 1;
            return i;
        }
        self.misses += 1;
        let i = self.predictions.len() as u32;
        self.predictions.push(self.model.predict_memoized(features));
        self.index.insert(key, i);
        i
    }

    /// A prediction by the index `index_of` gave.
    pub fn get(&self, index: u32) -> &DwellPrediction {
        &self.predictions[index as usize]
    }
}

impl DwellForecast for ForecastCache {
    fn forecast(&mut self, features: &DwellFeatures) -> &DwellPrediction {
        let i = self.index_of(features);
        self.get(i)
    }
}
