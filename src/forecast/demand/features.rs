//! What the demand forecast sees for one locker, tier and day: the day's
//! place in the week, the year and the operator's calendar, and the
//! locker's own recent demand — only days at least a week before the day
//! forecast, so one model serves every lead time of a week-long plan.
//!
//! Counts enter as ratios to the locker's level (its mean over the four
//! weeks ending a week before), and the forest predicts the day's ratio:
//! lockers of every size share what a Monday or a peak does to demand.
//! Features are quantized to at most 256 values each, as the histogram
//! trainer needs.

use super::events::EventCalendar;
use crate::domain::Tier;
use crate::time::Calendar;
use chrono::Datelike;

pub const DEMAND_FEATURE_COUNT: usize = 12;

pub const DEMAND_FEATURE_NAMES: [&str; DEMAND_FEATURE_COUNT] = [
    "tier",
    "weekday",
    "month",
    "peak",
    "holiday",
    "peak_a_week_before",
    "holiday_a_week_before",
    "log_level",
    "ratio_a_week_before",
    "ratio_two_weeks_before",
    "ratio_week_ending_a_week_before",
    "ratio_same_weekday_last_4_weeks",
];

/// The nearest day a feature reads is this many days before the day forecast.
pub const MIN_LAG_DAYS: i64 = 7;
/// The level is the mean over these many days ending `MIN_LAG_DAYS` before.
pub const LEVEL_DAYS: i64 = 28;
/// The oldest day a feature reads, counted back from the day forecast.
pub const LOOKBACK_DAYS: i64 = MIN_LAG_DAYS + LEVEL_DAYS - 1;

/// One row: the features and the level the forest's ratio multiplies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandRow {
    pub x: [f64; DEMAND_FEATURE_COUNT],
    /// Mean orders a day over the level window; 0 means no recent demand,
    /// and then the forecast is 0.
    pub level: f64,
}

/// The row for `tier` on local day `day`, from `count(d)` (the orders of
/// day `d`, None where unknown), or None if a day it reads is unknown.
pub fn demand_row(
    events: &EventCalendar,
    tier: Tier,
    day: i64,
    count: impl Fn(i64) -> Option<f64>,
) -> Option<DemandRow> {
    let mean = |from: i64, to: i64| -> Option<f64> {
        let mut sum = 0.0;
        for d in from..=to {
            sum += count(d)?;
        }
        Some(sum / (to - from + 1) as f64)
    };
    let level = mean(day - LOOKBACK_DAYS, day - MIN_LAG_DAYS)?;
    let ratio = |v: f64| {
        if level > 0.0 {
            quantize_ratio(v / level)
        } else {
            0.0
        }
    };
    let lag = |weeks: i64| count(day - 7 * weeks);
    let same_weekday = (lag(1)? + lag(2)? + lag(3)? + lag(4)?) / 4.0;
    let date = Calendar::date_of_day(day);
    let x = [
        tier.index() as f64,
        date.weekday().num_days_from_monday() as f64,
        date.month() as f64,
        events.peak_on(day).min(255) as f64,
        events.holiday_on(day).min(255) as f64,
        events.peak_on(day - 7).min(255) as f64,
        events.holiday_on(day - 7).min(255) as f64,
        quantize_log_level(level),
        ratio(lag(1)?),
        ratio(lag(2)?),
        ratio(mean(day - 13, day - 7)?),
        ratio(same_weekday),
    ];
    Some(DemandRow { x, level })
}

/// Ratios in steps of 1/40 up to 6 (241 values).
fn quantize_ratio(r: f64) -> f64 {
    (r.clamp(0.0, 6.0) * 40.0).round() / 40.0
}

/// ln(1 + level) in steps of 1/30 (at most 256 values: levels to ~5,000
/// orders a day, the rest share the top bin).
fn quantize_log_level(level: f64) -> f64 {
    ((level.max(0.0).ln_1p() * 30.0).round()).min(255.0) / 30.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn monday() -> i64 {
        Calendar::day_of_date(NaiveDate::from_ymd_opt(2025, 6, 2).unwrap())
    }

    #[test]
    fn reads_only_days_a_week_or_more_before() {
        let t = monday();
        let cal = EventCalendar::default();
        // Mondays twice as busy as the other days, which have 10 orders.
        let count = |d: i64| {
            assert!(
                d <= t - MIN_LAG_DAYS && d >= t - LOOKBACK_DAYS,
                "read day {d}"
            );
            Some(if (d - t).rem_euclid(7) == 0 {
                20.0
            } else {
                10.0
            })
        };
        let row = demand_row(&cal, Tier::NextDay, t, count).unwrap();
        let level = (4.0 * 20.0 + 24.0 * 10.0) / 28.0;
        assert!((row.level - level).abs() < 1e-12);
        assert_eq!(row.x[0], Tier::NextDay.index() as f64);
        assert_eq!((row.x[1], row.x[2]), (0.0, 6.0), "Monday in June");
        assert_eq!(row.x[8], quantize_ratio(20.0 / level));
        assert_eq!(row.x[11], quantize_ratio(20.0 / level));
        assert_eq!(row.x[10], quantize_ratio((20.0 + 60.0) / 7.0 / level));
    }

    #[test]
    fn an_unknown_day_means_no_row_and_no_demand_means_zero_level() {
        let cal = EventCalendar::default();
        let t = monday();
        assert!(demand_row(&cal, Tier::Standard, t, |d| (d > t - 20).then_some(1.0)).is_none());
        let quiet = demand_row(&cal, Tier::Standard, t, |_| Some(0.0)).unwrap();
        assert_eq!(quiet.level, 0.0);
        assert!(quiet.x[8..].iter().all(|&r| r == 0.0));
    }

    #[test]
    fn quantized_features_fit_a_byte() {
        let mut levels: Vec<f64> = (0..100_000)
            .map(|i| quantize_log_level(i as f64 * 0.1))
            .collect();
        levels.dedup();
        assert!(levels.len() <= 256, "{}", levels.len());
        let mut ratios: Vec<f64> = (0..10_000)
            .map(|i| quantize_ratio(i as f64 * 0.001))
            .collect();
        ratios.dedup();
        assert!(ratios.len() <= 256, "{}", ratios.len());
    }
}
