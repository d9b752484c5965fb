//! `lockerlab forecast train | eval | predict | check | bench | features`: the
//! dwell-time lab (`bench` is in forecast_bench.rs, `train-demand` and the
//! demand model's eval and check in forecast_demand.rs).

use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::data::{self, training::training_rows};
use lockerlab::forecast::baselines::Baselines;
use lockerlab::forecast::demand::DemandModel;
use lockerlab::forecast::eval::{self, MetricSet};
use lockerlab::forecast::model::{load_meta, CalibrationMethod, Evaluation, TrainingData};
use lockerlab::forecast::train::{train_observed, trees_to_grow, TrainingSet};
use lockerlab::forecast::{
    charts, DwellFeatures, DwellModel, DwellPrediction, Hyperparameters, TrackedMetrics, Trainer,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Train, evaluate and regression-check dwell-time and demand forecast models.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Train(TrainArgs),
    TrainDemand(super::forecast_demand::TrainDemandArgs),
    DemandFeatures(super::forecast_demand::DemandFeaturesArgs),
    Eval(EvalArgs),
    Predict(PredictArgs),
    Check(CheckArgs),
    Bench(super::forecast_bench::BenchArgs),
    Features(FeaturesArgs),
}

/// Options shared by every command that reads a history file.
#[derive(clap::Args)]
pub(super) struct DataOpts {
    /// Skip rows that fail validation (and report how many, and why) instead
    /// of stopping at the first.
    #[arg(long)]
    pub(super) skip_bad_rows: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(super) threads: Option<u32>,
    /// No progress bar on stderr.
    #[arg(short, long)]
    pub(super) quiet: bool,
}

/// Fit a calibrated quantile-regression forest on a history file (CSV or
/// Parquet, docs/data.md) and write it to a model directory: meta.json,
/// forest.bin, baselines.json.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast train data/history-train.parquet --out-dir models/mine --holdout data/history-holdout.parquet"
)]
struct TrainArgs {
    /// History file to train on.
    data: PathBuf,
    /// Model directory to write (e.g. models/NAME).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Also evaluate on this file and record the metrics in meta.json, where
    /// `forecast check --baseline` reads them.
    #[arg(long, value_name = "FILE")]
    holdout: Option<PathBuf>,
    #[command(flatten)]
    hyper: HyperArgs,
    #[command(flatten)]
    data_opts: DataOpts,
}

/// The forest's hyperparameters (recorded in meta.json).
#[derive(clap::Args)]
pub(super) struct HyperArgs {
    /// Trees in the forest.
    #[arg(long, default_value_t = Hyperparameters::default().trees)]
    trees: u32,
    /// Deepest a tree grows.
    #[arg(long, default_value_t = Hyperparameters::default().max_depth)]
    max_depth: u16,
    /// Fewest training rows a leaf holds.
    #[arg(long, default_value_t = Hyperparameters::default().min_samples_leaf)]
    min_samples_leaf: u32,
    /// Fewest rows a node needs to be split.
    #[arg(long, default_value_t = Hyperparameters::default().min_samples_split)]
    min_samples_split: u32,
    /// Share of the tree-training rows each tree sees (without replacement).
    #[arg(long, default_value_t = Hyperparameters::default().sample_fraction)]
    sample_fraction: f64,
    /// Cap on the rows each tree sees.
    #[arg(long, default_value_t = Hyperparameters::default().max_tree_rows)]
    max_tree_rows: u32,
    /// Share of the features examined at each split, drawn per node
    /// (scikit-learn's max_features).
    #[arg(long, default_value_t = Hyperparameters::default().max_features)]
    max_features: f64,
    /// Share of rows each calibration forest leaves out, to calibrate the
    /// probabilities on (1 / it cross-fitting folds).
    #[arg(long, default_value_t = Hyperparameters::default().calibration_fraction)]
    calibration_fraction: f64,
    /// How probabilities are recalibrated on those rows.
    #[arg(long, value_enum, default_value = "isotonic")]
    calibration: CalibrationMethod,
    /// Fit the maps on rows no tree of the shipped forest saw, instead of
    /// cross-fitting them and growing the shipped forest on every row
    /// (faster; how models were trained before).
    #[arg(long)]
    no_refit: bool,
    /// Which implementation grows the trees: the histogram trainer, or
    /// smartcore's (the slower reference; needs --max-features 1).
    #[arg(long, value_enum, default_value = "histogram")]
    trainer: Trainer,
    /// Seed of the row samples and feature draws (same seed, same forest).
    #[arg(long, default_value_t = Hyperparameters::default().seed)]
    seed: u64,
}

