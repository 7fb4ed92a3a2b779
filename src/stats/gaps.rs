//! Quality gaps between tiers: independent samples (Newcombe hybrid score; design-based Wald on
//! Hájek domain means) and paired shadow comparisons (Newcombe's paired method 10, Wald on
//! differences, McNemar discordance with exact and mid-p p-values).

use serde::{Deserialize, Serialize};

use super::aggregate::Aggregate;
use super::estimators::{domain_difference_with, Design, Lonely};
use super::intervals::{wilson, Interval};
use super::special::{binom_cdf, binom_pmf, norm_ppf};
use super::{check_finite, check_level, check_same_len};
use crate::error::{Result, TierscopeError};

/// Newcombe's hybrid score interval for p1 − p2 from independent binomial samples (statsmodels
/// `confint_proportions_2indep(..., method="newcomb")`).
pub fn newcombe_independent(x1: f64, n1: f64, x2: f64, n2: f64, level: f64) -> Result<Interval> {
    let a = wilson(x1, n1, level).map_err(|e| rename(e, "successes_a", "n_a"))?;
    let b = wilson(x2, n2, level).map_err(|e| rename(e, "successes_b", "n_b"))?;
    let (p1, p2) = (x1 / n1, x2 / n2);
    let diff = p1 - p2;
    let d_low = ((p1 - a.lower).powi(2) + (b.upper - p2).powi(2)).sqrt();
    let d_upp = ((p2 - b.lower).powi(2) + (a.upper - p1).powi(2)).sqrt();
    Ok(Interval {
        lower: diff - d_low,
        upper: diff + d_upp,
        estimate: diff,
        method: "newcombe".into(),
        level,
    })
}

fn rename(e: TierscopeError, succ: &str, n: &str) -> TierscopeError {
    match e {
        TierscopeError::InvalidInput { argument, expected } => {
            let argument = match argument.as_str() {
                "successes" => succ.to_string(),
                "n" => n.to_string(),
                _ => argument,
            };
            TierscopeError::InvalidInput { argument, expected }
        }
        other => other,
    }
}

/// A design-based gap between two domains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainGap {
    /// m_a − m_b (Hájek means).
    pub estimate: f64,
    /// Linearised standard error (covariance through shared strata included).
    pub se: f64,
    /// Lower Wald bound.
    pub lower: f64,
    /// Upper Wald bound.
    pub upper: f64,
    /// Confidence level.
    pub level: f64,
    /// False when a domain has no sampled units.
    pub defined: bool,
    /// Why undefined.
    pub reason: Option<String>,
}

/// Design-based Wald interval for the difference of two domains' Hájek means. Lonely strata
/// (one sampled unit) contribute zero variance ([`Lonely::Certainty`]); see [`design_gap_with`].
pub fn design_gap(
    agg: &Aggregate,
    design: Design,
    domain_a: u32,
    domain_b: u32,
    level: f64,
) -> Result<DomainGap> {
    design_gap_with(agg, design, domain_a, domain_b, level, Lonely::Certainty)
}

/// [`design_gap`] with lonely strata handled as `lonely` says.
pub fn design_gap_with(
    agg: &Aggregate,
    design: Design,
    domain_a: u32,
    domain_b: u32,
    level: f64,
    lonely: Lonely,
) -> Result<DomainGap> {
    check_level(level)?;
    match domain_difference_with(agg, design, domain_a, domain_b, lonely)? {
        Some((d, se)) => {
            let z = norm_ppf(1.0 - (1.0 - level) / 2.0);
            Ok(DomainGap {
                estimate: d,
                se,
                lower: d - z * se,
                upper: d + z * se,
                level,
                defined: true,
                reason: None,
            })
        }
        None => Ok(DomainGap {
            estimate: f64::NAN,
            se: f64::NAN,
            lower: f64::NAN,
            upper: f64::NAN,
            level,
            defined: false,
            reason: Some(format!("domain {domain_a} or domain {domain_b} has no sampled units")),
        }),
    }
}

/// Paired (shadow) comparison of two tiers judged on the same queries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Number of pairs.
    pub n: u64,
    /// Both acceptable.
    pub both: u64,
    /// Only the first (`a`) acceptable.
    pub a_only: u64,
    /// Only the second (`b`) acceptable.
    pub b_only: u64,
    /// Neither acceptable.
    pub neither: u64,
    /// Newcombe's method-10 interval for p_a − p_b.
    pub newcombe: Interval,
    /// Wald interval on the paired differences.
    pub wald: Interval,
    /// Exact (binomial) McNemar p-value, two-sided.
    pub mcnemar_exact_p: f64,
    /// Mid-p McNemar p-value, two-sided.
    pub mcnemar_midp: f64,
}

fn check_binary(name: &str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| *x != 0.0 && *x != 1.0) {
        Some(i) => Err(TierscopeError::invalid(format!("{name}[{i}]"), format!("0 or 1, got {}", v[i]))),
        None => Ok(()),
    }
}

/// [`mcnemar`] with its arguments checked (the Python boundary): `b + c` must fit a `u64`.
pub fn mcnemar_checked(b: u64, c: u64) -> Result<(f64, f64)> {
    match b.checked_add(c) {
        Some(_) => Ok(mcnemar(b, c)),
        None => Err(TierscopeError::invalid(
            "c",
            format!("discordant counts with b + c < 2^64, got b={b}, c={c}"),
        )),
    }
}

