//! DataFrames across the boundary as Arrow IPC streams: columnar buffers
//! polars on either side reads without parsing, and no unsafe FFI here.

use polars::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `df` as an Arrow IPC stream, for `polars.read_ipc_stream`.
pub fn to_python<'py>(py: Python<'py>, df: &mut DataFrame) -> PyResult<Bound<'py, PyBytes>> {
    let mut buf = Vec::new();
    IpcStreamWriter::new(&mut buf)
        .finish(df)
        .map_err(super::errors::internal)?;
    Ok(PyBytes::new(py, &buf))
}

/// An Arrow IPC stream written by `DataFrame.write_ipc_stream`.
/// A damaged stream is bad input, never a crash of the interpreter.
pub fn from_python(bytes: &[u8]) -> PyResult<DataFrame> {
    let bad = |m: String| super::errors::bad_input(format!("reading the DataFrame: {m}"));
    lockerlab::data::contain::contain(|| IpcStreamReader::new(std::io::Cursor::new(bytes)).finish())
        .map_err(bad)?
        .map_err(|e| bad(e.to_string()))
}
