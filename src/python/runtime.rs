//! Bindings for [`crate::runtime`] and [`crate::cpu`]: the ONNX Runtime library, this CPU's
//! instruction-set class, and [`build_info`], the facts a bug report needs.

use std::path::PathBuf;

use pyo3::prelude::*;

use super::gil::detached;
use crate::cpu::CpuFeatures;
use crate::runtime::{self, RuntimeStatus};

/// Load ONNX Runtime now; returns `(library path, version)`.
#[pyfunction]
#[pyo3(signature = (search_dirs=Vec::new()))]
fn onnxruntime_info(py: Python<'_>, search_dirs: Vec<PathBuf>) -> PyResult<(PathBuf, String)> {
    detached(py, search_dirs, |dirs| runtime::init(&dirs))
}

/// This CPU's instruction-set class and the features behind it: `(class, [(feature, present)])`.
#[pyfunction]
fn cpu_features() -> (&'static str, Vec<(&'static str, bool)>) {
    let features = CpuFeatures::detect();
    (features.isa_class(), features.flags().to_vec())
}

/// How this extension was built and what it runs on, for bug reports (`tierscope._core.build_info()`).
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct BuildInfo {
    /// tierscope's version.
    version: &'static str,
    /// Cargo profile: `release` or `debug`.
    profile: &'static str,
    /// The Rust target triple (e.g. `x86_64-unknown-linux-gnu`).
    target: &'static str,
    /// `rustc --version` of the compiler that built it (None if it could not be asked).
    rustc: Option<&'static str>,
    /// The pyo3 version it was built with.
    pyo3: Option<&'static str>,
    /// The Python ABI it targets, e.g. `abi3, CPython >= 3.10`.
    python_abi: Option<&'static str>,
    /// `loaded`, `not loaded` (nothing needed it yet), `not found` or `failed`.
    onnxruntime_status: &'static str,
    /// The ONNX Runtime library loaded, or (not loaded yet) the one that would be.
    onnxruntime_path: Option<PathBuf>,
    /// The loaded library's version.
    onnxruntime_version: Option<String>,
    /// Why it was not found or failed to load.
    onnxruntime_error: Option<String>,
    /// This CPU's instruction-set class (`AVX2`, `AVX-512 VNNI`, `AMX`, ...).
    cpu_isa: &'static str,
    /// The int8-relevant CPU features present (`avx2`, `fma`, `avx512`, ...).
    cpu_features: Vec<&'static str>,
}

/// A build fact from build.rs; empty (unknown) is None.
fn fact(value: &'static str) -> Option<&'static str> {
    (!value.is_empty()).then_some(value)
}

/// Attribute names of [`BuildInfo`], in order (for its repr).
const BUILD_INFO_FIELDS: [&str; 12] = [
    "version",
    "profile",
    "target",
    "rustc",
    "pyo3",
    "python_abi",
    "onnxruntime_status",
    "onnxruntime_path",
    "onnxruntime_version",
    "onnxruntime_error",
    "cpu_isa",
    "cpu_features",
];

#[pymethods]
impl BuildInfo {
    /// `BuildInfo(version='0.1.0', ...)` with Python reprs of the values (paste into a bug report).
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = BUILD_INFO_FIELDS
            .iter()
            .map(|name| Ok(format!("{name}={}", slf.getattr(*name)?.repr()?)))
            .collect::<PyResult<Vec<String>>>()?;
        Ok(format!("BuildInfo({})", fields.join(", ")))
    }
}

/// Build and runtime facts for bug reports. Never loads ONNX Runtime: when nothing has loaded
/// it yet, `onnxruntime_path` is the library `search_dirs` (and `TIERSCOPE_ORT_DYLIB`) would load.
#[pyfunction]
#[pyo3(signature = (search_dirs=Vec::new()))]
fn build_info(search_dirs: Vec<PathBuf>) -> BuildInfo {
    let (onnxruntime_status, onnxruntime_path, onnxruntime_version, onnxruntime_error) =
        match runtime::status() {
            RuntimeStatus::Loaded { path, version } => ("loaded", Some(path), Some(version), None),
            RuntimeStatus::Failed(message) => ("failed", None, None, Some(message)),
            RuntimeStatus::NotLoaded => match runtime::find_library(&search_dirs) {
                Ok(path) => ("not loaded", Some(path), None, None),
                Err(err) => ("not found", None, None, Some(err.to_string())),
            },
        };
    let cpu = CpuFeatures::detect();
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        profile: env!("TIERSCOPE_BUILD_PROFILE"),
        target: env!("TIERSCOPE_BUILD_TARGET"),
        rustc: fact(env!("TIERSCOPE_RUSTC_VERSION")),
        pyo3: fact(env!("TIERSCOPE_PYO3_VERSION")),
        python_abi: fact(env!("TIERSCOPE_PYTHON_ABI")),
        onnxruntime_status,
        onnxruntime_path,
        onnxruntime_version,
        onnxruntime_error,
        cpu_isa: cpu.isa_class(),
        cpu_features: cpu.flags().into_iter().filter(|(_, present)| *present).map(|(name, _)| name).collect(),
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BuildInfo>()?;
    m.add_function(wrap_pyfunction!(onnxruntime_info, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_features, m)?)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    Ok(())
}
