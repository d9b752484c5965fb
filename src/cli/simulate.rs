//! `lockerlab simulate`: run a scenario and report its metrics.

use super::run_args::{Format, RunArgs};
use super::shard_args::ShardArgs;
use super::{CmdResult, Failure};
use anyhow::Context;
use lockerlab::scenario::Scenario;
use lockerlab::shard::{self, manifest::Loaded, manifest::RunIdentity, Shard};
use lockerlab::sim::{self, RunOptions, RunReport};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Run a scenario (or the built-in 200-location city) and print its metrics.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab simulate                                   # the built-in 200-locker city\n  lockerlab simulate scenarios/quickstart.toml --replications 10 --format json\n  lockerlab simulate scenarios/city.toml --policy forecast:confidence=0.999 --model models/city\n  lockerlab simulate scenarios/city.toml --out-dir runs/city --occupancy && lockerlab report runs/city --out-dir reports/city"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network runs.
    scenario: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    replay: super::HistoryOpts,
    #[command(flatten)]
    policy: super::PolicyOpts,
    /// Also write summary.json (no timing: byte-identical for the same
    /// scenario and seed), locations.csv and timing.json into DIR.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// With --out-dir: also write occupancy.csv, every location's capacity
    /// held by tier on the hour (first replication), for `lockerlab report`.
    #[arg(long, requires = "out_dir")]
    occupancy: bool,
    /// Show every metric in the table, also fault, access and outage
    /// counters that stayed 0 (JSON and CSV always have them all).
    #[arg(long)]
    all: bool,
    /// Write every location's tamper-evident audit log (access attempts,
    /// door operations) into DIR, with its head hash; check one with
    /// `lockerlab audit verify`.
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    #[command(flatten)]
    shard: ShardArgs,
}

/// What decides a simulate run's result, as a shard's manifest records it
/// and `lockerlab merge` reads it back.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    scenario: Option<PathBuf>,
    history: Option<PathBuf>,
    history_dwell: Option<String>,
    policy: Option<String>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    replications: u32,
}

impl Arguments {
    fn history(&self) -> Result<super::HistoryOpts, Failure> {
        use clap::ValueEnum;
        let history_dwell = self
            .history_dwell
            .as_deref()
            .map(|d| super::DwellSource::from_str(d, false))
            .transpose()
            .map_err(|e| Failure::BadInput(anyhow::anyhow!("history_dwell: {e}")))?;
        Ok(super::HistoryOpts {
            history: self.history.clone(),
            history_dwell,
        })
    }

    fn policy(&self) -> super::PolicyOpts {
        super::PolicyOpts {
            policy: self.policy.clone(),
            model: self.model.clone(),
            demand_model: self.demand_model.clone(),
        }
    }

    /// The scenario with its history and policy, as the shards ran it.
    fn scenario(&self) -> Result<Scenario, Failure> {
        let mut sc = super::load_scenario(self.scenario.as_deref(), &self.history()?)?;
        super::apply_policy(&mut sc, &self.policy())?;
        Ok(sc)
    }
}

pub fn run(args: Args) -> CmdResult {
    let mut sc = super::load_scenario(args.scenario.as_deref(), &args.replay)?;
    super::apply_policy(&mut sc, &args.policy)?;
    let seed = args.run.seed(&sc);
    let replications = args.run.replications(&sc);
    if let Some(shard) = args.shard.shard()? {
        return run_shard(&args, &sc, seed, replications, shard);
    }
    let opts = RunOptions {
        seed,
        replications,
        check_invariants: false,
        audit_dir: args.audit_dir.clone(),
        record_history: false,
        record_occupancy: args.occupancy,
        record_world: false,
        pool_locations: false,
        keep_location_metrics: false,
        cancel: None,
    };
    if let (false, Some(note)) = (args.run.quiet, sc.warmup_note()) {
        eprintln!("{note}");
    }
    let jobs = sc.locations.len() as u64 * opts.replications as u64;
    let bar = super::progress::bar(args.run.quiet, jobs, "location-runs");
    let pool = args.run.pool()?;

    let start = Instant::now();
    let result = pool
        .install(|| sim::run(&sc, &opts, &|n| bar.inc(n)))
        .map_err(|e| match e {
            // The user's directory is the problem, not the simulator.
            sim::SimError::Audit { .. } => Failure::BadInput(e.into()),
            e => Failure::Internal(e.into()),
        })?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let timing = serde_json::json!({
        "events": result.events,
        "wall_seconds": wall,
        "events_per_second": result.events as f64 / wall.max(1e-9),
    });
    let out = Output {
        out_dir: args.out_dir.as_deref(),
        format: args.run.format,
        all: args.all,
    };
    emit(&sc, opts.seed, &result, Some(wall), &timing, &out)
}

