//! `simulate` and `history`: the CLI commands' runs, with the same
//! defaults, checks and results.

use super::detached;
use super::errors::{bad_input, internal};
use super::frames;
use super::scenario::Scenario;
use lockerlab::metrics::METRIC_NAMES;
use lockerlab::policy::apply::{apply_policy, PolicyChoice};
use lockerlab::sim::{self, RunError, RunOptions, RunReport, SimError};
use polars::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

/// Runs a scenario as `lockerlab simulate` does; returns the JSON of
/// `simulate --format json` (without timing) and the per-location metrics
/// as an Arrow IPC stream.
#[pyfunction]
#[pyo3(signature = (scenario, seed = None, replications = None, policy = None, model = None, demand_model = None, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    seed: Option<u64>,
    replications: Option<u32>,
    policy: Option<String>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    threads: Option<u32>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<(String, Bound<'py, PyBytes>)> {
    let mut sc = (*scenario.compiled).clone();
    let choice = PolicyChoice {
        policy,
        model,
        demand_model,
    };
    apply_policy(&mut sc, &choice).map_err(bad_input)?;
    let opts = RunOptions {
        seed: seed.unwrap_or(sc.seed),
        replications: check_replications(replications.unwrap_or(sc.replications))?,
        ..RunOptions::default()
    };
    let result = run(py, &sc, opts.clone(), threads, progress.as_ref())?;
    let report = RunReport::new(&sc, opts.seed, &result);
    let json = serde_json::to_string_pretty(&report.to_json(None)).map_err(internal)?;
    let mut df = locations_frame(&report).map_err(internal)?;
    Ok((json, frames::to_python(py, &mut df)?))
}

/// One replication's record of every order, as `lockerlab history`
/// writes it (docs/data.md), as an Arrow IPC stream.
#[pyfunction]
#[pyo3(signature = (scenario, seed = None, threads = None, progress = None))]
pub fn history<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    seed: Option<u64>,
    threads: Option<u32>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let sc = &scenario.compiled;
    let opts = RunOptions {
        seed: seed.unwrap_or(sc.seed),
        replications: 1,
        record_history: true,
        ..RunOptions::default()
    };
    let result = run(py, sc, opts, threads, progress.as_ref())?;
    let rows = result.history.into_iter().next().unwrap_or_default();
    let mut df = lockerlab::data::history_frame(&rows).map_err(internal)?;
    frames::to_python(py, &mut df)
}

fn check_replications(n: u32) -> PyResult<u32> {
    if (1..=100_000).contains(&n) {
        Ok(n)
    } else {
        Err(bad_input(format!(
            "replications = {n}: expected 1 to 100000"
        )))
    }
}

/// A rayon pool of `threads` workers; all cores without.
pub fn pool(threads: Option<u32>) -> PyResult<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        if !(1..=1024).contains(&t) {
            return Err(bad_input(format!("threads = {t}: expected 1 to 1024")));
        }
        b = b.num_threads(t as usize);
    }
    b.build().map_err(internal)
}

