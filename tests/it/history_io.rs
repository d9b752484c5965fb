//! History files: CSV and Parquet round trips, and every kind of bad value
//! reported with its row and column (or skipped and tallied).

use lockerlab::data::{read_history, write_history};
use lockerlab::scenario::Scenario;
use lockerlab::sim::history::HistoryRecord;
use lockerlab::sim::{self, RunOptions};
use std::path::Path;

fn records() -> Vec<HistoryRecord> {
    let mut sc = Scenario::from_file(Path::new("scenarios/history-sample.toml")).unwrap();
    sc.horizon = 14 * 86_400_000;
    let opts = RunOptions {
        record_history: true,
        ..RunOptions::from_scenario(&sc)
    };
    sim::run(&sc, &opts, &|_| {}).unwrap().history.remove(0)
}

#[test]
fn csv_and_parquet_round_trip() {
    let rows = records();
    assert!(rows.len() > 1000);
    assert!(rows.iter().any(|r| r.pickup_ms.is_some()));
    assert!(rows.iter().any(|r| r.deposit_ms.is_none()));
    // The first week is the sample's warm-up: marked, and round-tripped.
    let week = 7 * 86_400_000;
    assert!(rows.iter().all(|r| r.warmup == (r.checkout_ms < week)));
    assert!(rows.iter().any(|r| r.warmup) && rows.iter().any(|r| !r.warmup));
    let dir = tempfile::tempdir().unwrap();
    for name in ["h.csv", "h.parquet"] {
        let path = dir.path().join(name);
        write_history(&path, &rows).unwrap();
        let back = read_history(&path, false).unwrap();
        assert_eq!(back.rows_read, rows.len());
        let stored: Vec<_> = rows.iter().map(|r| r.as_stored()).collect();
        assert_eq!(back.records, stored, "{name}");
    }
}

const HEADER: &str = "order_id,location_id,location_kind,tier,size,checkout_ms,outcome,\
deposit_location_id,deposit_ms,pickup_ms,retrieval_ms,occupied_at_deposit,compartments";
const GOOD: &str = "1,a,commuter,next_day,S,1000,picked_up,a,5000,9000,,3,10";

fn read_csv(body: &[&str], skip: bool) -> Result<lockerlab::data::HistoryLoad, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    let mut text = String::from(HEADER);
    for line in body {
        text.push('\n');
        text.push_str(line);
    }
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    read_history(&path, skip).map_err(|e| e.to_string())
}

#[test]
fn the_warmup_mark_is_optional_and_checked() {
    // Files without the column (older ones, an operator's) have no warm-up.
    let plain = read_csv(&[GOOD], false).unwrap();
    assert!(!plain.records[0].warmup);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    let write = |rows: &[&str]| {
        let mut text = format!("{HEADER},warmup");
        for r in rows {
            text.push('\n');
            text.push_str(r);
        }
        std::fs::write(&path, text + "\n").unwrap();
        read_history(&path, false).map_err(|e| e.to_string())
    };
    let marked = write(&[&format!("{GOOD},true")]).unwrap();
    assert!(marked.records[0].warmup);
    let err = write(&[&format!("{GOOD},maybe")]).unwrap_err();
    assert!(
        err.contains("warmup") && err.contains("true or false"),
        "{err}"
    );
}

/// Once accepted: the same order twice (replayed demand and training rows
/// doubled); and one trailing blank line failed the whole file.
#[test]
fn repeated_order_ids_are_refused_and_blank_lines_ignored() {
    let again = GOOD;
    let err = read_csv(&[GOOD, again], false).unwrap_err();
    assert!(err.contains("row 2 (line 3), column `order_id`"), "{err}");
    assert!(err.contains("not used before"), "{err}");
    assert!(err.contains("as in row 1"), "{err}");
    let other = GOOD.replacen('1', "2", 1);
    let load = read_csv(&[GOOD, again, &other], true).unwrap();
    assert_eq!(load.records.len(), 2);
    assert_eq!(load.skipped_total(), 1);
    let load = read_csv(&[GOOD, "", &other, ""], false).unwrap();
    assert_eq!((load.records.len(), load.rows_read), (2, 2));
}

