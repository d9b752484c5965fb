//! Tier partitioning (the article's 30/50/20): each tier may hold up to a fixed
//! share of the location's compartments; what no tier owns is a buffer any
//! tier may overflow into. A request is accepted only if, in addition, every
//! accepted reservation can still be honoured from the compartments available
//! now, so without faults a driver never finds the locker full.

use super::{Admission, AdmissionRequest};
use crate::domain::{LockerView, Tier};
use serde::{Deserialize, Serialize};

/// Share of compartments owned by each tier; the rest (1 − sum) is the buffer.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierShares {
    #[serde(default)]
    pub same_day: f64,
    #[serde(default)]
    pub next_day: f64,
    #[serde(default)]
    pub two_day: f64,
    #[serde(default)]
    pub standard: f64,
}

impl TierShares {
    pub fn get(&self, tier: Tier) -> f64 {
        match tier {
            Tier::SameDay => self.same_day,
            Tier::NextDay => self.next_day,
            Tier::TwoDay => self.two_day,
            Tier::Standard => self.standard,
        }
    }

    pub fn sum(&self) -> f64 {
        Tier::ALL.iter().map(|&t| self.get(t)).sum()
    }
}

impl Default for TierShares {
    /// 30% same-day, 50% next-day, 20% buffer (the article's example).
    fn default() -> Self {
        Self {
            same_day: 0.3,
            next_day: 0.5,
            two_day: 0.0,
            standard: 0.0,
        }
    }
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TierPartition {
    #[serde(default)]
    pub shares: TierShares,
}

impl TierPartition {
    pub fn validate(&self) -> Result<(), (String, String)> {
        for t in Tier::ALL {
            let s = self.shares.get(t);
            if !(0.0..=1.0).contains(&s) {
                return Err((format!("shares.{t}"), format!("must be in [0, 1], got {s}")));
            }
        }
        let sum = self.shares.sum();
        if sum > 1.0 + 1e-9 {
            return Err((
                "shares".into(),
                format!("must sum to at most 1 (the rest is the buffer), got {sum}"),
            ));
        }
        Ok(())
    }

    /// Compartments owned by `tier` at a location of `total` compartments.
    pub fn quota(&self, tier: Tier, total: u32) -> u32 {
        // Truncation is floor for non-negative values, without a libm call
        // on the admission path.
        (self.shares.get(tier) * total as f64 + 1e-9) as u32
    }

    pub fn admit(&self, view: &LockerView, request: &AdmissionRequest) -> Admission {
        if !view.can_commit(request.size) {
            return Admission::Reject;
        }
        let total = view.total_capacity();
        let quotas = Tier::ALL.map(|t| self.quota(t, total));
        let t = request.tier.index();
        if view.held_by_tier[t] < quotas[t] {
            return Admission::ReserveCapacity;
        }
        let buffer = total - quotas.iter().sum::<u32>();
        let in_buffer: u32 = (0..4)
            .map(|i| view.held_by_tier[i].saturating_sub(quotas[i]))
            .sum();
        if in_buffer < buffer {
            Admission::ReserveCapacity
        } else {
            Admission::Reject
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Size;

    fn view(held: [u32; 4]) -> LockerView {
        LockerView {
            capacity: [10, 0, 0, 0],
            available: [10, 0, 0, 0],
            held_by_tier: held,
            ..LockerView::default()
        }
    }

    fn ask(tp: &TierPartition, v: &LockerView, tier: Tier) -> Admission {
        tp.admit(
            v,
            &AdmissionRequest {
                now: 0,
                tier,
                size: Size::S,
                due_by: 0,
            },
        )
    }

    #[test]
    fn tiers_fill_their_share_then_the_buffer() {
        let tp = TierPartition::default(); // 3 same-day, 5 next-day, 2 buffer of 10
        assert_eq!(
            ask(&tp, &view([2, 0, 0, 0]), Tier::SameDay),
            Admission::ReserveCapacity
        );
        // Same-day full; buffer free.
        assert_eq!(
            ask(&tp, &view([3, 0, 0, 0]), Tier::SameDay),
            Admission::ReserveCapacity
        );
        // Two-day owns nothing; buffer used up by same-day overflow.
        assert_eq!(
            ask(&tp, &view([5, 0, 0, 0]), Tier::TwoDay),
            Admission::Reject
        );
        // Next-day still has its own share even though the buffer is gone.
        assert_eq!(
            ask(&tp, &view([5, 4, 0, 0]), Tier::NextDay),
            Admission::ReserveCapacity
        );
    }

    #[test]
    fn never_commits_beyond_what_is_available_now() {
        let tp = TierPartition::default();
        let v = LockerView {
            available: [1, 0, 0, 0],
            pending: [1, 0, 0, 0],
            ..view([0, 1, 0, 0])
        };
        assert_eq!(ask(&tp, &v, Tier::SameDay), Admission::Reject);
    }

    #[test]
    fn shares_are_validated() {
        let tp = TierPartition {
            shares: TierShares {
                same_day: 0.7,
                next_day: 0.5,
                ..TierShares::default()
            },
        };
        assert_eq!(tp.validate().unwrap_err().0, "shares");
        let tp = TierPartition {
            shares: TierShares {
                same_day: -0.1,
                ..TierShares::default()
            },
        };
        assert_eq!(tp.validate().unwrap_err().0, "shares.same_day");
    }
}
