//! Review-budget allocation across strata: proportional, Neyman, cost-weighted optimal and
//! per-domain precision targets, with per-stratum minimums, caps at the stratum population and
//! integer rounding (largest remainder) that keeps the total exactly equal to the budget.

use serde::{Deserialize, Serialize};

use super::special::norm_ppf;
use super::{check_level, check_same_len};
use crate::error::{Result, TierscopeError};

/// One stratum of the allocation problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StratumSpec {
    /// Units in the stratum population (must be > 0).
    pub population: f64,
    /// Prior-period standard deviation of the quality score (NaN = unknown: the floor is used).
    pub sd: f64,
    /// Cost of one review in this stratum (> 0; used by the `optimal` method).
    pub cost: f64,
    /// Minimum reviews (clamped to the population).
    pub min: usize,
    /// Maximum reviews (`None` = the population).
    pub max: Option<usize>,
    /// Domain (tier) the stratum belongs to, for precision targets.
    pub domain: u32,
}

/// Allocation methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocationMethod {
    /// n_h ∝ N_h.
    Proportional,
    /// n_h ∝ N_h · max(S_h, floor).
    Neyman,
    /// n_h ∝ N_h · max(S_h, floor) / sqrt(c_h): the cost-optimal shape (minimum variance for the
    /// implied total cost).
    Optimal,
    /// Smallest allocation giving each targeted domain its requested half-width, then leftover
    /// budget spread Neyman-style.
    PrecisionTargets,
}

impl AllocationMethod {
    /// Parse `proportional`, `neyman`, `optimal` or `precision`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "proportional" => Ok(Self::Proportional),
            "neyman" => Ok(Self::Neyman),
            "optimal" | "cost_optimal" => Ok(Self::Optimal),
            "precision" | "precision_targets" => Ok(Self::PrecisionTargets),
            other => Err(TierscopeError::invalid(
                "method",
                format!("one of 'proportional', 'neyman', 'optimal', 'precision', got '{other}'"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Proportional => "proportional",
            Self::Neyman => "neyman",
            Self::Optimal => "optimal",
            Self::PrecisionTargets => "precision",
        }
    }
}

/// Options for [`allocate`].
#[derive(Clone, Debug)]
pub struct AllocationOptions {
    /// Floor applied to each stratum SD (a stratum that looked perfect last period still gets
    /// reviews). Must be > 0 for Neyman/optimal/precision.
    pub sd_floor: f64,
    /// Confidence level for precision targets.
    pub level: f64,
    /// `(domain, half_width)` precision targets.
    pub targets: Vec<(u32, f64)>,
}

impl Default for AllocationOptions {
    fn default() -> Self {
        Self { sd_floor: 0.05, level: 0.95, targets: Vec::new() }
    }
}

/// Outcome for one precision target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// Domain code.
    pub domain: u32,
    /// Requested half-width.
    pub target: f64,
    /// Half-width the final allocation achieves (normal approximation, stratified, with FPC).
    pub achieved: f64,
    /// Reviews the domain needs to reach the target on its own.
    pub required: usize,
    /// Whether the final allocation reaches the target.
    pub reached: bool,
}

/// An integer allocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// Reviews per stratum; sums exactly to the budget.
    pub sizes: Vec<usize>,
    /// Method used.
    pub method: String,
    /// Σ n_h c_h.
    pub total_cost: f64,
    /// One report per precision target (empty for other methods).
    pub targets: Vec<TargetReport>,
}

/// Per-stratum columns, as the Python façade passes them, to [`StratumSpec`]s: every column as
/// long as `population`, minimums non-negative, a negative maximum meaning "no cap" (the
/// stratum population).
pub fn strata_from_columns(
    population: &[f64],
    sd: &[f64],
    cost: &[f64],
    minimum: &[i64],
    maximum: &[i64],
    domain: &[u32],
) -> Result<Vec<StratumSpec>> {
    let k = population.len();
    for (name, len) in [
        ("sd", sd.len()),
        ("cost", cost.len()),
        ("minimum", minimum.len()),
        ("maximum", maximum.len()),
        ("domain", domain.len()),
    ] {
        check_same_len(name, len, "population", k)?;
    }
    (0..k)
        .map(|h| {
            let min = usize::try_from(minimum[h]).map_err(|_| {
                TierscopeError::invalid(
                    format!("minimum[{h}]"),
                    format!("a non-negative minimum, got {}", minimum[h]),
                )
            })?;
            Ok(StratumSpec {
                population: population[h],
                sd: sd[h],
                cost: cost[h],
                min,
                max: usize::try_from(maximum[h]).ok(),
                domain: domain[h],
            })
        })
        .collect()
}

