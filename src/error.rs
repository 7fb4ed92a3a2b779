//! The one error type of the tierscope core.
//!
//! Every fallible function in the crate returns [`Result`]. The Python binding layer maps each
//! variant onto the documented exception hierarchy in `python/tierscope/exceptions.py`.

use std::path::PathBuf;

/// Errors raised by the tierscope core.
#[derive(Debug, thiserror::Error)]
pub enum TierscopeError {
    /// A caller passed a bad argument. `argument` names it, `expected` says what was expected.
    #[error("invalid `{argument}`: {expected}")]
    InvalidInput {
        /// The argument (or `argument[index]`, `file: field`) at fault.
        argument: String,
        /// What was expected, in words, with the offending value where it helps.
        expected: String,
    },

    /// A path the caller named does not exist.
    #[error("{what} not found: {}", path.display())]
    FileNotFound {
        /// What the file was for, e.g. "router directory".
        what: String,
        /// The missing path.
        path: PathBuf,
    },

    /// A model, tokenizer or router description could not be loaded.
    #[error("cannot load {}: {reason}", path.display())]
    ModelLoad {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Why, naming the bad field where there is one.
        reason: String,
    },

    /// The ONNX Runtime shared library is missing or incompatible.
    #[error("ONNX Runtime is unavailable: {0}")]
    Runtime(String),

    /// Inference ran but failed or produced invalid output.
    #[error("inference failed: {0}")]
    Inference(String),

    /// An I/O error on a named path.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, TierscopeError>;

impl TierscopeError {
    /// A bad-argument error naming `argument` and what was `expected`.
    pub fn invalid(argument: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::InvalidInput { argument: argument.into(), expected: expected.into() }
    }

    /// A load error for `path` with `reason`.
    pub fn model_load(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::ModelLoad { path: path.into(), reason: reason.into() }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