/// `sim::run` without the GIL, with progress in location-runs and
/// cancellation on an interrupt.
fn run(
    py: Python<'_>,
    sc: &lockerlab::scenario::Scenario,
    mut opts: RunOptions,
    threads: Option<u32>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<sim::RunResult> {
    let pool = pool(threads)?;
    let total = sc.locations.len() as u64 * opts.replications as u64;
    let result = detached::run(py, total, progress, |p| {
        opts.cancel = Some(p.cancel.clone());
        pool.install(|| sim::run(sc, &opts, &|n| p.add(n)))
    })?;
    result.map_err(|e| match e {
        // Only an interrupt cancels, and it has raised already.
        SimError::Cancelled => internal("the run was cancelled"),
        e => internal(e),
    })
}

/// One row per location: its id and every metric, the mean over
/// replications (`simulate --format csv` without the TOTAL row); an
/// undefined metric is null, as in the JSON.
fn locations_frame(report: &RunReport) -> PolarsResult<DataFrame> {
    let ids: Vec<&str> = report.locations.iter().map(|(id, _)| id.as_str()).collect();
    let mut columns: Vec<Column> = vec![Series::new("location".into(), ids).into()];
    for (i, name) in METRIC_NAMES.iter().enumerate() {
        let values: Vec<Option<f64>> = report
            .locations
            .iter()
            .map(|(_, s)| Some(s.values[i]).filter(|v| v.is_finite()))
            .collect();
        columns.push(Series::new((*name).into(), values).into());
    }
    DataFrame::new(columns)
}

/// Policies side by side on common random numbers, as `lockerlab compare
/// --format csv` reports them: per policy and metric the mean, its 95%
/// half-width and the paired difference against the first policy.
#[pyfunction]
#[pyo3(signature = (scenario, policies, seed = None, replications = None, metrics = None, model = None, demand_model = None, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn compare<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    policies: Bound<'py, PyAny>,
    seed: Option<u64>,
    replications: Option<u32>,
    metrics: Option<Vec<String>>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    threads: Option<u32>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    use lockerlab::compare as cmp;
    let specs = match policies.extract::<String>() {
        Ok(list) => cmp::policies_to_compare(&list).map_err(bad_input)?,
        Err(_) => {
            let specs: Vec<String> = policies.extract().map_err(|_| {
                bad_input("policies: expected a list of policy specs or files, or one comma-separated string")
            })?;
            if specs.len() < 2 {
                return Err(bad_input(format!(
                    "policies: name at least two policies to compare, got {specs:?}"
                )));
            }
            specs
        }
    };
    let names: Vec<String> = match metrics {
        Some(m) if m.is_empty() => return Err(bad_input("metrics: name at least one metric")),
        Some(m) => m,
        None => cmp::DEFAULT_METRICS.iter().map(|s| s.to_string()).collect(),
    };
    let indexes: Vec<usize> = names
        .iter()
        .map(|n| cmp::metric_index(n))
        .collect::<Result<_, _>>()
        .map_err(|m| bad_input(format!("metrics: {m}")))?;
    let mut sc = (*scenario.compiled).clone();
    let choice = PolicyChoice {
        demand_model,
        ..PolicyChoice::default()
    };
    apply_policy(&mut sc, &choice).map_err(bad_input)?;
    let replications = check_replications(replications.unwrap_or(sc.replications))?;
    if replications < 2 {
        return Err(bad_input(format!(
            "compare needs at least 2 replications for its confidence intervals, got \
             {replications}: pass replications=N (20 is a good start)"
        )));
    }
    let mut opts = RunOptions {
        seed: seed.unwrap_or(sc.seed),
        replications,
        ..RunOptions::from_scenario(&sc)
    };
    let pool = pool(threads)?;
    let total = (specs.len() * sc.locations.len()) as u64 * replications as u64;
    let runs = detached::run(py, total, progress.as_ref(), |p| {
        opts.cancel = Some(p.cancel.clone());
        pool.install(|| cmp::run_policies(&sc, &specs, model.as_deref(), &opts, &|n| p.add(n)))
    })?
    .map_err(run_error)?;
    let mut df = cmp::compare_records(&runs, &indexes)
        .to_frame()
        .map_err(internal)?;
    frames::to_python(py, &mut df)
}

