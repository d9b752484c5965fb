//! `lockerlab validate SCENARIO`: check a scenario file and say what is wrong.

use super::CmdResult;
use std::path::PathBuf;

/// Check a scenario file without running it.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  lockerlab validate scenarios/city.toml")]
pub struct Args {
    /// Scenario TOML file.
    scenario: PathBuf,
}

pub fn run(args: Args) -> CmdResult {
    let sc = super::load_scenario(Some(&args.scenario), &super::HistoryOpts::default())?;
    let compartments: u32 = sc
        .locations
        .iter()
        .map(|l| l.compartments.iter().sum::<u32>())
        .sum();
    println!(
        "{}: ok — scenario `{}`, {} locations, {} compartments, {:.1} days ({:.1} warm-up), {} replication(s), policy {}",
        args.scenario.display(),
        sc.name,
        sc.locations.len(),
        compartments,
        sc.horizon as f64 / 86_400_000.0,
        sc.warmup as f64 / 86_400_000.0,
        sc.replications,
        sc.policy.name()
    );
    if let Some(note) = sc.warmup_note() {
        println!("{note}");
    }
    Ok(())
}
