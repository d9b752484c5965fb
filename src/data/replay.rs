//! Attaching replayed demand to a scenario: the history file its
//! `[demand] history` key (or `simulate --history`) names, read and grouped
//! by location.

use super::read::read_history;
use crate::demand::trace::DemandTrace;
use crate::scenario::{HistoryDemand, Scenario};
use anyhow::anyhow;
use std::sync::Arc;

/// Loads `sc.demand_history` into `sc.trace` (no-op without one). Bad rows
/// are always an error here: replaying a partial record would silently
/// change the demand.
pub fn attach_history(sc: &mut Scenario) -> anyhow::Result<()> {
    let Some(HistoryDemand { path, dwell }) = sc.demand_history.clone() else {
        return Ok(());
    };
    let load = read_history(&path, false)?;
    let trace = DemandTrace::build(
        &sc.name,
        sc.locations.iter().map(|l| (l.id.as_str(), l.kind)),
        &load.records,
        dwell,
    )
    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    sc.trace = Some(Arc::new(trace));
    Ok(())
}
