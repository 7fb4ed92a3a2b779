//! Bindings for [`crate::stats::allocation`]: review-budget allocation over strata.

use pyo3::prelude::*;

use crate::python::convert::{codes, f64_slice, i64_slice, result_class, Arg, F64Array, I64Array};
use crate::python::gil::detached;
use crate::stats::allocation::{
    allocate, strata_from_columns, Allocation, AllocationMethod, AllocationOptions, TargetReport,
};

result_class! {
    /// Whether a domain's precision target is reached ([`TargetReport`]).
    StatsTargetReport from TargetReport {
        domain: u32,
        target: f64,
        achieved: f64,
        required: usize,
        reached: bool,
    }
}

/// An integer allocation ([`Allocation`]); `targets` holds one report per precision target.
#[pyclass(frozen, get_all, module = "tierscope._core")]
pub(crate) struct StatsAllocation {
    sizes: Vec<usize>,
    method: String,
    total_cost: f64,
    targets: Vec<StatsTargetReport>,
}

impl From<Allocation> for StatsAllocation {
    fn from(value: Allocation) -> Self {
        let Allocation { sizes, method, total_cost, targets } = value;
        Self { sizes, method, total_cost, targets: targets.into_iter().map(Into::into).collect() }
    }
}

/// Allocate a review budget over strata given as per-stratum columns (`maximum < 0`: no cap).
#[pyfunction]
#[pyo3(
    signature = (population, sd, cost, minimum, maximum, domain, budget, method, sd_floor=Arg::new(0.05), level=Arg::new(0.95), targets=Arg::new(Vec::new())),
    text_signature = "(population, sd, cost, minimum, maximum, domain, budget, method, sd_floor=0.05, level=0.95, targets=...)"
)]
#[allow(clippy::too_many_arguments)]
fn stats_allocate(
    py: Python<'_>,
    population: F64Array<'_>,
    sd: F64Array<'_>,
    cost: F64Array<'_>,
    minimum: I64Array<'_>,
    maximum: I64Array<'_>,
    domain: I64Array<'_>,
    budget: Arg<i64>,
    method: Arg<String>,
    sd_floor: Arg<f64>,
    level: Arg<f64>,
    targets: Arg<Vec<(u32, f64)>>,
) -> PyResult<StatsAllocation> {
    let (budget, method) = (budget.get("budget")?, method.get("method")?);
    let (sd_floor, level, targets) =
        (sd_floor.get("sd_floor")?, level.get("level")?, targets.get("targets")?);
    let domain = codes("domain", &i64_slice(&domain)).map_err(crate::python::errors::to_py)?;
    let columns =
        (f64_slice(&population), f64_slice(&sd), f64_slice(&cost), i64_slice(&minimum), i64_slice(&maximum));
    let allocation =
        detached(py, (columns, domain, method), move |((pop, sd, cost, min, max), domain, method)| {
            let method = AllocationMethod::parse(&method)?;
            let strata = strata_from_columns(&pop, &sd, &cost, &min, &max, &domain)?;
            allocate(&strata, budget, method, &AllocationOptions { sd_floor, level, targets })
        })?;
    Ok(allocation.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsTargetReport>()?;
    m.add_class::<StatsAllocation>()?;
    m.add_function(wrap_pyfunction!(stats_allocate, m)?)?;
    Ok(())
}
