//! Training: a forest of smartcore regression trees, fitted in parallel with
//! rayon, each on its own subsample drawn from its own random stream, then
//! turned into our [`Tree`]s (leaves keep their rows' dwell times) and
//! calibrated on rows no tree saw.
//!
//! smartcore's `RandomForestRegressor` is single-threaded, seeds every tree
//! alike and hides its trees; its `DecisionTreeRegressor` serializes its nodes
//! with serde, which is how the structure is read back here.

use super::features::FEATURE_COUNT;
use super::isotonic::Isotonic;
use super::model::{
    CalibrationMethod, DwellModel, FeatureSchema, Hyperparameters, ModelMeta, TrainingData,
};
use super::prediction::{GRID_HOURS, GRID_LEN};
use super::tree::{hours_to_ticks, Node, Tree};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

/// Feature vectors and dwell times (hours), one per package.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingSet {
    pub x: Vec<[f64; FEATURE_COUNT]>,
    pub y: Vec<f64>,
}

impl TrainingSet {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("hyperparameter {0}")]
    Hyperparameter(String),
    #[error("{rows} training rows is too few for min_samples_split {split} at sample_fraction {fraction}")]
    TooFewRows {
        rows: usize,
        split: u32,
        fraction: f64,
    },
    #[error("smartcore: {0}")]
    Smartcore(String),
}

pub fn check_hyperparameters(hp: &Hyperparameters) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Hyperparameter(m));
    if hp.trees == 0 || hp.trees > 10_000 {
        return bad(format!("trees must be in [1, 10000], got {}", hp.trees));
    }
    if hp.max_depth == 0 || hp.max_depth > 64 {
        return bad(format!(
            "max_depth must be in [1, 64], got {}",
            hp.max_depth
        ));
    }
    if hp.min_samples_leaf == 0 {
        return bad("min_samples_leaf must be at least 1".into());
    }
    if hp.max_tree_rows < 2 {
        return bad("max_tree_rows must be at least 2".into());
    }
    if hp.min_samples_split < 2 {
        return bad("min_samples_split must be at least 2".into());
    }
    if !(hp.sample_fraction > 0.0 && hp.sample_fraction < 1.0) {
        return bad(format!(
            "sample_fraction must be in (0, 1) so that trees differ, got {}",
            hp.sample_fraction
        ));
    }
    if !(hp.calibration_fraction > 0.0 && hp.calibration_fraction < 0.9) {
        return bad(format!(
            "calibration_fraction must be in (0, 0.9), got {}",
            hp.calibration_fraction
        ));
    }
    Ok(())
}

/// Fits the forest. The result depends only on the data and the
/// hyperparameters (seed included), never on the number of threads: tree `i`
/// draws from the seed's stream jumped `i` times, and results are collected
/// in tree order.
///
/// A `calibration_fraction` of the rows, drawn at random, trains no tree; the
/// calibration maps are fitted on the whole forest's predictions for them.
/// (Out-of-bag predictions average only the trees that missed a row — half
/// the forest — and are noisier than the forest's, so maps fitted on them
/// over-shrink the forest's predictions; measured on the sample: a decile off
/// by 0.04.)
pub fn train(
    set: &TrainingSet,
    hp: &Hyperparameters,
    data: TrainingData,
) -> Result<DwellModel, TrainError> {
    check_hyperparameters(hp)?;
    let n = set.len();
    let n_cal = ((n as f64) * hp.calibration_fraction).round() as usize;
    let m = ((((n - n_cal) as f64) * hp.sample_fraction).round() as usize)
        .min(hp.max_tree_rows as usize);
    if m < hp.min_samples_split as usize || n_cal == 0 {
        return Err(TrainError::TooFewRows {
            rows: n,
            split: hp.min_samples_split,
            fraction: hp.sample_fraction,
        });
    }
    let mut split_rng = Xoshiro256PlusPlus::seed_from_u64(hp.seed);
    split_rng.long_jump(); // a stream apart from every tree's
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut split_rng);
    let (cal_rows, fit_rows) = order.split_at(n_cal);
    let fit_set = subset(set, fit_rows);
    let cal_set = subset(set, cal_rows);

    let streams = tree_streams(hp.seed, hp.trees as usize);
    let trees: Vec<Tree> = streams
        .into_par_iter()
        .map(|mut rng| fit_tree(&fit_set, hp, m, &mut rng))
        .collect::<Result<_, _>>()?;
    let meta = ModelMeta {
        format_version: super::model::FORMAT_VERSION,
        features: FeatureSchema::current(),
        grid_hours: GRID_HOURS.to_vec(),
        training: data,
        hyperparameters: hp.clone(),
        forest_sha256: String::new(),
        nodes: 0,
        evaluation: None,
    };
    let uncalibrated = DwellModel::from_parts(meta.clone(), trees, Vec::new());
    let calibration = fit_calibration(&uncalibrated, &cal_set, hp.calibration);
    Ok(DwellModel::from_parts(
        meta,
        uncalibrated.into_trees(),
        calibration,
    ))
}

fn subset(set: &TrainingSet, rows: &[usize]) -> TrainingSet {
    TrainingSet {
        x: rows.iter().map(|&i| set.x[i]).collect(),
        y: rows.iter().map(|&i| set.y[i]).collect(),
    }
}

