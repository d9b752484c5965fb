//! `lockerlab._native`: the library's entry points for Python. Thin, like
//! the CLI: arguments in, the library's results out as JSON text or Arrow
//! IPC streams; the Python package in `python/lockerlab/` gives them their
//! types. Every call that simulates or trains releases the GIL, reports
//! progress and stops on the interpreter's interrupt (`detached`).

mod detached;
mod errors;
mod forecast;
mod frames;
mod runs;
mod scenario;

use pyo3::prelude::*;

/// The lockerlab engine (native part; import `lockerlab` instead).
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::forecast::{evaluate, load_model, predict, save_model, train, DwellModel};
    #[pymodule_export]
    use super::runs::{compare, history, simulate, split_policies, sweep, tune};
    #[pymodule_export]
    use super::scenario::Scenario;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
