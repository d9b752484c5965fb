//! What the history targets share.

use lockerlab::data::read_history_bytes;
use std::path::Path;

/// Reads `data` as a history file with extension `ext`, leniently and (for
/// one input in four, as a reader costs more to build than most inputs to
/// read) strictly too; checks what a load promises about its counts.
pub fn read_history_bytes_both_ways(ext: &str, data: &[u8]) {
    let name = format!("fuzz.{ext}");
    let name = Path::new(&name);
    let lenient = read_history_bytes(data, name, true);
    if let Ok(load) = &lenient {
        assert_eq!(load.records.len() + load.skipped_total(), load.rows_read);
    }
    let pick = data.iter().fold(0u8, |h, &b| h.rotate_left(3) ^ b);
    if pick % 4 != 0 {
        return;
    }
    match read_history_bytes(data, name, false) {
        Ok(strict) => {
            assert_eq!(strict.skipped_total(), 0);
            assert_eq!(strict.records.len(), strict.rows_read);
            // A file accepted strictly reads the same with --skip-bad-rows.
            let lenient = lenient.as_ref().expect("strict ok implies lenient ok");
            assert_eq!(lenient.records, strict.records);
        }
        // A file refused strictly was refused leniently or had rows to skip.
        Err(_) => assert!(lenient.map_or(true, |l| l.skipped_total() > 0)),
    }
}
