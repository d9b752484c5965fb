//! Evaluation of any dwell predictor on a data set: point-estimate errors,
//! pinball losses, a calibration table with its maximum error, and
//! permutation feature importance. Everything is computed in row order, so
//! the figures are identical whatever the thread count.

use super::features::{FEATURE_COUNT, FEATURE_NAMES};
use super::model::{DwellModel, TrackedMetrics};
use super::prediction::{DwellPrediction, REPORT_HOURS};
use super::train::TrainingSet;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// Equal-count bins of the calibration table.
pub const CALIBRATION_BINS: usize = 10;

/// One decile of predicted probabilities, pooled over `REPORT_HOURS`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    pub mean_predicted: f64,
    pub observed: f64,
    pub pairs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSet {
    pub name: String,
    pub metrics: TrackedMetrics,
    pub calibration: Vec<CalibrationBin>,
}

/// The model's scores first, then every baseline's; and the model's
/// predictions (`forecast eval`, `forecast train --holdout`).
pub fn score_all(
    model: &super::DwellModel,
    baselines: &super::baselines::Baselines,
    set: &TrainingSet,
) -> (Vec<MetricSet>, Vec<DwellPrediction>) {
    let preds = predict_forest(set, model);
    let mut out = vec![score("forest", set, &preds)];
    for kind in super::baselines::BaselineKind::ALL {
        let b = predict_all(set, |x| baselines.predict(kind, x));
        out.push(score(kind.name(), set, &b));
    }
    (out, preds)
}

/// Predictions for every row, in row order.
pub fn predict_all<F>(set: &TrainingSet, predict: F) -> Vec<DwellPrediction>
where
    F: Fn(&[f64; FEATURE_COUNT]) -> DwellPrediction + Sync,
{
    set.x.par_iter().map(&predict).collect()
}

/// The model's predictions for every row, in batches across threads
/// (`DwellModel::predict_many`).
pub fn predict_forest(set: &TrainingSet, model: &DwellModel) -> Vec<DwellPrediction> {
    set.x
        .par_chunks(PREDICT_BATCH)
        .flat_map_iter(|xs| model.predict_many(xs))
        .collect()
}

/// Rows per batch: enough for a tree's nodes to be reused from cache, few
/// enough for the batch's sums to stay in it (~200 bytes a row).
pub(crate) const PREDICT_BATCH: usize = 256;

pub fn score(name: &str, set: &TrainingSet, preds: &[DwellPrediction]) -> MetricSet {
    let n = set.len().max(1) as f64;
    let mean_y = set.y.iter().sum::<f64>() / n;
    let (mut abs, mut sq, mut tot, mut pin50, mut pin90) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (p, &y) in preds.iter().zip(&set.y) {
        let e = y - p.mean_hours;
        abs += e.abs();
        sq += e * e;
        tot += (y - mean_y) * (y - mean_y);
        pin50 += pinball(0.5, y, p.quantile(0.5));
        pin90 += pinball(0.9, y, p.quantile(0.9));
    }
    let calibration = calibration_table(set, preds);
    let max_calibration_error = calibration
        .iter()
        .map(|b| (b.mean_predicted - b.observed).abs())
        .fold(0.0, f64::max);
    MetricSet {
        name: name.to_string(),
        metrics: TrackedMetrics {
            mae_hours: abs / n,
            rmse_hours: (sq / n).sqrt(),
            r2: if tot > 0.0 { 1.0 - sq / tot } else { 0.0 },
            pinball_50_hours: pin50 / n,
            pinball_90_hours: pin90 / n,
            max_calibration_error,
        },
        calibration,
    }
}

/// The quantile (pinball) loss of predicting `q_hat` for the q-quantile.
pub fn pinball(q: f64, y: f64, q_hat: f64) -> f64 {
    let d = y - q_hat;
    if d >= 0.0 {
        q * d
    } else {
        (q - 1.0) * d
    }
}

