//! `lockerlab keys`: the secrets a region runs on. A region secret for
//! `serve --secret-file`, and from it each locker's key for
//! `controller-emu --key-file`, written owner-only and never over an
//! existing file.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::access::keys::{hex, locker_master};
use lockerlab::access::LockerKeys;
use lockerlab::protocol::check_level;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Make a region secret and derive lockers' keys from it.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Write a new region secret (256 bits from the operating system, 64
    /// hex digits) to FILE, readable by its owner only. Refuses to
    /// overwrite a file: a lost secret orphans every locker keyed from it.
    #[command(after_help = "Examples:\n  lockerlab keys new --out /etc/lockerlab/region.key")]
    New {
        /// Where to write the secret (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Derive locker ID's master key from the region secret: what the
    /// locker is provisioned with (`controller-emu --key-file`). It reveals
    /// nothing about the region secret or any other locker's key. Prints
    /// its fingerprint (the one the locker's store records).
    #[command(
        after_help = "Examples:\n  lockerlab keys derive --secret-file /etc/lockerlab/region.key --locker L001 --out L001.key"
    )]
    Derive {
        /// The region secret (`keys new`, the file `serve --secret-file` reads).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// The locker's id, as in the scenario and its topics.
        #[arg(long)]
        locker: String,
        /// Where to write the locker's key (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> CmdResult {
    match args.command {
        Command::New { out } => {
            let secret = super::os_key(Path::new("/dev/urandom"), "region secrets")?;
            write_private(&out, &hex(&secret))?;
            eprintln!("wrote a new region secret to {}", out.display());
            Ok(())
        }
        Command::Derive {
            secret_file,
            locker,
            out,
        } => {
            check_level("locker id", &locker)
                .map_err(|e| Failure::BadInput(anyhow!("--locker: {e}")))?;
            let secret = super::read_secret(&secret_file)?;
            let master = locker_master(&secret, &locker);
            write_private(&out, &hex(&master))?;
            eprintln!(
                "wrote locker {locker}'s key to {} (fingerprint {})",
                out.display(),
                LockerKeys::from_master(&master).fingerprint()
            );
            Ok(())
        }
    }
}

/// Creates `path` with mode 0600 and writes `hex_digits` and a newline.
fn write_private(path: &Path, hex_digits: &str) -> CmdResult {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "already exists; a key file is never overwritten (remove it first if you mean to)"
                .to_string()
        } else {
            e.to_string()
        };
        Failure::BadInput(anyhow!("{}: {why}", path.display()))
    })?;
    writeln!(f, "{hex_digits}")
        .and_then(|_| f.sync_all())
        .map_err(|e| Failure::Internal(anyhow!("{}: {e}", path.display())))
}
