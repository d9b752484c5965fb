//! `lockerlab compare SCENARIO --policies a,b,c`: policies side by side on
//! the same orders, dwell times and faults (common random numbers), with the
//! paired difference of each against the first.

use super::run_args::{Format, RunArgs};
use super::shard_args::ShardArgs;
use super::{CmdResult, Failure};
use anyhow::Context;
use lockerlab::compare::{
    compare_records, metric_index, paired, policies_to_compare, policy_run, policy_scenarios,
    run_policies, PolicyRun, DEFAULT_METRICS,
};
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::{stats, METRIC_NAMES};
use lockerlab::records::{Cell, Records};
use lockerlab::scenario::Scenario;
use lockerlab::shard::{self, manifest::Loaded, manifest::RunIdentity};
use lockerlab::sim::{self, RunOptions};
use lockerlab::time::DAY;
use std::path::PathBuf;

/// Compare admission policies on common random numbers: every policy sees
/// the same orders, dwell times and faults, replication by replication, so
/// differences are paired and their confidence intervals narrow.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab compare scenarios/city.toml --policies tier-partition,forecast:confidence=0.999 --model models/city --replications 20\n  lockerlab compare scenarios/quickstart.toml --policies snapshot,tier-partition --replications 10 --format csv\n  lockerlab compare scenarios/city.toml --policies tier-partition,policies/city-forecast.json --replications 20 --out-dir runs/compare"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// Policies, the first being the reference: KIND[:key=value,...] or
    /// policy files, comma-separated (a `key=value` after a comma belongs to
    /// the policy before it).
    #[arg(long, required = true, value_name = "LIST")]
    policies: String,
    #[command(flatten)]
    run: RunArgs,
    /// The dwell model forecast policies read (overrides `[forecast] model`).
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// The demand model the optimized policy plans with (overrides
    /// `[forecast] demand_model`).
    #[arg(long, value_name = "DIR")]
    demand_model: Option<PathBuf>,
    /// Metrics to show, comma-separated (docs/scenario.md lists them).
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<String>,
    /// Write per-replication rows (replications.csv) and the table
    /// (compare.csv) into DIR, for `lockerlab report`.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    shard: ShardArgs,
}

/// What decides a comparison's result and how it reads, as a shard's
/// manifest records it and `lockerlab merge` reads it back.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    scenario: Option<PathBuf>,
    policies: String,
    replications: u32,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    metrics: Vec<String>,
}

/// A comparison ready to run or merge: the scenario, the policies' specs,
/// the metrics shown.
struct Prepared {
    sc: Scenario,
    specs: Vec<String>,
    metrics: Vec<usize>,
}

impl Arguments {
    fn prepare(&self) -> Result<Prepared, Failure> {
        let mut sc =
            super::load_scenario(self.scenario.as_deref(), &super::HistoryOpts::default())?;
        if let Some(dir) = &self.demand_model {
            sc.demand_forecast = Some(super::load_demand_model(dir)?);
        }
        let specs = policies_to_compare(&self.policies)
            .map_err(|m| Failure::BadInput(anyhow::anyhow!("--policies: {m}")))?;
        let names: Vec<String> = if self.metrics.is_empty() {
            DEFAULT_METRICS.iter().map(|s| s.to_string()).collect()
        } else {
            self.metrics.clone()
        };
        let metrics: Vec<usize> = names
            .iter()
            .map(|n| metric_index(n))
            .collect::<Result<_, _>>()
            .map_err(|m| Failure::BadInput(anyhow::anyhow!("--metrics: {m}")))?;
        Ok(Prepared { sc, specs, metrics })
    }
}

pub fn run(args: Args) -> CmdResult {
    // The replications are the scenario's unless given: read it first.
    let mut arguments = Arguments {
        scenario: args.scenario.clone(),
        policies: args.policies.clone(),
        replications: 0,
        model: args.model.clone(),
        demand_model: args.demand_model.clone(),
        metrics: args.metrics.clone(),
    };
    let Prepared { sc, specs, metrics } = arguments.prepare()?;
    let opts = RunOptions {
        seed: args.run.seed(&sc),
        replications: args.run.paired_replications(&sc, "compare")?,
        ..RunOptions::from_scenario(&sc)
    };
    arguments.replications = opts.replications;
    let pool = args.run.pool()?;
    if let Some(shard) = args.shard.shard()? {
        super::shard_args::refuse_on_shard("--out-dir", args.out_dir.is_some())?;
        let identity = RunIdentity {
            arguments: serde_json::to_value(&arguments).map_err(|e| Failure::Internal(e.into()))?,
            scenario_sha256: super::shard_args::scenario_sha256(args.scenario.as_deref())?,
        };
        let scenarios = policy_scenarios(&sc, &specs, args.model.as_deref())?;
        let plan = shard::compare::plan(scenarios, opts.replications, shard);
        let bar = super::progress::bar(
            args.run.quiet,
            plan.mine.len() as u64,
            "policy-replications",
        );
        let partial = pool.install(|| {
            let stamp = shard::compare::Stamp {
                identity,
                seed: opts.seed,
                shard,
            };
            shard::compare::run_shard(&plan, opts.replications, stamp, &|| bar.inc(1))
        })?;
        bar.finish_and_clear();
        return args.shard.write(partial, args.run.quiet);
    }
    let jobs = (specs.len() * sc.locations.len()) as u64 * opts.replications as u64;
    let bar = super::progress::bar(args.run.quiet, jobs, "location-runs");
    let runs =
        pool.install(|| run_policies(&sc, &specs, args.model.as_deref(), &opts, &|n| bar.inc(n)))?;
    bar.finish_and_clear();
    emit(
        &sc,
        &opts,
        &runs,
        &metrics,
        args.run.format,
        args.out_dir.as_deref(),
    )
}