/// Exact and mid-p two-sided McNemar p-values for discordant counts `b`, `c` (`b + c` must fit
/// a `u64`; [`mcnemar_checked`] checks it).
pub fn mcnemar(b: u64, c: u64) -> (f64, f64) {
    let n = b + c;
    let k = b.min(c);
    let cdf = binom_cdf(k, n, 0.5);
    let exact = (2.0 * cdf).min(1.0);
    let mid = (2.0 * cdf - binom_pmf(k, n, 0.5)).min(1.0);
    (exact, mid)
}

/// Wald interval for the mean of paired differences a − b (normal quantile, SE = sd/√n with
/// ddof = 1); works for any bounded scores.
pub fn paired_wald(a: &[f64], b: &[f64], level: f64) -> Result<Interval> {
    check_same_len("b", b.len(), "a", a.len())?;
    check_finite("a", a)?;
    check_finite("b", b)?;
    check_level(level)?;
    let n = a.len();
    if n < 2 {
        return Err(TierscopeError::invalid("a", format!("at least 2 pairs, got {n}")));
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let se = (var / n as f64).sqrt();
    let z = norm_ppf(1.0 - (1.0 - level) / 2.0);
    Ok(Interval {
        lower: mean - z * se,
        upper: mean + z * se,
        estimate: mean,
        method: "paired_wald".into(),
        level,
    })
}

/// Paired comparison of binary judgements `a` and `b` (0/1) on the same queries.
pub fn paired_binary(a: &[f64], b: &[f64], level: f64) -> Result<PairedComparison> {
    check_same_len("b", b.len(), "a", a.len())?;
    check_binary("a", a)?;
    check_binary("b", b)?;
    check_level(level)?;
    let n = a.len() as u64;
    if n < 2 {
        return Err(TierscopeError::invalid("a", format!("at least 2 pairs, got {n}")));
    }
    let (mut e, mut f, mut g, mut h) = (0u64, 0u64, 0u64, 0u64);
    for (x, y) in a.iter().zip(b) {
        match (*x == 1.0, *y == 1.0) {
            (true, true) => e += 1,
            (true, false) => f += 1,
            (false, true) => g += 1,
            (false, false) => h += 1,
        }
    }
    let nf = n as f64;
    let (p1, p2) = ((e + f) as f64 / nf, (e + g) as f64 / nf);
    let w1 = wilson((e + f) as f64, nf, level)?;
    let w2 = wilson((e + g) as f64, nf, level)?;
    let (ef, gh, eg, fh) = ((e + f) as f64, (g + h) as f64, (e + g) as f64, (f + h) as f64);
    let denom = (ef * gh * eg * fh).sqrt();
    let phi = if denom > 0.0 { (e as f64 * h as f64 - f as f64 * g as f64) / denom } else { 0.0 };
    let theta = p1 - p2;
    let (dl1, du1, dl2, du2) = (p1 - w1.lower, w1.upper - p1, p2 - w2.lower, w2.upper - p2);
    let delta = (dl1 * dl1 - 2.0 * phi * dl1 * du2 + du2 * du2).max(0.0).sqrt();
    let eps = (du1 * du1 - 2.0 * phi * du1 * dl2 + dl2 * dl2).max(0.0).sqrt();
    let newcombe = Interval {
        lower: (theta - delta).max(-1.0),
        upper: (theta + eps).min(1.0),
        estimate: theta,
        method: "newcombe_paired".into(),
        level,
    };
    let wald = paired_wald(a, b, level)?;
    let (exact, mid) = mcnemar(f, g);
    Ok(PairedComparison {
        n,
        both: e,
        a_only: f,
        b_only: g,
        neither: h,
        newcombe,
        wald,
        mcnemar_exact_p: exact,
        mcnemar_midp: mid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_small_table() {
        // b = 1, c = 6: exact p = 2 * P(X <= 1 | n = 7) = 2 * 8/128.
        let (p, mid) = mcnemar(1, 6);
        assert!((p - 16.0 / 128.0).abs() < 1e-14);
        assert!((mid - (16.0 - 7.0) / 128.0).abs() < 1e-14);
        assert_eq!(mcnemar(0, 0).0, 1.0);
        assert_eq!(mcnemar_checked(1, 6).unwrap(), mcnemar(1, 6));
        let err = mcnemar_checked(u64::MAX, 1).unwrap_err().to_string();
        assert!(err.contains("`c`"), "{err}");
    }

    #[test]
    fn paired_interval_contains_estimate() {
        let a: Vec<f64> = (0..50).map(|i| if i % 5 == 0 { 0.0 } else { 1.0 }).collect();
        let b: Vec<f64> = (0..50).map(|i| if i % 3 == 0 { 0.0 } else { 1.0 }).collect();
        let r = paired_binary(&a, &b, 0.95).unwrap();
        assert_eq!(r.both + r.a_only + r.b_only + r.neither, 50);
        assert!(r.newcombe.lower < r.newcombe.estimate && r.newcombe.estimate < r.newcombe.upper);
        assert!(paired_binary(&a, &b[..10], 0.95).is_err());
        assert!(paired_binary(&[0.5, 1.0], &[1.0, 1.0], 0.95).is_err());
    }

    #[test]
    fn newcombe_independent_brackets() {
        let iv = newcombe_independent(56.0, 70.0, 48.0, 80.0, 0.95).unwrap();
        assert!(iv.lower < 0.2 && iv.upper > 0.2);
        assert!(newcombe_independent(5.0, 4.0, 1.0, 2.0, 0.95).is_err());
    }
}
