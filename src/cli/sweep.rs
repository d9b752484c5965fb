//! `lockerlab sweep SCENARIO --vary KEY=START:END:STEP ...`: a grid of
//! scenario variants × policies, every point on the same random numbers.

use super::run_args::{Format, RunArgs};
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::compare::split_policies;
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::{stats, Summary, METRIC_NAMES};
use lockerlab::policy::{spec, Policy};
use lockerlab::records::{Cell, Records};
use lockerlab::scenario::edit::ScenarioSource;
use lockerlab::scenario::{BUILTIN_NAME, BUILTIN_TOML};
use lockerlab::sim::{self, RunOptions};
use polars::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Run a grid of scenario variants (and policies) with common random
/// numbers; write one row per point × replication and a summary with 95% CIs.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab sweep scenarios/quickstart.toml --vary policy.shares.same_day=0.1:0.5:0.1\n  lockerlab sweep scenarios/city.toml --vary policy.confidence=0.99:0.999:0.003 --policies forecast --model models/city --out-dir runs/sweep"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// KEY=START:END:STEP, KEY a scenario key path (e.g. `policy.confidence`,
    /// `demand.orders_per_day`); repeat for a grid.
    #[arg(long, value_name = "KEY=START:END:STEP", required = true)]
    vary: Vec<String>,
    /// Policies to run at every point (default: the scenario's), as in `compare`.
    #[arg(long, value_name = "LIST")]
    policies: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// The dwell model forecast policies read.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// The demand model the optimized policy plans with.
    #[arg(long, value_name = "DIR")]
    demand_model: Option<PathBuf>,
    /// Write replications.{csv,parquet} and summary.{csv,parquet} into DIR.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// One axis of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<f64>,
}

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
    let n = ((end - start) / step + 1e-9).floor() as usize + 1;
    if n > 10_000 {
        return Err(format!("--vary `{s}`: {n} values is too many"));
    }
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

/// A grid point: the policy (None: the scenario's) and the axis values.
#[derive(Debug, Clone)]
pub struct Point {
    pub policy: Option<(String, Policy)>,
    pub settings: Vec<(String, f64)>,
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

/// Per point, its per-replication totals.
fn run_grid(
    source: &ScenarioSource,
    points: &[Point],
    run: &RunArgs,
    point_done: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<Summary>>, Failure> {
    points
        .par_iter()
        .map(|pt| {
            let sc = source
                .variant(pt.policy.as_ref().map(|p| &p.1), &pt.settings)
                .map_err(|e| Failure::BadInput(e.into()))?;
            let opts = RunOptions {
                seed: run.seed(&sc),
                replications: run.replications(&sc),
                ..RunOptions::from_scenario(&sc)
            };
            let r = sim::run(&sc, &opts, &|_| {}).map_err(|e| Failure::Internal(e.into()))?;
            point_done();
            Ok(r.totals)
        })
        .collect()
}

/// Every grid point must make a valid scenario; otherwise the sweep stops
/// before it starts, naming each bad point (the first ten, and how many).
fn check_points(source: &ScenarioSource, points: &[Point]) -> Result<(), Failure> {
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
    Err(Failure::BadInput(anyhow!(msg)))
}

/// A varied key that leaves the scenario as it was (a default that every
/// location overrides, say) would make a flat sweep that reads like a
/// finding: the sweep stops before it starts and says which key.
fn check_axes_change_something(
    source: &ScenarioSource,
    axes: &[Axis],
    points: &[Point],
) -> Result<(), Failure> {
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
                return Err(Failure::BadInput(anyhow!(
                    "--vary {}: {lo} and {hi} give the same scenario{hint}; nothing was run",
                    axis.key
                )));
            }
        }
    }
    Ok(())
}

/// The scenario source, with `forecast.model` pointing at --model and
/// `forecast.demand_model` at --demand-model (each only when given; the
/// rest of the scenario's `[forecast]` stays).
pub fn source_with_models(
    scenario: Option<&Path>,
    model: Option<&Path>,
    demand_model: Option<&Path>,
) -> Result<ScenarioSource, Failure> {
    let (text, file) = match scenario {
        Some(p) => (
            lockerlab::files::read_text(p)
                .with_context(|| format!("reading {}", p.display()))
                .map_err(Failure::BadInput)?,
            p.display().to_string(),
        ),
        None => (BUILTIN_TOML.to_string(), BUILTIN_NAME.to_string()),
    };
    let mut src = ScenarioSource::new(&text, &file).map_err(|e| Failure::BadInput(e.into()))?;
    for (key, flag, dir) in [
        ("model", "--model", model),
        ("demand_model", "--demand-model", demand_model),
    ] {
        let Some(dir) = dir else { continue };
        let abs = std::fs::canonicalize(dir)
            .with_context(|| format!("{flag} {}", dir.display()))
            .map_err(Failure::BadInput)?;
        let forecast = src
            .value
            .as_table_mut()
            .ok_or_else(|| Failure::BadInput(anyhow!("{file}: not a TOML table")))?
            .entry("forecast")
            .or_insert_with(|| toml::Value::Table(toml::map::Map::new()))
            .as_table_mut()
            .ok_or_else(|| Failure::BadInput(anyhow!("{file}: `forecast` is not a table")))?;
        forecast.insert(key.into(), toml::Value::String(abs.display().to_string()));
    }
    Ok(src)
}

