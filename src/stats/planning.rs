//! Review planning: how many reviews per tier per day detect a quality drop of δ within N days
//! at level α with power 1 − β — for a fixed-sample one-sided test (closed form) and for the
//! anytime-valid [`Monitor`](super::sequential::Monitor) (seeded simulation, bisection on the
//! daily count).

use serde::{Deserialize, Serialize};

use super::sequential::MonitorConfig;
use super::simulate::monitor_runs;
use super::special::norm_ppf;
use crate::error::{Result, TierscopeError};

/// A review plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewPlan {
    /// Reviews per tier per day.
    pub per_day: usize,
    /// Total reviews over the horizon.
    pub total: usize,
    /// Estimated (sequential: simulated) probability of detecting the drop within the horizon.
    pub power: f64,
    /// Method ("fixed" or "sequential").
    pub method: String,
}

fn check_common(p0: f64, delta: f64, days: u32, alpha: f64, power: f64) -> Result<()> {
    if !(p0 > 0.0 && p0 < 1.0) {
        return Err(TierscopeError::invalid("p0", format!("a baseline rate in (0, 1), got {p0}")));
    }
    if !(delta > 0.0 && delta < p0) {
        return Err(TierscopeError::invalid("delta", format!("a drop in (0, p0 = {p0}), got {delta}")));
    }
    if days == 0 {
        return Err(TierscopeError::invalid("days", "a horizon of at least one day"));
    }
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(TierscopeError::invalid("alpha", format!("a level in (0, 0.5), got {alpha}")));
    }
    if !(power > 0.5 && power < 1.0) {
        return Err(TierscopeError::invalid("power", format!("a power in (0.5, 1), got {power}")));
    }
    Ok(())
}

/// Fixed-sample one-sided test of H0: p = p0 against p = p0 − δ, all reviews pooled over the
/// horizon: n = ((z_{1−α} √(p0 q0) + z_{power} √(p1 q1)) / δ)².
pub fn fixed_sample_plan(p0: f64, delta: f64, days: u32, alpha: f64, power: f64) -> Result<ReviewPlan> {
    check_common(p0, delta, days, alpha, power)?;
    let p1 = p0 - delta;
    let za = norm_ppf(1.0 - alpha);
    let zb = norm_ppf(power);
    let n = ((za * (p0 * (1.0 - p0)).sqrt() + zb * (p1 * (1.0 - p1)).sqrt()) / delta).powi(2);
    let total = n.ceil() as usize;
    let per_day = total.div_ceil(days as usize);
    Ok(ReviewPlan { per_day, total: per_day * days as usize, power, method: "fixed".into() })
}

/// Options for [`sequential_plan`].
#[derive(Clone, Debug)]
pub struct SequentialPlanOptions {
    /// Alarm tolerance (alarm when the upper bound < p0 − tolerance); must be < δ.
    pub tolerance: f64,
    /// Monitor restart period in days.
    pub restart_every: u32,
    /// Simulated runs per candidate daily count.
    pub sims: usize,
    /// Seed (common random numbers across candidates).
    pub seed: u64,
    /// Threads (0 = the available cores).
    pub threads: usize,
    /// Largest daily count considered.
    pub max_per_day: usize,
}

/// Smallest daily review count for which the [`Monitor`](super::sequential::Monitor) alarms
/// within `days` days with probability >= `power` when quality is p0 − δ from day 1.
pub fn sequential_plan(
    p0: f64,
    delta: f64,
    days: u32,
    alpha: f64,
    power: f64,
    opts: &SequentialPlanOptions,
) -> Result<ReviewPlan> {
    check_common(p0, delta, days, alpha, power)?;
    if !(opts.tolerance >= 0.0 && opts.tolerance < delta) {
        return Err(TierscopeError::invalid(
            "tolerance",
            format!("a tolerance in [0, delta = {delta}), got {}", opts.tolerance),
        ));
    }
    if opts.sims < 10 {
        return Err(TierscopeError::invalid("sims", format!("at least 10 simulations, got {}", opts.sims)));
    }
    let config = MonitorConfig {
        baseline: p0,
        tolerance: opts.tolerance,
        alpha,
        lo: 0.0,
        hi: 1.0,
        max_weight: 1.0,
        restart_every: opts.restart_every,
        method: Default::default(),
    };
    let rate = |m: usize| -> Result<f64> {
        let alarms =
            monitor_runs(&config, days, m, p0 - delta, p0 - delta, 0, opts.sims, opts.seed, opts.threads)?;
        Ok(alarms.iter().filter(|a| a.is_some_and(|d| d <= days)).count() as f64 / opts.sims as f64)
    };
    let top = rate(opts.max_per_day)?;
    if top < power {
        return Err(TierscopeError::invalid(
            "max_per_day",
            format!(
                "a daily cap that can reach the requested power; {} reviews/day detect the drop in only {:.1}% of runs",
                opts.max_per_day,
                100.0 * top
            ),
        ));
    }
    let (mut lo, mut hi, mut hi_rate) = (0usize, opts.max_per_day, top);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let r = rate(mid)?;
        if r >= power {
            hi = mid;
            hi_rate = r;
        } else {
            lo = mid;
        }
    }
    Ok(ReviewPlan { per_day: hi, total: hi * days as usize, power: hi_rate, method: "sequential".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_plan_matches_formula() {
        let p = fixed_sample_plan(0.85, 0.1, 10, 0.05, 0.8).unwrap();
        let n = ((1.644_853_626_951_472_2 * (0.85f64 * 0.15).sqrt()
            + 0.841_621_233_572_914_3 * (0.75f64 * 0.25).sqrt())
            / 0.1)
            .powi(2);
        assert_eq!(p.per_day, (n.ceil() as usize).div_ceil(10));
        assert!(fixed_sample_plan(0.85, 0.9, 10, 0.05, 0.8).is_err());
    }

    #[test]
    fn sequential_needs_more_than_fixed() {
        let opts = SequentialPlanOptions {
            tolerance: 0.03,
            restart_every: 7,
            sims: 60,
            seed: 1,
            threads: 2,
            max_per_day: 400,
        };
        let s = sequential_plan(0.85, 0.1, 14, 0.05, 0.8, &opts).unwrap();
        let f = fixed_sample_plan(0.85, 0.1, 14, 0.05, 0.8).unwrap();
        assert!(s.per_day >= f.per_day, "{s:?} {f:?}");
        assert!(s.power >= 0.8);
    }
}
