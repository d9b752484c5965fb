//! Small statistics helpers: mean and 95% confidence half-widths across
//! replications (Student's t).

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// t_{0.975, df}; beyond the table, the Cornish–Fisher expansion around the
/// normal quantile (error < 1e-4 for df > 30).
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    if df <= 30 {
        return T975[df - 1];
    }
    let z: f64 = 1.959_964;
    let d = df as f64;
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
}

/// Mean of the finite values (NaN if none).
pub fn mean(xs: &[f64]) -> f64 {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.iter().sum::<f64>() / finite.len() as f64
}

/// Half-width of the 95% confidence interval of the mean (NaN below 2 values).
pub fn ci95_half_width(xs: &[f64]) -> f64 {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = finite.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = finite.iter().sum::<f64>() / n as f64;
    let var = finite.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    t975(n - 1) * (var / n as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_join_the_normal() {
        assert!((t975(30) - 2.042).abs() < 1e-3);
        assert!((t975(31) - 2.040).abs() < 1e-3);
        assert!((t975(120) - 1.980).abs() < 1e-3);
        assert!((t975(100_000) - 1.960).abs() < 1e-3);
    }

    #[test]
    fn ci_of_known_sample() {
        // mean 3, sd 1.5811, n 5: 2.776 * 1.5811 / sqrt(5) = 1.963
        let hw = ci95_half_width(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((hw - 1.963).abs() < 1e-3, "{hw}");
        assert!(ci95_half_width(&[1.0]).is_nan());
    }
}