/// Allocate `budget` reviews over `strata` with `method`.
pub fn allocate(
    strata: &[StratumSpec],
    budget: i64,
    method: AllocationMethod,
    opts: &AllocationOptions,
) -> Result<Allocation> {
    if strata.is_empty() {
        return Err(TierscopeError::invalid("strata", "at least one stratum"));
    }
    if budget <= 0 {
        return Err(TierscopeError::invalid("budget", format!("a positive number of reviews, got {budget}")));
    }
    let budget = budget as usize;
    let mut lo = Vec::with_capacity(strata.len());
    let mut hi = Vec::with_capacity(strata.len());
    for (h, s) in strata.iter().enumerate() {
        if !(s.population.is_finite() && s.population >= 1.0) {
            return Err(TierscopeError::invalid(
                format!("strata[{h}].population"),
                format!("a stratum population of at least 1 unit, got {}", s.population),
            ));
        }
        if !(s.cost.is_finite() && s.cost > 0.0) {
            return Err(TierscopeError::invalid(
                format!("strata[{h}].cost"),
                format!("a positive, finite review cost, got {}", s.cost),
            ));
        }
        if !(s.sd.is_nan() || (s.sd.is_finite() && s.sd >= 0.0)) {
            return Err(TierscopeError::invalid(
                format!("strata[{h}].sd"),
                format!("a non-negative standard deviation (or NaN for unknown), got {}", s.sd),
            ));
        }
        let pop = s.population.floor() as usize;
        let cap = s.max.unwrap_or(pop).min(pop);
        let min = s.min.min(cap);
        lo.push(min);
        hi.push(cap);
    }
    let sum_lo: usize = lo.iter().sum();
    let sum_hi: usize = hi.iter().sum();
    if budget < sum_lo {
        return Err(TierscopeError::invalid(
            "budget",
            format!("at least the sum of per-stratum minimums ({sum_lo}), got {budget}"),
        ));
    }
    if budget > sum_hi {
        return Err(TierscopeError::invalid(
            "budget",
            format!("at most the total reviewable population ({sum_hi}), got {budget}"),
        ));
    }
    if method != AllocationMethod::Proportional && !(opts.sd_floor.is_finite() && opts.sd_floor > 0.0) {
        return Err(TierscopeError::invalid(
            "sd_floor",
            format!("a positive SD floor, got {}", opts.sd_floor),
        ));
    }
    let sd = |s: &StratumSpec| if s.sd.is_nan() { opts.sd_floor } else { s.sd.max(opts.sd_floor) };
    let neyman: Vec<f64> = strata.iter().map(|s| s.population * sd(s)).collect();
    let (sizes, targets) = match method {
        AllocationMethod::Proportional => {
            let w: Vec<f64> = strata.iter().map(|s| s.population).collect();
            (box_allocate(&w, &lo, &hi, budget), Vec::new())
        }
        AllocationMethod::Neyman => (box_allocate(&neyman, &lo, &hi, budget), Vec::new()),
        AllocationMethod::Optimal => {
            let w: Vec<f64> = strata.iter().map(|s| s.population * sd(s) / s.cost.sqrt()).collect();
            (box_allocate(&w, &lo, &hi, budget), Vec::new())
        }
        AllocationMethod::PrecisionTargets => {
            precision_allocate(strata, &sd, &neyman, &lo, &hi, budget, opts)?
        }
    };
    let total_cost = sizes.iter().zip(strata).map(|(n, s)| *n as f64 * s.cost).sum();
    Ok(Allocation { sizes, method: method.name().to_string(), total_cost, targets })
}

