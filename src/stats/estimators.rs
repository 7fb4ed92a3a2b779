//! Design-based estimators on [`Aggregate`] sufficient statistics: Horvitz–Thompson totals and
//! means, Hájek (ratio) means with linearisation variance, per-stratum, per-domain and population
//! estimates, post-stratification, Kish effective sample size.
//!
//! Variances: stratified SRSWOR uses the within-stratum sample variance with the finite
//! population correction (1 − n_h/N_h); Poisson sampling uses Σ (1 − π)/π² z²; the Hájek mean is
//! linearised (z = (y − m)/N̂ on the domain). Intervals are Wald intervals with the normal
//! quantile; for scores in [0, 1] (quality rates, rescaled ratings) the headline interval is by
//! default the Wilson score interval at the effective sample size n* = min(n, m(1 − m)/SE²) (the
//! design effect floored at 1; see [`survey_proportion_interval`] for why the cap matters), or one
//! of R `svyciprop`'s methods ([`SurveyMethod`], [`DomainEstimate::with_interval`]). A domain with
//! no sampled units is reported as undefined (NaN) with a reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::aggregate::Aggregate;
use super::check_level;
use super::intervals::{survey_proportion_interval, SurveyMethod, SurveyProportion};
use super::special::norm_ppf;
use crate::error::{Result, TierscopeError};

/// The sampling design the aggregate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Design {
    /// Stratified SRSWOR: weights N_h/n_h from the aggregate's population counts and sample sizes
    /// (per-unit π are ignored), variance with FPC.
    StratifiedSrswor,
    /// Poisson sampling with per-unit π: weights 1/π, variance Σ (1 − π)/π² z².
    Poisson,
}

impl Design {
    /// Parse `srswor`/`stratified` or `poisson`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "srswor" | "stratified" | "stratified_srswor" => Ok(Self::StratifiedSrswor),
            "poisson" => Ok(Self::Poisson),
            other => Err(TierscopeError::invalid("design", format!("'srswor' or 'poisson', got '{other}'"))),
        }
    }
}

/// How a stratum with a single sampled unit (a "lonely" stratum, whose within-stratum variance
/// cannot be estimated) enters a stratified variance, as R `survey`'s `survey.lonely.psu`
/// option. A stratum sampled completely (n_h = N_h, or all π = 1) is a certainty stratum with
/// zero variance and never lonely. Poisson designs have no lonely strata: every unit is sampled
/// independently and contributes (1 − π)/π² z², so the option does not change them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lonely {
    /// Refuse: an error naming the first lonely stratum.
    Fail,
    /// R's "adjust": the lonely unit's contribution f_h · x_h² is centred at zero (the
    /// population mean of the linearised variable) instead of at its stratum mean, with
    /// x_h = w z the unit's weighted linearised value and f_h its finite population correction
    /// (1 − 1/N_h for SRSWOR, 1 − π for Brewer). Conservative.
    Adjust,
    /// R's "average": the lonely strata contribute nothing and the sum over the other strata is
    /// scaled by (strata)/(non-lonely strata), i.e. each lonely stratum gets the average
    /// contribution of the others. NaN when every stratum is lonely.
    Average,
    /// R's "certainty": the lonely stratum is treated as a certainty unit (zero variance).
    Certainty,
    /// R's "remove": the stratum is dropped from the variance (for these single-stage designs
    /// numerically the same as `Certainty`, as in R).
    Remove,
}

impl Lonely {
    /// Parse `fail`, `adjust`, `average`, `certainty` or `remove`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "fail" => Ok(Self::Fail),
            "adjust" => Ok(Self::Adjust),
            "average" => Ok(Self::Average),
            "certainty" => Ok(Self::Certainty),
            "remove" => Ok(Self::Remove),
            other => Err(TierscopeError::invalid(
                "lonely",
                format!("'fail', 'adjust', 'average', 'certainty' or 'remove', got '{other}'"),
            )),
        }
    }
}

/// One stratum's term of a stratified variance: `variance` is the within-stratum contribution,
/// or, for a lonely stratum, its "adjust" contribution f_h · x_h².
#[derive(Clone, Copy, Debug)]
pub(crate) struct StratumTerm {
    pub(crate) stratum: u32,
    pub(crate) variance: f64,
    pub(crate) lonely: bool,
}

/// Sum of the strata's terms with the lonely strata handled as `lonely` says (R `survey`'s
/// `onestage`: "average" scales by strata / non-lonely strata).
pub(crate) fn combine_strata(terms: &[StratumTerm], lonely: Lonely) -> Result<f64> {
    let ok: f64 = terms.iter().filter(|t| !t.lonely).map(|t| t.variance).sum();
    let n_lonely = terms.iter().filter(|t| t.lonely).count();
    if n_lonely == 0 {
        return Ok(ok);
    }
    match lonely {
        Lonely::Fail => {
            let h = terms.iter().find(|t| t.lonely).map_or(0, |t| t.stratum);
            Err(TierscopeError::invalid(
                format!("strata[{h}]"),
                format!(
                    "at least two sampled units in stratum {h} (it has one, so its variance is not \
                     estimable; pass lonely='adjust', 'average', 'certainty' or 'remove')"
                ),
            ))
        }
        Lonely::Adjust => Ok(ok + terms.iter().filter(|t| t.lonely).map(|t| t.variance).sum::<f64>()),
        Lonely::Average => Ok(ok * terms.len() as f64 / (terms.len() - n_lonely) as f64),
        Lonely::Certainty | Lonely::Remove => Ok(ok),
    }
}