/// Pairs (predicted P(dwell ≤ t), observed 0/1) over rows × `REPORT_HOURS`,
/// sorted by prediction and cut into (up to) ten equal-count bins.
pub fn calibration_table(set: &TrainingSet, preds: &[DwellPrediction]) -> Vec<CalibrationBin> {
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(preds.len() * REPORT_HOURS.len());
    for (p, &y) in preds.iter().zip(&set.y) {
        for &h in &REPORT_HOURS {
            pairs.push((p.p_within(h), if y <= h { 1.0 } else { 0.0 }));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Equal-count bins, except that a run of tied predictions (a baseline
    // gives one value to a whole group) is never split: which side of a
    // boundary a tied pair lands on would otherwise depend on row order.
    let total = pairs.len();
    let mut bins = Vec::new();
    let mut lo = 0;
    for b in 1..=CALIBRATION_BINS {
        let mut hi = (b * total / CALIBRATION_BINS).max(lo);
        while hi > lo && hi < total && pairs[hi].0 == pairs[hi - 1].0 {
            hi += 1;
        }
        if hi == lo {
            continue;
        }
        let bin = &pairs[lo..hi];
        let k = bin.len() as f64;
        bins.push(CalibrationBin {
            mean_predicted: bin.iter().map(|p| p.0).sum::<f64>() / k,
            observed: bin.iter().map(|p| p.1).sum::<f64>() / k,
            pairs: bin.len() as u64,
        });
        lo = hi;
    }
    bins
}

/// Per horizon of `REPORT_HOURS`: mean predicted P(dwell ≤ t) against the
/// observed share — calibration-in-the-large, horizon by horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HorizonCheck {
    pub hours: f64,
    pub mean_predicted: f64,
    pub observed: f64,
}

pub fn horizon_table(set: &TrainingSet, preds: &[DwellPrediction]) -> Vec<HorizonCheck> {
    let n = preds.len().max(1) as f64;
    REPORT_HOURS
        .iter()
        .map(|&h| HorizonCheck {
            hours: h,
            mean_predicted: preds.iter().map(|p| p.p_within(h)).sum::<f64>() / n,
            observed: set.y.iter().filter(|&&y| y <= h).count() as f64 / n,
        })
        .collect()
}

/// Features permuted together: the location kind's one-hot columns are one.
pub fn feature_groups() -> Vec<(&'static str, Vec<usize>)> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < FEATURE_COUNT {
        if FEATURE_NAMES[i].starts_with("kind_") {
            let cols: Vec<usize> = (i..FEATURE_COUNT)
                .take_while(|&c| FEATURE_NAMES[c].starts_with("kind_"))
                .collect();
            i += cols.len();
            groups.push(("location_kind", cols));
        } else {
            groups.push((FEATURE_NAMES[i], vec![i]));
            i += 1;
        }
    }
    groups
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    pub feature: &'static str,
    /// MAE with the feature's values shuffled across rows, minus the MAE
    /// without (hours): how much the model leans on it.
    pub mae_increase_hours: f64,
}

/// Permutation importance of the point estimate, largest first.
pub fn permutation_importance<F>(set: &TrainingSet, predict: F, seed: u64) -> Vec<Importance>
where
    F: Fn(&[f64; FEATURE_COUNT]) -> DwellPrediction + Sync,
{
    let mae = |x: &[[f64; FEATURE_COUNT]]| -> f64 {
        let errs: Vec<f64> = x
            .par_iter()
            .zip(&set.y)
            .map(|(x, &y)| (y - predict(x).mean_hours).abs())
            .collect();
        errs.iter().sum::<f64>() / errs.len().max(1) as f64
    };
    let base = mae(&set.x);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out: Vec<Importance> = feature_groups()
        .into_iter()
        .map(|(feature, cols)| {
            let mut perm: Vec<usize> = (0..set.len()).collect();
            perm.shuffle(&mut rng);
            let shuffled: Vec<[f64; FEATURE_COUNT]> = set
                .x
                .iter()
                .zip(&perm)
                .map(|(x, &j)| {
                    let mut x = *x;
                    for &c in &cols {
                        x[c] = set.x[j][c];
                    }
                    x
                })
                .collect();
            Importance {
                feature,
                mae_increase_hours: mae(&shuffled) - base,
            }
        })
        .collect();
    out.sort_by(|a, b| b.mae_increase_hours.total_cmp(&a.mae_increase_hours));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::prediction::{GRID_HOURS, GRID_LEN};

    fn step_at(h: f64, mean: f64) -> DwellPrediction {
        let mut cdf = [0.0; GRID_LEN];
        for (c, g) in cdf.iter_mut().zip(GRID_HOURS) {
            *c = if g >= h { 1.0 } else { 0.0 };
        }
        DwellPrediction {
            mean_hours: mean,
            cdf,
        }
    }

    #[test]
    fn point_errors_match_hand_computation() {
        let set = TrainingSet {
            x: vec![[0.0; FEATURE_COUNT]; 2],
            y: vec![10.0, 20.0],
        };
        let preds = vec![step_at(12.0, 12.0), step_at(12.0, 16.0)];
        let m = score("t", &set, &preds).metrics;
        assert_eq!(m.mae_hours, 3.0);
        assert!((m.rmse_hours - 10f64.sqrt()).abs() < 1e-12);
        // SST = 50, SSE = 4 + 16.
        assert!((m.r2 - (1.0 - 20.0 / 50.0)).abs() < 1e-12);
        assert!((pinball(0.9, 20.0, 12.0) - 0.9 * 8.0).abs() < 1e-12);
        assert!((pinball(0.9, 10.0, 12.0) - 0.1 * 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_perfectly_calibrated_predictor_has_small_error_and_a_biased_one_does_not() {
        // Dwell uniform on 0..100 h; the truthful CDF is t/100.
        let n = 20_000;
        let set = TrainingSet {
            x: vec![[0.0; FEATURE_COUNT]; n],
            y: (0..n)
                .map(|i| (i as f64 + 0.5) * 100.0 / n as f64)
                .collect(),
        };
        let truthful = |scale: f64| {
            let mut cdf = [0.0; GRID_LEN];
            for (c, g) in cdf.iter_mut().zip(GRID_HOURS) {
                *c = (g * scale / 100.0).min(1.0);
            }
            DwellPrediction {
                mean_hours: 50.0,
                cdf,
            }
        };
        let good = score("good", &set, &vec![truthful(1.0); n]).metrics;
        let bad = score("bad", &set, &vec![truthful(1.5); n]).metrics;
        assert!(good.max_calibration_error < 0.01, "{good:?}");
        assert!(bad.max_calibration_error > 0.1, "{bad:?}");
    }

    #[test]
    fn importance_finds_the_only_informative_feature() {
        let n = 2_000;
        let mut set = TrainingSet::default();
        for i in 0..n {
            let mut x = [0.0; FEATURE_COUNT];
            x[8] = (i % 24) as f64; // hour matters
            x[7] = (i % 7) as f64; // day of week does not
            set.x.push(x);
            set.y.push(x[8] * 2.0);
        }
        let predict = |x: &[f64; FEATURE_COUNT]| step_at(100.0, x[8] * 2.0);
        let imp = permutation_importance(&set, predict, 7);
        assert_eq!(imp[0].feature, "deposit_hour");
        assert!(imp[0].mae_increase_hours > 5.0);
        let dow = imp
            .iter()
            .find(|i| i.feature == "deposit_day_of_week")
            .unwrap();
        assert_eq!(dow.mae_increase_hours, 0.0);
    }
}
