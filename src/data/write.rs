//! Writing history as CSV or Parquet (chosen by the file extension).

use super::Format;
use crate::sim::history::HistoryRecord;
use anyhow::{bail, Context};
use polars::prelude::*;
use std::path::Path;

pub fn write_history(path: &Path, rows: &[HistoryRecord]) -> anyhow::Result<()> {
    let Some(format) = Format::of(path) else {
        bail!("{}: history files end in .csv or .parquet", path.display());
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match format {
        Format::Csv => write_csv(path, rows),
        Format::Parquet => write_parquet(path, rows),
    }
    .with_context(|| format!("writing {}", path.display()))
}

fn write_csv(path: &Path, rows: &[HistoryRecord]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

fn write_parquet(path: &Path, rows: &[HistoryRecord]) -> anyhow::Result<()> {
    let mut df = history_frame(rows)?;
    let file = std::fs::File::create(path)?;
    ParquetWriter::new(file).finish(&mut df)?;
    Ok(())
}

/// History as a DataFrame, the columns of docs/data.md (the Parquet file's,
/// and the Python package's `history()`).
pub fn history_frame(rows: &[HistoryRecord]) -> PolarsResult<DataFrame> {
    fn col<T, F>(name: &str, rows: &[HistoryRecord], f: F) -> Column
    where
        F: Fn(&HistoryRecord) -> T,
        Series: NamedFrom<Vec<T>, [T]>,
    {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<T>>()).into()
    }
    DataFrame::new(vec![
        col("order_id", rows, |r| r.order_id),
        col("location_id", rows, |r| r.location_id.clone()),
        col("location_kind", rows, |r| {
            r.location_kind.name().to_string()
        }),
        col("tier", rows, |r| r.tier.name().to_string()),
        col("size", rows, |r| r.size.name().to_string()),
        col("checkout_ms", rows, |r| r.checkout_ms),
        col("outcome", rows, |r| r.outcome.name().to_string()),
        col("deposit_location_id", rows, |r| {
            r.deposit_location_id.clone()
        }),
        col("deposit_ms", rows, |r| r.deposit_ms),
        col("pickup_ms", rows, |r| r.pickup_ms),
        col("retrieval_ms", rows, |r| r.retrieval_ms),
        col("occupied_at_deposit", rows, |r| r.occupied_at_deposit),
        col("compartments", rows, |r| r.compartments),
        col(super::WARMUP_COLUMN, rows, |r| r.warmup),
    ])
}