impl HyperArgs {
    pub(super) fn hyperparameters(&self) -> Hyperparameters {
        Hyperparameters {
            trees: self.trees,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            min_samples_split: self.min_samples_split,
            sample_fraction: self.sample_fraction,
            max_tree_rows: self.max_tree_rows,
            max_features: self.max_features,
            calibration_fraction: self.calibration_fraction,
            refit_on_all_rows: !self.no_refit,
            calibration: self.calibration,
            trainer: self.trainer,
            seed: self.seed,
        }
    }
}

/// Evaluate a model and the baselines on a history file: MAE, RMSE, R²,
/// pinball losses, calibration table; with --report, charts and JSON too.
/// A demand model (with --scenario): MAE, MAPE and WAPE against seasonal
/// naive and the trailing 7-day mean, every day and event days.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast eval models/default data/history-holdout.parquet --report reports/forecast"
)]
struct EvalArgs {
    /// Model directory (written by `forecast train` or `train-demand`).
    model: PathBuf,
    /// History file to evaluate on (ideally not the training file).
    data: PathBuf,
    /// For a demand model: the scenario whose run wrote DATA (its calendar
    /// dates the rows).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Write metrics.json, calibration.csv, importance.csv and PNG/SVG charts here.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    data_opts: DataOpts,
}

/// Write a model's forecast for every deposited package of a history file:
/// the mean, the 10/50/90% quantiles and P(dwell <= 6, 12, 24, 48, 72 h),
/// from what was known at deposit, beside the dwell that happened (empty
/// while a package is still in its compartment).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast predict models/default data/history-holdout.parquet --out pred.parquet"
)]
struct PredictArgs {
    /// Model directory (written by `forecast train`).
    model: PathBuf,
    /// History file whose deposited packages to forecast.
    data: PathBuf,
    /// File to write: .csv or .parquet.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    data_opts: DataOpts,
}

/// Exit 3 if any tracked metric of MODEL on DATA is worse than the baseline
/// metadata's by more than the tolerance (relative for errors in hours,
/// absolute for R² and calibration error). A demand model (with
/// --scenario) must also beat both baselines' WAPE.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast check models/mine data/history-holdout.parquet --baseline models/default/meta.json --tolerance 0.02"
)]
struct CheckArgs {
    /// Model directory to check.
    model: PathBuf,
    /// History file to score it on.
    data: PathBuf,
    /// For a demand model: the scenario whose run wrote DATA.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// A model's meta.json (a demand model's demand-meta.json) holding an
    /// `evaluation` (train with --holdout).
    #[arg(long, value_name = "META.json")]
    baseline: PathBuf,
    /// How much worse a metric may be: a share of the baseline's value for
    /// errors in hours, an absolute amount for R² and calibration error.
    #[arg(long, default_value_t = 0.02)]
    tolerance: f64,
    #[command(flatten)]
    data_opts: DataOpts,
}

/// Write the feature matrix the forest sees (one row per deposited package
/// whose stay ended, columns in the model's feature order, then the dwell in
/// hours) as CSV: for fitting other learners on exactly the same inputs.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast features data/history-train.parquet --out features.csv"
)]
struct FeaturesArgs {
    /// History file to encode.
    data: PathBuf,
    /// CSV file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    data_opts: DataOpts,
}

