//! `lockerlab.forecast`: train, evaluate and apply dwell-time models, the
//! `forecast train | eval | predict` commands on DataFrames or files.

use super::detached;
use super::errors::{bad_input, internal};
use super::frames;
use lockerlab::data::{self, training::training_rows, HistoryLoad};
use lockerlab::forecast::baselines::Baselines;
use lockerlab::forecast::model::TrainingData;
use lockerlab::forecast::train::{train_cancellable, trees_to_grow, TrainingSet};
use lockerlab::forecast::{eval, DwellFeatures, Hyperparameters};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A trained dwell-time forest and the baselines fitted beside it.
#[pyclass(module = "lockerlab.forecast", frozen)]
pub struct DwellModel {
    model: Arc<lockerlab::forecast::DwellModel>,
    baselines: Baselines,
}

#[pymethods]
impl DwellModel {
    /// meta.json as JSON text: hyperparameters, training data, schema.
    fn meta_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.model.meta).map_err(internal)
    }
}

/// History rows from a file or an Arrow IPC stream, without the rows of a
/// run's warm-up (their lockers were filling from empty). Runs off the GIL.
fn read_history(
    path: Option<PathBuf>,
    frame: Option<&[u8]>,
    skip_bad_rows: bool,
) -> PyResult<(String, HistoryLoad)> {
    let (name, load) = match (path, frame) {
        (Some(path), None) => {
            let load = data::read_history(&path, skip_bad_rows);
            (path.display().to_string(), load)
        }
        (None, Some(bytes)) => {
            let df = frames::from_python(bytes)?;
            let name = "<DataFrame>";
            (
                name.to_string(),
                data::read_history_frame(&df, Path::new(name), skip_bad_rows),
            )
        }
        _ => return Err(internal("pass a path or a frame")),
    };
    let mut load = load.map_err(|e| {
        if e.is_bad_row() {
            bad_input(format!("{e} (or pass --skip-bad-rows)"))
        } else {
            bad_input(e)
        }
    })?;
    load.records.retain(|r| !r.warmup);
    Ok((name, load))
}

/// What the CLI says on stderr about skipped rows, for a Python warning.
fn skipped_note(name: &str, load: &HistoryLoad) -> Option<String> {
    if load.skipped_total() == 0 {
        return None;
    }
    let mut note = format!(
        "{name}: skipped {} of {} rows:",
        load.skipped_total(),
        load.rows_read
    );
    for (why, n) in &load.skipped {
        note.push_str(&format!("\n  {n:>7}  {why}"));
    }
    Some(note)
}

/// Warns (`UserWarning`) about the rows `skip_bad_rows` left out.
fn warn_skipped(py: Python<'_>, note: Option<String>) -> PyResult<()> {
    let Some(note) = note else { return Ok(()) };
    let text = std::ffi::CString::new(note.replace('\0', "\\0")).map_err(internal)?;
    let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
    PyErr::warn(py, category.as_any(), &text, 2)
}

fn training_set(name: &str, load: &HistoryLoad) -> PyResult<TrainingSet> {
    let (features, y) = training_rows(&load.records);
    if y.is_empty() {
        return Err(bad_input(format!(
            "{name}: no deposited package with a pickup or retrieval time"
        )));
    }
    let x = features.iter().map(DwellFeatures::encode).collect();
    Ok(TrainingSet { x, y })
}

/// The forest's hyperparameters: the defaults with `given` (JSON object)
/// set over them, checked as `forecast train` checks its flags.
fn hyperparameters(given: &str) -> PyResult<Hyperparameters> {
    let given: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(given).map_err(internal)?;
    let mut all = serde_json::to_value(Hyperparameters::default()).map_err(internal)?;
    let known = all.as_object_mut().expect("hyperparameters are an object");
    for (key, value) in given {
        if !known.contains_key(&key) {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            return Err(bad_input(format!(
                "unknown hyperparameter `{key}`: expected one of {}",
                names.join(", ")
            )));
        }
        known.insert(key, value);
    }
    let hp: Hyperparameters =
        serde_json::from_value(all).map_err(|e| bad_input(format!("hyperparameters: {e}")))?;
    lockerlab::forecast::train::check_hyperparameters(&hp).map_err(bad_input)?;
    Ok(hp)
}

