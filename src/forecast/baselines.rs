//! The baselines a forest has to beat: the global mean, the mean per tier,
//! and the empirical distribution per tier × location kind (what an operator
//! would tabulate by hand). Each predicts a full distribution (its cell's
//! empirical CDF) so that every metric compares like with like. Fitted on the
//! model's training data and stored beside it (`baselines.json`).

use super::features::FEATURE_COUNT;
use super::prediction::{DwellPrediction, GRID_HOURS, GRID_LEN};
use super::train::TrainingSet;
use crate::domain::{LocationKind, Tier};
use serde::{Deserialize, Serialize};

pub const BASELINES_FILE: &str = "baselines.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineKind {
    GlobalMean,
    TierMean,
    TierKindEmpirical,
}

impl BaselineKind {
    pub const ALL: [BaselineKind; 3] = [
        BaselineKind::GlobalMean,
        BaselineKind::TierMean,
        BaselineKind::TierKindEmpirical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaselineKind::GlobalMean => "global mean",
            BaselineKind::TierMean => "per-tier mean",
            BaselineKind::TierKindEmpirical => "tier x kind empirical",
        }
    }
}

/// Dwell statistics of one group of training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub rows: u64,
    pub mean_hours: f64,
    /// Empirical P(dwell ≤ `GRID_HOURS[i]`).
    pub cdf: Vec<f64>,
}

impl Cell {
    fn of(ys: &[f64]) -> Cell {
        let rows = ys.len() as u64;
        let mean_hours = if ys.is_empty() {
            0.0
        } else {
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        let cdf = GRID_HOURS
            .iter()
            .map(|&h| {
                if ys.is_empty() {
                    0.0
                } else {
                    ys.iter().filter(|&&y| y <= h).count() as f64 / ys.len() as f64
                }
            })
            .collect();
        Cell {
            rows,
            mean_hours,
            cdf,
        }
    }

    fn prediction(&self) -> DwellPrediction {
        let mut cdf = [0.0; GRID_LEN];
        for (c, v) in cdf.iter_mut().zip(&self.cdf) {
            *c = *v;
        }
        DwellPrediction {
            mean_hours: self.mean_hours,
            cdf,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    pub global: Cell,
    /// Indexed by `Tier::index()`.
    pub per_tier: Vec<Cell>,
    /// Indexed by tier, then `LocationKind::index()`.
    pub tier_kind: Vec<Vec<Cell>>,
}

/// Tier and kind back out of an encoded feature vector.
fn tier_and_kind(x: &[f64; FEATURE_COUNT]) -> (usize, usize) {
    let tier = (x[0] as usize).min(Tier::COUNT - 1);
    let kind = (0..LocationKind::COUNT)
        .find(|&k| x[2 + k] > 0.5)
        .unwrap_or(0);
    (tier, kind)
}

impl Baselines {
    pub fn fit(set: &TrainingSet) -> Baselines {
        let mut tier: Vec<Vec<f64>> = vec![Vec::new(); Tier::COUNT];
        let mut cell: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); LocationKind::COUNT]; Tier::COUNT];
        for (x, &y) in set.x.iter().zip(&set.y) {
            let (t, k) = tier_and_kind(x);
            tier[t].push(y);
            cell[t][k].push(y);
        }
        Baselines {
            global: Cell::of(&set.y),
            per_tier: tier.iter().map(|ys| Cell::of(ys)).collect(),
            tier_kind: cell
                .iter()
                .map(|row| row.iter().map(|ys| Cell::of(ys)).collect())
                .collect(),
        }
    }

    /// Reads `baselines.json` from a model directory.
    pub fn load(dir: &std::path::Path) -> Result<Baselines, String> {
        let path = dir.join(BASELINES_FILE);
        let text = crate::files::read_text(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let baselines: Baselines = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a baselines file: {e}", path.display()))?;
        if !baselines.is_well_formed() {
            return Err(format!("{}: wrong table shapes", path.display()));
        }
        Ok(baselines)
    }

    /// Writes `baselines.json` into a model directory.
    pub fn save(&self, dir: &std::path::Path) -> Result<(), String> {
        let path = dir.join(BASELINES_FILE);
        let json = serde_json::to_string_pretty(self).expect("baselines serialize");
        std::fs::write(&path, json + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Shape check for files read from disk (indexing must not panic).
    pub fn is_well_formed(&self) -> bool {
        let ok = |c: &Cell| c.cdf.len() == GRID_LEN;
        ok(&self.global)
            && self.per_tier.len() == Tier::COUNT
            && self.per_tier.iter().all(ok)
            && self.tier_kind.len() == Tier::COUNT
            && self
                .tier_kind
                .iter()
                .all(|r| r.len() == LocationKind::COUNT && r.iter().all(ok))
    }

    /// A group with no training rows falls back to the next coarser one.
    pub fn predict(&self, kind: BaselineKind, x: &[f64; FEATURE_COUNT]) -> DwellPrediction {
        let (t, k) = tier_and_kind(x);
        let tier = if self.per_tier[t].rows > 0 {
            &self.per_tier[t]
        } else {
            &self.global
        };
        let cell = match kind {
            BaselineKind::GlobalMean => &self.global,
            BaselineKind::TierMean => tier,
            BaselineKind::TierKindEmpirical if self.tier_kind[t][k].rows > 0 => {
                &self.tier_kind[t][k]
            }
            BaselineKind::TierKindEmpirical => tier,
        };
        cell.prediction()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tier: usize, kind: usize) -> [f64; FEATURE_COUNT] {
        let mut x = [0.0; FEATURE_COUNT];
        x[0] = tier as f64;
        x[2 + kind] = 1.0;
        x
    }

    #[test]
    fn groups_and_falls_back() {
        let set = TrainingSet {
            x: vec![row(0, 0), row(0, 0), row(0, 1), row(3, 4)],
            y: vec![2.0, 4.0, 12.0, 50.0],
        };
        let b = Baselines::fit(&set);
        assert!(b.is_well_formed());
        let p = |k, t, kind| b.predict(k, &row(t, kind)).mean_hours;
        assert_eq!(p(BaselineKind::GlobalMean, 0, 0), 17.0);
        assert_eq!(p(BaselineKind::TierMean, 0, 0), 6.0);
        assert_eq!(p(BaselineKind::TierKindEmpirical, 0, 0), 3.0);
        // Tier 0 at an office locker: no such rows, so the tier's mean.
        assert_eq!(p(BaselineKind::TierKindEmpirical, 0, 4), 6.0);
        // Tier 1 has no rows at all: the global mean.
        assert_eq!(p(BaselineKind::TierMean, 1, 0), 17.0);
        let d = b.predict(BaselineKind::TierKindEmpirical, &row(0, 0));
        assert_eq!(d.p_within(3.0), 0.5);
        assert_eq!(d.p_within(4.0), 1.0);
    }
}
