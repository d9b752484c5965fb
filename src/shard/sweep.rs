//! `sweep --shard I/N`: the (grid point, replication) items split by each
//! variant's expected orders. A partial keeps one row per item, the
//! replication's network totals as columns (`points`); merge puts them
//! back in (point, replication) order, which is all `sweep` reports from.

use super::manifest::{Loaded, Manifest, Partial, RunIdentity};
use super::Shard;
use crate::metrics::Summary;
use crate::scenario::edit::ScenarioSource;
use crate::sim::RunError;
use crate::sweep::{GridRun, Point};

pub const WORK_UNIT: [&str; 2] = ["point", "replication"];

/// A grid split over shards: every point's scenario, every item, and
/// this shard's items.
pub struct Plan {
    variants: Vec<crate::scenario::Scenario>,
    work_total: u64,
    /// This shard's (point, replication) items, in order.
    pub mine: Vec<[u32; 2]>,
}

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
    let (work_total, mine) = super::totals::plan_items(
        &variants,
        |sc| run.replications.unwrap_or(sc.replications),
        shard,
    );
    Ok(Plan {
        variants,
        work_total,
        mine,
    })
}

/// Runs this shard's items and returns its partial. `item_done` is
/// called once per finished item.
pub fn run_shard(
    plan: &Plan,
    run: &GridRun,
    shard: Shard,
    identity: RunIdentity,
    seed: u64,
    item_done: &(dyn Fn() + Sync),
) -> Result<Partial, RunError> {
    let started = std::time::Instant::now();
    let options = super::totals::grid_options(run);
    let rows =
        super::totals::run_items(&plan.mine, &plan.variants, &options, false, item_done)?.totals;
    let manifest = Manifest::new(
        "sweep",
        identity,
        seed,
        shard,
        &WORK_UNIT,
        plan.work_total,
        plan.mine.clone(),
        started,
    );
    let frame = super::totals::frame("point", &rows).map_err(|e| RunError::Input(e.to_string()))?;
    Ok(Partial {
        manifest,
        frames: vec![("points".into(), frame)],
    })
}

/// Per point of `points`, its per-replication totals, from a complete,
/// checked set of partials.
pub fn merge(points: usize, set: &[Loaded]) -> Result<Vec<Vec<Summary>>, String> {
    super::totals::merge("points", "point", points, set)
}
