//! `lockerlab demo`: the simulator's world replayed through a broker, the
//! capacity service and emulated controllers, with a parity check.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::demo::{self, DemoOptions};
use lockerlab::mqtt::Endpoint;
use std::path::PathBuf;
use std::time::Duration;

/// Play simulated days of a scenario through the live system — an MQTT
/// broker (in-process unless --broker), `serve`, and one emulated controller
/// per locker with its SQLite store — and compare every order's decision,
/// locker, compartment and outcome with the simulator's. Nothing is
/// switched off: jams, sensor faults, outages, discovery, fallback, typos
/// and QR codes are played as the simulator's world met them. Prints
/// `simulate`'s summary, the live counts beside the simulator's,
/// reservation round-trip latency, and the parity verdict. Exit code 3 if
/// the runs disagree.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab demo --lockers 4\n  lockerlab demo scenarios/faulty-city.toml --lockers 12 --days 7 --policy policies/city-forecast.json"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city.
    scenario: Option<PathBuf>,
    /// How many of the scenario's lockers to run (its first N locations).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    lockers: u32,
    /// How many days of demand to play.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    days: u32,
    #[command(flatten)]
    policy: super::PolicyOpts,
    /// Use this broker (mqtt://HOST:PORT) instead of one in the process.
    #[arg(long)]
    broker: Option<String>,
    /// Directory for the controllers' SQLite stores (default: a temporary
    /// directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    store_dir: Option<PathBuf>,
    /// Write the world's steps (what the live system is played) to FILE,
    /// one JSON object per line, to see what led to a difference.
    #[arg(long, value_name = "FILE")]
    world_out: Option<PathBuf>,
    /// Longest wait, in seconds, for the system to settle after a step.
    #[arg(long, default_value_t = 30.0)]
    timeout_secs: f64,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> CmdResult {
    let bad = |m: String| Failure::BadInput(anyhow!(m));
    let mut sc = super::load_scenario(args.scenario.as_deref(), &super::HistoryOpts::default())?;
    super::apply_policy(&mut sc, &args.policy)?;
    let sc = demo::prepare(sc, args.lockers as usize, args.days).map_err(bad)?;
    let broker = match &args.broker {
        Some(b) => Some(Endpoint::for_demo(b).map_err(bad)?),
        None => None,
    };
    if !(args.timeout_secs > 0.0 && args.timeout_secs <= 3600.0) {
        return Err(bad(format!(
            "--timeout-secs must be in (0, 3600], got {}",
            args.timeout_secs
        )));
    }
    let temp = args.store_dir.is_none();
    let store_dir = args.store_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("lockerlab-demo-{}", std::process::id()))
    });
    let bar = super::progress::bar(args.quiet, 0, "world steps played");
    let shown = bar.clone();
    let opts = DemoOptions {
        broker,
        store_dir: store_dir.clone(),
        settle_timeout: Duration::from_secs_f64(args.timeout_secs),
        world_out: args.world_out.clone(),
        on_step: Some(Box::new(move |played, all| {
            shown.set_length(all as u64);
            shown.set_position(played as u64);
        })),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    let report = rt.block_on(demo::run(&sc, &opts));
    bar.finish_and_clear();
    if temp {
        let _ = std::fs::remove_dir_all(&store_dir);
    }
    let report = report.map_err(|e| Failure::Internal(anyhow!(e)))?;
    print!("{}", report.sim_table);
    print!("{}", report.to_table());
    rt.shutdown_timeout(Duration::from_millis(100));
    if report.mismatches.is_empty() {
        Ok(())
    } else {
        Err(Failure::CheckFailed(anyhow!(
            "the live system disagreed with the simulator on {} orders",
            report.mismatches.len()
        )))
    }
}
