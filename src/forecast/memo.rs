//! Predictions memoized per model, shared by every user of the model in the
//! process: the regions of a run, the replications, the points of a sweep.
//! A prediction is a function of the feature key alone, so sharing changes
//! no number, only how often a forest is walked (each region's service sees
//! a few hundred deposits, most of them with a key it has not seen, but
//! the same keys recur across regions).

use super::features::FeatureKey;
use super::prediction::DwellPrediction;
use crate::domain::locker::BuildPackageHasher;
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many predictions are kept (~200 bytes each): the key space
/// is millions, and a long run should not hold them all.
const CAPACITY: usize = 1 << 20;

#[derive(Default)]
pub struct PredictionMemo(Mutex<HashMap<FeatureKey, DwellPrediction, BuildPackageHasher>>);

impl PredictionMemo {
    /// The memoized prediction for `key`, else `compute()` (remembered
    /// while there is room).
    pub fn get_or(
        &self,
        key: FeatureKey,
        compute: impl FnOnce() -> DwellPrediction,
    ) -> DwellPrediction {
        if let Some(p) = self.lock().get(&key) {
            return p.clone();
        }
        // Computed without the lock held: another thread may compute the
        // same key meanwhile, to the same value.
        let p = compute();
        let mut memo = self.lock();
        if memo.len() < CAPACITY {
            memo.insert(key, p.clone());
        }
        p
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<FeatureKey, DwellPrediction, BuildPackageHasher>> {
        // A panic while held leaves the map whole (inserts are atomic).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A clone starts empty: it memoizes for its own model value.
impl Clone for PredictionMemo {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Memoized predictions are not part of a model's value.
impl PartialEq for PredictionMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for PredictionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PredictionMemo({} predictions)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LocationKind, Size, Tier};
    use crate::forecast::features::DwellFeatures;
    use crate::forecast::prediction::GRID_LEN;
    use std::cell::Cell;

    fn features(occupied: u32) -> DwellFeatures {
        DwellFeatures {
            tier: Tier::NextDay,
            size: Size::M,
            kind: LocationKind::Grocery,
            checkout_ms: 0,
            deposit_ms: 3_600_000,
            deposit_wall: 3_600_000,
            occupied,
            compartments: 40,
        }
    }

    #[test]
    fn a_key_is_computed_once_and_then_shared_by_clones_of_the_holder() {
        let memo = std::sync::Arc::new(PredictionMemo::default());
        let walks = Cell::new(0);
        let predict = |mean| {
            walks.set(walks.get() + 1);
            DwellPrediction {
                mean_hours: mean,
                cdf: [0.5; GRID_LEN],
            }
        };
        let a = memo.get_or(features(10).key(), || predict(1.0));
        // Same key (occupancy quantized alike): memoized, not recomputed.
        let again = memo.clone().get_or(features(10).key(), || predict(2.0));
        assert_eq!((a.mean_hours, again.mean_hours, walks.get()), (1.0, 1.0, 1));
        let other = memo.get_or(features(40).key(), || predict(3.0));
        assert_eq!((other.mean_hours, walks.get(), memo.len()), (3.0, 2, 2));
        // A cloned memo (a cloned model) starts empty.
        assert_eq!(PredictionMemo::clone(&memo).len(), 0);
    }
}
