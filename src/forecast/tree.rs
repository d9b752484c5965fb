//! One regression tree of the forest, in the form prediction needs: split
//! nodes, and leaves that keep the sorted dwell times of the training rows that
//! fell into them (which makes the forest a quantile-regression forest,
//! Meinshausen 2006). Prediction needs nothing but this file, so the simulator
//! and the controller use models without linking smartcore.

use super::features::FEATURE_COUNT;

/// Dwell times are stored in tenths of an hour (6-minute resolution).
pub const TICKS_PER_HOUR: f64 = 10.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Rows with `x[feature] <= threshold` go to `le`, the rest to `gt`.
    Split {
        feature: u16,
        threshold: f64,
        le: u32,
        gt: u32,
    },
    /// `values[start..end]` of the tree are this leaf's dwell times, sorted.
    Leaf {
        mean_hours: f64,
        start: u32,
        end: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<u16>,
}

/// A leaf's view of a prediction: its mean and its sorted dwell ticks.
pub struct LeafRef<'a> {
    pub mean_hours: f64,
    pub ticks: &'a [u16],
}

impl LeafRef<'_> {
    /// Share of the leaf's training rows with dwell ≤ `ticks`.
    pub fn cdf(&self, ticks: u16) -> f64 {
        if self.ticks.is_empty() {
            return 0.0;
        }
        self.ticks.partition_point(|&v| v <= ticks) as f64 / self.ticks.len() as f64
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed tree: {0}")]
pub struct TreeError(pub String);

impl Tree {
    /// Checks that every child index and value range is in bounds and that
    /// the nodes form a tree rooted at 0 (children after parents), so that
    /// [`Tree::leaf_index`] can never loop or index out of range.
    pub fn new(nodes: Vec<Node>, values: Vec<u16>) -> Result<Tree, TreeError> {
        Self::with_width(nodes, values, FEATURE_COUNT)
    }

    /// [`Tree::new`] for feature vectors of `width` features (the demand
    /// forecast's trees split on their own features).
    pub fn with_width(nodes: Vec<Node>, values: Vec<u16>, width: usize) -> Result<Tree, TreeError> {
        if nodes.is_empty() {
            return Err(TreeError("no nodes".into()));
        }
        for (i, n) in nodes.iter().enumerate() {
            match *n {
                Node::Split {
                    feature,
                    threshold,
                    le,
                    gt,
                } => {
                    let ok_child = |c: u32| (c as usize) > i && (c as usize) < nodes.len();
                    if feature as usize >= width || !threshold.is_finite() {
                        return Err(TreeError(format!("node {i}: bad split")));
                    }
                    if !ok_child(le) || !ok_child(gt) {
                        return Err(TreeError(format!("node {i}: child out of order")));
                    }
                }
                Node::Leaf {
                    start,
                    end,
                    mean_hours,
                } => {
                    if start > end || end as usize > values.len() {
                        return Err(TreeError(format!("node {i}: value range out of bounds")));
                    }
                    // A dwell is a duration: whatever a file's hash says,
                    // NaN, infinite or negative means are corrupt.
                    if !(0.0..=crate::time::MAX_DURATION_HOURS).contains(&mean_hours) {
                        return Err(TreeError(format!("node {i}: leaf mean {mean_hours}")));
                    }
                    if !values[start as usize..end as usize].is_sorted() {
                        return Err(TreeError(format!("node {i}: leaf values not sorted")));
                    }
                }
            }
        }
        Ok(Tree { nodes, values })
    }

    /// Index of the leaf node a feature vector falls into.
    pub fn leaf_index(&self, x: &[f64]) -> usize {
        let mut i = 0usize;
        while let Node::Split {
            feature,
            threshold,
            le,
            gt,
        } = self.nodes[i]
        {
            i = if x[feature as usize] <= threshold {
                le as usize
            } else {
                gt as usize
            };
        }
        i
    }

    /// The leaf at node index `node`, if that node is a leaf.
    pub fn leaf_at(&self, node: usize) -> Option<LeafRef<'_>> {
        match self.nodes.get(node)? {
            Node::Leaf {
                mean_hours,
                start,
                end,
            } => Some(LeafRef {
                mean_hours: *mean_hours,
                ticks: &self.values[*start as usize..*end as usize],
            }),
            Node::Split { .. } => None,
        }
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Hours to stored ticks, saturating.
pub fn hours_to_ticks(hours: f64) -> u16 {
    (hours * TICKS_PER_HOUR).round().clamp(0.0, u16::MAX as f64) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Tree {
        Tree::new(
            vec![
                Node::Split {
                    feature: 8,
                    threshold: 11.5,
                    le: 1,
                    gt: 2,
                },
                Node::Leaf {
                    mean_hours: 2.0,
                    start: 0,
                    end: 3,
                },
                Node::Leaf {
                    mean_hours: 30.0,
                    start: 3,
                    end: 5,
                },
            ],
            vec![10, 20, 30, 200, 400],
        )
        .unwrap()
    }

    #[test]
    fn routes_by_threshold_and_reads_leaf_cdf() {
        let t = stump();
        let mut x = [0.0; FEATURE_COUNT];
        x[8] = 11.5;
        let leaf = t.leaf_at(t.leaf_index(&x)).unwrap();
        assert_eq!(leaf.mean_hours, 2.0);
        assert_eq!(leaf.cdf(hours_to_ticks(2.0)), 2.0 / 3.0);
        x[8] = 12.0;
        assert_eq!(t.leaf_at(2).unwrap().cdf(hours_to_ticks(20.0)), 0.5);
        assert_eq!(t.leaf_index(&x), 2);
    }

    #[test]
    fn rejects_cycles_and_out_of_range_parts() {
        let loop_back = vec![Node::Split {
            feature: 0,
            threshold: 0.0,
            le: 0,
            gt: 0,
        }];
        assert!(Tree::new(loop_back, vec![]).is_err());
        let bad_range = vec![Node::Leaf {
            mean_hours: 1.0,
            start: 0,
            end: 9,
        }];
        assert!(Tree::new(bad_range, vec![1]).is_err());
        let bad_feature = vec![
            Node::Split {
                feature: FEATURE_COUNT as u16,
                threshold: 0.0,
                le: 1,
                gt: 2,
            },
            Node::Leaf {
                mean_hours: 0.0,
                start: 0,
                end: 0,
            },
            Node::Leaf {
                mean_hours: 0.0,
                start: 0,
                end: 0,
            },
        ];
        assert!(Tree::new(bad_feature, vec![]).is_err());
    }
}
