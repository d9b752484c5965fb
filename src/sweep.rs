//! Grids of scenario variants × policies, every point on the same random
//! numbers (`lockerlab sweep`, the Python package's `sweep`): the axes,
//! the checks that run before anything is simulated, the runs, and the
//! rows reported.

use crate::compare::split_policies;
use crate::metrics::{stats, Summary, METRIC_NAMES};
use crate::policy::{spec, Policy};
use crate::records::{Cell, Records};
use crate::scenario::edit::ScenarioSource;
use crate::sim::{self, RunError, RunOptions};
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One axis of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<f64>,
}

/// `KEY=START:END:STEP`.
pub fn parse_axis(s: &str) -> Result<Axis, String> {
    let err =
        || format!("--vary `{s}`: expected KEY=START:END:STEP with STEP > 0 and START <= END");
    let (key, range) = s.split_once('=').ok_or_else(err)?;
    let nums: Vec<f64> = range
        .split(':')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| err())?;
    let [start, end, step] = nums[..] else {
        return Err(err());
    };
    if !(step > 0.0 && start <= end && start.is_finite() && end.is_finite()) {
        return Err(err());
    }
    // Counted as a float first: a tiny step would overflow an integer.
    let count = ((end - start) / step + 1e-9).floor() + 1.0;
    if count.is_nan() || count > MAX_AXIS_VALUES as f64 {
        return Err(format!(
            "--vary `{s}`: {count} values is too many (at most {MAX_AXIS_VALUES})"
        ));
    }
    let n = count as usize;
    // Computed from the index, not accumulated, so 0.1 steps stay exact-ish
    // and every run prints the same values.
    let values = (0..n)
        .map(|i| ((start + step * i as f64) * 1e9).round() / 1e9)
        .collect();
    Ok(Axis {
        key: key.trim().to_string(),
        values,
    })
}

/// The most values one axis takes.
pub const MAX_AXIS_VALUES: usize = 10_000;

/// An axis given as its values (the Python package's `vary={key: [...]}`).
pub fn axis_of_values(key: &str, values: Vec<f64>) -> Result<Axis, String> {
    if values.is_empty() || values.len() > MAX_AXIS_VALUES {
        return Err(format!(
            "vary `{key}`: expected 1 to {MAX_AXIS_VALUES} values, got {}",
            values.len()
        ));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(format!("vary `{key}`: {v} is not a finite number"));
    }
    Ok(Axis {
        key: key.trim().to_string(),
        values,
    })
}

/// A grid point: the policy (None: the scenario's) and the axis values.
#[derive(Debug, Clone)]
pub struct Point {
    pub policy: Option<(String, Policy)>,
    pub settings: Vec<(String, f64)>,
}

impl Point {
    /// The policy as the user named it, or `scenario`.
    pub fn policy_label(&self) -> String {
        self.policy
            .as_ref()
            .map_or("scenario".to_string(), |p| p.0.clone())
    }
}

pub fn grid(axes: &[Axis], policies: &[(String, Policy)]) -> Vec<Point> {
    let mut settings: Vec<Vec<(String, f64)>> = vec![Vec::new()];
    for axis in axes {
        settings = settings
            .into_iter()
            .flat_map(|s| {
                axis.values.iter().map(move |&v| {
                    let mut s = s.clone();
                    s.push((axis.key.clone(), v));
                    s
                })
            })
            .collect();
    }
    let policies: Vec<Option<(String, Policy)>> = if policies.is_empty() {
        vec![None]
    } else {
        policies.iter().cloned().map(Some).collect()
    };
    policies
        .iter()
        .flat_map(|p| {
            settings.iter().map(move |s| Point {
                policy: p.clone(),
                settings: s.clone(),
            })
        })
        .collect()
}

/// Policies named as in `compare` (specs only: a sweep varies the
/// scenario's keys, which a policy file does not have).
pub fn parse_policies(list: Option<&str>) -> Result<Vec<(String, Policy)>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    split_policies(list)
        .into_iter()
        .map(|s| Ok((s.clone(), spec::parse(&s)?)))
        .collect()
}

