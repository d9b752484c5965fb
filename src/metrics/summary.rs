//! The named metrics a run reports, derived from [`LocationMetrics`]. One list
//! of (name, value) drives every output format, so JSON, CSV and the table
//! always agree on names and order.

use super::location::{LocationMetrics, Outcome};
use super::stats;
use crate::engine::time::HOUR;

/// Metric names, in output order. The first twelve are the issue-2 contract.
pub const METRIC_NAMES: [&str; 57] = [
    "offered",
    "accepted",
    "rejected",
    "acceptance_rate",
    "failed_deliveries",
    "failed_delivery_rate",
    "picked_up",
    "expired",
    "utilization",
    "dwell_hours_mean",
    "dwell_hours_p95",
    "reservation_timeouts",
    "deposited",
    "reminders_sent",
    "rerouted_doorstep",
    "rerouted_alternate_locker",
    "occupancy_hours_mean",
    "mean_occupied",
    "expired_returned",
    "wrong_code_attempts",
    "lockouts",
    "access_denials",
    "failed_full",
    "failed_jam",
    "failed_offline",
    "failed_power",
    "failed_size_mismatch",
    "served_elsewhere",
    "maintenance_compartment_hours",
    "stale_hours",
    "pickups_offline",
    "kiosk_waits",
    "door_jams",
    "sensor_mismatches",
    "app_unlocks",
    "outage_delays",
    "forecast_mae_hours",
    // Appended, so every earlier column keeps its position for scripts.
    "rejected_same_day",
    "rejected_next_day",
    "rejected_two_day",
    "rejected_standard",
    "rejected_size_s",
    "rejected_size_m",
    "rejected_size_l",
    "rejected_size_xl",
    "rejected_stale",
    "rejected_unreachable",
    "broken_promises",
    "broken_promise_rate",
    "failed_pickups",
    "failed_pickup_rate",
    "doorstep_deliveries",
    "pickup_rate",
    "reminder_pickups",
    "returns_offered",
    "returns_accepted",
    "returns_rejected",
];

/// Shown in a table even when 0: what a planner weighs first.
const HEADLINE: [&str; 7] = [
    "broken_promises",
    "broken_promise_rate",
    "failed_pickups",
    "failed_pickup_rate",
    "doorstep_deliveries",
    "pickup_rate",
    "reminder_pickups",
];

/// Metric values in `METRIC_NAMES` order. NaN means "undefined" (e.g. a rate
/// with a zero denominator) and prints as null / empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub values: [f64; METRIC_NAMES.len()],
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

impl Summary {
    /// Metrics a table shows even when 0: the life cycle's counts, rates,
    /// dwell and occupancy (the first 19) and the promises kept and broken.
    /// The rest count faults, access trouble and outages, or a forecast's
    /// error, and are 0 or undefined in a run without them.
    pub fn always_shown(metric: usize) -> bool {
        metric
            <= METRIC_NAMES
                .iter()
                .position(|m| *m == "expired_returned")
                .expect("a metric")
            || HEADLINE.contains(&METRIC_NAMES[metric])
    }

