//! Orders offered per locker, tier and local day, counted from a history
//! file: every order the customer placed at their home locker, accepted or
//! not (demand, not what the policy let through). Warm-up rows count too:
//! demand does not depend on how full the lockers were.

use crate::demand::history::HistoryRecord;
use crate::domain::Tier;
use crate::time::{Calendar, Millis};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct DemandSeries {
    /// Local day of the first column.
    pub first_day: i64,
    pub days: usize,
    /// Location ids, sorted.
    pub locations: Vec<String>,
    /// `counts[location * days + day - first_day][tier]`.
    counts: Vec<[u32; Tier::COUNT]>,
}

impl DemandSeries {
    /// Counts `records` of a run of `span` ms on `calendar` (instant 0 is
    /// the run's start) by local day; a last day the run ends inside is
    /// left out. A row outside the run is an error naming it.
    pub fn from_records(
        records: &[HistoryRecord],
        calendar: &Calendar,
        span: Millis,
    ) -> Result<Self, String> {
        if span <= 0 {
            return Err(format!("the run's span must be positive, got {span} ms"));
        }
        let first_day = calendar.day(0);
        let last = calendar.day(span - 1);
        let partial = calendar.day_start(last + 1) > span;
        let days = (last - first_day + 1 - partial as i64).max(0) as usize;
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for r in records {
            index.insert(&r.location_id, 0);
        }
        for (i, v) in index.values_mut().enumerate() {
            *v = i;
        }
        let mut counts = vec![[0u32; Tier::COUNT]; index.len() * days];
        for (row, r) in records.iter().enumerate() {
            if !(0..span).contains(&r.checkout_ms) {
                return Err(format!(
                    "row {} (order {}): checkout_ms {} is outside the scenario's run [0, {span}) \
                     — is this history from another scenario?",
                    row + 1,
                    r.order_id,
                    r.checkout_ms
                ));
            }
            let d = (calendar.day(r.checkout_ms) - first_day) as usize;
            if d < days {
                counts[index[r.location_id.as_str()] * days + d][r.tier.index()] += 1;
            }
        }
        Ok(DemandSeries {
            first_day,
            days,
            locations: index.keys().map(|s| s.to_string()).collect(),
            counts,
        })
    }

    /// Orders offered at location `loc` (an index into `locations`) on
    /// local day `day`, None outside the series.
    pub fn get(&self, loc: usize, tier: Tier, day: i64) -> Option<f64> {
        let d = usize::try_from(day - self.first_day).ok()?;
        (d < self.days).then(|| self.counts[loc * self.days + d][tier.index()] as f64)
    }

    /// A series of `counts(location, day index)` for tests.
    #[cfg(test)]
    pub(crate) fn from_fn(
        first_day: i64,
        days: usize,
        locations: usize,
        counts: impl Fn(usize, usize) -> [u32; Tier::COUNT],
    ) -> Self {
        DemandSeries {
            first_day,
            days,
            locations: (0..locations).map(|l| format!("L{l}")).collect(),
            counts: (0..locations)
                .flat_map(|l| (0..days).map(move |d| (l, d)))
                .map(|(l, d)| counts(l, d))
                .collect(),
        }
    }

    /// The local days of the series.
    pub fn day_range(&self) -> std::ops::Range<i64> {
        self.first_day..self.first_day + self.days as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR};

    fn order(id: u64, loc: &str, tier: Tier, at: Millis) -> HistoryRecord {
        HistoryRecord {
            order_id: id,
            location_id: loc.into(),
            location_kind: crate::domain::LocationKind::ALL[0],
            tier,
            size: crate::domain::Size::M,
            checkout_ms: at,
            outcome: crate::metrics::location::Outcome::RejectedAtCheckout,
            deposit_location_id: None,
            deposit_ms: None,
            pickup_ms: None,
            retrieval_ms: None,
            occupied_at_deposit: None,
            compartments: None,
            warmup: id == 1,
            compartment: None,
            checkout_seq: 0,
            scan_seq: None,
            end_seq: None,
        }
    }

    #[test]
    fn counts_by_location_tier_and_local_day_and_drops_a_partial_last_day() {
        let cal = Calendar::starting("2025-03-01", "Europe/Warsaw", 10 * DAY).unwrap();
        let rows = [
            order(1, "b", Tier::SameDay, 0),
            order(2, "b", Tier::SameDay, 23 * HOUR),
            order(3, "a", Tier::Standard, DAY + HOUR),
            order(4, "a", Tier::Standard, 2 * DAY + 12 * HOUR),
        ];
        let s = DemandSeries::from_records(&rows, &cal, 2 * DAY + 13 * HOUR).unwrap();
        assert_eq!(s.days, 2, "the third day is cut short");
        assert_eq!(s.locations, ["a", "b"]);
        let d0 = s.first_day;
        assert_eq!(s.get(1, Tier::SameDay, d0), Some(2.0), "warm-up rows count");
        assert_eq!(s.get(0, Tier::Standard, d0 + 1), Some(1.0));
        assert_eq!(s.get(0, Tier::Standard, d0 + 2), None);
        let e = DemandSeries::from_records(&rows, &cal, DAY).unwrap_err();
        assert!(e.contains("row 3") && e.contains("another scenario"), "{e}");
    }
}
