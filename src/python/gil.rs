//! The one way Rust work runs from Python: inputs already copied into Rust values, the GIL
//! released for the work, panics caught so they never cross into Python.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use super::errors;
use crate::error::Result;

/// Run `work` on `inputs` with the GIL released, then convert errors and panics.
///
/// `inputs` must own its data (no borrowed Python objects), which `Ungil` enforces at compile
/// time; the caller converts the returned value back into Python objects with the GIL held.
pub(crate) fn detached<I, R, F>(py: Python<'_>, inputs: I, work: F) -> PyResult<R>
where
    I: Send,
    R: Send,
    F: FnOnce(I) -> Result<R> + Send,
{
    let outcome = py.detach(move || catch_unwind(AssertUnwindSafe(move || work(inputs))));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(errors::to_py(py, err)),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(errors::raise(py, "InternalError", format!("internal error in tierscope core: {detail}")))
        }
    }
}
