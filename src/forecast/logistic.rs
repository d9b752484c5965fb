//! Logistic recalibration (Platt scaling on the logit of the forest's
//! probability): p' = σ(a·logit(p) + b). Two parameters per horizon, so
//! it needs far fewer calibration rows than isotonic regression to be
//! stable; a > 1 undoes the forest's habit of shrinking probabilities
//! toward the middle.

use super::isotonic::Isotonic;

const EPS: f64 = 1e-4;

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits (a, b) by Newton's method on the log-loss, with a little ridge
/// toward the identity (a = 1, b = 0) so separable data stay finite.
pub fn fit(pairs: &[(f64, f64)]) -> (f64, f64) {
    const RIDGE: f64 = 1e-3;
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..50 {
        // Gradient and Hessian of the mean log-loss plus the ridge.
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(p, y) in pairs {
            let z = logit(p);
            let q = sigmoid(a * z + b);
            let w = q * (1.0 - q);
            ga += (q - y) * z;
            gb += q - y;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let n = pairs.len().max(1) as f64;
        let (ga, gb) = (ga / n + RIDGE * (a - 1.0), gb / n + RIDGE * b);
        let (haa, hab, hbb) = (haa / n + RIDGE, hab / n, hbb / n + RIDGE);
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    // A non-increasing map would not be a calibration.
    (a.max(0.01), b)
}

/// The fitted curve as piecewise-linear knots (dense where it bends), so the
/// model file keeps a single kind of calibration map.
pub fn to_knots(a: f64, b: f64) -> Isotonic {
    let mut xs = vec![0.0];
    let mut ys = vec![sigmoid(a * logit(0.0) + b)];
    for i in 1..200 {
        // Uniform in logit space between 1e-3 and 1 - 1e-3.
        let z = -6.9 + 13.8 * i as f64 / 200.0;
        let p = sigmoid(z);
        xs.push(p);
        ys.push(sigmoid(a * z + b));
    }
    xs.push(1.0);
    ys.push(sigmoid(a * logit(1.0) + b));
    Isotonic { xs, ys }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn recovers_a_known_distortion() {
        // True probability t; the forest reports σ(logit(t) / 2) (shrunk to
        // the middle). The fit must find a ≈ 2, b ≈ 0.
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let pairs: Vec<(f64, f64)> = (0..40_000)
            .map(|_| {
                let t: f64 = rng.gen_range(0.02..0.98);
                let reported = sigmoid(logit(t) / 2.0);
                let y = if rng.gen::<f64>() < t { 1.0 } else { 0.0 };
                (reported, y)
            })
            .collect();
        let (a, b) = fit(&pairs);
        assert!((a - 2.0).abs() < 0.1, "a = {a}");
        assert!(b.abs() < 0.05, "b = {b}");
        let map = to_knots(a, b);
        let x = sigmoid(logit(0.9) / 2.0);
        assert!((map.apply(x) - 0.9).abs() < 0.01, "{}", map.apply(x));
    }
}
