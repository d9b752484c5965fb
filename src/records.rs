//! The rows a run command prints with `--format csv|json` and writes with
//! `--out-dir` (CSV, Parquet): built once, so stdout and the files agree.

use anyhow::Context;
use polars::prelude::{Column, DataFrame, NamedFrom, Series};
use std::io::Write;
use std::path::Path;

/// One value of a row. A column holds one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A measured value; NaN (undefined, e.g. a rate of nothing) is written
    /// as an empty CSV field, JSON null and a Parquet null.
    Float(f64),
    /// An index or a count.
    Count(u32),
    Bool(bool),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Float(v)
    }
}

impl From<u32> for Cell {
    fn from(v: u32) -> Self {
        Cell::Count(v)
    }
}

impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Cell::Bool(v)
    }
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Float(v) if v.is_nan() => String::new(),
            Cell::Float(v) => v.to_string(),
            Cell::Count(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => s.clone().into(),
            // serde_json has no NaN or infinity: both are "no value".
            Cell::Float(v) => serde_json::Number::from_f64(*v)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Cell::Count(n) => (*n).into(),
            Cell::Bool(b) => (*b).into(),
        }
    }
}

/// A table of named columns.
#[derive(Debug, Clone, Default)]
pub struct Records {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Records {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.header.len(), "a row per header");
        self.rows.push(row);
    }

    /// The table with one more column, a cell per row.
    pub fn with_column(mut self, name: &str, cells: Vec<Cell>) -> Self {
        debug_assert_eq!(cells.len(), self.rows.len(), "a cell per row");
        self.header.push(name.to_string());
        for (row, cell) in self.rows.iter_mut().zip(cells) {
            row.push(cell);
        }
        self
    }

    pub fn write_csv(&self, out: impl Write) -> anyhow::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.header)?;
        for row in &self.rows {
            w.write_record(row.iter().map(Cell::csv))?;
        }
        w.flush()?;
        Ok(())
    }

    pub fn write_csv_file(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
        self.write_csv(std::io::BufWriter::new(file))
            .with_context(|| path.display().to_string())
    }

    /// An array of objects keyed by the header.
    pub fn to_json(&self) -> serde_json::Value {
        self.rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .header
                    .iter()
                    .cloned()
                    .zip(row.iter().map(Cell::json))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect()
    }

    /// The same table as a polars frame (for Parquet), a column's type from
    /// its cells.
    pub fn to_frame(&self) -> anyhow::Result<DataFrame> {
        let columns: Vec<Column> = self
            .header
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let cells = self.rows.iter().map(|r| &r[c]);
                let name = name.as_str().into();
                let series = match self.rows.first().map(|r| &r[c]) {
                    Some(Cell::Text(_)) => Series::new(
                        name,
                        cells
                            .map(|x| match x {
                                Cell::Text(s) => Some(s.as_str()),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Some(Cell::Count(_)) => Series::new(
                        name,
                        cells
                            .map(|x| match x {
                                Cell::Count(n) => Some(*n),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Some(Cell::Bool(_)) => Series::new(
                        name,
                        cells
                            .map(|x| match x {
                                Cell::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Some(Cell::Float(_)) | None => Series::new(
                        name,
                        cells
                            .map(|x| match x {
                                Cell::Float(v) if !v.is_nan() => Some(*v),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                };
                series.into()
            })
            .collect();
        Ok(DataFrame::new(columns)?)
    }

    /// `DIR/NAME.csv` and `DIR/NAME.parquet`, both written by polars from
    /// the same frame.
    pub fn write_csv_and_parquet(&self, dir: &Path, name: &str) -> anyhow::Result<()> {
        use polars::prelude::{CsvWriter, ParquetWriter, SerWriter};
        let mut df = self.to_frame()?;
        let path = dir.join(format!("{name}.csv"));
        let file = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
        CsvWriter::new(file)
            .include_header(true)
            .finish(&mut df)
            .with_context(|| path.display().to_string())?;
        let path = dir.join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
        ParquetWriter::new(file)
            .finish(&mut df)
            .with_context(|| path.display().to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Records {
        let mut r = Records::new(["policy", "point", "rate", "feasible"]);
        r.push(vec!["a,b".into(), 0u32.into(), 0.25.into(), true.into()]);
        r.push(vec!["c".into(), 1u32.into(), f64::NAN.into(), false.into()]);
        r
    }

    #[test]
    fn csv_quotes_text_and_leaves_undefined_values_empty() {
        let mut out = Vec::new();
        sample().write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "policy,point,rate,feasible\n\"a,b\",0,0.25,true\nc,1,,false\n"
        );
    }

    #[test]
    fn json_keys_rows_by_header_and_nan_is_null() {
        let j = sample().to_json();
        assert_eq!(j[0]["policy"], "a,b");
        assert_eq!(j[0]["rate"], 0.25);
        assert_eq!(j[1]["rate"], serde_json::Value::Null);
        assert_eq!(j[1]["feasible"], false);
    }

    #[test]
    fn frames_type_columns_by_their_cells() {
        use polars::prelude::DataType;
        let df = sample().to_frame().unwrap();
        assert_eq!(df.column("policy").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("point").unwrap().dtype(), &DataType::UInt32);
        assert_eq!(df.column("rate").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("rate").unwrap().null_count(), 1);
        assert_eq!(df.column("feasible").unwrap().dtype(), &DataType::Boolean);
    }
}