/// An estimate for one domain (or for the whole population when `domain` is `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEstimate {
    /// Domain code (`None` = all traffic; for stratum estimates, the stratum code).
    pub domain: Option<u32>,
    /// Sampled units in the domain.
    pub n: u64,
    /// Known population size of the domain (NaN when no population counts were recorded).
    pub population: f64,
    /// Estimated population size N̂ = Σw.
    pub population_hat: f64,
    /// Horvitz–Thompson total Σ w y.
    pub total: f64,
    /// Standard error of the HT total.
    pub total_se: f64,
    /// HT mean: total / known population (NaN when the population is unknown).
    pub ht_mean: f64,
    /// Standard error of the HT mean.
    pub ht_mean_se: f64,
    /// Hájek (ratio) mean Σwy / Σw — the headline estimate.
    pub mean: f64,
    /// Linearised standard error of the Hájek mean.
    pub se: f64,
    /// Lower bound of the interval for `mean` (method in `interval`).
    pub lower: f64,
    /// Upper bound of the interval for `mean`.
    pub upper: f64,
    /// Interval method used: a [`SurveyMethod`] name ("wilson" by default) when every sampled
    /// score is in [0, 1], else "wald".
    pub interval: String,
    /// Lower bound of the Wald interval mean ± z·se.
    pub wald_lower: f64,
    /// Upper bound of the Wald interval.
    pub wald_upper: f64,
    /// Confidence level.
    pub level: f64,
    /// Kish effective sample size (Σw)²/Σw².
    pub n_eff: f64,
    /// False when the estimate cannot be computed (then the numbers are NaN).
    pub defined: bool,
    /// Why the estimate is undefined, or a caveat.
    pub reason: Option<String>,
    /// Design degrees of freedom: sampled units − strata holding them (R's `degf`; n − 1 under
    /// Poisson sampling). Used by the "beta" interval.
    pub df: f64,
    /// True when every sampled score is in [0, 1] (the proportion intervals apply).
    pub bounded: bool,
}

impl DomainEstimate {
    fn undefined(domain: Option<u32>, population: f64, level: f64, reason: String) -> Self {
        let nan = f64::NAN;
        Self {
            domain,
            n: 0,
            population,
            population_hat: nan,
            total: nan,
            total_se: nan,
            ht_mean: nan,
            ht_mean_se: nan,
            mean: nan,
            se: nan,
            lower: nan,
            upper: nan,
            interval: "none".into(),
            wald_lower: nan,
            wald_upper: nan,
            level,
            n_eff: nan,
            defined: false,
            reason: Some(reason),
            df: nan,
            bounded: false,
        }
    }

    /// The same estimate with its headline interval (`lower`, `upper`, `interval`) recomputed
    /// with `method`; undefined estimates and unbounded scores (Wald) are returned unchanged.
    pub fn with_interval(&self, method: SurveyMethod) -> Result<Self> {
        let mut out = self.clone();
        if !self.defined || !self.bounded {
            return Ok(out);
        }
        let p = SurveyProportion {
            mean: self.mean,
            se: self.se,
            n: self.n as f64,
            n_kish: self.n_eff,
            df: self.df,
        };
        let (lower, upper, name) = survey_proportion_interval(p, self.level, method)?;
        (out.lower, out.upper, out.interval) = (lower, upper, name.to_string());
        Ok(out)
    }
}

/// Per-domain sums derived from the aggregate under a design.
#[derive(Clone, Copy, Debug, Default)]
struct DomainSums {
    n: u64,
    population: f64,
    n_hat: f64,
    total: f64,
    sum_w2: f64,
    min_y: f64,
    max_y: f64,
}

impl DomainSums {
    fn absorb_range(&mut self, n_before: u64, lo: f64, hi: f64) {
        if n_before == 0 {
            self.min_y = lo;
            self.max_y = hi;
        } else {
            self.min_y = self.min_y.min(lo);
            self.max_y = self.max_y.max(hi);
        }
    }

    fn add(&mut self, x: &DomainSums) {
        if x.n > 0 {
            self.absorb_range(self.n, x.min_y, x.max_y);
        }
        self.n += x.n;
        self.population += x.population;
        self.n_hat += x.n_hat;
        self.total += x.total;
        self.sum_w2 += x.sum_w2;
    }
}

