//! The histogram trainer: CART regression trees (squared error) grown over
//! per-node histograms of each feature's values.
//!
//! Every feature of the pipeline is discrete with at most 168 values, so a
//! feature's values map to bins once, for the whole forest, and finding a
//! node's best split on a feature is one pass over its rows into a histogram
//! (count and dwell sum per bin) and one scan over the bins: O(rows + bins)
//! instead of a sort. Every boundary between two values present in the node
//! is a candidate, so the split found is the exact CART split, as smartcore
//! or scikit-learn would find it over the same features.

use super::features::FEATURE_COUNT;
use super::tree::{hours_to_ticks, Node, Tree, TreeError};
use rand::Rng;

/// Bins are bytes.
pub const MAX_BINS: usize = 256;

/// The training rows' features as bin indices.
#[derive(Debug, Clone)]
pub struct Binned<const N: usize = FEATURE_COUNT> {
    /// Per feature, its distinct values in the training rows, ascending.
    values: Vec<Vec<f64>>,
    /// Per row, each feature's index into `values`.
    rows: Vec<[u8; N]>,
}

impl<const N: usize> Binned<N> {
    /// Bins the rows' features, or names the first feature with more than
    /// [`MAX_BINS`] distinct values (or a NaN, which has no place in a bin).
    pub fn new(x: &[[f64; N]]) -> Result<Binned<N>, String> {
        const { assert!(N <= 16, "a node's constant features are a u16 bit set") };
        let mut values = Vec::with_capacity(N);
        let mut rows = vec![[0u8; N]; x.len()];
        for f in 0..N {
            if x.iter().any(|row| row[f].is_nan()) {
                return Err(format!("feature {f} has a NaN"));
            }
            let mut distinct: Vec<f64> = x.iter().map(|row| row[f]).collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            if distinct.len() > MAX_BINS {
                return Err(format!(
                    "feature {f} has {} distinct values, more than {MAX_BINS}",
                    distinct.len()
                ));
            }
            for (binned, row) in rows.iter_mut().zip(x) {
                binned[f] = distinct.partition_point(|&v| v < row[f]) as u8;
            }
            values.push(distinct);
        }
        Ok(Binned { values, rows })
    }
}

/// A row of one tree's sample: its bins and its dwell, moved together as
/// the tree splits, so that a node's rows are contiguous in memory.
#[derive(Clone, Copy)]
struct Row<const N: usize> {
    bins: [u8; N],
    hours: f64,
}

/// How a tree grows.
#[derive(Debug, Clone, Copy)]
pub struct GrowParams {
    pub max_depth: u16,
    pub min_samples_leaf: u32,
    pub min_samples_split: u32,
    /// Non-constant features examined per split, drawn at random.
    pub features_per_split: usize,
}

/// The best split of one node found so far.
#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    /// Rows in bins `..=last_left_bin` go left.
    last_left_bin: u8,
    threshold: f64,
    /// Σ_left² / n_left + Σ_right² / n_right: maximizing it minimizes the
    /// children's squared error.
    score: f64,
}

/// Per-bin row counts and dwell sums, reused across nodes.
struct Histogram {
    count: [u32; MAX_BINS],
    sum: [f64; MAX_BINS],
}

