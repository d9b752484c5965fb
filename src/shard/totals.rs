//! Partials of commands that report per-replication network totals of
//! several runs (`sweep`: grid points; `compare`: policies): one row per
//! (run, replication), the totals' metrics as columns, and the merge that
//! puts them back in (run, replication) order.

use super::columns::{self, MetricColumns};
use super::manifest::{Loaded, Manifest, Partial, RunIdentity};
use crate::metrics::{LocationMetrics, Summary};
use crate::scenario::Scenario;
use crate::sim::{self, Network, RunError, RunOptions};
use crate::sweep::GridRun;
use polars::prelude::DataFrame;
use rayon::prelude::*;

/// Several runs (grid points, policies, candidates) split over shards:
/// each run's scenario, the items in all, and this shard's.
pub struct Plan {
    pub scenarios: Vec<Scenario>,
    pub work_total: u64,
    /// This shard's (run, replication) items, in order.
    pub mine: Vec<[u32; 2]>,
}

impl Plan {
    /// Every (run, replication) item of `scenarios` (`replications` of
    /// each), costed by expected orders; this shard's are picked.
    pub fn new(
        scenarios: Vec<Scenario>,
        replications: impl Fn(&Scenario) -> u32,
        shard: super::Shard,
    ) -> Plan {
        let mut items: Vec<[u32; 2]> = Vec::new();
        let mut costs = Vec::new();
        for (p, sc) in scenarios.iter().enumerate() {
            let all: Vec<usize> = (0..sc.locations.len()).collect();
            let cost = super::expected_orders(sc, &all);
            for r in 0..replications(sc) {
                items.push([p as u32, r]);
                costs.push(cost);
            }
        }
        let mine = super::items_of(&costs, shard)
            .into_iter()
            .map(|i| items[i])
            .collect();
        Plan {
            scenarios,
            work_total: items.len() as u64,
            mine,
        }
    }
}

/// What a command's partial of totals is called: its command, the run
/// column (`point`, `policy`, `candidate`) and the data file's role.
pub struct Kind {
    pub command: &'static str,
    pub key: &'static str,
    pub role: &'static str,
}

/// Per run, its locations' metrics merged over a shard's replications.
pub type Pooled = Vec<(u32, Vec<LocationMetrics>)>;

/// Which shard of which run a partial is.
pub struct Stamp {
    pub identity: RunIdentity,
    pub seed: u64,
    pub shard: super::Shard,
}

/// Runs this shard's items of `plan` with `options(scenario)` and returns
/// its partial (one `kind.role` file) and, with `pool`, each run's
/// locations' metrics merged over the shard's replications.
pub fn run_shard(
    kind: &Kind,
    plan: &Plan,
    options: &(dyn Fn(&Scenario) -> RunOptions + Sync),
    pool: bool,
    stamp: Stamp,
    item_done: &(dyn Fn() + Sync),
) -> Result<(Partial, Pooled), RunError> {
    let started = std::time::Instant::now();
    let results = run_items(&plan.mine, &plan.scenarios, options, pool, item_done)?;
    let manifest = Manifest::new(
        kind.command,
        stamp.identity,
        stamp.seed,
        stamp.shard,
        &[kind.key, "replication"],
        plan.work_total,
        plan.mine.clone(),
        started,
    );
    let frame = frame(kind.key, &results.totals).map_err(|e| RunError::Input(e.to_string()))?;
    let partial = Partial {
        manifest,
        frames: vec![(kind.role.to_string(), frame)],
    };
    Ok((partial, results.pooled))
}

/// What a shard's runs give back: per item its totals, and with pooling
/// per run its locations' metrics merged over the shard's replications.
struct ItemResults {
    totals: Vec<([u32; 2], Summary)>,
    pooled: Pooled,
}

