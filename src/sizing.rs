//! Sizing: the fewest compartments per location for a service level —
//! acceptance at least A with a broken-promise rate at most B, both with
//! 95% confidence over the replications — found by
//! bisection on each location's compartment multiplier (its size mix kept),
//! every location searched at once in one run per step, then the chosen
//! layout run together on fresh seeds.

use crate::domain::Size;
use crate::metrics::Summary;
use crate::scenario::Scenario;
use crate::service::network::Network;
use crate::sim::{self, RunOptions, SimError, VALIDATION_SEED_OFFSET};

/// The service level every location must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub min_acceptance: f64,
    pub max_broken_promise_rate: f64,
}

impl Target {
    /// Whether a location meets it with 95% confidence: the lower end of
    /// its acceptance rate's interval at least A, the upper end of its
    /// broken-promise rate's at most B (`mean`, `half`: across
    /// replications). A location with no orders meets it; one that
    /// accepted none breaks no promise.
    pub fn met(&self, mean: &Summary, half: &Summary) -> bool {
        self.met_by(mean, Some(half))
    }

    /// Whether a location's means meet it: how a validation run judges the
    /// layout a search chose with confidence.
    pub fn met_on_average(&self, mean: &Summary) -> bool {
        self.met_by(mean, None)
    }

    fn met_by(&self, mean: &Summary, half: Option<&Summary>) -> bool {
        let bound = |m: &str, sign: f64| {
            let x = mean.get(m).unwrap_or(f64::NAN);
            let h = half
                .and_then(|h| h.get(m))
                .filter(|h| h.is_finite())
                .unwrap_or(0.0);
            x + sign * h
        };
        let acceptance = bound("acceptance_rate", -1.0);
        let broken = bound("broken_promise_rate", 1.0);
        let accepts = acceptance.is_nan() || acceptance >= self.min_acceptance;
        let keeps = broken.is_nan() || broken <= self.max_broken_promise_rate;
        accepts && keeps
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeOptions {
    pub seed: u64,
    pub replications: u32,
    pub target: Target,
    /// The largest multiplier tried: a location that misses the target
    /// even then is reported as out of reach.
    pub max_scale: f64,
    /// Bisection steps (each halves every location's interval).
    pub steps: u32,
}

/// One location's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationSize {
    /// Multiplier of the scenario's compartments (each size, rounded).
    pub scale: f64,
    pub compartments: [u32; Size::COUNT],
    /// The target was met in the search (false: not even at `max_scale`).
    pub reachable: bool,
    /// The largest multiplier measured short of the target (0: none was).
    pub below: f64,
}

/// The search's answer and its validation on fresh seeds.
#[derive(Debug, Clone)]
pub struct Sizing {
    pub locations: Vec<LocationSize>,
    /// The scenario with the chosen compartments.
    pub sized: Scenario,
    /// Validation: per location, the mean over replications and its 95%
    /// half-width, and the network's totals per replication.
    pub validation: Vec<(Summary, Summary)>,
    pub validation_totals: Vec<Summary>,
    pub validation_seed: u64,
}

/// `counts` times `scale`, each size rounded; at least one compartment.
pub fn scaled(counts: [u32; Size::COUNT], scale: f64) -> [u32; Size::COUNT] {
    let mut out = counts.map(|n| (n as f64 * scale).round() as u32);
    if out.iter().all(|&n| n == 0) {
        // The size the location has most of, else S.
        let i = (0..Size::COUNT).max_by_key(|&i| counts[i]).unwrap_or(0);
        out[i] = 1;
    }
    out
}

pub fn with_scales(base: &Scenario, scales: &[f64]) -> Scenario {
    let mut sc = base.clone();
    for (loc, &s) in sc.locations.iter_mut().zip(scales) {
        loc.compartments = scaled(loc.compartments, s);
    }
    sc
}

/// Per location, its metrics' mean and 95% half-width across
/// replications; and the network's totals per replication.
pub type Measured = (Vec<(Summary, Summary)>, Vec<Summary>);

pub fn measure(
    sc: &Scenario,
    net: &Network,
    seed: u64,
    replications: u32,
) -> Result<Measured, SimError> {
    let opts = RunOptions {
        seed,
        replications,
        keep_location_metrics: true,
        ..RunOptions::from_scenario(sc)
    };
    let r = sim::run_on(sc, net, &opts, &|_| {})?;
    let per_location = (0..sc.locations.len())
        .map(|i| {
            let reps: Vec<Summary> = r
                .metrics
                .iter()
                .map(|m| Summary::from_metrics(&m[i]))
                .collect();
            Summary::across(&reps)
        })
        .collect();
    Ok((per_location, r.totals))
}

/// Sizes every location of `base`; `step` is told after each run (the
/// search's `steps + 1` runs, then the validation).
pub fn size(base: &Scenario, o: &SizeOptions, step: &dyn Fn()) -> Result<Sizing, SimError> {
    let net = Network::build(base);
    let n = base.locations.len();
    let mut lo = vec![0.0; n];
    let mut hi = vec![o.max_scale; n];
    let (top, _) = measure(&with_scales(base, &hi), &net, o.seed, o.replications)?;
    step();
    let reachable: Vec<bool> = top.iter().map(|(m, h)| o.target.met(m, h)).collect();
    for _ in 0..o.steps {
        // Locations out of reach, or whose interval rounds to one layout,
        // stay at their upper end.
        let mid: Vec<f64> = (0..n)
            .map(|i| {
                let m = (lo[i] + hi[i]) / 2.0;
                let c = base.locations[i].compartments;
                if reachable[i] && scaled(c, m) != scaled(c, hi[i]) {
                    m
                } else {
                    hi[i]
                }
            })
            .collect();
        let (measured, _) = measure(&with_scales(base, &mid), &net, o.seed, o.replications)?;
        step();
        for i in 0..n {
            if mid[i] == hi[i] {
                continue;
            }
            let (mean, half) = &measured[i];
            if o.target.met(mean, half) {
                hi[i] = mid[i];
            } else {
                lo[i] = mid[i];
            }
        }
    }
    let sized = with_scales(base, &hi);
    let validation_seed = o.seed.wrapping_add(VALIDATION_SEED_OFFSET);
    let (validation, validation_totals) = measure(&sized, &net, validation_seed, o.replications)?;
    step();
    let locations = (0..n)
        .map(|i| LocationSize {
            scale: hi[i],
            compartments: sized.locations[i].compartments,
            reachable: reachable[i],
            below: lo[i],
        })
        .collect();
    Ok(Sizing {
        locations,
        sized,
        validation,
        validation_totals,
        validation_seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_the_mix_and_at_least_one_compartment() {
        assert_eq!(scaled([30, 20, 10, 4], 0.5), [15, 10, 5, 2]);
        assert_eq!(scaled([30, 20, 10, 4], 1.26), [38, 25, 13, 5]);
        assert_eq!(scaled([3, 1, 0, 0], 0.01), [1, 0, 0, 0]);
    }
}
