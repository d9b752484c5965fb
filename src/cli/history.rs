//! `lockerlab history SCENARIO --out FILE`: synthetic package history from a
//! scenario's ground-truth demand and dwell processes (docs/data.md).

use super::{CmdResult, Failure};
use anyhow::Context;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use std::path::PathBuf;

/// Write one record per order of a simulated run as CSV (docs/data.md).
#[derive(clap::Args)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// Where to write the CSV.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: Args) -> CmdResult {
    let sc = match &args.scenario {
        Some(path) => Scenario::from_file(path).map_err(|e| Failure::BadInput(e.into()))?,
        None => Scenario::builtin(),
    };
    if args.out.extension().is_none_or(|e| e != "csv") {
        return Err(Failure::BadInput(anyhow::anyhow!(
            "--out {}: only .csv history files can be written so far",
            args.out.display()
        )));
    }
    let opts = RunOptions {
        seed: args.seed.unwrap_or(sc.seed),
        replications: 1,
        record_history: true,
        ..RunOptions::default()
    };
    let result = sim::run(&sc, &opts, &|_| {}).map_err(|e| Failure::Internal(e.into()))?;
    let rows = &result.history[0];
    write_csv(&args.out, rows).map_err(Failure::BadInput)?;
    eprintln!(
        "{}: {} orders from scenario `{}` (seed {})",
        args.out.display(),
        rows.len(),
        sc.name,
        opts.seed
    );
    Ok(())
}

fn write_csv(path: &std::path::Path, rows: &[sim::history::HistoryRecord]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    for r in rows {
        w.serialize(r)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
