//! The forecasting lab end to end on the shipped sample: the forest beats
//! every baseline, is calibrated, trains identically on any thread count,
//! and its files refuse to load when they don't match.

use lockerlab::data::{read_history, training::training_set};
use lockerlab::forecast::baselines::{BaselineKind, Baselines};
use lockerlab::forecast::eval;
use lockerlab::forecast::model::TrainingData;
use lockerlab::forecast::train::{train, TrainingSet};
use lockerlab::forecast::{DwellModel, Hyperparameters, Trainer};
use std::path::Path;
use std::sync::OnceLock;

fn load(path: &str) -> TrainingSet {
    training_set(&read_history(Path::new(path), false).unwrap().records)
}

fn data() -> &'static (TrainingSet, TrainingSet) {
    static DATA: OnceLock<(TrainingSet, TrainingSet)> = OnceLock::new();
    DATA.get_or_init(|| {
        (
            load("data/history-train.parquet"),
            load("data/history-holdout.parquet"),
        )
    })
}

fn fit(set: &TrainingSet, hp: &Hyperparameters) -> DwellModel {
    let info = TrainingData {
        file: "test".into(),
        sha256: String::new(),
        rows: set.len() as u64,
    };
    train(set, hp, info).unwrap()
}

fn model() -> &'static DwellModel {
    static MODEL: OnceLock<DwellModel> = OnceLock::new();
    MODEL.get_or_init(|| fit(&data().0, &Hyperparameters::default()))
}

#[test]
fn the_forest_beats_every_baseline_and_is_calibrated_on_holdout() {
    let (train_set, holdout) = data();
    let m = model();
    let preds = eval::predict_forest(holdout, m);
    let forest = eval::score("forest", holdout, &preds).metrics;
    let baselines = Baselines::fit(train_set);
    for kind in BaselineKind::ALL {
        let p = eval::predict_all(holdout, |x| baselines.predict(kind, x));
        let b = eval::score(kind.name(), holdout, &p).metrics;
        assert!(
            forest.mae_hours < b.mae_hours,
            "{}: forest {} vs {}",
            kind.name(),
            forest.mae_hours,
            b.mae_hours
        );
        assert!(forest.rmse_hours < b.rmse_hours, "{}", kind.name());
        assert!(
            forest.pinball_50_hours < b.pinball_50_hours,
            "{}",
            kind.name()
        );
    }
    assert!(forest.max_calibration_error <= 0.03, "{forest:?}");
    // Calibration in the large, horizon by horizon.
    for h in eval::horizon_table(holdout, &preds) {
        assert!((h.mean_predicted - h.observed).abs() < 0.015, "{h:?}");
    }
}

#[test]
fn training_gives_the_same_forest_on_one_and_two_threads() {
    let (train_set, holdout) = data();
    let hp = Hyperparameters {
        trees: 12,
        ..Hyperparameters::default()
    };
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(train_set, &hp))
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(one, two);
    assert_eq!(one.meta.forest_sha256, two.meta.forest_sha256);
    // Another seed is another forest.
    let other = fit(train_set, &Hyperparameters { seed: 2, ..hp });
    assert_ne!(other.meta.forest_sha256, one.meta.forest_sha256);
    let x = &holdout.x[0];
    assert_eq!(one.predict_vector(x), two.predict_vector(x));
}

#[test]
fn trees_differ_and_predictions_are_proper_distributions() {
    let m = model();
    let trees = m.trees();
    assert_eq!(trees.len(), 100);
    assert_ne!(trees[0], trees[1]);
    let xs = &data().1.x[..500];
    let batched = m.predict_many(xs);
    for (x, b) in xs.iter().zip(&batched) {
        let p = m.predict_vector(x);
        // Tree by tree over a batch or row by row: the same sums.
        assert_eq!(&p, b);
        assert!(p.mean_hours > 0.0 && p.mean_hours < 200.0);
        assert!(p.cdf.windows(2).all(|w| w[0] <= w[1]), "{:?}", p.cdf);
        assert!(p.cdf.iter().all(|c| (0.0..=1.0).contains(c)));
        let (q50, q90) = (p.quantile(0.5), p.quantile(0.9));
        assert!(q50 <= q90);
    }
}

