//! Bindings for [`crate::stats::gaps`]: differences between tiers (independent, paired, and the
//! design-based domain gap, a method of [`super::aggregate::StatsAggregate`]).

use pyo3::prelude::*;

use super::intervals::StatsInterval;
use crate::python::convert::{f64_slice, result_class, Arg, F64Array};
use crate::python::gil::detached;
use crate::stats::gaps::{
    mcnemar_checked, newcombe_independent, paired_binary, paired_wald, DomainGap, PairedComparison,
};

result_class! {
    /// Design-based Wald interval for the difference of two domains' means ([`DomainGap`]).
    StatsDomainGap from DomainGap {
        estimate: f64,
        se: f64,
        lower: f64,
        upper: f64,
        level: f64,
        defined: bool,
        reason: Option<String>,
    }
}

result_class! {
    /// Paired comparison of two tiers judged on the same queries ([`PairedComparison`]).
    StatsPairedComparison from PairedComparison {
        n: u64,
        both: u64,
        a_only: u64,
        b_only: u64,
        neither: u64,
        newcombe: StatsInterval,
        wald: StatsInterval,
        mcnemar_exact_p: f64,
        mcnemar_midp: f64,
    }
}

/// Newcombe hybrid score interval for p_a − p_b (independent samples).
#[pyfunction]
#[pyo3(
    signature = (successes_a, n_a, successes_b, n_b, level=Arg::new(0.95)),
    text_signature = "(successes_a, n_a, successes_b, n_b, level=0.95)"
)]
fn stats_newcombe_independent(
    py: Python<'_>,
    successes_a: Arg<f64>,
    n_a: Arg<f64>,
    successes_b: Arg<f64>,
    n_b: Arg<f64>,
    level: Arg<f64>,
) -> PyResult<StatsInterval> {
    let (successes_a, n_a) = (successes_a.get("successes_a")?, n_a.get("n_a")?);
    let (successes_b, n_b) = (successes_b.get("successes_b")?, n_b.get("n_b")?);
    let level = level.get("level")?;
    let interval =
        detached(py, (), move |_| newcombe_independent(successes_a, n_a, successes_b, n_b, level))?;
    Ok(interval.into())
}

/// Paired binary comparison (Newcombe method 10, Wald, McNemar).
#[pyfunction]
#[pyo3(signature = (a, b, level=Arg::new(0.95)), text_signature = "(a, b, level=0.95)")]
fn stats_paired_binary(
    py: Python<'_>,
    a: F64Array<'_>,
    b: F64Array<'_>,
    level: Arg<f64>,
) -> PyResult<StatsPairedComparison> {
    let level = level.get("level")?;
    let comparison =
        detached(py, (f64_slice(&a), f64_slice(&b)), move |(a, b)| paired_binary(&a, &b, level))?;
    Ok(comparison.into())
}

/// Wald interval on paired differences a − b.
#[pyfunction]
#[pyo3(signature = (a, b, level=Arg::new(0.95)), text_signature = "(a, b, level=0.95)")]
fn stats_paired_wald(
    py: Python<'_>,
    a: F64Array<'_>,
    b: F64Array<'_>,
    level: Arg<f64>,
) -> PyResult<StatsInterval> {
    let level = level.get("level")?;
    let interval = detached(py, (f64_slice(&a), f64_slice(&b)), move |(a, b)| paired_wald(&a, &b, level))?;
    Ok(interval.into())
}

/// McNemar exact and mid-p two-sided p-values for discordant counts.
#[pyfunction]
fn stats_mcnemar(py: Python<'_>, b: Arg<u64>, c: Arg<u64>) -> PyResult<(f64, f64)> {
    let (b, c) = (b.get("b")?, c.get("c")?);
    detached(py, (), move |_| mcnemar_checked(b, c))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsDomainGap>()?;
    m.add_class::<StatsPairedComparison>()?;
    m.add_function(wrap_pyfunction!(stats_newcombe_independent, m)?)?;
    m.add_function(wrap_pyfunction!(stats_paired_binary, m)?)?;
    m.add_function(wrap_pyfunction!(stats_paired_wald, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mcnemar, m)?)?;
    Ok(())
}
