//! `lockerlab audit verify FILE`: check a tamper-evident audit log.

use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::access::audit::verify_lines;
use std::path::PathBuf;

/// Work with tamper-evident audit logs.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check a hash-chained audit log (JSON lines) and report the first broken
    /// link: a record changed, deleted, inserted or moved. Exit 0 if intact,
    /// 3 if the chain is broken, 2 if the file cannot be read.
    Verify {
        /// The audit log (`*.audit.jsonl`).
        file: PathBuf,
        /// The head hash published for this log (e.g. the `.head` file written
        /// beside it); also catches records cut off at the end. Without it,
        /// `FILE` with the extension `head` is used when it exists.
        #[arg(long)]
        head: Option<String>,
    },
}

pub fn run(args: Args) -> CmdResult {
    match args.command {
        Command::Verify { file, head } => verify(file, head),
    }
}

fn verify(file: PathBuf, head: Option<String>) -> CmdResult {
    let text = lockerlab::files::read_limited(&file, lockerlab::files::MAX_DATA)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .with_context(|| format!("reading {}", file.display()))
        .map_err(Failure::BadInput)?;
    let head = match head {
        Some(h) => Some(h),
        None => {
            let beside = file.with_extension("head");
            match lockerlab::files::read_text(&beside) {
                Ok(h) => Some(h.trim().to_string()),
                Err(_) => None,
            }
        }
    };
    match verify_lines(text.lines(), head.as_deref()) {
        Ok((n, h)) => {
            let anchored = if head.is_some() {
                ", matches the published head"
            } else {
                " (no published head to check the end against)"
            };
            println!(
                "{}: intact — {n} records, head {h}{anchored}",
                file.display()
            );
            Ok(())
        }
        Err(e) => Err(Failure::Tampered(anyhow!(
            "{}:{}: {}",
            file.display(),
            e.line,
            e.reason
        ))),
    }
}
