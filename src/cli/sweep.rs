//! `lockerlab sweep SCENARIO --vary KEY=START:END:STEP ...`: a grid of
//! scenario variants × policies, every point on the same random numbers.

use super::compare::split_policies;
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::{stats, Summary, METRIC_NAMES};
use lockerlab::policy::{spec, Policy};
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
    /// Replications per grid point, the same random numbers at every point.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    replications: u32,
    /// The dwell model forecast policies read.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Write replications.{csv,parquet} and summary.{csv,parquet} into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
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
pub fn run_grid(
    source: &ScenarioSource,
    points: &[Point],
    replications: u32,
    point_done: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<Summary>>, Failure> {
    points
        .par_iter()
        .map(|pt| {
            let sc = source
                .variant(pt.policy.as_ref().map(|p| &p.1), &pt.settings)
                .map_err(|e| Failure::BadInput(e.into()))?;
            let opts = RunOptions {
                replications,
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

/// The scenario source, with `forecast.model` pointing at --model.
pub fn source_with_model(
    scenario: Option<&Path>,
    model: Option<&Path>,
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
    if let Some(m) = model {
        let abs = std::fs::canonicalize(m)
            .with_context(|| format!("--model {}", m.display()))
            .map_err(Failure::BadInput)?;
        let table = src
            .value
            .as_table_mut()
            .ok_or_else(|| Failure::BadInput(anyhow!("{file}: not a TOML table")))?;
        let mut f = toml::map::Map::new();
        f.insert(
            "model".into(),
            toml::Value::String(abs.display().to_string()),
        );
        table.insert("forecast".into(), toml::Value::Table(f));
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
    let source = source_with_model(args.scenario.as_deref(), args.model.as_deref())?;
    let points = grid(&axes, &policies);
    check_points(&source, &points)?;
    let pool = super::thread_pool(args.threads)?;
    let started = Instant::now();
    let bar = super::progress::bar(args.quiet, points.len() as u64, "grid points");
    let results = pool.install(|| run_grid(&source, &points, args.replications, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();

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
    for (pt, reps) in points.iter().zip(&results) {
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
    print!("{}", table.render(0));
    eprintln!(
        "{} grid points × {} replications in {:.2} s: {:.2} points/s on {} threads",
        points.len(),
        args.replications,
        secs,
        points.len() as f64 / secs,
        rayon::current_num_threads()
    );
    if let Some(dir) = &args.out {
        write_outputs(dir, &axes, &points, &results).map_err(Failure::BadInput)?;
    }
    Ok(())
}

fn policy_label(pt: &Point) -> String {
    pt.policy
        .as_ref()
        .map_or("scenario".to_string(), |p| p.0.clone())
}

fn write_outputs(
    dir: &Path,
    axes: &[Axis],
    points: &[Point],
    results: &[Vec<Summary>],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Tidy rows: point × replication.
    let mut cols: Vec<Column> = Vec::new();
    let rows: Vec<(usize, usize)> = results
        .iter()
        .enumerate()
        .flat_map(|(p, reps)| (0..reps.len()).map(move |r| (p, r)))
        .collect();
    cols.push(
        Series::new(
            "point".into(),
            rows.iter().map(|&(p, _)| p as u32).collect::<Vec<_>>(),
        )
        .into(),
    );
    cols.push(
        Series::new(
            "policy".into(),
            rows.iter()
                .map(|&(p, _)| policy_label(&points[p]))
                .collect::<Vec<_>>(),
        )
        .into(),
    );
    for (a, axis) in axes.iter().enumerate() {
        cols.push(
            Series::new(
                axis.key.as_str().into(),
                rows.iter()
                    .map(|&(p, _)| points[p].settings[a].1)
                    .collect::<Vec<_>>(),
            )
            .into(),
        );
    }
    cols.push(
        Series::new(
            "replication".into(),
            rows.iter().map(|&(_, r)| r as u32).collect::<Vec<_>>(),
        )
        .into(),
    );
    for (m, name) in METRIC_NAMES.iter().enumerate() {
        let v: Vec<Option<f64>> = rows
            .iter()
            .map(|&(p, r)| Some(results[p][r].values[m]).filter(|x| !x.is_nan()))
            .collect();
        cols.push(Series::new((*name).into(), v).into());
    }
    let mut reps = DataFrame::new(cols)?;
    write_both(dir, "replications", &mut reps)?;

    // Summary: point × metric mean and CI, wide.
    let mut cols: Vec<Column> = Vec::new();
    cols.push(Series::new("point".into(), (0..points.len() as u32).collect::<Vec<_>>()).into());
    cols.push(
        Series::new(
            "policy".into(),
            points.iter().map(policy_label).collect::<Vec<_>>(),
        )
        .into(),
    );
    for (a, axis) in axes.iter().enumerate() {
        cols.push(
            Series::new(
                axis.key.as_str().into(),
                points.iter().map(|pt| pt.settings[a].1).collect::<Vec<_>>(),
            )
            .into(),
        );
    }
    for (m, name) in METRIC_NAMES.iter().enumerate() {
        let stat = |f: fn(&[f64]) -> f64| -> Vec<Option<f64>> {
            results
                .iter()
                .map(|reps| {
                    let xs: Vec<f64> = reps.iter().map(|s| s.values[m]).collect();
                    Some(f(&xs)).filter(|x| !x.is_nan())
                })
                .collect()
        };
        cols.push(Series::new((*name).into(), stat(stats::mean)).into());
        cols.push(
            Series::new(
                format!("{name}_ci95").as_str().into(),
                stat(stats::ci95_half_width),
            )
            .into(),
        );
    }
    let mut summary = DataFrame::new(cols)?;
    write_both(dir, "summary", &mut summary)?;
    Ok(())
}

fn write_both(dir: &Path, name: &str, df: &mut DataFrame) -> anyhow::Result<()> {
    let csv = dir.join(format!("{name}.csv"));
    CsvWriter::new(std::fs::File::create(&csv).with_context(|| csv.display().to_string())?)
        .include_header(true)
        .finish(df)?;
    let pq = dir.join(format!("{name}.parquet"));
    ParquetWriter::new(std::fs::File::create(&pq).with_context(|| pq.display().to_string())?)
        .finish(df)?;
    Ok(())
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