/// The comparison on stdout and, with an output directory, its files: the
/// same for a run on one machine and for `lockerlab merge` of its shards.
fn emit(
    sc: &Scenario,
    opts: &RunOptions,
    runs: &[PolicyRun],
    metrics: &[usize],
    format: Format,
    out_dir: Option<&std::path::Path>,
) -> CmdResult {
    let rows = compare_records(runs, metrics);
    match format {
        Format::Table => print!("{}", render(sc, opts, runs, metrics)),
        Format::Csv => rows
            .write_csv(std::io::stdout().lock())
            .map_err(Failure::Internal)?,
        Format::Json => {
            let json = serde_json::json!({
                "scenario": sc.name,
                "seed": opts.seed,
                "replications": opts.replications,
                "warmup_days": sc.warmup as f64 / DAY as f64,
                "horizon_days": sc.horizon as f64 / DAY as f64,
                "policies": runs.iter().map(|r| serde_json::json!({
                    "label": r.label,
                    "spec": r.spec,
                    "locations_with_own_policy": r.overrides,
                })).collect::<Vec<_>>(),
                "rows": rows.to_json(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values")
            );
        }
    }
    if let Some(dir) = out_dir {
        write_outputs(dir, runs, &rows).map_err(Failure::BadInput)?;
    }
    Ok(())
}

/// `lockerlab merge` of a comparison's partials: the scenario and policies
/// are read again (they must be the files the shards read).
pub fn merge(set: &[Loaded], format: Format, out_dir: Option<&std::path::Path>) -> CmdResult {
    let first = &set[0].manifest;
    let arguments: Arguments = serde_json::from_value(first.arguments.clone())
        .map_err(|e| Failure::BadInput(anyhow::anyhow!("{}: arguments: {e}", set[0].path)))?;
    super::shard_args::same_scenario(arguments.scenario.as_deref(), &first.scenario_sha256)?;
    let Prepared { sc, specs, metrics } = arguments.prepare()?;
    let scenarios = policy_scenarios(&sc, &specs, arguments.model.as_deref())?;
    let per_policy = shard::compare::merge(specs.len(), set)
        .map_err(|m| Failure::BadInput(anyhow::anyhow!(m)))?;
    let runs: Vec<PolicyRun> = specs
        .iter()
        .zip(&scenarios)
        .zip(per_policy)
        .map(|((spec, sc), per_rep)| policy_run(spec, sc, per_rep))
        .collect();
    let opts = RunOptions {
        seed: first.seed,
        replications: arguments.replications,
        ..RunOptions::from_scenario(&sc)
    };
    emit(&sc, &opts, &runs, &metrics, format, out_dir)
}

fn render(sc: &Scenario, opts: &RunOptions, runs: &[PolicyRun], metrics: &[usize]) -> String {
    let mut out = format!(
        "scenario {}  seed {}  replications {} (common random numbers)\n{}\n\n",
        sc.name,
        opts.seed,
        opts.replications,
        sim::measured_period(
            sc.warmup as f64 / DAY as f64,
            sc.horizon as f64 / DAY as f64,
            opts.replications
        ),
    );
    let first = &runs[0];
    for run in runs {
        out.push_str(&format!("policy {}\n", run.label));
        if run.spec != run.label {
            out.push_str(&format!("  runs {}\n", run.spec));
        }
        if run.overrides > 0 {
            out.push_str(&format!(
                "  and {} locations with policies of their own\n",
                run.overrides
            ));
        }
        let is_first = std::ptr::eq(run, first);
        let vs = format!("vs {}", short(&first.label));
        let mut columns = vec![("metric", Align::Left), ("mean ± 95% CI", Align::Right)];
        if !is_first {
            columns.push((vs.as_str(), Align::Right));
            columns.push(("", Align::Left));
        }
        let mut table = Table::new(&columns);
        for &m in metrics {
            let xs: Vec<f64> = run.per_rep.iter().map(|s| s.values[m]).collect();
            let mut row = vec![
                METRIC_NAMES[m].to_string(),
                display::mean_ci(stats::mean(&xs), stats::ci95_half_width(&xs)),
            ];
            if !is_first {
                let (d, h) = paired(&first.per_rep, &run.per_rep, m);
                row.push(display::diff_ci(d, h));
                row.push(
                    if d.abs() > h {
                        "significant"
                    } else {
                        "not significant"
                    }
                    .into(),
                );
            }
            table.row(row);
        }
        out.push_str(&table.render(2));
        out.push('\n');
    }
    out
}

fn short(label: &str) -> &str {
    label.split(':').next().unwrap_or(label)
}

fn write_outputs(dir: &std::path::Path, runs: &[PolicyRun], table: &Records) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut header = vec!["policy".to_string(), "replication".to_string()];
    header.extend(METRIC_NAMES.iter().map(|s| s.to_string()));
    let mut reps = Records::new(header);
    for run in runs {
        for (r, s) in run.per_rep.iter().enumerate() {
            let mut row: Vec<Cell> = vec![run.label.as_str().into(), (r as u32).into()];
            row.extend(s.values.iter().map(|&v| Cell::Float(v)));
            reps.push(row);
        }
    }
    reps.write_csv_file(&dir.join("replications.csv"))?;
    table.write_csv_file(&dir.join("compare.csv"))
}