/// The default headline interval: Wilson at n* = min(n, m(1 − m)/SE²) for a mean in [0, 1] when
/// the sample is bounded there ([`survey_proportion_interval`]), otherwise Wald. Returns
/// (lower, upper, method).
fn headline_interval(
    mean: f64,
    se: f64,
    n_eff: f64,
    z: f64,
    in_unit: bool,
    n: u64,
    level: f64,
) -> (f64, f64, String) {
    if !in_unit {
        return (mean - z * se, mean + z * se, "wald".into());
    }
    let p = SurveyProportion { mean: mean.clamp(0.0, 1.0), se, n: n as f64, n_kish: n_eff, df: f64::NAN };
    match survey_proportion_interval(p, level, SurveyMethod::Wilson) {
        Ok((lo, hi, name)) => (lo, hi, name.into()),
        // Unreachable for a defined estimate (level was checked, se is finite); keep Wald then.
        Err(_) => (mean - z * se, mean + z * se, "wald".into()),
    }
}

/// Design degrees of freedom of the units of `members`: n − (strata holding them) for stratified
/// SRSWOR, n − 1 for Poisson sampling (R `survey::degf` of the domain subset).
fn design_df(agg: &Aggregate, design: Design, members: &[u32], n: u64) -> f64 {
    match design {
        Design::Poisson => n as f64 - 1.0,
        Design::StratifiedSrswor => {
            let strata: std::collections::BTreeSet<u32> = agg
                .cells()
                .filter(|(&(_, d), c)| c.n > 0 && members.contains(&d))
                .map(|(&(h, _), _)| h)
                .collect();
            n as f64 - strata.len() as f64
        }
    }
}

/// Design weights per stratum (SRSWOR) after validating the population counts.
fn srswor_weights(agg: &Aggregate) -> Result<BTreeMap<u32, (u64, f64, f64)>> {
    let mut out = BTreeMap::new();
    for (h, (n, pop)) in agg.stratum_totals() {
        if n == 0 {
            continue;
        }
        if pop <= 0.0 {
            return Err(TierscopeError::invalid(
                format!("population[stratum {h}]"),
                format!("a positive population count for a stratum with {n} sampled units (stratified SRSWOR needs N_h)"),
            ));
        }
        if (n as f64) > pop {
            return Err(TierscopeError::invalid(
                format!("population[stratum {h}]"),
                format!("at least the {n} sampled units of the stratum, got {pop}"),
            ));
        }
        out.insert(h, (n, pop, pop / n as f64));
    }
    Ok(out)
}

fn domain_sums(
    agg: &Aggregate,
    design: Design,
    weights: &BTreeMap<u32, (u64, f64, f64)>,
) -> BTreeMap<u32, DomainSums> {
    let mut m: BTreeMap<u32, DomainSums> = BTreeMap::new();
    for (&(h, d), c) in agg.cells() {
        let e = m.entry(d).or_default();
        if c.n > 0 {
            e.absorb_range(e.n, c.min_y, c.max_y);
        }
        e.n += c.n;
        e.population += c.population;
        match design {
            Design::StratifiedSrswor => {
                if let Some(&(_, _, w)) = weights.get(&h) {
                    e.n_hat += w * c.n as f64;
                    e.total += w * c.sum_y;
                    e.sum_w2 += w * w * c.n as f64;
                }
            }
            Design::Poisson => {
                e.n_hat += c.sum_w;
                e.total += c.sum_wy;
                e.sum_w2 += c.sum_w2;
            }
        }
    }
    m
}

/// Design variance of the linear statistic Σ_i w_i Σ_d a_d (y_i − m_d) 1{i ∈ d}, with
/// `coef[d] = (a_d, m_d)`. Covers HT totals (a = 1, m = 0), Hájek means (a = 1/N̂_d, m = mean),
/// differences of domain means and post-stratified means. Strata enter when they have sampled
/// units in a domain of `coef` (as R `survey` on a domain subset); lonely ones as `lonely` says.
fn lin_variance(
    agg: &Aggregate,
    design: Design,
    weights: &BTreeMap<u32, (u64, f64, f64)>,
    coef: &BTreeMap<u32, (f64, f64)>,
    lonely: Lonely,
) -> Result<f64> {
    match design {
        Design::Poisson => {
            let mut v = 0.0;
            for (&(_, d), c) in agg.cells() {
                if let Some(&(a, m)) = coef.get(&d) {
                    v += if c.n == 1 {
                        // One unit: v (y − m)² exactly (the expanded form cancels badly when y ≈ m).
                        a * a * c.sum_v * (c.sum_y - m) * (c.sum_y - m)
                    } else {
                        a * a * (c.sum_vy2 - 2.0 * m * c.sum_vy + m * m * c.sum_v)
                    };
                }
            }
            Ok(v.max(0.0))
        }
        Design::StratifiedSrswor => {
            // Per stratum: sampled units in the domains, Σz and Σz² over all sampled units of
            // the stratum (z = 0 outside the domains in `coef`).
            let mut per: BTreeMap<u32, (u64, f64, f64)> = BTreeMap::new();
            for (&(h, d), c) in agg.cells() {
                if let Some(&(a, m)) = coef.get(&d) {
                    let e = per.entry(h).or_default();
                    e.0 += c.n;
                    e.1 += a * (c.sum_y - m * c.n as f64);
                    e.2 += a * a * (c.sum_y2 - 2.0 * m * c.sum_y + m * m * c.n as f64);
                }
            }
            let mut terms = Vec::with_capacity(per.len());
            for (h, (n_in, sz, sz2)) in per {
                let Some(&(n, pop, w)) = weights.get(&h) else { continue };
                if n_in == 0 {
                    continue;
                }
                let nf = n as f64;
                let f = 1.0 - nf / pop;
                if f < 1e-7 {
                    // A stratum sampled completely: zero variance (R: all(f < 1e-7)).
                    terms.push(StratumTerm { stratum: h, variance: 0.0, lonely: false });
                } else if n < 2 {
                    terms.push(StratumTerm { stratum: h, variance: f * (w * sz) * (w * sz), lonely: true });
                } else {
                    let s2 = ((sz2 - sz * sz / nf) / (nf - 1.0)).max(0.0);
                    terms.push(StratumTerm { stratum: h, variance: pop * pop * f * s2 / nf, lonely: false });
                }
            }
            combine_strata(&terms, lonely)
        }
    }
}

