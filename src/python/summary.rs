//! Binding for `tierscope.stats.tier_summary`: argument conversion, GIL release, result dicts.
//!
//! Unlike the other stats bindings, the numpy inputs are **not copied**: each is borrowed
//! read-only (`PyReadonlyArray1`) and its contiguous buffer passed as a slice into the core, which
//! runs with the GIL released. Only a non-contiguous array is copied (a supported dtype is the
//! caller's job: the façade converts other dtypes). Tier codes may be any integer dtype and the
//! confidence `float32` or `float64`, all read in place. Mutating an input array from another
//! thread during the call is undefined behaviour (the GIL is released while the core reads it).

use std::borrow::Cow;

use numpy::{Element, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::errors::{invalid, to_py};
use super::gil::detached;
use crate::stats::drift::KsMethod;
use crate::stats::estimators::DomainEstimate;
use crate::stats::summary::{
    tier_summary, Codes, Reference, SummaryInput, SummaryOptions, TierRow, TierSummary, Values,
};

/// The contiguous buffer of `a`, borrowed; a copy only when `a` is not contiguous.
fn view<'a, T: Element + Copy>(a: &'a PyReadonlyArray1<'_, T>) -> Cow<'a, [T]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().to_vec()),
    }
}

macro_rules! typed_arrays {
    ($array:ident, $held:ident, $core:ident, $what:literal, $($v:ident: $t:ty),+) => {
        /// A borrowed numpy array of one of the supported dtypes.
        enum $array<'py> { $($v(PyReadonlyArray1<'py, $t>)),+ }

        /// Its buffer (borrowed, or copied when not contiguous).
        enum $held<'a> { $($v(Cow<'a, [$t]>)),+ }

        impl<'py> $array<'py> {
            fn extract(py: Python<'py>, name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
                $(if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, $t>>() {
                    return Ok(Self::$v(a));
                })+
                Err(invalid(py, name, $what))
            }

            fn held(&self) -> $held<'_> {
                match self { $(Self::$v(a) => $held::$v(view(a))),+ }
            }
        }

        impl $held<'_> {
            fn core(&self) -> $core<'_> {
                match self { $(Self::$v(s) => $core::$v(s)),+ }
            }
        }
    };
}

typed_arrays!(CodesArray, CodesHeld, Codes, "a one-dimensional numpy array of integer tier codes",
    I8: i8, I16: i16, I32: i32, I64: i64, U8: u8, U16: u16, U32: u32, U64: u64);
typed_arrays!(ValuesArray, ValuesHeld, Values, "a one-dimensional float32 or float64 numpy array",
    F32: f32, F64: f64);

fn estimate_dict<'py>(py: Python<'py>, e: &DomainEstimate) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("domain", e.domain)?;
    d.set_item("n", e.n)?;
    d.set_item("population", e.population)?;
    d.set_item("population_hat", e.population_hat)?;
    d.set_item("total", e.total)?;
    d.set_item("total_se", e.total_se)?;
    d.set_item("ht_mean", e.ht_mean)?;
    d.set_item("ht_mean_se", e.ht_mean_se)?;
    d.set_item("mean", e.mean)?;
    d.set_item("se", e.se)?;
    d.set_item("lower", e.lower)?;
    d.set_item("upper", e.upper)?;
    d.set_item("interval", e.interval.as_str())?;
    d.set_item("wald_lower", e.wald_lower)?;
    d.set_item("wald_upper", e.wald_upper)?;
    d.set_item("level", e.level)?;
    d.set_item("n_eff", e.n_eff)?;
    d.set_item("defined", e.defined)?;
    d.set_item("reason", e.reason.as_deref())?;
    Ok(d)
}

fn row_dict<'py>(py: Python<'py>, r: &TierRow) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("tier", r.tier)?;
    d.set_item("rows", r.rows)?;
    d.set_item("reviewed", r.reviewed)?;
    d.set_item("with_confidence", r.with_confidence)?;
    d.set_item("estimate", estimate_dict(py, &r.estimate)?)?;
    let drift = r.drift.as_ref().map(|k| (k.statistic, k.pvalue, k.method.as_str(), k.n1, k.n2));
    d.set_item("drift", drift)?;
    Ok(d)
}

