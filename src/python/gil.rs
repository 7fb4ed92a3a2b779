//! The one way Rust work runs from Python: inputs converted to Rust values or slices borrowed
//! from numpy arrays (see [`super::convert`]), the GIL released for the work, panics caught so
//! they never cross into Python. Stateful classes keep
//! their state in a `Mutex` ([`lock`], [`read`]): locked with the GIL released, never the GIL
//! taken while it is held.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, TryLockError};

use pyo3::prelude::*;

use super::errors;
use crate::error::Result;

/// Run `work` on `inputs` with the GIL released, then convert errors and panics.
///
/// `inputs` holds no Python objects, which `Ungil` enforces at compile time: owned values, or
/// slices borrowed from read-only numpy arrays that outlive the call. The caller converts the
/// returned value back into Python objects with the GIL held.
pub(crate) fn detached<I, R, F>(py: Python<'_>, inputs: I, work: F) -> PyResult<R>
where
    I: Send,
    R: Send,
    F: FnOnce(I) -> Result<R> + Send,
{
    let outcome = py.detach(move || catch_unwind(AssertUnwindSafe(move || work(inputs))));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(errors::to_py(err)),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(errors::internal(format!("internal error in tierscope core: {detail}")))
        }
    }
}

/// Lock the state of a stateful pyclass. A panic while it was held (caught by [`detached`] and
/// raised as `InternalError`) poisons the mutex; the core validates every update before it
/// changes anything, so the state is still consistent: take it and clear the poison.
///
/// Call it with the GIL released (inside [`detached`]) for anything but a brief read, and never
/// acquire the GIL while holding the guard.
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|poisoned| {
        state.clear_poison();
        poisoned.into_inner()
    })
}

/// A brief read of a pyclass's state from a getter: taken at once if the lock is free, else
/// waited for with the GIL released (a long update may hold it), so waiting never blocks Python.
pub(crate) fn read<T, R, F>(py: Python<'_>, state: &Mutex<T>, f: F) -> R
where
    T: Send,
    R: Send,
    F: FnOnce(&T) -> R + Send,
{
    match state.try_lock() {
        Ok(guard) => f(&guard),
        Err(TryLockError::Poisoned(poisoned)) => {
            state.clear_poison();
            f(&poisoned.into_inner())
        }
        Err(TryLockError::WouldBlock) => py.detach(|| f(&lock(state))),
    }
}
