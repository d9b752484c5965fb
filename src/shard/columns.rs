//! A partial's columns: a [`Summary`] as one Float64 column per metric
//! (NaN kept as NaN, not null: the merge needs the exact bits back), and
//! the index columns beside it.

use crate::metrics::{Summary, METRIC_NAMES};
use polars::prelude::{
    Column, DataFrame, Float64Chunked, NamedFrom, PolarsResult, Series, UInt32Chunked,
};

/// A column of indices.
pub fn indices(name: &str, values: Vec<u32>) -> Column {
    Series::new(name.into(), values).into()
}

/// One column per metric, a row per summary.
pub fn metrics<'a>(summaries: impl Iterator<Item = &'a Summary> + Clone) -> Vec<Column> {
    METRIC_NAMES
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let values: Vec<f64> = summaries.clone().map(|s| s.values[m]).collect();
            Series::new((*name).into(), values).into()
        })
        .collect()
}

/// A frame's index column.
pub fn read_indices(df: &DataFrame, name: &str) -> PolarsResult<UInt32Chunked> {
    df.column(name).and_then(|c| c.u32().cloned())
}

/// A frame's metric columns, read back row by row.
pub struct MetricColumns(Vec<Float64Chunked>);

impl MetricColumns {
    pub fn read(df: &DataFrame) -> PolarsResult<Self> {
        METRIC_NAMES
            .iter()
            .map(|name| df.column(name).and_then(|c| c.f64().cloned()))
            .collect::<PolarsResult<Vec<_>>>()
            .map(MetricColumns)
    }

    /// Row `row`'s summary; None where a value is null.
    pub fn at(&self, row: usize) -> Option<Summary> {
        let mut s = Summary {
            values: [f64::NAN; METRIC_NAMES.len()],
        };
        for (v, col) in s.values.iter_mut().zip(&self.0) {
            *v = col.get(row)?;
        }
        Some(s)
    }
}
