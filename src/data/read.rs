//! Reading history files: CSV with the csv crate, Parquet with polars. Every
//! column is read as text and parsed here, row by row, so that a bad value is
//! reported with its row (and line), its column and what was expected — in
//! CSV and Parquet alike. `skip_bad_rows` turns those errors into a tally
//! instead.

use super::{Format, COLUMNS, WARMUP_COLUMN};
use crate::domain::{LocationKind, Size, Tier};
use crate::metrics::Outcome;
use crate::sim::history::HistoryRecord;
use crate::time::MAX_RECORD_TIME;
use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;
use polars_utils::mmap::{MemReader, MemSlice};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryLoad {
    pub records: Vec<HistoryRecord>,
    /// Data rows in the file (header excluded).
    pub rows_read: usize,
    /// Skipped rows by reason ("column: expected …"), with `skip_bad_rows`.
    pub skipped: BTreeMap<String, usize>,
}

impl ReadError {
    /// A row that `--skip-bad-rows` would have skipped.
    pub fn is_bad_row(&self) -> bool {
        matches!(self, ReadError::BadRow { .. } | ReadError::Ragged { .. })
    }
}

impl HistoryLoad {
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    // A bad row's message does not suggest `--skip-bad-rows`: only the
    // commands that take it do (replay never skips).
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: missing column `{column}` (history files have columns {expected})")]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        expected: String,
    },
    #[error("{path}: {at}: {fields} fields where the header has {expected}")]
    Ragged {
        path: PathBuf,
        at: String,
        fields: usize,
        expected: usize,
    },
    #[error("{path}: {at}, column `{column}`: expected {expected}, got {got}")]
    BadRow {
        path: PathBuf,
        at: String,
        column: &'static str,
        expected: String,
        got: String,
    },
}

/// A problem with one value of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub column: &'static str,
    pub expected: String,
    pub got: String,
}

pub fn read_history(path: &Path, skip_bad_rows: bool) -> Result<HistoryLoad, ReadError> {
    let format = Format::of(path)
        .ok_or_else(|| file_error(path, "expected a .csv or .parquet history file"))?;
    if !path.is_file() {
        return Err(file_error(path, "no such file"));
    }
    let mut rows = Rows::new(path, skip_bad_rows);
    match format {
        Format::Csv => {
            let file = std::fs::File::open(path).map_err(|e| file_error(path, e.to_string()))?;
            read_csv(std::io::BufReader::new(file), path, &mut rows)?
        }
        Format::Parquet => {
            // In memory once: the page check and polars read the same bytes.
            let bytes = crate::files::read_limited(path, crate::files::MAX_DATA)
                .map_err(|e| file_error(path, e.to_string()))?;
            read_parquet(Arc::new(bytes), path, &mut rows)?
        }
    }
    Ok(rows.load)
}

/// [`read_history`] on a file's bytes already in memory; `name` gives the
/// format (by its extension) and names the file in errors.
pub fn read_history_bytes(
    bytes: &[u8],
    name: &Path,
    skip_bad_rows: bool,
) -> Result<HistoryLoad, ReadError> {
    let format = Format::of(name)
        .ok_or_else(|| file_error(name, "expected a .csv or .parquet history file"))?;
    let mut rows = Rows::new(name, skip_bad_rows);
    match format {
        Format::Csv => read_csv(bytes, name, &mut rows)?,
        Format::Parquet => read_parquet(Arc::new(bytes.to_vec()), name, &mut rows)?,
    }
    Ok(rows.load)
}

/// [`read_history`] on a DataFrame already in memory (the Python
/// package's): the same columns, checks and errors as a file's; `name`
/// stands for the file in errors.
pub fn read_history_frame(
    df: &DataFrame,
    name: &Path,
    skip_bad_rows: bool,
) -> Result<HistoryLoad, ReadError> {
    let mut rows = Rows::new(name, skip_bad_rows);
    super::contain::contain(|| rows_of_frame(df, name, &mut rows))
        .map_err(|m| file_error(name, format!("unreadable frame (polars: {m})")))??;
    Ok(rows.load)
}

