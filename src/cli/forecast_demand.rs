//! `lockerlab forecast train-demand`, and `forecast eval | check` on a
//! demand model: orders per locker, tier and day, against seasonal-naive
//! and trailing-mean baselines.

use super::forecast::{bad, read_history_reporting, DataOpts};
use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::data::training::file_sha256;
use lockerlab::forecast::demand::eval::evaluate;
use lockerlab::forecast::demand::features::DEMAND_FEATURE_NAMES;
use lockerlab::forecast::demand::model::{load_demand_meta, DemandErrors};
use lockerlab::forecast::demand::series::DemandSeries;
use lockerlab::forecast::demand::train::{series_rows, train};
use lockerlab::forecast::demand::{
    DemandEvaluation, DemandHyperparameters, DemandMeta, DemandModel, EventCalendar,
};
use lockerlab::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Fit a demand forest on a history file: orders offered per locker, tier
/// and local day, from the calendar (weekday, month, the scenario's named
/// peaks and holidays) and the locker's demand a week and more before.
/// Writes demand-meta.json and demand-trees.json; a scenario's
/// `[forecast] demand_model` (or --demand-model) makes the optimized
/// policy plan with it.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab history scenarios/peak-season.toml --seed 1 --out train.parquet\n  lockerlab history scenarios/peak-season.toml --seed 2 --out holdout.parquet\n  lockerlab forecast train-demand train.parquet --scenario scenarios/peak-season.toml \\\n      --holdout holdout.parquet --out-dir models/peak-season-demand"
)]
pub(super) struct TrainDemandArgs {
    /// History file to train on.
    data: PathBuf,
    /// The scenario whose run wrote the history: its start date and time
    /// zone date the rows, its `[demand.calendar]` names the peaks and
    /// holidays the model reads.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Model directory to write.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Also score on this history (of the same scenario) and record the
    /// errors in demand-meta.json, where `forecast check --baseline` reads
    /// them.
    #[arg(long, value_name = "FILE")]
    holdout: Option<PathBuf>,
    /// Trees in the forest.
    #[arg(long, default_value_t = DemandHyperparameters::default().trees)]
    trees: u32,
    /// Deepest a tree grows.
    #[arg(long, default_value_t = DemandHyperparameters::default().max_depth)]
    max_depth: u16,
    /// Fewest training rows a leaf holds.
    #[arg(long, default_value_t = DemandHyperparameters::default().min_samples_leaf)]
    min_samples_leaf: u32,
    /// Share of the rows each tree sees (without replacement).
    #[arg(long, default_value_t = DemandHyperparameters::default().sample_fraction)]
    sample_fraction: f64,
    /// Share of the features examined at each split.
    #[arg(long, default_value_t = DemandHyperparameters::default().max_features)]
    max_features: f64,
    /// Seed of the row samples and feature draws (same seed, same forest).
    #[arg(long, default_value_t = DemandHyperparameters::default().seed)]
    seed: u64,
    #[command(flatten)]
    pub(super) data_opts: DataOpts,
}

/// A history's demand counts, dated by the scenario's calendar.
fn load_series(data: &Path, scenario: &Scenario, opts: &DataOpts) -> Result<DemandSeries, Failure> {
    let load = read_history_reporting(data, opts)?;
    DemandSeries::from_records(&load.records, &scenario.calendar, scenario.horizon)
        .map_err(|m| bad(anyhow!("{}: {m}", data.display())))
}

/// The scenario's named peaks and holidays (none without a calendar).
fn named_dates(sc: &Scenario) -> EventCalendar {
    sc.seasons
        .as_ref()
        .map(|s| s.events.clone())
        .unwrap_or_default()
}

/// A scenario and the demand counts of a history its run wrote.
fn scenario_and_series(
    scenario: &Path,
    data: &Path,
    opts: &DataOpts,
) -> Result<(Scenario, DemandSeries), Failure> {
    let sc = load_scenario(scenario)?;
    let series = load_series(data, &sc, opts)?;
    Ok((sc, series))
}

fn load_scenario(path: &Path) -> Result<Scenario, Failure> {
    Scenario::from_file(path).map_err(|e| Failure::BadInput(e.into()))
}

