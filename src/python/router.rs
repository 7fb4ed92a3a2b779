//! Bindings for [`crate::router`]: loading, routing, saving and fitting a router.

use std::path::PathBuf;

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::convert;
use super::errors;
use super::gil::detached;
use crate::router::{self, BatchConfig, FitOptions, RouteOutput, Router, ThreadConfig};
use crate::runtime;

fn threads(sessions: Option<usize>, intra_threads: Option<usize>) -> PyResult<ThreadConfig> {
    ThreadConfig::resolve(sessions, intra_threads).map_err(errors::to_py)
}

fn init_runtime(py: Python<'_>, search_dirs: Vec<PathBuf>) -> PyResult<()> {
    detached(py, search_dirs, |dirs| runtime::init(&dirs).map(|_| ()))
}

// The literal default in `RouterCore.load`'s signature (a literal, so Python's introspection and
// the stubs see the value) is the core's default.
const _: () = assert!(crate::router::encoder::DEFAULT_MAX_TEXT_BYTES == 1048576);

/// A loaded router (the Python façade `tierscope.Router` wraps it).
#[pyclass(frozen, name = "RouterCore", module = "tierscope._core")]
pub struct RouterCore {
    inner: Router,
}

impl RouterCore {
    /// The core router (for the Arrow binding in `super::arrow`).
    pub(super) fn inner(&self) -> &Router {
        &self.inner
    }
}

/// A batch's routing results as numpy columns, one row per text ([`RouteOutput`]); the
/// façade's `tierscope.RouteBatch` is built from them.
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct RouteColumns {
    tier_index: Py<PyArray1<u32>>,
    probabilities: Py<PyArray2<f32>>,
    confidence: Py<PyArray1<f32>>,
    tail_score: Py<PyArray1<f32>>,
    fallback: Py<PyArray1<bool>>,
    truncated: Py<PyArray1<bool>>,
    content_discarded: Py<PyArray1<bool>>,
    tokens: Py<PyArray1<u32>>,
    reason: Py<PyList>,
    embeddings: Option<Py<PyArray2<f32>>>,
    region: Py<PyArray1<i32>>,
}

impl RouteColumns {
    pub(super) fn new(py: Python<'_>, out: RouteOutput) -> PyResult<Self> {
        let RouteOutput {
            k,
            tier_index,
            probabilities,
            confidence,
            tail_score,
            fallback,
            reason,
            truncated,
            content_discarded,
            tokens,
            embeddings,
            embedding_dim,
            region,
        } = out;
        let n = tier_index.len();
        let matrix = |values: Vec<f32>, width: usize| -> PyResult<Py<PyArray2<f32>>> {
            let array =
                Array2::from_shape_vec((n, width), values).map_err(|e| errors::internal(e.to_string()))?;
            Ok(PyArray2::from_owned_array(py, array).unbind())
        };
        Ok(Self {
            tier_index: PyArray1::from_vec(py, tier_index).unbind(),
            probabilities: matrix(probabilities, k)?,
            confidence: PyArray1::from_vec(py, confidence).unbind(),
            tail_score: PyArray1::from_vec(py, tail_score).unbind(),
            fallback: PyArray1::from_vec(py, fallback).unbind(),
            truncated: PyArray1::from_vec(py, truncated).unbind(),
            content_discarded: PyArray1::from_vec(py, content_discarded).unbind(),
            tokens: PyArray1::from_vec(py, tokens).unbind(),
            reason: PyList::new(py, reason)?.unbind(),
            embeddings: embeddings.map(|e| matrix(e, embedding_dim)).transpose()?,
            region: PyArray1::from_vec(py, region).unbind(),
        })
    }
}

