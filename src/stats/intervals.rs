//! Confidence intervals for a proportion (Wilson, Clopper–Pearson, Agresti–Coull, Jeffreys), for
//! the mean of a bounded score (t interval, seeded percentile bootstrap), and for a design-based
//! proportion from its estimate and design standard error ([`survey_proportion_interval`]:
//! capped-effective-n Wilson, and R `survey::svyciprop`'s "logit", "beta", "asin", "mean",
//! "xlogit").
//!
//! Formulas follow statsmodels' `proportion_confint` and `DescrStatsW.tconfint_mean` so the
//! results agree with them to floating-point accuracy (tested to 1e-9 relative); the design-based
//! ones follow `svyciprop` (survey 4.1.1, `df = Inf`), checked against stored R values.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::rng::Xoshiro256;
use super::special::{beta_isf, beta_ppf, norm_ppf, t_ppf};
use super::{check_finite, check_level, check_same_len};
use crate::error::{Result, TierscopeError};

/// A two-sided confidence interval with its point estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Point estimate.
    pub estimate: f64,
    /// Method name (e.g. "wilson").
    pub method: String,
    /// Confidence level in (0, 1).
    pub level: f64,
}

/// Interval methods for a binomial proportion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProportionMethod {
    /// Wilson score interval.
    Wilson,
    /// Clopper–Pearson exact interval (beta quantiles).
    ClopperPearson,
    /// Agresti–Coull interval.
    AgrestiCoull,
    /// Jeffreys (Beta(1/2, 1/2) prior) equal-tailed interval.
    Jeffreys,
}

impl ProportionMethod {
    /// Parse a method name (`wilson`, `clopper_pearson`/`beta`/`exact`, `agresti_coull`, `jeffreys`).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "wilson" => Ok(Self::Wilson),
            "clopper_pearson" | "beta" | "exact" => Ok(Self::ClopperPearson),
            "agresti_coull" => Ok(Self::AgrestiCoull),
            "jeffreys" => Ok(Self::Jeffreys),
            other => Err(TierscopeError::invalid(
                "method",
                format!("one of 'wilson', 'clopper_pearson', 'agresti_coull', 'jeffreys', got '{other}'"),
            )),
        }
    }

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wilson => "wilson",
            Self::ClopperPearson => "clopper_pearson",
            Self::AgrestiCoull => "agresti_coull",
            Self::Jeffreys => "jeffreys",
        }
    }
}

/// Interval methods for a design-based proportion (a Hájek mean of scores in [0, 1] with its
/// linearised standard error). The names after the default are R `survey::svyciprop`'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SurveyMethod {
    /// Wilson score interval at the effective sample size n* = min(n, m(1 − m)/SE²) — the
    /// default (see [`survey_proportion_interval`] for why n* is capped at n).
    #[default]
    Wilson,
    /// Wald interval on the logit scale: expit(logit m ± z·SE/(m(1 − m))). `svyciprop`'s
    /// "logit" fits a quasibinomial `svyglm`, whose intercept-only fit is exactly this interval.
    Logit,
    /// Korn–Graubard: Clopper–Pearson at n* = m(1 − m)/SE² · (t_{n−1}/t_df)², as `svyciprop`'s
    /// "beta" (not capped at n, like R's).
    Beta,
    /// Wald interval on the arcsine-square-root scale, back-transformed with sin².
    Asin,
    /// Plain Wald interval m ± z·SE ("mean" in `svyciprop`), clipped to [0, 1].
    Mean,
    /// Delta-method Wald interval for logit m, back-transformed with expit.
    Xlogit,
}

impl SurveyMethod {
    /// Every method, the default first.
    pub const ALL: [SurveyMethod; 6] =
        [Self::Wilson, Self::Logit, Self::Beta, Self::Asin, Self::Mean, Self::Xlogit];

