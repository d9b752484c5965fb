//! `lockerlab simulate`: run a scenario and report its metrics.

use super::run_args::{Format, RunArgs};
use super::{CmdResult, Failure};
use anyhow::Context;
use lockerlab::sim::{self, RunOptions, RunReport};
use std::path::PathBuf;
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
}

pub fn run(args: Args) -> CmdResult {
    let mut sc = super::load_scenario(args.scenario.as_deref(), &args.replay)?;
    super::apply_policy(&mut sc, &args.policy)?;
    let opts = RunOptions {
        seed: args.run.seed(&sc),
        replications: args.run.replications(&sc),
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

    let report = RunReport::new(&sc, opts.seed, &result);
    if let Some(dir) = &args.out_dir {
        write_outputs(dir, &report, wall).map_err(Failure::BadInput)?;
        if let Some(samples) = result.occupancy.first() {
            write_occupancy(dir, &sc, samples).map_err(Failure::BadInput)?;
        }
        write_weekly(dir, &sc, &result.weekly).map_err(Failure::BadInput)?;
    }
    let text = match args.run.format {
        Format::Table => report.to_table(Some(wall), args.all),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report.to_json(Some(wall))).expect("JSON values")
        ),
        Format::Csv => report.to_csv(),
    };
    print!("{text}");
    Ok(())
}

fn write_outputs(dir: &std::path::Path, report: &RunReport, wall: f64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating output directory {}", dir.display()))?;
    let write = |name: &str, content: String| {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))
    };
    write(
        "summary.json",
        format!("{}\n", serde_json::to_string_pretty(&report.to_json(None))?),
    )?;
    write("locations.csv", report.to_csv())?;
    let timing = serde_json::json!({
        "events": report.events,
        "wall_seconds": wall,
        "events_per_second": report.events as f64 / wall.max(1e-9),
    });
    write(
        "timing.json",
        format!("{}\n", serde_json::to_string_pretty(&timing)?),
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
