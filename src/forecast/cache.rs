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

/// A `ForecastCache` without its model: the i-th key's prediction is the
/// i-th.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CacheState {
    keys: Vec<FeatureKey>,
    predictions: Vec<DwellPrediction>,
    hits: u64,
    misses: u64,
}

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

    /// What a snapshot keeps: the memo in index order (the model is the
    /// configuration's).
    pub fn state(&self) -> CacheState {
        let mut keys: Vec<(u32, FeatureKey)> = self.index.iter().map(|(k, &i)| (i, *k)).collect();
        keys.sort_unstable_by_key(|&(i, _)| i);
        CacheState {
            keys: keys.into_iter().map(|(_, k)| k).collect(),
            predictions: self.predictions.clone(),
            hits: self.hits,
            misses: self.misses,
        }
    }

    /// The cache a snapshot kept, on `model`.
    pub fn from_state(model: Arc<DwellModel>, s: CacheState) -> Result<ForecastCache, String> {
        if s.keys.len() != s.predictions.len() {
            return Err("a forecast memo with more keys than predictions, or fewer".into());
        }
        Ok(ForecastCache {
            model,
            index: s.keys.into_iter().zip(0u32..).collect(),
            predictions: s.predictions,
            hits: s.hits,
            misses: s.misses,
        })
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
