//! The one feature pipeline: what the forest sees about a package at the
//! moment it is deposited. Training (from history rows) and prediction (inside
//! the simulator) both go through [`DwellFeatures::encode`], so they cannot
//! drift apart. Every feature is discrete — utilization in 5% steps, lead time
//! in whole hours — which keeps the set of distinct inputs small enough for the
//! simulator to cache predictions.

use crate::domain::{LocationKind, Size, Tier};
use crate::engine::time::{day_of_week, hour_of_day, HOUR};
use crate::engine::Millis;

/// Feature names in encoding order. A model records them; loading a model
/// trained on a different list is an error.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "tier",
    "size",
    "kind_commuter",
    "kind_grocery",
    "kind_apartment",
    "kind_transit",
    "kind_office",
    "deposit_day_of_week",
    "deposit_hour",
    "deposit_weekend",
    "utilization_at_deposit",
    "lead_hours",
    "deposit_hour_of_week",
];
pub const FEATURE_COUNT: usize = 13;

/// Version of the encoding below; bump it when a feature changes meaning.
pub const FEATURE_VERSION: u32 = 1;

/// Utilization is rounded to this many steps (5%).
const UTILIZATION_STEPS: f64 = 20.0;
/// Longer lead times than this (hours) all look alike to the model.
const MAX_LEAD_HOURS: i64 = 120;

/// What is known about a package when it lands in a compartment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DwellFeatures {
    pub tier: Tier,
    pub size: Size,
    pub kind: LocationKind,
    pub checkout_ms: Millis,
    pub deposit_ms: Millis,
    /// The deposit in local time (`Calendar::wall`): its weekday and hour.
    pub deposit_wall: Millis,
    /// Compartments holding a package just before the deposit.
    pub occupied: u32,
    pub compartments: u32,
}

impl DwellFeatures {
    /// The feature vector, in [`FEATURE_NAMES`] order.
    pub fn encode(&self) -> [f64; FEATURE_COUNT] {
        let key = self.key();
        key.decode()
    }

    /// The discrete key the encoding is a function of (the simulator's cache key).
    pub fn key(&self) -> FeatureKey {
        let util = if self.compartments == 0 {
            0.0
        } else {
            (self.occupied as f64 / self.compartments as f64).min(1.0)
        };
        let lead_h = self.deposit_ms.saturating_sub(self.checkout_ms) / HOUR;
        FeatureKey {
            tier: self.tier.index() as u8,
            size: self.size.index() as u8,
            kind: self.kind.index() as u8,
            dow: day_of_week(self.deposit_wall) as u8,
            hour: hour_of_day(self.deposit_wall) as u8,
            util: (util * UTILIZATION_STEPS).round() as u8,
            lead: lead_h.clamp(0, MAX_LEAD_HOURS) as u8,
        }
    }
}

/// The quantized inputs: equal keys give equal feature vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureKey {
    tier: u8,
    size: u8,
    kind: u8,
    dow: u8,
    hour: u8,
    util: u8,
    lead: u8,
}

/// One word per key (its seven bytes), so a cheap integer hasher
/// (`BuildPackageHasher`) serves the memo maps: keys come from our own
/// quantization, not from an attacker.
impl std::hash::Hash for FeatureKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let bytes = [
            self.tier, self.size, self.kind, self.dow, self.hour, self.util, self.lead, 0,
        ];
        // SplitMix64's finalizer: the integer hasher keeps low bits low,
        // and hash tables index by the low bits.
        let mut z = u64::from_le_bytes(bytes);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state.write_u64(z ^ (z >> 31));
    }
}

impl FeatureKey {
    fn decode(&self) -> [f64; FEATURE_COUNT] {
        let mut v = [0.0; FEATURE_COUNT];
        v[0] = self.tier as f64;
        v[1] = self.size as f64;
        v[2 + self.kind as usize] = 1.0;
        v[7] = self.dow as f64;
        v[8] = self.hour as f64;
        v[9] = if self.dow >= 5 { 1.0 } else { 0.0 };
        v[10] = self.util as f64 / UTILIZATION_STEPS;
        v[11] = self.lead as f64;
        // Redundant with day and hour, but one split on it can isolate
        // "Friday evening" where the pair needs several.
        v[12] = (self.dow as usize * 24 + self.hour as usize) as f64;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::DAY;

    fn features(deposit_ms: Millis) -> DwellFeatures {
        DwellFeatures {
            tier: Tier::TwoDay,
            size: Size::L,
            kind: LocationKind::Transit,
            checkout_ms: 0,
            deposit_ms,
            deposit_wall: deposit_ms,
            occupied: 13,
            compartments: 40,
        }
    }

    #[test]
    fn encodes_every_feature_in_documented_order() {
        // Saturday 19:30, 5 days + 19.5 h after a Monday-midnight checkout.
        let v = features(5 * DAY + 19 * HOUR + 30 * 60_000).encode();
        assert_eq!(
            v,
            [2.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 5.0, 19.0, 1.0, 0.35, 120.0, 139.0]
        );
    }

    #[test]
    fn equal_keys_mean_equal_vectors_and_quantization_is_coarse() {
        let a = features(DAY + 10 * HOUR);
        let mut b = a;
        b.deposit_ms += 59 * 60_000; // same hour
        b.occupied = 14; // 35% either way
        assert_eq!(a.key(), b.key());
        assert_eq!(a.encode(), b.encode());
        b.deposit_ms += 60_000;
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn names_match_the_vector_length() {
        assert_eq!(FEATURE_NAMES.len(), features(0).encode().len());
    }
}
