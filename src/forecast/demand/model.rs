//! A trained demand model: a regression forest over [`demand_row`]
//! features, the calendar it reads, and how it was trained and scored.
//! Two files in a model directory: `demand-meta.json` (readable, what
//! `forecast check` compares) and `demand-trees.json` (the forest, whose
//! hash the meta records).

use super::events::EventCalendar;
use super::features::{demand_row, DemandRow, DEMAND_FEATURE_COUNT, DEMAND_FEATURE_NAMES};
use crate::domain::Tier;
use crate::forecast::model::{sha256_hex, ModelError};
use crate::forecast::tree::{Node, Tree};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const DEMAND_FORMAT_VERSION: u32 = 1;
pub const DEMAND_META_FILE: &str = "demand-meta.json";
pub const DEMAND_TREES_FILE: &str = "demand-trees.json";

/// How the forest was grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandHyperparameters {
    pub trees: u32,
    pub max_depth: u16,
    pub min_samples_leaf: u32,
    /// Share of the rows each tree sees, drawn without replacement.
    pub sample_fraction: f64,
    /// Share of the features examined at each split.
    pub max_features: f64,
    pub seed: u64,
}

impl Default for DemandHyperparameters {
    fn default() -> Self {
        DemandHyperparameters {
            trees: 30,
            max_depth: 12,
            min_samples_leaf: 50,
            sample_fraction: 0.5,
            max_features: 0.5,
            seed: 1,
        }
    }
}

/// Forecast errors on one set of (locker, tier, day) counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandErrors {
    /// Mean absolute error, orders per locker, tier and day.
    pub mae: f64,
    /// Mean absolute percentage error over the counts above zero.
    pub mape: f64,
    /// Σ|error| / Σ actual: MAE relative to the mean count (robust to zeros).
    pub wape: f64,
    pub n: u64,
}

/// The model and its baselines on one history: every day, and the days a
/// peak or holiday touches (the day itself or the day a week before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandEvaluation {
    pub data: String,
    pub model: DemandErrors,
    pub seasonal_naive: DemandErrors,
    pub trailing_mean: DemandErrors,
    pub model_event_days: DemandErrors,
    pub seasonal_naive_event_days: DemandErrors,
    pub trailing_mean_event_days: DemandErrors,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandMeta {
    pub format_version: u32,
    pub features: Vec<String>,
    /// The named dates the features read.
    pub events: EventCalendar,
    /// The history trained on, its SHA-256, and the scenario whose calendar
    /// dated its rows.
    pub history: String,
    pub history_sha256: String,
    pub scenario: String,
    /// Training rows (locker × tier × day with a full lookback).
    pub rows: u64,
    pub hyperparameters: DemandHyperparameters,
    pub trees_sha256: String,
    pub nodes: u64,
    /// Set by `forecast train-demand --holdout`; `forecast check` compares
    /// against it.
    pub evaluation: Option<DemandEvaluation>,
}

/// A tree as stored: per node, its split feature (-1 for a leaf), its
/// threshold (a leaf's predicted ratio), and its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTree {
    feature: Vec<i32>,
    value: Vec<f64>,
    le: Vec<u32>,
    gt: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemandModel {
    pub meta: DemandMeta,
    trees: Vec<Tree>,
}

impl DemandModel {
    /// `meta.trees_sha256` and `meta.nodes` are filled in here.
    pub fn from_parts(mut meta: DemandMeta, trees: Vec<Tree>) -> Self {
        meta.trees_sha256 = sha256_hex(encode(&trees).as_bytes());
        meta.nodes = trees.iter().map(|t| t.node_count() as u64).sum();
        DemandModel { meta, trees }
    }

    /// The forest's ratio for a row's features.
    fn ratio(&self, x: &[f64; DEMAND_FEATURE_COUNT]) -> f64 {
        let sum: f64 = self
            .trees
            .iter()
            .map(|t| t.leaf_at(t.leaf_index(x)).map_or(0.0, |l| l.mean_hours))
            .sum();
        sum / self.trees.len().max(1) as f64
    }

    /// Expected orders of `tier` on local day `day`, from `count(d)` (known
    /// orders of day `d`); None without the lookback.
    pub fn predict(&self, tier: Tier, day: i64, count: impl Fn(i64) -> Option<f64>) -> Option<f64> {
        let row = demand_row(&self.meta.events, tier, day, count)?;
        Some(self.predict_row(&row))
    }