    pub fn from_metrics(m: &LocationMetrics) -> Summary {
        let offered = m.offered as f64;
        let accepted = m.accepted as f64;
        let hours = |ms: u128, n: u64| ratio(ms as f64 / HOUR as f64, n as f64);
        let window = m.window_ms as f64;
        // Every accepted order either reaches its customer through the
        // promised locker or is rerouted (to another locker or the door):
        // a reroute is the promise broken, whatever broke it (a failed
        // drop-off of any cause, a lapsed reservation).
        let broken = (m.outcome(Outcome::ReroutedAlternateLocker)
            + m.outcome(Outcome::ReroutedDoorstep)) as f64;
        let picked_up = m.outcome(Outcome::PickedUp) as f64;
        let doorstep =
            (m.outcome(Outcome::RejectedAtCheckout) + m.outcome(Outcome::ReroutedDoorstep)) as f64;
        Summary {
            values: [
                offered,
                accepted,
                m.outcome(Outcome::RejectedAtCheckout) as f64,
                ratio(accepted, offered),
                m.failed_deliveries as f64,
                ratio(m.failed_deliveries as f64, accepted),
                m.outcome(Outcome::PickedUp) as f64,
                m.expired as f64,
                ratio(m.occupied_area as f64, m.capacity_area as f64),
                hours(m.dwell_ms_sum, m.dwell_seconds.len()),
                m.dwell_seconds
                    .quantile(0.95)
                    .map_or(f64::NAN, |s| s / 3600.0),
                m.reservation_timeouts as f64,
                m.deposited as f64,
                m.reminders_sent as f64,
                m.outcome(Outcome::ReroutedDoorstep) as f64,
                m.outcome(Outcome::ReroutedAlternateLocker) as f64,
                hours(m.occupancy_ms_sum, m.vacated),
                ratio(m.occupied_area as f64, window),
                m.outcome(Outcome::ExpiredReturned) as f64,
                m.wrong_code_attempts as f64,
                m.lockouts as f64,
                m.access_denials as f64,
                m.failed_by_cause[0] as f64,
                m.failed_by_cause[1] as f64,
                m.failed_by_cause[2] as f64,
                m.failed_by_cause[3] as f64,
                m.failed_by_cause[4] as f64,
                m.served_elsewhere as f64,
                m.maintenance_area as f64 / HOUR as f64,
                m.stale_ms as f64 / HOUR as f64,
                m.pickups_offline as f64,
                m.kiosk_waits as f64,
                m.door_jams as f64,
                m.sensor_mismatches as f64,
                m.app_unlocks as f64,
                m.outage_delays as f64,
                hours(m.forecast_abs_error_ms, m.forecasts),
                m.rejected_by_tier[0] as f64,
                m.rejected_by_tier[1] as f64,
                m.rejected_by_tier[2] as f64,
                m.rejected_by_tier[3] as f64,
                m.rejected_by_size[0] as f64,
                m.rejected_by_size[1] as f64,
                m.rejected_by_size[2] as f64,
                m.rejected_by_size[3] as f64,
                m.rejected_stale as f64,
                m.rejected_unreachable as f64,
                broken,
                ratio(broken, accepted),
                m.failed_pickups as f64,
                ratio(m.failed_pickups as f64, picked_up + m.failed_pickups as f64),
                doorstep,
                ratio(
                    picked_up,
                    picked_up + m.outcome(Outcome::ExpiredReturned) as f64,
                ),
                m.reminder_pickups as f64,
                m.returns_offered as f64,
                m.returns_accepted as f64,
                m.returns_rejected as f64,
            ],
        }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        METRIC_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        METRIC_NAMES
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// Per-metric mean and 95% CI half-width across replications.
    pub fn across(replications: &[Summary]) -> (Summary, Summary) {
        let mut mean = [0.0; METRIC_NAMES.len()];
        let mut half = [0.0; METRIC_NAMES.len()];
        for i in 0..METRIC_NAMES.len() {
            let xs: Vec<f64> = replications.iter().map(|s| s.values[i]).collect();
            mean[i] = stats::mean(&xs);
            half[i] = stats::ci95_half_width(&xs);
        }
        (Summary { values: mean }, Summary { values: half })
    }
}

/// The mean of summaries added one at a time: equal, bit for bit, to
/// `Summary::across(&all).0` over the same summaries in the same order,
/// without keeping them (a location's mean over 100,000 replications).
#[derive(Debug, Clone)]
pub struct SummaryMean {
    sum: [f64; METRIC_NAMES.len()],
    finite: [u64; METRIC_NAMES.len()],
}

impl Default for SummaryMean {
    fn default() -> Self {
        // -0.0: where `Iterator::sum` of f64 starts.
        Self {
            sum: [-0.0; METRIC_NAMES.len()],
            finite: [0; METRIC_NAMES.len()],
        }
    }
}

impl SummaryMean {
    pub fn add(&mut self, s: &Summary) {
        for (i, &v) in s.values.iter().enumerate() {
            // As `stats::mean`: an undefined value (no pickups, say) is left out.
            if v.is_finite() {
                self.sum[i] += v;
                self.finite[i] += 1;
            }
        }
    }

    pub fn mean(&self) -> Summary {
        let mut values = [f64::NAN; METRIC_NAMES.len()];
        for (i, v) in values.iter_mut().enumerate() {
            if self.finite[i] > 0 {
                *v = self.sum[i] / self.finite[i] as f64;
            }
        }
        Summary { values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The folded mean is the batch mean, bit for bit, undefined values included.
        #[test]
        fn folding_gives_the_batch_mean(rows in prop::collection::vec(
            prop::collection::vec(prop_oneof![
                4 => 0.0f64..1e6,
                1 => Just(f64::NAN),
                1 => Just(0.0),
            ], METRIC_NAMES.len()),
            1..30,
        )) {
            let all: Vec<Summary> = rows
                .iter()
                .map(|r| Summary { values: r.clone().try_into().unwrap() })
                .collect();
            let mut fold = SummaryMean::default();
            for s in &all {
                fold.add(s);
            }
            let (batch, _) = Summary::across(&all);
            for (a, b) in fold.mean().values.iter().zip(batch.values) {
                prop_assert_eq!(a.to_bits(), b.to_bits());
            }
        }
    }
}
