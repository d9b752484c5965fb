//! Probability distributions as written in a scenario (`DistSpec`, flat and
//! tagged by `dist`) and as sampled in a run (`Dist`, validated, in ms).

use crate::engine::time::{from_hours, Millis, HOUR};
use crate::time::{MAX_DURATION, MAX_DURATION_HOURS};
use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    Lognormal,
    Exponential,
    Uniform,
    Fixed,
    Empirical,
}

/// A distribution of a duration in hours, as a scenario writes it. Which
/// fields are required depends on `dist`; see docs/scenario.md.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DistSpec {
    pub dist: Option<DistKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edges_hours: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

/// A validated duration distribution, sampled in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// ln X ~ N(mu, sigma²), X in hours.
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Exponential {
        mean_hours: f64,
    },
    Uniform {
        min: Millis,
        max: Millis,
    },
    Fixed(Millis),
    /// Pick bin i with probability `cdf[i] - cdf[i-1]`, then uniform inside it.
    Empirical {
        edges: Vec<f64>,
        cdf: Vec<f64>,
    },
}

fn finite_nonneg(v: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{what} must be a finite number >= 0, got {v}"))
    }
}

/// A duration in hours: finite, ≥ 0 and at most ten years.
fn duration_hours(v: f64, what: &str) -> Result<f64, String> {
    let v = finite_nonneg(v, what)?;
    if v > MAX_DURATION_HOURS {
        return Err(format!(
            "{what} must be at most {MAX_DURATION_HOURS} hours (ten years), got {v}"
        ));
    }
    Ok(v)
}

impl DistSpec {
    pub fn lognormal(mean_hours: f64, cv: f64) -> Self {
        Self {
            dist: Some(DistKind::Lognormal),
            mean_hours: Some(mean_hours),
            cv: Some(cv),
            ..Self::default()
        }
    }

    pub fn uniform(min_hours: f64, max_hours: f64) -> Self {
        Self {
            dist: Some(DistKind::Uniform),
            min_hours: Some(min_hours),
            max_hours: Some(max_hours),
            ..Self::default()
        }
    }

