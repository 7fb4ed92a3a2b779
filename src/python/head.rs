//! Bindings for [`crate::router::head`]: fitting a head on precomputed embeddings (the
//! `tierscope.routing.TierClassifier` estimator).

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::convert::{self, Arg};
use super::errors;
use super::gil::detached;
use crate::router::head::{self, HeadOptions};

/// A fitted, temperature-scaled head (see `crate::router::head::FittedHead`).
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct HeadFit {
    /// `k × d` weights (float64).
    weights: Py<PyArray2<f64>>,
    /// `k` biases (float64).
    bias: Py<PyArray1<f64>>,
    temperature: f64,
    holdout_accuracy: f64,
    holdout_ece: f64,
    holdout_ece_uncalibrated: f64,
    n_train: usize,
    n_holdout: usize,
    iterations: usize,
}

/// Fit an L2 logistic head on `embeddings` (`n × d` float32) with labels in `0..k`, temperature
/// scaled on a stratified held-out split, with the GIL released.
#[pyfunction]
#[pyo3(signature = (embeddings, labels, k, *, l2=Arg::new(1e-4), holdout_fraction=Arg::new(0.2),
                    seed=Arg::new(0), max_iter=Arg::new(500)))]
#[pyo3(text_signature = "(embeddings, labels, k, *, l2=0.0001, holdout_fraction=0.2, seed=0, max_iter=500)")]
#[allow(clippy::too_many_arguments)]
fn fit_head(
    py: Python<'_>,
    embeddings: PyReadonlyArray2<'_, f32>,
    labels: PyReadonlyArray1<'_, i64>,
    k: Arg<usize>,
    l2: Arg<f64>,
    holdout_fraction: Arg<f64>,
    seed: Arg<u64>,
    max_iter: Arg<usize>,
) -> PyResult<HeadFit> {
    let options = HeadOptions {
        l2: l2.get("l2")?,
        holdout_fraction: holdout_fraction.get("holdout_fraction")?,
        seed: seed.get("seed")?,
        max_iter: max_iter.get("max_iter")?,
    };
    let k = k.get("k")?;
    let d = embeddings.shape()[1];
    let x = match embeddings.as_slice() {
        Ok(slice) => std::borrow::Cow::Borrowed(slice),
        Err(_) => std::borrow::Cow::Owned(embeddings.as_array().iter().cloned().collect()),
    };
    let codes = convert::slice_of(&labels);
    let fitted = detached(py, (x, codes), move |(x, codes)| {
        let labels = codes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                usize::try_from(c).map_err(|_| {
                    crate::error::TierscopeError::invalid(
                        format!("y[{i}]"),
                        format!("a class index, got {c}"),
                    )
                })
            })
            .collect::<crate::error::Result<Vec<usize>>>()?;
        head::fit_head(&x, &labels, k, d, &options)
    })?;
    let weights = Array2::from_shape_vec((fitted.head.k, fitted.head.d), fitted.head.weights)
        .map_err(|e| errors::internal(e.to_string()))?;
    Ok(HeadFit {
        weights: PyArray2::from_owned_array(py, weights).unbind(),
        bias: PyArray1::from_vec(py, fitted.head.bias).unbind(),
        temperature: fitted.temperature,
        holdout_accuracy: fitted.holdout_accuracy,
        holdout_ece: fitted.holdout_ece,
        holdout_ece_uncalibrated: fitted.holdout_ece_uncalibrated,
        n_train: fitted.n_train,
        n_holdout: fitted.n_holdout,
        iterations: fitted.head.iterations,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HeadFit>()?;
    m.add_function(wrap_pyfunction!(fit_head, m)?)?;
    Ok(())
}