#[test]
fn bad_values_name_their_row_and_column() {
    let cases = [
        (
            "2,a,commuter,overnight,S,1000,picked_up,a,5000,9000,,3,10",
            "column `tier`",
            "\"overnight\"",
        ),
        (
            "2,a,commuter,next_day,S,soon,picked_up,a,5000,9000,,3,10",
            "column `checkout_ms`",
            "non-negative integer",
        ),
        (
            "2,a,commuter,next_day,S,1000,picked_up,a,5000,4000,,3,10",
            "column `pickup_ms`",
            "at or after deposit_ms",
        ),
        (
            "2,a,commuter,next_day,S,6000,picked_up,a,5000,9000,,3,10",
            "column `deposit_ms`",
            "at or after checkout_ms",
        ),
        (
            "2,a,depot,next_day,S,1000,picked_up,a,5000,9000,,3,10",
            "column `location_kind`",
            "one of commuter",
        ),
        (
            "2,a,commuter,next_day,S,1000,picked_up,a,5000,,,3,10",
            "column `outcome`",
            "picked_up needs pickup_ms",
        ),
        (
            "2,a,commuter,next_day,S,1000,picked_up,a,5000,9000,,10,10",
            "column `occupied_at_deposit`",
            "fewer than",
        ),
        // Once a panic in the replay: a time no run can reach.
        (
            "2,a,commuter,next_day,S,1000,picked_up,a,5000,9223372036854775807,,3,10",
            "column `pickup_ms`",
            "at most 631152000000",
        ),
        (
            "2,a,commuter,next_day,S,631152000001,rejected_at_checkout,,,,,,",
            "column `checkout_ms`",
            "(twenty years)",
        ),
    ];
    for (line, column, what) in cases {
        let err = read_csv(&[GOOD, line], false).unwrap_err();
        assert!(err.contains("row 2 (line 3)"), "{err}");
        assert!(err.contains(column), "{err}");
        assert!(err.contains(what), "{err}");
    }
}

#[test]
fn a_missing_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    let header = HEADER.replace(",size", "");
    let row = GOOD.replace(",S,", ",");
    std::fs::write(&path, format!("{header}\n{row}\n")).unwrap();
    let err = read_history(&path, false).unwrap_err().to_string();
    assert!(err.contains("missing column `size`"), "{err}");
}

#[test]
fn skip_bad_rows_tallies_what_it_skipped() {
    let load = read_csv(
        &[
            GOOD,
            "2,a,commuter,overnight,S,1000,picked_up,a,5000,9000,,3,10",
            "3,a,commuter,someday,S,1000,picked_up,a,5000,9000,,3,10",
            "4,a,commuter,next_day,S,1000,picked_up,a,5000,4000,,3,10",
            &GOOD.replacen('1', "5", 1),
        ],
        true,
    )
    .unwrap();
    assert_eq!(load.rows_read, 5);
    assert_eq!(load.records.len(), 2);
    assert_eq!(load.skipped_total(), 3);
    let tier = load
        .skipped
        .iter()
        .find(|(k, _)| k.starts_with("tier:"))
        .unwrap();
    assert_eq!(*tier.1, 2);
    assert!(load.skipped.keys().any(|k| k.starts_with("pickup_ms:")));
}