fn file_error(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The rows of one file as they are read: parsed, checked, tallied.
struct Rows<'p> {
    path: &'p Path,
    skip_bad_rows: bool,
    load: HistoryLoad,
    /// The row (1-based) that first used each order id: a repeated id would
    /// replay (or train on) one order twice.
    first_row: HashMap<u64, usize>,
}

impl<'p> Rows<'p> {
    fn new(path: &'p Path, skip_bad_rows: bool) -> Self {
        Rows {
            path,
            skip_bad_rows,
            load: HistoryLoad {
                records: Vec::new(),
                rows_read: 0,
                skipped: BTreeMap::new(),
            },
            first_row: HashMap::new(),
        }
    }

    /// One data row; `get(i)` is column `COLUMNS[i]` (None if empty) and
    /// `at` says where the row is, for an error.
    fn push<'a>(
        &mut self,
        at: impl FnOnce() -> String,
        get: impl Fn(usize) -> Option<&'a str>,
    ) -> Result<(), ReadError> {
        self.load.rows_read += 1;
        let row = self.load.rows_read;
        let parsed = parse_row(get).and_then(|r| match self.first_row.get(&r.order_id) {
            Some(&first) => Err(RowError {
                column: COLUMNS[0],
                expected: "an order id not used before".into(),
                got: format!("\"{}\", as in row {first}", r.order_id),
            }),
            None => {
                self.first_row.insert(r.order_id, row);
                Ok(r)
            }
        });
        match parsed {
            Ok(r) => {
                self.load.records.push(r);
                Ok(())
            }
            Err(e) => self.refuse(format!("{}: expected {}", e.column, e.expected), || {
                ReadError::BadRow {
                    path: self.path.to_path_buf(),
                    at: at(),
                    column: e.column,
                    expected: e.expected.clone(),
                    got: e.got.clone(),
                }
            }),
        }
    }

    /// A row that cannot be read: tallied under `reason` with
    /// `skip_bad_rows`, else the error.
    fn refuse(
        &mut self,
        reason: String,
        error: impl FnOnce() -> ReadError,
    ) -> Result<(), ReadError> {
        if self.skip_bad_rows {
            *self.load.skipped.entry(reason).or_default() += 1;
            Ok(())
        } else {
            Err(error())
        }
    }
}

/// CSV with the csv crate, record by record: errors name the line, a row
/// with too few or too many fields is refused as such (it was blamed on
/// whichever column came up empty), and memory holds one record at a time.
fn read_csv(input: impl std::io::Read, path: &Path, rows: &mut Rows) -> Result<(), ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let at_line = |r: &csv::ByteRecord| r.position().map_or(0, |p| p.line());
    let csv_error = |e: csv::Error| file_error(path, e.to_string());
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(file_error(
            path,
            format!(
                "empty; expected a header line naming the columns {}",
                COLUMNS.join(", ")
            ),
        ));
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = String::from_utf8_lossy(name);
            // A byte-order mark (Excel's "CSV UTF-8") is not part of the name.
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                &name
            };
            name.trim().to_string()
        })
        .collect();
    let mut index = [0usize; COLUMNS.len()];
    for (c, column) in COLUMNS.iter().enumerate() {
        index[c] =
            header
                .iter()
                .position(|h| h == column)
                .ok_or_else(|| ReadError::MissingColumn {
                    path: path.to_path_buf(),
                    column,
                    expected: COLUMNS.join(", "),
                })?;
    }
    let warmup = header.iter().position(|h| h == WARMUP_COLUMN);
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = at_line(&record);
        if record.iter().all(<[u8]>::is_empty) {
            // A blank line (editors add one at the end) is not a row.
            continue;
        }
        let at = || format!("row {} (line {line})", rows.load.rows_read + 1);
        if record.len() != header.len() {
            let at = at();
            rows.load.rows_read += 1;
            let (fields, width) = (record.len(), header.len());
            rows.refuse("a row with as many fields as the header".into(), || {
                ReadError::Ragged {
                    path: path.to_path_buf(),
                    at,
                    fields,
                    expected: width,
                }
            })?;
            continue;
        }
        let mut text: [Option<&str>; COLUMNS.len() + 1] = [None; COLUMNS.len() + 1];
        let mut not_text = None;
        for (c, &i) in index.iter().chain(&warmup).enumerate() {
            match std::str::from_utf8(&record[i]) {
                Ok(s) => text[c] = Some(s).filter(|s| !s.is_empty()),
                Err(_) => not_text = not_text.or(Some(c)),
            }
        }
        if let Some(c) = not_text {
            let at = at();
            rows.load.rows_read += 1;
            let column = column_name(c);
            rows.refuse(format!("{column}: expected UTF-8 text"), || {
                ReadError::BadRow {
                    path: path.to_path_buf(),
                    at,
                    column,
                    expected: "UTF-8 text".into(),
                    got: "bytes that are not".into(),
                }
            })?;
            continue;
        }
        let at = at();
        rows.push(|| at, |c| text[c])?;
    }
    Ok(())
}

