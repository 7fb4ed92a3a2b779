//! Bindings for [`crate::stats::design`]: stratified SRSWOR and Poisson sampling.

use numpy::PyArray1;
use pyo3::prelude::*;

use crate::python::convert::{codes, f64_slice, i64_slice, Arg, F64Array, I64Array};
use crate::python::gil::detached;
use crate::stats::design::{poisson_inclusion_probabilities, poisson_sample, stratified_srswor, Sample};

/// A drawn sample as numpy columns ([`Sample`]): unit indices (ascending) and their inclusion
/// probabilities.
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct StatsSample {
    indices: Py<PyArray1<i64>>,
    pi: Py<PyArray1<f64>>,
}

impl StatsSample {
    fn new(py: Python<'_>, sample: Sample) -> Self {
        let Sample { indices, pi } = sample;
        // numpy's index dtype; a frame never holds 2^63 units.
        let indices: Vec<i64> = indices.into_iter().map(|i| i as i64).collect();
        Self { indices: PyArray1::from_vec(py, indices).unbind(), pi: PyArray1::from_vec(py, pi).unbind() }
    }
}

/// Stratified SRSWOR over integer stratum codes.
#[pyfunction]
#[pyo3(signature = (strata, sizes, seed=Arg::new(0)), text_signature = "(strata, sizes, seed=0)")]
fn stats_stratified_srswor(
    py: Python<'_>,
    strata: I64Array<'_>,
    sizes: Arg<Vec<usize>>,
    seed: Arg<u64>,
) -> PyResult<StatsSample> {
    let (sizes, seed) = (sizes.get("sizes")?, seed.get("seed")?);
    let sample = detached(py, (i64_slice(&strata), sizes), move |(strata, sizes)| {
        stratified_srswor(&codes("strata", &strata)?, &sizes, seed)
    })?;
    Ok(StatsSample::new(py, sample))
}

/// Inclusion probabilities ∝ scores, capped at 1, summing to `expected_size`.
#[pyfunction]
fn stats_poisson_inclusion<'py>(
    py: Python<'py>,
    scores: F64Array<'py>,
    expected_size: Arg<f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let expected_size = expected_size.get("expected_size")?;
    let pi = detached(py, f64_slice(&scores), move |s| poisson_inclusion_probabilities(&s, expected_size))?;
    Ok(PyArray1::from_vec(py, pi))
}

/// Poisson sample with per-unit inclusion probabilities `pi`.
#[pyfunction]
#[pyo3(signature = (pi, seed=Arg::new(0)), text_signature = "(pi, seed=0)")]
fn stats_poisson_sample(py: Python<'_>, pi: F64Array<'_>, seed: Arg<u64>) -> PyResult<StatsSample> {
    let seed = seed.get("seed")?;
    let sample = detached(py, f64_slice(&pi), move |p| poisson_sample(&p, seed))?;
    Ok(StatsSample::new(py, sample))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsSample>()?;
    m.add_function(wrap_pyfunction!(stats_stratified_srswor, m)?)?;
    m.add_function(wrap_pyfunction!(stats_poisson_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(stats_poisson_sample, m)?)?;
    Ok(())
}
