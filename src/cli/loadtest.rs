//! `lockerlab loadtest`: reservation round trips under load.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::loadtest::{self, LoadOptions};
use lockerlab::mqtt::Endpoint;
use std::path::PathBuf;

/// Measure one `serve` under load: N emulated controllers (with their
/// SQLite stores) and the service on one broker, checkouts at a fixed rate
/// spread over the lockers. Prints the reservation round trip (p50, p90,
/// p99) and the messages per second the service handled.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  lockerlab loadtest --lockers 50 --rate 200 --seconds 30")]
pub struct Args {
    /// Emulated lockers, each with its own SQLite store and connection.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    lockers: u32,
    /// Checkouts per second, over all lockers.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// How long to send checkouts, in real seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Use this broker (mqtt://HOST:PORT) instead of one in the process.
    #[arg(long)]
    broker: Option<String>,
    /// Directory for the controllers' stores (default: a temporary one).
    #[arg(long, value_name = "DIR")]
    store_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> CmdResult {
    let bad = |m: String| Failure::BadInput(anyhow!(m));
    if !(args.rate > 0.0 && args.rate <= 1e6) {
        return Err(bad(format!(
            "--rate must be in (0, 1e6], got {}",
            args.rate
        )));
    }
    if !(args.seconds > 0.0 && args.seconds <= 86_400.0) {
        return Err(bad(format!(
            "--seconds must be in (0, 86400], got {}",
            args.seconds
        )));
    }
    let broker = match &args.broker {
        Some(b) => Some(Endpoint::for_demo(b).map_err(bad)?),
        None => None,
    };
    let temp = args.store_dir.is_none();
    let store_dir = args.store_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("lockerlab-load-{}", std::process::id()))
    });
    let opts = LoadOptions {
        broker,
        lockers: args.lockers as usize,
        rate: args.rate,
        seconds: args.seconds,
        store_dir: store_dir.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    let report = rt.block_on(loadtest::run(&opts));
    if temp {
        let _ = std::fs::remove_dir_all(&store_dir);
    }
    let report = report.map_err(|e| Failure::Internal(anyhow!(e)))?;
    print!("{}", report.to_table(&opts));
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}
