//! From history rows to the forest's training set, through the one feature
//! pipeline (`forecast::features`).

use crate::forecast::features::DwellFeatures;
use crate::forecast::train::TrainingSet;
use crate::sim::history::HistoryRecord;

/// Every deposited package whose stay ended (picked up, or expired and
/// retrieved): features at deposit, dwell until the compartment was freed.
pub fn training_set(records: &[HistoryRecord]) -> TrainingSet {
    let (features, y) = training_rows(records);
    TrainingSet {
        x: features.iter().map(DwellFeatures::encode).collect(),
        y,
    }
}

/// [`training_set`]'s rows before encoding: what is known at deposit, and the
/// dwell in hours.
///
/// History times count from the start of the run that wrote them; the
/// weekday and hour features read them on the default calendar (a Monday
/// 00:00 UTC start), which is every shipped history's.
pub fn training_rows(records: &[HistoryRecord]) -> (Vec<DwellFeatures>, Vec<f64>) {
    let calendar = crate::time::Calendar::default();
    let (mut features, mut y) = (Vec::new(), Vec::new());
    for r in records {
        let (Some(f), Some(dwell)) = (deposit_features(r, &calendar), dwell_hours(r)) else {
            continue;
        };
        features.push(f);
        y.push(dwell);
    }
    (features, y)
}

/// What was known of a package when it was deposited; None if it never was.
pub fn deposit_features(
    r: &HistoryRecord,
    calendar: &crate::time::Calendar,
) -> Option<DwellFeatures> {
    let (Some(deposit), Some(occupied), Some(compartments)) =
        (r.deposit_ms, r.occupied_at_deposit, r.compartments)
    else {
        return None;
    };
    Some(DwellFeatures {
        tier: r.tier,
        size: r.size,
        kind: r.location_kind,
        checkout_ms: r.checkout_ms,
        deposit_ms: deposit,
        deposit_wall: calendar.wall(deposit),
        occupied,
        compartments,
    })
}

/// How long the package held its compartment (hours), once its stay ended.
pub fn dwell_hours(r: &HistoryRecord) -> Option<f64> {
    let end = r.pickup_ms.or(r.retrieval_ms)?;
    Some(crate::engine::time::to_hours(end - r.deposit_ms?))
}

/// SHA-256 of a file's bytes, hex: what a model records about its data.
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    Ok(crate::forecast::model::sha256_hex(&std::fs::read(path)?))
}
