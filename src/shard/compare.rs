//! `compare --shard I/N`: the (policy, replication) items split by
//! expected orders. A partial keeps one row per item, the replication's
//! network totals as columns (`policies`); merge puts them back in
//! (policy, replication) order, which is all `compare` reports from.

use super::manifest::{Loaded, Manifest, Partial, RunIdentity};
use super::Shard;
use crate::metrics::Summary;
use crate::scenario::Scenario;
use crate::sim::RunError;
use crate::sweep::GridRun;

pub const WORK_UNIT: [&str; 2] = ["policy", "replication"];

/// A comparison split over shards: each policy's scenario, every item,
/// and this shard's items.
pub struct Plan {
    scenarios: Vec<Scenario>,
    work_total: u64,
    /// This shard's (policy, replication) items, in order.
    pub mine: Vec<[u32; 2]>,
}

impl Plan {
    /// `scenarios` from [`crate::compare::policy_scenarios`].
    pub fn new(scenarios: Vec<Scenario>, replications: u32, shard: Shard) -> Plan {
        let (work_total, mine) = super::totals::plan_items(&scenarios, |_| replications, shard);
        Plan {
            scenarios,
            work_total,
            mine,
        }
    }
}

/// Runs this shard's items on `seed` and returns its partial.
pub fn run_shard(
    plan: &Plan,
    seed: u64,
    replications: u32,
    shard: Shard,
    identity: RunIdentity,
    item_done: &(dyn Fn() + Sync),
) -> Result<Partial, RunError> {
    let started = std::time::Instant::now();
    let run = GridRun {
        seed: Some(seed),
        replications: Some(replications),
        cancel: None,
    };
    let options = super::totals::grid_options(&run);
    let rows =
        super::totals::run_items(&plan.mine, &plan.scenarios, &options, false, item_done)?.totals;
    let manifest = Manifest::new(
        "compare",
        identity,
        seed,
        shard,
        &WORK_UNIT,
        plan.work_total,
        plan.mine.clone(),
        started,
    );
    let frame =
        super::totals::frame("policy", &rows).map_err(|e| RunError::Input(e.to_string()))?;
    Ok(Partial {
        manifest,
        frames: vec![("policies".into(), frame)],
    })
}

/// Per policy, its per-replication totals, from a complete, checked set
/// of partials.
pub fn merge(policies: usize, set: &[Loaded]) -> Result<Vec<Vec<Summary>>, String> {
    super::totals::merge("policies", "policy", policies, set)
}
