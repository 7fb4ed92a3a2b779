//! Bindings for `tierscope.stats`: argument conversion, GIL release, error mapping. No logic.
//!
//! Every function copies its inputs into owned Rust values, runs the core with the GIL released
//! through [`detached`], and converts the result afterwards. The stateful classes (aggregate,
//! monitor, CUSUM) are `frozen` with their state in a `Mutex`, locked only inside [`detached`]
//! (getters: [`read`]), so threads may share one object; updates validate before they change
//! it. Names carry a `stats_` prefix (classes a `Stats` prefix) because `_core` registration is
//! flat.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use std::sync::{Mutex, MutexGuard};

use super::errors::invalid;
use super::gil::{detached, lock, read};
use crate::error::TierscopeError;
use crate::stats::aggregate::Aggregate;
use crate::stats::allocation::{allocate, AllocationMethod, AllocationOptions, StratumSpec};
use crate::stats::design::{poisson_inclusion_probabilities, poisson_sample, stratified_srswor};
use crate::stats::drift::{
    drift_by_group, jensen_shannon, kolmogorov_sf, ks_2samp, ks_by_group, psi, psi_samples, KsMethod,
};
use crate::stats::estimators::{
    domain_estimates, population_estimate, post_stratified_estimate, stratum_estimates, Design,
    DomainEstimate,
};
use crate::stats::gaps::{design_gap, mcnemar, newcombe_independent, paired_binary, paired_wald};
use crate::stats::intervals::{
    bootstrap_interval, proportion_interval, t_interval, BootstrapOptions, ProportionMethod,
};
use crate::stats::planning::{fixed_sample_plan, sequential_plan, SequentialPlanOptions};
use crate::stats::sequential::{AlarmMethod, Cusum, CusumKind, DayStatus, Monitor, MonitorConfig};
use crate::stats::simulate::{coverage, monitor_runs, SimDesign};
use crate::stats::special::{beta_ppf, norm_ppf, t_ppf};

type F64Array<'py> = PyReadonlyArray1<'py, f64>;
type I64Array<'py> = PyReadonlyArray1<'py, i64>;
/// (indices, pi) of a drawn sample.
type SampleArrays<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>);

fn owned(a: &F64Array<'_>) -> Vec<f64> {
    match a.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => a.as_array().to_vec(),
    }
}

fn codes(py: Python<'_>, name: &str, a: &I64Array<'_>) -> PyResult<Vec<u32>> {
    let v = a.as_array();
    let mut out = Vec::with_capacity(v.len());
    for (i, &c) in v.iter().enumerate() {
        if !(0..=u32::MAX as i64).contains(&c) {
            return Err(invalid(
                py,
                &format!("{name}[{i}]"),
                &format!("a non-negative integer code, got {c}"),
            ));
        }
        out.push(c as u32);
    }
    Ok(out)
}

fn interval_tuple(iv: crate::stats::intervals::Interval) -> (f64, f64, f64, String) {
    (iv.lower, iv.upper, iv.estimate, iv.method)
}

fn estimate_dict<'py>(py: Python<'py>, e: &DomainEstimate) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("domain", e.domain)?;
    d.set_item("n", e.n)?;
    d.set_item("population", e.population)?;
    d.set_item("population_hat", e.population_hat)?;
    d.set_item("total", e.total)?;
    d.set_item("total_se", e.total_se)?;
    d.set_item("ht_mean", e.ht_mean)?;
    d.set_item("ht_mean_se", e.ht_mean_se)?;
    d.set_item("mean", e.mean)?;
    d.set_item("se", e.se)?;
    d.set_item("lower", e.lower)?;
    d.set_item("upper", e.upper)?;
    d.set_item("interval", e.interval.clone())?;
    d.set_item("wald_lower", e.wald_lower)?;
    d.set_item("wald_upper", e.wald_upper)?;
    d.set_item("level", e.level)?;
    d.set_item("n_eff", e.n_eff)?;
    d.set_item("defined", e.defined)?;
    d.set_item("reason", e.reason.clone())?;
    Ok(d)
}

fn day_dict<'py>(py: Python<'py>, s: &DayStatus) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("day", s.day)?;
    d.set_item("lower", s.lower)?;
    d.set_item("upper", s.upper)?;
    d.set_item("min_upper", s.min_upper)?;
    d.set_item("alarm", s.alarm)?;
    d.set_item("alarm_day", s.alarm_day)?;
    d.set_item("log_evidence", s.log_evidence)?;
    Ok(d)
}

