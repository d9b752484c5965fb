//! Per-package dwell forecasts as a file (`lockerlab forecast predict`):
//! one row per deposited package, whether or not its stay has ended, with
//! the mean, quantiles and P(dwell ≤ t) the forest predicts from what was
//! known at deposit, and the dwell that happened where it did.

use super::training::{deposit_features, dwell_hours};
use super::Format;
use crate::forecast::{DwellFeatures, DwellModel, DwellPrediction, REPORT_HOURS};
use crate::sim::history::HistoryRecord;
use anyhow::{bail, Context};
use polars::prelude::*;
use rayon::prelude::*;
use std::path::Path;

/// The quantiles written, as (column, level).
pub const QUANTILES: [(&str, f64); 3] =
    [("q10_hours", 0.1), ("q50_hours", 0.5), ("q90_hours", 0.9)];

/// One deposited package and its forecast.
#[derive(Debug, Clone)]
pub struct PredictedPackage<'a> {
    pub record: &'a HistoryRecord,
    pub prediction: DwellPrediction,
    /// The dwell that happened (hours), if the stay has ended.
    pub actual_hours: Option<f64>,
}

/// Forecasts for every deposited package of `records`, in file order.
pub fn predict_packages<'a>(
    model: &DwellModel,
    records: &'a [HistoryRecord],
) -> Vec<PredictedPackage<'a>> {
    let calendar = crate::time::Calendar::default();
    let deposited: Vec<(&HistoryRecord, DwellFeatures)> = records
        .iter()
        .filter_map(|r| Some((r, deposit_features(r, &calendar)?)))
        .collect();
    let x: Vec<_> = deposited.iter().map(|(_, f)| f.encode()).collect();
    let predictions: Vec<DwellPrediction> = x
        .par_chunks(crate::forecast::eval::PREDICT_BATCH)
        .flat_map_iter(|xs| model.predict_many(xs))
        .collect();
    deposited
        .into_iter()
        .zip(predictions)
        .map(|((record, _), prediction)| PredictedPackage {
            record,
            prediction,
            actual_hours: dwell_hours(record),
        })
        .collect()
}

/// Column names in file order.
pub fn columns() -> Vec<String> {
    let mut c: Vec<String> = [
        "order_id",
        "location_id",
        "tier",
        "size",
        "deposit_ms",
        "mean_hours",
    ]
    .map(String::from)
    .to_vec();
    c.extend(QUANTILES.iter().map(|(name, _)| name.to_string()));
    c.extend(REPORT_HOURS.iter().map(|h| format!("p_within_{h}h")));
    c.push("dwell_hours".into());
    c
}

/// Writes CSV or Parquet, by the file's extension.
pub fn write_predictions(path: &Path, rows: &[PredictedPackage]) -> anyhow::Result<()> {
    let Some(format) = Format::of(path) else {
        bail!(
            "{}: prediction files end in .csv or .parquet",
            path.display()
        );
    };
    match format {
        Format::Csv => write_csv(path, rows),
        Format::Parquet => write_parquet(path, rows),
    }
    .with_context(|| format!("writing {}", path.display()))
}

fn numbers(p: &PredictedPackage) -> Vec<f64> {
    let mut v = vec![p.prediction.mean_hours];
    v.extend(QUANTILES.iter().map(|(_, q)| p.prediction.quantile(*q)));
    v.extend(REPORT_HOURS.iter().map(|h| p.prediction.p_within(*h)));
    v
}

fn write_csv(path: &Path, rows: &[PredictedPackage]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(columns())?;
    for p in rows {
        let r = p.record;
        let mut row = vec![
            r.order_id.to_string(),
            r.location_id.clone(),
            r.tier.name().to_string(),
            r.size.name().to_string(),
            r.deposit_ms.map_or(String::new(), |d| d.to_string()),
        ];
        row.extend(numbers(p).iter().map(f64::to_string));
        row.push(p.actual_hours.map_or(String::new(), |h| h.to_string()));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn write_parquet(path: &Path, rows: &[PredictedPackage]) -> anyhow::Result<()> {
    let mut df = predictions_frame(rows)?;
    let file = std::fs::File::create(path)?;
    ParquetWriter::new(file).finish(&mut df)?;
    Ok(())
}

/// The forecasts as a DataFrame, in [`columns`] order (the Parquet
/// file's, and the Python package's `DwellModel.predict`).
pub fn predictions_frame(rows: &[PredictedPackage]) -> PolarsResult<DataFrame> {
    let names = columns();
    let mut cols: Vec<Column> = vec![
        Series::new(
            names[0].as_str().into(),
            rows.iter().map(|p| p.record.order_id).collect::<Vec<u64>>(),
        )
        .into(),
        Series::new(
            names[1].as_str().into(),
            rows.iter()
                .map(|p| p.record.location_id.clone())
                .collect::<Vec<String>>(),
        )
        .into(),
        Series::new(
            names[2].as_str().into(),
            rows.iter()
                .map(|p| p.record.tier.name())
                .collect::<Vec<&str>>(),
        )
        .into(),
        Series::new(
            names[3].as_str().into(),
            rows.iter()
                .map(|p| p.record.size.name())
                .collect::<Vec<&str>>(),
        )
        .into(),
        Series::new(
            names[4].as_str().into(),
            rows.iter()
                .map(|p| p.record.deposit_ms)
                .collect::<Vec<Option<i64>>>(),
        )
        .into(),
    ];
    let table: Vec<Vec<f64>> = rows.iter().map(numbers).collect();
    for (k, name) in names[5..names.len() - 1].iter().enumerate() {
        let values: Vec<f64> = table.iter().map(|v| v[k]).collect();
        cols.push(Series::new(name.as_str().into(), values).into());
    }
    cols.push(
        Series::new(
            "dwell_hours".into(),
            rows.iter()
                .map(|p| p.actual_hours)
                .collect::<Vec<Option<f64>>>(),
        )
        .into(),
    );
    DataFrame::new(cols)
}
