//! What the history targets share.

use lockerlab::data::read_history_bytes;
use std::path::Path;

/// Reads `data` as a history file with extension `ext`, both ways; checks
/// what a load promises about its counts.
pub fn read_history_bytes_both_ways(ext: &str, data: &[u8]) {
    let name = format!("fuzz.{ext}");
    let name = Path::new(&name);
    let strict = read_history_bytes(data, name, false);
    let lenient = read_history_bytes(data, name, true);
    if let Ok(load) = &strict {
        assert_eq!(load.skipped_total(), 0);
        assert_eq!(load.records.len(), load.rows_read);
        // A file accepted strictly reads the same with --skip-bad-rows.
        let lenient = lenient.as_ref().expect("strict ok implies lenient ok");
        assert_eq!(lenient.records, load.records);
    }
    if let Ok(load) = &lenient {
        assert_eq!(load.records.len() + load.skipped_total(), load.rows_read);
    }
}