// ---------------------------------------------------------------- special functions

/// Vectorised beta quantile (reference checks).
#[pyfunction]
fn stats_beta_ppf<'py>(
    py: Python<'py>,
    p: F64Array<'py>,
    a: F64Array<'py>,
    b: F64Array<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let inputs = (owned(&p), owned(&a), owned(&b));
    let out = detached(py, inputs, |(p, a, b)| {
        crate::stats::check_same_len("a", a.len(), "p", p.len())?;
        crate::stats::check_same_len("b", b.len(), "p", p.len())?;
        Ok((0..p.len()).map(|i| beta_ppf(p[i], a[i], b[i])).collect::<Vec<f64>>())
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Vectorised Student t quantile.
#[pyfunction]
fn stats_t_ppf<'py>(
    py: Python<'py>,
    p: F64Array<'py>,
    df: F64Array<'py>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = detached(py, (owned(&p), owned(&df)), |(p, df)| {
        crate::stats::check_same_len("df", df.len(), "p", p.len())?;
        Ok((0..p.len()).map(|i| t_ppf(p[i], df[i])).collect::<Vec<f64>>())
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Vectorised standard normal quantile.
#[pyfunction]
fn stats_norm_ppf<'py>(py: Python<'py>, p: F64Array<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let out = detached(py, owned(&p), |p| Ok(p.iter().map(|&v| norm_ppf(v)).collect::<Vec<f64>>()))?;
    Ok(PyArray1::from_vec(py, out))
}

// ---------------------------------------------------------------- intervals

/// Proportion intervals for arrays of counts: returns (lower, upper, estimate).
#[pyfunction]
#[pyo3(signature = (successes, n, level=0.95, method="wilson"))]
#[allow(clippy::type_complexity)]
fn stats_proportion_intervals<'py>(
    py: Python<'py>,
    successes: F64Array<'py>,
    n: F64Array<'py>,
    level: f64,
    method: &str,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let inputs = (owned(&successes), owned(&n), method.to_string());
    let (lo, hi, est) = detached(py, inputs, move |(x, n, method)| {
        crate::stats::check_same_len("n", n.len(), "successes", x.len())?;
        let m = ProportionMethod::parse(&method)?;
        let mut lo = Vec::with_capacity(x.len());
        let mut hi = Vec::with_capacity(x.len());
        let mut est = Vec::with_capacity(x.len());
        for i in 0..x.len() {
            let iv = proportion_interval(x[i], n[i], level, m).map_err(|e| index_error(e, i))?;
            lo.push(iv.lower);
            hi.push(iv.upper);
            est.push(iv.estimate);
        }
        Ok((lo, hi, est))
    })?;
    Ok((PyArray1::from_vec(py, lo), PyArray1::from_vec(py, hi), PyArray1::from_vec(py, est)))
}

fn index_error(e: TierscopeError, i: usize) -> TierscopeError {
    match e {
        TierscopeError::InvalidInput { argument, expected } => {
            TierscopeError::InvalidInput { argument: format!("{argument}[{i}]"), expected }
        }
        other => other,
    }
}

/// t interval (optionally frequency-weighted) for a mean: (lower, upper, estimate, method).
#[pyfunction]
#[pyo3(signature = (values, weights=None, level=0.95))]
fn stats_t_interval(
    py: Python<'_>,
    values: F64Array<'_>,
    weights: Option<F64Array<'_>>,
    level: f64,
) -> PyResult<(f64, f64, f64, String)> {
    let inputs = (owned(&values), weights.as_ref().map(owned));
    let iv = detached(py, inputs, move |(v, w)| t_interval(&v, w.as_deref(), level))?;
    Ok(interval_tuple(iv))
}

/// Percentile bootstrap interval for the (weighted) mean: (lower, upper, estimate, method).
#[pyfunction]
#[pyo3(signature = (values, weights=None, level=0.95, replicates=1000, seed=0, threads=0))]
fn stats_bootstrap_interval(
    py: Python<'_>,
    values: F64Array<'_>,
    weights: Option<F64Array<'_>>,
    level: f64,
    replicates: usize,
    seed: u64,
    threads: usize,
) -> PyResult<(f64, f64, f64, String)> {
    let inputs = (owned(&values), weights.as_ref().map(owned));
    let opts = BootstrapOptions { replicates, seed, threads, level };
    let iv = detached(py, inputs, move |(v, w)| bootstrap_interval(&v, w.as_deref(), opts))?;
    Ok(interval_tuple(iv))
}

