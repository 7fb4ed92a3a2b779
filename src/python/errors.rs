//! Maps [`TierscopeError`] onto the Python hierarchy defined in `tierscope.exceptions`.

use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::error::TierscopeError;

fn exception_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = py.import("tierscope.exceptions")?;
    Ok(module.getattr(name)?.cast_into::<PyType>()?)
}

/// Build the Python exception for `name` with `message`; falls back to `RuntimeError` if the
/// exceptions module cannot be imported (it always can in an installed wheel).
pub(crate) fn raise(py: Python<'_>, name: &str, message: String) -> PyErr {
    match exception_class(py, name) {
        Ok(class) => PyErr::from_type(class, message),
        Err(err) => err,
    }
}

/// Convert a core error into the matching Python exception.
pub(crate) fn to_py(py: Python<'_>, err: TierscopeError) -> PyErr {
    let class = match &err {
        TierscopeError::InvalidInput { .. } => "InvalidInputError",
        TierscopeError::FileNotFound { .. } => "TierscopeFileNotFoundError",
        TierscopeError::ModelLoad { .. } => "ModelLoadError",
        TierscopeError::Runtime(_) => "RuntimeUnavailableError",
        TierscopeError::Inference(_) => "InferenceError",
        TierscopeError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "TierscopeFileNotFoundError"
        }
        TierscopeError::Io { .. } => "TierscopeError",
    };
    raise(py, class, err.to_string())
}

/// Shorthand for an `InvalidInputError` naming `argument`.
pub(crate) fn invalid(py: Python<'_>, argument: &str, expected: &str) -> PyErr {
    to_py(py, TierscopeError::invalid(argument, expected))
}