#[pymethods]
impl RouterCore {
    /// Load a router directory; texts longer than `max_text_bytes` bytes are cut before
    /// tokenization (and flagged).
    #[staticmethod]
    #[pyo3(signature = (path, *, sessions=None, intra_threads=None, token_budget=512, max_batch=64,
                        max_text_bytes=1048576, ort_search_dirs=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        sessions: Option<usize>,
        intra_threads: Option<usize>,
        token_budget: usize,
        max_batch: usize,
        max_text_bytes: usize,
        ort_search_dirs: Vec<PathBuf>,
    ) -> PyResult<Self> {
        let batch = BatchConfig::new(token_budget, max_batch)
            .and_then(|b| b.with_max_text_bytes(max_text_bytes))
            .map_err(errors::to_py)?;
        init_runtime(py, ort_search_dirs)?;
        let threads = threads(sessions, intra_threads)?;
        let inner = detached(py, path, move |path| Router::load(&path, threads, batch))?;
        Ok(Self { inner })
    }

    /// Route texts; returns the numpy columns of a `tierscope.RouteBatch`.
    #[pyo3(signature = (texts, *, with_embeddings=false))]
    fn route_batch(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        with_embeddings: bool,
    ) -> PyResult<RouteColumns> {
        let texts = convert::texts(texts, "texts")?;
        let out = detached(py, texts, |texts| self.inner.route_batch(&texts, with_embeddings))?;
        RouteColumns::new(py, out)
    }

    /// Write the router directory.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        detached(py, path, |path| self.inner.save(&path))
    }

    /// `router.json` as a JSON string.
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.config()).map_err(|e| errors::internal(e.to_string()))
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

    /// Number of regions of the training distribution (0: the router has none).
    #[getter]
    fn regions(&self) -> usize {
        self.inner.regions().map_or(0, |r| r.len())
    }

    /// The region centroids (`regions × dim`, unit norm), or None without regions.
    fn region_centroids<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        let Some(r) = self.inner.regions() else { return Ok(None) };
        let array = Array2::from_shape_vec((r.len(), r.dim()), r.centroids().to_vec())
            .map_err(|e| errors::internal(e.to_string()))?;
        Ok(Some(PyArray2::from_owned_array(py, array)))
    }

    /// The directory the router was loaded from (a `pathlib.Path`), or None for a freshly
    /// fitted router.
    #[getter]
    fn source(&self) -> Option<PathBuf> {
        self.inner.source().map(PathBuf::from)
    }
}

/// Train a router head on an encoder directory (see `tierscope.Router.fit`).
#[pyfunction]
#[pyo3(signature = (encoder_dir, texts, tiers, *, tier_order, holdout_fraction=0.2, l2=1e-4, seed=0, shrinkage=0.1,
                    min_confidence=None, max_length=None, provenance_json=None, sessions=None, intra_threads=None,
                    ort_search_dirs=Vec::new(), intents=None, max_tail_score=Some(0.99), tail_neighbours=3,
                    tail_max_rows=10240, truncation=None, head_tokens=None, class_weight_balanced=false,
                    class_weights=None, embeddings=None, n_truncated=0))]
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
    max_length: Option<usize>,
    provenance_json: Option<String>,
    sessions: Option<usize>,
    intra_threads: Option<usize>,
    ort_search_dirs: Vec<PathBuf>,
    intents: Option<&Bound<'_, PyAny>>,
    max_tail_score: Option<f64>,
    tail_neighbours: usize,
    tail_max_rows: usize,
    truncation: Option<String>,
    head_tokens: Option<usize>,
    class_weight_balanced: bool,
    class_weights: Option<Vec<f64>>,
    embeddings: Option<numpy::PyReadonlyArray2<'_, f32>>,
    n_truncated: usize,
) -> PyResult<RouterCore> {
    let truncation = truncation
        .map(|name| router::config::Truncation::parse(&name).map_err(|e| errors::invalid("truncation", &e)))
        .transpose()?;
    let class_weight = match (class_weight_balanced, class_weights) {
        (true, _) => router::fit::ClassWeight::Balanced,
        (false, Some(w)) => router::fit::ClassWeight::Explicit(w),
        (false, None) => router::fit::ClassWeight::None,
    };
    // Copied out of the array while the GIL is held; the fit itself runs detached.
    let embeddings = embeddings.map(|e| {
        let dim = e.shape()[1];
        (e.as_array().iter().copied().collect::<Vec<f32>>(), dim)
    });
    let texts = convert::texts(texts, "texts")?;
    let tiers = convert::texts(tiers, "tiers")?;
    let intents = intents.map(|i| convert::texts(i, "intents")).transpose()?;
    let mut options = FitOptions {
        tier_order,
        holdout_fraction,
        l2,
        seed,
        shrinkage,
        min_confidence,
        max_length,
        truncation,
        head_tokens,
        class_weight,
        max_tail_score,
        tail_neighbours,
        tail_max_rows,
        ..Default::default()
    };
    // Checked before the runtime is loaded: a bad option is reported even without one.
    options.validate().map_err(errors::to_py)?;
    if let Some(text) = provenance_json {
        options.provenance = serde_json::from_str(&text)
            .map_err(|e| errors::invalid("provenance", &format!("a JSON object of strings/numbers: {e}")))?;
    }
    init_runtime(py, ort_search_dirs)?;
    let threads = threads(sessions, intra_threads)?;
    let inputs = (encoder_dir, texts, tiers, intents, embeddings);
    let inner = detached(py, inputs, move |(dir, texts, tiers, intents, embeddings)| {
        let input = match &embeddings {
            Some((values, dim)) => {
                router::fit::FitInput::Embeddings { values, dim: *dim, truncated: n_truncated }
            }
            None => router::fit::FitInput::Texts(&texts),
        };
        router::fit::fit_with(&dir, input, &tiers, intents.as_deref(), &options, threads)
    })?;
    Ok(RouterCore { inner })
}

