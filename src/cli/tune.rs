//! `lockerlab tune SCENARIO --family KIND --objective acceptance
//! --max-broken-promise-rate X`: search a policy's parameters for the best
//! objective under the failure constraint, on common random numbers.

use super::run_args::{Format, RunArgs};
use super::sweep::source_with_models;
use super::tune_rules;
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::{stats, Summary, METRIC_NAMES};
use lockerlab::policy::file::{ModelRef, PolicyFile, POLICY_FORMAT_VERSION};
use lockerlab::policy::{ForecastPolicy, Policy, TierPartition, TierShares};
use lockerlab::records::Records;
use lockerlab::sim::{self, RunOptions};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    fn metric(self) -> &'static str {
        match self {
            Objective::Acceptance => "acceptance_rate",
            Objective::Accepted => "accepted",
            Objective::Utilization => "utilization",
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
}

/// Candidates the table shows besides the frontier: the best feasible.
const TOP: usize = 10;

/// The parameter grid searched for a policy kind.
pub fn candidates(kind: &str) -> Result<Vec<Policy>, String> {
    match kind {
        "forecast" => Ok([
            0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999,
        ]
        .iter()
        .map(|&c| {
            Policy::Forecast(ForecastPolicy {
                confidence: c,
                ..ForecastPolicy::default()
            })
        })
        .collect()),
        // Every split of capacity into the four tiers' shares and the
        // shared buffer on a 0.1 grid (1,001 of them): no share is capped,
        // so the search has no edge but the simplex's own.
        "tier-partition" => {
            let mut out = Vec::new();
            for s in 0..=10 {
                for n in 0..=10 {
                    for t in 0..=10 {
                        for d in 0..=10 {
                            if s + n + t + d > 10 {
                                continue;
                            }
                            out.push(Policy::TierPartition(TierPartition {
                                shares: TierShares {
                                    same_day: s as f64 / 10.0,
                                    next_day: n as f64 / 10.0,
                                    two_day: t as f64 / 10.0,
                                    standard: d as f64 / 10.0,
                                },
                            }));
                        }
                    }
                }
            }
            Ok(out)
        }
        other => Err(format!(
            "--family {other}: nothing to tune (tunable: tier-partition, forecast)"
        )),
    }
}

/// A candidate's results: network totals per replication and per-location means.
struct Tried {
    policy: Policy,
    totals: Vec<Summary>,
    per_location: Vec<Summary>,
}

fn label(p: &Policy) -> String {
    match p {
        Policy::Forecast(f) => format!("forecast confidence={}", f.confidence),
        Policy::TierPartition(tp) => format!(
            "tier-partition same_day={} next_day={} two_day={} standard={}",
            tp.shares.same_day, tp.shares.next_day, tp.shares.two_day, tp.shares.standard
        ),
        other => other.name().to_string(),
    }
}

