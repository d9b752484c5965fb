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
mod jobs;
mod region;
mod report;
mod secrets;
mod world_log;

pub use crate::demand::{history, trace};
pub use crate::service::network::{haversine_km, Network};
pub use error::{RunError, SimError};
pub use jobs::{all_jobs, run_jobs, Folded, Job, ReplicationPart, RunFold};
pub use region::{RegionOutput, RegionSim};
pub use report::{measured_period, RunReport};
pub use secrets::locker_secrets;
pub use world_log::{WorldAct, WorldStep};

use crate::metrics::{LocationMetrics, Summary, Weekly};
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
    /// Pool each location's metrics over all replications in
    /// [`RunResult::pooled`] (`tune`; ~45 KB per location).
    pub pool_locations: bool,
    /// Keep every (replication, location) pair's full metrics in
    /// [`RunResult::metrics`] (tests; memory grows with replications ×
    /// locations, ~45 KB each). Reports need only the folds.
    pub keep_location_metrics: bool,
    /// Set from another thread to stop the run: jobs not yet started are
    /// skipped and the run ends with [`SimError::Cancelled`] (a notebook's
    /// interrupt; a started region runs to its end).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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

/// A validation run's seed is the search's moved this far off (`tune`,
/// `size`), so its streams share nothing with the search's and the chosen
/// configuration is judged on random numbers it was not chosen on.
pub const VALIDATION_SEED_OFFSET: u64 = 1_000_003;

/// A run's results, folded as its jobs finish so that memory grows with
/// locations and replications, not with their product.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Network totals of each replication, in replication order.
    pub totals: Vec<Summary>,
    /// Per location (scenario order): the mean over replications of its
    /// per-replication summary.
    pub location_means: Vec<Summary>,
    /// Per location: its metrics over all replications together, with
    /// [`RunOptions::pool_locations`] only.
    pub pooled: Vec<LocationMetrics>,
    /// `metrics[replication][location]`, with
    /// [`RunOptions::keep_location_metrics`] only.
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
    /// Per replication, the network's counted orders by checkout week.
    pub weekly: Vec<Weekly>,
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
    let reps = opts.replications as usize;
    let kept = |on: bool| if on { reps } else { 0 };
    let mut fold = RunFold::new(n);
    let mut pooled = vec![LocationMetrics::default(); if opts.pool_locations { n } else { 0 }];
    let mut metrics = vec![Vec::new(); kept(opts.keep_location_metrics)];
    let mut history = vec![Vec::new(); kept(opts.record_history)];
    let mut occupancy = vec![Vec::new(); kept(opts.record_occupancy)];
    let mut world = vec![Vec::new(); kept(opts.record_world)];
    let jobs = all_jobs(opts.replications, r);
    run_jobs(sc, net, opts, &jobs, progress, |job, out| {
        let rep = job.replication as usize;
        fold.job(job, &out);
        if job.region == r - 1 {
            fold.close_replication(job.replication);
        }
        if opts.keep_location_metrics && metrics[rep].is_empty() {
            metrics[rep] = vec![LocationMetrics::default(); n];
        }
        for (i, m) in out.metrics {
            if opts.pool_locations {
                pooled[i].merge(&m);
            }
            if opts.keep_location_metrics {
                metrics[rep][i] = m;
            }
        }
        if opts.record_occupancy {
            occupancy[rep].extend(out.occupancy);
        }
        if opts.record_history {
            history[rep].extend(out.history);
        }
        if opts.record_world {
            world[rep].extend(out.world);
        }
        Ok(())
    })?;
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
    let folded = fold.finish();
    Ok(RunResult {
        totals: folded.totals,
        location_means: folded.location_means,
        pooled,
        metrics,
        events: folded.events,
        history,
        occupancy,
        world,
        weekly: folded.weekly,
    })
}

/// One replication's network total, its regions run in parallel: what
/// [`run`] reports for that replication, alone (a shard of a grid).
/// `on_location` sees each location's metrics (to pool them, say).
pub fn run_replication(
    sc: &Scenario,
    net: &Network,
    opts: &RunOptions,
    replication: u32,
    on_location: &mut dyn FnMut(usize, &LocationMetrics),
) -> Result<Summary, SimError> {
    let jobs: Vec<Job> = (0..net.regions.len())
        .map(|region| Job {
            replication,
            region,
        })
        .collect();
    let mut part = ReplicationPart::default();
    run_jobs(sc, net, opts, &jobs, &|_| {}, |_, out| {
        for (i, m) in &out.metrics {
            on_location(*i, m);
        }
        part.add_job(&out);
        Ok(())
    })?;
    let mut fold = RunFold::new(0);
    fold.replication_part(0, &part);
    fold.close_replication(0);
    Ok(fold.finish().totals.remove(0))
}
