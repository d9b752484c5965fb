//! `lockerlab.Scenario`: a validated scenario and the TOML it came from,
//! so `with_` can set keys by path and validate the result as a file.

use super::errors::{bad_input, scenario_error};
use lockerlab::scenario::edit::ScenarioSource;
use lockerlab::scenario::{self as sc, ScenarioError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::path::PathBuf;
use std::sync::Arc;

/// A validated scenario: load one with `Scenario.load(path)`,
/// `Scenario.from_dict(d)`, `Scenario.from_toml(text)` or
/// `Scenario.builtin()`; vary it with `with_(**{"key.path": value})`.
#[pyclass(module = "lockerlab", frozen)]
pub struct Scenario {
    pub source: ScenarioSource,
    pub compiled: Arc<sc::Scenario>,
}

impl Scenario {
    fn from_text(py: Python<'_>, text: &str, file: &str) -> PyResult<Scenario> {
        let source = ScenarioSource::new(text, file).map_err(|e| scenario_error(py, &e))?;
        let compiled = sc::Scenario::from_toml(text, file).map_err(|e| scenario_error(py, &e))?;
        Self::attached(source, compiled)
    }

    /// With any `[demand] history` read, as the CLI does.
    fn attached(source: ScenarioSource, mut compiled: sc::Scenario) -> PyResult<Scenario> {
        lockerlab::data::attach_history(&mut compiled).map_err(|e| bad_input(format!("{e:#}")))?;
        Ok(Scenario {
            source,
            compiled: Arc::new(compiled),
        })
    }
}

#[pymethods]
impl Scenario {
    /// Reads and validates a scenario file.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Scenario> {
        let file = path.display().to_string();
        let text = lockerlab::files::read_text(&path).map_err(|source| {
            scenario_error(
                py,
                &ScenarioError::Read {
                    file: file.clone(),
                    source,
                },
            )
        })?;
        Self::from_text(py, &text, &file)
    }

    /// The built-in 200-locker city (`lockerlab simulate` without a file).
    #[staticmethod]
    fn builtin(py: Python<'_>) -> PyResult<Scenario> {
        Self::from_text(py, sc::BUILTIN_TOML, sc::BUILTIN_NAME)
    }

    /// Parses and validates scenario TOML; `name` stands for the file in
    /// errors.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<string>"))]
    fn from_toml(py: Python<'_>, text: &str, name: &str) -> PyResult<Scenario> {
        Self::from_text(py, text, name)
    }

    /// A scenario from a dict shaped like the TOML file (tables are
    /// dicts, `[[locations]]` a list of dicts).
    #[staticmethod]
    #[pyo3(signature = (d, name = "<dict>"))]
    fn from_dict(py: Python<'_>, d: &Bound<'_, PyDict>, name: &str) -> PyResult<Scenario> {
        let value = to_toml(d.as_any(), "")?;
        let text = toml::to_string(&value).map_err(|e| bad_input(format!("{name}: {e}")))?;
        // A line and column would point into text the user never saw.
        let compiled = sc::Scenario::from_toml(&text, name).map_err(|e| {
            let e = match e {
                ScenarioError::Invalid {
                    file,
                    path,
                    message,
                    ..
                } => ScenarioError::Invalid {
                    file,
                    position: None,
                    path,
                    message,
                },
                read => read,
            };
            scenario_error(py, &e)
        })?;
        let source = ScenarioSource {
            file: name.to_string(),
            value,
        };
        Self::attached(source, compiled)
    }

    /// This scenario with keys set by path, validated like a file:
    /// `sc.with_(**{"policy.shares.same_day": 0.25, "simulation.seed": 7})`.
    /// An array of tables is entered by id: `"locations.A-01.compartments.S"`.
    #[pyo3(signature = (**settings))]
    fn with_(&self, py: Python<'_>, settings: Option<&Bound<'_, PyDict>>) -> PyResult<Scenario> {
        let mut values = Vec::new();
        if let Some(settings) = settings {
            for (key, value) in settings.iter() {
                let key: String = key.extract()?;
                values.push((key.clone(), to_toml(&value, &key)?));
            }
        }
        let compiled = self
            .source
            .with_values(&values)
            .map_err(|e| scenario_error(py, &e))?;
        let value = self
            .source
            .edited_value(None, &values)
            .map_err(|e| scenario_error(py, &e))?;
        let source = ScenarioSource {
            file: self.source.file.clone(),
            value,
        };
        Self::attached(source, compiled)
    }

    /// The scenario's TOML (with any `with_` changes).
    fn to_toml(&self) -> PyResult<String> {
        toml::to_string(&self.source.value).map_err(super::errors::internal)
    }

    #[getter]
    fn name(&self) -> String {
        self.compiled.name.clone()
    }

    /// The file (or `<dict>`, `<string>`) errors name.
    #[getter]
    fn file(&self) -> String {
        self.source.file.clone()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.compiled.seed
    }

    #[getter]
    fn replications(&self) -> u32 {
        self.compiled.replications
    }

    /// Location ids, in the scenario's order.
    #[getter]
    fn locations(&self) -> Vec<String> {
        self.compiled
            .locations
            .iter()
            .map(|l| l.id.clone())
            .collect()
    }

    /// The scenario's policy as a `policy=` spec.
    #[getter]
    fn policy(&self) -> String {
        lockerlab::policy::spec::to_spec(&self.compiled.policy)
    }

    #[getter]
    fn horizon_days(&self) -> f64 {
        self.compiled.horizon as f64 / lockerlab::time::DAY as f64
    }

    #[getter]
    fn warmup_days(&self) -> f64 {
        self.compiled.warmup as f64 / lockerlab::time::DAY as f64
    }

    fn __repr__(&self) -> String {
        format!(
            "Scenario(name={:?}, file={:?}, locations={}, horizon_days={}, seed={}, replications={})",
            self.compiled.name,
            self.source.file,
            self.compiled.locations.len(),
            self.horizon_days(),
            self.compiled.seed,
            self.compiled.replications
        )
    }
}

