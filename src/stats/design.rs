//! Sampling designs: stratified simple random sampling without replacement (SRSWOR) and Poisson
//! sampling with unequal inclusion probabilities (π ∝ score, capped at 1). Every selected unit
//! carries its inclusion probability; selection is deterministic given the seed.

use serde::{Deserialize, Serialize};

use super::rng::Xoshiro256;
use super::{check_finite, check_pi};
use crate::error::{Result, TierscopeError};

/// Selected units and their first-order inclusion probabilities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Indices of the selected units in the frame, ascending.
    pub indices: Vec<usize>,
    /// Inclusion probability π of each selected unit (same order as `indices`).
    pub pi: Vec<f64>,
}

/// Stratified SRSWOR: draw `sizes[h]` units without replacement from the units whose stratum code
/// is `h` (codes index `sizes`). π = n_h / N_h for every unit of stratum h.
pub fn stratified_srswor(strata: &[u32], sizes: &[usize], seed: u64) -> Result<Sample> {
    let h_count = sizes.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); h_count];
    for (i, &h) in strata.iter().enumerate() {
        let h = h as usize;
        if h >= h_count {
            return Err(TierscopeError::invalid(
                format!("strata[{i}]"),
                format!("a stratum code below len(sizes) = {h_count}, got {h}"),
            ));
        }
        members[h].push(i);
    }
    let mut picked: Vec<(usize, f64)> = Vec::new();
    for (h, units) in members.iter_mut().enumerate() {
        let n_h = sizes[h];
        let pop = units.len();
        if n_h == 0 {
            continue;
        }
        if pop == 0 {
            return Err(TierscopeError::invalid(
                format!("sizes[{h}]"),
                format!("0 for a stratum with no population units, got {n_h}"),
            ));
        }
        if n_h > pop {
            return Err(TierscopeError::invalid(
                format!("sizes[{h}]"),
                format!("at most the stratum population {pop}, got {n_h}"),
            ));
        }
        // Partial Fisher–Yates with a per-stratum stream: stratum h's draw does not depend on
        // the other strata.
        let mut rng = Xoshiro256::new(seed, h as u64);
        for k in 0..n_h {
            let j = k + rng.below((pop - k) as u64) as usize;
            units.swap(k, j);
        }
        let pi = n_h as f64 / pop as f64;
        picked.extend(units[..n_h].iter().map(|&i| (i, pi)));
    }
    picked.sort_unstable_by_key(|p| p.0);
    Ok(Sample { indices: picked.iter().map(|p| p.0).collect(), pi: picked.iter().map(|p| p.1).collect() })
}

/// Inclusion probabilities proportional to `scores`, capped at 1, with expected sample size
/// `expected_size` (Σπ = expected_size).
///
/// Units whose share would exceed 1 are set to π = 1 (certainty units) and the rest of the
/// expected size is redistributed over the others, iterating until no π exceeds 1. Units with
/// score 0 get π = 0 (never sampled; they cannot be represented by the HT estimator).
pub fn poisson_inclusion_probabilities(scores: &[f64], expected_size: f64) -> Result<Vec<f64>> {
    check_finite("scores", scores)?;
    if let Some(i) = scores.iter().position(|s| *s < 0.0) {
        return Err(TierscopeError::invalid(
            format!("scores[{i}]"),
            format!("a non-negative score, got {}", scores[i]),
        ));
    }
    let positive = scores.iter().filter(|s| **s > 0.0).count();
    if !(expected_size.is_finite() && expected_size > 0.0) {
        return Err(TierscopeError::invalid(
            "expected_size",
            format!("a positive, finite expected sample size, got {expected_size}"),
        ));
    }
    if expected_size > positive as f64 {
        return Err(TierscopeError::invalid(
            "expected_size",
            format!("at most the number of units with a positive score ({positive}), got {expected_size}"),
        ));
    }
    // Work on scores scaled by their maximum so tiny (even subnormal) scores do not underflow.
    let max_score = scores.iter().copied().fold(0.0, f64::max);
    let scaled: Vec<f64> = scores.iter().map(|s| s / max_score).collect();
    let scores = &scaled[..];
    let mut pi = vec![0.0; scores.len()];
    let mut capped = vec![false; scores.len()];
    let mut n_capped = 0usize;
    loop {
        let free_total: f64 = scores.iter().zip(&capped).filter(|(_, c)| !**c).map(|(s, _)| *s).sum();
        let target = expected_size - n_capped as f64;
        let mut newly = 0;
        for i in 0..scores.len() {
            if capped[i] {
                pi[i] = 1.0;
                continue;
            }
            pi[i] = if free_total > 0.0 { scores[i] * target / free_total } else { 0.0 };
            if pi[i] >= 1.0 {
                capped[i] = true;
                pi[i] = 1.0;
                newly += 1;
            }
        }
        n_capped += newly;
        if newly == 0 {
            break;
        }
    }
    Ok(pi)
}

/// Poisson sampling: unit i is selected independently with probability `pi[i]` (π = 0 units are
/// never selected). Deterministic given `seed`.
pub fn poisson_sample(pi: &[f64], seed: u64) -> Result<Sample> {
    if let Some(i) = pi.iter().position(|p| !(p.is_finite() && (0.0..=1.0).contains(p))) {
        return Err(TierscopeError::invalid(
            format!("pi[{i}]"),
            format!("an inclusion probability in [0, 1], got {}", pi[i]),
        ));
    }
    let mut rng = Xoshiro256::new(seed, 0x5057_4953);
    let mut indices = Vec::new();
    let mut out_pi = Vec::new();
    for (i, &p) in pi.iter().enumerate() {
        let u = rng.uniform();
        if u < p {
            indices.push(i);
            out_pi.push(p);
        }
    }
    check_pi("pi", &out_pi)?;
    Ok(Sample { indices, pi: out_pi })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srswor_sizes_and_pi() {
        let strata: Vec<u32> = (0..100).map(|i| (i % 3) as u32).collect();
        let s = stratified_srswor(&strata, &[5, 0, 10], 42).unwrap();
        assert_eq!(s.indices.len(), 15);
        let again = stratified_srswor(&strata, &[5, 0, 10], 42).unwrap();
        assert_eq!(s, again);
        for (&i, &p) in s.indices.iter().zip(&s.pi) {
            let expected = if strata[i] == 0 { 5.0 / 34.0 } else { 10.0 / 33.0 };
            assert!((p - expected).abs() < 1e-15);
        }
        assert!(stratified_srswor(&strata, &[50, 0, 0], 1).is_err());
        assert!(stratified_srswor(&strata, &[1, 1, 1, 1], 1).is_err());
    }

    #[test]
    fn pps_caps_and_hits_target() {
        let scores = [100.0, 1.0, 1.0, 1.0, 1.0, 2.0, 0.0];
        let pi = poisson_inclusion_probabilities(&scores, 3.0).unwrap();
        assert!((pi.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert_eq!(pi[0], 1.0);
        assert!((pi[5] - 2.0 * pi[1]).abs() < 1e-12);
        assert_eq!(pi[6], 0.0);
        assert!(poisson_inclusion_probabilities(&scores, 7.0).is_err());
        assert!(poisson_inclusion_probabilities(&[1.0, f64::NAN], 1.0).is_err());
    }

    #[test]
    fn poisson_sample_is_seeded() {
        let pi = vec![0.3; 1000];
        let a = poisson_sample(&pi, 9).unwrap();
        assert_eq!(a, poisson_sample(&pi, 9).unwrap());
        assert!((a.indices.len() as f64 - 300.0).abs() < 60.0);
        assert!(poisson_sample(&[1.5], 1).is_err());
    }
}