/// Where and how a run's report goes.
pub struct Output<'a> {
    pub out_dir: Option<&'a Path>,
    pub format: Format,
    pub all: bool,
}

/// The report on stdout and, with an output directory, its files: the
/// same for a run on one machine and for `lockerlab merge` of its shards.
/// `wall` None leaves the timing out of stdout.
fn emit(
    sc: &Scenario,
    seed: u64,
    result: &sim::RunResult,
    wall: Option<f64>,
    timing: &serde_json::Value,
    out: &Output,
) -> CmdResult {
    let report = RunReport::new(sc, seed, result);
    if let Some(dir) = out.out_dir {
        write_outputs(dir, &report, timing).map_err(Failure::BadInput)?;
        if let Some(samples) = result.occupancy.first() {
            write_occupancy(dir, sc, samples).map_err(Failure::BadInput)?;
        }
        write_weekly(dir, sc, &result.weekly).map_err(Failure::BadInput)?;
    }
    match out.format {
        Format::Table => print!("{}", report.to_table(wall, out.all)),
        Format::Json => write_json(std::io::stdout().lock(), &report, wall)
            .map_err(|e| Failure::Internal(e.into()))?,
        Format::Csv => print!("{}", report.to_csv()),
    }
    Ok(())
}

/// The report's JSON and a newline, serialized as it is written.
fn write_json(
    w: impl std::io::Write,
    report: &RunReport,
    wall: Option<f64>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, &report.json(wall))?;
    w.write_all(b"\n")?;
    w.flush()
}

/// This process's shard of the run, written as a partial.
fn run_shard(args: &Args, sc: &Scenario, seed: u64, replications: u32, shard: Shard) -> CmdResult {
    super::shard_args::refuse_on_shard("--out-dir", args.out_dir.is_some())?;
    super::shard_args::refuse_on_shard("--occupancy", args.occupancy)?;
    let arguments = Arguments {
        scenario: args.scenario.clone(),
        history: args.replay.history.clone(),
        history_dwell: args.replay.history_dwell.map(|d| {
            use clap::ValueEnum;
            d.to_possible_value()
                .expect("no skipped values")
                .get_name()
                .to_string()
        }),
        policy: args.policy.policy.clone(),
        model: args.policy.model.clone(),
        demand_model: args.policy.demand_model.clone(),
        replications,
    };
    let identity = RunIdentity {
        arguments: serde_json::to_value(&arguments).map_err(|e| Failure::Internal(e.into()))?,
        scenario_sha256: super::shard_args::scenario_sha256(args.scenario.as_deref())?,
    };
    let opts = RunOptions {
        seed,
        replications,
        audit_dir: args.audit_dir.clone(),
        ..RunOptions::default()
    };
    let pool = args.run.pool()?;
    let plan = shard::simulate::Plan::new(sc, replications, shard);
    let bar = super::progress::bar(args.run.quiet, plan.location_runs(), "location-runs");
    let partial = pool
        .install(|| shard::simulate::run_shard(sc, &opts, &plan, shard, identity, &|n| bar.inc(n)))
        .map_err(Failure::Internal)?;
    bar.finish_and_clear();
    args.shard.write(partial, args.run.quiet)
}