    /// Validates the spec. The error names the offending field (relative to
    /// the spec) and what is allowed.
    pub fn compile(&self) -> Result<Dist, (String, String)> {
        let kind = self.dist.ok_or_else(|| {
            (
                "dist".to_string(),
                "missing; expected one of lognormal, exponential, uniform, fixed, empirical"
                    .to_string(),
            )
        })?;
        let allowed: &[&str] = match kind {
            DistKind::Lognormal => &["mean_hours", "cv"],
            DistKind::Exponential => &["mean_hours"],
            DistKind::Uniform => &["min_hours", "max_hours"],
            DistKind::Fixed => &["hours"],
            DistKind::Empirical => &["edges_hours", "weights"],
        };
        let present = [
            ("mean_hours", self.mean_hours.is_some()),
            ("cv", self.cv.is_some()),
            ("min_hours", self.min_hours.is_some()),
            ("max_hours", self.max_hours.is_some()),
            ("hours", self.hours.is_some()),
            ("edges_hours", self.edges_hours.is_some()),
            ("weights", self.weights.is_some()),
        ];
        let kind_name = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        for (field, is_present) in present {
            if is_present && !allowed.contains(&field) {
                return Err((
                    field.to_string(),
                    format!(
                        "not used by dist = \"{kind_name}\" (it takes {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let need = |v: Option<f64>, field: &str| -> Result<f64, (String, String)> {
            let v = v.ok_or_else(|| {
                (
                    field.to_string(),
                    format!("required by dist = \"{kind_name}\""),
                )
            })?;
            let check = if field == "cv" {
                finite_nonneg
            } else {
                duration_hours
            };
            check(v, field).map_err(|m| (field.to_string(), m))
        };
        match kind {
            DistKind::Lognormal => {
                let mean = need(self.mean_hours, "mean_hours")?;
                let cv = need(self.cv, "cv")?;
                if mean <= 0.0 {
                    return Err(("mean_hours".into(), "must be > 0".into()));
                }
                if cv <= 0.0 || cv > 20.0 {
                    return Err(("cv".into(), format!("must be in (0, 20], got {cv}")));
                }
                let sigma2 = (1.0 + cv * cv).ln();
                Ok(Dist::Lognormal {
                    mu: mean.ln() - sigma2 / 2.0,
                    sigma: sigma2.sqrt(),
                })
            }
            DistKind::Exponential => {
                let mean = need(self.mean_hours, "mean_hours")?;
                if mean <= 0.0 {
                    return Err(("mean_hours".into(), "must be > 0".into()));
                }
                Ok(Dist::Exponential { mean_hours: mean })
            }
            DistKind::Uniform => {
                let lo = need(self.min_hours, "min_hours")?;
                let hi = need(self.max_hours, "max_hours")?;
                if hi < lo {
                    return Err((
                        "max_hours".into(),
                        format!("must be >= min_hours ({lo}), got {hi}"),
                    ));
                }
                Ok(Dist::Uniform {
                    min: from_hours(lo),
                    max: from_hours(hi),
                })
            }
            DistKind::Fixed => Ok(Dist::Fixed(from_hours(need(self.hours, "hours")?))),
            DistKind::Empirical => {
                let edges = self.edges_hours.clone().ok_or_else(|| {
                    (
                        "edges_hours".to_string(),
                        "required by dist = \"empirical\"".to_string(),
                    )
                })?;
                let weights = self.weights.clone().ok_or_else(|| {
                    (
                        "weights".to_string(),
                        "required by dist = \"empirical\"".to_string(),
                    )
                })?;
                if edges.len() < 2 {
                    return Err(("edges_hours".into(), "needs at least two bin edges".into()));
                }
                for (i, w) in edges.windows(2).enumerate() {
                    duration_hours(w[0], "a bin edge")
                        .map_err(|m| (format!("edges_hours[{i}]"), m))?;
                    if w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater)
                        || !w[1].is_finite()
                        || w[1] > MAX_DURATION_HOURS
                    {
                        return Err((
                            format!("edges_hours[{}]", i + 1),
                            "bin edges must be finite, strictly increasing and at most ten years"
                                .into(),
                        ));
                    }
                }
                if weights.len() != edges.len() - 1 {
                    return Err((
                        "weights".into(),
                        format!(
                            "needs one weight per bin: {} edges make {} bins, got {} weights",
                            edges.len(),
                            edges.len() - 1,
                            weights.len()
                        ),
                    ));
                }
                for (i, &w) in weights.iter().enumerate() {
                    finite_nonneg(w, "a weight").map_err(|m| (format!("weights[{i}]"), m))?;
                }
                let total: f64 = weights.iter().sum();
                if total <= 0.0 {
                    return Err(("weights".into(), "must not all be zero".into()));
                }
                let mut acc = 0.0;
                let cdf = weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect();
                Ok(Dist::Empirical { edges, cdf })
            }
        }
    }
}

impl Dist {
    /// Draws a duration in milliseconds (never negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Millis {
        match self {
            Dist::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                hours_to_ms((mu + sigma * z).exp())
            }
            Dist::Exponential { mean_hours } => {
                let e: f64 = Exp1.sample(rng);
                hours_to_ms(e * mean_hours)
            }
            Dist::Uniform { min, max } => {
                if max == min {
                    *min
                } else {
                    rng.gen_range(*min..=*max)
                }
            }
            Dist::Fixed(v) => *v,
            Dist::Empirical { edges, cdf } => {
                let u: f64 = rng.gen();
                let bin = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
                let v: f64 = rng.gen();
                hours_to_ms(edges[bin] + v * (edges[bin + 1] - edges[bin]))
            }
        }
    }

    /// The mean, in hours.
    pub fn mean_hours(&self) -> f64 {
        match self {
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Exponential { mean_hours } => *mean_hours,
            Dist::Uniform { min, max } => (*min + *max) as f64 / 2.0 / HOUR as f64,
            Dist::Fixed(v) => *v as f64 / HOUR as f64,
            Dist::Empirical { edges, cdf } => {
                let mut prev = 0.0;
                let mut mean = 0.0;
                for (i, &c) in cdf.iter().enumerate() {
                    mean += (c - prev) * (edges[i] + edges[i + 1]) / 2.0;
                    prev = c;
                }
                mean
            }
        }
    }
}

/// Hours → ms, saturating: a far tail draw must not overflow the clock.
/// A drawn duration, at most ten years (a lognormal's tail has no end).
fn hours_to_ms(h: f64) -> Millis {
    let ms = h * HOUR as f64;
    if ms >= MAX_DURATION as f64 {
        MAX_DURATION
    } else {
        ms.round().max(0.0) as Millis
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Purpose, StreamKey};

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = StreamKey {
            seed: 1,
            replication: 0,
            location: 0,
            purpose: Purpose::Dwell,
        }
        .stream();
        (0..n)
            .map(|_| d.sample(&mut rng) as f64 / HOUR as f64)
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn no_draw_is_longer_than_ten_years() {
        let wild = DistSpec::lognormal(MAX_DURATION_HOURS, 20.0)
            .compile()
            .unwrap();
        let mut rng = StreamKey {
            seed: 3,
            replication: 0,
            location: 0,
            purpose: Purpose::Dwell,
        }
        .stream();
        let draws: Vec<Millis> = (0..10_000).map(|_| wild.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&d| (0..=MAX_DURATION).contains(&d)));
        assert!(draws.contains(&MAX_DURATION), "the tail reaches the cap");
        let too_long = DistSpec::lognormal(MAX_DURATION_HOURS * 1.01, 1.0).compile();
        assert_eq!(too_long.unwrap_err().0, "mean_hours");
    }