/// Codes of the lonely strata of the design: one sampled unit and not sampled completely (for
/// stratified SRSWOR; a Poisson design has none). Sorted.
pub fn lonely_strata(agg: &Aggregate, design: Design) -> Result<Vec<u32>> {
    match design {
        Design::Poisson => Ok(Vec::new()),
        Design::StratifiedSrswor => Ok(srswor_weights(agg)?
            .into_iter()
            .filter(|&(_, (n, pop, _))| n == 1 && 1.0 - 1.0 / pop >= 1e-7)
            .map(|(h, _)| h)
            .collect()),
    }
}

fn weights_for(agg: &Aggregate, design: Design) -> Result<BTreeMap<u32, (u64, f64, f64)>> {
    match design {
        Design::StratifiedSrswor => srswor_weights(agg),
        Design::Poisson => Ok(BTreeMap::new()),
    }
}

/// Linear-statistic coefficients per domain: `(a_d, m_d)` (see [`lin_variance`]).
pub(crate) type Coef = BTreeMap<u32, (f64, f64)>;

/// The estimate for the union of domains `members`; `variance(coef)` is the design variance of
/// the linear statistic with coefficients `coef` (the design's variance estimator); `df_of` is
/// the aggregate and design whose degrees of freedom (R's `degf`) the estimate reports.
fn build_estimate(
    variance: &dyn Fn(&Coef) -> Result<f64>,
    df_of: (&Aggregate, Design),
    domain: Option<u32>,
    members: &[u32],
    sums: &BTreeMap<u32, DomainSums>,
    level: f64,
) -> Result<DomainEstimate> {
    let mut s = DomainSums::default();
    for d in members {
        if let Some(x) = sums.get(d) {
            s.add(x);
        }
    }
    let population = if s.population > 0.0 { s.population } else { f64::NAN };
    let label = domain.map_or("the population".to_string(), |d| format!("domain {d}"));
    if s.n == 0 {
        return Ok(DomainEstimate::undefined(
            domain,
            population,
            level,
            format!("no sampled units in {label}"),
        ));
    }
    if s.n_hat <= 0.0 {
        return Ok(DomainEstimate::undefined(
            domain,
            population,
            level,
            format!("zero estimated size for {label}"),
        ));
    }
    let mean = s.total / s.n_hat;
    let total_coef: Coef = members.iter().map(|&d| (d, (1.0, 0.0))).collect();
    let total_var = variance(&total_coef)?;
    let mean_coef: Coef = members.iter().map(|&d| (d, (1.0 / s.n_hat, mean))).collect();
    let se = variance(&mean_coef)?.sqrt();
    let z = norm_ppf(1.0 - (1.0 - level) / 2.0);
    let reason = if s.n < 2 {
        Some(format!("only one sampled unit in {label}: variance not estimable"))
    } else {
        None
    };
    let n_eff = s.n_hat * s.n_hat / s.sum_w2;
    let in_unit = s.min_y >= 0.0 && s.max_y <= 1.0;
    let (lower, upper, interval) = headline_interval(mean, se, n_eff, z, in_unit, s.n, level);
    Ok(DomainEstimate {
        domain,
        n: s.n,
        population,
        population_hat: s.n_hat,
        total: s.total,
        total_se: total_var.sqrt(),
        ht_mean: s.total / population,
        ht_mean_se: total_var.sqrt() / population,
        mean,
        se,
        lower,
        upper,
        interval,
        wald_lower: mean - z * se,
        wald_upper: mean + z * se,
        level,
        n_eff,
        defined: true,
        reason,
        df: design_df(df_of.0, df_of.1, members, s.n),
        bounded: in_unit,
    })
}

/// Estimates for each domain in `domains` (all domains present in the aggregate when `None`).
/// Requested domains without sampled units come back undefined with a reason. Lonely strata
/// contribute zero variance ([`Lonely::Certainty`]); see [`domain_estimates_with`].
pub fn domain_estimates(
    agg: &Aggregate,
    design: Design,
    level: f64,
    domains: Option<&[u32]>,
) -> Result<Vec<DomainEstimate>> {
    domain_estimates_with(agg, design, level, domains, Lonely::Certainty)
}

