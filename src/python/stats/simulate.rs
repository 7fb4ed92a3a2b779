//! Bindings for [`crate::stats::simulate`]: seeded Monte-Carlo checks of the monitors and of
//! interval coverage.

use pyo3::prelude::*;

use super::sequential::alarm_method;
use crate::python::convert::{
    codes, f64_slice, i64_slice, opt_arg, opt_f64_slice, result_class, Arg, F64Array, I64Array,
};
use crate::python::gil::detached;
use crate::stats::estimators::Design;
use crate::stats::intervals::SurveyMethod;
use crate::stats::sequential::MonitorConfig;
use crate::stats::simulate::{coverage, monitor_runs, CoverageReport, SimDesign};

result_class! {
    /// Interval coverage over simulated audits ([`CoverageReport`]; first target = all traffic).
    StatsCoverageReport from CoverageReport {
        targets: Vec<Option<u32>>,
        truth: Vec<f64>,
        defined: Vec<u64>,
        covered: Vec<u64>,
        covered_wald: Vec<u64>,
        mean_width: Vec<f64>,
        runs: u64,
    }
}

/// Simulated alarm days of Bernoulli monitors (None = no alarm).
#[pyfunction]
#[pyo3(
    signature = (baseline, tolerance, alpha, restart_every, days, reviews_per_day, p_before, p_after, change_day, runs, seed=Arg::new(0), threads=Arg::new(0), arl=None),
    text_signature = "(baseline, tolerance, alpha, restart_every, days, reviews_per_day, p_before, p_after, change_day, runs, seed=0, threads=0, arl=None)"
)]
#[allow(clippy::too_many_arguments)]
fn stats_simulate_monitor(
    py: Python<'_>,
    baseline: Arg<f64>,
    tolerance: Arg<f64>,
    alpha: Arg<f64>,
    restart_every: Arg<u32>,
    days: Arg<u32>,
    reviews_per_day: Arg<usize>,
    p_before: Arg<f64>,
    p_after: Arg<f64>,
    change_day: Arg<u32>,
    runs: Arg<usize>,
    seed: Arg<u64>,
    threads: Arg<usize>,
    arl: Option<Arg<f64>>,
) -> PyResult<Vec<Option<u32>>> {
    let (baseline, tolerance, alpha) =
        (baseline.get("baseline")?, tolerance.get("tolerance")?, alpha.get("alpha")?);
    let (restart_every, days) = (restart_every.get("restart_every")?, days.get("days")?);
    let reviews_per_day = reviews_per_day.get("reviews_per_day")?;
    let (p_before, p_after) = (p_before.get("p_before")?, p_after.get("p_after")?);
    let (change_day, runs) = (change_day.get("change_day")?, runs.get("runs")?);
    let (seed, threads) = (seed.get("seed")?, threads.get("threads")?);
    let method = alarm_method(opt_arg(arl, "arl")?);
    let config = MonitorConfig {
        baseline,
        tolerance,
        alpha,
        lo: 0.0,
        hi: 1.0,
        max_weight: 1.0,
        restart_every,
        method,
    };
    detached(py, config, move |c| {
        monitor_runs(&c, days, reviews_per_day, p_before, p_after, change_day, runs, seed, threads)
    })
}

/// Coverage simulation of design-based intervals over repeated samples of a population.
#[pyfunction]
#[pyo3(
    signature = (y, strata, domains, design, sizes=None, pi=None, runs=Arg::new(2000), level=Arg::new(0.95), seed=Arg::new(0), threads=Arg::new(0), interval=Arg::new("wilson".to_owned())),
    text_signature = "(y, strata, domains, design, sizes=None, pi=None, runs=2000, level=0.95, seed=0, threads=0, interval=\"wilson\")"
)]
#[allow(clippy::too_many_arguments)]
fn stats_simulate_coverage(
    py: Python<'_>,
    y: F64Array<'_>,
    strata: I64Array<'_>,
    domains: I64Array<'_>,
    design: Arg<String>,
    sizes: Option<Arg<Vec<usize>>>,
    pi: Option<F64Array<'_>>,
    runs: Arg<usize>,
    level: Arg<f64>,
    seed: Arg<u64>,
    threads: Arg<usize>,
    interval: Arg<String>,
) -> PyResult<StatsCoverageReport> {
    let interval = interval.get("interval")?;
    let (design, sizes) = (design.get("design")?, opt_arg(sizes, "sizes")?);
    let (runs, level) = (runs.get("runs")?, level.get("level")?);
    let (seed, threads) = (seed.get("seed")?, threads.get("threads")?);
    let inputs = (f64_slice(&y), i64_slice(&strata), i64_slice(&domains), design, sizes, opt_f64_slice(&pi));
    let report = detached(py, inputs, move |(y, strata, domains, design, sizes, pi)| {
        let (h, d) = (codes("strata", &strata)?, codes("domains", &domains)?);
        let design = SimDesign::new(Design::parse(&design)?, sizes, pi.as_deref())?;
        let method = SurveyMethod::parse(&interval)?;
        coverage(&y, &h, &d, &design, runs, level, seed, threads, method)
    })?;
    Ok(report.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsCoverageReport>()?;
    m.add_function(wrap_pyfunction!(stats_simulate_monitor, m)?)?;
    m.add_function(wrap_pyfunction!(stats_simulate_coverage, m)?)?;
    Ok(())
}
