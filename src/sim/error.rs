//! What can stop a run.

use crate::controller::Rejected;
use crate::time::Millis;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("location `{location}` at t={time} ms: the controller refused {input}: {source}")]
    Controller {
        location: String,
        time: Millis,
        input: String,
        #[source]
        source: Rejected,
    },
    #[error("location `{location}`: invariant broken at t={time} ms: {message}")]
    Invariant {
        location: String,
        time: Millis,
        message: String,
    },
    #[error("the run was cancelled")]
    Cancelled,
    #[error("writing the audit log {path}: {source}")]
    Audit {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a command's runs (compare, sweep, tune) could not go on: input the
/// user must fix, or the simulation itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A policy, model, key or value the user gave is wrong.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Sim(#[from] SimError),
}
