//! Bindings for [`crate::stats::estimators`]: the design-based estimate result. The estimators
//! themselves are methods of [`super::aggregate::StatsAggregate`], the statistics they run on;
//! the fixed-size πps estimates ([`crate::stats::pps`]) run on the unit-level sample.

use pyo3::prelude::*;

use super::aggregate::lonely_arg;
use crate::python::convert::{codes, f64_slice, i64_slice, opt_arg, result_class, Arg, F64Array, I64Array};
use crate::python::errors::to_py;
use crate::python::gil::detached;
use crate::stats::estimators::DomainEstimate;
use crate::stats::intervals::SurveyMethod;
use crate::stats::pps::{brewer_estimates, PpsEstimates};

result_class! {
    /// A design-based estimate for one domain, stratum or all traffic ([`DomainEstimate`]).
    StatsDomainEstimate from DomainEstimate {
        domain: Option<u32>,
        n: u64,
        population: f64,
        population_hat: f64,
        total: f64,
        total_se: f64,
        ht_mean: f64,
        ht_mean_se: f64,
        mean: f64,
        se: f64,
        lower: f64,
        upper: f64,
        interval: String,
        wald_lower: f64,
        wald_upper: f64,
        level: f64,
        n_eff: f64,
        defined: bool,
        reason: Option<String>,
        df: f64,
        bounded: bool,
    }
}

impl From<&StatsDomainEstimate> for DomainEstimate {
    fn from(e: &StatsDomainEstimate) -> Self {
        Self {
            domain: e.domain,
            n: e.n,
            population: e.population,
            population_hat: e.population_hat,
            total: e.total,
            total_se: e.total_se,
            ht_mean: e.ht_mean,
            ht_mean_se: e.ht_mean_se,
            mean: e.mean,
            se: e.se,
            lower: e.lower,
            upper: e.upper,
            interval: e.interval.clone(),
            wald_lower: e.wald_lower,
            wald_upper: e.wald_upper,
            level: e.level,
            n_eff: e.n_eff,
            defined: e.defined,
            reason: e.reason.clone(),
            df: e.df,
            bounded: e.bounded,
        }
    }
}

#[pymethods]
impl StatsDomainEstimate {
    /// The same estimate with its headline interval recomputed with `method`
    /// ([`DomainEstimate::with_interval`]).
    #[pyo3(signature = (method), text_signature = "(self, method)")]
    fn with_interval(&self, method: Arg<String>) -> PyResult<Self> {
        let method = SurveyMethod::parse(&method.get("interval")?).map_err(to_py)?;
        Ok(DomainEstimate::from(self).with_interval(method).map_err(to_py)?.into())
    }
}

/// Estimates from a fixed-size πps sample ([`PpsEstimates`]).
#[pyclass(frozen, get_all, module = "tierscope._core")]
#[derive(Clone)]
pub(crate) struct StatsPpsEstimates {
    population: StatsDomainEstimate,
    domains: Vec<StatsDomainEstimate>,
    strata: Vec<StatsDomainEstimate>,
    lonely_strata: Vec<u32>,
}

impl From<PpsEstimates> for StatsPpsEstimates {
    fn from(value: PpsEstimates) -> Self {
        let PpsEstimates { population, domains, strata, lonely_strata } = value;
        Self {
            population: population.into(),
            domains: domains.into_iter().map(Into::into).collect(),
            strata: strata.into_iter().map(Into::into).collect(),
            lonely_strata,
        }
    }
}

/// HT totals and Hájek means of a stratified fixed-size πps sample with Brewer's variance
/// ([`brewer_estimates`]); `lonely` None is "adjust".
#[pyfunction]
#[pyo3(
    signature = (y, pi, strata, domains, stratum_sizes, wanted=None, level=Arg::new(0.95), lonely=None),
    text_signature = "(y, pi, strata, domains, stratum_sizes, wanted=None, level=0.95, lonely=None)"
)]
#[allow(clippy::too_many_arguments)]
fn stats_pps_brewer_estimates(
    py: Python<'_>,
    y: F64Array<'_>,
    pi: F64Array<'_>,
    strata: I64Array<'_>,
    domains: I64Array<'_>,
    stratum_sizes: Arg<Vec<(u32, f64)>>,
    wanted: Option<Arg<Vec<u32>>>,
    level: Arg<f64>,
    lonely: Option<Arg<String>>,
) -> PyResult<StatsPpsEstimates> {
    let (sizes, wanted, level) =
        (stratum_sizes.get("stratum_sizes")?, opt_arg(wanted, "wanted")?, level.get("level")?);
    let lonely = lonely_arg(lonely)?;
    let inputs = (f64_slice(&y), f64_slice(&pi), i64_slice(&strata), i64_slice(&domains), sizes, wanted);
    let out = detached(py, inputs, move |(y, pi, strata, domains, sizes, wanted)| {
        let (h, d) = (codes("strata", &strata)?, codes("domains", &domains)?);
        brewer_estimates(&y, &pi, &h, &d, &sizes, wanted.as_deref(), lonely, level)
    })?;
    Ok(out.into())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsDomainEstimate>()?;
    m.add_class::<StatsPpsEstimates>()?;
    m.add_function(wrap_pyfunction!(stats_pps_brewer_estimates, m)?)
}