    /// Expected orders for a row's features (0 without recent demand).
    pub fn predict_row(&self, row: &DemandRow) -> f64 {
        if row.level > 0.0 {
            row.level * self.ratio(&row.x)
        } else {
            0.0
        }
    }

    /// Expected orders per tier on `horizon` days from `origin`, knowing
    /// `known(tier, d)` for days before `origin`. Days past the first week
    /// read the model's own forecasts for the days they lag. None where the
    /// history is too short.
    pub fn forecast(
        &self,
        origin: i64,
        horizon: usize,
        known: impl Fn(Tier, i64) -> Option<f64>,
    ) -> Option<Vec<[f64; Tier::COUNT]>> {
        let mut days: Vec<[f64; Tier::COUNT]> = Vec::with_capacity(horizon);
        for k in 0..horizon {
            let mut today = [0.0; Tier::COUNT];
            for t in Tier::ALL {
                let count = |d: i64| match usize::try_from(d - origin) {
                    Ok(i) => days.get(i).map(|row| row[t.index()]),
                    Err(_) => known(t, d),
                };
                today[t.index()] = self.predict(t, origin + k as i64, count)?;
            }
            days.push(today);
        }
        Some(days)
    }

    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let trees_path = dir.join(DEMAND_TREES_FILE);
        std::fs::write(&trees_path, encode(&self.trees)).map_err(io(&trees_path))?;
        let meta_path = dir.join(DEMAND_META_FILE);
        let mut json = serde_json::to_string_pretty(&self.meta).expect("meta serializes");
        json.push('\n');
        std::fs::write(&meta_path, json).map_err(io(&meta_path))
    }

    /// Whether `dir` holds a demand model (rather than a dwell model).
    pub fn is_in(dir: &Path) -> bool {
        dir.join(DEMAND_META_FILE).is_file()
    }

    pub fn load(dir: &Path) -> Result<DemandModel, ModelError> {
        let meta_path = dir.join(DEMAND_META_FILE);
        let meta = load_demand_meta(&meta_path)?;
        let trees_path = dir.join(DEMAND_TREES_FILE);
        let bad = |m: String| ModelError::Invalid {
            path: trees_path.clone(),
            message: m,
        };
        let text = crate::files::read_text(&trees_path).map_err(|source| ModelError::Io {
            path: trees_path.clone(),
            source,
        })?;
        if sha256_hex(text.as_bytes()) != meta.trees_sha256 {
            return Err(bad(format!(
                "SHA-256 differs from {DEMAND_META_FILE}'s trees_sha256 (a file was changed or \
                 the two come from different models)"
            )));
        }
        let stored: Vec<StoredTree> =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if stored.is_empty() {
            return Err(bad("no trees".into()));
        }
        let trees = stored
            .into_iter()
            .enumerate()
            .map(|(i, t)| decode(t).map_err(|e| bad(format!("tree {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DemandModel { meta, trees })
    }
}

pub fn load_demand_meta(path: &Path) -> Result<DemandMeta, ModelError> {
    let bad = |m: String| ModelError::Invalid {
        path: path.to_path_buf(),
        message: m,
    };
    let text = crate::files::read_text(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let meta: DemandMeta = serde_path_to_error::deserialize(de)
        .map_err(|e| bad(format!("at `{}`: {}", e.path(), e.inner())))?;
    if meta.format_version != DEMAND_FORMAT_VERSION {
        return Err(bad(format!(
            "format_version {} (this build reads {DEMAND_FORMAT_VERSION})",
            meta.format_version
        )));
    }
    if meta.features != DEMAND_FEATURE_NAMES {
        return Err(bad(format!(
            "features {:?} differ from this build's {:?}",
            meta.features, DEMAND_FEATURE_NAMES
        )));
    }
    Ok(meta)
}

fn encode(trees: &[Tree]) -> String {
    let stored: Vec<StoredTree> = trees
        .iter()
        .map(|t| {
            let mut s = StoredTree {
                feature: Vec::new(),
                value: Vec::new(),
                le: Vec::new(),
                gt: Vec::new(),
            };
            for n in &t.nodes {
                let (f, v, le, gt) = match *n {
                    Node::Split {
                        feature,
                        threshold,
                        le,
                        gt,
                    } => (feature as i32, threshold, le, gt),
                    Node::Leaf { mean_hours, .. } => (-1, mean_hours, 0, 0),
                };
                s.feature.push(f);
                s.value.push(v);
                s.le.push(le);
                s.gt.push(gt);
            }
            s
        })
        .collect();
    let mut json = serde_json::to_string(&stored).expect("trees serialize");
    json.push('\n');
    json
}

fn decode(t: StoredTree) -> Result<Tree, String> {
    let n = t.feature.len();
    if t.value.len() != n || t.le.len() != n || t.gt.len() != n {
        return Err("node arrays of different lengths".into());
    }
    let nodes = (0..n)
        .map(|i| match t.feature[i] {
            -1 => Ok(Node::Leaf {
                mean_hours: t.value[i],
                start: 0,
                end: 0,
            }),
            f @ 0.. => Ok(Node::Split {
                feature: f as u16,
                threshold: t.value[i],
                le: t.le[i],
                gt: t.gt[i],
            }),
            f => Err(format!("node {i}: feature {f}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tree::with_width(nodes, Vec::new(), DEMAND_FEATURE_COUNT).map_err(|e| e.to_string())
}

/// A forest of one leaf: every day's demand is `ratio` × the level.
#[cfg(test)]
pub(crate) fn constant_model(ratio: f64) -> DemandModel {
    let leaf = Node::Leaf {
        mean_hours: ratio,
        start: 0,
        end: 0,
    };
    let tree = Tree::with_width(vec![leaf], Vec::new(), DEMAND_FEATURE_COUNT).unwrap();
    DemandModel::from_parts(tests::meta(), vec![tree])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn meta() -> DemandMeta {
        DemandMeta {
            format_version: DEMAND_FORMAT_VERSION,
            features: DEMAND_FEATURE_NAMES.map(String::from).to_vec(),
            events: EventCalendar::default(),
            history: "h".into(),
            history_sha256: String::new(),
            scenario: "s".into(),
            rows: 0,
            hyperparameters: DemandHyperparameters::default(),
            trees_sha256: String::new(),
            nodes: 0,
            evaluation: None,
        }
    }

    /// A one-split forest: ratio 2 on Mondays, 1 otherwise.
    fn monday_model() -> DemandModel {
        let tree = Tree::with_width(
            vec![
                Node::Split {
                    feature: 1,
                    threshold: 0.5,
                    le: 1,
                    gt: 2,
                },
                Node::Leaf {
                    mean_hours: 2.0,
                    start: 0,
                    end: 0,
                },
                Node::Leaf {
                    mean_hours: 1.0,
                    start: 0,
                    end: 0,
                },
            ],
            Vec::new(),
            DEMAND_FEATURE_COUNT,
        )
        .unwrap();
        DemandModel::from_parts(meta(), vec![tree])
    }

    fn monday() -> i64 {
        crate::time::Calendar::day_of_date(chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap())
    }

    #[test]
    fn forecasts_a_horizon_past_the_first_week_from_its_own_forecasts() {
        let m = monday_model();
        let origin = monday();
        let f = m
            .forecast(origin, 10, |_, d| (d < origin).then_some(10.0))
            .unwrap();
        assert_eq!(f[0], [20.0; 4], "Monday: level 10 × 2");
        assert_eq!(f[1], [10.0; 4]);
        // Day 7 (next Monday) lags day 0, the first forecast: its level
        // window now holds a 20.
        let level = (27.0 * 10.0 + 20.0) / 28.0;
        assert!((f[7][0] - 2.0 * level).abs() < 1e-9, "{:?}", f[7]);
        assert!(m
            .forecast(origin, 3, |_, d| (d > origin - 10).then_some(1.0))
            .is_none());
    }

    #[test]
    fn round_trips_and_catches_a_changed_forest() {
        let m = monday_model();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        assert!(DemandModel::is_in(dir.path()));
        let back = DemandModel::load(dir.path()).unwrap();
        assert_eq!(back.meta, m.meta);
        assert_eq!(back.trees, m.trees);
        let path = dir.path().join(DEMAND_TREES_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("2.0", "3.0");
        std::fs::write(&path, text).unwrap();
        let e = DemandModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("SHA-256"), "{e}");
    }
}
