//! Bindings for [`crate::stats::aggregate`]: the mergeable sufficient statistics as a
//! thread-safe Python class, with the design-based estimators ([`crate::stats::estimators`]) and
//! the domain gap ([`crate::stats::gaps::design_gap`]) that run on them as its methods.

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;

use super::estimators::StatsDomainEstimate;
use super::gaps::StatsDomainGap;
use crate::python::convert::{codes, f64_slice, i64_slice, opt_arg, Arg, F64Array, I64Array};
use crate::python::gil::{detached, lock, read};
use crate::stats::aggregate::Aggregate;
use crate::stats::estimators::{
    domain_estimates_with, lonely_strata, population_estimate_with, post_stratified_estimate_with,
    stratum_estimates_with, Design, Lonely,
};
use crate::stats::gaps::design_gap_with;

/// Mergeable per-(stratum, domain) sufficient statistics with design-based estimators.
///
/// Safe to share between threads: the state sits behind a mutex that is locked with the GIL
/// released; an update that fails validation changes nothing.
#[pyclass(frozen, module = "tierscope._core", name = "StatsAggregate")]
#[derive(Default)]
pub(crate) struct StatsAggregate {
    inner: Mutex<Aggregate>,
}

/// Lock two aggregates in a fixed (address) order, so two threads merging `a` into `b` and `b`
/// into `a` cannot deadlock. `a` and `b` must be different mutexes. Returns (a's, b's) guard.
fn lock_pair<'a>(
    a: &'a Mutex<Aggregate>,
    b: &'a Mutex<Aggregate>,
) -> (MutexGuard<'a, Aggregate>, MutexGuard<'a, Aggregate>) {
    if std::ptr::from_ref(a) < std::ptr::from_ref(b) {
        let ga = lock(a);
        (ga, lock(b))
    } else {
        let gb = lock(b);
        (lock(a), gb)
    }
}

/// `a` merged with `b` as a new aggregate (`a` and `b` may be the same object).
fn merged_state(a: &Mutex<Aggregate>, b: &Mutex<Aggregate>) -> Aggregate {
    if std::ptr::eq(a, b) {
        let g = lock(a);
        Aggregate::merged(&g, &g)
    } else {
        let (ga, gb) = lock_pair(a, b);
        Aggregate::merged(&ga, &gb)
    }
}

#[pymethods]
impl StatsAggregate {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Add sampled units (scores, inclusion probabilities, stratum and domain codes).
    fn add_sample(
        &self,
        py: Python<'_>,
        y: F64Array<'_>,
        pi: F64Array<'_>,
        strata: I64Array<'_>,
        domains: I64Array<'_>,
    ) -> PyResult<()> {
        let inputs = (&self.inner, f64_slice(&y), f64_slice(&pi), i64_slice(&strata), i64_slice(&domains));
        detached(py, inputs, |(state, y, pi, strata, domains)| {
            let (h, d) = (codes("strata", &strata)?, codes("domains", &domains)?);
            // Built (and validated) without the lock, then added under it.
            let add = Aggregate::from_sample_par(&y, &pi, &h, &d)?;
            lock(state).merge(&add);
            Ok(())
        })
    }

    /// Count population units (one per entry) into (stratum, domain) cells.
    fn add_population(&self, py: Python<'_>, strata: I64Array<'_>, domains: I64Array<'_>) -> PyResult<()> {
        detached(py, (&self.inner, i64_slice(&strata), i64_slice(&domains)), |(state, strata, domains)| {
            let (h, d) = (codes("population_strata", &strata)?, codes("population_domains", &domains)?);
            // Validated before anything is added.
            lock(state).add_population(&h, &d)
        })
    }

    /// Add `count` population units to cell (stratum, domain).
    fn add_population_count(
        &self,
        py: Python<'_>,
        stratum: Arg<u32>,
        domain: Arg<u32>,
        count: Arg<f64>,
    ) -> PyResult<()> {
        let (stratum, domain, count) = (stratum.get("stratum")?, domain.get("domain")?, count.get("count")?);
        detached(py, &self.inner, move |state| lock(state).add_population_count(stratum, domain, count))
    }

    /// Merge another aggregate (or this one) into this one, in place.
    fn merge(&self, py: Python<'_>, other: &StatsAggregate) -> PyResult<()> {
        detached(py, (&self.inner, &other.inner), |(a, b)| {
            if std::ptr::eq(a, b) {
                let mut g = lock(a);
                let snapshot = g.clone();
                g.merge(&snapshot);
            } else {
                let (mut ga, gb) = lock_pair(a, b);
                ga.merge(&gb);
            }
            Ok(())
        })
    }

    /// A new aggregate: this one merged with `other` (neither changes).
    fn merged(&self, py: Python<'_>, other: &StatsAggregate) -> PyResult<Self> {
        let out = detached(py, (&self.inner, &other.inner), |(a, b)| Ok(merged_state(a, b)))?;
        Ok(Self { inner: Mutex::new(out) })
    }