fn summary_dict<'py>(py: Python<'py>, s: &TierSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let tiers = s.tiers.iter().map(|r| row_dict(py, r)).collect::<PyResult<Vec<_>>>()?;
    d.set_item("tiers", tiers)?;
    d.set_item("all", row_dict(py, &s.all)?)?;
    let b = &s.blended;
    d.set_item("blended", (b.n, b.mean, b.se, b.lower, b.upper, b.method.as_str()))?;
    d.set_item("level", s.level)?;
    d.set_item("ks_path", s.ks_path.as_str())?;
    Ok(d)
}

/// Per-tier counts, Hájek estimates with intervals and KS drift of a decision log (one sweep,
/// inputs read in place). At most one reference: `reference` (with optional `reference_tiers`),
/// `reference_edges` + `reference_counts`, or `reference_window`.
#[pyfunction]
#[pyo3(signature = (tiers, outcome, pi, confidence=None, reference=None, reference_tiers=None, reference_edges=None, reference_counts=None, reference_window=None, num_tiers=None, level=0.95, ks_method="auto", threads=0))]
#[allow(clippy::too_many_arguments)]
fn stats_tier_summary<'py>(
    py: Python<'py>,
    tiers: &Bound<'py, PyAny>,
    outcome: PyReadonlyArray1<'py, f64>,
    pi: PyReadonlyArray1<'py, f64>,
    confidence: Option<&Bound<'py, PyAny>>,
    reference: Option<&Bound<'py, PyAny>>,
    reference_tiers: Option<&Bound<'py, PyAny>>,
    reference_edges: Option<PyReadonlyArray1<'py, f64>>,
    reference_counts: Option<PyReadonlyArray1<'py, f64>>,
    reference_window: Option<PyReadonlyArray1<'py, bool>>,
    num_tiers: Option<usize>,
    level: f64,
    ks_method: &str,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let method = KsMethod::parse(ks_method).map_err(|e| to_py(py, e))?;
    let given = [
        reference.is_some(),
        reference_edges.is_some() || reference_counts.is_some(),
        reference_window.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(invalid(
            py,
            "reference",
            "at most one of `reference`, `reference_edges`/`reference_counts` and `reference_window`",
        ));
    }
    if reference_tiers.is_some() && reference.is_none() {
        return Err(invalid(
            py,
            "reference_tiers",
            "a `reference` sample to go with the reference tier codes",
        ));
    }
    if reference_edges.is_some() != reference_counts.is_some() {
        return Err(invalid(
            py,
            "reference_edges",
            "both `reference_edges` and `reference_counts`, or neither",
        ));
    }
    let tiers_a = CodesArray::extract(py, "tiers", tiers)?;
    let conf_a = confidence.map(|c| ValuesArray::extract(py, "confidence", c)).transpose()?;
    let ref_a = reference.map(|r| ValuesArray::extract(py, "reference", r)).transpose()?;
    let ref_tiers_a = reference_tiers.map(|r| CodesArray::extract(py, "reference_tiers", r)).transpose()?;

    let tiers_h = tiers_a.held();
    let (outcome_h, pi_h) = (view(&outcome), view(&pi));
    let conf_h = conf_a.as_ref().map(|c| c.held());
    let ref_h = ref_a.as_ref().map(|r| r.held());
    let ref_tiers_h = ref_tiers_a.as_ref().map(|r| r.held());
    let edges_h = reference_edges.as_ref().map(view);
    let counts_h = reference_counts.as_ref().map(view);
    let window_h = reference_window.as_ref().map(view);

    let reference = match (&ref_h, &edges_h, &counts_h, &window_h) {
        (Some(values), _, _, _) => {
            Reference::Sample { values: values.core(), tiers: ref_tiers_h.as_ref().map(|t| t.core()) }
        }
        (None, Some(edges), Some(counts), _) => Reference::Histogram { edges, counts },
        (None, _, _, Some(mask)) => Reference::Window { mask },
        _ => Reference::None,
    };
    let input = SummaryInput {
        tiers: tiers_h.core(),
        outcome: &outcome_h,
        pi: &pi_h,
        confidence: conf_h.as_ref().map(|c| c.core()),
        reference,
        num_tiers,
    };
    let opts = SummaryOptions { level, ks_method: method, threads, ..SummaryOptions::default() };
    let summary = detached(py, input, move |input| tier_summary(&input, &opts))?;
    summary_dict(py, &summary)
}

/// Register the summary function on `_core` (self-contained; called from `python::_core`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stats_tier_summary, m)?)?;
    Ok(())
}
