//! The optimized policy: once a day per location, a linear program over a
//! rolling horizon sets how many orders of each tier to accept each day —
//! maximizing expected accepted orders while the expected number of
//! compartments in use stays below `(1 − buffer)` of the locker on every day
//! of the horizon — from forecast demand and dwell probabilities (in the
//! spirit of Amazon's published capacity reservations). Today's plan becomes
//! per-tier quotas; each request must also pass the forecast policy's check,
//! so the plan can only make admission more careful, never less.

use super::forecast::ForecastPolicy;
use crate::domain::Tier;
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
    /// The per-request check (confidence bar, promised hours).
    #[serde(default)]
    pub check: ForecastPolicy,
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
            check: ForecastPolicy::default(),
        }
    }
}

/// What one location's daily plan is computed from; day 0 is today.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    pub compartments: f64,
    /// Expected orders per tier on each day of the horizon.
    pub demand: Vec<[f64; Tier::COUNT]>,
    /// Expected packages already accepted (deposited or on their way) still
    /// in the locker at noon of each day.
    pub present: Vec<f64>,
    /// `stay[t][j]`: probability that a tier-t order accepted on some day is
    /// in the locker at noon `j` days later (arrived, not yet collected).
    pub stay: [Vec<f64>; Tier::COUNT],
}

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

    /// Solves the day's LP; returns today's accepted orders per tier (not
    /// rounded). Always feasible: accepting nothing satisfies every bound.
    pub fn plan(&self, input: &PlanInput) -> Result<[f64; Tier::COUNT], String> {
        let h = input.demand.len().min(input.present.len());
        if h == 0 {
            return Ok([0.0; Tier::COUNT]);
        }
        let mut vars = ProblemVariables::new();
        let x: Vec<[good_lp::Variable; Tier::COUNT]> = (0..h)
            .map(|d| {
                let mut row = [vars.add(variable().min(0.0).max(0.0)); Tier::COUNT];
                for (t, v) in row.iter_mut().enumerate() {
                    *v = vars.add(variable().min(0.0).max(input.demand[d][t].max(0.0)));
                }
                row
            })
            .collect();
        let total: Expression = x
            .iter()
            .flat_map(|r| r.iter())
            .map(|&v| Expression::from(v))
            .sum();
        let mut model = vars.maximise(total).using(microlp);
        for k in 0..h {
            let room = ((1.0 - self.buffer) * input.compartments - input.present[k]).max(0.0);
            let mut used = Expression::from(0.0);
            for (d, row) in x.iter().enumerate().take(k + 1) {
                for (t, &v) in row.iter().enumerate() {
                    let a = input.stay[t].get(k - d).copied().unwrap_or(0.0);
                    if a > 0.0 {
                        used += a * v;
                    }
                }
            }
            model = model.with(constraint!(used <= room));
        }
        let sol = model.solve().map_err(|e| format!("capacity plan: {e}"))?;
        let mut today = [0.0; Tier::COUNT];
        for (t, q) in today.iter_mut().enumerate() {
            *q = sol.value(x[0][t]).max(0.0);
        }
        Ok(today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(compartments: f64, demand: f64, present: f64) -> PlanInput {
        // Every order arrives the next day and stays two days.
        let stay = [0.0, 1.0, 1.0, 0.0];
        PlanInput {
            compartments,
            demand: vec![[demand, demand, 0.0, 0.0]; 4],
            present: vec![present; 4],
            stay: [stay.to_vec(), stay.to_vec(), stay.to_vec(), stay.to_vec()],
        }
    }

    #[test]
    fn takes_all_demand_when_it_fits() {
        let p = OptimizedPolicy::default();
        let q = p.plan(&input(100.0, 10.0, 0.0)).unwrap();
        assert!(
            (q[0] - 10.0).abs() < 1e-6 && (q[1] - 10.0).abs() < 1e-6,
            "{q:?}"
        );
    }

    #[test]
    fn a_full_horizon_limits_today_and_nothing_is_negative() {
        let p = OptimizedPolicy::default();
        // Room 90 − 50 = 40 per day; two days' orders overlap, so at most
        // 40 orders per two consecutive days across both tiers.
        let q = p.plan(&input(100.0, 30.0, 50.0)).unwrap();
        let today: f64 = q.iter().sum();
        assert!(today <= 40.0 + 1e-6, "{q:?}");
        assert!(q.iter().all(|&v| v >= 0.0));
        // Already over the bound: accept nothing, no error.
        let q = p.plan(&input(100.0, 30.0, 120.0)).unwrap();
        assert!(q.iter().all(|&v| v.abs() < 1e-9), "{q:?}");
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
