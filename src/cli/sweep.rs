//! `lockerlab sweep SCENARIO --vary KEY=START:END:STEP ...`: a grid of
//! scenario variants × policies, every point on the same random numbers.

use super::run_args::{Format, RunArgs};
use super::shard_args::ShardArgs;
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::{stats, Summary, METRIC_NAMES};
use lockerlab::records::Records;
use lockerlab::scenario::edit::ScenarioSource;
use lockerlab::scenario::{BUILTIN_NAME, BUILTIN_TOML};
use lockerlab::shard::{self, manifest::Loaded, manifest::RunIdentity};
use lockerlab::sweep::{self, Axis, GridRun, Point};
use polars::prelude::*;
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
    #[command(flatten)]
    shard: ShardArgs,
}

/// What decides a sweep's result, as a shard's manifest records it and
/// `lockerlab merge` reads it back.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    scenario: Option<PathBuf>,
    vary: Vec<String>,
    policies: Option<String>,
    seed: Option<u64>,
    replications: Option<u32>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
}

impl Arguments {
    /// The axes and grid points (no scenario needed).
    fn grid(&self) -> Result<(Vec<Axis>, Vec<Point>), Failure> {
        let axes: Vec<Axis> = self
            .vary
            .iter()
            .map(|v| sweep::parse_axis(v))
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::BadInput(anyhow!(e)))?;
        let policies = sweep::parse_policies(self.policies.as_deref())
            .map_err(|m| Failure::BadInput(anyhow!(m)))?;
        let points = sweep::grid(&axes, &policies);
        Ok((axes, points))
    }
}

/// The scenario source (the file's, or the built-in city's), with
/// `forecast.model` and `forecast.demand_model` pointing at --model and
/// --demand-model when given.
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
    let src = ScenarioSource::new(&text, &file).map_err(|e| Failure::BadInput(e.into()))?;
    sweep::with_models(src, model, demand_model).map_err(|m| Failure::BadInput(anyhow!(m)))
}

pub fn run(args: Args) -> CmdResult {
    let arguments = Arguments {
        scenario: args.scenario.clone(),
        vary: args.vary.clone(),
        policies: args.policies.clone(),
        seed: args.run.seed,
        replications: args.run.replications,
        model: args.model.clone(),
        demand_model: args.demand_model.clone(),
    };
    let (axes, points) = arguments.grid()?;
    let source = source_with_models(
        args.scenario.as_deref(),
        args.model.as_deref(),
        args.demand_model.as_deref(),
    )?;
    sweep::check_grid(&source, &axes, &points).map_err(|m| Failure::BadInput(anyhow!(m)))?;
    let grid_run = GridRun {
        seed: args.run.seed,
        replications: args.run.replications,
        cancel: None,
    };
    let pool = args.run.pool()?;
    if let Some(shard) = args.shard.shard()? {
        super::shard_args::refuse_on_shard("--out-dir", args.out_dir.is_some())?;
        let identity = RunIdentity {
            arguments: serde_json::to_value(&arguments).map_err(|e| Failure::Internal(e.into()))?,
            scenario_sha256: super::shard_args::scenario_sha256(args.scenario.as_deref())?,
        };
        let seed = match args.run.seed {
            Some(s) => s,
            None => {
                source
                    .variant(None, &[])
                    .map_err(|e| Failure::BadInput(e.into()))?
                    .seed
            }
        };
        let plan = shard::sweep::plan(&source, &points, &grid_run, shard)?;
        let bar =
            super::progress::bar(args.run.quiet, plan.mine.len() as u64, "point-replications");
        let partial = pool.install(|| {
            let stamp = shard::sweep::Stamp {
                identity,
                seed,
                shard,
            };
            shard::sweep::run_shard(&plan, &grid_run, stamp, &|| bar.inc(1))
        })?;
        bar.finish_and_clear();
        return args.shard.write(partial, args.run.quiet);
    }
    let started = Instant::now();
    let bar = super::progress::bar(args.run.quiet, points.len() as u64, "grid points");
    let results = pool.install(|| sweep::run_grid(&source, &points, &grid_run, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
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
    emit(
        &axes,
        &points,
        &results,
        args.run.format,
        args.out_dir.as_deref(),
    )
}

/// The report on stdout and, with an output directory, its files: the
/// same for a sweep on one machine and for `lockerlab merge` of its shards.
fn emit(
    axes: &[Axis],
    points: &[Point],
    results: &[Vec<Summary>],
    format: Format,
    out_dir: Option<&Path>,
) -> CmdResult {
    let summary = sweep::summary_records(axes, points, results);
    match format {
        Format::Table => print!("{}", render(axes, points, results)),
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
    if let Some(dir) = out_dir {
        write_outputs(dir, axes, points, results, &summary).map_err(Failure::BadInput)?;
    }
    Ok(())
}

/// `lockerlab merge` of a sweep's partials.
pub fn merge(set: &[Loaded], format: Format, out_dir: Option<&Path>) -> CmdResult {
    let arguments: Arguments = serde_json::from_value(set[0].manifest.arguments.clone())
        .map_err(|e| Failure::BadInput(anyhow!("{}: arguments: {e}", set[0].path)))?;
    let (axes, points) = arguments.grid()?;
    let results =
        shard::sweep::merge(points.len(), set).map_err(|m| Failure::BadInput(anyhow!(m)))?;
    emit(&axes, &points, &results, format, out_dir)
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
        let mut row = vec![pt.policy_label()];
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

/// Tidy rows (point × replication) and the summary, as CSV and Parquet.
fn write_outputs(
    dir: &Path,
    axes: &[Axis],
    points: &[Point],
    results: &[Vec<Summary>],
    summary: &Records,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let reps = sweep::replication_records(axes, points, results);
    reps.write_csv_and_parquet(dir, "replications")?;
    summary.write_csv_and_parquet(dir, "summary")
}
