//! The forecasting lab end to end on the shipped sample: the forest beats
//! every baseline, is calibrated, trains identically on any thread count,
//! and its files refuse to load when they don't match.

use lockerlab::data::{read_history, training::training_set};
use lockerlab::forecast::baselines::{BaselineKind, Baselines};
use lockerlab::forecast::eval;
use lockerlab::forecast::model::TrainingData;
use lockerlab::forecast::train::{train, TrainingSet};
use lockerlab::forecast::{DwellModel, Hyperparameters};
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
    let preds = eval::predict_all(holdout, |x| m.predict_vector(x));
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
    for x in data().1.x.iter().take(500) {
        let p = m.predict_vector(x);
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
    ] {
        let info = TrainingData {
            file: "t".into(),
            sha256: String::new(),
            rows: 0,
        };
        assert!(train(set, &hp, info).is_err(), "{hp:?}");
    }
}