    /// Parse a method name (`wilson`, `logit`, `beta`, `asin`, `mean`, `xlogit`).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name.to_ascii_lowercase()).ok_or_else(|| {
            TierscopeError::invalid(
                "interval",
                format!(
                    "one of 'wilson', 'logit', 'beta', 'asin', 'mean', 'xlogit' ('likelihood' is not \
                     implemented), got '{name}'"
                ),
            )
        })
    }

    /// Canonical name (R's for the `svyciprop` methods).
    pub fn name(self) -> &'static str {
        match self {
            Self::Wilson => "wilson",
            Self::Logit => "logit",
            Self::Beta => "beta",
            Self::Asin => "asin",
            Self::Mean => "mean",
            Self::Xlogit => "xlogit",
        }
    }
}

/// What a design-based proportion interval is computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurveyProportion {
    /// The estimate m in [0, 1].
    pub mean: f64,
    /// Its design standard error.
    pub se: f64,
    /// Number of sampled units behind it.
    pub n: f64,
    /// Kish effective sample size (Σw)²/Σw² (the fallback n* when m(1 − m)/SE² is degenerate).
    pub n_kish: f64,
    /// Design degrees of freedom (sampled units − strata; R's `degf`), used by "beta" only.
    pub df: f64,
}

/// Interval for a design-based proportion at confidence `level` with `method`; returns
/// `(lower, upper, method name actually used)`.
///
/// The default Wilson interval is computed at n* = min(n, m(1 − m)/SE²): the design effect
/// SE²/(m(1 − m)/n) is floored at 1. Why: with few failures, all of them in heavily sampled
/// (low-weight) units, the linearised SE is itself a noisy, downward-biased estimate — a single
/// sampled failure in a low-weight stratum makes it tiny, m(1 − m)/SE² then exceeds n by far, and
/// the interval collapses (coverage 0.85 instead of 0.95 for a 28-review tier in
/// simulation). A design effect
/// below 1 is a real gain only when the weights track the outcome, which those few events cannot
/// show; Korn and Graubard (1998) truncate their effective n at n for the same reason. With the
/// cap, coverage is 0.93–0.97 in every audit scenario of `tests/stats/test_interval_coverage.py`.
/// The Kish n_eff is not used as a further cap: when the weights track the outcome (failures
/// oversampled, as the review plan does) the true design effect is below Kish's, so that cap would
/// widen intervals that already cover (0.95–0.97 with the n cap alone).
///
/// When m is 0 or 1 or SE is 0 every method falls back to this Wilson interval at
/// n* = min(n, Kish n_eff) and says "wilson" (R returns NaN or a zero-width interval there).
/// The quantile is the normal one (R's `df = Inf`); R's default `df = degf(design)` gives slightly
/// wider intervals for small samples.
pub fn survey_proportion_interval(
    p: SurveyProportion,
    level: f64,
    method: SurveyMethod,
) -> Result<(f64, f64, &'static str)> {
    check_level(level)?;
    let SurveyProportion { mean, se, n, n_kish, df } = p;
    if !(mean.is_finite() && (0.0..=1.0).contains(&mean)) {
        return Err(TierscopeError::invalid("mean", format!("a proportion in [0, 1], got {mean}")));
    }
    if !(se.is_finite() && se >= 0.0) {
        return Err(TierscopeError::invalid(
            "se",
            format!("a finite, non-negative standard error, got {se}"),
        ));
    }
    if !(n.is_finite() && n > 0.0) {
        return Err(TierscopeError::invalid("n", format!("a positive number of sampled units, got {n}")));
    }
    let alpha2 = (1.0 - level) / 2.0;
    let z = norm_ppf(1.0 - alpha2);
    let pq = mean * (1.0 - mean);
    if pq <= 0.0 || se <= 0.0 {
        let kish = if n_kish.is_finite() && n_kish > 0.0 { n_kish.min(n) } else { n };
        let (lo, hi) = wilson_at(mean, kish, z);
        return Ok((lo, hi, SurveyMethod::Wilson.name()));
    }
    let out = match method {
        SurveyMethod::Wilson => wilson_at(mean, (pq / (se * se)).min(n), z),
        SurveyMethod::Logit | SurveyMethod::Xlogit => {
            let eta = (mean / (1.0 - mean)).ln();
            let half = z * se / pq;
            (expit(eta - half), expit(eta + half))
        }
        SurveyMethod::Asin => {
            // Clamped to [0, π/2] so sin² stays monotone (R's sin² folds back there).
            let theta = mean.sqrt().asin();
            let half = z * se / (2.0 * pq.sqrt());
            let hi_theta = std::f64::consts::FRAC_PI_2;
            (
                (theta - half).clamp(0.0, hi_theta).sin().powi(2),
                (theta + half).clamp(0.0, hi_theta).sin().powi(2),
            )
        }
        SurveyMethod::Mean => ((mean - z * se).max(0.0), (mean + z * se).min(1.0)),
        SurveyMethod::Beta => {
            let mut n_eff = pq / (se * se);
            if n >= 2.0 && df >= 1.0 {
                let ratio = t_ppf(alpha2, n - 1.0) / t_ppf(alpha2, df);
                n_eff *= ratio * ratio;
            }
            let (x, y) = (n_eff * mean, n_eff * (1.0 - mean));
            (beta_ppf(alpha2, x, y + 1.0), beta_isf(alpha2, x + 1.0, y))
        }
    };
    Ok((out.0, out.1, method.name()))
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Wilson score interval for proportion `q` at (possibly fractional) sample size `n`.
fn wilson_at(q: f64, n: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (q + z2 / (2.0 * n)) / denom;
    let half = z * (q * (1.0 - q) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At q = 0 or 1 the exact bound is 0 or 1; do not leave it to rounding.
    let lower = if q == 0.0 { 0.0 } else { (center - half).max(0.0) };
    let upper = if q == 1.0 { 1.0 } else { (center + half).min(1.0) };
    (lower, upper)
}

fn check_counts(successes: f64, n: f64) -> Result<()> {
    if !n.is_finite() || n <= 0.0 {
        return Err(TierscopeError::invalid("n", format!("a positive, finite number of trials, got {n}")));
    }
    if !successes.is_finite() || successes < 0.0 || successes > n {
        return Err(TierscopeError::invalid(
            "successes",
            format!("a count in [0, n = {n}], got {successes}"),
        ));
    }
    Ok(())
}

/// Interval for a binomial proportion `successes / n` at confidence `level`.
///
/// Counts may be fractional (e.g. effective counts); Clopper–Pearson and Jeffreys then use the
/// beta quantiles at the fractional shape parameters, exactly as statsmodels does.
pub fn proportion_interval(successes: f64, n: f64, level: f64, method: ProportionMethod) -> Result<Interval> {
    check_counts(successes, n)?;
    check_level(level)?;
    let alpha2 = (1.0 - level) / 2.0;
    let q = successes / n;
    let (lower, upper, estimate) = match method {
        ProportionMethod::Wilson => {
            let crit = -norm_ppf(alpha2);
            let crit2 = crit * crit;
            let denom = 1.0 + crit2 / n;
            let center = (q + crit2 / (2.0 * n)) / denom;
            let dist = crit * (q * (1.0 - q) / n + crit2 / (4.0 * n * n)).sqrt() / denom;
            ((center - dist).clamp(0.0, 1.0), (center + dist).clamp(0.0, 1.0), q)
        }
        ProportionMethod::AgrestiCoull => {
            let crit = -norm_ppf(alpha2);
            let nc = n + crit * crit;
            let qc = (successes + crit * crit / 2.0) / nc;
            let dist = crit * (qc * (1.0 - qc) / nc).sqrt();
            ((qc - dist).clamp(0.0, 1.0), (qc + dist).clamp(0.0, 1.0), q)
        }
        ProportionMethod::ClopperPearson => {
            let lower = if successes == 0.0 { 0.0 } else { beta_ppf(alpha2, successes, n - successes + 1.0) };
            let upper = if successes == n { 1.0 } else { beta_isf(alpha2, successes + 1.0, n - successes) };
            (lower, upper, q)
        }
        ProportionMethod::Jeffreys => {
            let (a, b) = (successes + 0.5, n - successes + 0.5);
            (beta_ppf(alpha2, a, b), beta_isf(alpha2, a, b), q)
        }
    };
    Ok(Interval { lower, upper, estimate, method: method.name().to_string(), level })
}

/// Many intervals as columns: `lower[i]`, `upper[i]`, `estimate[i]` belong together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalColumns {
    /// Lower bounds.
    pub lower: Vec<f64>,
    /// Upper bounds.
    pub upper: Vec<f64>,
    /// Point estimates.
    pub estimate: Vec<f64>,
}

/// [`proportion_interval`] for every `(successes[i], n[i])`, as columns. An invalid count is
/// reported with its index (`successes[3]`).
pub fn proportion_intervals(
    successes: &[f64],
    n: &[f64],
    level: f64,
    method: ProportionMethod,
) -> Result<IntervalColumns> {
    check_same_len("n", n.len(), "successes", successes.len())?;
    let mut columns = IntervalColumns {
        lower: Vec::with_capacity(successes.len()),
        upper: Vec::with_capacity(successes.len()),
        estimate: Vec::with_capacity(successes.len()),
    };
    for (i, (&x, &trials)) in successes.iter().zip(n).enumerate() {
        let interval = proportion_interval(x, trials, level, method).map_err(|e| at_index(e, i))?;
        columns.lower.push(interval.lower);
        columns.upper.push(interval.upper);
        columns.estimate.push(interval.estimate);
    }
    Ok(columns)
}

/// `argument` → `argument[i]` in a bad-input error about element `i`.
fn at_index(err: TierscopeError, i: usize) -> TierscopeError {
    match err {
        TierscopeError::InvalidInput { argument, expected } => {
            TierscopeError::InvalidInput { argument: format!("{argument}[{i}]"), expected }
        }
        other => other,
    }
}

/// Wilson score interval.
pub fn wilson(successes: f64, n: f64, level: f64) -> Result<Interval> {
    proportion_interval(successes, n, level, ProportionMethod::Wilson)
}

/// Clopper–Pearson exact interval.
pub fn clopper_pearson(successes: f64, n: f64, level: f64) -> Result<Interval> {
    proportion_interval(successes, n, level, ProportionMethod::ClopperPearson)
}

/// Agresti–Coull interval.
pub fn agresti_coull(successes: f64, n: f64, level: f64) -> Result<Interval> {
    proportion_interval(successes, n, level, ProportionMethod::AgrestiCoull)
}

/// Jeffreys interval.
pub fn jeffreys(successes: f64, n: f64, level: f64) -> Result<Interval> {
    proportion_interval(successes, n, level, ProportionMethod::Jeffreys)
}

fn check_weights(name: &str, w: &[f64]) -> Result<()> {
    for (i, &v) in w.iter().enumerate() {
        if !v.is_finite() || v < 0.0 {
            return Err(TierscopeError::invalid(
                format!("{name}[{i}]"),
                format!("a finite, non-negative weight, got {v}"),
            ));
        }
    }
    Ok(())
}

/// t interval for the mean of `values`, with optional frequency weights (statsmodels
/// `DescrStatsW(values, weights).tconfint_mean`: df = Σw − 1, SE = sd_ddof0 / sqrt(Σw − 1)).
pub fn t_interval(values: &[f64], weights: Option<&[f64]>, level: f64) -> Result<Interval> {
    check_finite("values", values)?;
    check_level(level)?;
    if let Some(w) = weights {
        check_same_len("weights", w.len(), "values", values.len())?;
        check_weights("weights", w)?;
    }
    let w_at = |i: usize| weights.map_or(1.0, |w| w[i]);
    let sw: f64 = (0..values.len()).map(w_at).sum();
    if sw <= 1.0 {
        return Err(TierscopeError::invalid(
            "values",
            format!("a total weight (sample size) above 1, got {sw}"),
        ));
    }
    let mean = (0..values.len()).map(|i| w_at(i) * values[i]).sum::<f64>() / sw;
    let ss = (0..values.len()).map(|i| w_at(i) * (values[i] - mean).powi(2)).sum::<f64>();
    let std0 = (ss / sw).sqrt();
    let se = std0 / (sw - 1.0).sqrt();
    let crit = t_ppf(1.0 - (1.0 - level) / 2.0, sw - 1.0);
    Ok(Interval {
        lower: mean - crit * se,
        upper: mean + crit * se,
        estimate: mean,
        method: "t".to_string(),
        level,
    })
}

/// Options for [`bootstrap_interval`].
#[derive(Clone, Copy, Debug)]
pub struct BootstrapOptions {
    /// Number of bootstrap replicates (>= 10).
    pub replicates: usize,
    /// Seed; results are identical for a given seed whatever the thread count.
    pub seed: u64,
    /// Worker threads (0 = the available cores; see [`crate::pool`]).
    pub threads: usize,
    /// Confidence level.
    pub level: f64,
}

/// Block size for the block-multinomial resampler: a power of two so 64 random bits give six
/// 10-bit in-block indices without rejection, and a block (8 KiB of f64) stays in L1 cache.
const BLOCK_BITS: u32 = 10;
const BLOCK: usize = 1 << BLOCK_BITS;

/// Percentile bootstrap interval for the (optionally weighted, Hájek) mean of `values`.
///
/// A replicate is the statistic over a with-replacement resample of all rows. Resamples are
/// never materialised: with few distinct (value, weight) pairs (ratings, binary judgements) the
/// replicate draws multinomial counts over the distinct pairs (O(#distinct) binomials); otherwise
/// it draws multinomial counts over blocks of 1,024 rows and then uniform in-block positions, so
/// every random access hits L1 cache. Both are exact multinomial resampling. The percentile
/// interval interpolates linearly between order statistics (numpy's default).
pub fn bootstrap_interval(
    values: &[f64],
    weights: Option<&[f64]>,
    opts: BootstrapOptions,
) -> Result<Interval> {
    check_finite("values", values)?;
    check_level(opts.level)?;
    if values.is_empty() {
        return Err(TierscopeError::invalid("values", "at least one value"));
    }
    if opts.replicates < 10 {
        return Err(TierscopeError::invalid(
            "replicates",
            format!("at least 10 bootstrap replicates, got {}", opts.replicates),
        ));
    }
    if let Some(w) = weights {
        check_same_len("weights", w.len(), "values", values.len())?;
        check_weights("weights", w)?;
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(TierscopeError::invalid("weights", "a positive total weight"));
        }
    }
    let n = values.len();
    let estimate = match weights {
        None => values.iter().sum::<f64>() / n as f64,
        Some(w) => values.iter().zip(w).map(|(y, w)| y * w).sum::<f64>() / w.iter().sum::<f64>(),
    };
    let stats = bootstrap_replicates(values, weights, opts)?;
    let mut sorted = stats;
    sorted.sort_by(|a, b| a.total_cmp(b));
    let alpha = 1.0 - opts.level;
    Ok(Interval {
        lower: percentile_sorted(&sorted, alpha / 2.0),
        upper: percentile_sorted(&sorted, 1.0 - alpha / 2.0),
        estimate,
        method: "bootstrap_percentile".to_string(),
        level: opts.level,
    })
}

