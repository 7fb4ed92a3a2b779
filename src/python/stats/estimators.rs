//! Bindings for [`crate::stats::estimators`]: the design-based estimate result. The estimators
//! themselves are methods of [`super::aggregate::StatsAggregate`], the statistics they run on.

use pyo3::prelude::*;

use crate::python::convert::{result_class, Arg};
use crate::python::errors::to_py;
use crate::stats::estimators::DomainEstimate;
use crate::stats::intervals::SurveyMethod;

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

pub(super) fn register(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    use pyo3::types::PyModuleMethods;
    m.add_class::<StatsDomainEstimate>()
}