// ---------------------------------------------------------------- designs

/// Stratified SRSWOR: (indices, pi).
#[pyfunction]
#[pyo3(signature = (strata, sizes, seed=0))]
fn stats_stratified_srswor<'py>(
    py: Python<'py>,
    strata: I64Array<'py>,
    sizes: Vec<usize>,
    seed: u64,
) -> PyResult<SampleArrays<'py>> {
    let h = codes(py, "strata", &strata)?;
    let s = detached(py, (h, sizes), move |(h, sizes)| stratified_srswor(&h, &sizes, seed))?;
    let idx: Vec<i64> = s.indices.iter().map(|&i| i as i64).collect();
    Ok((PyArray1::from_vec(py, idx), PyArray1::from_vec(py, s.pi)))
}

/// Inclusion probabilities ∝ scores, capped at 1, summing to `expected_size`.
#[pyfunction]
fn stats_poisson_inclusion<'py>(
    py: Python<'py>,
    scores: F64Array<'py>,
    expected_size: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let pi = detached(py, owned(&scores), move |s| poisson_inclusion_probabilities(&s, expected_size))?;
    Ok(PyArray1::from_vec(py, pi))
}

/// Poisson sample: (indices, pi).
#[pyfunction]
#[pyo3(signature = (pi, seed=0))]
fn stats_poisson_sample<'py>(py: Python<'py>, pi: F64Array<'py>, seed: u64) -> PyResult<SampleArrays<'py>> {
    let s = detached(py, owned(&pi), move |p| poisson_sample(&p, seed))?;
    let idx: Vec<i64> = s.indices.iter().map(|&i| i as i64).collect();
    Ok((PyArray1::from_vec(py, idx), PyArray1::from_vec(py, s.pi)))
}

// ---------------------------------------------------------------- allocation

/// Allocate a review budget over strata. Returns a dict with sizes, method, total_cost, targets.
#[pyfunction]
#[pyo3(signature = (population, sd, cost, minimum, maximum, domain, budget, method, sd_floor=0.05, level=0.95, targets=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn stats_allocate<'py>(
    py: Python<'py>,
    population: F64Array<'py>,
    sd: F64Array<'py>,
    cost: F64Array<'py>,
    minimum: I64Array<'py>,
    maximum: I64Array<'py>,
    domain: I64Array<'py>,
    budget: i64,
    method: &str,
    sd_floor: f64,
    level: f64,
    targets: Vec<(u32, f64)>,
) -> PyResult<Bound<'py, PyDict>> {
    let mins = minimum.as_array().to_vec();
    let maxs = maximum.as_array().to_vec();
    let doms = codes(py, "domain", &domain)?;
    let inputs =
        (owned(&population), owned(&sd), owned(&cost), mins, maxs, doms, method.to_string(), targets);
    let a = detached(py, inputs, move |(pop, sd, cost, mins, maxs, doms, method, targets)| {
        let k = pop.len();
        for (name, len) in [
            ("sd", sd.len()),
            ("cost", cost.len()),
            ("minimum", mins.len()),
            ("maximum", maxs.len()),
            ("domain", doms.len()),
        ] {
            crate::stats::check_same_len(name, len, "population", k)?;
        }
        let method = AllocationMethod::parse(&method)?;
        let mut strata = Vec::with_capacity(k);
        for h in 0..k {
            if mins[h] < 0 {
                return Err(TierscopeError::invalid(
                    format!("minimum[{h}]"),
                    format!("a non-negative minimum, got {}", mins[h]),
                ));
            }
            strata.push(StratumSpec {
                population: pop[h],
                sd: sd[h],
                cost: cost[h],
                min: mins[h] as usize,
                max: if maxs[h] < 0 { None } else { Some(maxs[h] as usize) },
                domain: doms[h],
            });
        }
        allocate(&strata, budget, method, &AllocationOptions { sd_floor, level, targets })
    })?;
    let d = PyDict::new(py);
    let sizes: Vec<i64> = a.sizes.iter().map(|&v| v as i64).collect();
    d.set_item("sizes", PyArray1::from_vec(py, sizes))?;
    d.set_item("method", a.method)?;
    d.set_item("total_cost", a.total_cost)?;
    let reports = PyList::empty(py);
    for t in a.targets {
        let r = PyDict::new(py);
        r.set_item("domain", t.domain)?;
        r.set_item("target", t.target)?;
        r.set_item("achieved", t.achieved)?;
        r.set_item("required", t.required)?;
        r.set_item("reached", t.reached)?;
        reports.append(r)?;
    }
    d.set_item("targets", reports)?;
    Ok(d)
}