/// Parquet with polars; every column read as text and parsed like CSV's.
fn read_parquet(bytes: Arc<Vec<u8>>, path: &Path, rows: &mut Rows) -> Result<(), ReadError> {
    let file_err = |m: String| file_error(path, m);
    let damaged = |m: String| file_err(format!("damaged Parquet file (polars: {m})"));
    let input = || std::io::Cursor::new(bytes.as_slice());
    super::contain::contain(|| plain_parquet_columns(input()))
        .map_err(damaged)?
        .map_err(file_err)?;
    let pages = MemReader::new(MemSlice::from_arc(bytes.as_slice(), bytes.clone()));
    super::contain::contain(|| check_pages(pages))
        .map_err(damaged)?
        .map_err(|m| file_err(format!("damaged Parquet file: {m}")))?;
    let df = super::contain::contain(|| ParquetReader::new(input()).finish())
        .map_err(damaged)?
        .map_err(|e| file_err(e.to_string()))?;
    // A damaged page can also decode to a column whose chunks disagree with
    // its length; reading it panics, so the rows are read contained too.
    super::contain::contain(|| rows_of_frame(&df, path, rows)).map_err(damaged)?
}

fn rows_of_frame(df: &DataFrame, path: &Path, rows: &mut Rows) -> Result<(), ReadError> {
    let file_err = |m: String| file_error(path, m);
    let mut text = Vec::with_capacity(COLUMNS.len());
    for column in COLUMNS {
        let c = df.column(column).map_err(|_| ReadError::MissingColumn {
            path: path.to_path_buf(),
            column,
            expected: COLUMNS.join(", "),
        })?;
        let c = c
            .cast(&DataType::String)
            .map_err(|e| file_err(format!("column `{column}`: {e}")))?;
        text.push(c);
    }
    if let Ok(c) = df.column(WARMUP_COLUMN) {
        let c = c
            .cast(&DataType::String)
            .map_err(|e| file_err(format!("column `{WARMUP_COLUMN}`: {e}")))?;
        text.push(c);
    }
    let cols: Vec<&StringChunked> = text
        .iter()
        .map(|c| c.str())
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(e.to_string()))?;
    rows.load.records.reserve(df.height());
    rows.first_row.reserve(df.height());
    for row in 0..df.height() {
        rows.push(
            || format!("row {}", row + 1),
            |c: usize| {
                cols.get(c)
                    .and_then(|col| col.get(row))
                    .filter(|s| !s.is_empty())
            },
        )?;
    }
    Ok(())
}

