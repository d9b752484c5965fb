//! `simulate --shard I/N`: the (replication, region) jobs split by expected
//! orders. A partial keeps each location's summary per replication
//! (`locations`: one row each, the report's metrics as columns) and, per
//! replication, the shard's merged metrics, orders by week and events
//! (`replications`); merge folds them with the same [`RunFold`] a
//! one-machine run uses, so the report is the same to the bit.

use super::columns::{self, MetricColumns};
use super::manifest::{Loaded, Manifest, Partial, RunIdentity};
use super::{expected_orders, items_of, Shard};
use crate::metrics::Summary;
use crate::scenario::Scenario;
use crate::sim::{
    all_jobs, run_jobs, Job, Network, ReplicationPart, RunFold, RunOptions, RunResult,
};
use polars::prelude::{DataFrame, NamedFrom, Series};
use std::collections::BTreeMap;

pub const WORK_UNIT: [&str; 2] = ["replication", "region"];

/// A run split over shards: its network, how many jobs in all, and this
/// shard's.
pub struct Plan {
    net: Network,
    work_total: u64,
    /// This shard's jobs, in job order.
    pub mine: Vec<Job>,
}

impl Plan {
    pub fn new(sc: &Scenario, replications: u32, shard: Shard) -> Plan {
        let net = Network::build(sc);
        let jobs = all_jobs(replications, net.regions.len());
        let costs: Vec<f64> = jobs
            .iter()
            .map(|j| expected_orders(sc, &net.regions[j.region]))
            .collect();
        let mine = items_of(&costs, shard)
            .into_iter()
            .map(|i| jobs[i])
            .collect();
        Plan {
            net,
            work_total: jobs.len() as u64,
            mine,
        }
    }

    /// Location-runs this shard does (what its progress counts).
    pub fn location_runs(&self) -> u64 {
        self.mine
            .iter()
            .map(|j| self.net.regions[j.region].len() as u64)
            .sum()
    }
}

/// Runs this shard's jobs of `sc` and returns its partial.
pub fn run_shard(
    sc: &Scenario,
    opts: &RunOptions,
    plan: &Plan,
    shard: Shard,
    identity: RunIdentity,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Partial> {
    let started = std::time::Instant::now();
    let (net, mine) = (&plan.net, &plan.mine);
    let mut rows: Vec<(u32, usize, Summary)> = Vec::new();
    let mut parts: BTreeMap<u32, ReplicationPart> = BTreeMap::new();
    run_jobs(sc, net, opts, mine, progress, |job, out| {
        for (i, m) in &out.metrics {
            rows.push((job.replication, *i, Summary::from_metrics(m)));
        }
        parts.entry(job.replication).or_default().add_job(&out);
        Ok(())
    })?;
    rows.sort_by_key(|r| (r.0, r.1));
    let manifest = Manifest::new(
        "simulate",
        identity,
        opts.seed,
        shard,
        &WORK_UNIT,
        plan.work_total,
        mine.iter()
            .map(|j| [j.replication, j.region as u32])
            .collect(),
        started,
    );
    Ok(Partial {
        manifest,
        frames: vec![
            ("locations".into(), locations_frame(sc, &rows)?),
            ("replications".into(), parts_frame(&parts)?),
        ],
    })
}

fn locations_frame(sc: &Scenario, rows: &[(u32, usize, Summary)]) -> anyhow::Result<DataFrame> {
    let mut columns = vec![
        columns::indices("replication", rows.iter().map(|r| r.0).collect()),
        columns::indices("location", rows.iter().map(|r| r.1 as u32).collect()),
        Series::new(
            "id".into(),
            rows.iter()
                .map(|r| sc.locations[r.1].id.as_str())
                .collect::<Vec<_>>(),
        )
        .into(),
    ];
    columns.extend(columns::metrics(rows.iter().map(|r| &r.2)));
    Ok(DataFrame::new(columns)?)
}

fn parts_frame(parts: &BTreeMap<u32, ReplicationPart>) -> anyhow::Result<DataFrame> {
    let reps: Vec<u32> = parts.keys().copied().collect();
    let json = parts
        .values()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DataFrame::new(vec![
        Series::new("replication".into(), reps).into(),
        Series::new("part".into(), json).into(),
    ])?)
}

/// Folds a complete, checked set of partials (see
/// [`super::check_set`]) of a run of `sc` with `replications` into what
/// [`crate::sim::run`] returns for a report: totals, location means,
/// weekly counts and events.
pub fn merge(sc: &Scenario, replications: u32, set: &[Loaded]) -> Result<RunResult, String> {
    let n = sc.locations.len();
    let mut rows: Vec<(u32, u32, Summary)> = Vec::with_capacity(n * replications as usize);
    let mut fold = RunFold::new(n);
    for l in set {
        let df = l.frame("locations")?;
        let bad = |what: &str| format!("{}: locations rows: {what}", l.path);
        let rep = columns::read_indices(&df, "replication").map_err(|e| bad(&e.to_string()))?;
        let loc = columns::read_indices(&df, "location").map_err(|e| bad(&e.to_string()))?;
        let metrics = MetricColumns::read(&df).map_err(|e| bad(&e.to_string()))?;
        for row in 0..df.height() {
            let (Some(r), Some(i)) = (rep.get(row), loc.get(row)) else {
                return Err(bad("a null replication or location"));
            };
            if r >= replications || i as usize >= n {
                return Err(bad(&format!(
                    "replication {r}, location {i} is outside this run ({replications} \
                     replications, {n} locations)"
                )));
            }
            let s = metrics.at(row).ok_or_else(|| bad("a null metric"))?;
            rows.push((r, i, s));
        }
        let parts = l.frame("replications")?;
        let prep = columns::read_indices(&parts, "replication").map_err(|e| bad(&e.to_string()))?;
        let pjson = parts
            .column("part")
            .and_then(|c| c.str().cloned())
            .map_err(|e| bad(&e.to_string()))?;
        for row in 0..parts.height() {
            let (Some(r), Some(text)) = (prep.get(row), pjson.get(row)) else {
                return Err(bad("a null replication part"));
            };
            if r >= replications {
                return Err(bad(&format!("replication {r} is outside this run")));
            }
            let part: ReplicationPart = serde_json::from_str(text)
                .map_err(|e| bad(&format!("replication {r}'s part: {e}")))?;
            fold.replication_part(r, &part);
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let expected = n * replications as usize;
    let repeated = rows
        .windows(2)
        .filter(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
        .count();
    if rows.len() != expected || repeated > 0 {
        return Err(format!(
            "the partials hold {} location rows ({repeated} repeated) where the run has {expected} \
             ({n} locations × {replications} replications)",
            rows.len()
        ));
    }
    for (r, i, s) in &rows {
        fold.location(*i as usize, *r, s);
    }
    for r in 0..replications {
        fold.close_replication(r);
    }
    let folded = fold.finish();
    Ok(RunResult {
        totals: folded.totals,
        location_means: folded.location_means,
        pooled: Vec::new(),
        metrics: Vec::new(),
        events: folded.events,
        history: Vec::new(),
        occupancy: Vec::new(),
        world: Vec::new(),
        weekly: folded.weekly,
    })
}