/// Runs (run, replication) items, `scenarios[run]` each, with
/// `options(scenario)`: the runs in parallel, each run's replications in
/// turn on one network. With `pool`, each run's locations' metrics are
/// merged over its replications here.
fn run_items(
    items: &[[u32; 2]],
    scenarios: &[Scenario],
    options: &(dyn Fn(&Scenario) -> RunOptions + Sync),
    pool: bool,
    item_done: &(dyn Fn() + Sync),
) -> Result<ItemResults, RunError> {
    let mut by_run: Vec<(u32, Vec<u32>)> = Vec::new();
    for [p, r] in items {
        match by_run.last_mut() {
            Some((q, reps)) if q == p => reps.push(*r),
            _ => by_run.push((*p, vec![*r])),
        }
    }
    let per_run = by_run
        .par_iter()
        .map(|(p, reps)| {
            let sc = &scenarios[*p as usize];
            let net = Network::build(sc);
            let opts = options(sc);
            let mut pooled =
                vec![LocationMetrics::default(); if pool { sc.locations.len() } else { 0 }];
            let mut totals = Vec::with_capacity(reps.len());
            for &r in reps {
                let s = sim::run_replication(sc, &net, &opts, r, &mut |i, m| {
                    if pool {
                        pooled[i].merge(m);
                    }
                })?;
                item_done();
                totals.push(([*p, r], s));
            }
            Ok((totals, (*p, pooled)))
        })
        .collect::<Result<Vec<_>, RunError>>()?;
    let mut results = ItemResults {
        totals: Vec::new(),
        pooled: Vec::new(),
    };
    for (totals, pooled) in per_run {
        results.totals.extend(totals);
        if pool {
            results.pooled.push(pooled);
        }
    }
    Ok(results)
}

/// The options of a run with `run`'s seed and replications, or each
/// scenario's own.
pub fn grid_options(run: &GridRun) -> impl Fn(&Scenario) -> RunOptions + Sync + '_ {
    move |sc: &Scenario| RunOptions {
        seed: run.seed.unwrap_or(sc.seed),
        replications: run.replications.unwrap_or(sc.replications),
        cancel: run.cancel.clone(),
        ..RunOptions::from_scenario(sc)
    }
}

/// The rows: `key` names the run column (`point`, `policy`).
pub fn frame(key: &str, rows: &[([u32; 2], Summary)]) -> anyhow::Result<DataFrame> {
    let mut columns = vec![
        columns::indices(key, rows.iter().map(|r| r.0[0]).collect()),
        columns::indices("replication", rows.iter().map(|r| r.0[1]).collect()),
    ];
    columns.extend(columns::metrics(rows.iter().map(|r| &r.1)));
    Ok(DataFrame::new(columns)?)
}

/// Per run (`runs` of them), its per-replication totals, from a complete,
/// checked set of partials whose `role` files hold the rows.
pub fn merge(
    role: &str,
    key: &str,
    runs: usize,
    set: &[Loaded],
) -> Result<Vec<Vec<Summary>>, String> {
    let mut rows: Vec<([u32; 2], Summary)> = Vec::new();
    for l in set {
        let df = l.frame(role)?;
        let bad = |what: &str| format!("{}: {role} rows: {what}", l.path);
        let column = |name: &str| columns::read_indices(&df, name).map_err(|e| bad(&e.to_string()));
        let (run, rep) = (column(key)?, column("replication")?);
        let metrics = MetricColumns::read(&df).map_err(|e| bad(&e.to_string()))?;
        for row in 0..df.height() {
            let (Some(p), Some(r)) = (run.get(row), rep.get(row)) else {
                return Err(bad(&format!("a null {key} or replication")));
            };
            if p as usize >= runs {
                return Err(bad(&format!("{key} {p} is not below {runs}")));
            }
            let s = metrics.at(row).ok_or_else(|| bad("a null metric"))?;
            rows.push(([p, r], s));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut results: Vec<Vec<Summary>> = vec![Vec::new(); runs];
    for ([p, r], s) in rows {
        let per_rep = &mut results[p as usize];
        if per_rep.len() as u32 != r {
            return Err(format!(
                "{key} {p}: replication {r} where {} was expected (a replication missing or \
                 repeated)",
                per_rep.len()
            ));
        }
        per_rep.push(s);
    }
    if let Some(p) = results.iter().position(Vec::is_empty) {
        return Err(format!("{key} {p}: no replications in the partials"));
    }
    Ok(results)
}
