//! Traffic-mix drift: a tier's daily shares over the router's regions against a reference mix
//! (the launch window's), with the chi-square and PSI per day and a sequential alarm whose
//! false-alarm probability is bounded.
//!
//! # The null and the guarantee
//!
//! With tens of thousands of queries a day, a test of *exact* equality to the reference rejects on
//! harmless differences. The null here is a tolerance: **H0(ε): the day's region mix `p` is the
//! launch mix `p0` up to a share ε of the day's traffic**, i.e. `p = (1 − ε)·p0 + ε·s` for some
//! distribution `s`, equivalently `p_j ≥ (1 − ε)·p0_j` for every region `j` (this implies total
//! variation `TV(p, p0) ≤ ε`). The null set is convex, so each day's e-value is the likelihood
//! ratio of a predictable alternative `q` (the previous `window` days' mix, shrunk toward the
//! reference) against its reverse information projection `r` onto the null set (`r_j =
//! max(c_j, q_j/μ)`, water-filling): `E[q_X / r_X] ≤ 1` for *every* `p` in the null, so the
//! day's product over queries is an e-value whatever the day's mix inside H0.
//!
//! The launch mix is itself estimated. The null is widened to `p_j ≥ c_j = (1 − ε)·L_j`, where
//! `L_j` are simultaneous lower confidence bounds for `p0_j` from the launch counts (Chernoff
//! binomial bounds at level `reference_alpha / K`, Bonferroni over the `K` regions); on the event
//! `L ≤ p0` (probability ≥ 1 − `reference_alpha`) every H0(ε) day lies in the widened set.
//!
//! The alarm is the e-CUSUM (Shin, Ramdas & Rinaldo 2023): `log M_t = max(log M_{t−1}, 0) +
//! log E_t`, alarm at `log M_t ≥ log(horizon / alpha)`. An alarm by day `t` means some run of
//! days `j..t` has `Π E ≥ horizon/alpha`; each run's product is a nonnegative supermartingale
//! started at 1, so by Ville's inequality and a union over the ≤ `horizon` start days,
//! **P(any alarm within `horizon` days | H0(ε) on every day) ≤ alpha + reference_alpha**.
//!
//! Assumptions: given the past, a day's queries are independent draws from that day's mix
//! (queries repeated verbatim are still independent draws of their region); the launch window is
//! independent of the monitored days and its days share the mix `p0`; regions are fixed (the
//! router does not change during monitoring).

use crate::error::{Result, TierscopeError};
use crate::stats::special;

/// Settings of [`mix_drift`].
#[derive(Clone, Debug)]
pub struct MixOptions {
    /// ε: the share of a day's traffic that may move without counting as drift.
    pub tolerance: f64,
    /// False-alarm probability of the sequential alarm over `horizon` days.
    pub alpha: f64,
    /// Probability that the reference's lower bounds fail (adds to `alpha`).
    pub reference_alpha: f64,
    /// Days the guarantee covers (the alarm threshold is `ln(horizon / alpha)`).
    pub horizon: usize,
    /// Previous days pooled into the alternative.
    pub window: usize,
    /// Weight of the reference in the alternative (keeps every region's bet finite).
    pub shrink: f64,
}

impl Default for MixOptions {
    fn default() -> Self {
        Self { tolerance: 0.02, alpha: 0.05, reference_alpha: 0.01, horizon: 365, window: 3, shrink: 0.1 }
    }
}

/// One day of [`mix_drift`].
#[derive(Clone, Debug, Default)]
pub struct MixDay {
    /// Queries counted.
    pub n: f64,
    /// Pearson chi-square against the reference shares (exact-equality test; K − 1 df).
    pub chi_square: f64,
    /// Its p-value (rejects on harmless differences at large `n`: descriptive only).
    pub chi_square_p: f64,
    /// Population stability index of the day's shares against the reference's.
    pub psi: f64,
    /// Total variation distance of the day's shares from the reference's.
    pub tv: f64,
    /// ln of the day's e-value against H0(ε).
    pub log_e: f64,
    /// ln of the e-CUSUM statistic after the day.
    pub log_detector: f64,
}

