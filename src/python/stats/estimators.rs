//! Bindings for [`crate::stats::estimators`]: the design-based estimate result. The estimators
//! themselves are methods of [`super::aggregate::StatsAggregate`], the statistics they run on.

use crate::python::convert::result_class;
use crate::stats::estimators::DomainEstimate;

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
    }
}

pub(super) fn register(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    use pyo3::types::PyModuleMethods;
    m.add_class::<StatsDomainEstimate>()
}