    /// An independent copy.
    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        let out = detached(py, &self.inner, |state| Ok(lock(state).clone()))?;
        Ok(Self { inner: Mutex::new(out) })
    }

    /// An independent copy (the state holds no Python objects).
    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.__copy__(py)
    }

    /// JSON text of the state.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, &self.inner, |state| lock(state).to_json())
    }

    /// Restore from JSON text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: Arg<String>) -> PyResult<Self> {
        let text = text.get("text")?;
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Aggregate::from_json(&t))?) })
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        read(py, &self.inner, Aggregate::len)
    }

    /// Per-domain estimates (list of dicts).
    #[pyo3(
        signature = (design, level=Arg::new(0.95), domains=None, lonely=None),
        text_signature = "($self, design, level=0.95, domains=None, lonely=None)"
    )]
    fn estimate_domains(
        &self,
        py: Python<'_>,
        design: Arg<String>,
        level: Arg<f64>,
        domains: Option<Arg<Vec<u32>>>,
        lonely: Option<Arg<String>>,
    ) -> PyResult<Vec<StatsDomainEstimate>> {
        let (design, level, domains) =
            (design.get("design")?, level.get("level")?, opt_arg(domains, "domains")?);
        let lonely = lonely_arg(lonely)?;
        let inputs = (&self.inner, design, domains);
        let estimates = detached(py, inputs, move |(state, design, domains)| {
            domain_estimates_with(&lock(state), Design::parse(&design)?, level, domains.as_deref(), lonely)
        })?;
        Ok(estimates.into_iter().map(Into::into).collect())
    }

    /// Estimate over all traffic.
    #[pyo3(
        signature = (design, level=Arg::new(0.95), lonely=None),
        text_signature = "($self, design, level=0.95, lonely=None)"
    )]
    fn estimate_population(
        &self,
        py: Python<'_>,
        design: Arg<String>,
        level: Arg<f64>,
        lonely: Option<Arg<String>>,
    ) -> PyResult<StatsDomainEstimate> {
        let (design, level) = (design.get("design")?, level.get("level")?);
        let lonely = lonely_arg(lonely)?;
        let inputs = (&self.inner, design);
        let estimate = detached(py, inputs, move |(state, design)| {
            population_estimate_with(&lock(state), Design::parse(&design)?, level, lonely)
        })?;
        Ok(estimate.into())
    }

    /// Per-stratum estimates (the `domain` key holds the stratum code).
    #[pyo3(
        signature = (design, level=Arg::new(0.95), lonely=None),
        text_signature = "($self, design, level=0.95, lonely=None)"
    )]
    fn estimate_strata(
        &self,
        py: Python<'_>,
        design: Arg<String>,
        level: Arg<f64>,
        lonely: Option<Arg<String>>,
    ) -> PyResult<Vec<StatsDomainEstimate>> {
        let (design, level) = (design.get("design")?, level.get("level")?);
        let lonely = lonely_arg(lonely)?;
        let inputs = (&self.inner, design);
        let estimates = detached(py, inputs, move |(state, design)| {
            stratum_estimates_with(&lock(state), Design::parse(&design)?, level, lonely)
        })?;
        Ok(estimates.into_iter().map(Into::into).collect())
    }

    /// Post-stratified mean with known post-stratum sizes [(domain, N_g)].
    #[pyo3(
        signature = (design, totals, level=Arg::new(0.95), lonely=None),
        text_signature = "($self, design, totals, level=0.95, lonely=None)"
    )]
    fn post_stratified(
        &self,
        py: Python<'_>,
        design: Arg<String>,
        totals: Arg<Vec<(u32, f64)>>,
        level: Arg<f64>,
        lonely: Option<Arg<String>>,
    ) -> PyResult<StatsDomainEstimate> {
        let (design, totals, level) = (design.get("design")?, totals.get("totals")?, level.get("level")?);
        let lonely = lonely_arg(lonely)?;
        let inputs = (&self.inner, design, totals);
        let estimate = detached(py, inputs, move |(state, design, totals)| {
            post_stratified_estimate_with(&lock(state), Design::parse(&design)?, &totals, level, lonely)
        })?;
        Ok(estimate.into())
    }

    /// Codes of the lonely strata under `design` (one sampled unit, not sampled completely).
    fn lonely_strata(&self, py: Python<'_>, design: Arg<String>) -> PyResult<Vec<u32>> {
        let design = design.get("design")?;
        detached(py, (&self.inner, design), |(state, design)| {
            lonely_strata(&lock(state), Design::parse(&design)?)
        })
    }

    /// Design-based Wald interval for the gap between two domains' Hájek means.
    #[pyo3(
        signature = (design, domain_a, domain_b, level=Arg::new(0.95), lonely=None),
        text_signature = "($self, design, domain_a, domain_b, level=0.95, lonely=None)"
    )]
    fn domain_gap(
        &self,
        py: Python<'_>,
        design: Arg<String>,
        domain_a: Arg<u32>,
        domain_b: Arg<u32>,
        level: Arg<f64>,
        lonely: Option<Arg<String>>,
    ) -> PyResult<StatsDomainGap> {
        let design = design.get("design")?;
        let (domain_a, domain_b, level) =
            (domain_a.get("domain_a")?, domain_b.get("domain_b")?, level.get("level")?);
        let lonely = lonely_arg(lonely)?;
        let inputs = (&self.inner, design);
        let gap = detached(py, inputs, move |(state, design)| {
            design_gap_with(&lock(state), Design::parse(&design)?, domain_a, domain_b, level, lonely)
        })?;
        Ok(gap.into())
    }
}

/// The `lonely` argument (`None`: "adjust").
pub(super) fn lonely_arg(lonely: Option<Arg<String>>) -> PyResult<Lonely> {
    match opt_arg(lonely, "lonely")? {
        None => Ok(Lonely::Adjust),
        Some(name) => Lonely::parse(&name).map_err(crate::python::errors::to_py),
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<StatsAggregate>()
}
