//! `lockerlab tune SCENARIO --family KIND --objective acceptance
//! --max-broken-promise-rate X`: search a policy's parameters for the best
//! objective under the failure constraint, on common random numbers.

use super::run_args::{Format, RunArgs};
use super::shard_args::ShardArgs;
use super::sweep::source_with_models;
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::policy::file::{ModelRef, PolicyFile, POLICY_FORMAT_VERSION};
use lockerlab::shard::{self, manifest::Loaded, manifest::RunIdentity};
use lockerlab::tune::{self, Search, Tuned};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Objective {
    /// Share of orders accepted.
    Acceptance,
    /// Orders accepted.
    Accepted,
    /// Compartment utilization.
    Utilization,
}

impl Objective {
    fn of(self) -> tune::Objective {
        match self {
            Objective::Acceptance => tune::Objective::Acceptance,
            Objective::Accepted => tune::Objective::Accepted,
            Objective::Utilization => tune::Objective::Utilization,
        }
    }
}

/// Find the parameters of a policy (tier shares, confidence bar) that
/// maximize the objective with a mean broken-promise rate (accepted orders not delivered through their locker: failed drop-offs, lapsed reservations) at most the limit;
/// prints the frontier it explored and the best feasible candidates.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab tune scenarios/city.toml --family tier-partition --max-broken-promise-rate 0.001\n  lockerlab tune scenarios/city.toml --family forecast --model models/city --out policies/tuned.json --candidates all.csv"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// The policy family searched: `tier-partition` (all four shares on a 0.1 grid)
    /// or `forecast` (confidence bar).
    #[arg(long, value_name = "KIND")]
    family: String,
    /// What the winner maximizes.
    #[arg(long, value_enum, default_value = "acceptance")]
    objective: Objective,
    /// The constraint: a candidate is feasible when the upper end of the
    /// 95% interval of its broken-promise rate (accepted orders rerouted to
    /// another locker or the door, for a failed drop-off of any cause or a
    /// lapsed reservation) over the replications is at most this.
    #[arg(long, default_value_t = 0.001)]
    max_broken_promise_rate: f64,
    /// Choose per location (each location's own objective and constraint);
    /// the result carries per-location overrides.
    #[arg(long)]
    per_location: bool,
    #[command(flatten)]
    run: RunArgs,
    /// The dwell model a forecast policy reads.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// The demand model the optimized policy plans with.
    #[arg(long, value_name = "DIR")]
    demand_model: Option<PathBuf>,
    /// Also write the winner as a policy file.
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
    /// Write every candidate tried (policy spec, means, 95% half-widths,
    /// feasible, on the frontier) to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    candidates: Option<PathBuf>,
    #[command(flatten)]
    shard: ShardArgs,
}

/// What decides a search's result, as a shard's manifest records it and
/// `lockerlab merge` reads it back.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    scenario: Option<PathBuf>,
    family: String,
    objective: String,
    max_broken_promise_rate: f64,
    per_location: bool,
    seed: Option<u64>,
    replications: Option<u32>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
}

/// A search ready to run or merge.
struct Prepared {
    grid: Vec<lockerlab::policy::Policy>,
    source: lockerlab::scenario::edit::ScenarioSource,
    search: Search,
}

impl Arguments {
    fn prepare(&self) -> Result<Prepared, Failure> {
        let bad = |m: String| Failure::BadInput(anyhow!(m));
        tune::check_limit(self.max_broken_promise_rate).map_err(bad)?;
        let grid = tune::candidates(&self.family).map_err(bad)?;
        let source = source_with_models(
            self.scenario.as_deref(),
            self.model.as_deref(),
            self.demand_model.as_deref(),
        )?;
        let search = Search {
            objective: tune::Objective::parse(&self.objective).map_err(bad)?,
            max_broken_promise_rate: self.max_broken_promise_rate,
            per_location: self.per_location,
            seed: self.seed,
            replications: self.replications,
            cancel: None,
        };
        Ok(Prepared {
            grid,
            source,
            search,
        })
    }
}

/// Where a search's results go besides stdout.
pub struct Output<'a> {
    pub format: Format,
    pub out: Option<&'a Path>,
    pub candidates: Option<&'a Path>,
}