    #[test]
    fn sample_means_match_declared_means() {
        let specs = [
            DistSpec::lognormal(20.0, 1.5),
            DistSpec::uniform(2.0, 10.0),
            DistSpec {
                dist: Some(DistKind::Exponential),
                mean_hours: Some(8.0),
                ..DistSpec::default()
            },
            DistSpec {
                dist: Some(DistKind::Empirical),
                edges_hours: Some(vec![0.0, 6.0, 24.0, 72.0]),
                weights: Some(vec![1.0, 2.0, 1.0]),
                ..DistSpec::default()
            },
        ];
        for spec in specs {
            let d = spec.compile().unwrap();
            let m = sample_mean(&d, 200_000);
            let rel = (m - d.mean_hours()).abs() / d.mean_hours();
            assert!(
                rel < 0.02,
                "{spec:?}: sample mean {m} vs {}",
                d.mean_hours()
            );
        }
    }

    #[test]
    fn misused_fields_are_named() {
        let bad = DistSpec {
            hours: Some(3.0),
            ..DistSpec::lognormal(1.0, 1.0)
        };
        assert_eq!(bad.compile().unwrap_err().0, "hours");
        let missing = DistSpec {
            dist: Some(DistKind::Lognormal),
            mean_hours: Some(3.0),
            ..DistSpec::default()
        };
        assert_eq!(missing.compile().unwrap_err().0, "cv");
        let negative = DistSpec::uniform(5.0, 1.0);
        assert_eq!(negative.compile().unwrap_err().0, "max_hours");
        let weights = DistSpec {
            dist: Some(DistKind::Empirical),
            edges_hours: Some(vec![0.0, 1.0]),
            weights: Some(vec![1.0, 1.0]),
            ..DistSpec::default()
        };
        assert_eq!(weights.compile().unwrap_err().0, "weights");
    }
}