// ---------------------------------------------------------------- aggregates and estimators

/// Mergeable per-(stratum, domain) sufficient statistics with design-based estimators.
///
/// Safe to share between threads: the state sits behind a mutex that is locked with the GIL
/// released; an update that fails validation changes nothing.
#[pyclass(frozen, module = "tierscope._core", name = "StatsAggregate")]
#[derive(Default)]
struct StatsAggregate {
    inner: Mutex<Aggregate>,
}

fn design_of(name: &str) -> crate::error::Result<Design> {
    Design::parse(name)
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
        let h = codes(py, "strata", &strata)?;
        let d = codes(py, "domains", &domains)?;
        detached(py, (&self.inner, owned(&y), owned(&pi), h, d), |(state, y, pi, h, d)| {
            // Built (and validated) without the lock, then added under it.
            let add = Aggregate::from_sample_par(&y, &pi, &h, &d)?;
            lock(state).merge(&add);
            Ok(())
        })
    }

    /// Count population units (one per entry) into (stratum, domain) cells.
    fn add_population(&self, py: Python<'_>, strata: I64Array<'_>, domains: I64Array<'_>) -> PyResult<()> {
        let h = codes(py, "population_strata", &strata)?;
        let d = codes(py, "population_domains", &domains)?;
        // Validated before anything is added.
        detached(py, (&self.inner, h, d), |(state, h, d)| lock(state).add_population(&h, &d))
    }

    /// Add `count` population units to cell (stratum, domain).
    fn add_population_count(&self, py: Python<'_>, stratum: u32, domain: u32, count: f64) -> PyResult<()> {
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
    fn from_json(py: Python<'_>, text: String) -> PyResult<Self> {
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Aggregate::from_json(&t))?) })
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        read(py, &self.inner, Aggregate::len)
    }

    /// Per-domain estimates (list of dicts).
    #[pyo3(signature = (design, level=0.95, domains=None))]
    fn estimate_domains<'py>(
        &self,
        py: Python<'py>,
        design: &str,
        level: f64,
        domains: Option<Vec<u32>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let inputs = (&self.inner, design.to_string(), domains);
        let est = detached(py, inputs, move |(state, design, domains)| {
            domain_estimates(&lock(state), design_of(&design)?, level, domains.as_deref())
        })?;
        let out = PyList::empty(py);
        for e in &est {
            out.append(estimate_dict(py, e)?)?;
        }
        Ok(out)
    }

    /// Estimate over all traffic.
    #[pyo3(signature = (design, level=0.95))]
    fn estimate_population<'py>(
        &self,
        py: Python<'py>,
        design: &str,
        level: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inputs = (&self.inner, design.to_string());
        let e = detached(py, inputs, move |(state, design)| {
            population_estimate(&lock(state), design_of(&design)?, level)
        })?;
        estimate_dict(py, &e)
    }

    /// Per-stratum estimates (the `domain` key holds the stratum code).
    #[pyo3(signature = (design, level=0.95))]
    fn estimate_strata<'py>(
        &self,
        py: Python<'py>,
        design: &str,
        level: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        let inputs = (&self.inner, design.to_string());
        let est = detached(py, inputs, move |(state, design)| {
            stratum_estimates(&lock(state), design_of(&design)?, level)
        })?;
        let out = PyList::empty(py);
        for e in &est {
            out.append(estimate_dict(py, e)?)?;
        }
        Ok(out)
    }

    /// Post-stratified mean with known post-stratum sizes [(domain, N_g)].
    #[pyo3(signature = (design, totals, level=0.95))]
    fn post_stratified<'py>(
        &self,
        py: Python<'py>,
        design: &str,
        totals: Vec<(u32, f64)>,
        level: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inputs = (&self.inner, design.to_string(), totals);
        let e = detached(py, inputs, move |(state, design, totals)| {
            post_stratified_estimate(&lock(state), design_of(&design)?, &totals, level)
        })?;
        estimate_dict(py, &e)
    }

    /// Design-based Wald interval for the gap between two domains' Hájek means.
    #[pyo3(signature = (design, domain_a, domain_b, level=0.95))]
    fn domain_gap<'py>(
        &self,
        py: Python<'py>,
        design: &str,
        domain_a: u32,
        domain_b: u32,
        level: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inputs = (&self.inner, design.to_string());
        let g = detached(py, inputs, move |(state, design)| {
            design_gap(&lock(state), design_of(&design)?, domain_a, domain_b, level)
        })?;
        let d = PyDict::new(py);
        d.set_item("estimate", g.estimate)?;
        d.set_item("se", g.se)?;
        d.set_item("lower", g.lower)?;
        d.set_item("upper", g.upper)?;
        d.set_item("level", g.level)?;
        d.set_item("defined", g.defined)?;
        d.set_item("reason", g.reason)?;
        Ok(d)
    }
}

