//! Seeded Monte-Carlo loops used to check the statistics (interval coverage under stratified
//! and Poisson designs, monitor false-alarm rate and detection delay) and to plan review volumes.
//! They run in Rust, in parallel on [`crate::pool`]'s pools (`threads`, 0 = the available cores),
//! with one random stream per run so results do not depend on the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::aggregate::Aggregate;
use super::design::{poisson_sample, stratified_srswor};
use super::estimators::{domain_estimates, population_estimate, Design};
use super::intervals::SurveyMethod;
use super::rng::Xoshiro256;
use super::sequential::{Monitor, MonitorConfig};
use super::{check_finite, check_level, check_same_len};
use crate::error::{Result, TierscopeError};

/// Coverage of the Hájek-mean Wald intervals over repeated samples of a fixed population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Target labels: `None` = all traffic, then each domain code.
    pub targets: Vec<Option<u32>>,
    /// True (population) mean of each target.
    pub truth: Vec<f64>,
    /// Runs where the target's estimate was defined.
    pub defined: Vec<u64>,
    /// Runs where the headline interval covered the truth.
    pub covered: Vec<u64>,
    /// Runs where the plain Wald interval covered the truth.
    pub covered_wald: Vec<u64>,
    /// Mean interval width over defined runs.
    pub mean_width: Vec<f64>,
    /// Number of simulated audits.
    pub runs: u64,
}

/// Which design to simulate. The Poisson probabilities are borrowed: they are population-sized.
#[derive(Clone, Debug)]
pub enum SimDesign<'a> {
    /// Stratified SRSWOR with these per-stratum sample sizes.
    Stratified(Vec<usize>),
    /// Poisson sampling with these per-unit inclusion probabilities.
    Poisson(&'a [f64]),
}

impl<'a> SimDesign<'a> {
    /// The simulated design for `design`, with what it needs: per-stratum `sizes` for stratified
    /// SRSWOR, per-unit `pi` for Poisson sampling (the other one is ignored).
    pub fn new(design: Design, sizes: Option<Vec<usize>>, pi: Option<&'a [f64]>) -> Result<Self> {
        match (design, sizes, pi) {
            (Design::StratifiedSrswor, Some(sizes), _) => Ok(Self::Stratified(sizes)),
            (Design::StratifiedSrswor, None, _) => {
                Err(TierscopeError::invalid("sizes", "per-stratum sample sizes for design 'srswor'"))
            }
            (Design::Poisson, _, Some(pi)) => Ok(Self::Poisson(pi)),
            (Design::Poisson, _, None) => {
                Err(TierscopeError::invalid("pi", "per-unit inclusion probabilities for design 'poisson'"))
            }
        }
    }
}

/// Draw `runs` samples of the population (`y`, `strata`, `domains`) under `design`, estimate
/// every domain and the whole population, and count how often the intervals (headline interval
/// of `method` for scores in [0, 1]) cover the truth.
#[allow(clippy::too_many_arguments)]
pub fn coverage(
    y: &[f64],
    strata: &[u32],
    domains: &[u32],
    design: &SimDesign<'_>,
    runs: usize,
    level: f64,
    seed: u64,
    threads: usize,
    method: SurveyMethod,
) -> Result<CoverageReport> {
    check_finite("y", y)?;
    check_same_len("strata", strata.len(), "y", y.len())?;
    check_same_len("domains", domains.len(), "y", y.len())?;
    check_level(level)?;
    if runs == 0 {
        return Err(TierscopeError::invalid("runs", "at least one run"));
    }
    let mut population = Aggregate::new();
    population.add_population(strata, domains)?;
    let mut dom_codes: Vec<u32> = domains.to_vec();
    dom_codes.sort_unstable();
    dom_codes.dedup();
    let mut truth = vec![y.iter().sum::<f64>() / y.len() as f64];
    for &d in &dom_codes {
        let (s, c) = y
            .iter()
            .zip(domains)
            .filter(|(_, dd)| **dd == d)
            .fold((0.0, 0.0), |acc, (v, _)| (acc.0 + v, acc.1 + 1.0));
        truth.push(s / c);
    }
    let est_design = match design {
        SimDesign::Stratified(sizes) => {
            // Validate once (a bad size is an input error, not a per-run failure).
            stratified_srswor(strata, sizes, seed)?;
            Design::StratifiedSrswor
        }
        SimDesign::Poisson(pi) => {
            check_same_len("pi", pi.len(), "y", y.len())?;
            poisson_sample(pi, seed)?;
            Design::Poisson
        }
    };
    let k = dom_codes.len() + 1;
    let per_run: Vec<Vec<(bool, bool, bool, f64)>> = crate::pool::install(threads, || {
        (0..runs)
            .into_par_iter()
            .map(|r| {
                let run_seed = Xoshiro256::new(seed, r as u64).bits();
                let sample = match design {
                    SimDesign::Stratified(sizes) => stratified_srswor(strata, sizes, run_seed),
                    SimDesign::Poisson(pi) => poisson_sample(pi, run_seed),
                };
                let Ok(sample) = sample else { return vec![(false, false, false, f64::NAN); k] };
                let ys: Vec<f64> = sample.indices.iter().map(|&i| y[i]).collect();
                let hs: Vec<u32> = sample.indices.iter().map(|&i| strata[i]).collect();
                let ds: Vec<u32> = sample.indices.iter().map(|&i| domains[i]).collect();
                let mut agg = population.clone();
                if agg.add_sample(&ys, &sample.pi, &hs, &ds).is_err() {
                    return vec![(false, false, false, f64::NAN); k];
                }
                let mut ests = Vec::with_capacity(k);
                if let Ok(p) = population_estimate(&agg, est_design, level) {
                    ests.push(p);
                }
                if let Ok(d) = domain_estimates(&agg, est_design, level, Some(&dom_codes)) {
                    ests.extend(d);
                }
                ests.iter()
                    .enumerate()
                    .map(|(t, e)| {
                        let e = match e.with_interval(method) {
                            Ok(e) => e,
                            Err(_) => return (false, false, false, f64::NAN),
                        };
                        if e.defined {
                            let c = e.lower <= truth[t] && truth[t] <= e.upper;
                            let cw = e.wald_lower <= truth[t] && truth[t] <= e.wald_upper;
                            (true, c, cw, e.upper - e.lower)
                        } else {
                            (false, false, false, f64::NAN)
                        }
                    })
                    .collect()
            })
            .collect()
    })?;
    let mut defined = vec![0u64; k];
    let mut covered = vec![0u64; k];
    let mut covered_wald = vec![0u64; k];
    let mut width = vec![0.0; k];
    for run in &per_run {
        for (t, &(d, c, cw, w)) in run.iter().enumerate() {
            if cw {
                covered_wald[t] += 1;
            }
            if d {
                defined[t] += 1;
                width[t] += w;
            }
            if c {
                covered[t] += 1;
            }
        }
    }
    let mean_width =
        width.iter().zip(&defined).map(|(w, d)| if *d > 0 { w / *d as f64 } else { f64::NAN }).collect();
    let mut targets = vec![None];
    targets.extend(dom_codes.iter().map(|d| Some(*d)));
    Ok(CoverageReport { targets, truth, defined, covered, covered_wald, mean_width, runs: runs as u64 })
}

