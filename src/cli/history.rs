//! `lockerlab history SCENARIO --out FILE`: synthetic package history from a
//! scenario's ground-truth demand and dwell processes (docs/data.md).

use super::{CmdResult, Failure};
use lockerlab::sim::{self, RunOptions};
use std::path::PathBuf;

/// Write one record per order of a simulated run as CSV or Parquet
/// (docs/data.md).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab history scenarios/history-sample.toml --seed 1 --out data/history-train.parquet\n  lockerlab history scenarios/quickstart.toml --out quickstart.csv"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// Where to write: FILE.csv or FILE.parquet.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Orders checked out during the warm-up: `mark` keeps them with
    /// `warmup` = true (a replay needs them to fill the lockers; training
    /// leaves them out), `omit` leaves them out of the file.
    #[arg(long, value_enum, default_value = "mark", value_name = "HOW")]
    warmup: WarmupRows,
    #[command(flatten)]
    replay: super::HistoryOpts,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WarmupRows {
    Mark,
    Omit,
}

pub fn run(args: Args) -> CmdResult {
    let sc = super::load_scenario(args.scenario.as_deref(), &args.replay)?;
    if lockerlab::data::Format::of(&args.out).is_none() {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "--out {}: history files end in .csv or .parquet",
            args.out.display()
        )));
    }
    let opts = RunOptions {
        seed: args.seed.unwrap_or(sc.seed),
        replications: 1,
        record_history: true,
        ..RunOptions::default()
    };
    let bar = super::progress::bar(args.quiet, sc.locations.len() as u64, "location-runs");
    let result = sim::run(&sc, &opts, &|n| bar.inc(n)).map_err(|e| Failure::Internal(e.into()))?;
    bar.finish_and_clear();
    let mut rows = result.history.into_iter().next().unwrap_or_default();
    let warmup = rows.iter().filter(|r| r.warmup).count();
    if args.warmup == WarmupRows::Omit {
        rows.retain(|r| !r.warmup);
    }
    lockerlab::data::write_history(&args.out, &rows).map_err(Failure::BadInput)?;
    let how = match args.warmup {
        WarmupRows::Mark => "marked `warmup`",
        WarmupRows::Omit => "left out",
    };
    eprintln!(
        "{}: {} orders from scenario `{}` (seed {}); {warmup} of the warm-up {how}",
        args.out.display(),
        rows.len(),
        sc.name,
        opts.seed
    );
    Ok(())
}