/// How a grid runs: the seed and replications (default: each variant's
/// own), and a flag that stops it.
#[derive(Debug, Clone, Default)]
pub struct GridRun {
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Per point, its per-replication totals.
pub fn run_grid(
    source: &ScenarioSource,
    points: &[Point],
    run: &GridRun,
    point_done: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<Summary>>, RunError> {
    points
        .par_iter()
        .map(|pt| {
            let sc = source
                .variant(pt.policy.as_ref().map(|p| &p.1), &pt.settings)
                .map_err(|e| RunError::Input(e.to_string()))?;
            let opts = RunOptions {
                seed: run.seed.unwrap_or(sc.seed),
                replications: run.replications.unwrap_or(sc.replications),
                cancel: run.cancel.clone(),
                ..RunOptions::from_scenario(&sc)
            };
            let r = sim::run(&sc, &opts, &|_| {})?;
            point_done();
            Ok(r.totals)
        })
        .collect()
}

/// Every grid point must make a valid scenario, and every axis must change
/// it; otherwise the sweep stops before it starts and says why.
pub fn check_grid(source: &ScenarioSource, axes: &[Axis], points: &[Point]) -> Result<(), String> {
    check_points(source, points)?;
    check_axes_change_something(source, axes, points)
}

/// Names each bad point (the first ten, and how many).
fn check_points(source: &ScenarioSource, points: &[Point]) -> Result<(), String> {
    let bad: Vec<String> = points
        .iter()
        .filter_map(|pt| {
            source
                .variant(pt.policy.as_ref().map(|p| &p.1), &pt.settings)
                .err()
                .map(|e| e.to_string())
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{} of {} grid points are not valid scenarios; nothing was run:",
        bad.len(),
        points.len()
    );
    for e in bad.iter().take(10) {
        msg.push_str("\n  ");
        msg.push_str(e);
    }
    if bad.len() > 10 {
        msg.push_str(&format!("\n  ... and {} more", bad.len() - 10));
    }
    Err(msg)
}

/// A varied key that leaves the scenario as it was (a default that every
/// location overrides, say) would make a flat sweep that reads like a
/// finding.
fn check_axes_change_something(
    source: &ScenarioSource,
    axes: &[Axis],
    points: &[Point],
) -> Result<(), String> {
    let Some(first) = points.first() else {
        return Ok(());
    };
    let policy = first.policy.as_ref().map(|p| &p.1);
    for (a, axis) in axes.iter().enumerate() {
        let (Some(&lo), Some(&hi)) = (axis.values.first(), axis.values.last()) else {
            continue;
        };
        if lo == hi {
            continue;
        }
        let at = |v: f64| {
            let mut s = first.settings.clone();
            s[a].1 = v;
            source.variant(policy, &s)
        };
        if let (Ok(x), Ok(y)) = (at(lo), at(hi)) {
            if x == y {
                let hint = if axis.key == "demand.orders_per_day" {
                    " (every location sets its own orders_per_day: vary `demand.scale`, \
                     or one location's `locations.ID.orders_per_day`)"
                } else {
                    " (the scenario overrides or ignores it)"
                };
                return Err(format!(
                    "--vary {}: {lo} and {hi} give the same scenario{hint}; nothing was run",
                    axis.key
                ));
            }
        }
    }
    Ok(())
}

/// `source` with `forecast.model` pointing at `model` and
/// `forecast.demand_model` at `demand_model` (each only when given, as an
/// absolute path; the rest of the scenario's `[forecast]` stays).
pub fn with_models(
    mut source: ScenarioSource,
    model: Option<&Path>,
    demand_model: Option<&Path>,
) -> Result<ScenarioSource, String> {
    let file = source.file.clone();
    for (key, flag, dir) in [
        ("model", "--model", model),
        ("demand_model", "--demand-model", demand_model),
    ] {
        let Some(dir) = dir else { continue };
        let abs =
            std::fs::canonicalize(dir).map_err(|e| format!("{flag} {}: {e}", dir.display()))?;
        let forecast = source
            .value
            .as_table_mut()
            .ok_or_else(|| format!("{file}: not a TOML table"))?
            .entry("forecast")
            .or_insert_with(|| toml::Value::Table(toml::map::Map::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{file}: `forecast` is not a table"))?;
        forecast.insert(key.into(), toml::Value::String(abs.display().to_string()));
    }
    Ok(source)
}

/// Per point: its settings, and every metric's mean and 95% half-width
/// (summary.csv, `--format csv|json`).
pub fn summary_records(axes: &[Axis], points: &[Point], results: &[Vec<Summary>]) -> Records {
    let mut header = vec!["point".to_string(), "policy".to_string()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    for name in METRIC_NAMES {
        header.push(name.to_string());
        header.push(format!("{name}_ci95"));
    }
    let mut rows = Records::new(header);
    for (p, (pt, reps)) in points.iter().zip(results).enumerate() {
        let mut row: Vec<Cell> = vec![(p as u32).into(), pt.policy_label().into()];
        row.extend(pt.settings.iter().map(|&(_, v)| Cell::Float(v)));
        for m in 0..METRIC_NAMES.len() {
            let xs: Vec<f64> = reps.iter().map(|s| s.values[m]).collect();
            row.push(stats::mean(&xs).into());
            row.push(stats::ci95_half_width(&xs).into());
        }
        rows.push(row);
    }
    rows
}

/// Tidy rows, point × replication (replications.csv).
pub fn replication_records(axes: &[Axis], points: &[Point], results: &[Vec<Summary>]) -> Records {
    let mut header = vec!["point".to_string(), "policy".to_string()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    header.push("replication".to_string());
    header.extend(METRIC_NAMES.iter().map(|s| s.to_string()));
    let mut reps = Records::new(header);
    for (p, (pt, per_rep)) in points.iter().zip(results).enumerate() {
        for (r, s) in per_rep.iter().enumerate() {
            let mut row: Vec<Cell> = vec![(p as u32).into(), pt.policy_label().into()];
            row.extend(pt.settings.iter().map(|&(_, v)| Cell::Float(v)));
            row.push((r as u32).into());
            row.extend(s.values.iter().map(|&v| Cell::Float(v)));
            reps.push(row);
        }
    }
    reps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_grids_multiply() {
        let a = parse_axis("policy.confidence=0.9:0.99:0.03").unwrap();
        assert_eq!(a.values, vec![0.9, 0.93, 0.96, 0.99]);
        let b = parse_axis("demand.orders_per_day=10:20:10").unwrap();
        assert_eq!(b.values, vec![10.0, 20.0]);
        let g = grid(&[a, b], &[]);
        assert_eq!(g.len(), 8);
        assert_eq!(g[1].settings[1].1, 20.0);
        for bad in [
            "x",
            "k=1:2",
            "k=2:1:1",
            "k=1:2:0",
            "k=a:b:c",
            "k=0:1e300:1e-300",
        ] {
            assert!(parse_axis(bad).is_err(), "{bad}");
        }
        assert!(axis_of_values("k", vec![]).is_err());
        assert!(axis_of_values("k", vec![1.0, f64::NAN]).is_err());
        assert_eq!(axis_of_values(" k ", vec![2.0]).unwrap().key, "k");
    }
}
