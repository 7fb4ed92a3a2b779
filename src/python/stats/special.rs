//! Bindings for [`crate::stats::special`]: element-wise quantile functions (reference checks).

use numpy::PyArray1;
use pyo3::prelude::*;

use crate::python::convert::{f64_slice, Arg, F64Array};
use crate::python::errors::to_py;
use crate::python::gil::detached;
use crate::stats::special::{
    beta_ppf_each, binom_cdf_checked, clopper_pearson_upper, norm_ppf_each, t_ppf_each,
};

/// Element-wise beta quantile.
#[pyfunction]
fn stats_beta_ppf<'py>(
    py: Python<'py>,
    p: F64Array<'py>,
    a: F64Array<'py>,
    b: F64Array<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let inputs = (f64_slice(&p), f64_slice(&a), f64_slice(&b));
    let out = detached(py, inputs, |(p, a, b)| beta_ppf_each(&p, &a, &b))?;
    Ok(PyArray1::from_vec(py, out))
}

/// `P(Bin(n, p) <= k)` (a scalar: the cascade's exact threshold test).
#[pyfunction]
fn stats_binom_cdf(k: Arg<i64>, n: Arg<i64>, p: Arg<f64>) -> PyResult<f64> {
    binom_cdf_checked(k.get("k")?, n.get("n")?, p.get("p")?).map_err(to_py)
}

/// The one-sided `1 - delta` Clopper–Pearson upper bound (a scalar).
#[pyfunction]
fn stats_clopper_pearson_upper(k: Arg<i64>, n: Arg<i64>, delta: Arg<f64>) -> PyResult<f64> {
    clopper_pearson_upper(k.get("k")?, n.get("n")?, delta.get("delta")?).map_err(to_py)
}

/// Element-wise Student t quantile.
#[pyfunction]
fn stats_t_ppf<'py>(
    py: Python<'py>,
    p: F64Array<'py>,
    df: F64Array<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = detached(py, (f64_slice(&p), f64_slice(&df)), |(p, df)| t_ppf_each(&p, &df))?;
    Ok(PyArray1::from_vec(py, out))
}

/// Element-wise standard normal quantile.
#[pyfunction]
fn stats_norm_ppf<'py>(py: Python<'py>, p: F64Array<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = detached(py, f64_slice(&p), |p| Ok(norm_ppf_each(&p)))?;
    Ok(PyArray1::from_vec(py, out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stats_beta_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_binom_cdf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_clopper_pearson_upper, m)?)?;
    m.add_function(wrap_pyfunction!(stats_t_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_norm_ppf, m)?)?;
    Ok(())
}
