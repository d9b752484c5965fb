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
    #[command(flatten)]
    replay: super::HistoryOpts,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
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
    let rows = &result.history[0];
    lockerlab::data::write_history(&args.out, rows).map_err(Failure::BadInput)?;
    eprintln!(
        "{}: {} orders from scenario `{}` (seed {})",
        args.out.display(),
        rows.len(),
        sc.name,
        opts.seed
    );
    Ok(())
}
