//! Library errors as Python exceptions: bad input is a `ValueError` (a
//! scenario's a `lockerlab.ScenarioError` with its file, line and key
//! path), the same words the CLI prints.

use lockerlab::scenario::ScenarioError;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// `lockerlab.ScenarioError(message, file, line, column, key)`.
pub fn scenario_error(py: Python<'_>, e: &ScenarioError) -> PyErr {
    let (file, position, key) = match e {
        ScenarioError::Read { file, .. } => (file.clone(), None, None),
        ScenarioError::Invalid {
            file,
            position,
            path,
            ..
        } => (file.clone(), *position, Some(path.clone())),
    };
    let message = lockerlab::error_text::with_causes(e);
    let made = py
        .import("lockerlab._errors")
        .and_then(|m| m.getattr("ScenarioError"))
        .and_then(|class| {
            class.call1((
                message.clone(),
                file,
                position.map(|p| p.0),
                position.map(|p| p.1),
                key,
            ))
        });
    match made {
        Ok(exception) => PyErr::from_value(exception),
        // The package is not importable (the module loaded on its own):
        // the message still says it all.
        Err(_) => PyValueError::new_err(message),
    }
}

/// Input the user must fix, in the words of the Python call: the
/// library's messages name the CLI's flags.
pub fn bad_input(message: impl std::fmt::Display) -> PyErr {
    let mut text = message.to_string();
    for (flag, keyword) in ARGUMENTS {
        text = text.replace(flag, keyword);
    }
    PyValueError::new_err(text)
}

/// CLI flags and the keyword arguments that stand for them (longer flags
/// first: `--demand-model` before `--model`).
const ARGUMENTS: [(&str, &str); 11] = [
    ("--max-broken-promise-rate", "max_broken_promise_rate"),
    ("--demand-model DIR", "demand_model=DIR"),
    ("--demand-model", "demand_model"),
    ("--model DIR", "model=DIR"),
    ("--model", "model"),
    ("--family", "family"),
    ("--vary", "vary"),
    ("--policies", "policies"),
    ("--metrics", "metrics"),
    ("--replications N", "replications=N"),
    ("--skip-bad-rows", "skip_bad_rows=True"),
];

/// Our fault.
pub fn internal(message: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(format!("internal error: {message}"))
}
