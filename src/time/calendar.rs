//! Local calendar time: which weekday and hour an instant is where the
//! lockers stand. Demand profiles, opening hours, pickup hours, the
//! optimized policy's day and the dwell model's features all read local
//! time; the simulator and `serve` share this one conversion, so a forecast
//! feature computed on a real clock equals the simulated one.
//!
//! Instants (`Millis`) count from an origin: a scenario's start (its start
//! date, 00:00 local) in the simulator, the Unix epoch on a real clock.
//! Local time is expressed as "wall" milliseconds: the local date and
//! time of day counted from Monday 1970-01-05 00:00, so that weekday and
//! hour fall out of integer division (`day_of_week`, `hour_of_day`,
//! `hour_of_week`) and weekly opening hours can read it directly.

use super::{Millis, DAY, HOUR, SECOND};
use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// Wall time 0: Monday 1970-01-05 00:00, four days after the Unix epoch.
const WALL_EPOCH: Millis = 4 * DAY;

/// The default start: a Monday, so scenarios written before calendars
/// existed (whose hour-of-week profiles start on a Monday) keep their
/// results.
pub const DEFAULT_START: &str = "2024-01-01";

/// Offsets are tabulated this far around the instants a run uses; outside
/// the table the time zone database is asked directly (slower, same answer).
const TABLE_MARGIN: Millis = 400 * DAY;

#[derive(Clone)]
pub struct Calendar {
    tz: Tz,
    /// Unix milliseconds of instant 0.
    origin: Millis,
    /// Spans of constant UTC offset within `table`: (first instant, offset).
    spans: Vec<(Millis, Millis)>,
    table: (Millis, Millis),
    /// Local days (see `day`) when lockers with opening hours stay shut:
    /// holidays, sorted. Day numbers are dates, the same on any origin.
    closed: std::sync::Arc<[i64]>,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Calendar({}, origin {} ms)", self.tz.name(), self.origin)
    }
}

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.tz == other.tz && self.origin == other.origin && self.closed == other.closed
    }
}

impl Default for Calendar {
    /// Instant 0 is Monday 2024-01-01 00:00 UTC.
    fn default() -> Self {
        Self::starting(DEFAULT_START, "UTC", 0).expect("the default calendar is valid")
    }
}

/// A time zone name from the IANA database ("Europe/Warsaw", "UTC").
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!(
            "unknown time zone `{name}` (expected an IANA name such as `Europe/Warsaw` or `UTC`)"
        )
    })
}

