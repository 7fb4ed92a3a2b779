//! Thin PyO3 binding layer: argument conversion, GIL release, error mapping. No logic lives here.

mod errors;
mod gil;
mod router;
mod stats;
mod summary;

use pyo3::prelude::*;

/// The native module `tierscope._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    router::register(m)?;
    stats::register(m)?;
    summary::register(m)?;
    Ok(())
}
