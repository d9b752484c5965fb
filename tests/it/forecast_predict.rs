//! `lockerlab forecast predict`: per-package forecasts out, as CSV and
//! Parquet, one row per deposited package, consistent and calibrated.

use crate::common::cli;
use cli::{lockerlab, stderr};
use lockerlab::data::predictions::columns;
use polars::prelude::*;

const HOLDOUT: &str = "data/history-holdout.parquet";

fn predict(out: &std::path::Path) {
    let o = lockerlab(&[
        "forecast",
        "predict",
        "models/default",
        HOLDOUT,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("forecasts"), "{}", stderr(&o));
}

#[test]
fn every_deposited_package_gets_a_consistent_calibrated_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("pred.csv");
    let parquet_path = dir.path().join("pred.parquet");
    predict(&csv_path);
    predict(&parquet_path);

    let history = lockerlab::data::read_history(HOLDOUT.as_ref(), false).unwrap();
    let deposited = history
        .records
        .iter()
        .filter(|r| r.deposit_ms.is_some())
        .count();

    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, columns());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), deposited);
    let num = |r: &csv::StringRecord, name: &str| r[col(name)].parse::<f64>().unwrap();
    let (mut said, mut happened, mut ended) = (0.0, 0.0, 0.0);
    for r in &rows {
        let (q10, q50, q90) = (
            num(r, "q10_hours"),
            num(r, "q50_hours"),
            num(r, "q90_hours"),
        );
        assert!(0.0 <= q10 && q10 <= q50 && q50 <= q90, "{r:?}");
        let ps: Vec<f64> = ["6", "12", "24", "48", "72"]
            .iter()
            .map(|h| num(r, &format!("p_within_{h}h")))
            .collect();
        assert!(ps.windows(2).all(|w| w[0] <= w[1]), "{r:?}");
        assert!(ps.iter().all(|p| (0.0..=1.0).contains(p)), "{r:?}");
        if !r[col("dwell_hours")].is_empty() {
            ended += 1.0;
            said += ps[2];
            happened += f64::from(num(r, "dwell_hours") <= 24.0);
        }
    }
    assert!(ended > 1000.0);
    let (said, happened) = (said / ended, happened / ended);
    assert!(
        (said - happened).abs() < 0.03,
        "P(dwell <= 24 h): forecast {said:.3}, observed {happened:.3}"
    );

    // The Parquet file holds the same numbers.
    let df = ParquetReader::new(std::fs::File::open(&parquet_path).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), rows.len());
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, columns());
    let means = df.column("mean_hours").unwrap().f64().unwrap().clone();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(means.get(i), Some(num(r, "mean_hours")));
    }
}

#[test]
fn predict_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockerlab(&[
        "forecast",
        "predict",
        "models/default",
        HOLDOUT,
        "--out",
        dir.path().join("pred.xlsx").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected a .csv or .parquet file"),
        "{}",
        stderr(&o)
    );
}
