//! Time at the bottom of everything: instants are integer milliseconds from
//! an origin (a scenario's start, or the Unix epoch on a real clock).
//! Integers, not floats, so that event order never depends on rounding.
//! Local weekday and hour come from a [`Calendar`]; the plain functions
//! below read wall time (see `Calendar::wall`), or an instant of the
//! default calendar, whose instant 0 is a Monday 00:00 UTC.

mod calendar;

pub use calendar::{parse_timezone, Calendar, DEFAULT_START};

/// Milliseconds since the scenario started.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;
pub const WEEK: Millis = 7 * DAY;

/// The longest duration a scenario may state or a distribution may draw
/// (ten years): every time a run computes stays far from overflow, and a
/// run past its horizon ends within this of its last package.
pub const MAX_DURATION_HOURS: f64 = 24.0 * 3652.5;
pub const MAX_DURATION: Millis = (MAX_DURATION_HOURS as Millis) * HOUR;

/// The latest time a history record may name: a horizon of up to ten
/// years plus a package's durations.
pub const MAX_RECORD_TIME: Millis = 2 * MAX_DURATION;

/// Instants beyond ±35,000 years from the epoch are no clock's: the live
/// cores take any time they are handed only within this, so every sum of
/// an instant and a duration stays far from overflow.
pub const MAX_INSTANT: Millis = 1 << 50;

/// `t` brought within ±`MAX_INSTANT`.
pub fn clamp_instant(t: Millis) -> Millis {
    t.clamp(-MAX_INSTANT, MAX_INSTANT)
}

/// Converts hours (as written in a scenario) to milliseconds, rounding to the
/// nearest millisecond.
pub fn from_hours(hours: f64) -> Millis {
    (hours * HOUR as f64).round() as Millis
}

pub fn to_hours(t: Millis) -> f64 {
    t as f64 / HOUR as f64
}

/// 0 = Monday … 6 = Sunday.
pub fn day_of_week(t: Millis) -> usize {
    (t.rem_euclid(WEEK) / DAY) as usize
}

/// 0 … 23.
pub fn hour_of_day(t: Millis) -> usize {
    (t.rem_euclid(DAY) / HOUR) as usize
}

/// 0 … 167: hour of the week, Monday 00:00 = 0.
pub fn hour_of_week(t: Millis) -> usize {
    (t.rem_euclid(WEEK) / HOUR) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields() {
        let t = 2 * DAY + 13 * HOUR + 5 * MINUTE;
        assert_eq!(day_of_week(t), 2);
        assert_eq!(hour_of_day(t), 13);
        assert_eq!(hour_of_week(t), 2 * 24 + 13);
        assert_eq!(day_of_week(t + WEEK), 2);
        assert_eq!(from_hours(1.5), 90 * MINUTE);
    }
}