#[test]
fn parquet_errors_name_the_row_too() {
    let mut rows = records();
    let i = rows.iter().position(|r| r.pickup_ms.is_some()).unwrap();
    rows[i].pickup_ms = Some(rows[i].deposit_ms.unwrap() - 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.parquet");
    write_history(&path, &rows).unwrap();
    let err = read_history(&path, false).unwrap_err().to_string();
    assert!(err.contains(&format!("row {}", i + 1)), "{err}");
    assert!(err.contains("column `pickup_ms`"), "{err}");
}

#[test]
fn wrong_extensions_and_missing_files_are_errors() {
    let err = read_history(Path::new("data/nope.json"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains(".csv or .parquet"), "{err}");
    let err = read_history(Path::new("data/nope.csv"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such file"), "{err}");
}

/// Files as pandas writes them by default (written by pandas 2 with
/// pyarrow into tests/fixtures): integer columns with gaps become floats
/// (`155347459.0`), once refused; a `category` column (dictionary-encoded),
/// once a panic of polars (exit 101), then refused, now read as its text.
#[test]
fn pandas_files_read_as_pandas_writes_them() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let load = read_history(&fixtures.join("pandas-default.parquet"), false).unwrap();
    assert_eq!(load.records.len(), 5);
    assert!(load.records.iter().any(|r| r.deposit_ms.is_some()));
    let category = read_history(&fixtures.join("pandas-category.parquet"), false).unwrap();
    assert_eq!(category.records.len(), 5);
    let tiers = |l: &lockerlab::data::HistoryLoad| -> Vec<String> {
        l.records.iter().map(|r| format!("{:?}", r.tier)).collect()
    };
    assert_eq!(tiers(&category), tiers(&load));
    let floats = GOOD.replace(",5000,9000,,3,10", ",5000.0,9000.00,,3.0,10.0");
    let load = read_csv(&[&floats], false).unwrap();
    assert_eq!(load.records[0].pickup_ms, Some(9000));
    for bad in ["5000.5", "5e3", "+5000", ".0", "5000."] {
        let row = GOOD.replace(",5000,", &format!(",{bad},"));
        let err = read_csv(&[&row], false).unwrap_err();
        assert!(err.contains("column `deposit_ms`"), "{bad}: {err}");
    }
}

/// Once blamed on whichever column came up empty (`outcome`): a row with
/// too few or too many fields is refused as such, with its line.
#[test]
fn a_short_or_long_row_is_named_as_such() {
    let short = "2,a,commuter,next_day,S,1000";
    let err = read_csv(&[GOOD, short], false).unwrap_err();
    assert!(
        err.contains("row 2 (line 3): 6 fields where the header has 13"),
        "{err}"
    );
    assert!(!err.contains("outcome"), "{err}");
    let long = format!("{},7", GOOD.replacen('1', "3", 1));
    let err = read_csv(&[GOOD, &long], false).unwrap_err();
    assert!(err.contains("14 fields where the header has 13"), "{err}");
    let load = read_csv(&[GOOD, short, &long], true).unwrap();
    assert_eq!((load.records.len(), load.rows_read), (1, 3));
    assert_eq!(
        load.skipped.get("a row with as many fields as the header"),
        Some(&2)
    );
}

/// Polars' CSV errors named no line; these do, past a quoted field that
/// spans lines, and for bytes that are not UTF-8.
#[test]
fn csv_errors_name_the_line_past_quoted_newlines() {
    let quoted = "2,\"a\nb\",commuter,next_day,S,1000,rejected_at_checkout,,,,,,";
    let bad = "3,a,commuter,next_day,S,soon,rejected_at_checkout,,,,,,";
    let err = read_csv(&[GOOD, quoted, bad], false).unwrap_err();
    assert!(
        err.contains("row 3 (line 5), column `checkout_ms`"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    let mut bytes = format!("\u{feff}{HEADER}\n{GOOD}\n").into_bytes();
    std::fs::write(&path, &bytes).unwrap();
    let load = read_history(&path, false).unwrap();
    assert_eq!(
        load.records.len(),
        1,
        "a byte-order mark is not part of `order_id`"
    );
    bytes.extend_from_slice(b"4,\xff\xfe,commuter,next_day,S,1000,rejected_at_checkout,,,,,,\n");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_history(&path, false).unwrap_err().to_string();
    assert!(
        err.contains("row 2 (line 3), column `location_id`: expected UTF-8 text"),
        "{err}"
    );
    std::fs::write(&path, "").unwrap();
    let err = read_history(&path, false).unwrap_err().to_string();
    assert!(err.contains("empty; expected a header line"), "{err}");
}

/// Found by fuzzing: a dictionary page shorter than its header says made
/// polars panic (exit 101); it is a damaged file, said so.
#[test]
fn a_damaged_parquet_file_is_an_error_not_a_panic() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let err = read_history(&fixtures.join("damaged-dictionary.parquet"), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("damaged-dictionary.parquet: damaged Parquet file"),
        "{err}"
    );
}

/// The fuzz targets read bytes in memory: the same as reading the file.
#[test]
fn bytes_in_memory_read_as_the_file_does() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("h.csv");
    std::fs::write(&csv, format!("{HEADER}\n{GOOD}\n2,a,commuter,next_day,S\n")).unwrap();
    for path in [fixtures.join("pandas-default.parquet"), csv] {
        let bytes = std::fs::read(&path).unwrap();
        for skip in [false, true] {
            let from_file = read_history(&path, skip).map_err(|e| e.to_string());
            let in_memory =
                lockerlab::data::read_history_bytes(&bytes, &path, skip).map_err(|e| e.to_string());
            assert_eq!(from_file, in_memory, "{}", path.display());
        }
    }
}

/// Found by fuzzing: a page whose value count reads as 2⁶⁴ − 23 made polars
/// ask for exabytes and the process abort (no error handling can catch a
/// failed allocation); the page headers are checked first.
#[test]
fn a_page_claiming_more_values_than_its_rows_is_refused() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let err = read_history(&fixtures.join("damaged-page-count.parquet"), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("damaged Parquet file: a page of column"),
        "{err}"
    );
    assert!(err.contains("where the group has 5 rows"), "{err}");
}
