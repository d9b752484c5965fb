//! Searching a policy family's parameters for the best objective under the
//! broken-promise constraint, on common random numbers (`lockerlab tune`,
//! the Python package's `tune`): the grid, the runs, the frontier, the
//! choice among ties, per-location overrides and the validation on fresh
//! random numbers. How candidates are judged is in [`rules`].

pub mod rules;

use crate::metrics::{stats, Summary, METRIC_NAMES};
use crate::policy::{spec, ForecastPolicy, Policy, TierPartition, TierShares};
use crate::records::Records;
use crate::scenario::edit::ScenarioSource;
use crate::scenario::Scenario;
use crate::sim::{self, RunError, RunOptions};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the winner maximizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Share of orders accepted.
    Acceptance,
    /// Orders accepted.
    Accepted,
    /// Compartment utilization.
    Utilization,
}

impl Objective {
    pub const ALL: [Objective; 3] = [
        Objective::Acceptance,
        Objective::Accepted,
        Objective::Utilization,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Objective::Acceptance => "acceptance",
            Objective::Accepted => "accepted",
            Objective::Utilization => "utilization",
        }
    }

    pub fn metric(self) -> &'static str {
        match self {
            Objective::Acceptance => "acceptance_rate",
            Objective::Accepted => "accepted",
            Objective::Utilization => "utilization",
        }
    }

    pub fn parse(name: &str) -> Result<Objective, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| {
                format!("objective `{name}`: expected acceptance, accepted or utilization")
            })
    }
}

/// Candidates the table shows besides the frontier: the best feasible.
pub const TOP: usize = 10;

/// Tuning judges on at least 20 replications unless told otherwise: fewer
/// make intervals too wide to tell candidates apart (and a scenario's
/// `simulation.replications` is chosen for a single run).
pub const MIN_DEFAULT_REPLICATIONS: u32 = 20;

