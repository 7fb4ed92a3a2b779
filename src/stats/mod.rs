//! Stratified sampling statistics for per-tier quality.
//!
//! Pure Rust (no Python types): intervals ([`intervals`]), sampling designs ([`design`]), budget
//! allocation ([`allocation`]), judge-assisted (prediction-powered) means ([`ppi`]), mergeable sufficient statistics ([`aggregate`]) and the
//! design-based estimators on them ([`estimators`]), fixed-size πps designs ([`pps`]), tier gaps ([`gaps`]), anytime-valid monitoring
//! ([`sequential`]), drift ([`drift`]), review planning ([`planning`]) and the special functions
//! they rest on ([`special`]). Every bad input is a [`TierscopeError::InvalidInput`] naming the
//! argument.

pub mod aggregate;
pub mod allocation;
pub mod design;
pub mod drift;
pub mod estimators;
pub mod gaps;
pub mod intervals;
pub mod mix;
pub mod planning;
pub mod ppi;
pub mod pps;
pub mod rng;
pub mod sequential;
pub mod simulate;
pub mod special;
pub mod summary;

use crate::error::{Result, TierscopeError};

/// Reject NaN or infinite entries of `values`, naming the first offending index.
pub(crate) fn check_finite(name: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(TierscopeError::invalid(
            format!("{name}[{i}]"),
            format!("a finite number, got {}", values[i]),
        )),
        None => Ok(()),
    }
}

/// Integer labels (numpy's `int64`) as the `u32` codes the core works on; a negative or too
/// large code is an error naming `name[i]`.
pub fn codes(name: &str, values: &[i64]) -> Result<Vec<u32>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &code)| {
            u32::try_from(code).map_err(|_| {
                TierscopeError::invalid(
                    format!("{name}[{i}]"),
                    format!("a non-negative integer code, got {code}"),
                )
            })
        })
        .collect()
}

/// Reject a confidence level outside (0, 1).
pub(crate) fn check_level(level: f64) -> Result<()> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(TierscopeError::invalid("level", format!("a confidence level in (0, 1), got {level}")))
    }
}

/// Reject arrays whose lengths differ.
pub(crate) fn check_same_len(name: &str, len: usize, other: &str, other_len: usize) -> Result<()> {
    if len == other_len {
        Ok(())
    } else {
        Err(TierscopeError::invalid(name, format!("the same length as `{other}` ({other_len}), got {len}")))
    }
}

/// Reject inclusion probabilities outside (0, 1].
pub(crate) fn check_pi(name: &str, pi: &[f64]) -> Result<()> {
    match pi.iter().position(|p| !(p.is_finite() && *p > 0.0 && *p <= 1.0)) {
        Some(i) => Err(TierscopeError::invalid(
            format!("{name}[{i}]"),
            format!("an inclusion probability in (0, 1], got {}", pi[i]),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_the_u32_range_and_name_the_first_bad_one() {
        assert_eq!(codes("strata", &[0, 7, u32::MAX as i64]).unwrap(), vec![0, 7, u32::MAX]);
        let err = codes("strata", &[1, -2, -3]).unwrap_err();
        assert_eq!(err.to_string(), "invalid `strata[1]`: a non-negative integer code, got -2");
        assert!(codes("domains", &[1 << 40]).is_err());
    }
}