pub fn run(args: Args) -> CmdResult {
    match args.command {
        Command::Train(a) => with_threads(a.data_opts.threads, || train_cmd(&a)),
        Command::TrainDemand(a) => with_threads(a.data_opts.threads, || {
            super::forecast_demand::train_cmd(&a)
        }),
        Command::DemandFeatures(a) => super::forecast_demand::features_cmd(&a),
        Command::Eval(a) => with_threads(a.data_opts.threads, || eval_cmd(&a)),
        Command::Predict(a) => with_threads(a.data_opts.threads, || predict_cmd(&a)),
        Command::Check(a) => with_threads(a.data_opts.threads, || check_cmd(&a)),
        Command::Bench(a) => super::forecast_bench::run(&a),
        Command::Features(a) => features_cmd(&a),
    }
}

fn with_threads(threads: Option<u32>, f: impl FnOnce() -> CmdResult + Send) -> CmdResult {
    super::thread_pool(threads)?.install(f)
}

pub(super) fn bad(e: impl Into<anyhow::Error>) -> Failure {
    Failure::BadInput(e.into())
}

/// Reads a history file into a training set, reporting skipped rows.
fn load_set(path: &Path, opts: &DataOpts) -> Result<TrainingSet, Failure> {
    Ok(load_rows(path, opts)?.1)
}

/// [`load_set`], with each row's features before encoding.
pub(super) fn load_rows(
    path: &Path,
    opts: &DataOpts,
) -> Result<(Vec<DwellFeatures>, TrainingSet), Failure> {
    let load = read_reporting_skips(path, opts)?;
    let (features, y) = training_rows(&load.records);
    if y.is_empty() {
        return Err(bad(anyhow!(
            "{}: no deposited package with a pickup or retrieval time",
            path.display()
        )));
    }
    let x = features.iter().map(DwellFeatures::encode).collect();
    Ok((features, TrainingSet { x, y }))
}

/// Reads a history file, saying on stderr which rows were skipped and why,
/// without the rows of a run's warm-up.
fn read_reporting_skips(path: &Path, opts: &DataOpts) -> Result<data::HistoryLoad, Failure> {
    let mut load = read_history_reporting(path, opts)?;
    // Orders of a run's warm-up met lockers filling from empty: their
    // occupancy is not what a running network sees.
    let before = load.records.len();
    load.records.retain(|r| !r.warmup);
    let warmup = before - load.records.len();
    if warmup > 0 && !opts.quiet {
        eprintln!(
            "{}: left out {warmup} rows marked `warmup` (orders of the run's warm-up)",
            path.display()
        );
    }
    Ok(load)
}

/// Reads a history file, saying on stderr which rows were skipped and why.
pub(super) fn read_history_reporting(
    path: &Path,
    opts: &DataOpts,
) -> Result<data::HistoryLoad, Failure> {
    let load = data::read_history(path, opts.skip_bad_rows).map_err(|e| {
        if e.is_bad_row() {
            bad(anyhow::anyhow!("{e} (or pass --skip-bad-rows)"))
        } else {
            bad(e)
        }
    })?;
    if load.skipped_total() > 0 {
        eprintln!(
            "{}: skipped {} of {} rows:",
            path.display(),
            load.skipped_total(),
            load.rows_read
        );
        for (why, n) in &load.skipped {
            eprintln!("  {n:>7}  {why}");
        }
    }
    Ok(load)
}

fn load_model(dir: &Path) -> Result<(DwellModel, Baselines), Failure> {
    let model = DwellModel::load(dir).map_err(bad)?;
    let baselines = Baselines::load(dir).map_err(|m| bad(anyhow!(m)))?;
    Ok((model, baselines))
}

