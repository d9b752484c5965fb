//! Growing the demand forest: one row per locker, tier and day with a full
//! lookback and some recent demand, the target being the day's orders over
//! the locker's level; the histogram trainer the dwell forest uses.

use super::events::EventCalendar;
use super::features::{demand_row, DemandRow, DEMAND_FEATURE_COUNT, DEMAND_FEATURE_NAMES};
use super::model::{DemandHyperparameters, DemandMeta, DemandModel, DEMAND_FORMAT_VERSION};
use super::series::DemandSeries;
use crate::domain::Tier;
use crate::forecast::grow::{grow, Binned, GrowParams};
use crate::forecast::train::tree_streams;
use rayon::prelude::*;

/// One (location, tier, day) of a series with its full lookback.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRow {
    /// Index into the series' locations.
    pub location: usize,
    pub tier: Tier,
    pub day: i64,
    pub row: DemandRow,
    /// The day's orders.
    pub orders: f64,
}

/// Every (location, tier, day) of `series` with a full lookback, in
/// location, tier, day order.
pub fn series_rows<'a>(
    series: &'a DemandSeries,
    events: &'a EventCalendar,
) -> impl Iterator<Item = SeriesRow> + 'a {
    (0..series.locations.len()).flat_map(move |location| location_rows(series, events, location))
}

/// [`series_rows`] of one location.
pub fn location_rows<'a>(
    series: &'a DemandSeries,
    events: &'a EventCalendar,
    location: usize,
) -> impl Iterator<Item = SeriesRow> + 'a {
    Tier::ALL.into_iter().flat_map(move |tier| {
        series.day_range().filter_map(move |day| {
            let count = |d: i64| series.get(location, tier, d);
            let row = demand_row(events, tier, day, count)?;
            Some(SeriesRow {
                location,
                tier,
                day,
                row,
                orders: count(day).unwrap_or(0.0),
            })
        })
    })
}

/// Features and target ratios of every usable row: a full lookback and
/// some demand in the level window.
pub fn training_rows(
    series: &DemandSeries,
    events: &EventCalendar,
) -> (Vec<[f64; DEMAND_FEATURE_COUNT]>, Vec<f64>) {
    series_rows(series, events)
        .filter(|r| r.row.level > 0.0)
        .map(|r| (r.row.x, r.orders / r.row.level))
        .unzip()
}

pub fn check_hyperparameters(hp: &DemandHyperparameters) -> Result<(), String> {
    let bad = |k: &str, m: String| Err(format!("--{k}: {m}"));
    if !(1..=10_000).contains(&hp.trees) {
        return bad("trees", format!("must be in [1, 10000], got {}", hp.trees));
    }
    if !(1..=64).contains(&hp.max_depth) {
        return bad(
            "max-depth",
            format!("must be in [1, 64], got {}", hp.max_depth),
        );
    }
    if hp.min_samples_leaf == 0 {
        return bad("min-samples-leaf", "must be at least 1".into());
    }
    for (k, v) in [
        ("sample-fraction", hp.sample_fraction),
        ("max-features", hp.max_features),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            return bad(k, format!("must be in (0, 1], got {v}"));
        }
    }
    Ok(())
}

/// Trains on `series`; `meta` is completed with the rows and the forest's
/// hash. Same inputs and seed, same forest, on any number of threads.
pub fn train(
    series: &DemandSeries,
    mut meta: DemandMeta,
    grown: &(dyn Fn() + Sync),
) -> Result<DemandModel, String> {
    let hp = meta.hyperparameters;
    check_hyperparameters(&hp)?;
    let (x, y) = training_rows(series, &meta.events);
    if x.len() < 2 * hp.min_samples_leaf as usize {
        return Err(format!(
            "{} training rows (a locker, tier and day with {} days of history before it and \
             some demand); the history is too short or empty",
            x.len(),
            super::features::LOOKBACK_DAYS + 1
        ));
    }
    let binned = Binned::new(&x)?;
    let m = ((x.len() as f64 * hp.sample_fraction).round() as usize).clamp(1, x.len());
    let params = GrowParams {
        max_depth: hp.max_depth,
        min_samples_leaf: hp.min_samples_leaf,
        min_samples_split: 2 * hp.min_samples_leaf,
        features_per_split: ((hp.max_features * DEMAND_FEATURE_COUNT as f64) as usize).max(1),
    };
    let trees = tree_streams(hp.seed, hp.trees as usize)
        .into_par_iter()
        .map(|mut rng| {
            let mut rows: Vec<u32> = rand::seq::index::sample(&mut rng, x.len(), m)
                .into_iter()
                .map(|i| i as u32)
                .collect();
            rows.sort_unstable();
            let tree = grow(&binned, &y, &rows, &params, &mut rng).map_err(|e| e.to_string());
            grown();
            tree
        })
        .collect::<Result<Vec<_>, _>>()?;
    meta.format_version = DEMAND_FORMAT_VERSION;
    meta.features = DEMAND_FEATURE_NAMES.map(String::from).to_vec();
    meta.rows = x.len() as u64;
    Ok(DemandModel::from_parts(meta, trees))
}
