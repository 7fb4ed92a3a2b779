//! Bindings for [`crate::stats::sequential`]: the anytime-valid monitor and the CUSUM chart as
//! thread-safe Python classes (state behind a mutex locked with the GIL released).

use std::sync::Mutex;

use pyo3::prelude::*;

use crate::python::convert::{f64_slice, opt_arg, opt_f64_slice, result_class, Arg, F64Array};
use crate::python::gil::{detached, lock, read};
use crate::stats::sequential::{AlarmMethod, Boundary, Cusum, CusumKind, DayStatus, Monitor, MonitorConfig};

result_class! {
    /// A monitor's status after a day ([`DayStatus`]).
    StatsDayStatus from DayStatus {
        day: u32,
        lower: f64,
        upper: f64,
        min_upper: f64,
        alarm: bool,
        alarm_day: Option<u32>,
        log_evidence: Option<f64>,
    }
}

/// Anytime-valid monitor for one tier or paired gap (thread-safe like [`super::aggregate::StatsAggregate`]).
#[pyclass(frozen, module = "tierscope._core", name = "StatsMonitor")]
struct StatsMonitor {
    inner: Mutex<Monitor>,
}

#[pymethods]
impl StatsMonitor {
    #[new]
    #[pyo3(
        signature = (baseline, tolerance, alpha=Arg::new(0.05), lo=Arg::new(0.0), hi=Arg::new(1.0), max_weight=Arg::new(1.0), restart_every=Arg::new(7), arl=None, boundary=None),
        text_signature = "(baseline, tolerance, alpha=0.05, lo=0.0, hi=1.0, max_weight=1.0, restart_every=7, arl=None, boundary=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        baseline: Arg<f64>,
        tolerance: Arg<f64>,
        alpha: Arg<f64>,
        lo: Arg<f64>,
        hi: Arg<f64>,
        max_weight: Arg<f64>,
        restart_every: Arg<u32>,
        arl: Option<Arg<f64>>,
        boundary: Option<Arg<String>>,
    ) -> PyResult<Self> {
        let boundary = opt_arg(boundary, "boundary")?;
        let (baseline, tolerance, alpha) =
            (baseline.get("baseline")?, tolerance.get("tolerance")?, alpha.get("alpha")?);
        let (lo, hi, max_weight) = (lo.get("lo")?, hi.get("hi")?, max_weight.get("max_weight")?);
        let restart_every = restart_every.get("restart_every")?;
        let method = alarm_method(opt_arg(arl, "arl")?);
        let config = MonitorConfig { baseline, tolerance, alpha, lo, hi, max_weight, restart_every, method };
        let make = move |config| {
            let boundary = boundary.as_deref().map_or(Ok(Boundary::default()), Boundary::parse)?;
            Monitor::with_boundary(config, boundary)
        };
        Ok(Self { inner: Mutex::new(detached(py, config, make)?) })
    }

    /// Absorb one day's reviews; returns the day's status.
    #[pyo3(signature = (y, pi=None, population=None))]
    fn update(
        &self,
        py: Python<'_>,
        y: F64Array<'_>,
        pi: Option<F64Array<'_>>,
        population: Option<Arg<u64>>,
    ) -> PyResult<StatsDayStatus> {
        let population = opt_arg(population, "population")?;
        let inputs = (&self.inner, f64_slice(&y), opt_f64_slice(&pi));
        // Monitor::update validates the day before it changes anything.
        let status =
            detached(py, inputs, move |(state, y, pi)| lock(state).update(&y, pi.as_deref(), population))?;
        Ok(status.into())
    }

    /// Days absorbed.
    #[getter]
    fn day(&self, py: Python<'_>) -> u32 {
        read(py, &self.inner, |m| m.day)
    }

    /// Day the alarm first fired (None if it has not).
    #[getter]
    fn alarm_day(&self, py: Python<'_>) -> Option<u32> {
        read(py, &self.inner, |m| m.alarm_day)
    }

    /// Per-day statuses.
    #[getter]
    fn history(&self, py: Python<'_>) -> Vec<StatsDayStatus> {
        // Copied under the lock, converted after it is released.
        let history = read(py, &self.inner, |m| m.history.clone());
        history.into_iter().map(Into::into).collect()
    }

    /// JSON state.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, &self.inner, |state| lock(state).to_json())
    }

    /// Restore from JSON state.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: Arg<String>) -> PyResult<Self> {
        let text = text.get("text")?;
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Monitor::from_json(&t))?) })
    }
}

/// One-sided (downward) CUSUM chart (thread-safe like [`super::aggregate::StatsAggregate`]).
#[pyclass(frozen, module = "tierscope._core", name = "StatsCusum")]
struct StatsCusum {
    inner: Mutex<Cusum>,
}

#[pymethods]
impl StatsCusum {
    /// Bernoulli CUSUM from p0 to p1 < p0 with threshold h.
    #[staticmethod]
    fn bernoulli(py: Python<'_>, p0: Arg<f64>, p1: Arg<f64>, threshold: Arg<f64>) -> PyResult<Self> {
        let (p0, p1, threshold) = (p0.get("p0")?, p1.get("p1")?, threshold.get("threshold")?);
        let c = detached(py, (), move |_| Cusum::new(CusumKind::Bernoulli { p0, p1 }, threshold))?;
        Ok(Self { inner: Mutex::new(c) })
    }

    /// Normal CUSUM for a downward shift of `shift` SDs.
    #[staticmethod]
    fn normal(
        py: Python<'_>,
        mean0: Arg<f64>,
        sd: Arg<f64>,
        shift: Arg<f64>,
        threshold: Arg<f64>,
    ) -> PyResult<Self> {
        let (mean0, sd) = (mean0.get("mean0")?, sd.get("sd")?);
        let (shift, threshold) = (shift.get("shift")?, threshold.get("threshold")?);
        let c = detached(py, (), move |_| Cusum::new(CusumKind::Normal { mean0, sd, shift }, threshold))?;
        Ok(Self { inner: Mutex::new(c) })
    }

    /// Absorb one day's observations; returns whether the chart has signalled.
    fn update(&self, py: Python<'_>, x: F64Array<'_>) -> PyResult<bool> {
        // Cusum::update validates the day before it changes anything.
        detached(py, (&self.inner, f64_slice(&x)), |(state, x)| lock(state).update(&x))
    }

    /// Current statistic.
    #[getter]
    fn statistic(&self, py: Python<'_>) -> f64 {
        read(py, &self.inner, |c| c.statistic)
    }

    /// Days absorbed.
    #[getter]
    fn day(&self, py: Python<'_>) -> u32 {
        read(py, &self.inner, |c| c.day)
    }

    /// Day the chart first signalled.
    #[getter]
    fn alarm_day(&self, py: Python<'_>) -> Option<u32> {
        read(py, &self.inner, |c| c.alarm_day)
    }

    /// JSON state.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, &self.inner, |state| lock(state).to_json())
    }

    /// Restore from JSON state.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: Arg<String>) -> PyResult<Self> {
        let text = text.get("text")?;
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Cusum::from_json(&t))?) })
    }
}

/// `arl` given: the e-detector alarm; None: restarted confidence sequences.
pub(super) fn alarm_method(arl: Option<f64>) -> AlarmMethod {
    arl.map_or(AlarmMethod::ConfidenceSequence, |arl| AlarmMethod::EDetector { arl })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsDayStatus>()?;
    m.add_class::<StatsMonitor>()?;
    m.add_class::<StatsCusum>()?;
    Ok(())
}