/// Deeper than any scenario: a dict that contains itself stops here
/// instead of overflowing the stack.
const MAX_DEPTH: usize = 32;

/// A Python value as TOML; `at` names it in errors.
fn to_toml(v: &Bound<'_, PyAny>, at: &str) -> PyResult<toml::Value> {
    to_toml_at(v, at, 0)
}

fn to_toml_at(v: &Bound<'_, PyAny>, at: &str, depth: usize) -> PyResult<toml::Value> {
    if depth > MAX_DEPTH {
        return Err(bad_input(format!(
            "`{at}`: nested deeper than {MAX_DEPTH} levels (a dict or list that contains itself?)"
        )));
    }
    let here = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    // bool before int: Python's bool is an int.
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(toml::Value::Boolean(b.is_true()));
    }
    if v.cast::<PyInt>().is_ok() {
        let i: i64 = v
            .extract()
            .map_err(|_| bad_input(format!("`{at}`: {v} does not fit a 64-bit integer")))?;
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(toml::Value::Float(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(toml::Value::String(s.extract::<String>()?));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut table = toml::Table::new();
        for (k, item) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| bad_input(format!("`{at}`: keys must be strings, got {k}")))?;
            let value = to_toml_at(&item, &here(&k), depth + 1)?;
            table.insert(k, value);
        }
        return Ok(toml::Value::Table(table));
    }
    if v.cast::<PyList>().is_ok() || v.cast::<PyTuple>().is_ok() {
        let mut items = Vec::new();
        for (i, item) in v.try_iter()?.enumerate() {
            items.push(to_toml_at(&item?, &here(&i.to_string()), depth + 1)?);
        }
        return Ok(toml::Value::Array(items));
    }
    // numpy's and pandas' scalars: booleans by their dtype, integers by
    // `__index__`, then floats.
    let kind = v
        .getattr("dtype")
        .and_then(|d| d.getattr("kind"))
        .and_then(|k| k.extract::<String>());
    if kind.is_ok_and(|k| k == "b") {
        return Ok(toml::Value::Boolean(v.is_truthy()?));
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(toml::Value::Float(f));
    }
    Err(bad_input(format!(
        "`{at}`: expected a bool, number, string, dict or list, got {}",
        v.get_type().name()?
    )))
}