fn predict_cmd(a: &PredictArgs) -> CmdResult {
    use lockerlab::data::predictions::{predict_packages, write_predictions};
    if lockerlab::data::Format::of(&a.out).is_none() {
        return Err(bad(anyhow!(
            "--out {}: expected a .csv or .parquet file",
            a.out.display()
        )));
    }
    let model = DwellModel::load(&a.model).map_err(bad)?;
    let load = read_reporting_skips(&a.data, &a.data_opts)?;
    let rows = predict_packages(&model, &load.records);
    if rows.is_empty() {
        return Err(bad(anyhow!(
            "{}: no deposited package to forecast",
            a.data.display()
        )));
    }
    write_predictions(&a.out, &rows).map_err(bad)?;
    let open = rows.iter().filter(|p| p.actual_hours.is_none()).count();
    eprintln!(
        "wrote {} forecasts ({open} for packages still in their compartments) to {}",
        rows.len(),
        a.out.display()
    );
    Ok(())
}

fn train_cmd(a: &TrainArgs) -> CmdResult {
    let hp = a.hyper.hyperparameters();
    lockerlab::forecast::train::check_hyperparameters(&hp).map_err(bad)?;
    let set = load_set(&a.data, &a.data_opts)?;
    let sha256 = data::training::file_sha256(&a.data)
        .with_context(|| a.data.display().to_string())
        .map_err(bad)?;
    let started = Instant::now();
    let bar = super::progress::bar(a.data_opts.quiet, trees_to_grow(&hp), "trees");
    let mut model = train_observed(
        &set,
        &hp,
        TrainingData {
            file: a.data.display().to_string(),
            sha256,
            rows: set.len() as u64,
        },
        &|| bar.inc(1),
    )
    .map_err(bad)?;
    bar.finish_and_clear();
    let fit = started.elapsed();
    eprintln!(
        "trained {} trees ({} nodes) on {} rows in {:.2} s on {} threads",
        hp.trees,
        model.meta.nodes,
        set.len(),
        fit.as_secs_f64(),
        rayon::current_num_threads()
    );
    let baselines = Baselines::fit(&set);
    if let Some(holdout) = &a.holdout {
        let test = load_set(holdout, &a.data_opts)?;
        let (scored, _) = eval::score_all(&model, &baselines, &test);
        print_table(&scored);
        model.meta.evaluation = Some(Evaluation {
            file: holdout.display().to_string(),
            sha256: data::training::file_sha256(holdout).map_err(|e| bad(anyhow!(e)))?,
            rows: test.len() as u64,
            metrics: scored[0].metrics.clone(),
        });
    }
    model.save(&a.out_dir).map_err(bad)?;
    baselines.save(&a.out_dir).map_err(|m| bad(anyhow!(m)))?;
    eprintln!("wrote {}", a.out_dir.display());
    Ok(())
}

fn print_table(scored: &[MetricSet]) {
    println!(
        "{:<22} {:>9} {:>9} {:>7} {:>11} {:>11} {:>9} {:>14}",
        "predictor",
        "MAE h",
        "RMSE h",
        "R2",
        "pinball50 h",
        "pinball90 h",
        "max cal",
        "forest MAE vs"
    );
    let forest = scored[0].metrics.mae_hours;
    for m in scored {
        let t = &m.metrics;
        let vs = if m.name == "forest" {
            String::new()
        } else {
            format!("{:+.1}%", (forest / t.mae_hours - 1.0) * 100.0)
        };
        println!(
            "{:<22} {:>9.3} {:>9.3} {:>7.4} {:>11.3} {:>11.3} {:>9.4} {:>14}",
            m.name,
            t.mae_hours,
            t.rmse_hours,
            t.r2,
            t.pinball_50_hours,
            t.pinball_90_hours,
            t.max_calibration_error,
            vs
        );
    }
}

