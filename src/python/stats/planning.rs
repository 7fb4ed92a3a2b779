//! Bindings for [`crate::stats::planning`]: how many reviews detect a drop in time.

use pyo3::prelude::*;

use crate::python::convert::{opt_arg, result_class, Arg};
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
#[pyo3(
    signature = (p0, delta, days, alpha=Arg::new(0.05), power=Arg::new(0.8)),
    text_signature = "(p0, delta, days, alpha=0.05, power=0.8)"
)]
fn stats_fixed_sample_plan(
    py: Python<'_>,
    p0: Arg<f64>,
    delta: Arg<f64>,
    days: Arg<u32>,
    alpha: Arg<f64>,
    power: Arg<f64>,
) -> PyResult<StatsReviewPlan> {
    let (p0, delta, days) = (p0.get("p0")?, delta.get("delta")?, days.get("days")?);
    let (alpha, power) = (alpha.get("alpha")?, power.get("power")?);
    let plan = detached(py, (), move |_| fixed_sample_plan(p0, delta, days, alpha, power))?;
    Ok(plan.into())
}

/// Sequential review plan (seeded simulation, bisection on the daily count); no `tolerance`
/// means 0 (alarm when the upper bound falls below p0).
#[pyfunction]
#[pyo3(
    signature = (p0, delta, days, alpha=Arg::new(0.05), power=Arg::new(0.8), tolerance=None, restart_every=Arg::new(7), sims=Arg::new(400), seed=Arg::new(0), threads=Arg::new(0), max_per_day=Arg::new(2000)),
    text_signature = "(p0, delta, days, alpha=0.05, power=0.8, tolerance=None, restart_every=7, sims=400, seed=0, threads=0, max_per_day=2000)"
)]
#[allow(clippy::too_many_arguments)]
fn stats_sequential_plan(
    py: Python<'_>,
    p0: Arg<f64>,
    delta: Arg<f64>,
    days: Arg<u32>,
    alpha: Arg<f64>,
    power: Arg<f64>,
    tolerance: Option<Arg<f64>>,
    restart_every: Arg<u32>,
    sims: Arg<usize>,
    seed: Arg<u64>,
    threads: Arg<usize>,
    max_per_day: Arg<usize>,
) -> PyResult<StatsReviewPlan> {
    let (p0, delta, days) = (p0.get("p0")?, delta.get("delta")?, days.get("days")?);
    let (alpha, power) = (alpha.get("alpha")?, power.get("power")?);
    let tolerance = opt_arg(tolerance, "tolerance")?;
    let (restart_every, sims) = (restart_every.get("restart_every")?, sims.get("sims")?);
    let (seed, threads, max_per_day) =
        (seed.get("seed")?, threads.get("threads")?, max_per_day.get("max_per_day")?);
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
