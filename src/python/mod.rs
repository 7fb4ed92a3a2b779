//! Thin PyO3 binding layer mirroring the core: `stats/` binds [`crate::stats`] module by module,
//! `router` binds [`crate::router`], `runtime` binds [`crate::runtime`] and [`crate::cpu`].
//! Shared pieces: `convert` (arguments in, result classes out), `gil` (GIL release, panics,
//! state locks), `errors` (core errors to `tierscope.exceptions` classes). No logic lives here:
//! every check of an argument's value is in the core.

mod arrow;
mod convert;
mod errors;
mod gil;
mod head;
mod router;
mod runtime;
mod stats;
mod testing;

use pyo3::prelude::*;

/// The native module `tierscope._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::check_classes(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    router::register(m)?;
    head::register(m)?;
    arrow::register(m)?;
    runtime::register(m)?;
    stats::register(m)?;
    testing::register(m)?;
    Ok(())
}
