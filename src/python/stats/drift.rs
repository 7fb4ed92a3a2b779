//! Bindings for [`crate::stats::drift`]: PSI, Jensen–Shannon and Kolmogorov–Smirnov drift,
//! overall and per group.

use pyo3::prelude::*;

use crate::python::convert::{codes, f64_slice, i64_slice, opt_arg, result_class, Arg, F64Array, I64Array};
use crate::python::gil::detached;
use crate::stats::drift::{
    drift_by_group, jensen_shannon, kolmogorov_sf_checked, ks_2samp, ks_by_group, psi, psi_samples,
    DriftReport, KsMethod, KsResult,
};
use crate::stats::mix::{mix_drift, MixDay, MixOptions};

result_class! {
    /// A two-sided two-sample Kolmogorov–Smirnov result ([`KsResult`]).
    StatsKsResult from KsResult {
        statistic: f64,
        pvalue: f64,
        method: String,
        n1: u64,
        n2: u64,
    }
}

result_class! {
    /// Drift of one group: KS test, PSI and Jensen–Shannon distance ([`DriftReport`]).
    StatsDriftReport from DriftReport {
        ks: StatsKsResult,
        psi: f64,
        js: f64,
    }
}

/// Population stability index between two histograms.
#[pyfunction]
#[pyo3(signature = (expected, actual, eps=Arg::new(1e-4)), text_signature = "(expected, actual, eps=1e-4)")]
fn stats_psi(py: Python<'_>, expected: F64Array<'_>, actual: F64Array<'_>, eps: Arg<f64>) -> PyResult<f64> {
    let eps = eps.get("eps")?;
    detached(py, (f64_slice(&expected), f64_slice(&actual)), move |(e, a)| psi(&e, &a, eps))
}

/// PSI between two samples, bins at reference quantiles.
#[pyfunction]
#[pyo3(
    signature = (reference, production, bins=Arg::new(10), eps=Arg::new(1e-4)),
    text_signature = "(reference, production, bins=10, eps=1e-4)"
)]
fn stats_psi_samples(
    py: Python<'_>,
    reference: F64Array<'_>,
    production: F64Array<'_>,
    bins: Arg<usize>,
    eps: Arg<f64>,
) -> PyResult<f64> {
    let (bins, eps) = (bins.get("bins")?, eps.get("eps")?);
    let inputs = (f64_slice(&reference), f64_slice(&production));
    detached(py, inputs, move |(r, p)| psi_samples(&r, &p, bins, eps))
}

/// Two-sided two-sample KS test.
#[pyfunction]
#[pyo3(signature = (x, y, method=auto()), text_signature = "(x, y, method=\"auto\")")]
fn stats_ks_2samp(
    py: Python<'_>,
    x: F64Array<'_>,
    y: F64Array<'_>,
    method: Arg<String>,
) -> PyResult<StatsKsResult> {
    let method = method.get("method")?;
    let result = detached(py, (f64_slice(&x), f64_slice(&y), method), |(x, y, m)| {
        ks_2samp(&x, &y, KsMethod::parse(&m)?)
    })?;
    Ok(result.into())
}

/// Survival function of the one-sample two-sided Kolmogorov statistic (scipy `kstwo.sf`).
#[pyfunction]
fn stats_kolmogorov_sf(py: Python<'_>, n: Arg<u64>, x: Arg<f64>) -> PyResult<f64> {
    let (n, x) = (n.get("n")?, x.get("x")?);
    detached(py, (), move |_| kolmogorov_sf_checked(n, x))
}

/// KS per group code: `[(group, result or None)]`.
#[pyfunction]
#[pyo3(
    signature = (reference, reference_groups, production, production_groups, method=auto()),
    text_signature = "(reference, reference_groups, production, production_groups, method=\"auto\")"
)]
fn stats_ks_by_group(
    py: Python<'_>,
    reference: F64Array<'_>,
    reference_groups: I64Array<'_>,
    production: F64Array<'_>,
    production_groups: I64Array<'_>,
    method: Arg<String>,
) -> PyResult<Vec<(u32, Option<StatsKsResult>)>> {
    let method = method.get("method")?;
    let samples = (f64_slice(&reference), i64_slice(&reference_groups), f64_slice(&production));
    let inputs = (samples, i64_slice(&production_groups), method);
    let groups = detached(py, inputs, |((r, rg, p), pg, m)| {
        let (rg, pg) = (codes("reference_groups", &rg)?, codes("production_groups", &pg)?);
        ks_by_group(&r, &rg, &p, &pg, KsMethod::parse(&m)?)
    })?;
    Ok(groups.into_iter().map(|(group, result)| (group, result.map(Into::into))).collect())
}