/// Linear-interpolation quantile `q` in [0, 1] of sorted data, computed exactly as numpy's
/// default (`np.quantile(x, q)`: virtual index (n − 1)·q, and its two-sided lerp).
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The bootstrap replicate statistics (unsorted), one per replicate.
pub fn bootstrap_replicates(
    values: &[f64],
    weights: Option<&[f64]>,
    opts: BootstrapOptions,
) -> Result<Vec<f64>> {
    let n = values.len();
    // Distinct (value, weight) pairs with their multiplicities, found with a bounded hash scan
    // that stops as soon as the data has too many distinct pairs for the multinomial-count path
    // to pay off (it costs one binomial draw per distinct pair per replicate).
    let limit = (n / 32).clamp(64, 4096);
    let mut seen: std::collections::HashMap<(u64, u64), u64> = std::collections::HashMap::new();
    let mut few_distinct = true;
    for i in 0..n {
        let key = (values[i].to_bits(), weights.map_or(1.0f64, |w| w[i]).to_bits());
        *seen.entry(key).or_insert(0) += 1;
        if seen.len() > limit {
            few_distinct = false;
            break;
        }
    }
    let mut distinct: Vec<(f64, f64, u64)> = if few_distinct {
        seen.into_iter().map(|((y, w), c)| (f64::from_bits(y), f64::from_bits(w), c)).collect()
    } else {
        Vec::new()
    };
    // Fixed order so results depend only on the seed.
    distinct.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let weighted = weights.is_some();
    let out = crate::pool::install(opts.threads, || {
        (0..opts.replicates)
            .into_par_iter()
            .map(|r| {
                let mut rng = Xoshiro256::new(opts.seed, r as u64);
                if few_distinct {
                    replicate_distinct(&distinct, n as u64, &mut rng)
                } else if weighted {
                    replicate_blocks_weighted(values, weights.unwrap_or(&[]), &mut rng)
                } else {
                    replicate_blocks(values, &mut rng)
                }
            })
            .collect::<Vec<f64>>()
    })?;
    Ok(out)
}

