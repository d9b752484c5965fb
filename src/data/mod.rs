//! Package history files (docs/data.md): reading CSV and Parquet with
//! row-and-column errors, writing both, and turning rows into the forecasting
//! lab's training sets. Needs the `lab` feature (polars).

pub mod contain;
pub mod predictions;
pub mod read;
pub mod replay;
pub mod training;
pub mod write;

pub use read::{read_history, read_history_bytes, read_history_frame, HistoryLoad, ReadError};
pub use replay::attach_history;
pub use write::{history_frame, write_history};

/// Column names in file order.
pub const COLUMNS: [&str; 13] = [
    "order_id",
    "location_id",
    "location_kind",
    "tier",
    "size",
    "checkout_ms",
    "outcome",
    "deposit_location_id",
    "deposit_ms",
    "pickup_ms",
    "retrieval_ms",
    "occupied_at_deposit",
    "compartments",
];

/// An optional last column: true for orders checked out during the warm-up.
pub const WARMUP_COLUMN: &str = "warmup";

/// Which format a path names, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    pub fn of(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}
