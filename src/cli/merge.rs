//! `lockerlab merge PARTIALS...`: the shards' partial results folded into
//! exactly what the one-machine command writes.

use super::run_args::Format;
use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::shard::{self, manifest};
use std::path::PathBuf;

/// Fold the partial results of a sharded run (`--shard I/N --partials DIR`)
/// into the command's output: byte for byte what it writes on one machine.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab merge runs/partials --out-dir runs/city\n  lockerlab merge runs/partials --format json > summary.json\n  lockerlab merge s3://runs/city-sweep --format csv\n\nIt refuses, listing every problem, partials that are not one complete run: a shard missing or twice, or partials of another scenario, seed, command, arguments, shard count or lockerlab version. Run it where the shards' scenario (and models) are at the paths they were given."
)]
pub struct Args {
    /// Where the partials are: directories (every *.manifest.json in
    /// them), manifest files, or s3://BUCKET/PREFIX.
    #[arg(required = true, value_name = "PARTIALS")]
    partials: Vec<String>,
    /// Output on stdout: a table, or JSON or CSV for programs (timing is
    /// left out: it is the shards').
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the files the command's --out-dir writes into DIR.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// simulate: show every metric in the table, also counters that stayed 0.
    #[arg(long)]
    all: bool,
    /// tune: also write the winner as a policy file.
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
    /// tune: write every candidate tried to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    candidates: Option<PathBuf>,
    /// No notes on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> CmdResult {
    let set = manifest::load_all(&args.partials).map_err(|m| Failure::BadInput(anyhow!(m)))?;
    shard::check_set(&set).map_err(|m| Failure::BadInput(anyhow!(m)))?;
    let first = &set[0].manifest;
    if first.format != shard::PARTIAL_FORMAT || first.lockerlab_version != manifest::VERSION {
        return Err(Failure::BadInput(anyhow!(
            "the partials were written by lockerlab {} (partial format {}); this is lockerlab {} \
             (format {}): merge with the binary the shards ran",
            first.lockerlab_version,
            first.format,
            manifest::VERSION,
            shard::PARTIAL_FORMAT
        )));
    }
    if !args.quiet {
        eprintln!(
            "merging {} shards of `{}` ({} work items)",
            first.shards, first.command, first.work_total
        );
    }
    match first.command.as_str() {
        "simulate" => {
            let out = super::simulate::Output {
                out_dir: args.out_dir.as_deref(),
                format: args.format,
                all: args.all,
            };
            super::simulate::merge(&set, &out)
        }
        "sweep" => super::sweep::merge(&set, args.format, args.out_dir.as_deref()),
        "compare" => super::compare::merge(&set, args.format, args.out_dir.as_deref()),
        "tune" => {
            let out = super::tune::Output {
                format: args.format,
                out: args.out.as_deref(),
                candidates: args.candidates.as_deref(),
            };
            super::tune::merge(&set, &out)
        }
        other => Err(Failure::BadInput(anyhow!(
            "{}: command `{other}` has no merge (simulate, sweep, compare and tune do)",
            set[0].path
        ))),
    }
}