/// Real allocation x_h = clamp(λ w_h, lo_h, hi_h) with Σ x_h = budget (λ by bisection), then
/// largest-remainder rounding, which keeps lo_h <= n_h <= hi_h and Σ n_h = budget exactly.
/// Requires Σlo <= budget <= Σhi.
pub fn box_allocate(weights: &[f64], lo: &[usize], hi: &[usize], budget: usize) -> Vec<usize> {
    let k = weights.len();
    let mut w: Vec<f64> = weights.iter().map(|v| if v.is_finite() && *v > 0.0 { *v } else { 0.0 }).collect();
    // If no stratum with room has a positive weight, spread by the room itself.
    if (0..k).all(|h| lo[h] == hi[h] || w[h] == 0.0) {
        for h in 0..k {
            w[h] = (hi[h] - lo[h]) as f64;
        }
    }
    let fill = |lambda: f64| -> f64 {
        (0..k).map(|h| (lambda * w[h]).clamp(lo[h] as f64, hi[h] as f64)).sum::<f64>()
    };
    let target = budget as f64;
    let mut lam_hi = (0..k).filter(|&h| w[h] > 0.0).map(|h| hi[h] as f64 / w[h]).fold(0.0, f64::max);
    let mut lam_lo = 0.0;
    if fill(lam_hi) < target {
        lam_hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lam_lo + lam_hi);
        if fill(mid) < target {
            lam_lo = mid;
        } else {
            lam_hi = mid;
        }
    }
    let x: Vec<f64> = (0..k).map(|h| (lam_hi * w[h]).clamp(lo[h] as f64, hi[h] as f64)).collect();
    round_largest_remainder(&x, lo, hi, budget)
}

/// Largest-remainder rounding of `x` (lo <= x <= hi) to integers summing to `budget`.
pub fn round_largest_remainder(x: &[f64], lo: &[usize], hi: &[usize], budget: usize) -> Vec<usize> {
    let k = x.len();
    let mut n: Vec<usize> = (0..k).map(|h| (x[h].floor() as usize).clamp(lo[h], hi[h])).collect();
    let mut total: usize = n.iter().sum();
    // Remove excess (only possible through floating-point slack), smallest remainders first.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| (x[a] - x[a].floor()).total_cmp(&(x[b] - x[b].floor())).then(a.cmp(&b)));
    while total > budget {
        let before = total;
        for &h in &order {
            if total > budget && n[h] > lo[h] {
                n[h] -= 1;
                total -= 1;
            }
        }
        if total == before {
            break;
        }
    }
    order.reverse();
    while total < budget {
        let before = total;
        for &h in &order {
            if total < budget && n[h] < hi[h] {
                n[h] += 1;
                total += 1;
            }
        }
        if total == before {
            break;
        }
    }
    n
}

/// Stratified variance of a domain mean for allocation `n` (normal approximation, with FPC).
fn domain_variance(members: &[usize], strata: &[StratumSpec], sds: &[f64], n: &[f64]) -> f64 {
    let n_d: f64 = members.iter().map(|&h| strata[h].population).sum();
    members
        .iter()
        .map(|&h| {
            let w = strata[h].population / n_d;
            if n[h] <= 0.0 {
                if sds[h] > 0.0 {
                    f64::INFINITY
                } else {
                    0.0
                }
            } else {
                w * w * sds[h] * sds[h] * (1.0 / n[h] - 1.0 / strata[h].population).max(0.0)
            }
        })
        .sum()
}