// ---------------------------------------------------------------- gaps

/// Newcombe hybrid score interval for p_a − p_b (independent samples).
#[pyfunction]
#[pyo3(signature = (successes_a, n_a, successes_b, n_b, level=0.95))]
fn stats_newcombe_independent(
    py: Python<'_>,
    successes_a: f64,
    n_a: f64,
    successes_b: f64,
    n_b: f64,
    level: f64,
) -> PyResult<(f64, f64, f64, String)> {
    let iv = detached(py, (), move |_| newcombe_independent(successes_a, n_a, successes_b, n_b, level))?;
    Ok(interval_tuple(iv))
}

/// Paired binary comparison (Newcombe method 10, Wald, McNemar). Returns a dict.
#[pyfunction]
#[pyo3(signature = (a, b, level=0.95))]
fn stats_paired_binary<'py>(
    py: Python<'py>,
    a: F64Array<'py>,
    b: F64Array<'py>,
    level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let r = detached(py, (owned(&a), owned(&b)), move |(a, b)| paired_binary(&a, &b, level))?;
    let d = PyDict::new(py);
    d.set_item("n", r.n)?;
    d.set_item("both", r.both)?;
    d.set_item("a_only", r.a_only)?;
    d.set_item("b_only", r.b_only)?;
    d.set_item("neither", r.neither)?;
    d.set_item("newcombe", interval_tuple(r.newcombe))?;
    d.set_item("wald", interval_tuple(r.wald))?;
    d.set_item("mcnemar_exact_p", r.mcnemar_exact_p)?;
    d.set_item("mcnemar_midp", r.mcnemar_midp)?;
    Ok(d)
}

/// Wald interval on paired differences a − b.
#[pyfunction]
#[pyo3(signature = (a, b, level=0.95))]
fn stats_paired_wald(
    py: Python<'_>,
    a: F64Array<'_>,
    b: F64Array<'_>,
    level: f64,
) -> PyResult<(f64, f64, f64, String)> {
    let iv = detached(py, (owned(&a), owned(&b)), move |(a, b)| paired_wald(&a, &b, level))?;
    Ok(interval_tuple(iv))
}

/// McNemar exact and mid-p two-sided p-values for discordant counts.
#[pyfunction]
fn stats_mcnemar(py: Python<'_>, b: u64, c: u64) -> PyResult<(f64, f64)> {
    detached(py, (), move |_| Ok(mcnemar(b, c)))
}

// ---------------------------------------------------------------- sequential

/// Anytime-valid monitor for one tier or paired gap (thread-safe like [`StatsAggregate`]).
#[pyclass(frozen, module = "tierscope._core", name = "StatsMonitor")]
struct StatsMonitor {
    inner: Mutex<Monitor>,
}

#[pymethods]
impl StatsMonitor {
    #[new]
    #[pyo3(signature = (baseline, tolerance, alpha=0.05, lo=0.0, hi=1.0, max_weight=1.0, restart_every=7, arl=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        baseline: f64,
        tolerance: f64,
        alpha: f64,
        lo: f64,
        hi: f64,
        max_weight: f64,
        restart_every: u32,
        arl: Option<f64>,
    ) -> PyResult<Self> {
        let method = alarm_method(arl);
        let config = MonitorConfig { baseline, tolerance, alpha, lo, hi, max_weight, restart_every, method };
        Ok(Self { inner: Mutex::new(detached(py, config, Monitor::new)?) })
    }

    /// Absorb one day's reviews; returns the day's status dict.
    #[pyo3(signature = (y, pi=None, population=None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        y: F64Array<'py>,
        pi: Option<F64Array<'py>>,
        population: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inputs = (&self.inner, owned(&y), pi.as_ref().map(owned));
        // Monitor::update validates the day before it changes anything.
        let status =
            detached(py, inputs, move |(state, y, pi)| lock(state).update(&y, pi.as_deref(), population))?;
        day_dict(py, &status)
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
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        // Copied under the lock, converted after it is released.
        let history = read(py, &self.inner, |m| m.history.clone());
        let out = PyList::empty(py);
        for s in &history {
            out.append(day_dict(py, s)?)?;
        }
        Ok(out)
    }

    /// JSON state.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, &self.inner, |state| lock(state).to_json())
    }

    /// Restore from JSON state.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: String) -> PyResult<Self> {
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Monitor::from_json(&t))?) })
    }
}