/// Grows one tree on `rows` (indices into `binned` and `hours`). Leaves
/// keep their rows' dwell ticks, sorted.
pub fn grow<const N: usize>(
    binned: &Binned<N>,
    hours: &[f64],
    rows: &[u32],
    params: &GrowParams,
    rng: &mut impl Rng,
) -> Result<Tree, TreeError> {
    let mut sample: Vec<Row<N>> = rows
        .iter()
        .map(|&r| Row {
            bins: binned.rows[r as usize],
            hours: hours[r as usize],
        })
        .collect();
    let mut nodes: Vec<Node> = vec![placeholder()];
    let mut values: Vec<u16> = Vec::with_capacity(rows.len());
    let mut hist = Box::new(Histogram {
        count: [0; MAX_BINS],
        sum: [0.0; MAX_BINS],
    });
    // (node index, rows range, depth, features known constant there); depth
    // first, so the rows of a node are a contiguous range, split in place.
    let mut stack = vec![(0usize, 0usize, sample.len(), 0u16, 0u16)];
    let mut scratch = Vec::with_capacity(sample.len());
    while let Some((node, start, end, depth, mut constant)) = stack.pop() {
        let here = &mut sample[start..end];
        let split = if depth < params.max_depth && here.len() >= params.min_samples_split as usize {
            best_split(&binned.values, here, params, &mut constant, &mut hist, rng)
        } else {
            None
        };
        match split {
            Some(s) => {
                let left = partition(here, &mut scratch, |r| r.bins[s.feature] <= s.last_left_bin);
                let (le, gt) = (nodes.len(), nodes.len() + 1);
                nodes.push(placeholder());
                nodes.push(placeholder());
                nodes[node] = Node::Split {
                    feature: s.feature as u16,
                    threshold: s.threshold,
                    le: le as u32,
                    gt: gt as u32,
                };
                stack.push((gt, start + left, end, depth + 1, constant));
                stack.push((le, start, start + left, depth + 1, constant));
            }
            None => {
                let sum: f64 = here.iter().map(|r| r.hours).sum();
                let first = values.len();
                values.extend(here.iter().map(|r| hours_to_ticks(r.hours)));
                values[first..].sort_unstable();
                nodes[node] = Node::Leaf {
                    mean_hours: sum / here.len().max(1) as f64,
                    start: first as u32,
                    end: values.len() as u32,
                };
            }
        }
    }
    Tree::with_width(nodes, values, N)
}

fn placeholder() -> Node {
    Node::Leaf {
        mean_hours: 0.0,
        start: 0,
        end: 0,
    }
}

/// Moves the rows for which `left` holds to the front, keeping each side in
/// its original order (so the tree never depends on an unstable swap order);
/// returns how many went left.
fn partition<const N: usize>(
    rows: &mut [Row<N>],
    right: &mut Vec<Row<N>>,
    left: impl Fn(&Row<N>) -> bool,
) -> usize {
    right.clear();
    let mut n_left = 0;
    for i in 0..rows.len() {
        let r = rows[i];
        if left(&r) {
            rows[n_left] = r;
            n_left += 1;
        } else {
            right.push(r);
        }
    }
    rows[n_left..].copy_from_slice(right);
    n_left
}

