//! The locker-network world: wires the domain (locker state machine and
//! ledger), the admission policy and the demand processes onto the engine.
//!
//! Locations interact only through discovery and fallback, which this world
//! does not have yet, so each (replication, location) pair is an independent
//! simulation with its own event queue and random streams. They run in
//! parallel and merge in a fixed order: results do not depend on the thread
//! count.

mod audit_sink;
mod location;
mod report;

pub use location::{LocationSim, SimError};
pub use report::RunReport;

use crate::metrics::LocationMetrics;
use crate::scenario::Scenario;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub seed: u64,
    pub replications: u32,
    /// Check the locker ledger after every event (tests; slow).
    pub check_invariants: bool,
    /// Write each location's audit chain to `DIR/<location>-r<replication>.audit.jsonl`
    /// (and its head hash to `….audit.head`).
    pub audit_dir: Option<std::path::PathBuf>,
}

impl RunOptions {
    pub fn from_scenario(sc: &Scenario) -> Self {
        Self {
            seed: sc.seed,
            replications: sc.replications,
            ..Self::default()
        }
    }
}

/// Raw results: `metrics[replication][location]`.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub metrics: Vec<Vec<LocationMetrics>>,
    pub events: u64,
}

/// Simulates one location for one replication.
pub fn run_location(
    sc: &Scenario,
    location: usize,
    replication: u32,
    opts: &RunOptions,
) -> Result<(LocationMetrics, u64), SimError> {
    let mut sim = LocationSim::new(sc, location, replication as u64, opts)?;
    sim.run()?;
    sim.finish()
}

/// Runs every replication of every location. `progress` is called once per
/// finished (replication, location) job.
pub fn run(
    sc: &Scenario,
    opts: &RunOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<RunResult, SimError> {
    let n = sc.locations.len();
    let jobs = opts.replications as usize * n;
    let job = |j: usize| {
        let r = run_location(sc, j % n, (j / n) as u32, opts);
        progress();
        r
    };
    #[cfg(feature = "lab")]
    let results: Vec<_> = {
        use rayon::prelude::*;
        (0..jobs).into_par_iter().map(job).collect()
    };
    #[cfg(not(feature = "lab"))]
    let results: Vec<_> = (0..jobs).map(job).collect();

    let mut metrics = vec![Vec::with_capacity(n); opts.replications as usize];
    let mut events = 0;
    for (j, r) in results.into_iter().enumerate() {
        let (m, e) = r?;
        events += e;
        metrics[j / n].push(m);
    }
    Ok(RunResult { metrics, events })
}