/// One-sided (downward) CUSUM chart (thread-safe like [`StatsAggregate`]).
#[pyclass(frozen, module = "tierscope._core", name = "StatsCusum")]
struct StatsCusum {
    inner: Mutex<Cusum>,
}

#[pymethods]
impl StatsCusum {
    /// Bernoulli CUSUM from p0 to p1 < p0 with threshold h.
    #[staticmethod]
    fn bernoulli(py: Python<'_>, p0: f64, p1: f64, threshold: f64) -> PyResult<Self> {
        let c = detached(py, (), move |_| Cusum::new(CusumKind::Bernoulli { p0, p1 }, threshold))?;
        Ok(Self { inner: Mutex::new(c) })
    }

    /// Normal CUSUM for a downward shift of `shift` SDs.
    #[staticmethod]
    fn normal(py: Python<'_>, mean0: f64, sd: f64, shift: f64, threshold: f64) -> PyResult<Self> {
        let c = detached(py, (), move |_| Cusum::new(CusumKind::Normal { mean0, sd, shift }, threshold))?;
        Ok(Self { inner: Mutex::new(c) })
    }

    /// Absorb one day's observations; returns whether the chart has signalled.
    fn update(&self, py: Python<'_>, x: F64Array<'_>) -> PyResult<bool> {
        // Cusum::update validates the day before it changes anything.
        detached(py, (&self.inner, owned(&x)), |(state, x)| lock(state).update(&x))
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
    fn from_json(py: Python<'_>, text: String) -> PyResult<Self> {
        Ok(Self { inner: Mutex::new(detached(py, text, |t| Cusum::from_json(&t))?) })
    }
}

/// `arl` given: the e-detector alarm; None: restarted confidence sequences.
fn alarm_method(arl: Option<f64>) -> AlarmMethod {
    arl.map_or(AlarmMethod::ConfidenceSequence, |arl| AlarmMethod::EDetector { arl })
}

/// Simulated alarm days of Bernoulli monitors (None = no alarm).
#[pyfunction]
#[pyo3(signature = (baseline, tolerance, alpha, restart_every, days, reviews_per_day, p_before, p_after, change_day, runs, seed=0, threads=0, arl=None))]
#[allow(clippy::too_many_arguments)]
fn stats_simulate_monitor(
    py: Python<'_>,
    baseline: f64,
    tolerance: f64,
    alpha: f64,
    restart_every: u32,
    days: u32,
    reviews_per_day: usize,
    p_before: f64,
    p_after: f64,
    change_day: u32,
    runs: usize,
    seed: u64,
    threads: usize,
    arl: Option<f64>,
) -> PyResult<Vec<Option<u32>>> {
    let method = alarm_method(arl);
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
#[pyo3(signature = (y, strata, domains, design, sizes=None, pi=None, runs=2000, level=0.95, seed=0, threads=0))]
#[allow(clippy::too_many_arguments)]
fn stats_simulate_coverage<'py>(
    py: Python<'py>,
    y: F64Array<'py>,
    strata: I64Array<'py>,
    domains: I64Array<'py>,
    design: &str,
    sizes: Option<Vec<usize>>,
    pi: Option<F64Array<'py>>,
    runs: usize,
    level: f64,
    seed: u64,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let h = codes(py, "strata", &strata)?;
    let d = codes(py, "domains", &domains)?;
    let sim = match (design_of(design), sizes, pi) {
        (Ok(Design::StratifiedSrswor), Some(s), _) => SimDesign::Stratified(s),
        (Ok(Design::Poisson), _, Some(p)) => SimDesign::Poisson(owned(&p)),
        (Ok(Design::StratifiedSrswor), None, _) => {
            return Err(invalid(py, "sizes", "per-stratum sample sizes for design 'srswor'"))
        }
        (Ok(Design::Poisson), _, None) => {
            return Err(invalid(py, "pi", "per-unit inclusion probabilities for design 'poisson'"))
        }
        (Err(e), _, _) => return Err(super::errors::to_py(py, e)),
    };
    let r = detached(py, (owned(&y), h, d, sim), move |(y, h, d, sim)| {
        coverage(&y, &h, &d, &sim, runs, level, seed, threads)
    })?;
    let out = PyDict::new(py);
    out.set_item("targets", r.targets)?;
    out.set_item("truth", r.truth)?;
    out.set_item("defined", r.defined)?;
    out.set_item("covered", r.covered)?;
    out.set_item("covered_wald", r.covered_wald)?;
    out.set_item("mean_width", r.mean_width)?;
    out.set_item("runs", r.runs)?;
    Ok(out)
}

// ---------------------------------------------------------------- drift

/// Population stability index between two histograms.
#[pyfunction]
#[pyo3(signature = (expected, actual, eps=1e-4))]
fn stats_psi(py: Python<'_>, expected: F64Array<'_>, actual: F64Array<'_>, eps: f64) -> PyResult<f64> {
    detached(py, (owned(&expected), owned(&actual)), move |(e, a)| psi(&e, &a, eps))
}

/// PSI between two samples, bins at reference quantiles.
#[pyfunction]
#[pyo3(signature = (reference, production, bins=10, eps=1e-4))]
fn stats_psi_samples(
    py: Python<'_>,
    reference: F64Array<'_>,
    production: F64Array<'_>,
    bins: usize,
    eps: f64,
) -> PyResult<f64> {
    detached(py, (owned(&reference), owned(&production)), move |(r, p)| psi_samples(&r, &p, bins, eps))
}

/// Two-sided two-sample KS test: (statistic, pvalue, method).
#[pyfunction]
#[pyo3(signature = (x, y, method="auto"))]
fn stats_ks_2samp(
    py: Python<'_>,
    x: F64Array<'_>,
    y: F64Array<'_>,
    method: &str,
) -> PyResult<(f64, f64, String)> {
    let r = detached(py, (owned(&x), owned(&y), method.to_string()), |(x, y, m)| {
        ks_2samp(&x, &y, KsMethod::parse(&m)?)
    })?;
    Ok((r.statistic, r.pvalue, r.method))
}

/// Survival function of the one-sample two-sided Kolmogorov statistic (scipy `kstwo.sf`).
#[pyfunction]
fn stats_kolmogorov_sf(py: Python<'_>, n: u64, x: f64) -> PyResult<f64> {
    detached(py, (), move |_| Ok(kolmogorov_sf(n, x)))
}

/// KS per group code: {group: (statistic, pvalue, method, n1, n2) or None}.
#[pyfunction]
#[pyo3(signature = (reference, reference_groups, production, production_groups, method="auto"))]
#[allow(clippy::type_complexity)]
fn stats_ks_by_group(
    py: Python<'_>,
    reference: F64Array<'_>,
    reference_groups: I64Array<'_>,
    production: F64Array<'_>,
    production_groups: I64Array<'_>,
    method: &str,
) -> PyResult<Vec<(u32, Option<(f64, f64, String, u64, u64)>)>> {
    let rg = codes(py, "reference_groups", &reference_groups)?;
    let pg = codes(py, "production_groups", &production_groups)?;
    let inputs = (owned(&reference), rg, owned(&production), pg, method.to_string());
    let r = detached(py, inputs, |(r, rg, p, pg, m)| ks_by_group(&r, &rg, &p, &pg, KsMethod::parse(&m)?))?;
    Ok(r.into_iter().map(|(k, v)| (k, v.map(|x| (x.statistic, x.pvalue, x.method, x.n1, x.n2)))).collect())
}

/// KS, PSI and JS per group code: [(group, (statistic, pvalue, method, psi, js) or None)].
#[pyfunction]
#[pyo3(signature = (reference, reference_groups, production, production_groups, bins=10, eps=1e-4, base=None, method="auto"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn stats_drift_by_group(
    py: Python<'_>,
    reference: F64Array<'_>,
    reference_groups: I64Array<'_>,
    production: F64Array<'_>,
    production_groups: I64Array<'_>,
    bins: usize,
    eps: f64,
    base: Option<f64>,
    method: &str,
) -> PyResult<Vec<(u32, Option<(f64, f64, String, f64, f64)>)>> {
    let rg = codes(py, "reference_groups", &reference_groups)?;
    let pg = codes(py, "production_groups", &production_groups)?;
    let inputs = (owned(&reference), rg, owned(&production), pg, method.to_string());
    let r = detached(py, inputs, move |(r, rg, p, pg, m)| {
        drift_by_group(&r, &rg, &p, &pg, bins, eps, base, KsMethod::parse(&m)?)
    })?;
    Ok(r.into_iter()
        .map(|(k, v)| (k, v.map(|d| (d.ks.statistic, d.ks.pvalue, d.ks.method, d.psi, d.js))))
        .collect())
}

