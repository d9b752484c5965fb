//! One file per subcommand; this file holds the argument tree and the error →
//! exit-code mapping.

mod audit;
mod compare;
mod demo;
mod export_policy;
mod forecast;
mod forecast_bench;
mod forecast_demand;
mod history;
mod keys;
mod loadtest;
mod merge;
mod progress;
mod report;
mod run_args;
mod serve;
mod setup;
mod shard_args;
mod simulate;
mod size;
mod sweep;
mod tune;
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
        Exit codes: 0 success, 2 bad input, 1 internal error, 3 audit chain broken \
        or forecast check failed."
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
    Forecast(forecast::Args),
    Compare(compare::Args),
    ExportPolicy(export_policy::Args),
    Sweep(sweep::Args),
    Merge(merge::Args),
    Tune(tune::Args),
    Size(size::Args),
    Report(report::Args),
    Serve(Box<serve::Args>),
    Keys(keys::Args),
    Demo(demo::Args),
    Loadtest(loadtest::Args),
    Init(setup::InitArgs),
    Completions(setup::CompletionsArgs),
    Man(setup::ManArgs),
    Schema(setup::SchemaArgs),
}

/// An error with the exit code it deserves.
pub enum Failure {
    /// The user's input is wrong (file, argument): exit 2.
    BadInput(anyhow::Error),
    /// Our fault: exit 1.
    Internal(anyhow::Error),
    /// An audit log's hash chain is broken: exit 3.
    Tampered(anyhow::Error),
    /// A regression check found a metric worse than its baseline: exit 3.
    CheckFailed(anyhow::Error),
}

pub type CmdResult = Result<(), Failure>;

impl From<lockerlab::sim::RunError> for Failure {
    fn from(e: lockerlab::sim::RunError) -> Self {
        match e {
            lockerlab::sim::RunError::Input(m) => Failure::BadInput(anyhow::anyhow!(m)),
            lockerlab::sim::RunError::Sim(e) => Failure::Internal(e.into()),
        }
    }
}

/// Replayed demand chosen on the command line (overrides `[demand] history`).
#[derive(clap::Args, Clone, Default)]
pub struct HistoryOpts {
    /// Replay checkouts from this history file (CSV or Parquet, docs/data.md)
    /// instead of drawing them from the scenario's demand model.
    #[arg(long, value_name = "FILE")]
    history: Option<std::path::PathBuf>,
    /// With --history (or `[demand] history`): `recorded` replays each
    /// package's recorded dwell (trace-driven), `model` draws dwell times
    /// from the scenario.
    #[arg(long, value_enum, value_name = "SOURCE")]
    history_dwell: Option<DwellSource>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DwellSource {
    Recorded,
    Model,
}

/// Logging of a long-running command (`serve`).
#[derive(clap::Args, Clone, Default)]
pub struct LogOpts {
    /// More log detail: -v every request, decision and command (debug),
    /// -vv trace. RUST_LOG, when set, replaces this filter.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// `text` for a person, `json` (one object a line) for a log pipeline.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: lockerlab::mqtt::logging::LogFormat,
}

impl LogOpts {
    pub fn init(&self) -> Result<(), Failure> {
        lockerlab::mqtt::logging::init(self.verbose, self.log_format)
            .map_err(|m| Failure::BadInput(anyhow::anyhow!(m)))
    }
}

/// A policy and dwell model chosen on the command line.
#[derive(clap::Args, Clone, Default)]
pub struct PolicyOpts {
    /// Run this policy instead of the scenario's: a policy file written by
    /// `export-policy` (FILE.json), or KIND[:key=value,...], e.g.
    /// `forecast:confidence=0.99`.
    #[arg(long, value_name = "FILE|SPEC")]
    policy: Option<String>,
    /// The dwell model policies read (overrides `[forecast] model`).
    #[arg(long, value_name = "DIR")]
    model: Option<std::path::PathBuf>,
    /// The demand model the optimized policy plans with (overrides
    /// `[forecast] demand_model`; written by `forecast train-demand`).
    #[arg(long, value_name = "DIR")]
    demand_model: Option<std::path::PathBuf>,
}

/// A rayon pool with `threads` workers (default: all cores).
pub fn thread_pool(threads: Option<u32>) -> Result<rayon::ThreadPool, Failure> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        b = b.num_threads(t as usize);
    }
    b.build().map_err(|e| Failure::Internal(e.into()))
}

/// Loads a model directory for a scenario, as a bad-input failure.
pub fn load_model(
    dir: &std::path::Path,
) -> Result<std::sync::Arc<lockerlab::forecast::DwellModel>, Failure> {
    lockerlab::forecast::DwellModel::load(dir)
        .map(std::sync::Arc::new)
        .map_err(|e| Failure::BadInput(e.into()))
}

/// Loads a demand model directory, as a bad-input failure.
pub fn load_demand_model(
    dir: &std::path::Path,
) -> Result<std::sync::Arc<lockerlab::forecast::demand::DemandModel>, Failure> {
    lockerlab::forecast::demand::DemandModel::load(dir)
        .map(std::sync::Arc::new)
        .map_err(|e| Failure::BadInput(e.into()))
}

/// Puts a policy (spec or file) and models into a scenario
/// ([`lockerlab::policy::apply`]).
pub fn apply_policy(
    sc: &mut lockerlab::scenario::Scenario,
    opts: &PolicyOpts,
) -> Result<(), Failure> {
    let choice = lockerlab::policy::apply::PolicyChoice {
        policy: opts.policy.clone(),
        model: opts.model.clone(),
        demand_model: opts.demand_model.clone(),
    };
    lockerlab::policy::apply::apply_policy(sc, &choice)
        .map_err(|m| Failure::BadInput(anyhow::anyhow!(m)))
}

