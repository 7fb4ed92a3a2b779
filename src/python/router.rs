//! Bindings for the router core: argument conversion and result columns. No logic lives here.

use std::path::PathBuf;

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::errors;
use super::gil::detached;
use crate::router::{self, BatchConfig, FitOptions, RouteOutput, Router, ThreadConfig};
use crate::runtime;

/// Copy a Python list/tuple of `str` into Rust, naming the first bad item.
pub(crate) fn extract_texts(
    py: Python<'_>,
    texts: &Bound<'_, PyAny>,
    argument: &str,
) -> PyResult<Vec<String>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = texts.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = texts.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        let type_name = texts.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        return Err(errors::invalid(py, argument, &format!("a list of str, got {type_name}")));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_str().map(str::to_owned).map_err(|_| {
                errors::invalid(
                    py,
                    &format!("{argument}[{i}]"),
                    "valid Unicode text (lone surrogates cannot be encoded)",
                )
            })?),
            Err(_) => {
                let type_name = item.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                return Err(errors::invalid(
                    py,
                    &format!("{argument}[{i}]"),
                    &format!("a str, got {type_name}"),
                ));
            }
        }
    }
    Ok(out)
}

fn threads(py: Python<'_>, sessions: Option<usize>, intra_threads: Option<usize>) -> PyResult<ThreadConfig> {
    ThreadConfig::resolve(sessions, intra_threads).map_err(|e| errors::to_py(py, e))
}

fn init_runtime(py: Python<'_>, search_dirs: Vec<PathBuf>) -> PyResult<()> {
    detached(py, search_dirs, |dirs| runtime::init(&dirs).map(|_| ()))
}

/// A loaded router (the Python façade `tierscope.Router` wraps it).
#[pyclass(frozen, name = "RouterCore", module = "tierscope._core")]
pub struct RouterCore {
    inner: Router,
}

fn output_to_dict<'py>(py: Python<'py>, out: RouteOutput) -> PyResult<Bound<'py, PyDict>> {
    let n = out.tier_index.len();
    let dict = PyDict::new(py);
    let probabilities = Array2::from_shape_vec((n, out.k), out.probabilities)
        .map_err(|e| errors::raise(py, "InternalError", e.to_string()))?;
    dict.set_item("tier_index", PyArray1::from_vec(py, out.tier_index))?;
    dict.set_item("probabilities", PyArray2::from_owned_array(py, probabilities))?;
    dict.set_item("confidence", PyArray1::from_vec(py, out.confidence))?;
    dict.set_item("tail_score", PyArray1::from_vec(py, out.tail_score))?;
    dict.set_item("fallback", PyArray1::from_vec(py, out.fallback))?;
    dict.set_item("truncated", PyArray1::from_vec(py, out.truncated))?;
    dict.set_item("tokens", PyArray1::from_vec(py, out.tokens))?;
    dict.set_item("reason", PyList::new(py, out.reason)?)?;
    match out.embeddings {
        Some(e) => {
            let embeddings = Array2::from_shape_vec((n, out.embedding_dim), e)
                .map_err(|e| errors::raise(py, "InternalError", e.to_string()))?;
            dict.set_item("embeddings", PyArray2::from_owned_array(py, embeddings))?;
        }
        None => dict.set_item("embeddings", py.None())?,
    }
    Ok(dict)
}