/// Jensen–Shannon distance between two histograms.
#[pyfunction]
#[pyo3(signature = (p, q, base=None))]
fn stats_jensen_shannon(
    py: Python<'_>,
    p: F64Array<'_>,
    q: F64Array<'_>,
    base: Option<f64>,
) -> PyResult<f64> {
    detached(py, (owned(&p), owned(&q)), move |(p, q)| jensen_shannon(&p, &q, base))
}

// ---------------------------------------------------------------- planning

fn plan_dict<'py>(py: Python<'py>, p: crate::stats::planning::ReviewPlan) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("per_day", p.per_day)?;
    d.set_item("total", p.total)?;
    d.set_item("power", p.power)?;
    d.set_item("method", p.method)?;
    Ok(d)
}

/// Fixed-sample review plan (closed form).
#[pyfunction]
#[pyo3(signature = (p0, delta, days, alpha=0.05, power=0.8))]
fn stats_fixed_sample_plan<'py>(
    py: Python<'py>,
    p0: f64,
    delta: f64,
    days: u32,
    alpha: f64,
    power: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let p = detached(py, (), move |_| fixed_sample_plan(p0, delta, days, alpha, power))?;
    plan_dict(py, p)
}

/// Sequential review plan (seeded simulation, bisection on the daily count).
#[pyfunction]
#[pyo3(signature = (p0, delta, days, alpha=0.05, power=0.8, tolerance=None, restart_every=7, sims=400, seed=0, threads=0, max_per_day=2000))]
#[allow(clippy::too_many_arguments)]
fn stats_sequential_plan<'py>(
    py: Python<'py>,
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
) -> PyResult<Bound<'py, PyDict>> {
    let opts = SequentialPlanOptions {
        tolerance: tolerance.unwrap_or(0.0),
        restart_every,
        sims,
        seed,
        threads,
        max_per_day,
    };
    let p = detached(py, opts, move |o| sequential_plan(p0, delta, days, alpha, power, &o))?;
    plan_dict(py, p)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stats_beta_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_t_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_norm_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_proportion_intervals, m)?)?;
    m.add_function(wrap_pyfunction!(stats_t_interval, m)?)?;
    m.add_function(wrap_pyfunction!(stats_bootstrap_interval, m)?)?;
    m.add_function(wrap_pyfunction!(stats_stratified_srswor, m)?)?;
    m.add_function(wrap_pyfunction!(stats_poisson_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(stats_poisson_sample, m)?)?;
    m.add_function(wrap_pyfunction!(stats_allocate, m)?)?;
    m.add_class::<StatsAggregate>()?;
    m.add_function(wrap_pyfunction!(stats_newcombe_independent, m)?)?;
    m.add_function(wrap_pyfunction!(stats_paired_binary, m)?)?;
    m.add_function(wrap_pyfunction!(stats_paired_wald, m)?)?;
    m.add_function(wrap_pyfunction!(stats_mcnemar, m)?)?;
    m.add_class::<StatsMonitor>()?;
    m.add_class::<StatsCusum>()?;
    m.add_function(wrap_pyfunction!(stats_simulate_monitor, m)?)?;
    m.add_function(wrap_pyfunction!(stats_simulate_coverage, m)?)?;
    m.add_function(wrap_pyfunction!(stats_psi, m)?)?;
    m.add_function(wrap_pyfunction!(stats_psi_samples, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ks_2samp, m)?)?;
    m.add_function(wrap_pyfunction!(stats_kolmogorov_sf, m)?)?;
    m.add_function(wrap_pyfunction!(stats_ks_by_group, m)?)?;
    m.add_function(wrap_pyfunction!(stats_jensen_shannon, m)?)?;
    m.add_function(wrap_pyfunction!(stats_drift_by_group, m)?)?;
    m.add_function(wrap_pyfunction!(stats_fixed_sample_plan, m)?)?;
    m.add_function(wrap_pyfunction!(stats_sequential_plan, m)?)?;
    Ok(())
}
