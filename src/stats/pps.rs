//! Fixed-size πps without-replacement designs: Horvitz–Thompson totals and Hájek means with
//! Brewer's approximation to the variance, as R `survey`'s `svydesign(ids = ~1, strata = ~h,
//! fpc = ~pi, pps = "brewer")`.
//!
//! For a sample of fixed size n_h drawn with inclusion probabilities π_i (Σπ_i = n_h) in stratum
//! h, the Poisson formula Σ (1 − π)/π² z² ignores that the sample size is fixed and overstates
//! the variance. Brewer's approximation (Brewer 2002, eq. 9.10, with R's plain centring) is
//!
//!   v̂_h = n_h/(n_h − 1) Σ_i (1 − π_i) (x_i − x̄_h)²,   x_i = z_i/π_i,   x̄_h = Σ_i x_i / n_h,
//!
//! with z_i the unit's linearised value (y_i for a total, (y_i − m)/N̂ for a Hájek mean, 0 outside
//! the domain). A stratum with one sampled unit is lonely ([`Lonely`]); its "adjust" term is
//! (1 − π) x². A stratum with every π = 1 contributes zero. As in R, every stratum of the
//! design enters a domain's variance (for the "average" rule's count, and as lonely or not),
//! also strata without units in the domain.
//!
//! The estimator needs Σπ_i per stratum, which [`super::aggregate::Aggregate`]'s cells do not
//! keep (they keep Σ1/π, Σ(1 − π)/π², ...), so it runs on the unit-level sample.

use super::aggregate::Aggregate;
use super::estimators::{combine_strata, estimates_with_variance, Coef, DomainEstimate, Lonely, StratumTerm};
use crate::error::{Result, TierscopeError};

/// Estimates from a fixed-size πps sample: all traffic, per domain, per stratum.
#[derive(Clone, Debug, PartialEq)]
pub struct PpsEstimates {
    /// Estimate over all traffic.
    pub population: DomainEstimate,
    /// Per-domain estimates (requested domains without sampled units are undefined).
    pub domains: Vec<DomainEstimate>,
    /// Per-stratum estimates (`domain` holds the stratum code).
    pub strata: Vec<DomainEstimate>,
    /// Codes of the lonely strata (one sampled unit, π < 1), sorted.
    pub lonely_strata: Vec<u32>,
}

/// Brewer's variance of the linear statistic with coefficients `coef` (by the unit's domain in
/// `domains`) over strata `strata`.
fn brewer_variance(
    y: &[f64],
    pi: &[f64],
    strata: &[u32],
    domains: &[u32],
    coef: &Coef,
    lonely: Lonely,
) -> Result<f64> {
    use std::collections::BTreeMap;
    // Per stratum: units, Σ(1 − π)x², Σ(1 − π)x, Σ(1 − π), Σx, max(1 − π).
    #[derive(Default)]
    struct S {
        n: u64,
        cx2: f64,
        cx: f64,
        c: f64,
        x: f64,
        cmax: f64,
    }
    let mut per: BTreeMap<u32, S> = BTreeMap::new();
    for i in 0..y.len() {
        let x = coef.get(&domains[i]).map_or(0.0, |&(a, m)| a * (y[i] - m) / pi[i]);
        let c = 1.0 - pi[i];
        let e = per.entry(strata[i]).or_default();
        e.n += 1;
        e.cx2 += c * x * x;
        e.cx += c * x;
        e.c += c;
        e.x += x;
        e.cmax = e.cmax.max(c);
    }
    let mut terms = Vec::with_capacity(per.len());
    // Every stratum of the design enters, also those without units in the domains (R keeps the
    // whole pps design when it takes a domain, so "average" counts all strata and a lonely
    // stratum outside the domain still counts as lonely; for SRSWOR R drops them, see
    // `estimators::lin_variance`).
    for (h, s) in per {
        if s.cmax < 1e-7 {
            // Every unit sampled with certainty (R: all(f < 1e-7)).
            terms.push(StratumTerm { stratum: h, variance: 0.0, lonely: false });
        } else if s.n == 1 {
            terms.push(StratumTerm { stratum: h, variance: s.cx2, lonely: true });
        } else {
            let nf = s.n as f64;
            let xbar = s.x / nf;
            let ss = (s.cx2 - 2.0 * xbar * s.cx + xbar * xbar * s.c).max(0.0);
            terms.push(StratumTerm { stratum: h, variance: nf / (nf - 1.0) * ss, lonely: false });
        }
    }
    combine_strata(&terms, lonely)
}