#[pymethods]
impl RouterCore {
    /// Load a router directory.
    #[staticmethod]
    #[pyo3(signature = (path, *, sessions=None, intra_threads=None, token_budget=512, max_batch=64, ort_search_dirs=Vec::new()))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        sessions: Option<usize>,
        intra_threads: Option<usize>,
        token_budget: usize,
        max_batch: usize,
        ort_search_dirs: Vec<PathBuf>,
    ) -> PyResult<Self> {
        if token_budget == 0 || max_batch == 0 {
            return Err(errors::invalid(py, "token_budget/max_batch", "positive integers"));
        }
        init_runtime(py, ort_search_dirs)?;
        let threads = threads(py, sessions, intra_threads)?;
        let batch = BatchConfig { token_budget, max_batch };
        let inner = detached(py, path, move |path| Router::load(&path, threads, batch))?;
        Ok(Self { inner })
    }

    /// Route texts; returns a dict of numpy columns (see `tierscope.RouteBatch`).
    #[pyo3(signature = (texts, *, with_embeddings=false))]
    fn route_batch<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        with_embeddings: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let texts = extract_texts(py, texts, "texts")?;
        let out = detached(py, texts, |texts| self.inner.route_batch(&texts, with_embeddings))?;
        output_to_dict(py, out)
    }

    /// Write the router directory.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        detached(py, path, |path| self.inner.save(&path))
    }

    /// `router.json` as a JSON string.
    fn config_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(self.inner.config())
            .map_err(|e| errors::raise(py, "InternalError", e.to_string()))
    }

    /// Tier names, cheapest first.
    #[getter]
    fn tiers(&self) -> Vec<String> {
        self.inner.config().tiers.clone()
    }

    /// `(sessions, intra_threads)` in use.
    #[getter]
    fn threads(&self) -> (usize, usize) {
        let t = self.inner.encoder().threads();
        (t.sessions, t.intra_threads)
    }

    /// The directory the router was loaded from, or None for a freshly fitted router.
    #[getter]
    fn source(&self) -> Option<PathBuf> {
        self.inner.source().map(PathBuf::from)
    }
}

/// Train a router head on an encoder directory (see `tierscope.Router.fit`).
#[pyfunction]
#[pyo3(signature = (encoder_dir, texts, tiers, *, tier_order, holdout_fraction=0.2, l2=1e-4, seed=0, shrinkage=0.1,
                    min_confidence=None, max_length=128, provenance_json=None, sessions=None, intra_threads=None,
                    ort_search_dirs=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn fit_router(
    py: Python<'_>,
    encoder_dir: PathBuf,
    texts: &Bound<'_, PyAny>,
    tiers: &Bound<'_, PyAny>,
    tier_order: Vec<String>,
    holdout_fraction: f64,
    l2: f64,
    seed: u64,
    shrinkage: f64,
    min_confidence: Option<f64>,
    max_length: usize,
    provenance_json: Option<String>,
    sessions: Option<usize>,
    intra_threads: Option<usize>,
    ort_search_dirs: Vec<PathBuf>,
) -> PyResult<RouterCore> {
    let texts = extract_texts(py, texts, "texts")?;
    let tiers = extract_texts(py, tiers, "tiers")?;
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(errors::invalid(py, "l2", &format!("a non-negative number, got {l2}")));
    }
    if !(shrinkage.is_finite() && shrinkage > 0.0 && shrinkage <= 1.0) {
        return Err(errors::invalid(py, "shrinkage", &format!("a value in (0, 1], got {shrinkage}")));
    }
    let provenance = match provenance_json {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            errors::invalid(py, "provenance", &format!("a JSON object of strings/numbers: {e}"))
        })?,
        None => Default::default(),
    };
    init_runtime(py, ort_search_dirs)?;
    let threads = threads(py, sessions, intra_threads)?;
    let options = FitOptions {
        tier_order,
        holdout_fraction,
        l2,
        seed,
        shrinkage,
        min_confidence,
        max_length,
        provenance,
    };
    let inner = detached(py, (encoder_dir, texts, tiers), move |(dir, texts, tiers)| {
        router::fit(&dir, &texts, &tiers, &options, threads)
    })?;
    Ok(RouterCore { inner })
}

/// Load ONNX Runtime now; returns `(library path, version)`.
#[pyfunction]
#[pyo3(signature = (search_dirs=Vec::new()))]
fn onnxruntime_info(py: Python<'_>, search_dirs: Vec<PathBuf>) -> PyResult<(PathBuf, String)> {
    detached(py, search_dirs, |dirs| runtime::init(&dirs))
}

/// This CPU's instruction-set class and the features behind it: `(class, {feature: present})`.
#[pyfunction]
fn cpu_features(py: Python<'_>) -> PyResult<(String, Bound<'_, PyDict>)> {
    let features = crate::cpu::CpuFeatures::detect();
    let flags = PyDict::new(py);
    for (name, present) in features.flags() {
        flags.set_item(name, present)?;
    }
    Ok((features.isa_class().to_string(), flags))
}

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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RouterCore>()?;
    m.add_function(wrap_pyfunction!(fit_router, m)?)?;
    m.add_function(wrap_pyfunction!(onnxruntime_info, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_features, m)?)?;
    m.add_function(wrap_pyfunction!(_sleep_detached, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    Ok(())
}
