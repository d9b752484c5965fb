//! `lockerlab report DIR --out-dir reports/NAME/`: HTML and charts from the
//! outputs of sweep, compare and simulate.

use super::{CmdResult, Failure};
use std::path::PathBuf;

/// Turn sweep/compare/simulate output into index.html with PNG and SVG
/// charts: the acceptance vs failed-delivery frontier with CI bars, a heat
/// map of a two-parameter sweep, occupancy over time by tier, utilization by
/// location, dwell histogram.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab compare scenarios/city.toml --policies tier-partition,snapshot --replications 20 --out-dir runs/c\n  lockerlab report runs/c --out-dir reports/c --history data/history-holdout.parquet"
)]
pub struct Args {
    /// A directory written by `sweep --out-dir`, `compare --out-dir` or
    /// `simulate --out-dir`.
    dir: PathBuf,
    /// Where to write index.html and the charts.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// A history file (CSV or Parquet) for the dwell histogram.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// The location whose occupancy over time is drawn (from occupancy.csv;
    /// default: the one holding the most capacity).
    #[arg(long, value_name = "ID")]
    location: Option<String>,
}

pub fn run(args: Args) -> CmdResult {
    let mut data = lockerlab::report::collect(&args.dir, args.location.as_deref())
        .map_err(Failure::BadInput)?;
    if let Some(h) = &args.history {
        let load =
            lockerlab::data::read_history(h, false).map_err(|e| Failure::BadInput(e.into()))?;
        data.dwell_hours = lockerlab::data::training::training_set(&load.records).y;
    }
    let written =
        lockerlab::report::write(&data, &args.dir, &args.out_dir).map_err(Failure::BadInput)?;
    eprintln!(
        "wrote {} files into {}",
        written.len(),
        args.out_dir.display()
    );
    Ok(())
}