impl Calendar {
    /// Instant 0 is `start` (YYYY-MM-DD) at 00:00 in `timezone`; offsets are
    /// tabulated for instants in 0..`span`.
    pub fn starting(start: &str, timezone: &str, span: Millis) -> Result<Self, String> {
        let tz = parse_timezone(timezone)?;
        let date = NaiveDate::parse_from_str(start, "%Y-%m-%d")
            .map_err(|_| format!("expected a date as YYYY-MM-DD, got `{start}`"))?;
        let midnight = date.and_hms_opt(0, 0, 0).expect("00:00 exists");
        // Where midnight does not exist (a zone that skips it), the first
        // instant after the gap.
        let origin = tz
            .from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                (1..=24 * 4).find_map(|q| {
                    let later = midnight + chrono::Duration::minutes(15 * q);
                    tz.from_local_datetime(&later).earliest()
                })
            })
            .ok_or_else(|| format!("{start} 00:00 does not exist in {timezone}"))?
            .timestamp_millis();
        Ok(Self::new(tz, origin, (0, span)))
    }

    /// A real clock: instants are Unix milliseconds, local time is `tz`'s;
    /// offsets are tabulated around `now`.
    pub fn real_clock(tz: Tz, now: Millis) -> Self {
        Self::new(tz, 0, (now, now + 366 * DAY))
    }

    fn new(tz: Tz, origin: Millis, (from, to): (Millis, Millis)) -> Self {
        let mut cal = Self {
            tz,
            origin,
            spans: Vec::new(),
            table: (from - TABLE_MARGIN, to + TABLE_MARGIN),
            closed: std::sync::Arc::new([]),
        };
        cal.spans = cal.tabulate();
        cal
    }

    /// The same calendar with lockers that keep opening hours shut on
    /// local days `days` (holidays; see `day`).
    pub fn with_closed_days(mut self, mut days: Vec<i64>) -> Self {
        days.sort_unstable();
        days.dedup();
        self.closed = days.into();
        self
    }

    /// Local days when lockers with opening hours stay shut, sorted.
    pub fn closed_days(&self) -> &[i64] {
        &self.closed
    }

    /// Whether local day `day` is a holiday on which lockers with opening
    /// hours stay shut.
    pub fn is_closed_day(&self, day: i64) -> bool {
        !self.closed.is_empty() && self.closed.binary_search(&day).is_ok()
    }

    /// The local day of a date.
    pub fn day_of_date(date: NaiveDate) -> i64 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 5).expect("a date");
        (date - epoch).num_days()
    }

    /// The date of local day `day`.
    pub fn date_of_day(day: i64) -> NaiveDate {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 5).expect("a date");
        epoch + chrono::Duration::days(day)
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Unix milliseconds of instant 0.
    pub fn origin(&self) -> Millis {
        self.origin
    }

    /// The UTC offset at instant `t`, straight from the database.
    fn offset_slow(&self, t: Millis) -> Millis {
        let unix = self.origin.saturating_add(t);
        let utc = chrono::DateTime::from_timestamp_millis(unix)
            .unwrap_or_default()
            .naive_utc();
        self.tz
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc() as Millis
            * SECOND
    }

    /// Spans of constant offset across the table: sampled every 6 hours
    /// (zones change at most a few times a year, never twice in 6 hours),
    /// each change found to the millisecond by bisection.
    fn tabulate(&self) -> Vec<(Millis, Millis)> {
        let (from, to) = self.table;
        let step = 6 * HOUR;
        let mut spans = vec![(Millis::MIN, self.offset_slow(from))];
        let mut t = from;
        while t < to {
            let next = (t + step).min(to);
            let (before, after) = (self.offset_slow(t), self.offset_slow(next));
            if before != after {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.offset_slow(mid) == before {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                spans.push((hi, after));
            }
            t = next;
        }
        spans
    }

    /// The UTC offset at instant `t`.
    pub fn offset(&self, t: Millis) -> Millis {
        if self.spans.len() == 1 {
            return self.spans[0].1;
        }
        if t < self.table.0 || t >= self.table.1 {
            return self.offset_slow(t);
        }
        let i = self.spans.partition_point(|&(start, _)| start <= t);
        self.spans[i - 1].1
    }

    /// Local date and time of instant `t`, as wall milliseconds.
    pub fn wall(&self, t: Millis) -> Millis {
        self.origin + t + self.offset(t) - WALL_EPOCH
    }

    /// The earliest instant whose local time is `wall` (after a clock
    /// change that skipped it, the change itself).
    pub fn instant(&self, wall: Millis) -> Millis {
        let base = wall + WALL_EPOCH - self.origin;
        // Every zone's offset lies within ±15 h.
        let reach = 15 * HOUR;
        let exact = [-reach, 0, reach]
            .into_iter()
            .map(|d| base - self.offset(base + d))
            .filter(|&t| self.wall(t) == wall)
            .min();
        if let Some(t) = exact {
            return t;
        }
        // In a gap: local time is increasing across it, so bisect.
        let (mut lo, mut hi) = (base - reach, base + reach);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.wall(mid) >= wall {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// 0 = Monday … 6 = Sunday, local.
    pub fn day_of_week(&self, t: Millis) -> usize {
        super::day_of_week(self.wall(t))
    }

    /// 0 … 23, local.
    pub fn hour_of_day(&self, t: Millis) -> usize {
        super::hour_of_day(self.wall(t))
    }

    /// 0 … 167 from Monday 00:00, local.
    pub fn hour_of_week(&self, t: Millis) -> usize {
        super::hour_of_week(self.wall(t))
    }

    /// The local day `t` falls in (days since the wall epoch).
    pub fn day(&self, t: Millis) -> i64 {
        self.wall(t).div_euclid(DAY)
    }

    /// The instant local day `day` begins.
    pub fn day_start(&self, day: i64) -> Millis {
        self.instant(day * DAY)
    }

    /// Local date and time of instant `t`, for messages.
    pub fn describe(&self, t: Millis) -> String {
        let wall = self.wall(t) + WALL_EPOCH;
        let naive = chrono::DateTime::from_timestamp_millis(wall)
            .map(|d| d.naive_utc())
            .unwrap_or(NaiveDateTime::MIN);
        format!("{} {}", naive.format("%a %Y-%m-%d %H:%M"), self.tz.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{MINUTE, WEEK};

    #[test]
    fn the_default_calendar_is_the_old_monday_origin() {
        let cal = Calendar::default();
        for t in [
            0,
            5 * HOUR,
            2 * DAY + 13 * HOUR,
            9 * WEEK + 3 * DAY + 23 * HOUR,
        ] {
            assert_eq!(cal.hour_of_week(t), super::super::hour_of_week(t));
            assert_eq!(cal.day_of_week(t), super::super::day_of_week(t));
            assert_eq!(cal.instant(cal.wall(t)), t);
        }
        assert_eq!(cal.describe(0), "Mon 2024-01-01 00:00 UTC");
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        // Warsaw: CET (+1) in winter, CEST (+2) from 2026-03-29 02:00.
        let cal = Calendar::starting("2026-03-23", "Europe/Warsaw", 30 * DAY).unwrap();
        assert_eq!(cal.describe(0), "Mon 2026-03-23 00:00 Europe/Warsaw");
        assert_eq!(cal.origin(), 1_774_220_400_000); // 2026-03-22T23:00Z
                                                     // A week later the clock shows 01:00: an hour went missing.
        assert_eq!(cal.describe(WEEK), "Mon 2026-03-30 01:00 Europe/Warsaw");
        assert_eq!(cal.day_of_week(WEEK), 0);
        assert_eq!(cal.hour_of_day(WEEK), 1);
        // Local midnight of that Monday is 23 hours of instants earlier.
        let monday = cal.day_start(cal.day(WEEK));
        assert_eq!(monday, WEEK - HOUR);
        // 02:30 on the 29th does not exist: the change at 02:00 (= 03:00).
        let sunday = cal.day_start(cal.day(6 * DAY));
        let gap = cal.instant(cal.wall(sunday) + 2 * HOUR + 30 * MINUTE);
        assert_eq!(cal.describe(gap), "Sun 2026-03-29 03:00 Europe/Warsaw");
        assert_eq!(gap, sunday + 2 * HOUR);
    }

    #[test]
    fn a_real_clock_counts_from_the_unix_epoch() {
        let tz = parse_timezone("Europe/Warsaw").unwrap();
        // 2026-12-02T17:00Z is Wednesday 18:00 in Warsaw (CET).
        let now = 1_796_230_800_000;
        let cal = Calendar::real_clock(tz, now);
        assert_eq!(cal.day_of_week(now), 2);
        assert_eq!(cal.hour_of_day(now), 18);
        assert_eq!(cal.describe(now), "Wed 2026-12-02 18:00 Europe/Warsaw");
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
