//! `lockerlab audit verify FILE`: check a tamper-evident audit log.

use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::access::audit::verify;
use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::access::AuditKey;
use std::path::PathBuf;

/// Work with tamper-evident audit logs.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check an audit log (JSON lines, each record tagged with an HMAC under
    /// its locker's audit key) and report the first place it does not hold:
    /// a record changed, deleted, inserted or moved, the file re-encoded,
    /// or records missing at the end. Exit 0 if intact, 3 if not, 2 if the
    /// file or the secret cannot be read.
    #[command(
        group(clap::ArgGroup::new("key").required(true).args(["secret_file", "dev_secret"])),
        after_help = "Examples:\n  lockerlab simulate scenarios/quickstart.toml --audit-dir audit\n  \
            lockerlab audit verify audit/central-station-r0.audit.jsonl --dev-secret\n  \
            lockerlab audit verify L7.audit.jsonl --head 3f2a... --secret-file /etc/lockerlab/region.key"
    )]
    Verify {
        /// The audit log (`*.audit.jsonl`).
        file: PathBuf,
        /// The head published for this log. Without it, the `.head` file
        /// beside `FILE` (written with it); a log with neither fails, since
        /// records cut off its end could not be seen.
        #[arg(long)]
        head: Option<String>,
        /// File holding the region secret (64 hex digits) the locker's audit
        /// key derives from: the one `serve` and the lockers were given.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// The log was written under the development secret: logs from
        /// `simulate --audit-dir` are.
        #[arg(long)]
        dev_secret: bool,
        /// A region secret the locker used before a key rotation (its
        /// chain records the move); once per rotation the log spans.
        #[arg(long, value_name = "FILE")]
        previous_secret_file: Vec<PathBuf>,
    },
    /// Write a locker's audit chain from its store (`controller-emu
    /// --store`) as an audit log, FILE and its head beside it (FILE with
    /// the extension `.head`), for `audit verify`. The store is only read.
    #[command(
        after_help = "Examples:\n  lockerlab audit export /var/lib/lockerlab/L001.sqlite --out L001.audit.jsonl\n  \
            lockerlab audit verify L001.audit.jsonl --secret-file /etc/lockerlab/region.key"
    )]
    Export {
        /// The locker's SQLite store.
        store: PathBuf,
        /// Where to write the log.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> CmdResult {
    match args.command {
        Command::Verify {
            file,
            head,
            secret_file,
            dev_secret: _,
            previous_secret_file,
        } => {
            let mut secrets = vec![match secret_file {
                Some(f) => super::read_secret(&f)?,
                None => DEV_REGION_SECRET,
            }];
            for f in previous_secret_file {
                secrets.push(super::read_secret(&f)?);
            }
            check(file, head, &secrets)
        }
        Command::Export { store, out } => export(&store, &out),
    }
}

fn export(store: &std::path::Path, out: &std::path::Path) -> CmdResult {
    use lockerlab::access::audit::{AuditHeader, AUDIT_FORMAT};
    let bad = |e: lockerlab::emu::StoreError| Failure::BadInput(anyhow!(e));
    let s = lockerlab::emu::Store::inspect(store).map_err(bad)?;
    let locker = s.meta("locker").map_err(bad)?.unwrap_or_default();
    let (records, head) = s.audit_end().map_err(bad)?;
    let header = serde_json::to_string(&AuditHeader {
        audit: AUDIT_FORMAT,
        locker: locker.clone(),
    })
    .map_err(|e| Failure::Internal(anyhow!(e)))?;
    let mut text = header + "\n";
    for line in s.audit_lines().map_err(bad)? {
        text.push_str(&line);
        text.push('\n');
    }
    let head = head.unwrap_or_else(|| "0".repeat(64));
    let head_file = out.with_extension("head");
    std::fs::write(out, text)
        .and_then(|_| std::fs::write(&head_file, format!("{head}\n")))
        .map_err(|e| Failure::Internal(anyhow!("{}: {e}", out.display())))?;
    println!(
        "{}: locker {}'s audit chain, {records} records, head {head} (in {})",
        out.display(),
        super::escape_controls(&locker),
        head_file.display()
    );
    Ok(())
}

fn check(file: PathBuf, head: Option<String>, secrets: &[[u8; 32]]) -> CmdResult {
    let bytes = lockerlab::files::read_limited(&file, lockerlab::files::MAX_DATA)
        .with_context(|| format!("reading {}", file.display()))
        .map_err(Failure::BadInput)?;
    let head = match head {
        Some(h) => h,
        None => {
            let beside = file.with_extension("head");
            lockerlab::files::read_text(&beside).map_err(|e| {
                Failure::Tampered(anyhow!(
                    "{}: no published head ({}: {e}); records cut off the end could not be seen",
                    file.display(),
                    beside.display()
                ))
            })?
        }
    };
    match verify(&bytes, &head, |locker| {
        secrets
            .iter()
            .map(|s| AuditKey::for_locker(s, locker))
            .collect()
    }) {
        Ok(v) => {
            println!(
                "{}: intact — locker {}, {} records, head {}, matches the published head",
                file.display(),
                super::escape_controls(&v.locker),
                v.records,
                v.head
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
