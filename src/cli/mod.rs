//! One file per subcommand; this file holds the argument tree and the error →
//! exit-code mapping.

mod audit;
mod history;
mod simulate;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lockerlab",
    version,
    about = "Capacity simulator and forecasting lab for parcel-locker networks",
    long_about = "Capacity simulator and forecasting lab for parcel-locker networks.\n\n\
        Replays demand through the whole package life cycle (checkout, reservation, \
        driver drop-off, pickup, reminder, expiry, retrieval) under an admission policy, \
        and reports acceptance, failed deliveries, utilization and dwell times.\n\n\
        Exit codes: 0 success, 2 bad input, 1 internal error, 3 audit chain broken."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Simulate(simulate::Args),
    Validate(validate::Args),
    History(history::Args),
    Audit(audit::Args),
}

/// An error with the exit code it deserves.
pub enum Failure {
    /// The user's input is wrong (file, argument): exit 2.
    BadInput(anyhow::Error),
    /// Our fault: exit 1.
    Internal(anyhow::Error),
    /// An audit log's hash chain is broken: exit 3.
    Tampered(anyhow::Error),
}

pub type CmdResult = Result<(), Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Validate(a) => validate::run(a),
        Command::History(a) => history::run(a),
        Command::Audit(a) => audit::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("internal error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Tampered(e)) => {
            eprintln!("audit chain broken: {e:#}");
            ExitCode::from(3)
        }
    }
}