pub fn run(args: Args) -> CmdResult {
    let arguments = Arguments {
        scenario: args.scenario.clone(),
        family: args.family.clone(),
        objective: args.objective.of().name().to_string(),
        max_broken_promise_rate: args.max_broken_promise_rate,
        per_location: args.per_location,
        seed: args.run.seed,
        replications: args.run.replications,
        model: args.model.clone(),
        demand_model: args.demand_model.clone(),
    };
    let Prepared {
        grid,
        source,
        search,
    } = arguments.prepare()?;
    let pool = args.run.pool()?;
    if let Some(shard) = args.shard.shard()? {
        super::shard_args::refuse_on_shard("--out", args.out.is_some())?;
        super::shard_args::refuse_on_shard("--candidates", args.candidates.is_some())?;
        let identity = RunIdentity {
            arguments: serde_json::to_value(&arguments).map_err(|e| Failure::Internal(e.into()))?,
            scenario_sha256: super::shard_args::scenario_sha256(args.scenario.as_deref())?,
        };
        let base = source
            .variant(None, &[])
            .map_err(|e| Failure::BadInput(e.into()))?;
        let plan = shard::tune::plan(&source, &grid, &search, shard)?;
        let bar = super::progress::bar(
            args.run.quiet,
            plan.mine.len() as u64,
            "candidate-replications",
        );
        let seed = args.run.seed.unwrap_or(base.seed);
        let partial = pool.install(|| {
            let stamp = shard::tune::Stamp {
                identity,
                seed,
                shard,
            };
            shard::tune::run_shard(&plan, &search, stamp, &|| bar.inc(1))
        })?;
        bar.finish_and_clear();
        return args.shard.write(partial, args.run.quiet);
    }
    let bar = super::progress::bar(args.run.quiet, grid.len() as u64, "candidates");
    let tuned = pool.install(|| tune::tune(&source, grid, search, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    let out = Output {
        format: args.run.format,
        out: args.out.as_deref(),
        candidates: args.candidates.as_deref(),
    };
    emit(&tuned, &arguments, &out)
}

/// The search's report on stdout and its files: the same for a search on
/// one machine and for `lockerlab merge` of its shards.
fn emit(tuned: &Tuned, arguments: &Arguments, output: &Output) -> CmdResult {
    let text = render(tuned);
    let all = tuned.candidate_records();
    if let Some(path) = output.candidates {
        all.write_csv_file(path).map_err(Failure::BadInput)?;
    }
    let replications = tuned.replications();
    let best = &tuned.tried[tuned.best];
    let overrides = tuned.overrides.clone();
    match output.format {
        Format::Table => print!("{text}"),
        Format::Csv => all
            .write_csv(std::io::stdout().lock())
            .map_err(Failure::Internal)?,
        Format::Json => {
            let json = tuned.to_json(&arguments.family);
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values")
            );
        }
    }
    if let Some(out) = output.out {
        let model = match &arguments.model {
            Some(dir) => {
                let m = super::load_model(dir)?;
                let from = out.parent().unwrap_or(std::path::Path::new(""));
                let path =
                    super::export_policy::relative_path(from, dir).map_err(Failure::BadInput)?;
                Some(ModelRef {
                    path: path.display().to_string(),
                    forest_sha256: m.meta.forest_sha256.clone(),
                })
            }
            None => None,
        };
        let file = PolicyFile {
            format_version: POLICY_FORMAT_VERSION,
            policy: best.policy.clone(),
            overrides,
            model,
            notes: format!(
                "lockerlab tune: max {} with broken_promise_rate <= {} over {replications} replications",
                tuned.search.objective.metric(),
                arguments.max_broken_promise_rate,
            ),
        };
        std::fs::write(out, file.to_json())
            .with_context(|| format!("writing {}", out.display()))
            .map_err(Failure::BadInput)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// `lockerlab merge` of a search's partials: every candidate's runs
/// rebuilt, the choice made and validated here (one more run of the
/// winner, on fresh random numbers).
pub fn merge(set: &[Loaded], output: &Output) -> CmdResult {
    let first = &set[0].manifest;
    let arguments: Arguments = serde_json::from_value(first.arguments.clone())
        .map_err(|e| Failure::BadInput(anyhow!("{}: arguments: {e}", set[0].path)))?;
    super::shard_args::same_scenario(arguments.scenario.as_deref(), &first.scenario_sha256)?;
    let Prepared {
        grid,
        source,
        search,
    } = arguments.prepare()?;
    let locations = source
        .variant(None, &[])
        .map_err(|e| Failure::BadInput(e.into()))?
        .locations
        .len();
    let tried = shard::tune::merge(&grid, locations, search.per_location, set)
        .map_err(|m| Failure::BadInput(anyhow!(m)))?;
    let tuned = tune::choose(&source, grid, search, tried)?;
    emit(&tuned, &arguments, output)
}

/// The table of the frontier and the best feasible candidates, the choice
/// and why, and the validation.
fn render(t: &Tuned) -> String {
    let metric = t.search.objective.metric();
    let limit = t.search.max_broken_promise_rate;
    let (objective, fail) = (t.objective, t.fail);
    let mut table = Table::new(&[
        ("candidate", Align::Left),
        (metric, Align::Right),
        ("broken_promise_rate", Align::Right),
        ("feasible", Align::Left),
        ("frontier", Align::Left),
    ]);
    let mut shown = 0;
    for (k, &i) in t.order.iter().enumerate() {
        if !t.on_frontier[k] && !t.top.contains(&i) {
            continue;
        }
        shown += 1;
        table.row(vec![
            tune::label(&t.tried[i].policy),
            display::mean_ci(t.mean(i, objective), t.ci(i, objective)),
            display::mean_ci(t.mean(i, fail), t.ci(i, fail)),
            if t.is_feasible(i) { "yes" } else { "no" }.into(),
            if t.on_frontier[k] { "*" } else { "" }.into(),
        ]);
    }
    let mut text = table.render(0);
    if shown < t.tried.len() {
        text.push_str(&format!(
            "({shown} of {} candidates: the frontier and the {} best feasible; \
             --candidates FILE.csv or --format csv gives them all)\n",
            t.tried.len(),
            tune::TOP
        ));
    }
    let replications = t.replications();
    let best = t.best;
    text.push_str(&format!(
        "\nchosen: {} — {metric} {}, broken_promise_rate {} ({replications} replications)\n",
        tune::label(&t.tried[best].policy),
        display::mean_ci(t.mean(best, objective), t.ci(best, objective)),
        display::mean_ci(t.mean(best, fail), t.ci(best, fail)),
    ));
    text.push_str(&format!(
        "  feasible: the upper end of the broken-promise rate's 95% interval is at most {limit}; \
         {} candidate(s) tie with the highest {metric} (their paired 95% interval holds 0), and of \
         those the one with the fewest broken promises (then the highest {metric}) is chosen\n",
        t.tied.len(),
    ));
    if !t.edge.is_empty() {
        text.push_str(&format!(
            "  note: on the grid's edge ({}): the optimum may lie outside what was searched\n",
            t.edge.join("; ")
        ));
    }
    if replications < 20 {
        text.push_str(&format!(
            "  note: judged on {replications} replication(s); 20 or more give intervals \
             to trust (--replications 20)\n"
        ));
    }
    if t.search.per_location {
        text.push_str(&format!(
            "per location: {} of {} locations do better with their own parameters\n",
            t.overrides.len(),
            t.tried[best].per_location.len()
        ));
    }
    let v = &t.validation;
    text.push_str(&format!(
        "validated on fresh random numbers (seed {}, {} replications{}): {metric} {}, \
         broken_promise_rate {}{}\n",
        v.seed,
        v.replications,
        if t.overrides.is_empty() {
            ""
        } else {
            ", with the per-location choices together"
        },
        display::mean_ci(v.objective.0, v.objective.1),
        display::mean_ci(v.fail.0, v.fail.1),
        if tune::rules::feasible(v.fail.0, v.fail.1, limit) {
            ""
        } else {
            " — ABOVE the limit: the search's choice does not hold on new random numbers"
        }
    ));
    text
}