/// Fits a forest (and the baselines) on history: `forecast train`.
#[pyfunction]
#[pyo3(signature = (path = None, frame = None, hyperparameters = "{}", skip_bad_rows = false, threads = None, progress = None))]
pub fn train(
    py: Python<'_>,
    path: Option<PathBuf>,
    frame: Option<&[u8]>,
    hyperparameters: &str,
    skip_bad_rows: bool,
    threads: Option<u32>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<DwellModel> {
    let hp = self::hyperparameters(hyperparameters)?;
    let pool = super::runs::pool(threads)?;
    let (model, baselines, note) =
        detached::run(py, trees_to_grow(&hp), progress.as_ref(), |p| {
            let sha256 = match (&path, frame) {
                (Some(file), _) => data::training::file_sha256(file)
                    .map_err(|e| bad_input(format!("{}: {e}", file.display())))?,
                (None, Some(bytes)) => lockerlab::forecast::model::sha256_hex(bytes),
                _ => String::new(),
            };
            let (name, load) = read_history(path.clone(), frame, skip_bad_rows)?;
            let set = training_set(&name, &load)?;
            let data = TrainingData {
                file: name.clone(),
                sha256,
                rows: set.len() as u64,
            };
            let model = pool
                .install(|| train_cancellable(&set, &hp, data, &|| p.add(1), &p.cancel))
                .map_err(bad_input)?;
            Ok::<_, PyErr>((model, Baselines::fit(&set), skipped_note(&name, &load)))
        })??;
    warn_skipped(py, note)?;
    Ok(DwellModel {
        model: Arc::new(model),
        baselines,
    })
}

/// Every deposited package's forecast: `forecast predict`, as an Arrow
/// IPC stream.
#[pyfunction]
#[pyo3(signature = (model, path = None, frame = None, skip_bad_rows = false))]
pub fn predict<'py>(
    py: Python<'py>,
    model: &DwellModel,
    path: Option<PathBuf>,
    frame: Option<&[u8]>,
    skip_bad_rows: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let (mut df, note) = detached::run(py, 1, None, |_| {
        let (name, load) = read_history(path, frame, skip_bad_rows)?;
        let rows = data::predictions::predict_packages(&model.model, &load.records);
        if rows.is_empty() {
            return Err(bad_input(format!(
                "{name}: no deposited package to forecast"
            )));
        }
        let df = data::predictions::predictions_frame(&rows).map_err(internal)?;
        Ok((df, skipped_note(&name, &load)))
    })??;
    warn_skipped(py, note)?;
    frames::to_python(py, &mut df)
}

/// The forest's and the baselines' scores (`forecast eval`), as JSON: a
/// list of {name, metrics, calibration}.
#[pyfunction]
#[pyo3(signature = (model, path = None, frame = None, skip_bad_rows = false))]
pub fn evaluate(
    py: Python<'_>,
    model: &DwellModel,
    path: Option<PathBuf>,
    frame: Option<&[u8]>,
    skip_bad_rows: bool,
) -> PyResult<String> {
    let (json, note) = detached::run(py, 1, None, |_| {
        let (name, load) = read_history(path, frame, skip_bad_rows)?;
        let set = training_set(&name, &load)?;
        let (scored, _) = eval::score_all(&model.model, &model.baselines, &set);
        let json = serde_json::to_string(&scored).map_err(internal)?;
        Ok::<_, PyErr>((json, skipped_note(&name, &load)))
    })??;
    warn_skipped(py, note)?;
    Ok(json)
}

/// Writes a model directory `forecast` commands and policies read.
#[pyfunction]
pub fn save_model(model: &DwellModel, dir: PathBuf) -> PyResult<()> {
    model.model.save(&dir).map_err(bad_input)?;
    model.baselines.save(&dir).map_err(bad_input)
}

/// Reads a model directory (`forecast train --out-dir`'s).
#[pyfunction]
pub fn load_model(dir: PathBuf) -> PyResult<DwellModel> {
    let model = lockerlab::forecast::DwellModel::load(&dir).map_err(bad_input)?;
    let baselines = Baselines::load(&dir).map_err(bad_input)?;
    Ok(DwellModel {
        model: Arc::new(model),
        baselines,
    })
}