fn eval_cmd(a: &EvalArgs) -> CmdResult {
    if DemandModel::is_in(&a.model) {
        if a.report.is_some() {
            return Err(bad(anyhow!("--report is for dwell models")));
        }
        let scenario = a.scenario.as_deref();
        return super::forecast_demand::eval_cmd(&a.model, &a.data, scenario, &a.data_opts);
    }
    refuse_scenario(a.scenario.as_deref())?;
    let (model, baselines) = load_model(&a.model)?;
    let set = load_set(&a.data, &a.data_opts)?;
    let stages = 1 + u64::from(a.report.is_some());
    let bar = super::progress::stages(a.data_opts.quiet, stages);
    bar.set_message("scoring the forest and the baselines");
    let (scored, preds) = eval::score_all(&model, &baselines, &set);
    bar.inc(1);
    if a.report.is_none() {
        bar.finish_and_clear();
    }
    print_table(&scored);
    println!(
        "\ncalibration (forest; P(dwell <= t) for t in 6, 12, 24, 48, 72 h; equal-count deciles)"
    );
    println!(
        "{:>10} {:>10} {:>9} {:>8}",
        "predicted", "observed", "error", "pairs"
    );
    for b in &scored[0].calibration {
        println!(
            "{:>10.4} {:>10.4} {:>+9.4} {:>8}",
            b.mean_predicted,
            b.observed,
            b.observed - b.mean_predicted,
            b.pairs
        );
    }
    println!("\nby horizon (forest): mean predicted P(dwell <= t) vs observed share");
    for h in eval::horizon_table(&set, &preds) {
        println!(
            "{:>6} h {:>10.4} {:>10.4} {:>+9.4}",
            h.hours,
            h.mean_predicted,
            h.observed,
            h.observed - h.mean_predicted
        );
    }
    if let Some(dir) = &a.report {
        bar.set_message("the report: permutation importance and charts");
        write_report(dir, &model, &set, &scored, &preds).map_err(Failure::BadInput)?;
        bar.finish_and_clear();
        eprintln!("wrote {}", dir.display());
    }
    Ok(())
}

