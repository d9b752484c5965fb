//! `[demand.calendar]`: the year around the weekly profiles — monthly
//! multipliers, named peak periods, dated holidays (lower demand, or lockers
//! with opening hours shut) and a trend — compiled into one demand
//! multiplier per local day of the run and the holidays' closed days.

use crate::forecast::demand::EventCalendar;
use crate::time::Calendar;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// 12 demand multipliers, January first (1 = as the weekly profile says).
    pub monthly: Option<Vec<f64>>,
    /// Demand growth per year, compounding daily from the start date
    /// (0.05 = +5% a year).
    pub trend_per_year: Option<f64>,
    #[serde(default)]
    pub peaks: Vec<PeakSpec>,
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
}

/// A period of higher (or lower) demand, every year (`MM-DD`) or once
/// (`YYYY-MM-DD`); both ends included.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeakSpec {
    pub name: Option<String>,
    pub from: String,
    pub to: String,
    pub multiplier: f64,
}

/// A dated holiday, every year (`MM-DD`) or once (`YYYY-MM-DD`).
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySpec {
    pub date: String,
    pub name: Option<String>,
    /// Demand that day (default 1).
    pub multiplier: Option<f64>,
    /// Lockers with opening hours stay shut all day (default false).
    pub closed: Option<bool>,
}

/// The compiled calendar of demand: a multiplier per local day.
#[derive(Debug, Clone, PartialEq)]
pub struct Seasons {
    /// Local day (`Calendar::day`) of `daily[0]`.
    pub first_day: i64,
    pub daily: Vec<f64>,
    /// The named peaks and holidays (what an operator's demand forecast
    /// knows of the calendar).
    pub events: EventCalendar,
}

impl Seasons {
    /// Demand multiplier on local day `day` (1 outside the table).
    pub fn multiplier(&self, day: i64) -> f64 {
        usize::try_from(day - self.first_day)
            .ok()
            .and_then(|i| self.daily.get(i))
            .copied()
            .unwrap_or(1.0)
    }
}

/// A date as written: every year, or one year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Date {
    Yearly { month: u32, day: u32 },
    Once(NaiveDate),
}

pub(crate) fn parse_date(s: &str) -> Result<Date, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Date::Once(d));
    }
    // Any leap year admits 02-29.
    NaiveDate::parse_from_str(&format!("2024-{s}"), "%Y-%m-%d")
        .map(|d| Date::Yearly {
            month: d.month(),
            day: d.day(),
        })
        .map_err(|_| format!("expected a date as MM-DD (every year) or YYYY-MM-DD, got `{s}`"))
}

impl Date {
    /// This date in `year` (a yearly 02-29 falls on 02-28 in other years).
    fn in_year(self, year: i32) -> NaiveDate {
        match self {
            Date::Once(d) => d,
            Date::Yearly { month, day } => NaiveDate::from_ymd_opt(year, month, day)
                .or_else(|| NaiveDate::from_ymd_opt(year, month, day - 1))
                .expect("a valid month and day"),
        }
    }
}

/// Every (first, last) day a period covers in the years `years`.
pub(crate) fn periods(
    from: Date,
    to: Date,
    years: std::ops::RangeInclusive<i32>,
) -> Vec<(i64, i64)> {
    let day = Calendar::day_of_date;
    match (from, to) {
        (Date::Once(a), Date::Once(b)) => vec![(day(a), day(b))],
        _ => years
            .map(|y| {
                let a = from.in_year(y);
                let mut b = to.in_year(y);
                if b < a {
                    // Across new year: to the `to` of the next year.
                    b = to.in_year(y + 1);
                }
                (day(a), day(b))
            })
            .collect(),
    }
}

/// An error at `[demand.calendar]` key `path`.
pub type SeasonsError = (String, String);