pub fn run(args: Args) -> CmdResult {
    let bad = |m: String| Failure::BadInput(anyhow!(m));
    if !(0.0..=1.0).contains(&args.max_broken_promise_rate) {
        return Err(bad(format!(
            "--max-broken-promise-rate must be in [0, 1], got {}",
            args.max_broken_promise_rate
        )));
    }
    let cands = candidates(&args.family).map_err(bad)?;
    let source = source_with_models(
        args.scenario.as_deref(),
        args.model.as_deref(),
        args.demand_model.as_deref(),
    )?;
    let objective = METRIC_NAMES
        .iter()
        .position(|m| *m == args.objective.metric())
        .expect("objective metrics exist");
    let fail = METRIC_NAMES
        .iter()
        .position(|m| *m == "broken_promise_rate")
        .expect("metric exists");
    let pool = args.run.pool()?;
    let bar = super::progress::bar(args.run.quiet, cands.len() as u64, "candidates");
    let tried: Vec<Tried> = pool.install(|| {
        cands
            .par_iter()
            .map(|p| {
                let sc = source
                    .variant(Some(p), &[])
                    .map_err(|e| Failure::BadInput(e.into()))?;
                let opts = RunOptions {
                    seed: args.run.seed(&sc),
                    replications: replications_of(&args.run, &sc),
                    pool_locations: true,
                    ..RunOptions::from_scenario(&sc)
                };
                let r = sim::run(&sc, &opts, &|_| {}).map_err(|e| Failure::Internal(e.into()))?;
                bar.inc(1);
                Ok(Tried {
                    policy: p.clone(),
                    per_location: r.pooled.iter().map(Summary::from_metrics).collect(),
                    totals: r.totals,
                })
            })
            .collect::<Result<Vec<_>, Failure>>()
    })?;
    bar.finish_and_clear();

    let mean = |t: &Tried, m: usize| {
        stats::mean(&t.totals.iter().map(|s| s.values[m]).collect::<Vec<_>>())
    };
    let ci = |t: &Tried, m: usize| {
        stats::ci95_half_width(&t.totals.iter().map(|s| s.values[m]).collect::<Vec<_>>())
    };
    let mut order: Vec<usize> = (0..tried.len()).collect();
    // By failure rate, best objective first among equals, so the frontier
    // mark lands on the best candidate of each failure level.
    order.sort_by(|&a, &b| {
        mean(&tried[a], fail)
            .total_cmp(&mean(&tried[b], fail))
            .then(mean(&tried[b], objective).total_cmp(&mean(&tried[a], objective)))
    });
    let mut best_so_far = f64::NEG_INFINITY;
    // On the frontier: nothing with a lower failure rate does better.
    let on_frontier: Vec<bool> = order
        .iter()
        .map(|&i| {
            let o = mean(&tried[i], objective);
            let on = o > best_so_far;
            best_so_far = best_so_far.max(o);
            on
        })
        .collect();
    let limit = args.max_broken_promise_rate;
    let is_feasible = |t: &Tried| tune_rules::feasible(mean(t, fail), ci(t, fail), limit);
    let mut top: Vec<usize> = (0..tried.len())
        .filter(|&i| is_feasible(&tried[i]))
        .collect();
    top.sort_by(|&a, &b| mean(&tried[b], objective).total_cmp(&mean(&tried[a], objective)));
    top.truncate(TOP);
    let mut table = Table::new(&[
        ("candidate", Align::Left),
        (args.objective.metric(), Align::Right),
        ("broken_promise_rate", Align::Right),
        ("feasible", Align::Left),
        ("frontier", Align::Left),
    ]);
    let mut shown = 0;
    for (k, &i) in order.iter().enumerate() {
        if !on_frontier[k] && !top.contains(&i) {
            continue;
        }
        shown += 1;
        let t = &tried[i];
        table.row(vec![
            label(&t.policy),
            display::mean_ci(mean(t, objective), ci(t, objective)),
            display::mean_ci(mean(t, fail), ci(t, fail)),
            if is_feasible(t) { "yes" } else { "no" }.into(),
            if on_frontier[k] { "*" } else { "" }.into(),
        ]);
    }
    let mut text = table.render(0);
    if shown < tried.len() {
        text.push_str(&format!(
            "({shown} of {} candidates: the frontier and the {TOP} best feasible; \
             --candidates FILE.csv or --format csv gives them all)\n",
            tried.len()
        ));
    }
    let replications = tried.first().map_or(0, |t| t.totals.len());
    let mut all = Records::new([
        "policy".to_string(),
        format!("{}_mean", args.objective.metric()),
        format!("{}_ci95", args.objective.metric()),
        "broken_promise_rate_mean".to_string(),
        "broken_promise_rate_ci95".to_string(),
        "feasible".to_string(),
        "frontier".to_string(),
    ]);
    for (k, &i) in order.iter().enumerate() {
        let t = &tried[i];
        all.push(vec![
            lockerlab::policy::spec::to_spec(&t.policy).into(),
            mean(t, objective).into(),
            ci(t, objective).into(),
            mean(t, fail).into(),
            ci(t, fail).into(),
            is_feasible(t).into(),
            on_frontier[k].into(),
        ]);
    }
    let top_objective = tried
        .iter()
        .filter(|t| is_feasible(t))
        .max_by(|a, b| mean(a, objective).total_cmp(&mean(b, objective)))
        .ok_or_else(|| {
            bad(format!(
                "no candidate keeps the upper end of its broken-promise rate's 95% interval \
                 at or below {limit}"
            ))
        })?;
    // Candidates the replications cannot tell from the top one; of those,
    // the one that breaks the fewest promises, then the higher objective.
    let tied: Vec<&Tried> = tried
        .iter()
        .filter(|t| is_feasible(t) && tune_rules::tied(&top_objective.totals, &t.totals, objective))
        .collect();
    let best = *tied
        .iter()
        .min_by(|a, b| {
            mean(a, fail)
                .total_cmp(&mean(b, fail))
                .then(mean(b, objective).total_cmp(&mean(a, objective)))
        })
        .expect("the top candidate ties with itself");
    text.push_str(&format!(
        "\nchosen: {} — {} {}, broken_promise_rate {} ({replications} replications)\n",
        label(&best.policy),
        args.objective.metric(),
        display::mean_ci(mean(best, objective), ci(best, objective)),
        display::mean_ci(mean(best, fail), ci(best, fail)),
    ));
    text.push_str(&format!(
        "  feasible: the upper end of the broken-promise rate's 95% interval is at most {limit}; \
         {} candidate(s) tie with the highest {} (their paired 95% interval holds 0), and of \
         those the one with the fewest broken promises (then the highest {1}) is chosen\n",
        tied.len(),
        args.objective.metric()
    ));
    // Every candidate again, with whether it tied with the top one.
    let all = all.with_column(
        "tied_with_best",
        order
            .iter()
            .map(|&i| tied.iter().any(|t| std::ptr::eq(*t, &tried[i])).into())
            .collect(),
    );
    if let Some(path) = &args.candidates {
        all.write_csv_file(path).map_err(Failure::BadInput)?;
    }
    let edge = tune_rules::on_edge(&best.policy, &cands);
    if !edge.is_empty() {
        text.push_str(&format!(
            "  note: on the grid's edge ({}): the optimum may lie outside what was searched\n",
            edge.join("; ")
        ));
    }
    if replications < 20 {
        text.push_str(&format!(
            "  note: judged on {replications} replication(s); 20 or more give intervals \
             to trust (--replications 20)\n"
        ));
    }

    let mut overrides = BTreeMap::new();
    if args.per_location {
        let sc = source
            .variant(Some(&best.policy), &[])
            .map_err(|e| Failure::BadInput(e.into()))?;
        for (i, loc) in sc.locations.iter().enumerate() {
            let pick = tried
                .iter()
                .filter(|t| tune_rules::feasible(t.per_location[i].values[fail], f64::NAN, limit))
                .max_by(|a, b| {
                    a.per_location[i].values[objective]
                        .total_cmp(&b.per_location[i].values[objective])
                });
            if let Some(t) = pick.filter(|t| t.policy != best.policy) {
                overrides.insert(loc.id.clone(), t.policy.clone());
            }
        }
        text.push_str(&format!(
            "per location: {} of {} locations do better with their own parameters\n",
            overrides.len(),
            sc.locations.len()
        ));
    }
    let validation = pool.install(|| {
        validate(
            &source,
            &best.policy,
            &overrides,
            &args.run,
            objective,
            fail,
        )
    })?;
    text.push_str(&format!(
        "validated on fresh random numbers (seed {}, {} replications{}): {} {}, \
         broken_promise_rate {}{}\n",
        validation.seed,
        validation.replications,
        if overrides.is_empty() {
            ""
        } else {
            ", with the per-location choices together"
        },
        args.objective.metric(),
        display::mean_ci(validation.objective.0, validation.objective.1),
        display::mean_ci(validation.fail.0, validation.fail.1),
        if tune_rules::feasible(validation.fail.0, validation.fail.1, limit) {
            ""
        } else {
            " — ABOVE the limit: the search's choice does not hold on new random numbers"
        }
    ));
    match args.run.format {
        Format::Table => print!("{text}"),
        Format::Csv => all
            .write_csv(std::io::stdout().lock())
            .map_err(Failure::Internal)?,
        Format::Json => {
            let json = serde_json::json!({
                "family": args.family,
                "objective": args.objective.metric(),
                "max_broken_promise_rate": args.max_broken_promise_rate,
                "replications": replications,
                "best": lockerlab::policy::spec::to_spec(&best.policy),
                "tied": tied
                    .iter()
                    .map(|t| lockerlab::policy::spec::to_spec(&t.policy))
                    .collect::<Vec<_>>(),
                "on_grid_edge": edge,
                "validation": {
                    "seed": validation.seed,
                    "replications": validation.replications,
                    "objective_mean": validation.objective.0,
                    "objective_ci95": validation.objective.1,
                    "broken_promise_rate_mean": validation.fail.0,
                    "broken_promise_rate_ci95": validation.fail.1,
                },
                "overrides": overrides
                    .iter()
                    .map(|(id, p)| (id.clone(), lockerlab::policy::spec::to_spec(p).into()))
                    .collect::<serde_json::Map<String, serde_json::Value>>(),
                "candidates": all.to_json(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values")
            );
        }
    }
    if let Some(out) = &args.out {
        let model = match &args.model {
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
                args.objective.metric(),
                args.max_broken_promise_rate,
            ),
        };
        std::fs::write(out, file.to_json())
            .with_context(|| format!("writing {}", out.display()))
            .map_err(Failure::BadInput)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Tuning judges on at least 20 replications unless told otherwise: fewer
/// make intervals too wide to tell candidates apart (and a scenario's
/// `simulation.replications` is chosen for a single run).
const MIN_DEFAULT_REPLICATIONS: u32 = 20;

fn replications_of(run: &RunArgs, sc: &lockerlab::scenario::Scenario) -> u32 {
    run.replications
        .unwrap_or(sc.replications.max(MIN_DEFAULT_REPLICATIONS))
}

/// What the chosen configuration does on random numbers the search never
/// saw.
struct Validation {
    seed: u64,
    replications: usize,
    /// (mean, 95% half-width) of the objective and the broken-promise rate.
    objective: (f64, f64),
    fail: (f64, f64),
}

/// Runs `policy` with its per-location `overrides` together on the search's
/// replications and a fresh seed (on the caller's thread pool).
fn validate(
    source: &lockerlab::scenario::edit::ScenarioSource,
    policy: &Policy,
    overrides: &BTreeMap<String, Policy>,
    run: &RunArgs,
    objective: usize,
    fail: usize,
) -> Result<Validation, Failure> {
    let mut sc = source
        .variant(Some(policy), &[])
        .map_err(|e| Failure::BadInput(e.into()))?;
    for loc in &mut sc.locations {
        if let Some(p) = overrides.get(&loc.id) {
            loc.policy = Some(p.clone());
        }
    }
    let seed = run.seed(&sc).wrapping_add(sim::VALIDATION_SEED_OFFSET);
    let opts = RunOptions {
        seed,
        replications: replications_of(run, &sc),
        ..RunOptions::from_scenario(&sc)
    };
    let r = sim::run(&sc, &opts, &|_| {}).map_err(|e| Failure::Internal(e.into()))?;
    let (mean, half) = Summary::across(&r.totals);
    let of = |m: usize| (mean.values[m], half.values[m]);
    Ok(Validation {
        seed,
        replications: r.totals.len(),
        objective: of(objective),
        fail: of(fail),
    })
}