/// KS, PSI and JS per group code: `[(group, report or None)]`.
#[pyfunction]
#[pyo3(
    signature = (reference, reference_groups, production, production_groups, bins=Arg::new(10), eps=Arg::new(1e-4), base=None, method=auto()),
    text_signature = "(reference, reference_groups, production, production_groups, bins=10, eps=1e-4, base=None, method=\"auto\")"
)]
#[allow(clippy::too_many_arguments)]
fn stats_drift_by_group(
    py: Python<'_>,
    reference: F64Array<'_>,
    reference_groups: I64Array<'_>,
    production: F64Array<'_>,
    production_groups: I64Array<'_>,
    bins: Arg<usize>,
    eps: Arg<f64>,
    base: Option<Arg<f64>>,
    method: Arg<String>,
) -> PyResult<Vec<(u32, Option<StatsDriftReport>)>> {
    let (bins, eps, base) = (bins.get("bins")?, eps.get("eps")?, opt_arg(base, "base")?);
    let method = method.get("method")?;
    let samples = (f64_slice(&reference), i64_slice(&reference_groups), f64_slice(&production));
    let inputs = (samples, i64_slice(&production_groups), method);
    let groups = detached(py, inputs, move |((r, rg, p), pg, m)| {
        let (rg, pg) = (codes("reference_groups", &rg)?, codes("production_groups", &pg)?);
        drift_by_group(&r, &rg, &p, &pg, bins, eps, base, KsMethod::parse(&m)?)
    })?;
    Ok(groups.into_iter().map(|(group, report)| (group, report.map(Into::into))).collect())
}

/// Jensen–Shannon distance between two histograms.
#[pyfunction]
#[pyo3(signature = (p, q, base=None))]
fn stats_jensen_shannon(
    py: Python<'_>,
    p: F64Array<'_>,
    q: F64Array<'_>,
    base: Option<Arg<f64>>,
) -> PyResult<f64> {
    let base = opt_arg(base, "base")?;
    detached(py, (f64_slice(&p), f64_slice(&q)), move |(p, q)| jensen_shannon(&p, &q, base))
}

/// Traffic-mix drift of daily region counts against reference counts
/// ([`crate::stats::mix::mix_drift`]): per-day columns, the alarm day and the null's floor.
#[pyfunction]
#[pyo3(signature = (reference_counts, daily_counts, *, tolerance=0.02, alpha=0.05, reference_alpha=0.01,
                    horizon=365, window=3, shrink=0.1))]
#[allow(clippy::too_many_arguments)]
fn stats_mix_drift<'py>(
    py: Python<'py>,
    reference_counts: numpy::PyReadonlyArray1<'py, f64>,
    daily_counts: numpy::PyReadonlyArray2<'py, f64>,
    tolerance: f64,
    alpha: f64,
    reference_alpha: f64,
    horizon: usize,
    window: usize,
    shrink: f64,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    use numpy::PyArray1;
    let reference: Vec<f64> = reference_counts.as_array().iter().cloned().collect();
    let daily: Vec<Vec<f64>> =
        daily_counts.as_array().outer_iter().map(|r| r.iter().cloned().collect()).collect();
    let opts = MixOptions { tolerance, alpha, reference_alpha, horizon, window, shrink };
    let res = detached(py, (reference, daily), move |(r, d)| mix_drift(&r, &d, &opts))?;
    let out = pyo3::types::PyDict::new(py);
    let column = |f: fn(&MixDay) -> f64| res.days.iter().map(f).collect::<Vec<f64>>();
    out.set_item("n", PyArray1::from_vec(py, column(|d| d.n)))?;
    out.set_item("chi_square", PyArray1::from_vec(py, column(|d| d.chi_square)))?;
    out.set_item("chi_square_p", PyArray1::from_vec(py, column(|d| d.chi_square_p)))?;
    out.set_item("psi", PyArray1::from_vec(py, column(|d| d.psi)))?;
    out.set_item("tv", PyArray1::from_vec(py, column(|d| d.tv)))?;
    out.set_item("log_e", PyArray1::from_vec(py, column(|d| d.log_e)))?;
    out.set_item("log_detector", PyArray1::from_vec(py, column(|d| d.log_detector)))?;
    out.set_item("alarm_day", res.alarm_day)?;
    out.set_item("threshold", res.threshold)?;
    out.set_item("reference", PyArray1::from_vec(py, res.reference))?;
    out.set_item("floor", PyArray1::from_vec(py, res.floor))?;
    Ok(out)
}

/// The KS functions' default `method`.
fn auto() -> Arg<String> {
    Arg::new("auto".to_owned())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsKsResult>()?;
    m.add_class::<StatsDriftReport>()?;
    m.add_function(wrap_pyfunction!(stats_psi, m)?)?;
    m.add_function(wrap_pyfunction!(stats_psi_samples, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ks_2samp, m)?)?;
    m.add_function(wrap_pyfunction!(stats_kolmogorov_sf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ks_by_group, m)?)?;
    m.add_function(wrap_pyfunction!(stats_drift_by_group, m)?)?;
    m.add_function(wrap_pyfunction!(stats_jensen_shannon, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mix_drift, m)?)?;
    Ok(())
}