fn precision_allocate(
    strata: &[StratumSpec],
    sd: &dyn Fn(&StratumSpec) -> f64,
    neyman: &[f64],
    lo: &[usize],
    hi: &[usize],
    budget: usize,
    opts: &AllocationOptions,
) -> Result<(Vec<usize>, Vec<TargetReport>)> {
    check_level(opts.level)?;
    if opts.targets.is_empty() {
        return Err(TierscopeError::invalid("targets", "at least one (domain, half_width) precision target"));
    }
    let z = norm_ppf(1.0 - (1.0 - opts.level) / 2.0);
    let sds: Vec<f64> = strata.iter().map(sd).collect();
    let k = strata.len();
    let mut required_n: Vec<Option<Vec<usize>>> = Vec::new();
    let mut req_total = Vec::new();
    let mut member_lists = Vec::new();
    for (t, &(domain, half)) in opts.targets.iter().enumerate() {
        if !(half.is_finite() && half > 0.0) {
            return Err(TierscopeError::invalid(
                format!("targets[{t}]"),
                format!("a positive half-width, got {half}"),
            ));
        }
        let members: Vec<usize> = (0..k).filter(|&h| strata[h].domain == domain).collect();
        if members.is_empty() {
            return Err(TierscopeError::invalid(
                format!("targets[{t}]"),
                format!("a domain that has strata, got domain {domain}"),
            ));
        }
        let alloc_at = |lam: f64| -> Vec<f64> {
            let mut n = vec![0.0; k];
            for &h in &members {
                n[h] = (lam * neyman[h]).clamp(lo[h] as f64, hi[h] as f64);
            }
            n
        };
        let hw = |n: &[f64]| z * domain_variance(&members, strata, &sds, n).sqrt();
        let lam_max = members.iter().map(|&h| hi[h] as f64 / neyman[h].max(1e-300)).fold(0.0, f64::max);
        let need = if hw(&alloc_at(lam_max)) > half {
            // Even the caps cannot reach the target: the requirement is the caps.
            members.iter().map(|&h| hi[h]).collect::<Vec<_>>()
        } else {
            let (mut a, mut b) = (0.0, lam_max);
            for _ in 0..200 {
                let mid = 0.5 * (a + b);
                if hw(&alloc_at(mid)) > half {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            let n = alloc_at(b);
            members.iter().map(|&h| (n[h] - 1e-9).ceil().max(lo[h] as f64) as usize).collect()
        };
        let mut full = lo.to_vec();
        for (i, &h) in members.iter().enumerate() {
            full[h] = need[i].clamp(lo[h], hi[h]);
        }
        req_total.push(members.iter().map(|&h| full[h] - lo[h]).sum::<usize>());
        required_n.push(Some(full));
        member_lists.push(members);
    }
    // Fund targets cheapest-first while the budget allows.
    let mut order: Vec<usize> = (0..opts.targets.len()).collect();
    order.sort_by_key(|&t| (req_total[t], t));
    let mut new_lo = lo.to_vec();
    let mut new_hi = hi.to_vec();
    let mut spent: usize = lo.iter().sum();
    let mut funded = vec![false; opts.targets.len()];
    for &t in &order {
        let extra: usize = member_lists[t]
            .iter()
            .map(|&h| required_n[t].as_ref().map_or(0, |r| r[h]).saturating_sub(new_lo[h]))
            .sum();
        if spent + extra <= budget {
            for &h in &member_lists[t] {
                let r = required_n[t].as_ref().map_or(lo[h], |r| r[h]);
                new_lo[h] = new_lo[h].max(r);
            }
            spent += extra;
            funded[t] = true;
        }
    }
    let any_unfunded = funded.iter().any(|f| !f);
    if any_unfunded {
        // Funded domains stay at their requirement; the rest of the budget goes to the others.
        for (t, members) in member_lists.iter().enumerate() {
            if funded[t] {
                for &h in members {
                    new_hi[h] = new_lo[h];
                }
            }
        }
    }
    let mut weights = neyman.to_vec();
    if any_unfunded {
        for (t, members) in member_lists.iter().enumerate() {
            if funded[t] {
                for &h in members {
                    weights[h] = 0.0;
                }
            }
        }
    }
    let budget_fit = budget.min(new_hi.iter().sum());
    let mut sizes = box_allocate(&weights, &new_lo, &new_hi, budget_fit);
    if budget_fit < budget {
        // Capped funded domains could not absorb it all: release the caps.
        sizes = box_allocate(neyman, &sizes, hi, budget);
    }
    let nf: Vec<f64> = sizes.iter().map(|&v| v as f64).collect();
    let reports = opts
        .targets
        .iter()
        .enumerate()
        .map(|(t, &(domain, half))| {
            let achieved = z * domain_variance(&member_lists[t], strata, &sds, &nf).sqrt();
            TargetReport {
                domain,
                target: half,
                achieved,
                required: member_lists[t].iter().map(|&h| required_n[t].as_ref().map_or(0, |r| r[h])).sum(),
                reached: achieved <= half * (1.0 + 1e-12),
            }
        })
        .collect();
    Ok((sizes, reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(pop: f64, sd: f64, domain: u32) -> StratumSpec {
        StratumSpec { population: pop, sd, cost: 1.0, min: 0, max: None, domain }
    }

    #[test]
    fn strata_from_columns_checks_lengths_and_minimums() {
        let specs =
            strata_from_columns(&[10.0, 20.0], &[0.1, f64::NAN], &[1.0, 2.0], &[0, 3], &[-1, 5], &[0, 1])
                .unwrap();
        assert_eq!(
            specs[0],
            StratumSpec { population: 10.0, sd: 0.1, cost: 1.0, min: 0, max: None, domain: 0 }
        );
        assert_eq!((specs[1].min, specs[1].max, specs[1].domain), (3, Some(5), 1));
        let err = strata_from_columns(&[10.0], &[0.1], &[1.0], &[-2], &[-1], &[0]).unwrap_err();
        assert_eq!(err.to_string(), "invalid `minimum[0]`: a non-negative minimum, got -2");
        let err = strata_from_columns(&[10.0, 20.0], &[0.1, 0.2], &[1.0], &[0, 0], &[-1, -1], &[0, 0]);
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid `cost`: the same length as `population` (2), got 1"
        );
    }

    #[test]
    fn proportional_exact() {
        let s = vec![spec(100.0, 0.1, 0), spec(300.0, 0.1, 0), spec(600.0, 0.1, 1)];
        let a = allocate(&s, 100, AllocationMethod::Proportional, &AllocationOptions::default()).unwrap();
        assert_eq!(a.sizes, vec![10, 30, 60]);
    }

    #[test]
    fn neyman_and_caps() {
        let s = vec![spec(10.0, 0.5, 0), spec(1000.0, 0.1, 0), spec(1000.0, 0.4, 1)];
        let a = allocate(&s, 200, AllocationMethod::Neyman, &AllocationOptions::default()).unwrap();
        assert_eq!(a.sizes.iter().sum::<usize>(), 200);
        assert!(a.sizes[0] <= 10);
        assert!(a.sizes[2] > 3 * a.sizes[1]);
    }

    #[test]
    fn precision_targets_reported() {
        let s = vec![spec(5000.0, 0.4, 0), spec(5000.0, 0.3, 0), spec(8000.0, 0.45, 1)];
        let opts = AllocationOptions { targets: vec![(0, 0.03), (1, 0.03)], ..Default::default() };
        let a = allocate(&s, 2500, AllocationMethod::PrecisionTargets, &opts).unwrap();
        assert_eq!(a.sizes.iter().sum::<usize>(), 2500);
        assert!(a.targets.iter().all(|t| t.reached), "{:?}", a.targets);
        let small = allocate(&s, 900, AllocationMethod::PrecisionTargets, &opts).unwrap();
        assert_eq!(small.sizes.iter().sum::<usize>(), 900);
        assert!(small.targets.iter().any(|t| t.reached));
        assert!(small.targets.iter().any(|t| !t.reached), "{:?}", small.targets);
    }

    #[test]
    fn bad_inputs() {
        let s = vec![spec(100.0, 0.1, 0)];
        let o = AllocationOptions::default();
        assert!(allocate(&s, 0, AllocationMethod::Neyman, &o).is_err());
        assert!(allocate(&s, -5, AllocationMethod::Neyman, &o).is_err());
        assert!(allocate(&s, 101, AllocationMethod::Neyman, &o).is_err());
        assert!(allocate(&[spec(0.0, 0.1, 0)], 1, AllocationMethod::Neyman, &o).is_err());
        assert!(AllocationMethod::parse("magic").is_err());
    }

    proptest! {
        #[test]
        fn allocation_sums_and_bounds(
            pops in prop::collection::vec(1u32..500, 1..8),
            sds in prop::collection::vec(0.0f64..0.6, 8),
            mins in prop::collection::vec(0usize..20, 8),
            costs in prop::collection::vec(0.5f64..4.0, 8),
            frac in 0.0f64..1.0,
            m in 0usize..4,
        ) {
            let strata: Vec<StratumSpec> = pops.iter().enumerate().map(|(h, &p)| StratumSpec {
                population: p as f64, sd: sds[h], cost: costs[h], min: mins[h],
                max: if h % 3 == 0 { Some(p as usize / 2 + 1) } else { None }, domain: (h % 2) as u32,
            }).collect();
            let lo: usize = strata.iter().map(|s| s.min.min(s.max.unwrap_or(s.population as usize).min(s.population as usize))).sum();
            let hi: usize = strata.iter().map(|s| s.max.unwrap_or(s.population as usize).min(s.population as usize)).sum();
            let budget = (lo.max(1) + ((hi.saturating_sub(lo.max(1))) as f64 * frac) as usize).min(hi);
            prop_assume!(budget >= 1 && budget >= lo);
            let method = [AllocationMethod::Proportional, AllocationMethod::Neyman, AllocationMethod::Optimal, AllocationMethod::PrecisionTargets][m];
            let targets = if strata.len() > 1 { vec![(0, 0.05), (1, 0.1)] } else { vec![(0, 0.05)] };
            let opts = AllocationOptions { targets, ..Default::default() };
            let a = allocate(&strata, budget as i64, method, &opts).unwrap();
            prop_assert_eq!(a.sizes.iter().sum::<usize>(), budget);
            for (h, s) in strata.iter().enumerate() {
                let cap = s.max.unwrap_or(s.population as usize).min(s.population as usize);
                prop_assert!(a.sizes[h] <= cap);
                prop_assert!(a.sizes[h] >= s.min.min(cap));
            }
        }
    }
}
