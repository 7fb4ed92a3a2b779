//! Maps [`TierscopeError`] onto the classes of `tierscope.exceptions`.
//!
//! Every class the Rust side raises is imported once, by class ([`pyo3::import_exception!`]),
//! not looked up by name on every error; `_core` checks when it is imported that
//! `tierscope.exceptions` defines each of them ([`check_classes`]), so raising one never fails.

use pyo3::prelude::*;

use crate::error::TierscopeError;

/// Import each named class of `tierscope.exceptions` into [`classes`] and list the names in
/// [`RAISED`].
macro_rules! exception_classes {
    ($($name:ident),+ $(,)?) => {
        /// The `tierscope.exceptions` classes raised from Rust (imported on first use).
        pub(crate) mod classes {
            $(pyo3::import_exception!(tierscope.exceptions, $name);)+
        }

        /// Names of every class in [`classes`].
        pub(crate) const RAISED: &[&str] = &[$(stringify!($name)),+];
    };
}

exception_classes!(
    TierscopeError,
    InvalidInputError,
    TierscopeFileNotFoundError,
    ModelLoadError,
    RuntimeUnavailableError,
    InferenceError,
    InternalError,
);

/// Fail the import of `_core` (with Python's `ImportError`/`AttributeError`) unless
/// `tierscope.exceptions` defines every class in [`RAISED`]; after it, raising one cannot fail.
pub(crate) fn check_classes(py: Python<'_>) -> PyResult<()> {
    let module = py.import("tierscope.exceptions")?;
    for name in RAISED {
        module.getattr(*name)?;
    }
    Ok(())
}

/// Convert a core error into the matching Python exception.
pub(crate) fn to_py(err: TierscopeError) -> PyErr {
    let message = err.to_string();
    match err {
        TierscopeError::InvalidInput { .. } => classes::InvalidInputError::new_err(message),
        TierscopeError::FileNotFound { .. } => classes::TierscopeFileNotFoundError::new_err(message),
        TierscopeError::ModelLoad { .. } => classes::ModelLoadError::new_err(message),
        TierscopeError::Runtime(_) => classes::RuntimeUnavailableError::new_err(message),
        TierscopeError::Inference(_) => classes::InferenceError::new_err(message),
        TierscopeError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            classes::TierscopeFileNotFoundError::new_err(message)
        }
        TierscopeError::Io { .. } => classes::TierscopeError::new_err(message),
    }
}

/// An `InvalidInputError` naming `argument`.
pub(crate) fn invalid(argument: &str, expected: &str) -> PyErr {
    to_py(TierscopeError::invalid(argument, expected))
}

/// An `InternalError`: a bug inside tierscope (a caught panic, an impossible shape).
pub(crate) fn internal(message: String) -> PyErr {
    classes::InternalError::new_err(message)
}
