//! A predicted dwell distribution: P(dwell ≤ t) on a fixed grid of hours,
//! plus the point estimate. "Dwell" is how long the package holds its
//! compartment — until pickup, or until retrieval if it expires — so below the
//! pickup window P(dwell ≤ t) is the probability of a pickup within t.

/// The hours at which a model states P(dwell ≤ t). Dense where pickups are
/// (the first two days), sparse beyond the usual three-day pickup window.
pub const GRID_HOURS: [f64; GRID_LEN] = [
    1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 21.0, 24.0, 30.0, 36.0, 42.0, 48.0, 54.0,
    60.0, 66.0, 72.0, 84.0, 96.0, 120.0, 168.0,
];
pub const GRID_LEN: usize = 24;

/// The horizons reports and the calibration table speak about.
pub const REPORT_HOURS: [f64; 5] = [6.0, 12.0, 24.0, 48.0, 72.0];

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DwellPrediction {
    /// Expected dwell (hours).
    pub mean_hours: f64,
    /// P(dwell ≤ `GRID_HOURS[i]`), non-decreasing.
    pub cdf: [f64; GRID_LEN],
}

impl DwellPrediction {
    /// P(dwell ≤ hours), linear between grid points, from (0 h, 0).
    pub fn p_within(&self, hours: f64) -> f64 {
        if hours <= 0.0 {
            return 0.0;
        }
        let i = grid_points_below(hours);
        if i == GRID_LEN {
            return self.cdf[GRID_LEN - 1];
        }
        let (h0, p0) = if i == 0 {
            (0.0, 0.0)
        } else {
            (GRID_HOURS[i - 1], self.cdf[i - 1])
        };
        p0 + (self.cdf[i] - p0) * (hours - h0) / (GRID_HOURS[i] - h0)
    }

    /// The q-quantile of dwell (hours), inverting the same piecewise-linear
    /// CDF; the last grid point when q is never reached.
    pub fn quantile(&self, q: f64) -> f64 {
        let mut h0 = 0.0;
        let mut p0 = 0.0;
        for (i, &p1) in self.cdf.iter().enumerate() {
            let h1 = GRID_HOURS[i];
            if p1 >= q {
                if p1 <= p0 {
                    return h1;
                }
                return h0 + (h1 - h0) * ((q - p0) / (p1 - p0)).clamp(0.0, 1.0);
            }
            h0 = h1;
            p0 = p1;
        }
        GRID_HOURS[GRID_LEN - 1]
    }

    /// P(dwell ≤ elapsed + h | dwell > elapsed): the chance a package that has
    /// sat `elapsed` hours is gone within `h` more.
    pub fn p_within_given(&self, elapsed: f64, h: f64) -> f64 {
        self.p_within_given_gone(elapsed, self.p_within(elapsed), h)
    }

    /// `p_within_given` with `gone = p_within(elapsed)` already known (a
    /// caller asking about several horizons computes it once).
    pub fn p_within_given_gone(&self, elapsed: f64, gone: f64, h: f64) -> f64 {
        if gone >= 1.0 - 1e-9 {
            return 1.0;
        }
        ((self.p_within(elapsed + h) - gone) / (1.0 - gone)).clamp(0.0, 1.0)
    }
}

/// How many grid points lie below `hours` (> 0): the grid's hours are
/// whole, so that is the count below ⌈hours⌉, read from a table (the
/// forecast check asks this for every occupant at every checkpoint).
fn grid_points_below(hours: f64) -> usize {
    const LAST: usize = GRID_HOURS[GRID_LEN - 1] as usize;
    const BELOW: [u8; LAST + 2] = {
        let mut t = [0u8; LAST + 2];
        let (mut n, mut i) = (0, 0);
        while n <= LAST + 1 {
            while i < GRID_LEN && (GRID_HOURS[i] as usize) < n {
                i += 1;
            }
            t[n] = i as u8;
            n += 1;
        }
        t
    };
    if hours > LAST as f64 {
        return GRID_LEN;
    }
    let whole = hours as usize;
    let ceil = if (whole as f64) < hours {
        whole + 1
    } else {
        whole
    };
    BELOW[ceil] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear() -> DwellPrediction {
        // P(dwell ≤ t) = t / 168 on the grid.
        let mut cdf = [0.0; GRID_LEN];
        for (c, h) in cdf.iter_mut().zip(GRID_HOURS) {
            *c = h / 168.0;
        }
        DwellPrediction {
            mean_hours: 84.0,
            cdf,
        }
    }

    #[test]
    fn interpolates_and_inverts() {
        let p = linear();
        assert!((p.p_within(5.0) - 5.0 / 168.0).abs() < 1e-12);
        assert!((p.p_within(0.5) - 0.5 / 168.0).abs() < 1e-12);
        assert_eq!(p.p_within(500.0), 1.0);
        assert!((p.quantile(0.5) - 84.0).abs() < 1e-9);
        assert!((p.quantile(0.9) - 151.2).abs() < 1e-9);
        for q in [0.01, 0.2, 0.77] {
            assert!((p.p_within(p.quantile(q)) - q).abs() < 1e-9);
        }
    }

    #[test]
    fn the_grid_table_counts_like_a_search() {
        let mut h: f64 = 1e-6;
        while h < 200.0 {
            for x in [h, h.floor(), h.ceil(), h.next_up(), h.next_down()] {
                if x > 0.0 {
                    let want = GRID_HOURS.partition_point(|&g| g < x);
                    assert_eq!(grid_points_below(x), want, "{x}");
                }
            }
            h += 0.37;
        }
        assert_eq!(grid_points_below(f64::INFINITY), GRID_LEN);
        assert_eq!(grid_points_below(f64::MAX), GRID_LEN);
    }

    #[test]
    fn conditions_on_time_already_spent() {
        let p = linear();
        let c = p.p_within_given(84.0, 42.0);
        assert!((c - 0.5).abs() < 1e-9, "{c}");
        assert_eq!(p.p_within_given(168.0, 1.0), 1.0);
    }
}