/// Embed texts as `fit_router` would (see `tierscope.routing.router.EmbeddingCache`):
/// `(embeddings [n, dim] float32, truncated [n] bool)`.
#[pyfunction]
#[pyo3(signature = (encoder_dir, texts, *, max_length=None, truncation=None, head_tokens=None, sessions=None,
                    intra_threads=None, ort_search_dirs=Vec::new()))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn embed_texts<'py>(
    py: Python<'py>,
    encoder_dir: PathBuf,
    texts: &Bound<'py, PyAny>,
    max_length: Option<usize>,
    truncation: Option<String>,
    head_tokens: Option<usize>,
    sessions: Option<usize>,
    intra_threads: Option<usize>,
    ort_search_dirs: Vec<PathBuf>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<bool>>)> {
    let truncation = truncation
        .map(|name| router::config::Truncation::parse(&name).map_err(|e| errors::invalid("truncation", &e)))
        .transpose()?;
    let texts = convert::texts(texts, "texts")?;
    let options = FitOptions { max_length, truncation, head_tokens, ..Default::default() };
    init_runtime(py, ort_search_dirs)?;
    let threads = threads(sessions, intra_threads)?;
    let (values, dim, truncated) = detached(py, (encoder_dir, texts), move |(dir, texts)| {
        router::fit::embed_texts(&dir, &texts, &options, threads)
    })?;
    let n = truncated.len();
    let array = Array2::from_shape_vec((n, dim), values)
        .map_err(|e| errors::invalid("texts", &format!("embeddings of a consistent width: {e}")))?;
    Ok((PyArray2::from_owned_array(py, array), PyArray1::from_vec(py, truncated)))
}

// The literal defaults in `fit_router`'s signature are the core's.
const _: () = assert!(router::novelty::DEFAULT_NEIGHBOURS == 3 && router::novelty::DEFAULT_MAX_ROWS == 10240);