/// A non-negative integer, also as pandas writes one from a column with
/// gaps (`155347459.0`: its integers become floats).
fn whole_number(s: &str) -> Option<u64> {
    let digits = match s.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        Some(_) => return None,
        None => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every column of a Parquet history must be integers, floats or text,
/// plain or dictionary-encoded (pandas `category`, polars `Categorical`):
/// polars would stop the process on decimal, nested or other columns it
/// cannot read as text.
fn plain_parquet_columns(input: impl MmapBytesReader) -> Result<(), String> {
    use polars::prelude::ArrowDataType as T;
    let schema = ParquetReader::new(input)
        .schema()
        .map_err(|e| e.to_string())?;
    for (name, field) in schema.iter() {
        let values = match &field.dtype {
            T::Dictionary(_, values, _) => values.as_ref(),
            plain => plain,
        };
        let plain = matches!(
            values,
            T::Null
                | T::Boolean
                | T::Int8
                | T::Int16
                | T::Int32
                | T::Int64
                | T::UInt8
                | T::UInt16
                | T::UInt32
                | T::UInt64
                | T::Float32
                | T::Float64
                | T::Utf8
                | T::LargeUtf8
                | T::Utf8View
        );
        if !plain {
            return Err(format!(
                "column `{}` is stored as {:?}; history columns must be plain integers or text \
                 (from pandas, convert it first: df[\"{0}\"] = df[\"{0}\"].astype(str))",
                name.chars().take(60).collect::<String>(),
                field.dtype
            ));
        }
    }
    Ok(())
}

/// polars sizes its buffers from the value counts in page headers: a
/// damaged count (a negative one read as 2⁶⁴) makes it ask for exabytes, and
/// a failed allocation aborts the process where no error handling can
/// catch it. So every data page is read here first (headers only, nothing
/// decoded) and its counts checked against its row group.
fn check_pages(mut input: MemReader) -> Result<(), String> {
    use polars_parquet::parquet::page::CompressedPage;
    use polars_parquet::parquet::read::{get_page_iterator, read_metadata};
    // polars' own bound on one page.
    const MAX_PAGE: usize = 1 << 30;
    let meta = read_metadata(&mut input).map_err(|e| e.to_string())?;
    let roots: Vec<_> = meta
        .schema()
        .columns()
        .iter()
        .filter_map(|c| c.path_in_schema.first().cloned())
        .collect();
    for (g, group) in meta.row_groups.iter().enumerate() {
        let rows = group.num_rows();
        if rows > i64::MAX as usize {
            return Err(format!("row group {g} claims {rows} rows"));
        }
        for root in &roots {
            for chunk in group.columns_under_root_iter(root).into_iter().flatten() {
                let pages = get_page_iterator(chunk, input.clone(), Vec::new(), MAX_PAGE)
                    .map_err(|e| e.to_string())?;
                for page in pages {
                    if let CompressedPage::Data(page) = page.map_err(|e| e.to_string())? {
                        if page.num_values() > rows || page.uncompressed_size() > MAX_PAGE {
                            return Err(format!(
                                "a page of column `{}` in row group {g} claims {} values ({} bytes) where the group has {rows} rows",
                                root.chars().take(60).collect::<String>(),
                                page.num_values(),
                                page.uncompressed_size()
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Column `c` of a row: `COLUMNS[c]`, then the optional warm-up mark.
fn column_name(c: usize) -> &'static str {
    COLUMNS.get(c).copied().unwrap_or(WARMUP_COLUMN)
}

/// Parses and checks one row; `get(i)` is column `COLUMNS[i]` (and
/// `COLUMNS.len()` the optional `warmup`), None if empty.
pub fn parse_row<'a>(get: impl Fn(usize) -> Option<&'a str>) -> Result<HistoryRecord, RowError> {
    let err = |c: usize, expected: &str, got: Option<&str>| RowError {
        column: column_name(c),
        expected: expected.to_string(),
        got: got.map_or("an empty value".into(), |g| format!("\"{g}\"")),
    };
    let required = |c: usize| get(c).ok_or_else(|| err(c, "a value", None));
    let int = |c: usize| -> Result<Option<u64>, RowError> {
        match get(c) {
            None => Ok(None),
            Some(s) => whole_number(s.trim())
                .map(Some)
                .ok_or_else(|| err(c, "a non-negative integer", Some(s))),
        }
    };
    // Times are Millis (i64); a negative or overlong one is as wrong as a
    // word (and one beyond any run would overflow the replay's clock).
    let ms = |c: usize| -> Result<Option<i64>, RowError> {
        Ok(match int(c)? {
            None => None,
            Some(v) => Some(
                i64::try_from(v)
                    .ok()
                    .filter(|&t| t <= MAX_RECORD_TIME)
                    .ok_or_else(|| {
                        err(
                            c,
                            &format!(
                                "milliseconds since the scenario start, at most {MAX_RECORD_TIME} (twenty years)"
                            ),
                            get(c),
                        )
                    })?,
            ),
        })
    };
    let one_of = |c: usize, names: &[&'static str]| -> Result<usize, RowError> {
        let v = required(c)?;
        names
            .iter()
            .position(|n| *n == v)
            .ok_or_else(|| err(c, &format!("one of {}", names.join(", ")), Some(v)))
    };

    let order_id = int(0)?.ok_or_else(|| err(0, "a value", None))?;
    let location_id = required(1)?.to_string();
    let kind_names: Vec<_> = LocationKind::ALL.iter().map(|k| k.name()).collect();
    let location_kind = LocationKind::ALL[one_of(2, &kind_names)?];
    let tier_names: Vec<_> = Tier::ALL.iter().map(|t| t.name()).collect();
    let tier = Tier::ALL[one_of(3, &tier_names)?];
    let size_names: Vec<_> = Size::ALL.iter().map(|s| s.name()).collect();
    let size = Size::ALL[one_of(4, &size_names)?];
    let checkout_ms = ms(5)?.ok_or_else(|| err(5, "a value", None))?;
    let outcome_names: Vec<_> = Outcome::ALL.iter().map(|o| o.name()).collect();
    let outcome = Outcome::ALL[one_of(6, &outcome_names)?];
    let deposit_location_id = get(7).map(str::to_string);
    let deposit_ms = ms(8)?;
    let pickup_ms = ms(9)?;
    let retrieval_ms = ms(10)?;
    let occupied_at_deposit = int(11)?;
    let compartments = int(12)?;

    let show = |v: Option<i64>| v.map(|t| t.to_string());
    let show_n = |v: Option<u64>| v.map(|t| t.to_string());
    if let Some(d) = deposit_ms {
        if d < checkout_ms {
            return Err(err(
                8,
                "a time at or after checkout_ms",
                show(deposit_ms).as_deref(),
            ));
        }
        if deposit_location_id.is_none() {
            return Err(err(7, "the deposit locker (deposit_ms is set)", None));
        }
        let comps = compartments.ok_or_else(|| err(12, "a value (deposit_ms is set)", None))?;
        let occ =
            occupied_at_deposit.ok_or_else(|| err(11, "a value (deposit_ms is set)", None))?;
        if comps == 0 || comps > u32::MAX as u64 {
            return Err(err(
                12,
                "a positive compartment count",
                show_n(compartments).as_deref(),
            ));
        }
        if occ >= comps {
            return Err(err(
                11,
                "fewer than `compartments` (the deposit needs a free one)",
                show_n(occupied_at_deposit).as_deref(),
            ));
        }
    }
    for (c, t) in [(9, pickup_ms), (10, retrieval_ms)] {
        if let Some(t) = t {
            match deposit_ms {
                None => {
                    return Err(err(
                        c,
                        "no value for a package never deposited",
                        show(Some(t)).as_deref(),
                    ))
                }
                Some(d) if t < d => {
                    return Err(err(
                        c,
                        "a time at or after deposit_ms",
                        show(Some(t)).as_deref(),
                    ))
                }
                _ => {}
            }
        }
    }
    if pickup_ms.is_some() && retrieval_ms.is_some() {
        return Err(err(
            10,
            "no value for a package that was picked up",
            show(retrieval_ms).as_deref(),
        ));
    }
    let consistent = match outcome {
        Outcome::RejectedAtCheckout => deposit_ms.is_none(),
        Outcome::PickedUp => pickup_ms.is_some(),
        Outcome::ExpiredReturned => pickup_ms.is_none() && deposit_ms.is_some(),
        Outcome::ReroutedAlternateLocker | Outcome::ReroutedDoorstep => true,
    };
    if !consistent {
        return Err(err(
            6,
            "an outcome matching the times (picked_up needs pickup_ms, \
             expired_returned a deposit without pickup, rejected_at_checkout no deposit)",
            Some(outcome.name()),
        ));
    }
    Ok(HistoryRecord {
        order_id,
        location_id,
        location_kind,
        tier,
        size,
        checkout_ms,
        outcome,
        deposit_location_id,
        deposit_ms,
        pickup_ms,
        retrieval_ms,
        occupied_at_deposit: occupied_at_deposit.map(|v| v as u32),
        compartments: compartments.map(|v| v as u32),
        warmup: match get(COLUMNS.len()).map(str::trim) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            other => return Err(err(COLUMNS.len(), "true or false", other)),
        },
        compartment: None,
        checkout_seq: 0,
        scan_seq: None,
        end_seq: None,
    })
}