/// [`domain_estimates`] with lonely strata handled as `lonely` says.
pub fn domain_estimates_with(
    agg: &Aggregate,
    design: Design,
    level: f64,
    domains: Option<&[u32]>,
    lonely: Lonely,
) -> Result<Vec<DomainEstimate>> {
    check_level(level)?;
    let weights = weights_for(agg, design)?;
    let sums = domain_sums(agg, design, &weights);
    let list: Vec<u32> = match domains {
        Some(d) => d.to_vec(),
        None => sums.keys().copied().collect(),
    };
    let var = |c: &Coef| lin_variance(agg, design, &weights, c, lonely);
    list.iter().map(|&d| build_estimate(&var, (agg, design), Some(d), &[d], &sums, level)).collect()
}

/// Estimate over all traffic (every domain together) from the same sample. Lonely strata
/// contribute zero variance ([`Lonely::Certainty`]); see [`population_estimate_with`].
pub fn population_estimate(agg: &Aggregate, design: Design, level: f64) -> Result<DomainEstimate> {
    population_estimate_with(agg, design, level, Lonely::Certainty)
}

/// [`population_estimate`] with lonely strata handled as `lonely` says.
pub fn population_estimate_with(
    agg: &Aggregate,
    design: Design,
    level: f64,
    lonely: Lonely,
) -> Result<DomainEstimate> {
    check_level(level)?;
    let weights = weights_for(agg, design)?;
    let sums = domain_sums(agg, design, &weights);
    let all: Vec<u32> = sums.keys().copied().collect();
    let var = |c: &Coef| lin_variance(agg, design, &weights, c, lonely);
    build_estimate(&var, (agg, design), None, &all, &sums, level)
}

/// Estimates per stratum (the `domain` field holds the stratum code). Lonely strata contribute
/// zero variance ([`Lonely::Certainty`]); see [`stratum_estimates_with`].
pub fn stratum_estimates(agg: &Aggregate, design: Design, level: f64) -> Result<Vec<DomainEstimate>> {
    stratum_estimates_with(agg, design, level, Lonely::Certainty)
}

/// [`stratum_estimates`] with lonely strata handled as `lonely` says.
pub fn stratum_estimates_with(
    agg: &Aggregate,
    design: Design,
    level: f64,
    lonely: Lonely,
) -> Result<Vec<DomainEstimate>> {
    domain_estimates_with(&agg.rekey_domains(|h, _| h), design, level, None, lonely)
}

/// Estimates from per-domain sums `sums` (Hájek point estimates) with a caller's variance
/// estimator: the union of all domains and each domain of `domains` (`None`: those in `sums`).
pub(crate) fn estimates_with_variance(
    sums_agg: &Aggregate,
    variance: &dyn Fn(&Coef) -> Result<f64>,
    domains: Option<&[u32]>,
    level: f64,
) -> Result<(DomainEstimate, Vec<DomainEstimate>)> {
    check_level(level)?;
    let sums = domain_sums(sums_agg, Design::Poisson, &BTreeMap::new());
    let all: Vec<u32> = sums.keys().copied().collect();
    let population =
        build_estimate(variance, (sums_agg, Design::StratifiedSrswor), None, &all, &sums, level)?;
    let list: Vec<u32> = match domains {
        Some(d) => d.to_vec(),
        None => sums.iter().filter(|(_, s)| s.n > 0).map(|(&d, _)| d).collect(),
    };
    let per = list
        .iter()
        .map(|&d| build_estimate(variance, (sums_agg, Design::StratifiedSrswor), Some(d), &[d], &sums, level))
        .collect::<Result<_>>()?;
    Ok((population, per))
}

/// Post-stratified mean: Σ_g N_g m_g / Σ_g N_g over post-strata g (the aggregate's domain codes)
/// with known population sizes `totals = [(g, N_g)]`; m_g is the Hájek mean of g. Linearised
/// variance. Undefined (with reason) when a post-stratum with N_g > 0 has no sampled units.
pub fn post_stratified_estimate(
    agg: &Aggregate,
    design: Design,
    totals: &[(u32, f64)],
    level: f64,
) -> Result<DomainEstimate> {
    post_stratified_estimate_with(agg, design, totals, level, Lonely::Certainty)
}