/// The multiplier per local day over `days` (first local day, count) and
/// the holidays' closed days.
pub fn compile(
    spec: &CalendarSpec,
    days: (i64, usize),
) -> Result<(Seasons, Vec<i64>), SeasonsError> {
    let at = |key: &str| format!("demand.calendar.{key}");
    let (first_day, count) = days;
    let dates = |i: usize| Calendar::date_of_day(first_day + i as i64);
    let first_year = dates(0).year() - 1;
    let last_year = dates(count.saturating_sub(1)).year();
    let years = first_year..=last_year;
    let mut daily = vec![1.0; count];

    if let Some(m) = &spec.monthly {
        if m.len() != 12 || m.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err((
                at("monthly"),
                format!("expected 12 numbers ≥ 0, January first, got {m:?}"),
            ));
        }
        for (i, d) in daily.iter_mut().enumerate() {
            *d *= m[dates(i).month0() as usize];
        }
    }
    for (k, p) in spec.peaks.iter().enumerate() {
        let key = |f: &str| at(&format!("peaks[{k}].{f}"));
        let from = parse_date(&p.from).map_err(|m| (key("from"), m))?;
        let to = parse_date(&p.to).map_err(|m| (key("to"), m))?;
        if matches!(from, Date::Once(_)) != matches!(to, Date::Once(_)) {
            return Err((
                key("to"),
                "`from` and `to` must both be MM-DD or both YYYY-MM-DD".into(),
            ));
        }
        if !(p.multiplier.is_finite() && p.multiplier >= 0.0 && p.multiplier <= 100.0) {
            return Err((
                key("multiplier"),
                format!("must be in [0, 100], got {}", p.multiplier),
            ));
        }
        if let (Date::Once(a), Date::Once(b)) = (from, to) {
            if b < a {
                return Err((key("to"), format!("ends before it starts ({b} < {a})")));
            }
        }
        for (a, b) in periods(from, to, years.clone()) {
            for d in a.max(first_day)..=b.min(first_day + count as i64 - 1) {
                daily[(d - first_day) as usize] *= p.multiplier;
            }
        }
    }
    let mut closed = Vec::new();
    for (k, h) in spec.holidays.iter().enumerate() {
        let key = |f: &str| at(&format!("holidays[{k}].{f}"));
        let date = parse_date(&h.date).map_err(|m| (key("date"), m))?;
        let multiplier = h.multiplier.unwrap_or(1.0);
        if !(multiplier.is_finite() && (0.0..=100.0).contains(&multiplier)) {
            return Err((
                key("multiplier"),
                format!("must be in [0, 100], got {multiplier}"),
            ));
        }
        let shut = h.closed.unwrap_or(false);
        if multiplier == 1.0 && !shut {
            return Err((
                key("date"),
                "a holiday changes nothing without `multiplier` or `closed = true`".into(),
            ));
        }
        for (d, _) in periods(date, date, years.clone()) {
            if let Some(x) = usize::try_from(d - first_day)
                .ok()
                .and_then(|i| daily.get_mut(i))
            {
                *x *= multiplier;
                if shut {
                    closed.push(d);
                }
            }
        }
    }
    let trend = spec.trend_per_year.unwrap_or(0.0);
    if !(trend.is_finite() && trend > -1.0 && trend <= 10.0) {
        return Err((
            at("trend_per_year"),
            format!("must be in (-1, 10], got {trend}"),
        ));
    }
    if trend != 0.0 {
        for (i, d) in daily.iter_mut().enumerate() {
            *d *= (1.0 + trend).powf(i as f64 / 365.25);
        }
    }
    // The dates were checked above.
    let events = EventCalendar::from_spec(spec).map_err(|m| (at("peaks"), m))?;
    Ok((
        Seasons {
            first_day,
            daily,
            events,
        },
        closed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i64 {
        Calendar::day_of_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    fn spec(toml_text: &str) -> CalendarSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_peak_across_new_year_and_a_closed_holiday() {
        let s = spec(
            r#"
            monthly = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.5]
            [[peaks]]
            from = "12-20"
            to = "01-05"
            multiplier = 2
            [[holidays]]
            date = "12-25"
            multiplier = 0.1
            closed = true
            "#,
        );
        let first = day("2024-11-01");
        let (seasons, closed) = compile(&s, (first, 120)).unwrap();
        let m = |d: &str| seasons.multiplier(day(d));
        assert_eq!(m("2024-11-01"), 1.2);
        assert_eq!(m("2024-12-19"), 1.5);
        assert_eq!(m("2024-12-20"), 3.0);
        assert!((m("2024-12-25") - 0.3).abs() < 1e-12);
        assert_eq!(m("2025-01-05"), 2.0);
        assert_eq!(m("2025-01-06"), 1.0);
        assert_eq!(closed, vec![day("2024-12-25")]);
        // Outside the table: as the profiles say.
        assert_eq!(seasons.multiplier(first - 1), 1.0);
    }

    #[test]
    fn a_trend_compounds_over_a_year() {
        let s = spec("trend_per_year = 0.1");
        let (seasons, _) = compile(&s, (day("2024-01-01"), 800)).unwrap();
        let a = seasons.daily[0];
        let b = seasons.daily[365];
        assert_eq!(a, 1.0);
        assert!((b / a - 1.1).abs() < 0.001, "{b}");
    }

    #[test]
    fn bad_dates_and_no_op_holidays_are_named() {
        let (key, msg) = compile(
            &spec("[[peaks]]\nfrom = \"13-01\"\nto = \"12-31\"\nmultiplier = 2"),
            (0, 10),
        )
        .unwrap_err();
        assert_eq!(key, "demand.calendar.peaks[0].from");
        assert!(msg.contains("MM-DD"), "{msg}");
        let (key, msg) = compile(&spec("[[holidays]]\ndate = \"01-01\""), (0, 10)).unwrap_err();
        assert_eq!(key, "demand.calendar.holidays[0].date");
        assert!(msg.contains("changes nothing"), "{msg}");
        let (key, _) = compile(&spec("monthly = [1, 2]"), (0, 10)).unwrap_err();
        assert_eq!(key, "demand.calendar.monthly");
    }
}