/// The parameter grid searched for a policy family.
pub fn candidates(family: &str) -> Result<Vec<Policy>, String> {
    match family {
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

/// The constraint is a rate.
pub fn check_limit(limit: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&limit) {
        Ok(())
    } else {
        Err(format!(
            "--max-broken-promise-rate must be in [0, 1], got {limit}"
        ))
    }
}

/// A candidate as the table names it.
pub fn label(p: &Policy) -> String {
    match p {
        Policy::Forecast(f) => format!("forecast confidence={}", f.confidence),
        Policy::TierPartition(tp) => format!(
            "tier-partition same_day={} next_day={} two_day={} standard={}",
            tp.shares.same_day, tp.shares.next_day, tp.shares.two_day, tp.shares.standard
        ),
        other => other.name().to_string(),
    }
}

/// What to search for and how.
#[derive(Debug, Clone)]
pub struct Search {
    pub objective: Objective,
    /// A candidate is feasible when the upper end of the 95% interval of
    /// its broken-promise rate is at most this.
    pub max_broken_promise_rate: f64,
    /// Choose per location too; the result carries overrides.
    pub per_location: bool,
    /// Default: each variant's `simulation.seed`.
    pub seed: Option<u64>,
    /// Default: the scenario's, at least [`MIN_DEFAULT_REPLICATIONS`].
    pub replications: Option<u32>,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Search {
    fn seed(&self, sc: &Scenario) -> u64 {
        self.seed.unwrap_or(sc.seed)
    }

    /// The replications a candidate runs on `sc`.
    pub fn replications(&self, sc: &Scenario) -> u32 {
        self.replications
            .unwrap_or(sc.replications.max(MIN_DEFAULT_REPLICATIONS))
    }

    /// How a candidate runs on `sc`.
    pub fn options(&self, sc: &Scenario) -> RunOptions {
        RunOptions {
            seed: self.seed(sc),
            replications: self.replications(sc),
            cancel: self.cancel.clone(),
            ..RunOptions::from_scenario(sc)
        }
    }
}

/// A candidate's results: network totals per replication and per-location means.
#[derive(Debug, Clone)]
pub struct Tried {
    pub policy: Policy,
    pub totals: Vec<Summary>,
    pub per_location: Vec<Summary>,
}

/// What the chosen configuration does on random numbers the search never
/// saw.
#[derive(Debug, Clone)]
pub struct Validation {
    pub seed: u64,
    pub replications: usize,
    /// (mean, 95% half-width) of the objective and the broken-promise rate.
    pub objective: (f64, f64),
    pub fail: (f64, f64),
}

/// A finished search.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub search: Search,
    /// The grid searched, in grid order.
    pub grid: Vec<Policy>,
    /// Every candidate's results, in grid order.
    pub tried: Vec<Tried>,
    /// Candidates by broken-promise rate, the best objective first among
    /// equals.
    pub order: Vec<usize>,
    /// Per position of `order`: nothing with a lower rate does better.
    pub on_frontier: Vec<bool>,
    /// The [`TOP`] best feasible candidates.
    pub top: Vec<usize>,
    /// Candidates statistically tied with the best feasible objective.
    pub tied: Vec<usize>,
    /// The choice among `tied`: the fewest broken promises, then the
    /// highest objective.
    pub best: usize,
    /// The winner's parameters on the grid's edge.
    pub edge: Vec<String>,
    pub overrides: BTreeMap<String, Policy>,
    pub validation: Validation,
    /// Metric indexes of the objective and the constrained rate.
    pub objective: usize,
    pub fail: usize,
}

fn metric(name: &str) -> usize {
    METRIC_NAMES
        .iter()
        .position(|m| *m == name)
        .expect("tune's metrics exist")
}

/// Runs every candidate of `grid` on `source`'s scenario and chooses.
/// `candidate_done` is called once per candidate run.
pub fn tune(
    source: &ScenarioSource,
    grid: Vec<Policy>,
    search: Search,
    candidate_done: &(dyn Fn() + Sync),
) -> Result<Tuned, RunError> {
    check_limit(search.max_broken_promise_rate).map_err(RunError::Input)?;
    let tried = run_candidates(source, &grid, &search, candidate_done)?;
    choose(source, grid, search, tried)
}

/// Each candidate's runs: totals per replication and per-location means
/// pooled over the replications.
pub fn run_candidates(
    source: &ScenarioSource,
    grid: &[Policy],
    search: &Search,
    candidate_done: &(dyn Fn() + Sync),
) -> Result<Vec<Tried>, RunError> {
    grid.par_iter()
        .map(|p| {
            let sc = source
                .variant(Some(p), &[])
                .map_err(|e| RunError::Input(e.to_string()))?;
            let opts = RunOptions {
                pool_locations: true,
                ..search.options(&sc)
            };
            let r = sim::run(&sc, &opts, &|_| {})?;
            candidate_done();
            Ok(Tried {
                policy: p.clone(),
                per_location: r.pooled.iter().map(Summary::from_metrics).collect(),
                totals: r.totals,
            })
        })
        .collect::<Result<_, RunError>>()
}

/// The choice among the candidates' runs (`tried`, in grid order): the
/// frontier, the best feasible, ties, per-location overrides, and the
/// validation of the choice on fresh random numbers (which runs here).
pub fn choose(
    source: &ScenarioSource,
    grid: Vec<Policy>,
    search: Search,
    tried: Vec<Tried>,
) -> Result<Tuned, RunError> {
    let limit = search.max_broken_promise_rate;
    check_limit(limit).map_err(RunError::Input)?;
    let objective = metric(search.objective.metric());
    let fail = metric("broken_promise_rate");
    let mean = |t: &Tried, m: usize| mean_of(t, m);
    let mut order: Vec<usize> = (0..tried.len()).collect();
    // By failure rate, best objective first among equals, so the frontier
    // mark lands on the best candidate of each failure level.
    order.sort_by(|&a, &b| {
        mean(&tried[a], fail)
            .total_cmp(&mean(&tried[b], fail))
            .then(mean(&tried[b], objective).total_cmp(&mean(&tried[a], objective)))
    });
    let mut best_so_far = f64::NEG_INFINITY;
    let on_frontier: Vec<bool> = order
        .iter()
        .map(|&i| {
            let o = mean(&tried[i], objective);
            let on = o > best_so_far;
            best_so_far = best_so_far.max(o);
            on
        })
        .collect();
    let is_feasible = |t: &Tried| rules::feasible(mean(t, fail), ci_of(t, fail), limit);
    let mut top: Vec<usize> = (0..tried.len())
        .filter(|&i| is_feasible(&tried[i]))
        .collect();
    top.sort_by(|&a, &b| mean(&tried[b], objective).total_cmp(&mean(&tried[a], objective)));
    top.truncate(TOP);
    let top_objective = (0..tried.len())
        .filter(|&i| is_feasible(&tried[i]))
        .max_by(|&a, &b| mean(&tried[a], objective).total_cmp(&mean(&tried[b], objective)))
        .ok_or_else(|| {
            RunError::Input(format!(
                "no candidate keeps the upper end of its broken-promise rate's 95% interval \
                 at or below {limit}"
            ))
        })?;
    // Candidates the replications cannot tell from the top one; of those,
    // the one that breaks the fewest promises, then the higher objective.
    let tied: Vec<usize> = (0..tried.len())
        .filter(|&i| {
            is_feasible(&tried[i])
                && rules::tied(&tried[top_objective].totals, &tried[i].totals, objective)
        })
        .collect();
    let best = *tied
        .iter()
        .min_by(|&&a, &&b| {
            mean(&tried[a], fail)
                .total_cmp(&mean(&tried[b], fail))
                .then(mean(&tried[b], objective).total_cmp(&mean(&tried[a], objective)))
        })
        .expect("the top candidate ties with itself");
    let edge = rules::on_edge(&tried[best].policy, &grid);
    let mut overrides = BTreeMap::new();
    if search.per_location {
        let sc = source
            .variant(Some(&tried[best].policy), &[])
            .map_err(|e| RunError::Input(e.to_string()))?;
        for (i, loc) in sc.locations.iter().enumerate() {
            let pick = tried
                .iter()
                .filter(|t| rules::feasible(t.per_location[i].values[fail], f64::NAN, limit))
                .max_by(|a, b| {
                    a.per_location[i].values[objective]
                        .total_cmp(&b.per_location[i].values[objective])
                });
            if let Some(t) = pick.filter(|t| t.policy != tried[best].policy) {
                overrides.insert(loc.id.clone(), t.policy.clone());
            }
        }
    }
    let validation = validate(
        source,
        &tried[best].policy,
        &overrides,
        &search,
        objective,
        fail,
    )?;
    Ok(Tuned {
        search,
        grid,
        tried,
        order,
        on_frontier,
        top,
        tied,
        best,
        edge,
        overrides,
        validation,
        objective,
        fail,
    })
}

fn mean_of(t: &Tried, m: usize) -> f64 {
    stats::mean(&t.totals.iter().map(|s| s.values[m]).collect::<Vec<_>>())
}

fn ci_of(t: &Tried, m: usize) -> f64 {
    stats::ci95_half_width(&t.totals.iter().map(|s| s.values[m]).collect::<Vec<_>>())
}

/// Runs `policy` with its per-location `overrides` together on the search's
/// replications and a fresh seed.
fn validate(
    source: &ScenarioSource,
    policy: &Policy,
    overrides: &BTreeMap<String, Policy>,
    search: &Search,
    objective: usize,
    fail: usize,
) -> Result<Validation, RunError> {
    let mut sc = source
        .variant(Some(policy), &[])
        .map_err(|e| RunError::Input(e.to_string()))?;
    for loc in &mut sc.locations {
        if let Some(p) = overrides.get(&loc.id) {
            loc.policy = Some(p.clone());
        }
    }
    let seed = search.seed(&sc).wrapping_add(sim::VALIDATION_SEED_OFFSET);
    let opts = RunOptions {
        seed,
        ..search.options(&sc)
    };
    let r = sim::run(&sc, &opts, &|_| {})?;
    let (mean, half) = Summary::across(&r.totals);
    let of = |m: usize| (mean.values[m], half.values[m]);
    Ok(Validation {
        seed,
        replications: r.totals.len(),
        objective: of(objective),
        fail: of(fail),
    })
}

impl Tuned {
    /// The mean over replications of candidate `i`'s metric `m`.
    pub fn mean(&self, i: usize, m: usize) -> f64 {
        mean_of(&self.tried[i], m)
    }

    /// Its 95% half-width.
    pub fn ci(&self, i: usize, m: usize) -> f64 {
        ci_of(&self.tried[i], m)
    }

    pub fn is_feasible(&self, i: usize) -> bool {
        rules::feasible(
            self.mean(i, self.fail),
            self.ci(i, self.fail),
            self.search.max_broken_promise_rate,
        )
    }

    pub fn replications(&self) -> usize {
        self.tried.first().map_or(0, |t| t.totals.len())
    }

    /// Every candidate in `order` (`--candidates`, `--format csv`).
    pub fn candidate_records(&self) -> Records {
        let metric = self.search.objective.metric();
        let mut all = Records::new([
            "policy".to_string(),
            format!("{metric}_mean"),
            format!("{metric}_ci95"),
            "broken_promise_rate_mean".to_string(),
            "broken_promise_rate_ci95".to_string(),
            "feasible".to_string(),
            "frontier".to_string(),
            "tied_with_best".to_string(),
        ]);
        for (k, &i) in self.order.iter().enumerate() {
            all.push(vec![
                spec::to_spec(&self.tried[i].policy).into(),
                self.mean(i, self.objective).into(),
                self.ci(i, self.objective).into(),
                self.mean(i, self.fail).into(),
                self.ci(i, self.fail).into(),
                self.is_feasible(i).into(),
                self.on_frontier[k].into(),
                self.tied.contains(&i).into(),
            ]);
        }
        all
    }

    /// The document of `tune --format json`.
    pub fn to_json(&self, family: &str) -> serde_json::Value {
        let v = &self.validation;
        serde_json::json!({
            "family": family,
            "objective": self.search.objective.metric(),
            "max_broken_promise_rate": self.search.max_broken_promise_rate,
            "replications": self.replications(),
            "best": spec::to_spec(&self.tried[self.best].policy),
            "tied": self
                .tied
                .iter()
                .map(|&i| spec::to_spec(&self.tried[i].policy))
                .collect::<Vec<_>>(),
            "on_grid_edge": self.edge,
            "validation": {
                "seed": v.seed,
                "replications": v.replications,
                "objective_mean": v.objective.0,
                "objective_ci95": v.objective.1,
                "broken_promise_rate_mean": v.fail.0,
                "broken_promise_rate_ci95": v.fail.1,
            },
            "overrides": self
                .overrides
                .iter()
                .map(|(id, p)| (id.clone(), spec::to_spec(p).into()))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "candidates": self.candidate_records().to_json(),
        })
    }
}
