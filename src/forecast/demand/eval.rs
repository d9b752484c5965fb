//! Scoring demand forecasts on a history: the model against the two
//! baselines a planner would otherwise use — seasonal naive (the same
//! weekday a week before) and the trailing mean (the last seven days before
//! the plan is made, what the optimized policy used before the model) —
//! over every (locker, tier, day) with a full lookback.
//!
//! A plan made on day o covers days o..o+6, so the trailing mean is scored
//! at each of those seven leads; the model and seasonal naive read only
//! days a week or more back, so their forecast of a day is the same at
//! every lead of the week.

use super::model::{DemandErrors, DemandEvaluation, DemandModel};
use super::series::DemandSeries;
use super::train::location_rows;
use rayon::prelude::*;

/// Running sums of one method's errors.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    abs: f64,
    actual: f64,
    ape: f64,
    positive: f64,
    n: f64,
}

impl Sums {
    fn add(&mut self, forecast: f64, actual: f64, weight: f64) {
        let e = (forecast - actual).abs();
        self.abs += weight * e;
        self.actual += weight * actual;
        self.n += weight;
        if actual > 0.0 {
            self.ape += weight * e / actual;
            self.positive += weight;
        }
    }

    fn merge(&mut self, o: &Sums) {
        self.abs += o.abs;
        self.actual += o.actual;
        self.ape += o.ape;
        self.positive += o.positive;
        self.n += o.n;
    }

    fn errors(&self) -> DemandErrors {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        DemandErrors {
            mae: ratio(self.abs, self.n),
            mape: ratio(self.ape, self.positive),
            wape: ratio(self.abs, self.actual),
            n: self.n.round() as u64,
        }
    }
}

/// [model, seasonal naive, trailing mean] × [all days, event days].
type Table = [[Sums; 3]; 2];

/// Scores `model` and the baselines on `series`; `data` names it.
pub fn evaluate(model: &DemandModel, series: &DemandSeries, data: &str) -> DemandEvaluation {
    let events = &model.meta.events;
    let per_location: Vec<Table> = (0..series.locations.len())
        .into_par_iter()
        .map(|loc| {
            let mut table = Table::default();
            for r in location_rows(series, events, loc) {
                let count = |d: i64| series.get(loc, r.tier, d).unwrap_or(0.0);
                let (day, actual) = (r.day, r.orders);
                let predicted = model.predict_row(&r.row);
                let event = events.peak_on(day) != 0
                    || events.holiday_on(day) != 0
                    || events.peak_on(day - 7) != 0
                    || events.holiday_on(day - 7) != 0;
                for (subset, on) in [(0, true), (1, event)] {
                    if !on {
                        continue;
                    }
                    let row = &mut table[subset];
                    row[0].add(predicted, actual, 1.0);
                    row[1].add(count(day - 7), actual, 1.0);
                    for lead in 0..7 {
                        let origin = day - lead;
                        let mean = (origin - 7..origin).map(count).sum::<f64>() / 7.0;
                        row[2].add(mean, actual, 1.0 / 7.0);
                    }
                }
            }
            table
        })
        .collect();
    let mut total = Table::default();
    for t in &per_location {
        for (row, add) in total.iter_mut().zip(t) {
            for (s, a) in row.iter_mut().zip(add) {
                s.merge(a);
            }
        }
    }
    DemandEvaluation {
        data: data.to_string(),
        model: total[0][0].errors(),
        seasonal_naive: total[0][1].errors(),
        trailing_mean: total[0][2].errors(),
        model_event_days: total[1][0].errors(),
        seasonal_naive_event_days: total[1][1].errors(),
        trailing_mean_event_days: total[1][2].errors(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Tier;
    use crate::forecast::demand::events::NamedPeriod;
    use crate::forecast::demand::train::train;
    use crate::forecast::demand::EventCalendar;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    /// Five lockers over 2025 whose demand has a weekly shape (weekends
    /// quiet), different sizes, and a named peak week that doubles it;
    /// Poisson counts, a different draw per `seed`.
    fn series(seed: u64, events: &EventCalendar) -> DemandSeries {
        let first = crate::time::Calendar::day_of_date(
            chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        );
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut draws = Vec::new();
        for loc in 0..5 {
            for d in 0..365 {
                let day = first + d as i64;
                let weekday = crate::time::Calendar::date_of_day(day)
                    .format("%u")
                    .to_string();
                let shape = if weekday == "6" || weekday == "7" {
                    0.5
                } else {
                    1.2
                };
                let peak = if events.peak_on(day) != 0 { 2.0 } else { 1.0 };
                let mean = (10.0 + 8.0 * loc as f64) * shape * peak;
                let row = Tier::ALL.map(|t| {
                    let share = [0.2, 0.4, 0.2, 0.2][t.index()];
                    Poisson::new(mean * share).unwrap().sample(&mut rng) as u32
                });
                draws.push(row);
            }
        }
        DemandSeries::from_fn(first, 365, 5, |l, d| draws[l * 365 + d])
    }

    #[test]
    fn a_trained_forest_beats_both_baselines_most_on_event_days() {
        let events = EventCalendar::new(
            vec![NamedPeriod {
                name: "sale".into(),
                from: "05-10".into(),
                to: "05-16".into(),
            }],
            vec![],
        )
        .unwrap();
        let mut meta = crate::forecast::demand::model::tests::meta();
        meta.events = events.clone();
        let model = train(&series(1, &events), meta, &|| {}).unwrap();
        let e = evaluate(&model, &series(2, &events), "holdout");
        assert!(e.model.n > 5 * 4 * 300, "{}", e.model.n);
        assert!(e.model.wape < 0.9 * e.trailing_mean.wape, "{e:?}");
        assert!(e.model.wape < 0.9 * e.seasonal_naive.wape, "{e:?}");
        // The sale week and the week after it: the baselines lag the peak
        // (or echo it a week late); the forest knows the calendar.
        assert!(
            e.model_event_days.n == 5 * 4 * 14,
            "{}",
            e.model_event_days.n
        );
        assert!(
            e.model_event_days.wape < 0.6 * e.trailing_mean_event_days.wape,
            "{e:?}"
        );
    }
}
