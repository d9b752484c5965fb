//! The optimized policy: once a day per location, a linear program over a
//! rolling horizon sets how many orders of each tier and package size to
//! accept each day — maximizing expected accepted orders while, for every
//! size, the expected compartments of that size or larger in use stay below
//! `(1 − buffer)` of them on every day of the horizon — from forecast demand
//! and dwell probabilities (in the spirit of Amazon's published capacity
//! reservations, which plan by ship option and package size). Today's plan
//! becomes per-tier-and-size quotas; each request must also pass the
//! forecast policy's check, so the plan can only make admission more
//! careful, never less.

use super::forecast::ForecastPolicy;
use crate::domain::{Size, Tier};
use good_lp::{constraint, microlp, variable, Expression, ProblemVariables, Solution, SolverModel};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizedPolicy {
    /// Days the plan looks ahead.
    #[serde(default = "default_horizon")]
    pub horizon_days: u32,
    /// Share of the compartments the plan keeps free in expectation (the
    /// overflow bound).
    #[serde(default = "default_buffer")]
    pub buffer: f64,
    /// What the plan takes as each day's demand.
    #[serde(default)]
    pub demand: DemandSource,
    /// The per-request check (confidence bar, promised hours).
    #[serde(default)]
    pub check: ForecastPolicy,
}

/// Where the plan's expected demand comes from.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DemandSource {
    /// The demand model's forecast per day (`[forecast] demand_model`, or
    /// `--demand-model`) when one is given, else the trailing mean.
    #[default]
    Model,
    /// The mean of the last seven days' orders, the same every day of the
    /// horizon, even with a demand model (to measure what it buys).
    TrailingMean,
}

fn default_horizon() -> u32 {
    7
}

fn default_buffer() -> f64 {
    0.1
}

impl Default for OptimizedPolicy {
    fn default() -> Self {
        OptimizedPolicy {
            horizon_days: default_horizon(),
            buffer: default_buffer(),
            demand: DemandSource::default(),
            check: ForecastPolicy::default(),
        }
    }
}

/// What one location's daily plan is computed from; day 0 is today.
/// Sizes are classes of compartments: a package fits its own size or
/// larger, so the plan bounds, for each size, the packages of that size or
/// larger by the compartments of that size or larger (on a chain of sizes,
/// those bounds are exactly when a fitting assignment exists).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// Compartments of each size.
    pub compartments: [f64; Size::COUNT],
    /// Expected orders per tier and package size on each day of the horizon.
    pub demand: Vec<[[f64; Size::COUNT]; Tier::COUNT]>,
    /// Expected compartments of each size in use at noon of each day by
    /// orders already accepted (deposited, by compartment; on their way, by
    /// package size).
    pub present: Vec<[f64; Size::COUNT]>,
    /// `stay[t][j]`: probability that a tier-t order accepted on some day is
    /// in the locker at noon `j` days later (arrived, not yet collected).
    pub stay: [Vec<f64>; Tier::COUNT],
}

/// Objective weight lost per day of the horizon.
const TIE_BREAK: f64 = 1e-3;

/// Today's plan: orders to accept per tier and package size (not rounded;
/// infinite where the plan takes all of the day's expected demand).
pub type Quotas = [[f64; Size::COUNT]; Tier::COUNT];