/// Tail scores of `query` embeddings against `train` embeddings (both `n × dim` float32), for
/// evaluations that reuse embeddings: the kNN novelty score (leave-one-out percentile, as a fitted
/// router scores) and its raw distance, the previous two-tier Mahalanobis score, and the
/// max-softmax of a logistic head on `train_tiers` (tier indices).
#[pyfunction]
#[pyo3(signature = (train, train_tiers, query, *, neighbours=3, max_rows=10240, shrinkage=0.1, l2=1e-4, seed=0))]
#[allow(clippy::too_many_arguments)]
fn tail_scores<'py>(
    py: Python<'py>,
    train: numpy::PyReadonlyArray2<'py, f32>,
    train_tiers: numpy::PyReadonlyArray1<'py, u32>,
    query: numpy::PyReadonlyArray2<'py, f32>,
    neighbours: usize,
    max_rows: usize,
    shrinkage: f64,
    l2: f64,
    seed: u64,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let dim = train.shape()[1];
    if dim == 0 || train.shape()[0] <= neighbours {
        return Err(errors::invalid(
            "train",
            &format!("more than `neighbours` ({neighbours}) rows of at least 1 value"),
        ));
    }
    if query.shape()[1] != dim {
        return Err(errors::invalid(
            "query",
            &format!("rows of {dim} values like `train`, got {}", query.shape()[1]),
        ));
    }
    let x: Vec<f32> = train.as_array().iter().cloned().collect();
    let q: Vec<f32> = query.as_array().iter().cloned().collect();
    let y: Vec<usize> = train_tiers.as_array().iter().map(|&t| t as usize).collect();
    if y.len() != x.len() / dim.max(1) {
        return Err(errors::invalid("train_tiers", "one tier index per train row"));
    }
    let k = y.iter().max().map_or(0, |m| m + 1);
    if k < 2 || !(0..k).all(|c| y.contains(&c)) {
        return Err(errors::invalid("train_tiers", "tier indices 0..k with k >= 2, each present"));
    }
    let columns = detached(py, (x, q, y), move |(x, q, y)| {
        let index = router::novelty::NoveltyIndex::fit(&x, dim, neighbours, max_rows, None, seed)?;
        let old = router::train::fit_tail(&x, &y, k, dim, shrinkage).ok_or_else(|| {
            crate::error::TierscopeError::invalid(
                "shrinkage",
                "a value making the covariance positive definite",
            )
        })?;
        let old = router::train::TailScorer::new(&old);
        let head = router::train::fit_logistic(
            &x,
            &y,
            k,
            dim,
            &router::train::LogisticOptions { l2, ..Default::default() },
        );
        let mut logits = vec![0.0f64; k];
        let mut probs = vec![0.0f64; k];
        let mut cols: [Vec<f64>; 4] = Default::default();
        for row in q.chunks(dim) {
            cols[0].push(index.score(row));
            cols[1].push(index.distance(row));
            cols[2].push(old.score(row));
            head.logits(row, &mut logits);
            router::linalg::softmax_scaled(&logits, 1.0, &mut probs);
            cols[3].push(probs.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
        }
        Ok(cols)
    })?;
    let out = pyo3::types::PyDict::new(py);
    for (name, values) in ["knn", "knn_distance", "mahalanobis", "max_softmax"].into_iter().zip(columns) {
        out.set_item(name, PyArray1::from_vec(py, values))?;
    }
    Ok(out)
}

/// Fit `regions` regions (spherical k-means, k-means++ seeded by `seed`) on the training
/// embeddings stored in the tail index of the router in `path` and write them to
/// `path/regions.bin` (atomically). Returns what the fit did, with the region of every index row
/// (in the index's row order: the training rows, when the index kept them all).
#[pyfunction]
#[pyo3(signature = (path, *, regions=32, seed=0))]
fn fit_regions<'py>(
    py: Python<'py>,
    path: PathBuf,
    regions: usize,
    seed: u64,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let (iterations, similarity, assignment, rows) = detached(py, path, move |path| {
        if !path.is_dir() {
            return Err(crate::error::TierscopeError::FileNotFound {
                what: "router directory".into(),
                path: path.clone(),
            });
        }
        let Some(index) = Router::load_novelty(&path)? else {
            return Err(crate::error::TierscopeError::invalid(
                "path",
                "a router with a tail index (tail_index.bin): its training embeddings are what the regions cluster",
            ));
        };
        let fit = router::regions::Regions::fit_index(&index, regions, seed)?;
        router::files::write_atomic(&path, router::regions::FILE, &fit.regions.to_bytes())?;
        Ok((fit.iterations, fit.mean_similarity, fit.assignment, index.rows()))
    })?;
    let out = pyo3::types::PyDict::new(py);
    out.set_item("regions", regions)?;
    out.set_item("rows", rows)?;
    out.set_item("iterations", iterations)?;
    out.set_item("mean_similarity", similarity)?;
    out.set_item("assignment", PyArray1::from_vec(py, assignment))?;
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RouterCore>()?;
    m.add_class::<RouteColumns>()?;
    m.add_function(wrap_pyfunction!(fit_router, m)?)?;
    m.add_function(wrap_pyfunction!(embed_texts, m)?)?;
    m.add_function(wrap_pyfunction!(tail_scores, m)?)?;
    m.add_function(wrap_pyfunction!(fit_regions, m)?)?;
    Ok(())
}
