//! Predictions memoized by feature key. Features are discrete (see
//! `features`), and in a simulated month the same few thousand keys repeat
//! hundreds of thousands of times, so each forest walk happens once per key.

use super::features::{DwellFeatures, FeatureKey};
use super::model::DwellModel;
use super::prediction::DwellPrediction;
use super::DwellForecast;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ForecastCache {
    model: Arc<DwellModel>,
    memo: HashMap<FeatureKey, DwellPrediction>,
    pub hits: u64,
    pub misses: u64,
}

impl ForecastCache {
    pub fn new(model: Arc<DwellModel>) -> ForecastCache {
        ForecastCache {
            model,
            memo: HashMap::new(),
            hits: 0,
            misses: 0,
        }
    }
}

impl DwellForecast for ForecastCache {
    fn forecast(&mut self, features: &DwellFeatures) -> &DwellPrediction {
        let key = features.key();
        match self.memo.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => {
                self.hits += 1;
                e.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                self.misses += 1;
                e.insert(self.model.predict(features))
            }
        }
    }
}
