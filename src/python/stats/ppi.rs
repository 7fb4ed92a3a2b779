//! Bindings for [`crate::stats::ppi`]: the judge-assisted (PPI++) per-domain aggregate as a
//! thread-safe Python class and its estimate result.

use std::sync::Mutex;

use pyo3::prelude::*;

use crate::python::convert::{codes, f64_slice, i64_slice, opt_arg, result_class, Arg, F64Array, I64Array};
use crate::python::gil::{detached, lock};
use crate::stats::ppi::{PpiAggregate, PpiEstimate, Variance};

result_class! {
    /// One domain's judge-assisted estimate ([`PpiEstimate`]).
    StatsPpiEstimate from PpiEstimate {
        domain: u32,
        n_judged: u64,
        n_human: u64,
        lam: f64,
        tuned: bool,
        estimate: f64,
        se: f64,
        lower: f64,
        upper: f64,
        judge_mean: f64,
        human_mean: f64,
        human_se: f64,
        judge_variance: f64,
        level: f64,
        defined: bool,
    }
}

/// Mergeable per-domain PPI sums (judged sample and human sample).
///
/// Safe to share between threads: the state sits behind a mutex locked with the GIL released;
/// an update that fails validation changes nothing.
#[pyclass(frozen, module = "tierscope._core", name = "StatsPpiAggregate")]
#[derive(Default)]
pub(crate) struct StatsPpiAggregate {
    inner: Mutex<PpiAggregate>,
}

#[pymethods]
impl StatsPpiAggregate {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Add judged answers (judge scores, inclusion probabilities, domain codes).
    fn add_judged(
        &self,
        py: Python<'_>,
        f: F64Array<'_>,
        pi: F64Array<'_>,
        domains: I64Array<'_>,
    ) -> PyResult<()> {
        let inputs = (&self.inner, f64_slice(&f), f64_slice(&pi), i64_slice(&domains));
        detached(py, inputs, |(state, f, pi, domains)| {
            let d = codes("domains", &domains)?;
            let mut add = PpiAggregate::new();
            add.add_judged(&f, &pi, &d)?;
            lock(state).merge(&add);
            Ok(())
        })
    }

    /// Add human-reviewed answers (labels, the judge's scores on them, inclusion probabilities,
    /// domain codes).
    fn add_reviews(
        &self,
        py: Python<'_>,
        y: F64Array<'_>,
        f: F64Array<'_>,
        pi: F64Array<'_>,
        domains: I64Array<'_>,
    ) -> PyResult<()> {
        let inputs = (&self.inner, f64_slice(&y), f64_slice(&f), f64_slice(&pi), i64_slice(&domains));
        detached(py, inputs, |(state, y, f, pi, domains)| {
            let d = codes("domains", &domains)?;
            let mut add = PpiAggregate::new();
            add.add_reviews(&y, &f, &pi, &d)?;
            lock(state).merge(&add);
            Ok(())
        })
    }

    /// Merge another aggregate (or this one) into this one, in place.
    fn merge(&self, py: Python<'_>, other: &StatsPpiAggregate) -> PyResult<()> {
        detached(py, (&self.inner, &other.inner), |(a, b)| {
            // Snapshot first: never two locks at once, so no lock order to get wrong.
            let snapshot = lock(b).clone();
            lock(a).merge(&snapshot);
            Ok(())
        })
    }

    /// JSON text of the state.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, &self.inner, |state| lock(state).to_json())
    }

    /// Restore from JSON text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: Arg<String>) -> PyResult<Self> {
        let text = text.get("text")?;
        Ok(Self { inner: Mutex::new(detached(py, text, |t| PpiAggregate::from_json(&t))?) })
    }

    /// Per-domain estimates (`lam=None`: tuned and clipped to [0, 1]).
    #[pyo3(
        signature = (level=Arg::new(0.95), lam=None, variance=Arg::new("poisson".to_owned())),
        text_signature = "($self, level=0.95, lam=None, variance='poisson')"
    )]
    fn estimates(
        &self,
        py: Python<'_>,
        level: Arg<f64>,
        lam: Option<Arg<f64>>,
        variance: Arg<String>,
    ) -> PyResult<Vec<StatsPpiEstimate>> {
        let (level, lam, variance) = (level.get("level")?, opt_arg(lam, "lam")?, variance.get("variance")?);
        let out = detached(py, (&self.inner, variance), move |(state, variance)| {
            lock(state).estimates(level, lam, Variance::parse(&variance)?)
        })?;
        Ok(out.into_iter().map(Into::into).collect())
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsPpiEstimate>()?;
    m.add_class::<StatsPpiAggregate>()
}
