//! The operator's calendar of named dates — peaks and holidays, as the
//! scenario's `[demand.calendar]` names them, without their multipliers —
//! which the demand forecast reads as features. An operator knows when Black
//! Friday is, not how much it will lift each locker: the model learns that
//! from history.

use crate::scenario::seasons::{parse_date, periods, CalendarSpec, Date};
use crate::time::Calendar;
use chrono::Datelike;
use serde::{Deserialize, Serialize};

/// A named period, every year (`MM-DD`) or once (`YYYY-MM-DD`), ends included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPeriod {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// The calendar as written in a model file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedDates {
    pub peaks: Vec<NamedPeriod>,
    pub holidays: Vec<NamedPeriod>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NamedDates", into = "NamedDates")]
pub struct EventCalendar {
    named: NamedDates,
    parsed: Parsed,
}

impl TryFrom<NamedDates> for EventCalendar {
    type Error = String;
    fn try_from(n: NamedDates) -> Result<Self, String> {
        Self::new(n.peaks, n.holidays)
    }
}

impl From<EventCalendar> for NamedDates {
    fn from(c: EventCalendar) -> Self {
        c.named
    }
}

/// The periods' dates, parsed once.
#[derive(Debug, Clone, Default, PartialEq)]
struct Parsed {
    peaks: Vec<(Date, Date)>,
    holidays: Vec<(Date, Date)>,
}

impl EventCalendar {
    /// The named dates of a `[demand.calendar]` (unnamed ones are called by
    /// their dates).
    pub fn from_spec(spec: &CalendarSpec) -> Result<Self, String> {
        let peaks = spec
            .peaks
            .iter()
            .map(|p| NamedPeriod {
                name: p
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}..{}", p.from, p.to)),
                from: p.from.clone(),
                to: p.to.clone(),
            })
            .collect();
        let holidays = spec
            .holidays
            .iter()
            .map(|h| NamedPeriod {
                name: h.name.clone().unwrap_or_else(|| h.date.clone()),
                from: h.date.clone(),
                to: h.date.clone(),
            })
            .collect();
        Self::new(peaks, holidays)
    }

    pub fn new(peaks: Vec<NamedPeriod>, holidays: Vec<NamedPeriod>) -> Result<Self, String> {
        let parse = |list: &[NamedPeriod], what: &str| -> Result<Vec<(Date, Date)>, String> {
            list.iter()
                .map(|p| {
                    let at = |e: String| format!("{what} `{}`: {e}", p.name);
                    Ok((
                        parse_date(&p.from).map_err(at)?,
                        parse_date(&p.to).map_err(at)?,
                    ))
                })
                .collect()
        };
        let parsed = Parsed {
            peaks: parse(&peaks, "peak")?,
            holidays: parse(&holidays, "holiday")?,
        };
        Ok(EventCalendar {
            named: NamedDates { peaks, holidays },
            parsed,
        })
    }

    pub fn named(&self) -> &NamedDates {
        &self.named
    }

    /// 1 + the index of the first peak covering local day `day`, 0 if none.
    pub fn peak_on(&self, day: i64) -> usize {
        first_covering(&self.parsed.peaks, day)
    }

    /// 1 + the index of the first holiday on local day `day`, 0 if none.
    pub fn holiday_on(&self, day: i64) -> usize {
        first_covering(&self.parsed.holidays, day)
    }
}

fn first_covering(periods_: &[(Date, Date)], day: i64) -> usize {
    let year = Calendar::date_of_day(day).year();
    periods_
        .iter()
        .position(|&(from, to)| {
            periods(from, to, year - 1..=year)
                .iter()
                .any(|&(a, b)| (a..=b).contains(&day))
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(y: i32, m: u32, d: u32) -> i64 {
        Calendar::day_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn period(name: &str, from: &str, to: &str) -> NamedPeriod {
        NamedPeriod {
            name: name.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn finds_yearly_once_and_new_year_spanning_periods() {
        let cal = EventCalendar::new(
            vec![
                period("bf", "2025-11-28", "2025-12-01"),
                period("xmas", "12-02", "12-20"),
                period("winter sale", "12-28", "01-03"),
            ],
            vec![period("new year", "01-01", "01-01")],
        )
        .unwrap();
        assert_eq!(cal.peak_on(day(2025, 11, 27)), 0);
        assert_eq!(cal.peak_on(day(2025, 11, 28)), 1);
        assert_eq!(cal.peak_on(day(2025, 12, 1)), 1);
        assert_eq!(cal.peak_on(day(2026, 11, 28)), 0, "a dated peak is once");
        assert_eq!(cal.peak_on(day(2026, 12, 5)), 2, "a yearly peak recurs");
        assert_eq!(cal.peak_on(day(2026, 1, 2)), 3, "across new year");
        assert_eq!(cal.peak_on(day(2025, 12, 29)), 3);
        assert_eq!(cal.holiday_on(day(2027, 1, 1)), 1);
        assert_eq!(cal.holiday_on(day(2027, 1, 2)), 0);
    }

    #[test]
    fn round_trips_through_json() {
        let cal = EventCalendar::new(vec![period("xmas", "12-02", "12-20")], vec![]).unwrap();
        let back: EventCalendar =
            serde_json::from_str(&serde_json::to_string(&cal).unwrap()).unwrap();
        assert_eq!(back, cal);
        assert_eq!(back.peak_on(day(2030, 12, 3)), 1);
        let bad = r#"{"peaks":[{"name":"x","from":"02-30","to":"03-01"}],"holidays":[]}"#;
        assert!(serde_json::from_str::<EventCalendar>(bad).is_err());
    }

    #[test]
    fn a_bad_date_names_the_period() {
        let e = EventCalendar::new(vec![period("sale", "13-01", "13-02")], vec![]).unwrap_err();
        assert!(e.contains("peak `sale`") && e.contains("MM-DD"), "{e}");
    }
}