fn write_report(
    dir: &Path,
    model: &DwellModel,
    set: &TrainingSet,
    scored: &[MetricSet],
    preds: &[DwellPrediction],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let importance = eval::permutation_importance(set, |x| model.predict_vector(x), 1);
    let predicted: Vec<f64> = preds.iter().map(|p| p.mean_hours).collect();
    let json = serde_json::json!({
        "rows": set.len(),
        "predictors": scored,
        "calibration_by_horizon": eval::horizon_table(set, preds),
        "importance": importance,
    });
    std::fs::write(
        dir.join("metrics.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let mut w = csv::Writer::from_path(dir.join("calibration.csv"))?;
    w.write_record(["predictor", "mean_predicted", "observed", "pairs"])?;
    for m in scored {
        for b in &m.calibration {
            w.write_record([
                m.name.clone(),
                b.mean_predicted.to_string(),
                b.observed.to_string(),
                b.pairs.to_string(),
            ])?;
        }
    }
    w.flush()?;
    let mut w = csv::Writer::from_path(dir.join("importance.csv"))?;
    w.write_record(["feature", "mae_increase_hours"])?;
    for i in &importance {
        w.write_record([i.feature.to_string(), i.mae_increase_hours.to_string()])?;
    }
    w.flush()?;
    let tier_kind = &scored[scored.len() - 1];
    charts::write_all(
        dir,
        &charts::ChartData {
            model_name: "forest",
            actual: &set.y,
            predicted: &predicted,
            calibration: &[
                ("forest", &scored[0].calibration),
                (tier_kind.name.as_str(), &tier_kind.calibration),
            ],
            importance: &importance,
        },
    )
    .map_err(|e| anyhow!("drawing charts: {e}"))?;
    Ok(())
}

/// How a metric may move before `check` calls it worse.
#[derive(Clone, Copy)]
enum Limit {
    /// Errors in hours: at most `tolerance` relatively higher.
    RelativeHigher,
    /// R²: at most `tolerance` lower.
    AbsoluteLower,
    /// Calibration error: at most `tolerance` higher.
    AbsoluteHigher,
}

/// (metric, value now, baseline value, worse than allowed)
fn regressions(
    now: &TrackedMetrics,
    base: &TrackedMetrics,
    tol: f64,
) -> Vec<(&'static str, f64, f64, bool)> {
    use Limit::*;
    let rows = [
        ("mae_hours", now.mae_hours, base.mae_hours, RelativeHigher),
        (
            "rmse_hours",
            now.rmse_hours,
            base.rmse_hours,
            RelativeHigher,
        ),
        ("r2", now.r2, base.r2, AbsoluteLower),
        (
            "pinball_50_hours",
            now.pinball_50_hours,
            base.pinball_50_hours,
            RelativeHigher,
        ),
        (
            "pinball_90_hours",
            now.pinball_90_hours,
            base.pinball_90_hours,
            RelativeHigher,
        ),
        (
            "max_calibration_error",
            now.max_calibration_error,
            base.max_calibration_error,
            AbsoluteHigher,
        ),
    ];
    rows.into_iter()
        .map(|(name, n, b, limit)| {
            // The 1e-12 keeps identical figures from failing on rounding.
            let worse = match limit {
                RelativeHigher => n > b * (1.0 + tol) + 1e-12,
                AbsoluteLower => n < b - tol - 1e-12,
                AbsoluteHigher => n > b + tol + 1e-12,
            };
            (name, n, b, worse)
        })
        .collect()
}

fn check_cmd(a: &CheckArgs) -> CmdResult {
    if !(a.tolerance >= 0.0 && a.tolerance < 1.0) {
        return Err(bad(anyhow!(
            "--tolerance must be in [0, 1), got {}",
            a.tolerance
        )));
    }
    if DemandModel::is_in(&a.model) {
        return super::forecast_demand::check_cmd(
            &a.model,
            &a.data,
            a.scenario.as_deref(),
            &a.baseline,
            a.tolerance,
            &a.data_opts,
        );
    }
    refuse_scenario(a.scenario.as_deref())?;
    let base = load_meta(&a.baseline).map_err(bad)?;
    let Some(base_eval) = base.evaluation else {
        return Err(bad(anyhow!(
            "{}: no `evaluation` to compare with (train with --holdout)",
            a.baseline.display()
        )));
    };
    let model = DwellModel::load(&a.model).map_err(bad)?;
    let set = load_set(&a.data, &a.data_opts)?;
    let preds = eval::predict_forest(&set, &model);
    let now = eval::score("forest", &set, &preds).metrics;
    println!("{:<22} {:>11} {:>11}  status", "metric", "baseline", "now");
    let mut failed = Vec::new();
    for (name, n, b, worse) in regressions(&now, &base_eval.metrics, a.tolerance) {
        println!(
            "{:<22} {:>11.4} {:>11.4}  {}",
            name,
            b,
            n,
            if worse { "WORSE" } else { "ok" }
        );
        if worse {
            failed.push(name);
        }
    }
    if failed.is_empty() {
        println!("forecast check passed (tolerance {})", a.tolerance);
        Ok(())
    } else {
        Err(Failure::CheckFailed(anyhow!(
            "worse than {} by more than the tolerance {}: {}",
            a.baseline.display(),
            a.tolerance,
            failed.join(", ")
        )))
    }
}

/// A dwell model's rows carry their own times; a scenario would be ignored.
fn refuse_scenario(scenario: Option<&Path>) -> Result<(), Failure> {
    match scenario {
        Some(_) => Err(bad(anyhow!(
            "--scenario is for demand models (a directory with demand-meta.json)"
        ))),
        None => Ok(()),
    }
}

fn features_cmd(a: &FeaturesArgs) -> CmdResult {
    let set = load_set(&a.data, &a.data_opts)?;
    let write = || -> anyhow::Result<()> {
        let mut w = csv::Writer::from_path(&a.out)?;
        let mut header: Vec<&str> = lockerlab::forecast::FEATURE_NAMES.to_vec();
        header.push("dwell_hours");
        w.write_record(&header)?;
        for (x, y) in set.x.iter().zip(&set.y) {
            let mut record: Vec<String> = x.iter().map(f64::to_string).collect();
            record.push(y.to_string());
            w.write_record(&record)?;
        }
        w.flush()?;
        Ok(())
    };
    write()
        .with_context(|| format!("writing {}", a.out.display()))
        .map_err(bad)?;
    eprintln!("wrote {} rows to {}", set.len(), a.out.display());
    Ok(())
}