impl OptimizedPolicy {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=28).contains(&self.horizon_days) {
            return Err((
                "horizon_days".into(),
                format!("must be in [1, 28], got {}", self.horizon_days),
            ));
        }
        if !(0.0..1.0).contains(&self.buffer) {
            return Err((
                "buffer".into(),
                format!("must be in [0, 1), got {}", self.buffer),
            ));
        }
        self.check
            .validate()
            .map_err(|(f, m)| (format!("check.{f}"), m))
    }

    /// Solves the day's LP; returns today's quotas per tier and size.
    /// Always feasible: accepting nothing satisfies every bound.
    pub fn plan(&self, input: &PlanInput) -> Result<Quotas, String> {
        let h = input.demand.len().min(input.present.len());
        if h == 0 {
            return Ok([[0.0; Size::COUNT]; Tier::COUNT]);
        }
        let mut vars = ProblemVariables::new();
        let x: Vec<[[good_lp::Variable; Size::COUNT]; Tier::COUNT]> = (0..h)
            .map(|d| {
                Tier::ALL.map(|t| {
                    Size::ALL.map(|s| {
                        let most = input.demand[d][t.index()][s.index()].max(0.0);
                        vars.add(variable().min(0.0).max(most))
                    })
                })
            })
            .collect();
        // An order today is worth a hair more than one later: ties (today's
        // order or a later one in the same room) go to the order in hand,
        // not to a forecast.
        let total: Expression = x
            .iter()
            .enumerate()
            .flat_map(|(d, day)| {
                let w = 1.0 - TIE_BREAK * d as f64;
                day.iter().flatten().map(move |&v| w * v)
            })
            .sum();
        let mut model = vars.maximise(total).using(microlp);
        for k in 0..h {
            for smallest in 0..Size::COUNT {
                let cap: f64 = input.compartments[smallest..].iter().sum();
                let present: f64 = input.present[k][smallest..].iter().sum();
                let room = ((1.0 - self.buffer) * cap - present).max(0.0);
                let mut used = Expression::from(0.0);
                for (d, day) in x.iter().enumerate().take(k + 1) {
                    for (t, sizes) in day.iter().enumerate() {
                        let a = input.stay[t].get(k - d).copied().unwrap_or(0.0);
                        if a > 0.0 {
                            for &v in &sizes[smallest..] {
                                used += a * v;
                            }
                        }
                    }
                }
                model = model.with(constraint!(used <= room));
            }
        }
        let sol = model.solve().map_err(|e| format!("capacity plan: {e}"))?;
        // Where the plan takes all of today's expected demand, room is not
        // what limits it: no quota, so a busier day than forecast is not
        // turned away by the forecast's error (the per-request check still
        // guards the room).
        Ok(Tier::ALL.map(|t| {
            Size::ALL.map(|s| {
                let (t, s) = (t.index(), s.index());
                let planned = sol.value(x[0][t][s]).max(0.0);
                if planned >= input.demand[0][t][s] - 1e-6 {
                    f64::INFINITY
                } else {
                    planned
                }
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M compartments only; demand `demand` per day of next-day and
    /// two-day M packages.
    fn input(compartments: f64, demand: f64, present: f64) -> PlanInput {
        // Every order arrives the next day and stays two days.
        let stay = [0.0, 1.0, 1.0, 0.0];
        let mut day = [[0.0; Size::COUNT]; Tier::COUNT];
        day[0][1] = demand;
        day[1][1] = demand;
        PlanInput {
            compartments: [0.0, compartments, 0.0, 0.0],
            demand: vec![day; 4],
            present: vec![[0.0, present, 0.0, 0.0]; 4],
            stay: [stay.to_vec(), stay.to_vec(), stay.to_vec(), stay.to_vec()],
        }
    }

    /// Today's planned orders: a cell without a quota takes its demand.
    fn planned(q: &Quotas, input: &PlanInput) -> f64 {
        let mut sum = 0.0;
        for (qt, dt) in q.iter().zip(&input.demand[0]) {
            for (&q, &d) in qt.iter().zip(dt) {
                sum += q.min(d);
            }
        }
        sum
    }

    #[test]
    fn takes_all_demand_when_it_fits() {
        let p = OptimizedPolicy::default();
        let q = p.plan(&input(100.0, 10.0, 0.0)).unwrap();
        // Room is not the limit: no quota at all.
        assert!(q.iter().flatten().all(|v| v.is_infinite()), "{q:?}");
    }

    #[test]
    fn a_full_horizon_limits_today_and_nothing_is_negative() {
        let p = OptimizedPolicy::default();
        // Room 90 − 50 = 40 per day; two days' orders overlap, so at most
        // 40 orders per two consecutive days across both tiers.
        let full = input(100.0, 30.0, 50.0);
        let q = p.plan(&full).unwrap();
        assert!(q.iter().flatten().all(|&v| v >= 0.0));
        // Ties go to today: all 40 of the room.
        assert!((planned(&q, &full) - 40.0).abs() < 1e-6, "{q:?}");
        assert!(
            q.iter().flatten().any(|v| v.is_finite()),
            "room limits: a quota"
        );
        // Already over the bound: accept nothing, no error.
        let over = input(100.0, 30.0, 120.0);
        let q = p.plan(&over).unwrap();
        assert!(planned(&q, &over).abs() < 1e-9, "{q:?}");
        assert!(q[0][1].abs() < 1e-9 && q[1][1].abs() < 1e-9, "{q:?}");
    }

    #[test]
    fn each_size_is_bounded_by_the_compartments_it_fits() {
        let p = OptimizedPolicy {
            buffer: 0.0,
            ..OptimizedPolicy::default()
        };
        // 10 S and 10 L compartments; 30 S and 30 L packages a day, each
        // staying one day (arrive and leave the same noon: stay[0] = 1).
        let stay = vec![1.0];
        let mut day = [[0.0; Size::COUNT]; Tier::COUNT];
        day[0][Size::S.index()] = 30.0;
        day[0][Size::L.index()] = 30.0;
        let input = PlanInput {
            compartments: [10.0, 0.0, 10.0, 0.0],
            demand: vec![day],
            present: vec![[0.0; Size::COUNT]],
            stay: [stay.clone(), stay.clone(), stay.clone(), stay],
        };
        let q = p.plan(&input).unwrap();
        // L packages only fit the 10 L compartments; S packages take the
        // S ones and whatever L ones the L packages leave.
        assert!(q[0][Size::L.index()] <= 10.0 + 1e-6, "{q:?}");
        assert!((planned(&q, &input) - 20.0).abs() < 1e-6, "{q:?}");
        // No demand, nothing planned, no quota needed.
        assert!(q[0][Size::XL.index()].is_infinite());
        // No XL compartments: an XL package is never planned.
        let mut xl = input.clone();
        xl.demand[0][0][Size::XL.index()] = 5.0;
        assert_eq!(p.plan(&xl).unwrap()[0][Size::XL.index()], 0.0);
        // Where demand fits, the cell has no quota.
        let mut small = input.clone();
        small.demand[0][0][Size::S.index()] = 4.0;
        small.demand[0][0][Size::L.index()] = 3.0;
        let q = p.plan(&small).unwrap();
        assert!(q[0].iter().all(|v| v.is_infinite()), "{q:?}");
    }

    #[test]
    fn parameters_are_checked() {
        let bad = OptimizedPolicy {
            buffer: 1.0,
            ..OptimizedPolicy::default()
        };
        assert!(bad.validate().is_err());
        let bad = OptimizedPolicy {
            horizon_days: 0,
            ..OptimizedPolicy::default()
        };
        assert!(bad.validate().is_err());
    }
}
