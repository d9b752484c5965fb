//! A log-linear histogram of non-negative integers (HDR-style): exact below
//! 1024, then 512 sub-buckets per power of two, so any quantile is within
//! 0.2% of the true value while memory stays a few kilobytes.

const SUB_BITS: u32 = 10;
const EXACT: u64 = 1 << SUB_BITS;
const HALF: u64 = EXACT / 2;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogHistogram {
    counts: Vec<u64>,
    total: u64,
}

fn index(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - (SUB_BITS - 1);
    let sub = v >> shift; // in [HALF, EXACT)
    (EXACT + (e - SUB_BITS) as u64 * HALF + (sub - HALF)) as usize
}

/// The [low, high) range of values that fall in bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < EXACT {
        return (i, i + 1);
    }
    let e = (i - EXACT) / HALF + SUB_BITS as u64;
    let sub = (i - EXACT) % HALF + HALF;
    let shift = e - (SUB_BITS as u64 - 1);
    (sub << shift, (sub + 1) << shift)
}

impl LogHistogram {
    pub fn record(&mut self, v: u64) {
        let i = index(v);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn merge(&mut self, other: &LogHistogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The q-quantile (nearest rank), as the midpoint of its bucket; None if empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bounds(i);
                return Some(if hi - lo == 1 {
                    lo as f64
                } else {
                    (lo + hi - 1) as f64 / 2.0
                });
            }
        }
        unreachable!("rank <= total")
    }

    /// Non-empty buckets as (low, high, count), for charts.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| {
                let (lo, hi) = bounds(i);
                (lo, hi, c)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_tile_the_line() {
        for i in 0..20_000 {
            let (lo, hi) = bounds(i);
            assert_eq!(index(lo), i);
            assert_eq!(index(hi - 1), i);
            assert_eq!(bounds(i + 1).0, hi);
        }
    }

    proptest! {
        #[test]
        fn quantiles_are_within_two_tenths_of_a_percent(mut values in proptest::collection::vec(0u64..10_000_000_000, 1..500), q in 0.0f64..1.0) {
            let mut h = LogHistogram::default();
            for &v in &values { h.record(v); }
            values.sort();
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q).unwrap();
            prop_assert!((got - exact).abs() <= exact * 0.002 + 0.5, "q={} exact={} got={}", q, exact, got);
        }
    }
}