/// Result of [`mix_drift`].
#[derive(Clone, Debug, Default)]
pub struct MixResult {
    /// Per monitored day.
    pub days: Vec<MixDay>,
    /// First day (0-based, among the monitored days) the alarm fired.
    pub alarm_day: Option<usize>,
    /// `ln(horizon / alpha)`.
    pub threshold: f64,
    /// Reference shares.
    pub reference: Vec<f64>,
    /// Null floor `c_j = (1 − ε)·L_j`.
    pub floor: Vec<f64>,
}

/// Lower Chernoff bound on a binomial proportion: the smallest `p ≤ k/n` with
/// `n·kl(k/n ‖ p) ≤ ln(1/delta)`.
pub fn chernoff_lower(k: f64, n: f64, delta: f64) -> f64 {
    let phat = k / n;
    if phat <= 0.0 {
        return 0.0;
    }
    let bound = (1.0 / delta).ln() / n;
    let kl = |p: f64| {
        let a = phat * (phat / p).ln();
        let b = if phat < 1.0 { (1.0 - phat) * ((1.0 - phat) / (1.0 - p)).ln() } else { 0.0 };
        a + b
    };
    let (mut lo, mut hi) = (0.0f64, phat);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= 0.0 || kl(mid) > bound {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The reverse information projection of `q` onto `{r : r_j ≥ c_j, Σ r = 1}` (`Σ c < 1`):
/// `r_j = max(c_j, q_j / μ)` with μ ≥ 1 solving `Σ r = 1`.
pub fn project(q: &[f64], c: &[f64]) -> Vec<f64> {
    let total = |mu: f64| q.iter().zip(c).map(|(&qj, &cj)| cj.max(qj / mu)).sum::<f64>();
    let (mut lo, mut hi) = (1.0f64, 2.0f64);
    while total(hi) > 1.0 && hi < 1e300 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if total(mid) > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // The larger μ keeps Σ r ≤ 1, so E[q/r] ≤ 1 holds with rounding on the safe side.
    q.iter().zip(c).map(|(&qj, &cj)| cj.max(qj / hi)).collect()
}

fn check_counts(name: &str, counts: &[f64], k: usize) -> Result<()> {
    if counts.len() != k {
        return Err(TierscopeError::invalid(
            name,
            format!("{k} region counts per row, got {}", counts.len()),
        ));
    }
    if counts.iter().any(|&c| !(c.is_finite() && c >= 0.0)) {
        return Err(TierscopeError::invalid(name, "finite non-negative counts"));
    }
    Ok(())
}

fn shares(counts: &[f64]) -> Vec<f64> {
    let n: f64 = counts.iter().sum();
    counts.iter().map(|&c| if n > 0.0 { c / n } else { 0.0 }).collect()
}

/// Test each day's region counts (`daily[t][j]`) against the reference counts (`reference[j]`,
/// the launch window's); see the module docs for the null and the guarantee.
pub fn mix_drift(reference: &[f64], daily: &[Vec<f64>], opts: &MixOptions) -> Result<MixResult> {
    let k = reference.len();
    if k < 2 {
        return Err(TierscopeError::invalid("reference_counts", format!("at least 2 regions, got {k}")));
    }
    check_counts("reference_counts", reference, k)?;
    let m: f64 = reference.iter().sum();
    if m <= 0.0 {
        return Err(TierscopeError::invalid("reference_counts", "a positive total"));
    }
    for row in daily {
        check_counts("daily_counts", row, k)?;
    }
    let unit_open = |v: f64| v.is_finite() && v > 0.0 && v < 1.0;
    if !(opts.tolerance.is_finite() && (0.0..1.0).contains(&opts.tolerance)) {
        return Err(TierscopeError::invalid("tolerance", format!("in [0, 1), got {}", opts.tolerance)));
    }
    if !unit_open(opts.alpha) {
        return Err(TierscopeError::invalid("alpha", format!("in (0, 1), got {}", opts.alpha)));
    }
    if !unit_open(opts.reference_alpha) {
        return Err(TierscopeError::invalid(
            "reference_alpha",
            format!("in (0, 1), got {}", opts.reference_alpha),
        ));
    }
    if opts.horizon == 0 || opts.window == 0 {
        return Err(TierscopeError::invalid("horizon", "horizon and window of at least 1 day"));
    }
    if !(opts.shrink.is_finite() && opts.shrink > 0.0 && opts.shrink <= 1.0) {
        return Err(TierscopeError::invalid("shrink", format!("in (0, 1], got {}", opts.shrink)));
    }
    let p0 = shares(reference);
    let delta = opts.reference_alpha / k as f64;
    let floor: Vec<f64> =
        reference.iter().map(|&c| (1.0 - opts.tolerance) * chernoff_lower(c, m, delta)).collect();
    let threshold = (opts.horizon as f64 / opts.alpha).ln();
    let mut out = MixResult { threshold, reference: p0.clone(), floor: floor.clone(), ..Default::default() };
    let mut log_m = 0.0f64;
    for (t, row) in daily.iter().enumerate() {
        // The alternative uses only earlier days (predictable): the pooled window, shrunk.
        let start = t.saturating_sub(opts.window);
        let mut pooled = vec![0.0f64; k];
        for prev in &daily[start..t] {
            pooled.iter_mut().zip(prev).for_each(|(a, &b)| *a += b);
        }
        let pooled_n: f64 = pooled.iter().sum();
        let q: Vec<f64> = if pooled_n > 0.0 {
            pooled
                .iter()
                .zip(&p0)
                .map(|(&a, &r)| (1.0 - opts.shrink) * a / pooled_n + opts.shrink * r)
                .collect()
        } else {
            p0.clone()
        };
        let r = project(&q, &floor);
        let log_e: f64 = row
            .iter()
            .zip(q.iter().zip(&r))
            .filter(|(&n, _)| n > 0.0)
            .map(|(&n, (&qj, &rj))| n * (qj / rj).ln())
            .sum();
        log_m = log_m.max(0.0) + log_e;
        if out.alarm_day.is_none() && log_m >= threshold {
            out.alarm_day = Some(t);
        }
        out.days.push(describe(row, &p0, log_e, log_m));
    }
    Ok(out)
}

/// The day's descriptive statistics against the reference shares.
fn describe(row: &[f64], p0: &[f64], log_e: f64, log_m: f64) -> MixDay {
    let n: f64 = row.iter().sum();
    let p = shares(row);
    let eps = 1e-4;
    let mut chi = 0.0;
    let mut df = 0usize;
    for (&c, &e) in row.iter().zip(p0) {
        if e > 0.0 {
            chi += (c - n * e).powi(2) / (n * e);
            df += 1;
        }
    }
    let chi_p = if n > 0.0 && df >= 2 {
        let a = (df - 1) as f64 / 2.0;
        special::inc_gamma_pq(a, chi / 2.0, special::ln_gamma(a)).1
    } else {
        f64::NAN
    };
    let psi =
        p.iter().zip(p0).map(|(&a, &e)| (a.max(eps) - e.max(eps)) * (a.max(eps) / e.max(eps)).ln()).sum();
    let tv = 0.5 * p.iter().zip(p0).map(|(a, e)| (a - e).abs()).sum::<f64>();
    MixDay { n, chi_square: chi, chi_square_p: chi_p, psi, tv, log_e, log_detector: log_m }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    /// Counts of `n` categorical draws from `p`.
    fn draw(p: &[f64], n: u64, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        let mut counts = vec![0.0; p.len()];
        for _ in 0..n {
            let mut u = rng.random::<f64>();
            let mut j = 0;
            while j + 1 < p.len() && u >= p[j] {
                u -= p[j];
                j += 1;
            }
            counts[j] += 1.0;
        }
        counts
    }

    #[test]
    fn projection_gives_an_e_value_for_every_null_mix() {
        let c = vec![0.1, 0.2, 0.3, 0.05];
        let q = vec![0.6, 0.1, 0.2, 0.1];
        let r = project(&q, &c);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(r.iter().zip(&c).all(|(a, b)| a >= b));
        // The worst null mix puts the free mass where q/r is largest: still ≤ 1.
        let ratio: Vec<f64> = q.iter().zip(&r).map(|(a, b)| a / b).collect();
        let free = 1.0 - c.iter().sum::<f64>();
        let best = ratio.iter().cloned().fold(0.0, f64::max);
        let worst: f64 = c.iter().zip(&ratio).map(|(a, b)| a * b).sum::<f64>() + free * best;
        assert!(worst <= 1.0 + 1e-9, "{worst}");
    }

    #[test]
    fn chernoff_lower_bound_is_below_the_estimate_and_tightens_with_n() {
        let a = chernoff_lower(100.0, 1000.0, 0.01);
        let b = chernoff_lower(10_000.0, 100_000.0, 0.01);
        assert!(a < b && b < 0.1, "{a} {b}");
        assert_eq!(chernoff_lower(0.0, 10.0, 0.01), 0.0);
    }

    #[test]
    fn no_alarm_on_the_launch_mix_and_an_alarm_after_a_shift() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let p0: Vec<f64> = (1..=16).map(|j| j as f64 / 136.0).collect();
        let reference = draw(&p0, 200_000, &mut rng);
        let opts = MixOptions { horizon: 84, ..Default::default() };
        let null: Vec<Vec<f64>> = (0..60).map(|_| draw(&p0, 20_000, &mut rng)).collect();
        let res = mix_drift(&reference, &null, &opts).unwrap();
        assert_eq!(res.alarm_day, None);
        // The exact-equality chi-square is still computed (and would reject sometimes).
        assert!(res.days.iter().all(|d| d.chi_square_p.is_finite()));
        // Move 10% of the traffic to region 0 from day 10 (beyond ε plus the reference's slack).
        let mut p1 = p0.iter().map(|p| p * 0.9).collect::<Vec<_>>();
        p1[0] += 0.1;
        let mut days = null[..10].to_vec();
        days.extend((0..10).map(|_| draw(&p1, 20_000, &mut rng)));
        let res = mix_drift(&reference, &days, &opts).unwrap();
        let alarm = res.alarm_day.expect("alarm");
        assert!((10..=13).contains(&alarm), "{alarm}");
    }

    #[test]
    fn bad_inputs_name_the_argument() {
        let opts = MixOptions::default();
        let e = mix_drift(&[1.0], &[], &opts).unwrap_err().to_string();
        assert!(e.contains("reference_counts"), "{e}");
        let e = mix_drift(&[1.0, 2.0], &[vec![1.0]], &opts).unwrap_err().to_string();
        assert!(e.contains("daily_counts"), "{e}");
        let bad = MixOptions { tolerance: 1.0, ..Default::default() };
        assert!(mix_drift(&[1.0, 2.0], &[], &bad).unwrap_err().to_string().contains("tolerance"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Within-tolerance mixes never alarm in expectation: the day's e-value has mean ≤ 1
        /// under the worst mix of the widened null (checked exactly, not by simulation).
        #[test]
        fn daily_e_value_has_mean_at_most_one_under_the_null(
            q in prop::collection::vec(0.01f64..1.0, 6),
            c in prop::collection::vec(0.0f64..0.15, 6),
            spread in prop::collection::vec(0.0f64..1.0, 6),
        ) {
            let qs: f64 = q.iter().sum();
            let q: Vec<f64> = q.iter().map(|x| x / qs).collect();
            let r = project(&q, &c);
            let free = 1.0 - c.iter().sum::<f64>();
            let ss: f64 = spread.iter().sum::<f64>().max(1e-9);
            let p: Vec<f64> = c.iter().zip(&spread).map(|(a, s)| a + free * s / ss).collect();
            let mean: f64 = p.iter().zip(q.iter().zip(&r)).map(|(p, (q, r))| p * q / r).sum();
            prop_assert!(mean <= 1.0 + 1e-9, "{}", mean);
        }
    }
}
