//! `lockerlab forecast bench`: how fast the forest trains and predicts, and
//! how accurate it is doing so, on one history file — the table the
//! scikit-learn comparison (tools/sklearn_forest.py) sits beside.

use super::forecast::{bad, load_rows, DataOpts, HyperArgs};
use super::{CmdResult, Failure};
use lockerlab::forecast::eval;
use lockerlab::forecast::model::TrainingData;
use lockerlab::forecast::train::{calibration_folds, train_observed, trees_to_grow, TrainingSet};
use lockerlab::forecast::{DwellFeatures, DwellModel, Hyperparameters, Trainer};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Time training (histogram trainer on 1 and 2 threads; with --smartcore the
/// reference trainer too) and prediction, and score each forest on held-out
/// rows: the hyperparameters are `forecast train`'s.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast bench data/history-train.parquet --holdout data/history-holdout.parquet --smartcore"
)]
pub struct BenchArgs {
    /// History file to train on.
    data: PathBuf,
    /// History file to score on; without one, every fifth row of DATA is
    /// held out of training.
    #[arg(long, value_name = "FILE")]
    holdout: Option<PathBuf>,
    /// Also train with the reference trainer (smartcore's trees, every
    /// feature at every split; slow).
    #[arg(long)]
    smartcore: bool,
    #[command(flatten)]
    hyper: HyperArgs,
    #[command(flatten)]
    data_opts: DataOpts,
}

struct Row {
    label: String,
    threads: usize,
    fit_secs: f64,
    model: DwellModel,
}

pub fn run(a: &BenchArgs) -> CmdResult {
    let hp = a.hyper.hyperparameters();
    lockerlab::forecast::train::check_hyperparameters(&hp).map_err(bad)?;
    let (features, all) = load_rows(&a.data, &a.data_opts)?;
    let (set, test, test_features) = match &a.holdout {
        Some(path) => {
            let (test_features, test) = load_rows(path, &a.data_opts)?;
            (all, test, test_features)
        }
        None => split_every_fifth(&features, all),
    };
    let info = || TrainingData {
        file: a.data.display().to_string(),
        sha256: String::new(),
        rows: set.len() as u64,
    };
    println!(
        "{} training rows, {} held out ({}), {} features; {} trees, max depth {}, \
         leaf >= {}, {:.0}% of the rows per tree, max_features {}, {}",
        set.len(),
        test.len(),
        a.holdout
            .as_ref()
            .map_or("every fifth row".to_string(), |p| p.display().to_string()),
        lockerlab::forecast::FEATURE_COUNT,
        hp.trees,
        hp.max_depth,
        hp.min_samples_leaf,
        hp.sample_fraction * 100.0,
        hp.max_features,
        if hp.refit_on_all_rows {
            format!(
                "calibration cross-fitted in {} folds",
                calibration_folds(&hp)
            )
        } else {
            format!(
                "{:.0}% of the rows kept for calibration",
                hp.calibration_fraction * 100.0
            )
        }
    );
    let reference = Hyperparameters {
        trainer: Trainer::Smartcore,
        max_features: 1.0,
        ..hp.clone()
    };
    let trees = 2 * trees_to_grow(&hp)
        + if a.smartcore {
            trees_to_grow(&reference)
        } else {
            0
        };
    let bar = super::progress::bar(a.data_opts.quiet, trees, "trees");
    let grown = || bar.inc(1);
    let mut rows = Vec::new();
    for threads in [1usize, 2] {
        let (model, secs) = timed_fit(&set, &hp, info(), threads, &grown)?;
        rows.push(Row {
            label: "histogram".into(),
            threads,
            fit_secs: secs,
            model,
        });
    }
    if a.smartcore {
        let (model, secs) = timed_fit(&set, &reference, info(), 2, &grown)?;
        rows.push(Row {
            label: "smartcore (every feature)".into(),
            threads: 2,
            fit_secs: secs,
            model,
        });
    }
    bar.finish_and_clear();
    println!(
        "\n{:<26} {:>7} {:>7} {:>8} {:>8} {:>7} {:>8} {:>8}",
        "trainer", "threads", "fit s", "MAE h", "RMSE h", "R2", "max cal", "nodes"
    );
    for r in &rows {
        let preds = eval::predict_forest(&test, &r.model);
        let m = eval::score("forest", &test, &preds).metrics;
        println!(
            "{:<26} {:>7} {:>7.2} {:>8.3} {:>8.3} {:>7.4} {:>8.4} {:>8}",
            r.label,
            r.threads,
            r.fit_secs,
            m.mae_hours,
            m.rmse_hours,
            m.r2,
            m.max_calibration_error,
            r.model.meta.nodes
        );
    }
    println!(
        "\nhistogram trainer, 1 vs 2 threads: {:.2}x faster, identical forests: {}",
        rows[0].fit_secs / rows[1].fit_secs,
        rows[0].model.meta.forest_sha256 == rows[1].model.meta.forest_sha256
    );
    predict_throughput(&rows[1].model, &test, &test_features)
}

fn timed_fit(
    set: &TrainingSet,
    hp: &Hyperparameters,
    info: TrainingData,
    threads: usize,
    grown: &(dyn Fn() + Sync),
) -> Result<(DwellModel, f64), Failure> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    let started = Instant::now();
    let model = pool
        .install(|| train_observed(set, hp, info, grown))
        .map_err(bad)?;
    Ok((model, started.elapsed().as_secs_f64()))
}

/// Rows 0–3 of every five train, row 4 is held out.
fn split_every_fifth(
    features: &[DwellFeatures],
    all: TrainingSet,
) -> (TrainingSet, TrainingSet, Vec<DwellFeatures>) {
    let (mut set, mut test) = (TrainingSet::default(), TrainingSet::default());
    let mut test_features = Vec::new();
    for (i, (x, y)) in all.x.into_iter().zip(all.y).enumerate() {
        let part = if i % 5 == 4 {
            test_features.push(features[i]);
            &mut test
        } else {
            &mut set
        };
        part.x.push(x);
        part.y.push(y);
    }
    (set, test, test_features)
}

/// Full distributions (24 calibrated probabilities and a mean) per second on
/// 2 threads: walking the forest for every row, and answering from the
/// memo for feature keys predicted before (the simulator's common case).
fn predict_throughput(
    model: &DwellModel,
    test: &TrainingSet,
    features: &[DwellFeatures],
) -> CmdResult {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    let rate = |secs: f64| test.len() as f64 / secs.max(1e-9);
    let (cold, memoized) = pool.install(|| {
        let started = Instant::now();
        let _walked = eval::predict_forest(test, model);
        let cold = started.elapsed().as_secs_f64();
        // Fill the memo, then time reading it back.
        features.par_iter().for_each(|f| {
            model.predict_memoized(f);
        });
        let started = Instant::now();
        let _memo: Vec<_> = features
            .par_iter()
            .map(|f| model.predict_memoized(f))
            .collect();
        let memoized = started.elapsed().as_secs_f64();
        (cold, memoized)
    });
    println!(
        "predict, full distribution, 2 threads: {:.0} rows/s walking the forest, \
         {:.0} rows/s for feature keys seen before",
        rate(cold),
        rate(memoized)
    );
    Ok(())
}
