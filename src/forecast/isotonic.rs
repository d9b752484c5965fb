//! Isotonic regression (pool-adjacent-violators), used to calibrate the
//! forest's P(dwell ≤ t): raw out-of-bag probabilities in, observed
//! frequencies out, monotone, as Amazon's published method does.

/// A monotone non-decreasing map, piecewise linear between knots and flat
/// beyond them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Isotonic {
    pub(crate) xs: Vec<f64>,
    pub(crate) ys: Vec<f64>,
}

impl Isotonic {
    /// Fits y ≈ f(x) with f non-decreasing, minimizing squared error.
    /// Pairs need not be sorted. With no data the map is the identity.
    pub fn fit(pairs: &mut [(f64, f64)]) -> Isotonic {
        if pairs.is_empty() {
            return Isotonic {
                xs: vec![0.0, 1.0],
                ys: vec![0.0, 1.0],
            };
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Blocks of (sum_y, weight, x_min, x_max), merged while they violate order.
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        for &(x, y) in pairs.iter() {
            match blocks.last_mut() {
                // Equal x must get one fitted value: pool ties up front.
                Some(last) if last.3 == x => {
                    last.0 += y;
                    last.1 += 1.0;
                }
                _ => blocks.push((y, 1.0, x, x)),
            }
            while blocks.len() >= 2 {
                let (s2, w2, _, hi2) = blocks[blocks.len() - 1];
                let (s1, w1, lo1, _) = blocks[blocks.len() - 2];
                if s1 / w1 < s2 / w2 {
                    break;
                }
                blocks.truncate(blocks.len() - 2);
                blocks.push((s1 + s2, w1 + w2, lo1, hi2));
            }
        }
        // Each block becomes a flat segment from its first to its last x.
        let mut xs = Vec::with_capacity(blocks.len() * 2);
        let mut ys = Vec::with_capacity(blocks.len() * 2);
        for (s, w, lo, hi) in blocks {
            let y = s / w;
            xs.push(lo);
            ys.push(y);
            if hi > lo {
                xs.push(hi);
                ys.push(y);
            }
        }
        Isotonic { xs, ys }
    }

    pub fn apply(&self, x: f64) -> f64 {
        let n = self.xs.len();
        if n == 0 {
            return x;
        }
        if x <= self.xs[0] {
            return self.ys[0];
        }
        if x >= self.xs[n - 1] {
            return self.ys[n - 1];
        }
        let i = self.xs.partition_point(|&k| k <= x); // xs[i-1] <= x < xs[i]
        let (x0, x1, y0, y1) = (self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]);
        if x1 == x0 {
            y1
        } else {
            y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pools_violators() {
        let mut p = vec![(0.1, 0.0), (0.2, 1.0), (0.3, 0.0), (0.4, 1.0)];
        let f = Isotonic::fit(&mut p);
        assert_eq!(f.apply(0.1), 0.0);
        assert_eq!(f.apply(0.2), 0.5);
        assert_eq!(f.apply(0.3), 0.5);
        assert_eq!(f.apply(0.4), 1.0);
        assert!((f.apply(0.35) - 0.75).abs() < 1e-12);
        assert_eq!(f.apply(9.0), 1.0);
    }

    proptest! {
        #[test]
        fn result_is_monotone_and_preserves_the_mean(
            mut pairs in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 1..60)
        ) {
            let mean: f64 = pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64;
            let f = Isotonic::fit(&mut pairs);
            let fitted: f64 = pairs.iter().map(|p| f.apply(p.0)).sum::<f64>() / pairs.len() as f64;
            // Ties in x share one block, so the fitted mean equals the data mean.
            prop_assert!((fitted - mean).abs() < 1e-9);
            let mut prev = f64::NEG_INFINITY;
            for i in 0..=100 {
                let y = f.apply(i as f64 / 100.0);
                prop_assert!(y >= prev - 1e-12);
                prev = y;
            }
        }
    }
}