pub(super) fn train_cmd(a: &TrainDemandArgs) -> CmdResult {
    let hp = DemandHyperparameters {
        trees: a.trees,
        max_depth: a.max_depth,
        min_samples_leaf: a.min_samples_leaf,
        sample_fraction: a.sample_fraction,
        max_features: a.max_features,
        seed: a.seed,
    };
    lockerlab::forecast::demand::train::check_hyperparameters(&hp).map_err(|m| bad(anyhow!(m)))?;
    let (sc, series) = scenario_and_series(&a.scenario, &a.data, &a.data_opts)?;
    let meta = DemandMeta {
        format_version: 0,
        features: Vec::new(),
        events: named_dates(&sc),
        history: a.data.display().to_string(),
        history_sha256: file_sha256(&a.data)
            .map_err(|e| bad(anyhow!("{}: {e}", a.data.display())))?,
        scenario: a.scenario.display().to_string(),
        rows: 0,
        hyperparameters: hp,
        trees_sha256: String::new(),
        nodes: 0,
        evaluation: None,
    };
    let bar = super::progress::bar(a.data_opts.quiet, u64::from(hp.trees), "trees");
    let started = Instant::now();
    let mut model = train(&series, meta, &|| bar.inc(1)).map_err(|m| bad(anyhow!(m)))?;
    bar.finish_and_clear();
    eprintln!(
        "trained {} trees ({} nodes) on {} rows ({} lockers × 4 tiers × days with {} days \
         before them) in {:.2} s on {} threads",
        hp.trees,
        model.meta.nodes,
        model.meta.rows,
        series.locations.len(),
        lockerlab::forecast::demand::features::LOOKBACK_DAYS + 1,
        started.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    if let Some(holdout) = &a.holdout {
        let hs = load_series(holdout, &sc, &a.data_opts)?;
        let scored = evaluate(&model, &hs, &holdout.display().to_string());
        print_evaluation(&scored);
        model.meta.evaluation = Some(scored);
    }
    model.save(&a.out_dir).map_err(bad)?;
    eprintln!("wrote {}", a.out_dir.display());
    Ok(())
}

/// Write the rows the demand forest sees, one per locker, tier and day with
/// five weeks of history before it, as CSV: `location`, `day` (local date),
/// the features in the model's order, `level` and `orders` (the target is
/// orders / level). For fitting other learners on the same inputs
/// (tools/sklearn_demand.py).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab forecast demand-features data/peak-season-seed1.parquet --scenario scenarios/peak-season.toml --out train.csv"
)]
pub(super) struct DemandFeaturesArgs {
    /// History file to encode.
    data: PathBuf,
    /// The scenario whose run wrote the history.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// CSV file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    pub(super) data_opts: DataOpts,
}

pub(super) fn features_cmd(a: &DemandFeaturesArgs) -> CmdResult {
    let (sc, series) = scenario_and_series(&a.scenario, &a.data, &a.data_opts)?;
    let events = named_dates(&sc);
    let write = || -> anyhow::Result<usize> {
        let mut w = csv::Writer::from_path(&a.out)?;
        let mut header = vec!["location", "day"];
        header.extend(DEMAND_FEATURE_NAMES);
        header.extend(["level", "orders"]);
        w.write_record(&header)?;
        let mut n = 0;
        for r in series_rows(&series, &events) {
            let mut record = vec![
                series.locations[r.location].clone(),
                lockerlab::time::Calendar::date_of_day(r.day).to_string(),
            ];
            record.extend(r.row.x.iter().map(f64::to_string));
            record.push(r.row.level.to_string());
            record.push(r.orders.to_string());
            w.write_record(&record)?;
            n += 1;
        }
        w.flush()?;
        Ok(n)
    };
    let n = write()
        .with_context(|| format!("writing {}", a.out.display()))
        .map_err(bad)?;
    eprintln!("wrote {n} rows to {}", a.out.display());
    Ok(())
}

fn scenario_for(scenario: Option<&Path>, dir: &Path) -> Result<Scenario, Failure> {
    let Some(path) = scenario else {
        return Err(bad(anyhow!(
            "{} is a demand model: pass --scenario FILE, the scenario whose run wrote the \
             history (its calendar dates the rows)",
            dir.display()
        )));
    };
    load_scenario(path)
}

