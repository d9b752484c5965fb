//! `compare --shard I/N`: the (policy, replication) items split by
//! expected orders. A partial keeps one row per item, the replication's
//! network totals as columns (`policies`); merge puts them back in
//! (policy, replication) order, which is all `compare` reports from.

use super::manifest::{Loaded, Partial};
use super::totals::Kind;
pub use super::totals::{Plan, Stamp};
use super::Shard;
use crate::metrics::Summary;
use crate::scenario::Scenario;
use crate::sim::RunError;
use crate::sweep::GridRun;

const KIND: Kind = Kind {
    command: "compare",
    key: "policy",
    role: "policies",
};

/// `scenarios` from [`crate::compare::policy_scenarios`], `replications`
/// of each.
pub fn plan(scenarios: Vec<Scenario>, replications: u32, shard: Shard) -> Plan {
    Plan::new(scenarios, |_| replications, shard)
}

/// Runs this shard's items on `stamp.seed` and returns its partial.
pub fn run_shard(
    plan: &Plan,
    replications: u32,
    stamp: Stamp,
    item_done: &(dyn Fn() + Sync),
) -> Result<Partial, RunError> {
    let run = GridRun {
        seed: Some(stamp.seed),
        replications: Some(replications),
        cancel: None,
    };
    let options = super::totals::grid_options(&run);
    Ok(super::totals::run_shard(&KIND, plan, &options, false, stamp, item_done)?.0)
}

/// Per policy, its per-replication totals, from a complete, checked set
/// of partials.
pub fn merge(policies: usize, set: &[Loaded]) -> Result<Vec<Vec<Summary>>, String> {
    super::totals::merge(KIND.role, KIND.key, policies, set)
}
