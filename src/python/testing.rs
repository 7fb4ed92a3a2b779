//! Hooks the Python tests use to check the binding layer itself (GIL release, panics, error
//! mapping). Underscore-named; not part of the public API.

use std::path::PathBuf;

use pyo3::prelude::*;

use super::errors;
use super::gil::detached;
use crate::error::TierscopeError;

/// Sleep in Rust with the GIL released (used by the tests that prove the GIL is released).
#[pyfunction]
fn _sleep_detached(py: Python<'_>, seconds: f64) -> PyResult<()> {
    detached(py, seconds, |s| {
        std::thread::sleep(std::time::Duration::from_secs_f64(s.max(0.0)));
        Ok(())
    })
}

/// Panic inside the core (used by the test proving panics never reach Python as panics).
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    detached(py, (), |_| -> crate::Result<()> { panic!("deliberate test panic") })
}

/// Raise the Python exception a core error of `variant` maps to: `invalid_input`,
/// `file_not_found`, `model_load`, `runtime`, `inference`, `io` or `io_not_found`.
#[pyfunction]
fn _raise_for_test(variant: &str) -> PyResult<()> {
    let path = PathBuf::from("/test/path");
    let io = |kind| std::io::Error::new(kind, "test I/O error");
    let err = match variant {
        "invalid_input" => TierscopeError::invalid("argument", "a test value"),
        "file_not_found" => TierscopeError::FileNotFound { what: "test file".into(), path },
        "model_load" => TierscopeError::model_load(path, "test reason"),
        "runtime" => TierscopeError::Runtime("test runtime".into()),
        "inference" => TierscopeError::Inference("test inference".into()),
        "io" => TierscopeError::io(path, io(std::io::ErrorKind::PermissionDenied)),
        "io_not_found" => TierscopeError::io(path, io(std::io::ErrorKind::NotFound)),
        other => return Err(errors::invalid("variant", &format!("a TierscopeError variant, got {other:?}"))),
    };
    Err(errors::to_py(err))
}

/// Address of the buffer the bindings hand the core for a float64 array: the array's own data
/// when it is read in place (the zero-copy test compares it with `array.ctypes.data`).
#[pyfunction]
fn _input_address(array: super::convert::F64Array<'_>) -> usize {
    super::convert::f64_slice(&array).as_ptr() as usize
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sleep_detached, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(_raise_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(_input_address, m)?)?;
    Ok(())
}