#[test]
fn model_files_round_trip_and_refuse_mismatches() {
    let m = model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    m.save(&path).unwrap();
    let back = DwellModel::load(&path).unwrap();
    assert_eq!(&back, m);

    // A flipped byte in the forest: the hash no longer matches.
    let forest = path.join("forest.bin");
    let mut bytes = std::fs::read(&forest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&forest, &bytes).unwrap();
    let err = DwellModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("sha256"), "{err}");

    // A model trained on another feature list.
    m.save(&path).unwrap();
    let meta = path.join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(
        &meta,
        text.replace("\"deposit_hour\"", "\"deposit_minute\""),
    )
    .unwrap();
    let err = DwellModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("feature schema mismatch"), "{err}");
    assert!(err.contains("deposit_minute"), "{err}");
}

#[test]
fn bad_hyperparameters_are_refused() {
    let set = &data().0;
    for hp in [
        Hyperparameters {
            trees: 0,
            ..Default::default()
        },
        Hyperparameters {
            sample_fraction: 1.0,
            ..Default::default()
        },
        Hyperparameters {
            calibration_fraction: 0.0,
            ..Default::default()
        },
        Hyperparameters {
            max_depth: 0,
            ..Default::default()
        },
        Hyperparameters {
            max_features: 0.0,
            ..Default::default()
        },
        // smartcore cannot draw features per split.
        Hyperparameters {
            trainer: Trainer::Smartcore,
            max_features: 0.5,
            ..Default::default()
        },
    ] {
        let info = TrainingData {
            file: "t".into(),
            sha256: String::new(),
            rows: 0,
        };
        assert!(train(set, &hp, info).is_err(), "{hp:?}");
    }
}

/// The histogram trainer against the reference (smartcore's trees), on the
/// same rows with the same hyperparameters (every feature at every split,
/// which is all smartcore does): forests of equal accuracy on the holdout.
#[test]
fn the_histogram_and_smartcore_trainers_give_forests_of_equal_accuracy() {
    let (train_set, holdout) = data();
    let hp = Hyperparameters {
        trees: 16,
        max_features: 1.0,
        refit_on_all_rows: false,
        sample_fraction: 0.5,
        ..Hyperparameters::default()
    };
    let score = |trainer| {
        let m = fit(
            train_set,
            &Hyperparameters {
                trainer,
                ..hp.clone()
            },
        );
        assert_eq!(m.meta.hyperparameters.trainer, trainer);
        eval::score("forest", holdout, &eval::predict_forest(holdout, &m)).metrics
    };
    let (fast, reference) = (score(Trainer::Histogram), score(Trainer::Smartcore));
    let baselines = Baselines::fit(train_set);
    let tier_kind = eval::score(
        "tier x kind",
        holdout,
        &eval::predict_all(holdout, |x| {
            baselines.predict(BaselineKind::TierKindEmpirical, x)
        }),
    )
    .metrics;
    for m in [&fast, &reference] {
        assert!(m.mae_hours < tier_kind.mae_hours, "{m:?} vs {tier_kind:?}");
    }
    assert!(
        (fast.mae_hours - reference.mae_hours).abs() < 0.005 * reference.mae_hours,
        "MAE {} vs {}",
        fast.mae_hours,
        reference.mae_hours
    );
    assert!(
        (fast.r2 - reference.r2).abs() < 0.01,
        "{fast:?} vs {reference:?}"
    );
    assert!(fast.max_calibration_error < 0.02, "{fast:?}");
}

/// Models written before the trainer, max_features and cross-fitting were
/// hyperparameters load as what trained them.
#[test]
fn models_from_before_the_histogram_trainer_load_as_smartcore_forests() {
    // models/city as it was trained in November 2026.
    let city = DwellModel::load(Path::new("tests/fixtures/legacy-city-model")).unwrap();
    let hp = &city.meta.hyperparameters;
    assert_eq!(hp.trainer, Trainer::Smartcore);
    assert_eq!(hp.max_features, 1.0);
    assert!(!hp.refit_on_all_rows);
    // A new model records all three.
    let text = serde_json::to_string(&model().meta).unwrap();
    for field in [
        "\"trainer\":\"histogram\"",
        "\"max_features\":0.25",
        "\"refit_on_all_rows\":true",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
}
