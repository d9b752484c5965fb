//! `sweep --shard I/N`: the (grid point, replication) items split by each
//! variant's expected orders. A partial keeps one row per item, the
//! replication's network totals as columns (`points`); merge puts them
//! back in (point, replication) order, which is all `sweep` reports from.

use super::manifest::{Loaded, Partial};
use super::totals::Kind;
pub use super::totals::{Plan, Stamp};
use super::Shard;
use crate::metrics::Summary;
use crate::scenario::edit::ScenarioSource;
use crate::sim::RunError;
use crate::sweep::{GridRun, Point};

const KIND: Kind = Kind {
    command: "sweep",
    key: "point",
    role: "points",
};

/// Splits a checked grid ([`crate::sweep::check_grid`]) and picks this
/// shard's items.
pub fn plan(
    source: &ScenarioSource,
    points: &[Point],
    run: &GridRun,
    shard: Shard,
) -> Result<Plan, RunError> {
    let variants = points
        .iter()
        .map(|pt| {
            source
                .variant(pt.policy.as_ref().map(|p| &p.1), &pt.settings)
                .map_err(|e| RunError::Input(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan::new(
        variants,
        |sc| run.replications.unwrap_or(sc.replications),
        shard,
    ))
}

/// Runs this shard's items and returns its partial. `item_done` is
/// called once per finished item.
pub fn run_shard(
    plan: &Plan,
    run: &GridRun,
    stamp: Stamp,
    item_done: &(dyn Fn() + Sync),
) -> Result<Partial, RunError> {
    let options = super::totals::grid_options(run);
    Ok(super::totals::run_shard(&KIND, plan, &options, false, stamp, item_done)?.0)
}

/// Per point of `points`, its per-replication totals, from a complete,
/// checked set of partials.
pub fn merge(points: usize, set: &[Loaded]) -> Result<Vec<Vec<Summary>>, String> {
    super::totals::merge(KIND.role, KIND.key, points, set)
}
