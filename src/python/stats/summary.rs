//! Binding for [`crate::stats::summary`] (`tierscope.stats.tier_summary`).
//!
//! As everywhere in the binding layer, numpy inputs are borrowed read-only and their contiguous
//! buffers passed as slices into the core, which runs with the GIL released; only a
//! non-contiguous array is copied. Here tier codes may be any integer dtype and the confidence
//! `float32` or `float64`, all read in place. Mutating an input array from another thread during
//! the call is undefined behaviour (the GIL is released while the core reads it).

use std::borrow::Cow;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use super::drift::StatsKsResult;
use super::estimators::StatsDomainEstimate;
use crate::python::convert::{opt_arg, result_class, slice_of as view, Arg};
use crate::python::errors::{invalid, to_py};
use crate::python::gil::detached;
use crate::stats::drift::KsMethod;
use crate::stats::summary::{
    tier_summary, Blended, Codes, Reference, SummaryInput, SummaryOptions, TierRow, TierSummary, Values,
};

macro_rules! typed_arrays {
    ($array:ident, $held:ident, $core:ident, $what:literal, $($v:ident: $t:ty),+) => {
        /// A borrowed numpy array of one of the supported dtypes.
        enum $array<'py> { $($v(PyReadonlyArray1<'py, $t>)),+ }

        /// Its buffer (borrowed, or copied when not contiguous).
        enum $held<'a> { $($v(Cow<'a, [$t]>)),+ }

        impl<'py> $array<'py> {
            fn extract(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
                $(if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, $t>>() {
                    return Ok(Self::$v(a));
                })+
                Err(invalid(name, $what))
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

/// One tier's (or all traffic's) row ([`TierRow`]).
#[pyclass(frozen, get_all, module = "tierscope._core")]
#[derive(Clone)]
pub(crate) struct StatsTierRow {
    tier: Option<u32>,
    rows: u64,
    reviewed: u64,
    with_confidence: u64,
    estimate: StatsDomainEstimate,
    drift: Option<StatsKsResult>,
}

impl From<TierRow> for StatsTierRow {
    fn from(value: TierRow) -> Self {
        let TierRow { tier, rows, reviewed, with_confidence, estimate, drift } = value;
        Self {
            tier,
            rows,
            reviewed,
            with_confidence,
            estimate: estimate.into(),
            drift: drift.map(Into::into),
        }
    }
}

result_class! {
    /// The unweighted mean of all reviews ([`Blended`]).
    StatsBlended from Blended {
        n: u64,
        mean: f64,
        se: f64,
        lower: f64,
        upper: f64,
        method: String,
    }
}

/// Per-tier rows, all traffic and the blended mean ([`TierSummary`]).
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct StatsTierSummary {
    tiers: Vec<StatsTierRow>,
    all: StatsTierRow,
    blended: StatsBlended,
    level: f64,
    ks_path: String,
}

impl From<TierSummary> for StatsTierSummary {
    fn from(value: TierSummary) -> Self {
        let TierSummary { tiers, all, blended, level, ks_path } = value;
        Self {
            tiers: tiers.into_iter().map(Into::into).collect(),
            all: all.into(),
            blended: blended.into(),
            level,
            ks_path,
        }
    }
}

/// Per-tier counts, Hájek estimates with intervals and KS drift of a decision log (one sweep,
/// inputs read in place). At most one reference: `reference` (with optional `reference_tiers`),
/// `reference_edges` + `reference_counts`, or `reference_window`.
#[pyfunction]
#[pyo3(
    signature = (tiers, outcome, pi, confidence=None, reference=None, reference_tiers=None, reference_edges=None, reference_counts=None, reference_window=None, num_tiers=None, level=Arg::new(0.95), ks_method=Arg::new("auto".to_owned()), threads=Arg::new(0)),
    text_signature = "(tiers, outcome, pi, confidence=None, reference=None, reference_tiers=None, reference_edges=None, reference_counts=None, reference_window=None, num_tiers=None, level=0.95, ks_method=\"auto\", threads=0)"
)]
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
    num_tiers: Option<Arg<usize>>,
    level: Arg<f64>,
    ks_method: Arg<String>,
    threads: Arg<usize>,
) -> PyResult<StatsTierSummary> {
    let (num_tiers, level) = (opt_arg(num_tiers, "num_tiers")?, level.get("level")?);
    let (ks_method, threads) = (ks_method.get("ks_method")?, threads.get("threads")?);
    let method = KsMethod::parse(&ks_method).map_err(to_py)?;
    let given = [
        reference.is_some(),
        reference_edges.is_some() || reference_counts.is_some(),
        reference_window.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(invalid(
            "reference",
            "at most one of `reference`, `reference_edges`/`reference_counts` and `reference_window`",
        ));
    }
    if reference_tiers.is_some() && reference.is_none() {
        return Err(invalid("reference_tiers", "a `reference` sample to go with the reference tier codes"));
    }
    if reference_edges.is_some() != reference_counts.is_some() {
        return Err(invalid("reference_edges", "both `reference_edges` and `reference_counts`, or neither"));
    }
    let tiers_a = CodesArray::extract("tiers", tiers)?;
    let conf_a = confidence.map(|c| ValuesArray::extract("confidence", c)).transpose()?;
    let ref_a = reference.map(|r| ValuesArray::extract("reference", r)).transpose()?;
    let ref_tiers_a = reference_tiers.map(|r| CodesArray::extract("reference_tiers", r)).transpose()?;

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
    Ok(summary.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsTierRow>()?;
    m.add_class::<StatsBlended>()?;
    m.add_class::<StatsTierSummary>()?;
    m.add_function(wrap_pyfunction!(stats_tier_summary, m)?)?;
    Ok(())
}