pub fn parse_policies(list: Option<&str>) -> Result<Vec<(String, Policy)>, Failure> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    split_policies(list)
        .into_iter()
        .map(|s| {
            let p = spec::parse(&s).map_err(|e| Failure::BadInput(anyhow!(e)))?;
            Ok((s, p))
        })
        .collect()
}

pub fn run(args: Args) -> CmdResult {
    let axes: Vec<Axis> = args
        .vary
        .iter()
        .map(|v| parse_axis(v))
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::BadInput(anyhow!(e)))?;
    let policies = parse_policies(args.policies.as_deref())?;
    let source = source_with_models(
        args.scenario.as_deref(),
        args.model.as_deref(),
        args.demand_model.as_deref(),
    )?;
    let points = grid(&axes, &policies);
    check_points(&source, &points)?;
    check_axes_change_something(&source, &axes, &points)?;
    let pool = args.run.pool()?;
    let started = Instant::now();
    let bar = super::progress::bar(args.run.quiet, points.len() as u64, "grid points");
    let results = pool.install(|| run_grid(&source, &points, &args.run, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let summary = summary_records(&axes, &points, &results);
    match args.run.format {
        Format::Table => print!("{}", render(&axes, &points, &results)),
        Format::Csv => {
            let mut df = summary.to_frame().map_err(Failure::Internal)?;
            CsvWriter::new(std::io::stdout().lock())
                .include_header(true)
                .finish(&mut df)
                .map_err(|e| Failure::Internal(e.into()))?;
        }
        Format::Json => {
            let json = serde_json::json!({
                "vary": axes.iter().map(|a| &a.key).collect::<Vec<_>>(),
                "replications": results.first().map_or(0, Vec::len),
                "points": summary.to_json(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values")
            );
        }
    }
    if !args.run.quiet {
        eprintln!(
            "{} grid points × {} replications in {:.2} s: {:.2} points/s on {} threads",
            points.len(),
            results.first().map_or(0, Vec::len),
            secs,
            points.len() as f64 / secs,
            rayon::current_num_threads()
        );
    }
    if let Some(dir) = &args.out_dir {
        write_outputs(dir, &axes, &points, &results, &summary).map_err(Failure::BadInput)?;
    }
    Ok(())
}

/// The table on stdout: the headline metrics per point.
fn render(axes: &[Axis], points: &[Point], results: &[Vec<Summary>]) -> String {
    let shown = ["acceptance_rate", "failed_delivery_rate", "utilization"];
    let idx: Vec<usize> = shown
        .iter()
        .map(|n| {
            METRIC_NAMES
                .iter()
                .position(|m| m == n)
                .expect("known metric")
        })
        .collect();
    let mut columns = vec![("policy", Align::Left)];
    columns.extend(axes.iter().map(|a| (a.key.as_str(), Align::Right)));
    columns.extend(shown.iter().map(|s| (*s, Align::Right)));
    let mut table = Table::new(&columns);
    for (pt, reps) in points.iter().zip(results) {
        let mut row = vec![policy_label(pt)];
        row.extend(pt.settings.iter().map(|(_, v)| format!("{v}")));
        for &m in &idx {
            let xs: Vec<f64> = reps.iter().map(|s| s.values[m]).collect();
            row.push(display::mean_ci(
                stats::mean(&xs),
                stats::ci95_half_width(&xs),
            ));
        }
        table.row(row);
    }
    table.render(0)
}

fn policy_label(pt: &Point) -> String {
    pt.policy
        .as_ref()
        .map_or("scenario".to_string(), |p| p.0.clone())
}

/// Per point: its settings, and every metric's mean and 95% half-width.
fn summary_records(axes: &[Axis], points: &[Point], results: &[Vec<Summary>]) -> Records {
    let mut header = vec!["point".to_string(), "policy".to_string()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    for name in METRIC_NAMES {
        header.push(name.to_string());
        header.push(format!("{name}_ci95"));
    }
    let mut rows = Records::new(header);
    for (p, (pt, reps)) in points.iter().zip(results).enumerate() {
        let mut row: Vec<Cell> = vec![(p as u32).into(), policy_label(pt).into()];
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

/// Tidy rows (point × replication) and the summary, as CSV and Parquet.
fn write_outputs(
    dir: &Path,
    axes: &[Axis],
    points: &[Point],
    results: &[Vec<Summary>],
    summary: &Records,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut header = vec!["point".to_string(), "policy".to_string()];
    header.extend(axes.iter().map(|a| a.key.clone()));
    header.push("replication".to_string());
    header.extend(METRIC_NAMES.iter().map(|s| s.to_string()));
    let mut reps = Records::new(header);
    for (p, (pt, per_rep)) in points.iter().zip(results).enumerate() {
        for (r, s) in per_rep.iter().enumerate() {
            let mut row: Vec<Cell> = vec![(p as u32).into(), policy_label(pt).into()];
            row.extend(pt.settings.iter().map(|&(_, v)| Cell::Float(v)));
            row.push((r as u32).into());
            row.extend(s.values.iter().map(|&v| Cell::Float(v)));
            reps.push(row);
        }
    }
    reps.write_csv_and_parquet(dir, "replications")?;
    summary.write_csv_and_parquet(dir, "summary")
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
        for bad in ["x", "k=1:2", "k=2:1:1", "k=1:2:0", "k=a:b:c"] {
            assert!(parse_axis(bad).is_err(), "{bad}");
        }
    }
}