/// Simulate `runs` monitors over `days` days with `reviews_per_day` Bernoulli reviews a day, the
/// success rate `p_before` until day `change_day − 1` and `p_after` from `change_day` on
/// (`change_day = 0`: no change). Returns each run's alarm day.
#[allow(clippy::too_many_arguments)]
pub fn monitor_runs(
    config: &MonitorConfig,
    days: u32,
    reviews_per_day: usize,
    p_before: f64,
    p_after: f64,
    change_day: u32,
    runs: usize,
    seed: u64,
    threads: usize,
) -> Result<Vec<Option<u32>>> {
    config.validate()?;
    for (name, p) in [("p_before", p_before), ("p_after", p_after)] {
        if !(0.0..=1.0).contains(&p) {
            return Err(TierscopeError::invalid(name, format!("a probability in [0, 1], got {p}")));
        }
    }
    if config.lo != 0.0 || config.hi != 1.0 || config.max_weight != 1.0 {
        return Err(TierscopeError::invalid(
            "config",
            "a [0, 1], unweighted monitor for Bernoulli simulation",
        ));
    }
    if reviews_per_day == 0 || days == 0 {
        return Err(TierscopeError::invalid("reviews_per_day", "at least one review on at least one day"));
    }
    crate::pool::install(threads, || {
        (0..runs)
            .into_par_iter()
            .map(|r| {
                let mut rng = Xoshiro256::new(seed, r as u64);
                let Ok(mut m) = Monitor::new(config.clone()) else { return None };
                let mut buf = vec![0.0; reviews_per_day];
                for day in 1..=days {
                    let p = if change_day > 0 && day >= change_day { p_after } else { p_before };
                    for v in buf.iter_mut() {
                        *v = if rng.uniform() < p { 1.0 } else { 0.0 };
                    }
                    if m.update(&buf, None, None).is_err() {
                        return None;
                    }
                    if m.alarm_day.is_some() {
                        break;
                    }
                }
                m.alarm_day
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_design_needs_its_own_parameters() {
        let pi = [0.5, 0.5];
        assert!(matches!(
            SimDesign::new(Design::StratifiedSrswor, Some(vec![1]), None),
            Ok(SimDesign::Stratified(s)) if s == vec![1]
        ));
        assert!(
            matches!(SimDesign::new(Design::Poisson, None, Some(&pi)), Ok(SimDesign::Poisson(p)) if p == pi)
        );
        let err = SimDesign::new(Design::StratifiedSrswor, None, Some(&pi)).unwrap_err();
        assert_eq!(err.to_string(), "invalid `sizes`: per-stratum sample sizes for design 'srswor'");
        let err = SimDesign::new(Design::Poisson, Some(vec![1]), None).unwrap_err();
        assert_eq!(err.to_string(), "invalid `pi`: per-unit inclusion probabilities for design 'poisson'");
    }
}
