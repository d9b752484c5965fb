//! A trained dwell model on disk: `DIR/meta.json` (human-readable: feature
//! schema, training data hash, seed, hyperparameters, metrics, format
//! version) and `DIR/forest.bin` (trees, leaf values, calibration), whose hash
//! `meta.json` records. Loading checks both, and that the model was trained on
//! this build's feature pipeline.

use super::codec;
use super::features::{DwellFeatures, FEATURE_COUNT, FEATURE_NAMES, FEATURE_VERSION};
use super::isotonic::Isotonic;
use super::memo::PredictionMemo;
use super::prediction::{DwellPrediction, GRID_HOURS, GRID_LEN};
use super::tree::{hours_to_ticks, Tree};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: u32 = 1;
pub const META_FILE: &str = "meta.json";
pub const FOREST_FILE: &str = "forest.bin";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSchema {
    pub version: u32,
    pub names: Vec<String>,
}

impl FeatureSchema {
    /// The schema of this build's pipeline.
    pub fn current() -> FeatureSchema {
        FeatureSchema {
            version: FEATURE_VERSION,
            names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hyperparameters {
    pub trees: u32,
    pub max_depth: u16,
    pub min_samples_leaf: u32,
    pub min_samples_split: u32,
    /// Share of the tree-training rows each tree sees, drawn without
    /// replacement...
    pub sample_fraction: f64,
    /// ...but never more than this many: a bound on a tree's time and
    /// memory for very long histories (the default is above any shipped
    /// one; smartcore, which sorts a node's rows per feature, wants ~20,000).
    pub max_tree_rows: u32,
    /// Share of the features examined at each split, drawn at random per
    /// node (scikit-learn's `max_features`; at least one feature). Models
    /// written before it existed examined every feature.
    #[serde(default = "every_feature")]
    pub max_features: f64,
    /// Share of the rows held out of each forest whose predictions the
    /// calibration maps are fitted on: with `refit_on_all_rows`, the size
    /// of a cross-fitting fold (`1 / calibration_fraction` folds, rounded).
    pub calibration_fraction: f64,
    /// Whether the maps are cross-fitted by fold forests and the forest
    /// shipped is grown on every row; otherwise the shipped forest never sees
    /// the calibration rows. Models written before it existed did not.
    #[serde(default)]
    pub refit_on_all_rows: bool,
    pub calibration: CalibrationMethod,
    /// Models written before there was a choice were grown by smartcore.
    #[serde(default = "Trainer::smartcore")]
    pub trainer: Trainer,
    pub seed: u64,
}

fn every_feature() -> f64 {
    1.0
}

/// Which implementation grows the trees. Both grow CART trees on the same
/// rows; the forests differ only through ties and `max_features`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "lab", derive(clap::ValueEnum))]
pub enum Trainer {
    /// Split search over per-node histograms of the discrete features
    /// (src/forecast/grow.rs): the default, and the fast one.
    Histogram,
    /// smartcore's `DecisionTreeRegressor`, the reference implementation;
    /// examines every feature at every split.
    Smartcore,
}

impl Trainer {
    fn smartcore() -> Trainer {
        Trainer::Smartcore
    }
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Hyperparameters {
            trees: 100,
            max_depth: 10,
            min_samples_leaf: 15,
            min_samples_split: 30,
            sample_fraction: 0.8,
            max_tree_rows: 1_000_000,
            max_features: 0.25,
            calibration_fraction: 0.5,
            refit_on_all_rows: true,
            calibration: CalibrationMethod::Isotonic,
            trainer: Trainer::Histogram,
            seed: 1,
        }
    }
}

/// How the forest's probabilities are recalibrated, per grid hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "lab", derive(clap::ValueEnum))]
pub enum CalibrationMethod {
    /// Isotonic regression: any monotone map (the default). Its steps follow
    /// noise with only a few thousand calibration rows (docs/forecast.md).
    Isotonic,
    /// Platt scaling on the logit: two parameters per hour, stable on small
    /// data but unable to bend where the forest's error changes direction.
    Logistic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingData {
    /// As given on the command line.
    pub file: String,
    pub sha256: String,
    /// Rows used (deposited packages whose dwell ended).
    pub rows: u64,
}

/// The metrics `forecast check` tracks. Errors in hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedMetrics {
    pub mae_hours: f64,
    pub rmse_hours: f64,
    pub r2: f64,
    pub pinball_50_hours: f64,
    pub pinball_90_hours: f64,
    pub max_calibration_error: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The data the metrics were measured on, as given on the command line.
    pub file: String,
    pub sha256: String,
    pub rows: u64,
    pub metrics: TrackedMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    pub format_version: u32,
    pub features: FeatureSchema,
    pub grid_hours: Vec<f64>,
    pub training: TrainingData,
    pub hyperparameters: Hyperparameters,
    pub forest_sha256: String,
    /// Total nodes over all trees.
    pub nodes: u64,
    /// Set by `forecast train --holdout`; `forecast check` compares against it.
    pub evaluation: Option<Evaluation>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn invalid(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A calibrated quantile-regression forest over dwell time.
#[derive(Debug, Clone, PartialEq)]
pub struct DwellModel {
    pub meta: ModelMeta,
    trees: Vec<Tree>,
    /// One monotone map per grid hour, fitted on held-out calibration rows.
    calibration: Vec<Isotonic>,
    /// Derived on load: per tree, the leaves' means and P(dwell ≤ grid
    /// hour), so a prediction is a walk per tree and a sum, not 24 binary
    /// searches per tree.
    leaf_grid: Vec<LeafGrid>,
    /// Predictions made, by feature key, for every user of this model.
    memo: PredictionMemo,
}

#[derive(Debug, Clone, PartialEq)]
struct LeafSummary {
    mean_hours: f64,
    cdf: [f64; GRID_LEN],
}

/// One tree's leaf summaries, stored densely (leaves only: split nodes
/// would double the table and the cache misses of a prediction).
#[derive(Debug, Clone, PartialEq)]
struct LeafGrid {
    /// Per node, its leaf's index in `leaves` (unused for split nodes).
    slot: Vec<u32>,
    leaves: Vec<LeafSummary>,
}

fn summarize(trees: &[Tree]) -> Vec<LeafGrid> {
    let ticks = grid_ticks();
    trees
        .iter()
        .map(|t| {
            let mut grid = LeafGrid {
                slot: vec![0; t.node_count()],
                leaves: Vec::new(),
            };
            for node in 0..t.node_count() {
                if let Some(leaf) = t.leaf_at(node) {
                    let mut cdf = [0.0; GRID_LEN];
                    for (c, &k) in cdf.iter_mut().zip(&ticks) {
                        *c = leaf.cdf(k);
                    }
                    grid.slot[node] = grid.leaves.len() as u32;
                    grid.leaves.push(LeafSummary {
                        mean_hours: leaf.mean_hours,
                        cdf,
                    });
                }
            }
            grid
        })
        .collect()
}

impl DwellModel {
    // Training (lab feature) builds models; a core build only loads them.
    #[cfg_attr(not(feature = "lab"), allow(dead_code))]
    pub(crate) fn from_parts(
        mut meta: ModelMeta,
        trees: Vec<Tree>,
        calibration: Vec<Isotonic>,
    ) -> DwellModel {
        meta.forest_sha256 = sha256_hex(&codec::encode(&trees, &calibration));
        meta.nodes = trees.iter().map(|t| t.node_count() as u64).sum();
        DwellModel {
            meta,
            leaf_grid: summarize(&trees),
            trees,
            calibration,
            memo: PredictionMemo::default(),
        }
    }

    #[cfg_attr(not(feature = "lab"), allow(dead_code))]
    pub(crate) fn into_trees(self) -> Vec<Tree> {
        self.trees
    }

    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The forest's own estimate: mean of leaf means, and per grid hour the
    /// average over trees of the leaf's share of rows with dwell ≤ t.
    pub fn predict_raw(&self, x: &[f64; FEATURE_COUNT]) -> (f64, [f64; GRID_LEN]) {
        let mut mean = 0.0;
        let mut cdf = [0.0; GRID_LEN];
        for (t, grid) in self.trees.iter().zip(&self.leaf_grid) {
            let leaf = &grid.leaves[grid.slot[t.leaf_index(x)] as usize];
            mean += leaf.mean_hours;
            for (c, &p) in cdf.iter_mut().zip(&leaf.cdf) {
                *c += p;
            }
        }
        let n = self.trees.len().max(1) as f64;
        cdf.iter_mut().for_each(|c| *c /= n);
        (mean / n, cdf)
    }

    /// [`DwellModel::predict_raw`] for many rows, tree by tree rather than
    /// row by row, so that a tree's nodes and leaves stay in cache across
    /// the rows instead of missing it at every level (2–3× faster). Each
    /// row's sums run over the trees in the same order: the same results.
    pub fn predict_raw_many(&self, xs: &[[f64; FEATURE_COUNT]]) -> Vec<(f64, [f64; GRID_LEN])> {
        let mut out = vec![(0.0, [0.0; GRID_LEN]); xs.len()];
        for (t, grid) in self.trees.iter().zip(&self.leaf_grid) {
            for (x, (mean, cdf)) in xs.iter().zip(out.iter_mut()) {
                let leaf = &grid.leaves[grid.slot[t.leaf_index(x)] as usize];
                *mean += leaf.mean_hours;
                for (c, &p) in cdf.iter_mut().zip(&leaf.cdf) {
                    *c += p;
                }
            }
        }
        let n = self.trees.len().max(1) as f64;
        for (mean, cdf) in &mut out {
            *mean /= n;
            cdf.iter_mut().for_each(|c| *c /= n);
        }
        out
    }

    /// [`DwellModel::predict_vector`] for many rows (see `predict_raw_many`).
    pub fn predict_many(&self, xs: &[[f64; FEATURE_COUNT]]) -> Vec<DwellPrediction> {
        self.predict_raw_many(xs)
            .into_iter()
            .map(|(mean_hours, raw)| DwellPrediction {
                mean_hours,
                cdf: self.calibrate(&raw),
            })
            .collect()
    }

    /// Calibrated prediction for an encoded feature vector.
    pub fn predict_vector(&self, x: &[f64; FEATURE_COUNT]) -> DwellPrediction {
        let (mean_hours, raw) = self.predict_raw(x);
        DwellPrediction {
            mean_hours,
            cdf: self.calibrate(&raw),
        }
    }

    pub fn predict(&self, f: &DwellFeatures) -> DwellPrediction {
        self.predict_vector(&f.encode())
    }

    /// `predict`, memoized by feature key for every holder of this model.
    pub fn predict_memoized(&self, f: &DwellFeatures) -> DwellPrediction {
        self.memo.get_or(f.key(), || self.predict(f))
    }

    /// Applies the isotonic maps, then sorts the result: each hour is
    /// calibrated separately, so neighbours can cross slightly, and sorting
    /// (Chernozhukov et al.'s rearrangement) restores a CDF without the
    /// upward bias a running maximum would add.
    pub fn calibrate(&self, raw: &[f64; GRID_LEN]) -> [f64; GRID_LEN] {
        let mut out = [0.0; GRID_LEN];
        for i in 0..GRID_LEN {
            let p = match self.calibration.get(i) {
                Some(iso) => iso.apply(raw[i]),
                None => raw[i],
            };
            out[i] = p.clamp(0.0, 1.0);
        }
        out.sort_by(f64::total_cmp);
        out
    }

    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let forest = codec::encode(&self.trees, &self.calibration);
        let forest_path = dir.join(FOREST_FILE);
        std::fs::write(&forest_path, &forest).map_err(io(&forest_path))?;
        let meta_path = dir.join(META_FILE);
        let mut json = serde_json::to_string_pretty(&self.meta).expect("meta serializes");
        json.push('\n');
        std::fs::write(&meta_path, json).map_err(io(&meta_path))?;
        Ok(())
    }

    pub fn load(dir: &Path) -> Result<DwellModel, ModelError> {
        let meta_path = dir.join(META_FILE);
        let meta = load_meta(&meta_path)?;
        let forest_path = dir.join(FOREST_FILE);
        let bytes =
            crate::files::read_limited(&forest_path, crate::files::MAX_DATA).map_err(|source| {
                ModelError::Io {
                    path: forest_path.clone(),
                    source,
                }
            })?;
        Self::from_files(meta, &bytes, dir)
    }

    /// A model from its metadata and its forest file's bytes, checked as
    /// [`DwellModel::load`] checks them; `dir` names the files in errors.
    pub fn from_files(meta: ModelMeta, bytes: &[u8], dir: &Path) -> Result<DwellModel, ModelError> {
        let meta_path = dir.join(META_FILE);
        let forest_path = dir.join(FOREST_FILE);
        let current = FeatureSchema::current();
        if meta.features != current {
            return Err(invalid(
                &meta_path,
                format!(
                    "feature schema mismatch: the model was trained on features v{} {:?}, \
                     this build computes v{} {:?}; retrain with `lockerlab forecast train`",
                    meta.features.version, meta.features.names, current.version, current.names
                ),
            ));
        }
        if meta.grid_hours != GRID_HOURS {
            return Err(invalid(
                &meta_path,
                format!(
                    "grid_hours {:?} differ from this build's {:?}",
                    meta.grid_hours, GRID_HOURS
                ),
            ));
        }
        let hash = sha256_hex(bytes);
        if hash != meta.forest_sha256 {
            return Err(invalid(
                &forest_path,
                format!(
                    "sha256 {hash} does not match meta.json's forest_sha256 {}",
                    meta.forest_sha256
                ),
            ));
        }
        let (trees, calibration) = codec::decode(bytes).map_err(|m| invalid(&forest_path, m))?;
        if calibration.len() != GRID_LEN || trees.is_empty() {
            return Err(invalid(
                &forest_path,
                format!(
                    "expected {GRID_LEN} calibration maps and at least one tree, got {} and {}",
                    calibration.len(),
                    trees.len()
                ),
            ));
        }
        Ok(DwellModel {
            meta,
            leaf_grid: summarize(&trees),
            trees,
            calibration,
            memo: PredictionMemo::default(),
        })
    }
}

/// Reads and checks a model's (or a baseline's) metadata file.
pub fn load_meta(path: &Path) -> Result<ModelMeta, ModelError> {
    let text = crate::files::read_text(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let meta: ModelMeta = serde_path_to_error::deserialize(de)
        .map_err(|e| invalid(path, format!("at `{}`: {}", e.path(), e.inner())))?;
    if meta.format_version != FORMAT_VERSION {
        return Err(invalid(
            path,
            format!(
                "format_version {}, this build reads {FORMAT_VERSION}",
                meta.format_version
            ),
        ));
    }
    Ok(meta)
}

fn grid_ticks() -> [u16; GRID_LEN] {
    let mut t = [0u16; GRID_LEN];
    for (k, h) in t.iter_mut().zip(GRID_HOURS) {
        *k = hours_to_ticks(h);
    }
    t
}
