//! `tune --shard I/N`: the (candidate, replication) items of the grid split
//! by expected orders. A partial keeps one row per item, the replication's
//! network totals (`candidates`). With `--per-location` a candidate's
//! replications stay on one shard, which pools its locations' metrics over
//! them and keeps each location's summary (`pooled`, a row per candidate
//! and location). The merge rebuilds every candidate's runs and makes the
//! choice with [`crate::tune::choose`], validation run included.

use super::columns::MetricColumns;
use super::manifest::{Loaded, Partial};
use super::totals::Kind;
pub use super::totals::{Plan, Stamp};
use super::Shard;
use crate::metrics::Summary;
use crate::policy::Policy;
use crate::scenario::edit::ScenarioSource;
use crate::scenario::Scenario;
use crate::sim::RunError;
use crate::tune::{Search, Tried};
use polars::prelude::DataFrame;

const KIND: Kind = Kind {
    command: "tune",
    key: "candidate",
    role: "candidates",
};

pub fn plan(
    source: &ScenarioSource,
    grid: &[Policy],
    search: &Search,
    shard: Shard,
) -> Result<Plan, RunError> {
    let variants = grid
        .iter()
        .map(|p| {
            source
                .variant(Some(p), &[])
                .map_err(|e| RunError::Input(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reps = |sc: &Scenario| search.replications(sc);
    if !search.per_location {
        return Ok(Plan::new(variants, reps, shard));
    }
    // Whole candidates: a location's pooled summary needs all of them.
    let costs: Vec<f64> = variants
        .iter()
        .map(|sc| {
            let all: Vec<usize> = (0..sc.locations.len()).collect();
            super::expected_orders(sc, &all) * reps(sc) as f64
        })
        .collect();
    let work_total = variants.iter().map(|sc| reps(sc) as u64).sum();
    let mine = super::items_of(&costs, shard)
        .into_iter()
        .flat_map(|c| (0..reps(&variants[c])).map(move |r| [c as u32, r]))
        .collect();
    Ok(Plan {
        scenarios: variants,
        work_total,
        mine,
    })
}

/// Runs this shard's items and returns its partial.
pub fn run_shard(
    plan: &Plan,
    search: &Search,
    stamp: Stamp,
    item_done: &(dyn Fn() + Sync),
) -> Result<Partial, RunError> {
    let options = |sc: &Scenario| search.options(sc);
    let (mut partial, pooled) =
        super::totals::run_shard(&KIND, plan, &options, search.per_location, stamp, item_done)?;
    let encode = |e: &dyn std::fmt::Display| RunError::Input(e.to_string());
    if search.per_location {
        let rows: Vec<(u32, u32, Summary)> = pooled
            .iter()
            .flat_map(|(c, pooled)| {
                pooled
                    .iter()
                    .enumerate()
                    .map(move |(i, m)| (*c, i as u32, Summary::from_metrics(m)))
            })
            .collect();
        let mut columns = vec![
            super::columns::indices("candidate", rows.iter().map(|r| r.0).collect()),
            super::columns::indices("location", rows.iter().map(|r| r.1).collect()),
        ];
        columns.extend(super::columns::metrics(rows.iter().map(|r| &r.2)));
        partial.frames.push((
            "pooled".to_string(),
            DataFrame::new(columns).map_err(|e| encode(&e))?,
        ));
    }
    Ok(partial)
}

/// Every candidate's runs (in grid order), from a complete, checked set of
/// partials; `locations` is the scenario's count (per-location pooling).
pub fn merge(
    grid: &[Policy],
    locations: usize,
    per_location: bool,
    set: &[Loaded],
) -> Result<Vec<Tried>, String> {
    let totals = super::totals::merge(KIND.role, KIND.key, grid.len(), set)?;
    let mut pooled: Vec<Vec<Option<Summary>>> =
        vec![vec![None; locations]; if per_location { grid.len() } else { 0 }];
    if per_location {
        for l in set {
            let df = l.frame("pooled")?;
            let bad = |what: &str| format!("{}: pooled rows: {what}", l.path);
            let read = |name: &str| {
                super::columns::read_indices(&df, name).map_err(|e| bad(&e.to_string()))
            };
            let (candidates, locations_of) = (read("candidate")?, read("location")?);
            let metrics = MetricColumns::read(&df).map_err(|e| bad(&e.to_string()))?;
            for row in 0..df.height() {
                let (Some(c), Some(i)) = (candidates.get(row), locations_of.get(row)) else {
                    return Err(bad("a null candidate or location"));
                };
                if c as usize >= grid.len() || i as usize >= locations {
                    return Err(bad(&format!(
                        "candidate {c}, location {i} is outside the search"
                    )));
                }
                let s = metrics.at(row).ok_or_else(|| bad("a null metric"))?;
                pooled[c as usize][i as usize] = Some(s);
            }
        }
    }
    let per_location: Vec<Vec<Summary>> = pooled
        .into_iter()
        .enumerate()
        .map(|(c, locs)| {
            locs.into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("candidate {c}: a location's pooled summary is missing"))
        })
        .collect::<Result<_, _>>()?;
    Ok(grid
        .iter()
        .zip(totals)
        .enumerate()
        .map(|(c, (policy, totals))| Tried {
            policy: policy.clone(),
            totals,
            per_location: per_location.get(c).cloned().unwrap_or_default(),
        })
        .collect())
}
