//! Weekly opening hours. Drivers and customers can only use a locker while it
//! is open; an arrival outside the hours waits for the next opening.

use crate::time::{Calendar, Millis, DAY, MINUTE, WEEK};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Open interval of one day, in minutes after midnight: `open <= t < close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours {
    pub open: u16,
    pub close: u16,
}

/// Opening hours for each day of the week (Monday first). `None` = closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    days: [Option<DayHours>; 7],
    /// Cached: every day 00:00–24:00 (asked on every arrival).
    always: bool,
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl OpeningHours {
    pub const ALWAYS: OpeningHours = OpeningHours {
        days: [Some(DayHours {
            open: 0,
            close: 1440,
        }); 7],
        always: true,
    };

    pub fn new(days: [Option<DayHours>; 7]) -> Result<Self, String> {
        if days.iter().all(Option::is_none) {
            return Err("a location must be open on at least one day".into());
        }
        let always = days == Self::ALWAYS.days;
        Ok(Self { days, always })
    }

    pub fn is_always_open(&self) -> bool {
        self.always
    }

    /// Whether they are open at instant `t`, in `cal`'s local time.
    pub fn is_open(&self, cal: &Calendar, t: Millis) -> bool {
        if self.always {
            return true;
        }
        let wall = cal.wall(t);
        self.is_open_wall(wall) && !cal.is_closed_day(wall.div_euclid(DAY))
    }

    /// The earliest instant at or after `t` when they are open, in `cal`'s
    /// local time.
    pub fn next_open(&self, cal: &Calendar, t: Millis) -> Millis {
        if self.always {
            return t;
        }
        let wall = cal.wall(t);
        let mut open = self.next_open_wall(wall);
        // A holiday shuts the day: from the next day's start. Each turn
        // passes one closed day, so this ends.
        for _ in 0..cal.closed_days().len() {
            let day = open.div_euclid(DAY);
            if !cal.is_closed_day(day) {
                break;
            }
            open = self.next_open_wall((day + 1) * DAY);
        }
        if open == wall {
            t
        } else {
            cal.instant(open).max(t)
        }
    }

    /// Whether they are open at local wall time `t` (see `Calendar::wall`).
    pub fn is_open_wall(&self, t: Millis) -> bool {
        self.next_open_wall(t) == t
    }

    /// The earliest local wall time at or after `t` when they are open.
    pub fn next_open_wall(&self, t: Millis) -> Millis {
        if self.is_always_open() {
            return t;
        }
        let day_start = t - t.rem_euclid(DAY);
        // Eight days covers "closed the rest of today, opens same day next week".
        for offset in 0..8 {
            let start = day_start + offset * DAY;
            let dow = (start.rem_euclid(WEEK) / DAY) as usize;
            if let Some(h) = self.days[dow] {
                let open = start + h.open as Millis * MINUTE;
                let close = start + h.close as Millis * MINUTE;
                if t < close {
                    return t.max(open);
                }
            }
        }
        unreachable!("OpeningHours::new guarantees at least one open day")
    }

    /// Whether the two are ever open at the same time in a week (days
    /// are within midnight to midnight, so day by day is enough).
    pub fn overlaps(&self, other: &OpeningHours) -> bool {
        self.days
            .iter()
            .zip(&other.days)
            .any(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => a.open.max(b.open) < a.close.min(b.close),
                _ => false,
            })
    }

    fn describe_day(d: Option<DayHours>) -> String {
        match d {
            None => "closed".into(),
            Some(h) => format!(
                "{:02}:{:02}-{:02}:{:02}",
                h.open / 60,
                h.open % 60,
                h.close / 60,
                h.close % 60
            ),
        }
    }
}

/// Minutes after midnight of "HH:MM" (24:00 allowed), or None.
fn minutes(x: &str) -> Option<u16> {
    let (h, m) = x.trim().split_once(':')?;
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// A time of day "HH:MM" (00:00 … 23:59) as milliseconds after midnight.
pub fn parse_clock(s: &str) -> Option<Millis> {
    minutes(s)
        .filter(|&m| m < 24 * 60)
        .map(|m| m as Millis * MINUTE)
}

/// Parses "HH:MM-HH:MM" or "closed".
fn parse_day(s: &str) -> Result<Option<DayHours>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("closed") {
        return Ok(None);
    }
    let expected =
        || format!("`{s}`: expected \"HH:MM-HH:MM\" (e.g. \"07:00-22:00\") or \"closed\"");
    let (a, b) = s.split_once('-').ok_or_else(expected)?;
    let parse = |x: &str| minutes(x).ok_or_else(expected);
    let (open, close) = (parse(a)?, parse(b)?);
    if close <= open {
        return Err(format!(
            "`{s}`: closing time must be after opening time (use \"00:00-24:00\" for all day)"
        ));
    }
    Ok(Some(DayHours { open, close }))
}

impl fmt::Display for OpeningHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_always_open() {
            return f.write_str("24/7");
        }
        if self.days.iter().all(|d| *d == self.days[0]) {
            return f.write_str(&Self::describe_day(self.days[0]));
        }
        let parts: Vec<String> = DAY_KEYS
            .iter()
            .zip(self.days)
            .map(|(k, d)| format!("{k} {}", Self::describe_day(d)))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

impl Serialize for OpeningHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OpeningHours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HoursVisitor)
    }
}

struct HoursVisitor;

impl<'de> Visitor<'de> for HoursVisitor {
    type Value = OpeningHours;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "\"24/7\", a daily \"HH:MM-HH:MM\", or a table with keys default, mon, tue, wed, thu, fri, sat, sun",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OpeningHours, E> {
        if v.trim() == "24/7" {
            return Ok(OpeningHours::ALWAYS);
        }
        let day = parse_day(v).map_err(E::custom)?;
        OpeningHours::new([day; 7]).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OpeningHours, A::Error> {
        let mut default: Option<Option<DayHours>> = None;
        let mut days: [Option<Option<DayHours>>; 7] = [None; 7];
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            let parsed = parse_day(&value).map_err(de::Error::custom)?;
            if key == "default" {
                default = Some(parsed);
            } else if let Some(i) = DAY_KEYS.iter().position(|k| *k == key) {
                days[i] = Some(parsed);
            } else {
                return Err(de::Error::unknown_field(
                    &key,
                    &["default", "mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                ));
            }
        }
        let fallback = default.unwrap_or(Some(DayHours {
            open: 0,
            close: 1440,
        }));
        OpeningHours::new(days.map(|d| d.unwrap_or(fallback))).map_err(de::Error::custom)
    }
}

/// As the scenario file writes it (see the deserializer above).
#[cfg(feature = "lab")]
impl schemars::JsonSchema for OpeningHours {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OpeningHours".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let day = schemars::json_schema!({
            "type": "string",
            "description": "\"HH:MM-HH:MM\" (local time, closing after opening; \"00:00-24:00\" all day) or \"closed\"",
        });
        schemars::json_schema!({
            "description": "\"24/7\", a daily \"HH:MM-HH:MM\", or a table with keys default, mon, tue, wed, thu, fri, sat, sun",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "default": day, "mon": day, "tue": day, "wed": day,
                        "thu": day, "fri": day, "sat": day, "sun": day,
                    },
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{HOUR, MINUTE};

    fn hours(s: &str) -> OpeningHours {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn always_open_never_waits() {
        assert_eq!(OpeningHours::ALWAYS.next_open_wall(12345), 12345);
    }

    #[test]
    fn arrival_before_opening_waits_until_opening() {
        let h = hours("\"07:00-22:00\"");
        assert_eq!(h.next_open_wall(3 * HOUR), 7 * HOUR);
        assert_eq!(h.next_open_wall(10 * HOUR), 10 * HOUR);
        // After closing: next morning.
        assert_eq!(h.next_open_wall(23 * HOUR), DAY + 7 * HOUR);
        assert!(!h.is_open_wall(22 * HOUR));
        assert!(h.is_open_wall(21 * HOUR));
    }

    #[test]
    fn closed_days_are_skipped() {
        let h = hours(r#"{"default": "08:00-20:00", "sun": "closed"}"#);
        // Saturday 21:00 → Monday 08:00.
        let sat_evening = 5 * DAY + 21 * HOUR;
        assert_eq!(h.next_open_wall(sat_evening), 7 * DAY + 8 * HOUR);
    }

    #[test]
    fn holidays_shut_lockers_with_hours_and_not_round_the_clock_ones() {
        let h = hours("\"07:00-22:00\"");
        // Instant 0 is Monday 2024-01-01 00:00 UTC; shut Tuesday and Wednesday.
        let cal = Calendar::default();
        let tue = cal.day(DAY);
        let cal = cal.with_closed_days(vec![tue + 1, tue]);
        assert!(cal.is_closed_day(tue) && cal.is_closed_day(tue + 1));
        // Monday 23:00 → Thursday 07:00.
        assert_eq!(h.next_open(&cal, 23 * HOUR), 3 * DAY + 7 * HOUR);
        assert!(!h.is_open(&cal, DAY + 12 * HOUR));
        assert!(h.is_open(&cal, 12 * HOUR));
        assert_eq!(OpeningHours::ALWAYS.next_open(&cal, DAY + HOUR), DAY + HOUR);
    }

    #[test]
    fn only_one_day_open_wraps_a_week() {
        let h = hours(r#"{"default": "closed", "wed": "10:00-11:00"}"#);
        let wed_noon = 2 * DAY + 12 * HOUR;
        assert_eq!(h.next_open_wall(wed_noon), WEEK + 2 * DAY + 10 * HOUR);
    }

    #[test]
    fn opening_hours_are_local() {
        let nine_to_five = Some(DayHours {
            open: 9 * 60,
            close: 17 * 60,
        });
        let hours = OpeningHours::new([nine_to_five; 7]).unwrap();
        let cal = Calendar::starting("2026-07-01", "America/New_York", 10 * DAY).unwrap();
        // 08:00 local (12:00 UTC) is closed; it opens at 09:00 local.
        let eight = 8 * HOUR;
        assert!(!hours.is_open(&cal, eight));
        assert_eq!(hours.next_open(&cal, eight), 9 * HOUR);
        assert!(hours.is_open(&cal, 16 * HOUR + 59 * MINUTE));
        assert_eq!(hours.next_open(&cal, 17 * HOUR), DAY + 9 * HOUR);
    }

    #[test]
    fn bad_hours_are_rejected_with_the_expected_form() {
        for bad in [
            "\"7-22\"",
            "\"22:00-07:00\"",
            "\"25:00-26:00\"",
            r#"{"default":"closed"}"#,
            r#"{"monday":"closed"}"#,
        ] {
            let err = serde_json::from_str::<OpeningHours>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("expected")
                    || err.contains("at least one day")
                    || err.contains("after opening")
                    || err.contains("unknown field"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["\"24/7\"", "\"07:00-22:00\""] {
            let h = hours(s);
            assert_eq!(format!("\"{h}\""), s);
        }
    }
}
