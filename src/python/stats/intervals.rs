//! Bindings for [`crate::stats::intervals`]: proportion, t and bootstrap intervals.

use numpy::PyArray1;
use pyo3::prelude::*;

use crate::python::convert::{f64_slice, opt_f64_slice, result_class, Arg, F64Array};
use crate::python::gil::detached;
use crate::stats::intervals::{
    bootstrap_interval, proportion_intervals, t_interval, BootstrapOptions, Interval, IntervalColumns,
    ProportionMethod,
};

result_class! {
    /// A two-sided confidence interval with its point estimate ([`Interval`]).
    StatsInterval from Interval {
        lower: f64,
        upper: f64,
        estimate: f64,
        method: String,
        level: f64,
    }
}

/// Many intervals as numpy columns ([`IntervalColumns`]).
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct StatsIntervalColumns {
    lower: Py<PyArray1<f64>>,
    upper: Py<PyArray1<f64>>,
    estimate: Py<PyArray1<f64>>,
}

impl StatsIntervalColumns {
    fn new(py: Python<'_>, columns: IntervalColumns) -> Self {
        let IntervalColumns { lower, upper, estimate } = columns;
        Self {
            lower: PyArray1::from_vec(py, lower).unbind(),
            upper: PyArray1::from_vec(py, upper).unbind(),
            estimate: PyArray1::from_vec(py, estimate).unbind(),
        }
    }
}

/// Proportion intervals for arrays of counts.
#[pyfunction]
#[pyo3(
    signature = (successes, n, level=Arg::new(0.95), method=Arg::new("wilson".to_owned())),
    text_signature = "(successes, n, level=0.95, method=\"wilson\")"
)]
fn stats_proportion_intervals(
    py: Python<'_>,
    successes: F64Array<'_>,
    n: F64Array<'_>,
    level: Arg<f64>,
    method: Arg<String>,
) -> PyResult<StatsIntervalColumns> {
    let (level, method) = (level.get("level")?, method.get("method")?);
    let inputs = (f64_slice(&successes), f64_slice(&n), method);
    let columns = detached(py, inputs, move |(x, n, method)| {
        proportion_intervals(&x, &n, level, ProportionMethod::parse(&method)?)
    })?;
    Ok(StatsIntervalColumns::new(py, columns))
}

/// t interval (optionally frequency-weighted) for a mean.
#[pyfunction]
#[pyo3(signature = (values, weights=None, level=Arg::new(0.95)), text_signature = "(values, weights=None, level=0.95)")]
fn stats_t_interval(
    py: Python<'_>,
    values: F64Array<'_>,
    weights: Option<F64Array<'_>>,
    level: Arg<f64>,
) -> PyResult<StatsInterval> {
    let level = level.get("level")?;
    let inputs = (f64_slice(&values), opt_f64_slice(&weights));
    let interval = detached(py, inputs, move |(v, w)| t_interval(&v, w.as_deref(), level))?;
    Ok(interval.into())
}

/// Percentile bootstrap interval for the (weighted) mean.
#[pyfunction]
#[pyo3(
    signature = (values, weights=None, level=Arg::new(0.95), replicates=Arg::new(1000), seed=Arg::new(0), threads=Arg::new(0)),
    text_signature = "(values, weights=None, level=0.95, replicates=1000, seed=0, threads=0)"
)]
fn stats_bootstrap_interval(
    py: Python<'_>,
    values: F64Array<'_>,
    weights: Option<F64Array<'_>>,
    level: Arg<f64>,
    replicates: Arg<usize>,
    seed: Arg<u64>,
    threads: Arg<usize>,
) -> PyResult<StatsInterval> {
    let (level, replicates) = (level.get("level")?, replicates.get("replicates")?);
    let (seed, threads) = (seed.get("seed")?, threads.get("threads")?);
    let inputs = (f64_slice(&values), opt_f64_slice(&weights));
    let opts = BootstrapOptions { replicates, seed, threads, level };
    let interval = detached(py, inputs, move |(v, w)| bootstrap_interval(&v, w.as_deref(), opts))?;
    Ok(interval.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsInterval>()?;
    m.add_class::<StatsIntervalColumns>()?;
    m.add_function(wrap_pyfunction!(stats_proportion_intervals, m)?)?;
    m.add_function(wrap_pyfunction!(stats_t_interval, m)?)?;
    m.add_function(wrap_pyfunction!(stats_bootstrap_interval, m)?)?;
    Ok(())
}