/// The best split over `features_per_split` non-constant features drawn at
/// random, or `None` when no split leaves `min_samples_leaf` rows on both
/// sides and lowers the squared error. As in scikit-learn, a feature found
/// constant does not count, and is not drawn again below (`constant`, a
/// bit per feature, is handed to the children).
fn best_split<const N: usize>(
    values: &[Vec<f64>],
    rows: &[Row<N>],
    params: &GrowParams,
    constant: &mut u16,
    hist: &mut Histogram,
    rng: &mut impl Rng,
) -> Option<Split> {
    let n = rows.len();
    let total: f64 = rows.iter().map(|r| r.hours).sum();
    let parent = total * total / n as f64;
    let min_leaf = params.min_samples_leaf as usize;
    let mut order = [0usize; N];
    let mut candidates = 0;
    for f in 0..N {
        if *constant & (1 << f) == 0 {
            order[candidates] = f;
            candidates += 1;
        }
    }
    let mut best: Option<Split> = None;
    let mut examined = 0;
    for i in 0..candidates {
        if examined == params.features_per_split {
            break;
        }
        // A Fisher–Yates shuffle, drawn only as far as it is used.
        order.swap(i, rng.gen_range(i..candidates));
        let f = order[i];
        let bins = values[f].len();
        hist.count[..bins].fill(0);
        hist.sum[..bins].fill(0.0);
        for r in rows {
            let b = r.bins[f] as usize;
            hist.count[b] += 1;
            hist.sum[b] += r.hours;
        }
        let mut present = (0..bins).filter(|&b| hist.count[b] > 0);
        let Some(mut prev) = present.next() else {
            continue;
        };
        let (mut n_left, mut sum_left) = (0usize, 0.0);
        let mut is_constant = true;
        for b in present {
            is_constant = false;
            n_left += hist.count[prev] as usize;
            sum_left += hist.sum[prev];
            let n_right = n - n_left;
            if n_right < min_leaf {
                break;
            }
            if n_left >= min_leaf {
                let sum_right = total - sum_left;
                let score =
                    sum_left * sum_left / n_left as f64 + sum_right * sum_right / n_right as f64;
                if best.is_none_or(|s| score > s.score) {
                    best = Some(Split {
                        feature: f,
                        last_left_bin: prev as u8,
                        threshold: (values[f][prev] + values[f][b]) / 2.0,
                        score,
                    });
                }
            }
            prev = b;
        }
        if is_constant {
            *constant |= 1 << f;
        } else {
            examined += 1;
        }
    }
    // A split must lower the squared error by more than rounding.
    best.filter(|s| s.score > parent + 1e-9 * parent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn all_features() -> GrowParams {
        GrowParams {
            max_depth: 8,
            min_samples_leaf: 1,
            min_samples_split: 2,
            features_per_split: FEATURE_COUNT,
        }
    }

    fn grow_on(x: &[[f64; FEATURE_COUNT]], y: &[f64], p: &GrowParams) -> Tree {
        let binned = Binned::new(x).unwrap();
        let rows: Vec<u32> = (0..x.len() as u32).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        grow(&binned, y, &rows, p, &mut rng).unwrap()
    }

    fn row(f: usize, v: f64) -> [f64; FEATURE_COUNT] {
        let mut x = [0.0; FEATURE_COUNT];
        x[f] = v;
        x
    }

    #[test]
    fn finds_the_split_that_separates_the_dwell_groups() {
        // Feature 8 (hour) 0..=23; dwell 5 h before noon, 40 h from noon on.
        let x: Vec<_> = (0..240).map(|i| row(8, (i % 24) as f64)).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| if r[8] < 12.0 { 5.0 } else { 40.0 })
            .collect();
        let tree = grow_on(&x, &y, &all_features());
        let Node::Split {
            feature, threshold, ..
        } = tree.nodes[0]
        else {
            panic!("root is a leaf")
        };
        assert_eq!((feature, threshold), (8, 11.5));
        // Both sides are pure, so they are leaves holding their rows.
        assert_eq!(tree.node_count(), 3);
        let low = tree.leaf_at(tree.leaf_index(&row(8, 3.0))).unwrap();
        assert_eq!((low.mean_hours, low.ticks.len()), (5.0, 120));
        let high = tree.leaf_at(tree.leaf_index(&row(8, 20.0))).unwrap();
        assert_eq!(high.mean_hours, 40.0);
    }

    #[test]
    fn respects_leaf_size_depth_and_constant_features() {
        let x: Vec<_> = (0..100).map(|i| row(10, i as f64 / 5.0)).collect();
        let y: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let p = GrowParams {
            max_depth: 3,
            min_samples_leaf: 10,
            // One feature per split: only feature 10 varies, so the draw must
            // skip the constant ones rather than give up.
            features_per_split: 1,
            ..all_features()
        };
        let tree = grow_on(&x, &y, &p);
        let leaves: Vec<_> = (0..tree.node_count())
            .filter_map(|i| tree.leaf_at(i))
            .collect();
        assert_eq!(leaves.len(), 8, "depth 3 of a perfectly splittable set");
        assert!(leaves.iter().all(|l| l.ticks.len() >= 10));
        assert_eq!(leaves.iter().map(|l| l.ticks.len()).sum::<usize>(), 100);
    }

    #[test]
    fn a_node_without_a_useful_split_is_a_leaf() {
        // Same dwell everywhere: no split lowers the error.
        let x: Vec<_> = (0..50).map(|i| row(8, (i % 24) as f64)).collect();
        let tree = grow_on(&x, &[7.0; 50], &all_features());
        assert_eq!(tree.node_count(), 1);
    }

    #[test]
    fn refuses_features_that_do_not_fit_a_byte() {
        let x: Vec<_> = (0..300).map(|i| row(11, i as f64)).collect();
        assert!(Binned::new(&x).unwrap_err().contains("feature 11"));
        assert!(Binned::new(&[row(0, f64::NAN)]).is_err());
    }
}