/// One independent, non-overlapping stream per tree (xoshiro jumps are 2^128
/// draws apart).
fn tree_streams(seed: u64, trees: usize) -> Vec<Xoshiro256PlusPlus> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..trees)
        .map(|_| {
            let this = rng.clone();
            rng.jump();
            this
        })
        .collect()
}

fn fit_tree(
    set: &TrainingSet,
    hp: &Hyperparameters,
    m: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Tree, TrainError> {
    let n = set.len();
    let mut in_bag = rand::seq::index::sample(rng, n, m).into_vec();
    in_bag.sort_unstable();
    // smartcore's DenseMatrix wants column-major values.
    let mut values = vec![0.0; m * FEATURE_COUNT];
    for (r, &i) in in_bag.iter().enumerate() {
        for (c, &v) in set.x[i].iter().enumerate() {
            values[c * m + r] = v;
        }
    }
    let x = DenseMatrix::new(m, FEATURE_COUNT, values, true)
        .map_err(|e| TrainError::Smartcore(e.to_string()))?;
    let y: Vec<f64> = in_bag.iter().map(|&i| set.y[i]).collect();
    let params = DecisionTreeRegressorParameters {
        max_depth: Some(hp.max_depth),
        min_samples_leaf: hp.min_samples_leaf as usize,
        min_samples_split: hp.min_samples_split as usize,
        seed: Some(hp.seed),
    };
    let fitted: DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>> =
        DecisionTreeRegressor::fit(&x, &y, params)
            .map_err(|e| TrainError::Smartcore(e.to_string()))?;
    let skeleton = read_nodes(&fitted)?;
    fill_leaves(skeleton, set, &in_bag)
}

/// smartcore's nodes, read through serde (its fields are private).
#[derive(serde::Deserialize)]
struct SmartcoreNode {
    output: f64,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

fn read_nodes(
    tree: &DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>,
) -> Result<Vec<Node>, TrainError> {
    let bad = |m: &str| TrainError::Smartcore(format!("unexpected tree layout: {m}"));
    let value = serde_json::to_value(tree).map_err(|e| bad(&e.to_string()))?;
    let nodes = value
        .get("tree_regressor")
        .and_then(|t| t.get("nodes"))
        .ok_or_else(|| bad("no tree_regressor.nodes"))?;
    let raw: Vec<SmartcoreNode> =
        serde_json::from_value(nodes.clone()).map_err(|e| bad(&e.to_string()))?;
    raw.into_iter()
        .map(|n| match (n.true_child, n.false_child, n.split_value) {
            (Some(le), Some(gt), Some(threshold)) => Ok(Node::Split {
                feature: n.split_feature as u16,
                threshold,
                le: le as u32,
                gt: gt as u32,
            }),
            (None, None, _) => Ok(Node::Leaf {
                mean_hours: n.output,
                start: 0,
                end: 0,
            }),
            _ => Err(bad("a node with one child")),
        })
        .collect()
}

/// Routes the in-bag rows down the tree and stores each leaf's dwell times,
/// sorted, contiguously.
fn fill_leaves(
    mut nodes: Vec<Node>,
    set: &TrainingSet,
    in_bag: &[usize],
) -> Result<Tree, TrainError> {
    let bad = |e: super::tree::TreeError| TrainError::Smartcore(e.to_string());
    let probe = Tree::new(nodes.clone(), Vec::new()).map_err(bad)?;
    let mut per_leaf: Vec<Vec<u16>> = vec![Vec::new(); nodes.len()];
    for &i in in_bag {
        per_leaf[probe.leaf_index(&set.x[i])].push(hours_to_ticks(set.y[i]));
    }
    let mut values = Vec::with_capacity(in_bag.len());
    for (node, mut ticks) in nodes.iter_mut().zip(per_leaf) {
        if let Node::Leaf { start, end, .. } = node {
            ticks.sort_unstable();
            *start = values.len() as u32;
            values.extend_from_slice(&ticks);
            *end = values.len() as u32;
        }
    }
    Tree::new(nodes, values).map_err(bad)
}

/// Monotone maps from the forest's raw P(dwell ≤ t) to the observed
/// frequency on the calibration rows, one per grid hour.
fn fit_calibration(
    forest: &DwellModel,
    cal: &TrainingSet,
    method: CalibrationMethod,
) -> Vec<Isotonic> {
    let raw: Vec<[f64; GRID_LEN]> = cal.x.par_iter().map(|x| forest.predict_raw(x).1).collect();
    (0..GRID_LEN)
        .map(|g| {
            let limit = hours_to_ticks(GRID_HOURS[g]);
            let mut pairs: Vec<(f64, f64)> = raw
                .iter()
                .zip(&cal.y)
                .map(|(p, &y)| {
                    let observed = if hours_to_ticks(y) <= limit { 1.0 } else { 0.0 };
                    (p[g], observed)
                })
                .collect();
            match method {
                CalibrationMethod::Isotonic => Isotonic::fit(&mut pairs),
                CalibrationMethod::Logistic => {
                    let (a, b) = super::logistic::fit(&pairs);
                    super::logistic::to_knots(a, b)
                }
            }
        })
        .collect()
}
