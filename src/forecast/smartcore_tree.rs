//! The reference trainer (`--trainer smartcore`): a smartcore
//! `DecisionTreeRegressor` per tree (CART, squared error, every feature at
//! every split), read back into our [`Tree`]s. Slower than the histogram
//! trainer (it sorts a node's rows per feature); kept so that the fast path
//! has an independent implementation to be checked against.
//!
//! smartcore's `RandomForestRegressor` is single-threaded, seeds every tree
//! alike and hides its trees; its `DecisionTreeRegressor` serializes its nodes
//! with serde, which is how the structure is read back here.

use super::features::FEATURE_COUNT;
use super::model::Hyperparameters;
use super::train::{TrainError, TrainingSet};
use super::tree::{hours_to_ticks, Node, Tree};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

/// One tree on the rows `in_bag` (sorted) of `set`.
pub fn fit_tree(
    set: &TrainingSet,
    hp: &Hyperparameters,
    in_bag: &[usize],
) -> Result<Tree, TrainError> {
    let m = in_bag.len();
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
    fill_leaves(skeleton, set, in_bag)
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