/// Multinomial counts over distinct pairs via sequential conditional binomials.
fn replicate_distinct(distinct: &[(f64, f64, u64)], n: u64, rng: &mut Xoshiro256) -> f64 {
    let mut remaining_draws = n;
    let mut remaining_mass = n;
    let (mut swy, mut sw) = (0.0, 0.0);
    for &(y, w, c) in distinct {
        if remaining_draws == 0 {
            break;
        }
        let k = if c >= remaining_mass {
            remaining_draws
        } else {
            rng.binomial(remaining_draws, c as f64 / remaining_mass as f64)
        };
        remaining_draws -= k;
        remaining_mass -= c;
        swy += k as f64 * w * y;
        sw += k as f64 * w;
    }
    if sw > 0.0 {
        swy / sw
    } else {
        f64::NAN
    }
}

/// Multinomial counts over the blocks of `len` rows (sizes `BLOCK`, last one shorter).
fn block_counts(len: usize, rng: &mut Xoshiro256) -> Vec<u64> {
    let blocks = len.div_ceil(BLOCK);
    let mut counts = vec![0u64; blocks];
    let mut remaining_draws = len as u64;
    let mut remaining_rows = len as u64;
    for (b, count) in counts.iter_mut().enumerate() {
        let size = (len - b * BLOCK).min(BLOCK) as u64;
        let k = if size >= remaining_rows {
            remaining_draws
        } else {
            rng.binomial(remaining_draws, size as f64 / remaining_rows as f64)
        };
        *count = k;
        remaining_draws -= k;
        remaining_rows -= size;
    }
    counts
}

