//! A run split over machines: shard I of N does a fixed part of the work
//! (`--shard I/N`, the index from a cluster's array variable with
//! `auto/N`), writes a partial result (Parquet files and a manifest), and
//! `lockerlab merge` folds the partials into exactly what the one-machine
//! command writes.
//!
//! Work is split by estimated cost (expected orders), largest first onto
//! the least-loaded shard, so shard I of N always does the same work for
//! the same inputs, and the shards finish close together.

pub(crate) mod columns;
pub mod compare;
pub mod manifest;
pub mod simulate;
pub mod store;
pub mod sweep;
mod totals;
pub mod tune;

pub use manifest::{check_set, Manifest, PARTIAL_FORMAT};

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The array-job variables `--shard auto/N` reads, in this order: Slurm
/// job arrays, Kubernetes Indexed Jobs, AWS Batch array jobs.
pub const INDEX_VARIABLES: [&str; 3] = [
    "SLURM_ARRAY_TASK_ID",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

/// The most shards a run splits into.
pub const MAX_SHARDS: u32 = 100_000;

impl Shard {
    /// `I/N`, or `auto/N` with I read through `var` from the first of
    /// [`INDEX_VARIABLES`] that is set.
    pub fn parse(s: &str, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let expected = || {
            format!(
                "--shard `{s}`: expected I/N (0 <= I < N <= {MAX_SHARDS}), or auto/N to take I \
                 from {}",
                INDEX_VARIABLES.join(", ")
            )
        };
        let (index, count) = s.trim().split_once('/').ok_or_else(expected)?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        if count == 0 || count > MAX_SHARDS {
            return Err(expected());
        }
        let (index, from) = if index.trim() == "auto" {
            let (name, value) = INDEX_VARIABLES
                .iter()
                .find_map(|name| var(name).map(|v| (*name, v)))
                .ok_or_else(|| {
                    format!(
                        "--shard `{s}`: none of {} is set; give the index yourself (--shard \
                         I/{count}) or run as an array job",
                        INDEX_VARIABLES.join(", ")
                    )
                })?;
            let i = value.trim().parse::<u32>().map_err(|_| {
                format!("--shard `{s}`: {name}=`{value}` is not a shard index (0, 1, 2, …)")
            })?;
            (i, format!(" ({name}={value})"))
        } else {
            (index.trim().parse().map_err(|_| expected())?, String::new())
        };
        if index >= count {
            return Err(format!(
                "--shard `{s}`{from}: index {index} is not below the shard count {count}; shards \
                 are numbered 0 to {} (a Slurm array is --array=0-{})",
                count - 1,
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `shard-0002-of-0004`: how this shard's files are named.
    pub fn stem(&self) -> String {
        format!("shard-{:04}-of-{:04}", self.index, self.count)
    }
}

/// The shard of each work item: items by cost, largest first (ties by
/// position), each onto the shard with the least cost so far (ties: the
/// lowest index). The same costs give the same assignment on any machine.
pub fn assign(costs: &[f64], count: u32) -> Vec<u32> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count.max(1) as usize];
    let mut shard_of = vec![0u32; costs.len()];
    for item in order {
        let (least, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
            .expect("at least one shard");
        load[least] += costs[item].max(0.0);
        shard_of[item] = least as u32;
    }
    shard_of
}

/// The items (by position) that fall to `shard`, in order.
pub fn items_of(costs: &[f64], shard: Shard) -> Vec<usize> {
    assign(costs, shard.count)
        .into_iter()
        .enumerate()
        .filter(|&(_, s)| s == shard.index)
        .map(|(i, _)| i)
        .collect()
}

/// Expected orders of a set of locations over the scenario's horizon: what
/// a job costs, near enough to balance shards.
pub fn expected_orders(sc: &crate::scenario::Scenario, locations: &[usize]) -> f64 {
    let days = sc.horizon as f64 / crate::time::DAY as f64;
    locations
        .iter()
        .map(|&i| sc.locations[i].orders_per_day * days + 1.0)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_shard_is_given_or_read_from_the_array_variable() {
        assert_eq!(
            Shard::parse("2/4", env(&[])),
            Ok(Shard { index: 2, count: 4 })
        );
        assert_eq!(
            Shard::parse("auto/4", env(&[("JOB_COMPLETION_INDEX", "3")])),
            Ok(Shard { index: 3, count: 4 })
        );
        // Slurm's variable wins when both are set.
        assert_eq!(
            Shard::parse(
                "auto/8",
                env(&[("SLURM_ARRAY_TASK_ID", "1"), ("JOB_COMPLETION_INDEX", "5")])
            ),
            Ok(Shard { index: 1, count: 8 })
        );
    }

    #[test]
    fn a_bad_shard_says_what_was_expected() {
        for bad in ["4/4", "1", "a/4", "1/0", "-1/4", "1/100001"] {
            let e = Shard::parse(bad, env(&[])).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        let e = Shard::parse("4/4", env(&[])).unwrap_err();
        assert!(e.contains("0 to 3"), "{e}");
        let e = Shard::parse("auto/4", env(&[])).unwrap_err();
        assert!(e.contains("SLURM_ARRAY_TASK_ID"), "{e}");
        let e = Shard::parse("auto/4", env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "x")])).unwrap_err();
        assert!(e.contains("AWS_BATCH_JOB_ARRAY_INDEX=`x`"), "{e}");
        let e = Shard::parse("auto/4", env(&[("SLURM_ARRAY_TASK_ID", "4")])).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=4") && e.contains("--array=0-3"),
            "{e}"
        );
    }

    #[test]
    fn every_item_falls_to_exactly_one_shard_and_loads_balance() {
        let costs: Vec<f64> = (0..97).map(|i| ((i * 37) % 11 + 1) as f64).collect();
        let n = 4;
        let mut seen = vec![0; costs.len()];
        let mut loads = Vec::new();
        for index in 0..n {
            let items = items_of(&costs, Shard { index, count: n });
            loads.push(items.iter().map(|&i| costs[i]).sum::<f64>());
            for i in items {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "{seen:?}");
        let max = loads.iter().cloned().fold(f64::MIN, f64::max);
        let min = loads.iter().cloned().fold(f64::MAX, f64::min);
        // Greedy largest-first is within the largest item of even.
        assert!(max - min <= 11.0, "{loads:?}");
        assert_eq!(assign(&costs, n), assign(&costs, n));
    }
}