/// [`post_stratified_estimate`] with lonely strata handled as `lonely` says.
pub fn post_stratified_estimate_with(
    agg: &Aggregate,
    design: Design,
    totals: &[(u32, f64)],
    level: f64,
    lonely: Lonely,
) -> Result<DomainEstimate> {
    check_level(level)?;
    for (i, &(_, t)) in totals.iter().enumerate() {
        if !(t.is_finite() && t >= 0.0) {
            return Err(TierscopeError::invalid(
                format!("totals[{i}]"),
                format!("a non-negative, finite post-stratum size, got {t}"),
            ));
        }
    }
    let big_n: f64 = totals.iter().map(|t| t.1).sum();
    if big_n <= 0.0 {
        return Err(TierscopeError::invalid("totals", "at least one post-stratum with a positive size"));
    }
    let weights = weights_for(agg, design)?;
    let sums = domain_sums(agg, design, &weights);
    let mut coef = BTreeMap::new();
    let mut mean = 0.0;
    let (mut n, mut sw, mut sw2) = (0u64, 0.0, 0.0);
    let mut in_unit = true;
    for &(g, ng) in totals {
        if ng == 0.0 {
            continue;
        }
        let s = sums.get(&g).copied().unwrap_or_default();
        if s.n == 0 || s.n_hat <= 0.0 {
            return Ok(DomainEstimate::undefined(
                None,
                big_n,
                level,
                format!("post-stratum {g} has population {ng} but no sampled units"),
            ));
        }
        let m = s.total / s.n_hat;
        in_unit &= s.min_y >= 0.0 && s.max_y <= 1.0;
        mean += ng * m / big_n;
        coef.insert(g, (ng / (big_n * s.n_hat), m));
        n += s.n;
        // Kish n_eff with the post-stratification-adjusted weights w · N_g / N̂_g.
        let f = ng / s.n_hat;
        sw += f * s.n_hat;
        sw2 += f * f * s.sum_w2;
    }
    let se = lin_variance(agg, design, &weights, &coef, lonely)?.sqrt();
    let z = norm_ppf(1.0 - (1.0 - level) / 2.0);
    let n_eff = sw * sw / sw2;
    let (lower, upper, interval) = headline_interval(mean, se, n_eff, z, in_unit, n, level);
    let members: Vec<u32> = totals.iter().filter(|t| t.1 > 0.0).map(|t| t.0).collect();
    Ok(DomainEstimate {
        domain: None,
        n,
        population: big_n,
        population_hat: big_n,
        total: mean * big_n,
        total_se: se * big_n,
        ht_mean: mean,
        ht_mean_se: se,
        mean,
        se,
        lower,
        upper,
        interval,
        wald_lower: mean - z * se,
        wald_upper: mean + z * se,
        level,
        n_eff,
        defined: true,
        reason: None,
        df: design_df(agg, design, &members, n),
        bounded: in_unit,
    })
}

/// Hájek difference m_a − m_b between two domains with its linearised (design-based Wald)
/// standard error, covariance included. Returns `(diff, se)`, or `None` when either domain has
/// no sampled units.
pub fn domain_difference(agg: &Aggregate, design: Design, a: u32, b: u32) -> Result<Option<(f64, f64)>> {
    domain_difference_with(agg, design, a, b, Lonely::Certainty)
}

