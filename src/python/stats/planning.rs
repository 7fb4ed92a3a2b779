//! Bindings for [`crate::stats::planning`]: how many reviews detect a drop in time.

use pyo3::prelude::*;

use crate::python::convert::result_class;
use crate::python::gil::detached;
use crate::stats::planning::{fixed_sample_plan, sequential_plan, ReviewPlan, SequentialPlanOptions};

result_class! {
    /// Reviews per tier per day and in total, with the power they give ([`ReviewPlan`]).
    StatsReviewPlan from ReviewPlan {
        per_day: usize,
        total: usize,
        power: f64,
        method: String,
    }
}

/// Fixed-sample review plan (closed form).
#[pyfunction]
#[pyo3(signature = (p0, delta, days, alpha=0.05, power=0.8))]
fn stats_fixed_sample_plan(
    py: Python<'_>,
    p0: f64,
    delta: f64,
    days: u32,
    alpha: f64,
    power: f64,
) -> PyResult<StatsReviewPlan> {
    let plan = detached(py, (), move |_| fixed_sample_plan(p0, delta, days, alpha, power))?;
    Ok(plan.into())
}

/// Sequential review plan (seeded simulation, bisection on the daily count); no `tolerance`
/// means 0 (alarm when the upper bound falls below p0).
#[pyfunction]
#[pyo3(signature = (p0, delta, days, alpha=0.05, power=0.8, tolerance=None, restart_every=7, sims=400, seed=0, threads=0, max_per_day=2000))]
#[allow(clippy::too_many_arguments)]
fn stats_sequential_plan(
    py: Python<'_>,
    p0: f64,
    delta: f64,
    days: u32,
    alpha: f64,
    power: f64,
    tolerance: Option<f64>,
    restart_every: u32,
    sims: usize,
    seed: u64,
    threads: usize,
    max_per_day: usize,
) -> PyResult<StatsReviewPlan> {
    let opts = SequentialPlanOptions {
        tolerance: tolerance.unwrap_or(0.0),
        restart_every,
        sims,
        seed,
        threads,
        max_per_day,
    };
    let plan = detached(py, opts, move |o| sequential_plan(p0, delta, days, alpha, power, &o))?;
    Ok(plan.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsReviewPlan>()?;
    m.add_function(wrap_pyfunction!(stats_fixed_sample_plan, m)?)?;
    m.add_function(wrap_pyfunction!(stats_sequential_plan, m)?)?;
    Ok(())
}
