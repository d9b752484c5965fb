//! `lockerlab keys`: the secrets a region runs on. A region secret for
//! `serve --secret-file`, and from it each locker's key for
//! `controller-emu --key-file`, written owner-only and never over an
//! existing file; and the staff passes drivers and operators sign in with.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::access::keys::{hex, locker_master};
use lockerlab::access::pass::{self, Role};
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
    /// Issue a staff pass: a driver's route credential or an operator's
    /// work pass, signed for each of the route's lockers and valid from now
    /// for the hours given. Printed on stdout (show it as a barcode or in
    /// the driver's app; `controller-emu` takes it as
    /// `{"act":"sign_in","pass":"…"}`). Each locker verifies it offline,
    /// with its own key.
    #[command(
        after_help = "Examples:\n  lockerlab keys pass --secret-file /etc/lockerlab/region.key --role driver --route R12 --locker L001 --locker L002 --hours 10"
    )]
    Pass {
        /// The region secret (the file `serve --secret-file` reads).
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// `driver` (scan and deposit) or `operator` (retrieve, repair).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The route or work order, for the audit trail.
        #[arg(long)]
        route: String,
        /// A locker the pass opens (repeat for each; at most 64).
        #[arg(long = "locker", value_name = "ID", required = true)]
        lockers: Vec<String>,
        /// How long the pass is valid, from now: 1 to 744 hours (31 days).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=744))]
        hours: u32,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "driver" => Ok(Role::Driver),
        "operator" => Ok(Role::Operator),
        _ => Err(format!("expected `driver` or `operator`, got `{s}`")),
    }
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
        Command::Pass {
            secret_file,
            role,
            route,
            lockers,
            hours,
        } => {
            for l in &lockers {
                check_level("locker id", l)
                    .map_err(|e| Failure::BadInput(anyhow!("--locker: {e}")))?;
            }
            let secret = super::read_secret(&secret_file)?;
            let nonce = super::os_key(Path::new("/dev/urandom"), "staff passes")?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| Failure::Internal(anyhow!("the system clock: {e}")))?
                .as_millis() as i64;
            let claims = pass::PassClaims {
                v: pass::VERSION,
                role,
                route,
                lockers,
                not_before: now,
                not_after: now + i64::from(hours) * 3_600_000,
                nonce: hex(&nonce[..16]),
            };
            let token = pass::issue_for_region(&secret, &claims)
                .map_err(|e| Failure::BadInput(anyhow!("--locker: {e}")))?;
            println!("{token}");
            eprintln!(
                "a {role} pass for route {} at {} locker(s), valid for {hours} h",
                claims.route,
                claims.lockers.len()
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