/// `lockerlab merge` of simulate's partials: the scenario is read again
/// (it must be the file the shards ran) and the report written as
/// `simulate` writes it.
pub fn merge(set: &[Loaded], out: &Output) -> CmdResult {
    let first = &set[0].manifest;
    let arguments: Arguments = serde_json::from_value(first.arguments.clone())
        .map_err(|e| Failure::BadInput(anyhow::anyhow!("{}: arguments: {e}", set[0].path)))?;
    super::shard_args::same_scenario(arguments.scenario.as_deref(), &first.scenario_sha256)?;
    let sc = arguments.scenario()?;
    let result = shard::simulate::merge(&sc, arguments.replications, set)
        .map_err(|m| Failure::BadInput(anyhow::anyhow!(m)))?;
    let timing = serde_json::json!({
        "events": result.events,
        "shards": first.shards,
        "shard_wall_seconds": set.iter().map(|l| l.manifest.wall_seconds).collect::<Vec<_>>(),
    });
    emit(&sc, first.seed, &result, None, &timing, out)
}

fn write_outputs(
    dir: &std::path::Path,
    report: &RunReport,
    timing: &serde_json::Value,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating output directory {}", dir.display()))?;
    let write = |name: &str, content: String| {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))
    };
    let path = dir.join("summary.json");
    std::fs::File::create(&path)
        .and_then(|f| write_json(f, report, None))
        .with_context(|| format!("writing {}", path.display()))?;
    write("locations.csv", report.to_csv())?;
    write(
        "timing.json",
        format!("{}\n", serde_json::to_string_pretty(timing)?),
    )?;
    Ok(())
}

/// weekly.csv: the network's orders by checkout week, means over
/// replications with 95% half-widths for the rates; `days` is how much of
/// the week lies in the measured window [warm-up, horizon).
fn write_weekly(
    dir: &std::path::Path,
    sc: &lockerlab::scenario::Scenario,
    weekly: &[lockerlab::metrics::Weekly],
) -> anyhow::Result<()> {
    use lockerlab::metrics::stats::{ci95_half_width, mean};
    use lockerlab::time::{DAY, WEEK};
    let path = dir.join("weekly.csv");
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "week",
        "start",
        "days",
        "offered",
        "accepted",
        "acceptance_rate",
        "acceptance_rate_ci95",
        "broken_promises",
        "broken_promise_rate",
        "broken_promise_rate_ci95",
        "picked_up",
        "expired",
    ])?;
    let weeks = weekly.iter().map(|r| r.weeks.len()).max().unwrap_or(0);
    let rate = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { f64::NAN };
    let cell = |x: f64| {
        if x.is_nan() {
            String::new()
        } else {
            format!("{x}")
        }
    };
    for i in 0..weeks {
        let start = i as i64 * WEEK;
        let days = (start + WEEK).min(sc.horizon) - start.max(sc.warmup);
        if days <= 0 {
            continue;
        }
        let of = |f: &dyn Fn(&lockerlab::metrics::WeekCounts) -> f64| -> Vec<f64> {
            weekly
                .iter()
                .map(|r| r.weeks.get(i).map_or(0.0, f))
                .collect()
        };
        let acceptance = of(&|c| rate(c.accepted, c.offered));
        let broken = of(&|c| rate(c.broken_promises, c.accepted));
        w.write_record([
            i.to_string(),
            lockerlab::time::Calendar::date_of_day(sc.calendar.day(start)).to_string(),
            cell(days as f64 / DAY as f64),
            cell(mean(&of(&|c| c.offered as f64))),
            cell(mean(&of(&|c| c.accepted as f64))),
            cell(mean(&acceptance)),
            cell(ci95_half_width(&acceptance)),
            cell(mean(&of(&|c| c.broken_promises as f64))),
            cell(mean(&broken)),
            cell(ci95_half_width(&broken)),
            cell(mean(&of(&|c| c.picked_up as f64))),
            cell(mean(&of(&|c| c.expired as f64))),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_occupancy(
    dir: &std::path::Path,
    sc: &lockerlab::scenario::Scenario,
    samples: &[sim::OccupancySample],
) -> anyhow::Result<()> {
    let path = dir.join("occupancy.csv");
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "location",
        "hour",
        "same_day",
        "next_day",
        "two_day",
        "standard",
        "compartments",
    ])?;
    for s in samples {
        let mut row = vec![sc.locations[s.location].id.clone(), s.hour.to_string()];
        row.extend(s.held_by_tier.iter().map(u32::to_string));
        row.push(s.compartments.to_string());
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
