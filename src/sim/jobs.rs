//! The (replication, region) jobs a run is made of: run a window at a time
//! on every thread and handed back in the order asked for, and folded into
//! a run's totals by one set of rules, whether the jobs ran here (`run`) or
//! on many machines (`lockerlab merge`, `crate::shard`).

use super::{run_region, Network, RegionOutput, RunOptions, SimError};
use crate::metrics::{LocationMetrics, Summary, SummaryMean, Weekly};
use crate::scenario::Scenario;
use std::collections::BTreeMap;

/// One independent simulation: a region of the network in one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Job {
    pub replication: u32,
    pub region: usize,
}

/// Every job of `replications` over `regions`, replication by replication.
pub fn all_jobs(replications: u32, regions: usize) -> Vec<Job> {
    (0..replications)
        .flat_map(|replication| {
            (0..regions).map(move |region| Job {
                replication,
                region,
            })
        })
        .collect()
}

/// Runs `jobs` in parallel and hands each output to `sink` in the order of
/// `jobs`, whatever the thread count. `progress` is called once per
/// finished job with the number of locations it covered. With
/// `opts.cancel` set, jobs not yet started are skipped and the run ends
/// with [`SimError::Cancelled`].
pub fn run_jobs(
    sc: &Scenario,
    net: &Network,
    opts: &RunOptions,
    jobs: &[Job],
    progress: &(dyn Fn(u64) + Sync),
    mut sink: impl FnMut(Job, RegionOutput) -> Result<(), SimError>,
) -> Result<(), SimError> {
    let cancelled = || {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    };
    let job = |j: &Job| {
        if cancelled() {
            return Err(SimError::Cancelled);
        }
        let out = run_region(sc, net, j.region, j.replication, opts);
        progress(net.regions[j.region].len() as u64);
        out
    };
    let locations_per_job = sc.locations.len() / net.regions.len().max(1);
    for window in job_windows(jobs.len(), locations_per_job) {
        let window = &jobs[window];
        #[cfg(feature = "lab")]
        let outputs: Vec<_> = {
            use rayon::prelude::*;
            window.par_iter().map(job).collect()
        };
        #[cfg(not(feature = "lab"))]
        let outputs: Vec<_> = window.iter().map(job).collect();
        for (j, out) in window.iter().zip(outputs) {
            sink(*j, out?)?;
        }
    }
    Ok(())
}

/// Consecutive ranges of job numbers, each enough to keep every thread busy
/// and few enough that their outputs (~45 KB per location) stay bounded.
fn job_windows(
    jobs: usize,
    locations_per_job: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    #[cfg(feature = "lab")]
    let threads = rayon::current_num_threads();
    #[cfg(not(feature = "lab"))]
    let threads = 1;
    // ~4096 locations' metrics, ~180 MB, at most.
    let size = (4096 / locations_per_job.max(1))
        .clamp(2 * threads, 256 * threads)
        .max(1);
    (0..jobs)
        .step_by(size)
        .map(move |start| start..(start + size).min(jobs))
}

/// The run's totals built from its jobs' outputs: each location's summary
/// per replication, averaged in replication order, and each replication's
/// metrics merged over its regions (integer sums: any order gives the same
/// bits) into that replication's network total.
#[derive(Debug, Clone)]
pub struct RunFold {
    means: Vec<SummaryMean>,
    /// Per location, the replications added so far (they must come in order).
    added: Vec<u32>,
    /// Replications with parts added and not yet closed.
    open: BTreeMap<u32, ReplicationPart>,
    totals: Vec<Summary>,
    weekly: Vec<Weekly>,
    events: u64,
}

/// What some of a replication's jobs add up to: their locations' metrics
/// merged, their orders by week and their events.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplicationPart {
    pub metrics: LocationMetrics,
    pub weekly: Weekly,
    pub events: u64,
}

impl ReplicationPart {
    /// Adds one job's output (its per-location metrics are still the caller's).
    pub fn add_job(&mut self, out: &RegionOutput) {
        for (_, m) in &out.metrics {
            self.metrics.merge(m);
        }
        self.weekly.merge(&out.weekly);
        self.events += out.events;
    }

    pub fn merge(&mut self, other: &ReplicationPart) {
        self.metrics.merge(&other.metrics);
        self.weekly.merge(&other.weekly);
        self.events += other.events;
    }
}

/// What a [`RunFold`] ends with.
#[derive(Debug, Clone)]
pub struct Folded {
    /// Network totals of each replication, in replication order.
    pub totals: Vec<Summary>,
    /// Per location: the mean over replications of its summary.
    pub location_means: Vec<Summary>,
    /// Per replication, the network's counted orders by checkout week.
    pub weekly: Vec<Weekly>,
    pub events: u64,
}

impl RunFold {
    pub fn new(locations: usize) -> Self {
        Self {
            means: vec![SummaryMean::default(); locations],
            added: vec![0; locations],
            open: BTreeMap::new(),
            totals: Vec::new(),
            weekly: Vec::new(),
            events: 0,
        }
    }

    /// A location's summary in one replication. Each location's come in
    /// replication order (a float mean depends on the order it adds in).
    pub fn location(&mut self, location: usize, replication: u32, summary: &Summary) {
        debug_assert_eq!(self.added[location], replication, "in replication order");
        self.added[location] = replication + 1;
        self.means[location].add(summary);
    }

    /// Adds a part of a replication not yet closed.
    pub fn replication_part(&mut self, replication: u32, part: &ReplicationPart) {
        self.open.entry(replication).or_default().merge(part);
    }

    /// The replication is complete: its network total is taken. Replications
    /// close in order, each once.
    pub fn close_replication(&mut self, replication: u32) {
        debug_assert_eq!(self.totals.len() as u32, replication, "closed in order");
        let part = self.open.remove(&replication).unwrap_or_default();
        self.totals.push(Summary::from_metrics(&part.metrics));
        self.weekly.push(part.weekly);
        self.events += part.events;
    }

    /// One job's output, in job order within each replication's regions.
    pub fn job(&mut self, job: Job, out: &RegionOutput) {
        for (i, m) in &out.metrics {
            self.location(*i, job.replication, &Summary::from_metrics(m));
        }
        let mut part = ReplicationPart::default();
        part.add_job(out);
        self.replication_part(job.replication, &part);
    }

    pub fn finish(self) -> Folded {
        Folded {
            totals: self.totals,
            location_means: self.means.iter().map(SummaryMean::mean).collect(),
            weekly: self.weekly,
            events: self.events,
        }
    }
}