/// A grid of scenario variants × policies on common random numbers, as
/// `lockerlab sweep --format csv` reports it (per point every metric's mean
/// and 95% half-width), or with `tidy` one row per point and replication
/// (the CLI's replications.csv).
#[pyfunction]
#[pyo3(signature = (scenario, vary, policies = None, seed = None, replications = None, model = None, demand_model = None, tidy = false, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn sweep<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    vary: Vec<(String, Bound<'py, PyAny>)>,
    policies: Option<Vec<String>>,
    seed: Option<u64>,
    replications: Option<u32>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    tidy: bool,
    threads: Option<u32>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    use lockerlab::sweep::{self as sw, GridRun};
    if vary.is_empty() {
        return Err(bad_input("vary: name at least one key to vary"));
    }
    let mut axes = Vec::with_capacity(vary.len());
    for (key, values) in vary {
        let axis = match values.extract::<String>() {
            Ok(range) => sw::parse_axis(&format!("{key}={range}")),
            Err(_) => {
                let values: Vec<f64> = values.extract().map_err(|_| {
                    bad_input(format!(
                        "vary `{key}`: expected a list of numbers or \"START:END:STEP\""
                    ))
                })?;
                sw::axis_of_values(&key, values)
            }
        };
        axes.push(axis.map_err(bad_input)?);
    }
    let policies = match policies {
        None => Vec::new(),
        Some(specs) => specs
            .into_iter()
            .map(|s| {
                let p = lockerlab::policy::spec::parse(&s).map_err(bad_input)?;
                Ok((s, p))
            })
            .collect::<PyResult<_>>()?,
    };
    if let Some(n) = replications {
        check_replications(n)?;
    }
    let source = sw::with_models(
        scenario.source.clone(),
        model.as_deref(),
        demand_model.as_deref(),
    )
    .map_err(bad_input)?;
    let points = sw::grid(&axes, &policies);
    let pool = pool(threads)?;
    let results = detached::run(py, points.len() as u64, progress.as_ref(), |p| {
        // Every point compiles (and loads its models) before any runs:
        // off the GIL too.
        sw::check_grid(&source, &axes, &points).map_err(RunError::Input)?;
        let run = GridRun {
            seed,
            replications,
            cancel: Some(p.cancel.clone()),
        };
        pool.install(|| sw::run_grid(&source, &points, &run, &|| p.add(1)))
    })?
    .map_err(run_error)?;
    let records = if tidy {
        sw::replication_records(&axes, &points, &results)
    } else {
        sw::summary_records(&axes, &points, &results)
    };
    let mut df = records.to_frame().map_err(internal)?;
    frames::to_python(py, &mut df)
}

fn run_error(e: RunError) -> PyErr {
    match e {
        RunError::Input(m) => bad_input(m),
        RunError::Sim(e) => internal(e),
    }
}

/// `a,b:k=v,k2=v2,c` into policy specs, by `--policies`' rules.
#[pyfunction]
pub fn split_policies(list: &str) -> Vec<String> {
    lockerlab::compare::split_policies(list)
}

/// Searches a policy family's parameters as `lockerlab tune` does; returns
/// the document of `tune --format json` and the candidates (its `--format
/// csv` rows) as an Arrow IPC stream.
#[pyfunction]
#[pyo3(signature = (scenario, family, objective = "acceptance", max_broken_promise_rate = 0.001, per_location = false, seed = None, replications = None, model = None, demand_model = None, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn tune<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    family: &str,
    objective: &str,
    max_broken_promise_rate: f64,
    per_location: bool,
    seed: Option<u64>,
    replications: Option<u32>,
    model: Option<PathBuf>,
    demand_model: Option<PathBuf>,
    threads: Option<u32>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<(String, Bound<'py, PyBytes>)> {
    use lockerlab::tune::{self as tn, Objective, Search};
    let objective = Objective::parse(objective).map_err(bad_input)?;
    tn::check_limit(max_broken_promise_rate).map_err(bad_input)?;
    let grid = tn::candidates(family).map_err(bad_input)?;
    if let Some(n) = replications {
        check_replications(n)?;
    }
    let source = lockerlab::sweep::with_models(
        scenario.source.clone(),
        model.as_deref(),
        demand_model.as_deref(),
    )
    .map_err(bad_input)?;
    let pool = pool(threads)?;
    let tuned = detached::run(py, grid.len() as u64, progress.as_ref(), |p| {
        let search = Search {
            objective,
            max_broken_promise_rate,
            per_location,
            seed,
            replications,
            cancel: Some(p.cancel.clone()),
        };
        pool.install(|| tn::tune(&source, grid, search, &|| p.add(1)))
    })?
    .map_err(run_error)?;
    let json = serde_json::to_string_pretty(&tuned.to_json(family)).map_err(internal)?;
    let mut df = tuned.candidate_records().to_frame().map_err(internal)?;
    Ok((json, frames::to_python(py, &mut df)?))
}