/// [`domain_difference`] with lonely strata handled as `lonely` says.
pub fn domain_difference_with(
    agg: &Aggregate,
    design: Design,
    a: u32,
    b: u32,
    lonely: Lonely,
) -> Result<Option<(f64, f64)>> {
    if a == b {
        return Err(TierscopeError::invalid("domain_b", format!("a domain different from domain_a ({a})")));
    }
    let weights = weights_for(agg, design)?;
    let sums = domain_sums(agg, design, &weights);
    let (Some(sa), Some(sb)) = (sums.get(&a), sums.get(&b)) else { return Ok(None) };
    if sa.n == 0 || sb.n == 0 || sa.n_hat <= 0.0 || sb.n_hat <= 0.0 {
        return Ok(None);
    }
    let (ma, mb) = (sa.total / sa.n_hat, sb.total / sb.n_hat);
    let coef: BTreeMap<u32, (f64, f64)> =
        [(a, (1.0 / sa.n_hat, ma)), (b, (-1.0 / sb.n_hat, mb))].into_iter().collect();
    Ok(Some((ma - mb, lin_variance(agg, design, &weights, &coef, lonely)?.sqrt())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// All k-subsets of 0..n.
    fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let mut cur = Vec::new();
        fn rec(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if cur.len() == k {
                out.push(cur.clone());
                return;
            }
            for i in start..n {
                cur.push(i);
                rec(i + 1, n, k, cur, out);
                cur.pop();
            }
        }
        rec(0, n, k, &mut cur, &mut out);
        out
    }

    #[test]
    fn empty_domain_is_undefined_with_reason() {
        let agg = Aggregate::from_sample(&[1.0, 0.0], &[0.5, 0.5], &[0, 0], &[0, 0]).unwrap();
        let est = domain_estimates(&agg, Design::Poisson, 0.95, Some(&[0, 7])).unwrap();
        assert!(est[0].defined);
        assert!(!est[1].defined && est[1].mean.is_nan());
        assert!(est[1].reason.as_deref().unwrap().contains("no sampled units"));
    }

    #[test]
    fn srswor_requires_population() {
        let agg = Aggregate::from_sample(&[1.0, 0.0], &[0.5, 0.5], &[0, 0], &[0, 0]).unwrap();
        assert!(domain_estimates(&agg, Design::StratifiedSrswor, 0.95, None).is_err());
    }

    #[test]
    fn srswor_matches_textbook_formula() {
        // One stratum, N = 10, sample of 4: variance N²(1 − n/N) s²/n.
        let y = [1.0, 0.0, 1.0, 1.0];
        let mut agg = Aggregate::from_sample(&y, &[0.4; 4], &[0; 4], &[0; 4]).unwrap();
        agg.add_population_count(0, 0, 10.0).unwrap();
        let e = population_estimate(&agg, Design::StratifiedSrswor, 0.95).unwrap();
        let s2 = (3.0 - 9.0 / 4.0) / 3.0;
        assert!((e.total - 7.5).abs() < 1e-12);
        assert!((e.total_se - (100.0 * 0.6 * s2 / 4.0f64).sqrt()).abs() < 1e-12);
        assert!((e.mean - 0.75).abs() < 1e-12 && (e.ht_mean - 0.75).abs() < 1e-12);
    }

    #[test]
    fn lonely_fail_names_the_stratum_and_certain_strata_are_not_lonely() {
        // Stratum 1 has one unit of 5 (lonely); stratum 2 one unit of 1 (sampled completely).
        let y = [1.0, 2.0, 4.0, 3.0];
        let mut agg = Aggregate::from_sample(&y, &[0.5; 4], &[0, 0, 1, 2], &[0; 4]).unwrap();
        for (h, n) in [(0, 6.0), (1, 5.0), (2, 1.0)] {
            agg.add_population_count(h, 0, n).unwrap();
        }
        assert_eq!(lonely_strata(&agg, Design::StratifiedSrswor).unwrap(), vec![1]);
        assert!(lonely_strata(&agg, Design::Poisson).unwrap().is_empty());
        let err = population_estimate_with(&agg, Design::StratifiedSrswor, 0.95, Lonely::Fail).unwrap_err();
        assert!(err.to_string().contains("stratum 1"), "{err}");
        let cert = population_estimate_with(&agg, Design::StratifiedSrswor, 0.95, Lonely::Certainty).unwrap();
        let adj = population_estimate_with(&agg, Design::StratifiedSrswor, 0.95, Lonely::Adjust).unwrap();
        // adjust adds f (N y)² = (1 − 1/5)(5 · 4)².
        assert!((adj.total_se.powi(2) - cert.total_se.powi(2) - 0.8 * 400.0).abs() < 1e-9);
        assert!(Lonely::parse("ignore").is_err());
    }

    proptest! {
        /// The lonely rules relate as R's do: none matters without lonely strata; "remove" and
        /// "certainty" agree with the legacy functions; "adjust" adds; "average" scales by
        /// strata / non-lonely strata.
        #[test]
        fn lonely_rules_relate(
            sizes in prop::collection::vec(1usize..4, 2..7),
            ys in prop::collection::vec(0.0f64..1.0, 24),
        ) {
            let mut agg = Aggregate::new();
            let mut k = 0;
            for (h, &n) in sizes.iter().enumerate() {
                for _ in 0..n {
                    agg.add_sample(&[ys[k]], &[0.5], &[h as u32], &[(k % 2) as u32]).unwrap();
                    k += 1;
                }
                agg.add_population_count(h as u32, 0, (3 * n) as f64).unwrap();
            }
            let v = |l| population_estimate_with(&agg, Design::StratifiedSrswor, 0.9, l).map(|e| e.total_se.powi(2));
            let legacy = population_estimate(&agg, Design::StratifiedSrswor, 0.9).unwrap().total_se.powi(2);
            let (cert, adj, avg) = (v(Lonely::Certainty).unwrap(), v(Lonely::Adjust).unwrap(), v(Lonely::Average).unwrap());
            prop_assert_eq!(cert, legacy);
            prop_assert_eq!(v(Lonely::Remove).unwrap(), cert);
            let lonely = sizes.iter().filter(|&&n| n == 1).count();
            prop_assert_eq!(lonely_strata(&agg, Design::StratifiedSrswor).unwrap().len(), lonely);
            prop_assert_eq!(v(Lonely::Fail).is_err(), lonely > 0);
            if lonely == 0 {
                prop_assert_eq!(adj, cert);
                prop_assert_eq!(avg, cert);
            } else {
                prop_assert!(adj >= cert);
                if lonely < sizes.len() {
                    let want = cert * sizes.len() as f64 / (sizes.len() - lonely) as f64;
                    prop_assert!((avg - want).abs() <= 1e-12 * (1.0 + want));
                } else {
                    prop_assert!(avg.is_nan());
                }
            }
        }

        /// Average HT total over all stratified SRSWOR samples equals the population total, and
        /// the average variance estimate equals the true variance of the HT total.
        #[test]
        fn ht_unbiased_stratified_srswor(
            ys in prop::collection::vec(-5.0f64..5.0, 9),
            split in 2usize..7, n1 in 2usize..4, n2 in 2usize..4,
        ) {
            let (a, b) = (&ys[..split], &ys[split..]);
            let truth: f64 = ys.iter().sum();
            let (c1, c2) = (combinations(a.len(), n1.min(a.len())), combinations(b.len(), n2.min(b.len())));
            let mut totals = Vec::new();
            let mut var_est = 0.0;
            for s1 in &c1 {
                for s2 in &c2 {
                    let mut agg = Aggregate::new();
                    for &i in s1 { agg.add_sample(&[a[i]], &[0.5], &[0], &[0]).unwrap(); }
                    for &i in s2 { agg.add_sample(&[b[i]], &[0.5], &[1], &[0]).unwrap(); }
                    agg.add_population_count(0, 0, a.len() as f64).unwrap();
                    agg.add_population_count(1, 0, b.len() as f64).unwrap();
                    let e = population_estimate(&agg, Design::StratifiedSrswor, 0.95).unwrap();
                    totals.push(e.total);
                    var_est += e.total_se * e.total_se;
                }
            }
            let k = totals.len() as f64;
            let mean = totals.iter().sum::<f64>() / k;
            prop_assert!((mean - truth).abs() <= 1e-9 * (1.0 + truth.abs()));
            let true_var = totals.iter().map(|t| (t - truth).powi(2)).sum::<f64>() / k;
            prop_assert!((var_est / k - true_var).abs() <= 1e-8 * (1.0 + true_var));
        }

        /// Poisson design: enumerate all 2^N subsets; E[HT total] = Y and E[v̂] = Var.
        #[test]
        fn ht_unbiased_poisson(
            ys in prop::collection::vec(-3.0f64..3.0, 1..9),
            pis in prop::collection::vec(0.05f64..1.0, 9),
        ) {
            let n = ys.len();
            let truth: f64 = ys.iter().sum();
            let (mut e_total, mut e_total2, mut e_var) = (0.0, 0.0, 0.0);
            for mask in 0u32..(1 << n) {
                let mut prob = 1.0;
                let (mut y, mut p) = (Vec::new(), Vec::new());
                for i in 0..n {
                    if mask & (1 << i) != 0 { prob *= pis[i]; y.push(ys[i]); p.push(pis[i]); } else { prob *= 1.0 - pis[i]; }
                }
                let agg = Aggregate::from_sample(&y, &p, &vec![0; y.len()], &vec![0; y.len()]).unwrap();
                let weights = BTreeMap::new();
                let sums = domain_sums(&agg, Design::Poisson, &weights);
                let t = sums.get(&0).map_or(0.0, |s| s.total);
                let coef: BTreeMap<u32, (f64, f64)> = [(0, (1.0, 0.0))].into_iter().collect();
                let v = lin_variance(&agg, Design::Poisson, &weights, &coef, Lonely::Fail).unwrap();
                e_total += prob * t;
                e_total2 += prob * t * t;
                e_var += prob * v;
            }
            prop_assert!((e_total - truth).abs() <= 1e-9 * (1.0 + truth.abs()));
            let true_var = e_total2 - e_total * e_total;
            prop_assert!((e_var - true_var).abs() <= 1e-8 * (1.0 + true_var.abs()));
        }

        /// Merging is associative and estimates over partitions equal the estimate over the whole.
        #[test]
        fn merge_partition_invariant(
            rows in prop::collection::vec((0.0f64..1.0, 0.05f64..1.0, 0u32..3, 0u32..2), 4..60),
            cut1 in 0usize..60, cut2 in 0usize..60,
        ) {
            let n = rows.len();
            let (c1, c2) = (cut1.min(n), cut2.min(n));
            let (c1, c2) = (c1.min(c2), c1.max(c2));
            let part = |r: &[(f64, f64, u32, u32)]| {
                let y: Vec<f64> = r.iter().map(|x| x.0).collect();
                let p: Vec<f64> = r.iter().map(|x| x.1).collect();
                let h: Vec<u32> = r.iter().map(|x| x.2).collect();
                let d: Vec<u32> = r.iter().map(|x| x.3).collect();
                let mut a = Aggregate::from_sample(&y, &p, &h, &d).unwrap();
                a.add_population(&h, &d).unwrap();
                a.add_population(&h, &d).unwrap();
                a
            };
            let (a, b, c) = (part(&rows[..c1]), part(&rows[c1..c2]), part(&rows[c2..]));
            let whole = part(&rows);
            let left = Aggregate::merged(&Aggregate::merged(&a, &b), &c);
            let right = Aggregate::merged(&a, &Aggregate::merged(&b, &c));
            for design in [Design::Poisson, Design::StratifiedSrswor] {
                let ew = domain_estimates(&whole, design, 0.9, None).unwrap();
                let el = domain_estimates(&left, design, 0.9, None).unwrap();
                let er = domain_estimates(&right, design, 0.9, None).unwrap();
                prop_assert_eq!(ew.len(), el.len());
                for ((w, l), r) in ew.iter().zip(&el).zip(&er) {
                    for (x, y) in [(w.mean, l.mean), (w.se, l.se), (l.mean, r.mean), (l.se, r.se), (w.total, l.total)] {
                        prop_assert!((x - y).abs() <= 1e-9 * (1.0 + x.abs()), "{} vs {}", x, y);
                    }
                }
            }
            let back = Aggregate::from_json(&left.to_json().unwrap()).unwrap();
            prop_assert_eq!(back, left);
        }
    }
}