/// Design-based estimates from a fixed-size πps without-replacement sample (stratified), with
/// Brewer's variance approximation: scores `y`, inclusion probabilities `pi` (in (0, 1], summing
/// to the stratum's sample size), stratum and domain codes per unit. `stratum_sizes` gives known
/// population sizes N_h (for the HT means; N̂ = Σ1/π is used for the Hájek means regardless);
/// `wanted` lists the domains to report (`None`: those sampled). Lonely strata as `lonely` says.
#[allow(clippy::too_many_arguments)]
pub fn brewer_estimates(
    y: &[f64],
    pi: &[f64],
    strata: &[u32],
    domains: &[u32],
    stratum_sizes: &[(u32, f64)],
    wanted: Option<&[u32]>,
    lonely: Lonely,
    level: f64,
) -> Result<PpsEstimates> {
    let mut agg = Aggregate::from_sample(y, pi, strata, domains)?;
    let spare = domains.iter().copied().max().map_or(Some(0), |d| d.checked_add(1));
    if !stratum_sizes.is_empty() {
        let Some(spare) = spare else {
            return Err(TierscopeError::invalid(
                "domains",
                "domain codes below 4294967295 when stratum sizes are given",
            ));
        };
        for (i, &(h, size)) in stratum_sizes.iter().enumerate() {
            agg.add_population_count(h, spare, size).map_err(|_| {
                TierscopeError::invalid(
                    format!("stratum_sizes[{i}]"),
                    format!("a non-negative, finite population size, got {size}"),
                )
            })?;
        }
    }
    let by_domain = |c: &Coef| brewer_variance(y, pi, strata, domains, c, lonely);
    let (population, per_domain) = estimates_with_variance(&agg, &by_domain, wanted, level)?;
    let by_stratum = |c: &Coef| brewer_variance(y, pi, strata, strata, c, lonely);
    let (_, per_stratum) = estimates_with_variance(&agg.rekey_domains(|h, _| h), &by_stratum, None, level)?;
    let mut lonely_strata: Vec<u32> = Vec::new();
    let mut count: std::collections::BTreeMap<u32, (u64, bool)> = std::collections::BTreeMap::new();
    for (&h, &p) in strata.iter().zip(pi) {
        let e = count.entry(h).or_default();
        e.0 += 1;
        e.1 |= 1.0 - p >= 1e-7;
    }
    lonely_strata
        .extend(count.into_iter().filter(|&(_, (n, uncertain))| n == 1 && uncertain).map(|(h, _)| h));
    Ok(PpsEstimates { population, domains: per_domain, strata: per_stratum, lonely_strata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brewer_matches_the_formula_by_hand() {
        // One stratum, n = 3, π summing to 3 over a larger population.
        let (y, pi) = ([2.0, 5.0, 1.5], [0.2, 0.5, 0.1]);
        let e = brewer_estimates(&y, &pi, &[0; 3], &[0; 3], &[], None, Lonely::Fail, 0.95).unwrap();
        let x: Vec<f64> = y.iter().zip(&pi).map(|(a, b)| a / b).collect();
        let xbar = x.iter().sum::<f64>() / 3.0;
        let v: f64 = 1.5 * x.iter().zip(&pi).map(|(xi, p)| (1.0 - p) * (xi - xbar).powi(2)).sum::<f64>();
        assert!((e.population.total - x.iter().sum::<f64>()).abs() < 1e-12);
        assert!(v > 1.0 && (e.population.total_se - v.sqrt()).abs() < 1e-9 * v.sqrt());
        assert!(e.lonely_strata.is_empty());
    }

    #[test]
    fn lonely_options_follow_r() {
        let y = [1.0, 3.0, 4.0, 2.0];
        let pi = [0.5, 0.25, 0.5, 0.4];
        let (h, d) = ([0, 0, 1, 2], [0, 1, 0, 1]);
        let est = |l| brewer_estimates(&y, &pi, &h, &d, &[], None, l, 0.95);
        let err = est(Lonely::Fail).unwrap_err().to_string();
        assert!(err.contains("stratum 1"), "{err}");
        let cert = est(Lonely::Certainty).unwrap();
        assert_eq!(cert.lonely_strata, vec![1, 2]);
        let removed = est(Lonely::Remove).unwrap().population;
        assert_eq!((cert.population.total_se, cert.population.se), (removed.total_se, removed.se));
        let adj = est(Lonely::Adjust).unwrap().population;
        let extra = 0.5 * 8.0f64.powi(2) + 0.6 * 5.0f64.powi(2);
        assert!((adj.total_se.powi(2) - cert.population.total_se.powi(2) - extra).abs() < 1e-9);
        let avg = est(Lonely::Average).unwrap().population;
        assert!((avg.total_se.powi(2) - 3.0 * cert.population.total_se.powi(2)).abs() < 1e-9);
    }

    #[test]
    fn certainty_stratum_is_not_lonely() {
        let e = brewer_estimates(
            &[1.0, 2.0, 3.0],
            &[1.0, 0.5, 0.5],
            &[0, 1, 1],
            &[0; 3],
            &[],
            None,
            Lonely::Fail,
            0.9,
        )
        .unwrap();
        assert!(e.lonely_strata.is_empty());
    }
}
