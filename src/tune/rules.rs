//! How `tune` judges candidates, kept apart from how it runs and prints
//! them: feasibility on the upper 95% bound, ties by paired difference,
//! the choice among ties, and the grid's edges.

use crate::metrics::{stats, Summary};
use crate::policy::Policy;

/// A candidate is feasible when the upper end of its constrained rate's
/// 95% interval is within the limit. An undefined rate (nothing accepted)
/// is never feasible; with one replication there is no interval and the
/// mean decides.
pub fn feasible(mean: f64, half_width: f64, limit: f64) -> bool {
    if !mean.is_finite() {
        return false;
    }
    let upper = if half_width.is_finite() {
        mean + half_width
    } else {
        mean
    };
    upper <= limit
}

/// Whether `other` is statistically tied with `best` on metric `m`: the
/// 95% interval of their paired per-replication difference (the same
/// random numbers) contains 0.
pub fn tied(best: &[Summary], other: &[Summary], m: usize) -> bool {
    let d: Vec<f64> = best
        .iter()
        .zip(other)
        .map(|(b, o)| o.values[m] - b.values[m])
        .collect();
    let (mean, h) = (stats::mean(&d), stats::ci95_half_width(&d));
    if h.is_finite() {
        mean.abs() <= h
    } else {
        mean == 0.0
    }
}

/// A parameter `tune` varies: its name, value, and the bounds it cannot
/// pass whatever the grid (a share is within [0, 1]).
pub struct Param {
    pub name: &'static str,
    pub value: f64,
    pub limits: (f64, f64),
}

/// The parameters `tune` varies.
pub fn params(p: &Policy) -> Vec<Param> {
    let share = |name, value| Param {
        name,
        value,
        limits: (0.0, 1.0),
    };
    match p {
        // The bar lies strictly inside (0, 1): the grid's ends are choices.
        Policy::Forecast(f) => vec![Param {
            name: "confidence",
            value: f.confidence,
            limits: (f64::NAN, f64::NAN),
        }],
        Policy::TierPartition(tp) => vec![
            share("shares.same_day", tp.shares.same_day),
            share("shares.next_day", tp.shares.next_day),
            share("shares.two_day", tp.shares.two_day),
            share("shares.standard", tp.shares.standard),
        ],
        _ => Vec::new(),
    }
}

/// The winner's parameters that sit at the smallest or largest value the
/// grid tried, short of the parameter's own limits: the optimum may lie
/// beyond, outside what was searched.
pub fn on_edge(winner: &Policy, grid: &[Policy]) -> Vec<String> {
    params(winner)
        .into_iter()
        .enumerate()
        .filter_map(|(k, p)| {
            let values: Vec<f64> = grid.iter().map(|g| params(g)[k].value).collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (name, v) = (p.name, p.value);
            if lo == hi {
                None
            } else if v == hi && v != p.limits.1 {
                Some(format!("{name} = {v} is the largest tried"))
            } else if v == lo && v != p.limits.0 {
                Some(format!("{name} = {v} is the smallest tried"))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::METRIC_NAMES;

    fn reps(xs: &[f64]) -> Vec<Summary> {
        xs.iter()
            .map(|&x| Summary {
                values: [x; METRIC_NAMES.len()],
            })
            .collect()
    }

    #[test]
    fn feasibility_is_judged_on_the_upper_bound_and_never_on_nothing() {
        assert!(feasible(0.0005, 0.0004, 0.001));
        assert!(
            !feasible(0.0005, 0.0006, 0.001),
            "its interval reaches past the limit"
        );
        assert!(!feasible(f64::NAN, f64::NAN, 0.001), "an undefined rate");
        assert!(
            feasible(0.0009, f64::NAN, 0.001),
            "one replication: the mean"
        );
    }

    #[test]
    fn ties_are_paired_differences_whose_interval_holds_zero() {
        let best = reps(&[10.0, 12.0, 11.0, 13.0]);
        assert!(tied(&best, &reps(&[10.1, 11.8, 11.1, 12.9]), 0));
        assert!(
            !tied(&best, &reps(&[9.0, 11.0, 10.0, 12.0]), 0),
            "always 1 less"
        );
        assert!(tied(&best, &best, 0));
    }

    #[test]
    fn the_grid_edges_are_named() {
        let f = |c: f64| {
            Policy::Forecast(crate::policy::ForecastPolicy {
                confidence: c,
                ..Default::default()
            })
        };
        let grid = [f(0.5), f(0.9), f(0.99)];
        assert_eq!(
            on_edge(&f(0.99), &grid),
            ["confidence = 0.99 is the largest tried"]
        );
        assert_eq!(
            on_edge(&f(0.5), &grid),
            ["confidence = 0.5 is the smallest tried"]
        );
        assert!(on_edge(&f(0.9), &grid).is_empty());
        // A share of 0 is the share's own limit, not the grid's.
        let tp = |same_day: f64, next_day: f64| {
            Policy::TierPartition(crate::policy::TierPartition {
                shares: crate::policy::TierShares {
                    same_day,
                    next_day,
                    two_day: 0.0,
                    standard: 0.0,
                },
            })
        };
        let grid = [tp(0.0, 0.0), tp(0.1, 0.5), tp(0.0, 0.7)];
        assert!(on_edge(&tp(0.0, 0.5), &grid).is_empty());
        assert_eq!(on_edge(&tp(0.1, 0.7), &grid).len(), 2);
    }
}