/// Sum of `count` uniform draws from `block` (a full block of `BLOCK` rows uses six 10-bit
/// indices per 64 random bits; the fixed-size array view lets the compiler drop bounds checks).
#[inline]
fn block_sum(block: &[f64], count: u64, rng: &mut Xoshiro256) -> f64 {
    let mask = (BLOCK - 1) as u64;
    let mut acc = [0.0f64; 6];
    let mut left = count;
    if let Ok(full) = <&[f64; BLOCK]>::try_from(block) {
        let idx = |r: u64, shift: u32| ((r >> shift) & mask) as usize;
        while left >= 6 {
            let r = rng.bits();
            acc[0] += full[idx(r, 0)];
            acc[1] += full[idx(r, 10)];
            acc[2] += full[idx(r, 20)];
            acc[3] += full[idx(r, 30)];
            acc[4] += full[idx(r, 40)];
            acc[5] += full[idx(r, 50)];
            left -= 6;
        }
        while left > 0 {
            acc[0] += full[idx(rng.bits(), 0)];
            left -= 1;
        }
    } else {
        for _ in 0..left {
            acc[0] += block[rng.below(block.len() as u64) as usize];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + (acc[4] + acc[5])
}

fn replicate_blocks(values: &[f64], rng: &mut Xoshiro256) -> f64 {
    let counts = block_counts(values.len(), rng);
    let mut total = 0.0;
    for (b, &c) in counts.iter().enumerate() {
        if c > 0 {
            let block = &values[b * BLOCK..((b + 1) * BLOCK).min(values.len())];
            total += block_sum(block, c, rng);
        }
    }
    total / values.len() as f64
}

fn replicate_blocks_weighted(values: &[f64], weights: &[f64], rng: &mut Xoshiro256) -> f64 {
    let counts = block_counts(values.len(), rng);
    let (mut swy, mut sw) = (0.0, 0.0);
    for (b, &c) in counts.iter().enumerate() {
        let start = b * BLOCK;
        let end = ((b + 1) * BLOCK).min(values.len());
        for _ in 0..c {
            let i = start + rng.below((end - start) as u64) as usize;
            swy += weights[i] * values[i];
            sw += weights[i];
        }
    }
    if sw > 0.0 {
        swy / sw
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportion_interval_columns_match_the_scalar_intervals_and_name_the_index() {
        let x = [0.0, 7.0, 20.0];
        let n = [10.0, 20.0, 20.0];
        let cols = proportion_intervals(&x, &n, 0.9, ProportionMethod::Jeffreys).unwrap();
        for i in 0..3 {
            let one = proportion_interval(x[i], n[i], 0.9, ProportionMethod::Jeffreys).unwrap();
            assert_eq!(cols.lower[i].to_bits(), one.lower.to_bits());
            assert_eq!(cols.upper[i].to_bits(), one.upper.to_bits());
            assert_eq!(cols.estimate[i].to_bits(), one.estimate.to_bits());
        }
        let err = proportion_intervals(&[1.0, 15.0], &[10.0, 10.0], 0.95, ProportionMethod::Wilson);
        assert_eq!(err.unwrap_err().to_string(), "invalid `successes[1]`: a count in [0, n = 10], got 15");
        let err = proportion_intervals(&[1.0, 5.0], &[10.0, 10.0, 10.0], 0.95, ProportionMethod::Wilson);
        assert_eq!(err.unwrap_err().to_string(), "invalid `n`: the same length as `successes` (2), got 3");
        assert_eq!(
            proportion_intervals(&[], &[], 0.95, ProportionMethod::Wilson).unwrap(),
            Default::default()
        );
    }

    #[test]
    fn survey_wilson_caps_the_effective_n_at_the_sample_size() {
        let p = |se| SurveyProportion { mean: 29.0 / 30.0, se, n: 30.0, n_kish: 12.0, df: 29.0 };
        // se so small that m(1 − m)/se² ≈ 3,200 ≫ n = 30: the interval is Wilson at n = 30.
        let (lo, hi, name) = survey_proportion_interval(p(0.0032), 0.95, SurveyMethod::Wilson).unwrap();
        let w = wilson(29.0, 30.0, 0.95).unwrap();
        assert_eq!(name, "wilson");
        assert!((lo - w.lower).abs() < 1e-13 && (hi - w.upper).abs() < 1e-13);
        // A large se is below the cap: Wilson at m(1 − m)/se².
        let (lo2, _, _) = survey_proportion_interval(p(0.05), 0.95, SurveyMethod::Wilson).unwrap();
        let n_star = (29.0 / 30.0) * (1.0 / 30.0) / 0.0025;
        let w2 = wilson(29.0 / 30.0 * n_star, n_star, 0.95).unwrap();
        assert!((lo2 - w2.lower).abs() < 1e-13);
        // Degenerate estimate: every method falls back to Wilson at min(n, Kish n_eff).
        let deg = SurveyProportion { mean: 1.0, se: 0.0, n: 30.0, n_kish: 12.0, df: 29.0 };
        for m in SurveyMethod::ALL {
            let (lo, hi, name) = survey_proportion_interval(deg, 0.95, m).unwrap();
            assert_eq!((name, hi), ("wilson", 1.0));
            assert!((lo - wilson(12.0, 12.0, 0.95).unwrap().lower).abs() < 1e-13);
        }
    }

    #[test]
    fn survey_methods_parse_and_stay_in_the_unit_interval() {
        for m in SurveyMethod::ALL {
            assert_eq!(SurveyMethod::parse(m.name()).unwrap(), m);
            let p = SurveyProportion { mean: 0.03, se: 0.04, n: 20.0, n_kish: 10.0, df: 18.0 };
            let (lo, hi, _) = survey_proportion_interval(p, 0.9, m).unwrap();
            assert!((0.0..=0.03).contains(&lo) && (0.03..=1.0).contains(&hi), "{m:?} {lo} {hi}");
        }
        let err = SurveyMethod::parse("likelihood").unwrap_err().to_string();
        assert!(err.starts_with("invalid `interval`"), "{err}");
        let bad = SurveyProportion { mean: 1.5, se: 0.1, n: 3.0, n_kish: 3.0, df: 2.0 };
        assert!(survey_proportion_interval(bad, 0.95, SurveyMethod::Wilson).is_err());
    }

    #[test]
    fn wilson_matches_known_value() {
        // statsmodels: proportion_confint(7, 20, method='wilson')
        let iv = wilson(7.0, 20.0, 0.95).unwrap();
        assert!((iv.lower - 0.181_191_824_101_082_03).abs() < 1e-14, "{iv:?}");
        assert!((iv.upper - 0.567_145_723_314_763_8).abs() < 1e-14, "{iv:?}");
    }

    #[test]
    fn clopper_pearson_edges() {
        let iv = clopper_pearson(0.0, 10.0, 0.95).unwrap();
        assert_eq!(iv.lower, 0.0);
        // Upper = 1 - 0.025^(1/10).
        assert!((iv.upper - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-13);
        let iv = clopper_pearson(10.0, 10.0, 0.95).unwrap();
        assert_eq!(iv.upper, 1.0);
    }

    #[test]
    fn bad_inputs_are_rejected() {
        assert!(wilson(11.0, 10.0, 0.95).is_err());
        assert!(wilson(1.0, 0.0, 0.95).is_err());
        assert!(wilson(1.0, 10.0, 1.5).is_err());
        assert!(t_interval(&[1.0, f64::NAN], None, 0.95).is_err());
        assert!(ProportionMethod::parse("nope").is_err());
    }

    #[test]
    fn bootstrap_is_seeded_and_thread_independent() {
        let mut rng = Xoshiro256::new(1, 0);
        let y: Vec<f64> = (0..5000).map(|_| rng.uniform()).collect();
        let o = |threads| BootstrapOptions { replicates: 200, seed: 7, threads, level: 0.95 };
        let a = bootstrap_interval(&y, None, o(1)).unwrap();
        let b = bootstrap_interval(&y, None, o(2)).unwrap();
        assert_eq!(a, b);
        let t = t_interval(&y, None, 0.95).unwrap();
        // Percentile bootstrap and t interval agree to within a few percent of the width.
        assert!((a.lower - t.lower).abs() < 0.2 * (t.upper - t.lower), "{a:?} {t:?}");
        assert!((a.upper - t.upper).abs() < 0.2 * (t.upper - t.lower), "{a:?} {t:?}");
        // Binary data takes the distinct-value path; still centred on the mean.
        let yb: Vec<f64> = y.iter().map(|v| if *v < 0.3 { 1.0 } else { 0.0 }).collect();
        let c = bootstrap_interval(&yb, None, o(2)).unwrap();
        assert!(c.lower < c.estimate && c.estimate < c.upper);
    }
}
