//! The locker-network world: wires the domain (locker state machine and
//! ledger), the admission policy and the demand processes onto the engine.
//!
//! Locations interact only through discovery and fallback, so lockers within
//! those radii of each other form a region (`network`), simulated together
//! on one event queue; a lone locker is a region of one. Each
//! (replication, region) pair is an independent simulation with its own
//! random streams; they run in parallel and merge in a fixed order: results
//! do not depend on the thread count.

mod audit_sink;
mod error;
mod region;
mod report;
mod secrets;
mod world_log;

pub use crate::demand::{history, trace};
pub use crate::service::network::{haversine_km, Network};
pub use error::SimError;
pub use region::{RegionOutput, RegionSim};
pub use report::{replication_totals, RunReport};
pub use secrets::locker_secrets;
pub use world_log::{WorldAct, WorldStep};

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
    /// Keep a [`history::HistoryRecord`] per order (memory grows with orders).
    pub record_history: bool,
    /// Sample every location's capacity held by tier on the hour (memory
    /// grows with locations × hours).
    pub record_occupancy: bool,
    /// Keep every step the world took (`lockerlab demo` replays them;
    /// memory grows with events).
    pub record_world: bool,
}

/// Capacity held by tier at one location on the hour: reservations,
/// deposited and expired packages (what tier quotas count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccupancySample {
    pub location: usize,
    pub hour: u32,
    pub held_by_tier: [u32; 4],
    pub compartments: u32,
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
    /// Per replication, every order's record sorted by (checkout, order id),
    /// when `record_history` was set.
    pub history: Vec<Vec<history::HistoryRecord>>,
    /// Per replication, samples sorted by (location, hour), when
    /// `record_occupancy` was set.
    pub occupancy: Vec<Vec<OccupancySample>>,
    /// Per replication, the world's steps in time order (within a region
    /// in the order taken; regions, which do not interact, by region),
    /// when `record_world` was set.
    pub world: Vec<Vec<WorldStep>>,
}

/// Simulates one region (see [`Network::regions`]) for one replication;
/// metrics come back keyed by scenario location index.
pub fn run_region(
    sc: &Scenario,
    net: &Network,
    region: usize,
    replication: u32,
    opts: &RunOptions,
) -> Result<RegionOutput, SimError> {
    let mut sim = RegionSim::new(sc, net, &net.regions[region], replication as u64, opts)?;
    sim.run()?;
    sim.finish()
}

/// Runs every replication of every region. `progress` is called once per
/// finished (replication, region) job with the number of locations it covered.
pub fn run(
    sc: &Scenario,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, SimError> {
    let net = Network::build(sc);
    run_on(sc, &net, opts, progress)
}

/// [`run`] on a network built beforehand (benchmarks, sweeps).
pub fn run_on(
    sc: &Scenario,
    net: &Network,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, SimError> {
    let n = sc.locations.len();
    let r = net.regions.len();
    let jobs = opts.replications as usize * r;
    let job = |j: usize| {
        let out = run_region(sc, net, j % r, (j / r) as u32, opts);
        progress(net.regions[j % r].len() as u64);
        out
    };
    #[cfg(feature = "lab")]
    let results: Vec<_> = {
        use rayon::prelude::*;
        (0..jobs).into_par_iter().map(job).collect()
    };
    #[cfg(not(feature = "lab"))]
    let results: Vec<_> = (0..jobs).map(job).collect();

    let mut metrics = vec![vec![LocationMetrics::default(); n]; opts.replications as usize];
    let mut events = 0;
    let mut history = vec![
        Vec::new();
        if opts.record_history {
            opts.replications as usize
        } else {
            0
        }
    ];
    let mut occupancy = vec![
        Vec::new();
        if opts.record_occupancy {
            opts.replications as usize
        } else {
            0
        }
    ];
    let mut world = vec![
        Vec::new();
        if opts.record_world {
            opts.replications as usize
        } else {
            0
        }
    ];
    for (j, res) in results.into_iter().enumerate() {
        let out = res?;
        if opts.record_occupancy {
            occupancy[j / r].extend(out.occupancy);
        }
        events += out.events;
        for (i, m) in out.metrics {
            metrics[j / r][i] = m;
        }
        if opts.record_history {
            history[j / r].extend(out.history);
        }
        if opts.record_world {
            world[j / r].extend(out.world);
        }
    }
    for w in &mut world {
        // Stable: regions stay in order at equal times.
        w.sort_by_key(|step| step.at);
    }
    for h in &mut history {
        h.sort_by_key(|rec| (rec.checkout_ms, rec.order_id));
    }
    for o in &mut occupancy {
        o.sort_by_key(|s| (s.location, s.hour));
    }
    Ok(RunResult {
        metrics,
        events,
        history,
        occupancy,
        world,
    })
}