/// The demand model in `dir` and its baselines scored on a history.
fn score(
    dir: &Path,
    data: &Path,
    scenario: Option<&Path>,
    opts: &DataOpts,
) -> Result<DemandEvaluation, Failure> {
    let sc = scenario_for(scenario, dir)?;
    let model = DemandModel::load(dir).map_err(bad)?;
    let series = load_series(data, &sc, opts)?;
    Ok(evaluate(&model, &series, &data.display().to_string()))
}

/// `forecast eval` on a demand model.
pub(super) fn eval_cmd(
    dir: &Path,
    data: &Path,
    scenario: Option<&Path>,
    opts: &DataOpts,
) -> CmdResult {
    print_evaluation(&score(dir, data, scenario, opts)?);
    Ok(())
}

fn print_evaluation(e: &DemandEvaluation) {
    println!(
        "demand forecast on {}: {} (locker, tier, day) counts, {} on event days (a peak or \
         holiday that day or a week before)",
        e.data, e.model.n, e.model_event_days.n
    );
    println!("{:<24} {:^26}   {:^26}", "", "all days", "event days");
    println!(
        "{:<24} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}",
        "method", "MAE", "MAPE", "WAPE", "MAE", "MAPE", "WAPE"
    );
    let rows = [
        ("forest", e.model, e.model_event_days),
        (
            "seasonal naive (t-7)",
            e.seasonal_naive,
            e.seasonal_naive_event_days,
        ),
        (
            "trailing 7-day mean",
            e.trailing_mean,
            e.trailing_mean_event_days,
        ),
    ];
    for (name, all, ev) in rows {
        println!(
            "{:<24} {:>8.3} {:>8.4} {:>8.4}   {:>8.3} {:>8.4} {:>8.4}",
            name, all.mae, all.mape, all.wape, ev.mae, ev.mape, ev.wape
        );
    }
}

/// `forecast check` on a demand model: exit 3 if the forest does not beat
/// both baselines (every day, and event days) on DATA, or its MAE or WAPE
/// is worse than the baseline meta's by more than the tolerance (relative).
pub(super) fn check_cmd(
    dir: &Path,
    data: &Path,
    scenario: Option<&Path>,
    baseline: &Path,
    tolerance: f64,
    opts: &DataOpts,
) -> CmdResult {
    let base = load_demand_meta(baseline).map_err(bad)?;
    let Some(base) = base.evaluation else {
        return Err(bad(anyhow!(
            "{}: no `evaluation` to compare with (train-demand with --holdout)",
            baseline.display()
        )));
    };
    let now = score(dir, data, scenario, opts)?;
    print_evaluation(&now);
    let mut failed = Vec::new();
    println!("\n{:<38} {:>8} {:>8}  status", "check", "limit", "now");
    let mut gate = |name: String, limit: f64, value: f64| {
        let ok = value <= limit;
        println!(
            "{name:<38} {limit:>8.4} {value:>8.4}  {}",
            if ok { "ok" } else { "WORSE" }
        );
        if !ok {
            failed.push(name);
        }
    };
    let beats = |name: &str, forest: &DemandErrors, other: &DemandErrors| {
        (format!("WAPE below {name}"), other.wape, forest.wape)
    };
    for (n, l, v) in [
        beats("seasonal naive", &now.model, &now.seasonal_naive),
        beats("trailing mean", &now.model, &now.trailing_mean),
        beats(
            "seasonal naive, event days",
            &now.model_event_days,
            &now.seasonal_naive_event_days,
        ),
        beats(
            "trailing mean, event days",
            &now.model_event_days,
            &now.trailing_mean_event_days,
        ),
    ] {
        gate(n, l, v);
    }
    let grown = |b: f64| b * (1.0 + tolerance);
    gate(
        "MAE vs baseline".into(),
        grown(base.model.mae),
        now.model.mae,
    );
    gate(
        "WAPE vs baseline".into(),
        grown(base.model.wape),
        now.model.wape,
    );
    gate(
        "WAPE vs baseline, event days".into(),
        grown(base.model_event_days.wape),
        now.model_event_days.wape,
    );
    if failed.is_empty() {
        println!("forecast check passed (tolerance {tolerance})");
        Ok(())
    } else {
        Err(Failure::CheckFailed(anyhow!(
            "the demand forest failed: {}",
            failed.join(", ")
        )))
    }
}