/// The scenario a command runs: the file's (or the built-in city), with any
/// replayed demand read and attached.
pub fn load_scenario(
    path: Option<&std::path::Path>,
    history: &HistoryOpts,
) -> Result<lockerlab::scenario::Scenario, Failure> {
    use lockerlab::scenario::{HistoryDemand, Scenario};
    use lockerlab::sim::trace::TraceDwell;
    let mut sc = match path {
        Some(p) => Scenario::from_file(p).map_err(|e| Failure::BadInput(e.into()))?,
        None => Scenario::builtin(),
    };
    if let Some(file) = &history.history {
        sc.demand_history = Some(HistoryDemand {
            path: file.clone(),
            dwell: TraceDwell::default(),
        });
    }
    if let Some(src) = history.history_dwell {
        let Some(h) = sc.demand_history.as_mut() else {
            return Err(Failure::BadInput(anyhow::anyhow!(
                "--history-dwell needs --history FILE or `[demand] history` in the scenario"
            )));
        };
        h.dwell = match src {
            DwellSource::Recorded => TraceDwell::Recorded,
            DwellSource::Model => TraceDwell::Model,
        };
    }
    lockerlab::data::attach_history(&mut sc).map_err(Failure::BadInput)?;
    Ok(sc)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Validate(a) => validate::run(a),
        Command::History(a) => history::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Keys(a) => keys::run(a),
        Command::Forecast(a) => forecast::run(a),
        Command::Compare(a) => compare::run(a),
        Command::ExportPolicy(a) => export_policy::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Size(a) => size::run(a),
        Command::Report(a) => report::run(a),
        Command::Serve(a) => serve::run(*a),
        Command::Demo(a) => demo::run(a),
        Command::Loadtest(a) => loadtest::run(a),
        Command::Init(a) => setup::init(a),
        Command::Completions(a) => setup::completions(a),
        Command::Man(a) => setup::man(a),
        Command::Schema(a) => setup::schema(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {}", explain(&e));
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("internal error: {}", explain(&e));
            ExitCode::from(1)
        }
        Err(Failure::Tampered(e)) => {
            eprintln!("audit chain broken: {}", explain(&e));
            ExitCode::from(3)
        }
        Err(Failure::CheckFailed(e)) => {
            eprintln!("check failed: {}", explain(&e));
            ExitCode::from(3)
        }
    }
}

/// An error and its causes, each cause once (many errors already quote
/// their source, `path: No such file…`, and `{:#}` would repeat it), with
/// control characters escaped: an error quotes what it was given, and a
/// hostile id must not drive the user's terminal.
fn explain(e: &anyhow::Error) -> String {
    escape_controls(&lockerlab::error_text::with_causes(e.as_ref()))
}

/// `text` with control characters other than newline and tab escaped, fit
/// for a terminal whatever it came from.
pub fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A region secret from a file: 64 hex digits (surrounding space ignored).
/// 256 bits from the operating system's random source (`/dev/urandom`),
/// for `needed_for`; without them, refuse to go on: no fallback is as
/// unpredictable.
pub fn os_key(source: &std::path::Path, needed_for: &str) -> Result<[u8; 32], Failure> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open(source)
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| {
            Failure::Internal(anyhow::anyhow!(
                "reading {}: {e}: {needed_for} need the operating system's random \
                 numbers; refusing to start",
                source.display()
            ))
        })?;
    Ok(b)
}

pub fn read_secret(path: &std::path::Path) -> Result<[u8; 32], Failure> {
    let text = lockerlab::files::read_text(path)
        .map_err(|e| Failure::BadInput(anyhow::anyhow!("{}: {e}", path.display())))?;
    lockerlab::access::keys::parse_secret(&text).ok_or_else(|| {
        Failure::BadInput(anyhow::anyhow!(
            "{}: expected 64 hex digits (the region secret)",
            path.display()
        ))
    })
}

#[cfg(test)]
mod help {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand says what it does and every argument what it
    /// takes: `--help` is the first documentation a user reads.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && cmd.get_long_about().is_none() {
                missing.push(format!("{path}: no summary"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}: no help"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    /// One CLI: `--out` is always a file and `--out-dir` always a folder;
    /// every command a user runs shows examples; the run commands share
    /// their arguments.
    #[test]
    fn arguments_mean_one_thing_everywhere_and_every_command_has_examples() {
        fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
            let subs: Vec<_> = cmd
                .get_subcommands()
                .filter(|s| s.get_name() != "help")
                .collect();
            if subs.is_empty() {
                out.push((path.clone(), cmd.clone()));
            }
            for sub in subs {
                leaves(sub, format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut all = Vec::new();
        leaves(&Cli::command(), "lockerlab".into(), &mut all);
        assert!(all.len() >= 20, "{} commands", all.len());
        let mut wrong = Vec::new();
        for (path, cmd) in &all {
            let examples = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !examples.starts_with("Examples:\n  lockerlab ") {
                wrong.push(format!("{path}: no examples"));
            }
            for arg in cmd.get_arguments() {
                let names = arg.get_value_names().unwrap_or_default();
                let folder = names.iter().any(|n| n.as_str() == "DIR");
                match arg.get_long() {
                    Some("out") if folder => wrong.push(format!("{path} --out: a folder")),
                    Some("out-dir") if !folder => wrong.push(format!("{path} --out-dir: not DIR")),
                    _ => {}
                }
            }
            let run = ["simulate", "compare", "sweep", "tune"];
            if run.iter().any(|r| path == &format!("lockerlab {r}")) {
                for flag in ["seed", "replications", "threads", "format", "quiet"] {
                    if !cmd.get_arguments().any(|a| a.get_long() == Some(flag)) {
                        wrong.push(format!("{path}: no --{flag}"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
