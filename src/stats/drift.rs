//! Drift between a reference (e.g. the router's training confidence distribution) and
//! production: population stability index, two-sample Kolmogorov–Smirnov (statistic and p-value,
//! following scipy's `ks_2samp` two-sided `auto`/`exact`/`asymp` methods) and the Jensen–Shannon
//! distance (as `scipy.spatial.distance.jensenshannon`), overall or per group (tier).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::check_finite;
use crate::error::{Result, TierscopeError};

/// Population stability index Σ (a − e) ln(a / e) between two histograms (counts or
/// proportions; each is normalised). Bin proportions below `eps` are raised to `eps` so empty
/// bins stay finite.
pub fn psi(expected: &[f64], actual: &[f64], eps: f64) -> Result<f64> {
    let (e, a) = normalised_pair(expected, actual, "expected", "actual")?;
    if !(eps.is_finite() && eps > 0.0) {
        return Err(TierscopeError::invalid("eps", format!("a small positive floor, got {eps}")));
    }
    Ok(e.iter()
        .zip(&a)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(eps), a.max(eps));
            (a - e) * (a / e).ln()
        })
        .sum())
}

/// PSI between two samples, with `bins` bins cut at the reference quantiles (numpy's linear
/// interpolation; duplicate cut points removed; a value equal to a cut point goes to the bin
/// above it).
pub fn psi_samples(reference: &[f64], production: &[f64], bins: usize, eps: f64) -> Result<f64> {
    let (r, p) = reference_quantile_histograms(reference, production, bins)?;
    psi(&r, &p, eps)
}

/// Counts of `reference` and `production` in `bins` bins cut at the reference quantiles.
pub fn reference_quantile_histograms(
    reference: &[f64],
    production: &[f64],
    bins: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    check_finite("reference", reference)?;
    check_finite("production", production)?;
    if reference.is_empty() || production.is_empty() {
        return Err(TierscopeError::invalid("reference", "non-empty reference and production samples"));
    }
    if bins < 2 {
        return Err(TierscopeError::invalid("bins", format!("at least 2 bins, got {bins}")));
    }
    let mut sorted = reference.to_vec();
    sort_f64(&mut sorted);
    Ok(histograms_sorted_reference(&sorted, production, bins))
}

/// Histograms at the quantiles of an already-sorted, non-empty reference.
fn histograms_sorted_reference(sorted: &[f64], production: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let mut cuts: Vec<f64> =
        (1..bins).map(|i| super::intervals::percentile_sorted(sorted, i as f64 / bins as f64)).collect();
    cuts.dedup();
    let count = |xs: &[f64]| {
        let mut c = vec![0.0; cuts.len() + 1];
        for &x in xs {
            c[cuts.partition_point(|&cut| cut <= x)] += 1.0;
        }
        c
    };
    (count(sorted), count(production))
}

/// Drift of one group: KS test, PSI and Jensen–Shannon distance on reference-quantile bins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Two-sample KS result.
    pub ks: KsResult,
    /// Population stability index.
    pub psi: f64,
    /// Jensen–Shannon distance.
    pub js: f64,
}

/// KS, PSI and JS drift per group key (computed in parallel); groups present in only one sample
/// map to `None`.
#[allow(clippy::too_many_arguments)]
pub fn drift_by_group(
    reference: &[f64],
    reference_groups: &[u32],
    production: &[f64],
    production_groups: &[u32],
    bins: usize,
    eps: f64,
    base: Option<f64>,
    method: KsMethod,
) -> Result<BTreeMap<u32, Option<DriftReport>>> {
    super::check_same_len("reference_groups", reference_groups.len(), "reference", reference.len())?;
    super::check_same_len("production_groups", production_groups.len(), "production", production.len())?;
    check_finite("reference", reference)?;
    check_finite("production", production)?;
    if bins < 2 {
        return Err(TierscopeError::invalid("bins", format!("at least 2 bins, got {bins}")));
    }
    if !(eps.is_finite() && eps > 0.0) {
        return Err(TierscopeError::invalid("eps", format!("a small positive floor, got {eps}")));
    }
    check_log_base(base)?;
    let results: Vec<(u32, Result<Option<DriftReport>>)> = crate::pool::install(0, || {
        group_jobs(reference, reference_groups, production, production_groups)
            .into_par_iter()
            .map(|(k, a, b)| match (a, b) {
                (Some(mut a), Some(mut b)) => {
                    rayon::join(|| sort_f64(&mut a), || sort_f64(&mut b));
                    let (hr, hp) = histograms_sorted_reference(&a, &b, bins);
                    let report = psi(&hr, &hp, eps).and_then(|psi_value| {
                        Ok(Some(DriftReport {
                            ks: ks_sorted(&a, &b, method),
                            psi: psi_value,
                            js: jensen_shannon(&hr, &hp, base)?,
                        }))
                    });
                    (k, report)
                }
                _ => (k, Ok(None)),
            })
            .collect()
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in results {
        out.insert(k, v?);
    }
    Ok(out)
}

/// Owned (group, reference values, production values) triples for every group key (call on a
/// pool worker: the two sides are split in parallel).
#[allow(clippy::type_complexity)]
fn group_jobs(
    reference: &[f64],
    reference_groups: &[u32],
    production: &[f64],
    production_groups: &[u32],
) -> Vec<(u32, Option<Vec<f64>>, Option<Vec<f64>>)> {
    let (mut r, mut p) = rayon::join(
        || split_by_group(reference, reference_groups),
        || split_by_group(production, production_groups),
    );
    let keys: std::collections::BTreeSet<u32> = r.keys().chain(p.keys()).copied().collect();
    keys.into_iter().map(|k| (k, r.remove(&k), p.remove(&k))).collect()
}

/// Values grouped by code (dense buckets for small code ranges).
fn split_by_group(v: &[f64], g: &[u32]) -> BTreeMap<u32, Vec<f64>> {
    let mut m: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let max = g.iter().copied().max().unwrap_or(0) as usize;
    if max < 1 << 16 {
        let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); max + 1];
        for (x, k) in v.iter().zip(g) {
            buckets[*k as usize].push(*x);
        }
        for (k, b) in buckets.into_iter().enumerate() {
            if !b.is_empty() {
                m.insert(k as u32, b);
            }
        }
    } else {
        for (x, k) in v.iter().zip(g) {
            m.entry(*k).or_default().push(*x);
        }
    }
    m
}

fn normalised_pair(p: &[f64], q: &[f64], pn: &str, qn: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    if p.len() != q.len() {
        return Err(TierscopeError::invalid(
            qn,
            format!("the same number of bins as `{pn}` ({}), got {}", p.len(), q.len()),
        ));
    }
    if p.is_empty() {
        return Err(TierscopeError::invalid(pn, "at least one bin"));
    }
    for (name, v) in [(pn, p), (qn, q)] {
        if let Some(i) = v.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(TierscopeError::invalid(
                format!("{name}[{i}]"),
                format!("a finite, non-negative mass, got {}", v[i]),
            ));
        }
        if !v.iter().any(|x| *x > 0.0) {
            return Err(TierscopeError::invalid(name, "a histogram with positive total mass"));
        }
    }
    Ok((normalised(p), normalised(q)))
}

/// `v / sum(v)` without overflow or underflow: scaled by the largest mass first, so counts near
/// `f64::MAX` (whose plain sum is infinite) and subnormal masses both normalise exactly.
fn normalised(v: &[f64]) -> Vec<f64> {
    let max = v.iter().copied().fold(0.0_f64, f64::max);
    let scaled: Vec<f64> = v.iter().map(|x| x / max).collect();
    // Each scaled mass is in [0, 1] and the largest is 1, so the sum is in [1, len].
    let sum: f64 = scaled.iter().sum();
    scaled.into_iter().map(|x| x / sum).collect()
}
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Jensen–Shannon distance between two histograms (normalised first); `base` = None means
/// natural log. Matches `scipy.spatial.distance.jensenshannon` wherever scipy is finite.
///
/// Always finite: `0·ln 0 = 0`, each bin's contribution `p ln(p/m) + q ln(q/m)` (never negative
/// in exact arithmetic) is clamped at 0 so rounding cannot make the divergence negative, and the
/// divergence is clamped to its range [0, ln 2]. The distance is therefore in [0, √ln 2] for the
/// natural log and in [0, 1] for `base = 2`. `base` must be a finite number > 1 (a base in
/// (0, 1) would make the divergence negative and its square root NaN).
pub fn jensen_shannon(p: &[f64], q: &[f64], base: Option<f64>) -> Result<f64> {
    check_log_base(base)?;
    let (p, q) = normalised_pair(p, q, "p", "q")?;
    let divergence: f64 = p
        .iter()
        .zip(&q)
        .map(|(&a, &b)| {
            // Normalised masses are at most 1, so the sum cannot overflow, and (a + a) / 2 == a
            // exactly (halving first would round subnormal masses).
            let m = (a + b) / 2.0;
            (rel_entr(a, m) + rel_entr(b, m)).max(0.0)
        })
        .sum::<f64>()
        / 2.0;
    let mut js = divergence.clamp(0.0, std::f64::consts::LN_2);
    if let Some(b) = base {
        js /= b.ln();
    }
    Ok(js.sqrt())
}

/// Reject a logarithm base that is not a finite number > 1.
pub(crate) fn check_log_base(base: Option<f64>) -> Result<()> {
    match base {
        Some(b) if !(b.is_finite() && b > 1.0) => {
            Err(TierscopeError::invalid("base", format!("a finite log base > 1, got {b}")))
        }
        _ => Ok(()),
    }
}

/// Which p-value computation `ks_2samp` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KsMethod {
    /// Exact when max(n1, n2) <= 10,000, asymptotic otherwise (scipy's default).
    Auto,
    /// Exact lattice-path probability (falls back to asymp if it fails numerically).
    Exact,
    /// Exact one-sample Kolmogorov distribution at n = round(n1 n2 / (n1 + n2)).
    Asymp,
}

impl KsMethod {
    /// Parse `auto`, `exact` or `asymp`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::Auto),
            "exact" => Ok(Self::Exact),
            "asymp" => Ok(Self::Asymp),
            other => {
                Err(TierscopeError::invalid("method", format!("'auto', 'exact' or 'asymp', got '{other}'")))
            }
        }
    }
}

/// A two-sided two-sample KS result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    /// sup |F1 − F2|.
    pub statistic: f64,
    /// Two-sided p-value.
    pub pvalue: f64,
    /// Method actually used ("exact" or "asymp").
    pub method: String,
    /// Sample sizes.
    pub n1: u64,
    /// Sample sizes.
    pub n2: u64,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Two-sided two-sample Kolmogorov–Smirnov test (scipy `ks_2samp(x, y, method=...)`).
pub fn ks_2samp(x: &[f64], y: &[f64], method: KsMethod) -> Result<KsResult> {
    check_finite("x", x)?;
    check_finite("y", y)?;
    if x.is_empty() || y.is_empty() {
        return Err(TierscopeError::invalid(if x.is_empty() { "x" } else { "y" }, "a non-empty sample"));
    }
    Ok(ks_unsorted(x, y, method))
}

/// KS on unsorted samples (copies and sorts both, in parallel on the caller's pool or else the
/// default one; sequentially if no pool can be started).
pub fn ks_unsorted(x: &[f64], y: &[f64], method: KsMethod) -> KsResult {
    let (mut a, mut b) = (x.to_vec(), y.to_vec());
    let sorted = crate::pool::current_or_default(|| rayon::join(|| sort_f64(&mut a), || sort_f64(&mut b)));
    if sorted.is_err() {
        sort_f64(&mut a);
        sort_f64(&mut b);
    }
    ks_sorted(&a, &b, method)
}

/// Sort finite floats ascending (pdqsort; in parallel for large inputs, on the caller's pool or
/// else the default one, sequentially if no pool can be started; the order is the same either
/// way). On the shared, memory-bound machines this runs on, a comparison sort beat LSD-radix,
/// bucket and gap-counting variants that were measured.
pub fn sort_f64(v: &mut [f64]) {
    let cmp = |p: &f64, q: &f64| p.total_cmp(q);
    if v.len() < 1 << 20 || crate::pool::current_or_default(|| v.par_sort_unstable_by(cmp)).is_err() {
        v.sort_unstable_by(cmp);
    }
}

/// KS on already-sorted samples.
pub fn ks_sorted(a: &[f64], b: &[f64], method: KsMethod) -> KsResult {
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    // Walk the merged order; evaluate after all ties at a value.
    let (mut i, mut j) = (0usize, 0usize);
    let mut best: i128 = 0; // max |i*n2 - j*n1|
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = (i as i128 * n2 as i128 - j as i128 * n1 as i128).abs();
        best = best.max(diff);
    }
    ks_from_distance(n1, n2, best, method)
}

/// Statistic and p-value from the integer distance max |i·n2 − j·n1|.
pub(crate) fn ks_from_distance(n1: u64, n2: u64, best: i128, method: KsMethod) -> KsResult {
    let d = best as f64 / (n1 as f64 * n2 as f64);
    let g = gcd(n1, n2);
    let (n1g, n2g) = (n1 / g, n2 / g);
    let mut mode = match method {
        KsMethod::Auto => {
            if n1.max(n2) <= 10_000 {
                KsMethod::Exact
            } else {
                KsMethod::Asymp
            }
        }
        m => m,
    };
    if mode == KsMethod::Exact && n1g as f64 >= i32::MAX as f64 / n2g as f64 {
        mode = KsMethod::Asymp;
    }
    if mode == KsMethod::Exact {
        let lcm = n1g * n2;
        let h = (d * lcm as f64).round_ties_even() as u64;
        let stat = h as f64 / lcm as f64;
        let p = if h == 0 {
            Some(1.0)
        } else if n1 == n2 {
            Some(prob_outside_square(n1, h))
        } else {
            Some(outer_prob_inside(n1, n2, g, h))
        };
        // A numerically failed exact computation falls through to the asymptotic one.
        if let Some(p) = p.filter(|p| p.is_finite() && (0.0..=1.0).contains(p)) {
            return KsResult { statistic: stat, pvalue: p, method: "exact".into(), n1, n2 };
        }
    }
    let (m, n) = if n1 >= n2 { (n1 as f64, n2 as f64) } else { (n2 as f64, n1 as f64) };
    let en = m * n / (m + n);
    // numpy rounds half to even (np.round), which decides n for en = k + 0.5. One observation a
    // side gives en = 0.5, which rounds to 0 (where scipy's kstwo is NaN): use n = 1, as the
    // log summary's binned KS does, so the p-value is always a probability.
    let p = kolmogorov_sf((en.round_ties_even() as u64).max(1), d).clamp(0.0, 1.0);
    KsResult { statistic: d, pvalue: p, method: "asymp".into(), n1, n2 }
}

/// P(D_{n,n} >= h/n) for equal sample sizes (Horner-like alternating sum).
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        let mut j = 0.0;
        while j < h {
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// 1 − P(lattice path stays strictly inside |x/m − y/n| < h/lcm) via the numerically stable
/// 1 − p recursion (Viehmann 2021), m >= n.
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = (m / g, n / g);
    let (m, n, mg, ng, h) = (m as i64, n as i64, mg as i64, ng as i64, h as i64);
    let ceil_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).ceil() as i64 };
    let floor_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).floor() as i64 };
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = ((2 * maxj + 2).min(n + 1)) as usize;
    let mut a = vec![1.0f64; len_a];
    for v in a.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let fi = i as f64;
            let idx = (jj + minj - lastminj) as usize;
            val = (a[idx] * fi + val * j) / (fi + j);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for v in &mut a[start..end] {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// [`kolmogorov_sf`] with its arguments checked (the Python boundary): `n >= 1` and a finite `x`.
pub fn kolmogorov_sf_checked(n: u64, x: f64) -> Result<f64> {
    if n == 0 {
        return Err(TierscopeError::invalid("n", "a positive sample size, got 0"));
    }
    if !x.is_finite() {
        return Err(TierscopeError::invalid("x", format!("a finite statistic, got {x}")));
    }
    Ok(kolmogorov_sf(n, x).clamp(0.0, 1.0))
}

/// Survival function of the two-sided one-sample Kolmogorov statistic D_n (scipy `kstwo.sf`),
/// following Simard & L'Ecuyer's regime choice as scipy does. The Pomeranz regime (n <= 140,
/// 0.754693 < n x² <= 4) uses the Durbin matrix instead, which is also exact.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| acc * (i as f64 / nf * (2.0 * t - 1.0)))
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - prob).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsq = t * x;
    if n <= 140 {
        if nxsq <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if nxsq >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    const C: [f64; 8] = [
        -2.955_065_359_477_124e-2,
        6.410_256_410_256_41e-3,
        -1.917_526_917_526_917_6e-3,
        8.417_508_417_508_417e-4,
        -5.952_380_952_380_952e-4,
        7.936_507_936_507_937e-4,
        -2.777_777_777_777_778e-3,
        8.333_333_333_333_333e-2,
    ];
    let rn = 1.0 / n;
    let z = rn / n;
    let poly = C.iter().fold(0.0, |acc, c| acc * z + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

/// One-sided Smirnov survival function P(D_n^+ >= x) by the exact Birnbaum–Tingey sum
/// (log-space terms); for n > 10^6 the same asymptotic form as cephes.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 1 {
        return x;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 { logp.exp() } else { 1.0 + logp.exp_m1() };
    }
    let nx = nf * x;
    let nxfl = nx.floor();
    if nxfl >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if -2.0 * nf * x * x < -745.133_219_101_941_2 {
        return 0.0;
    }
    let last = (nf - nxfl - 1.0) as u64; // j < n(1 − x)
    let n_terms = last + 1;
    let mut ln_c = 0.0; // ln C(n, j)
    let mut sum = 0.0;
    for j in 0..=last {
        let jf = j as f64;
        if j > 0 {
            ln_c += ((nf - jf + 1.0) / jf).ln();
        }
        let base1 = (nf - jf - nx) / nf; // 1 − x − j/n
        if base1 <= 0.0 {
            break;
        }
        let base2 = x + jf / nf;
        let term = (ln_c + (nf - jf) * base1.ln() + (jf - 1.0) * base2.ln()).exp();
        sum += term;
        if term > 0.0 && 4.0 * (n_terms - j) as f64 * term < f64::EPSILON * sum && j != last {
            break;
        }
        if term == 0.0 && j > n / 2 {
            break;
        }
    }
    (x * sum).clamp(0.0, 1.0)
}

/// Kolmogorov CDF P(D_n <= d) by the Durbin matrix (Marsaglia–Tsang–Wang), exact.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut hm = vec![0.0f64; m * m];
    let mut v: Vec<f64> = (1..=m).map(|i| 1.0 - h.powi(i as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let matmul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for k2 in 0..m {
                let aik = a[i * m + k2];
                if aik == 0.0 {
                    continue;
                }
                let row_b = &b[k2 * m..(k2 + 1) * m];
                let row_o = &mut out[i * m..(i + 1) * m];
                for (o, bv) in row_o.iter_mut().zip(row_b) {
                    *o += aik * bv;
                }
            }
        }
        out
    };
    let ep128 = 2f64.powi(128);
    let mut pw = vec![0.0; m * m];
    for i in 0..m {
        pw[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i64 = 0;
    let mut h_expnt: i64 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            pw = matmul(&pw, &hm);
            expnt += h_expnt;
        }
        hm = matmul(&hm, &hm);
        h_expnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > ep128 {
            for v in hm.iter_mut() {
                *v /= ep128;
            }
            h_expnt += 128;
        }
        nn /= 2;
    }
    let mut p = pw[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / ep128 {
            p *= ep128;
            expnt -= 128;
        }
    }
    if expnt != 0 {
        p *= 2f64.powi(expnt as i32);
    }
    p.clamp(0.0, 1.0)
}

/// Pelz–Good asymptotic approximation of the Kolmogorov CDF (as in scipy).
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z * z * z, z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * k as f64);
        let coeffs = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
        for i in 0..4 {
            kk[i] = kk[i] * qpower + coeffs[i];
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for i in 0..4 {
        kk[i] = kk[i] * q * sqrt2pi / div[i];
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ks2 = kf * kf;
        let qp = q2.powf(ks2);
        k2extra += ks2 * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    (0..4).map(|i| kk[i] / n.powf(i as f64 / 2.0)).sum()
}

/// KS per group: for every group key present in both samples, `ks_2samp` of the reference
/// values of that group against the production values (computed in parallel). Groups present in
/// only one sample map to `None`.
pub fn ks_by_group(
    reference: &[f64],
    reference_groups: &[u32],
    production: &[f64],
    production_groups: &[u32],
    method: KsMethod,
) -> Result<BTreeMap<u32, Option<KsResult>>> {
    super::check_same_len("reference_groups", reference_groups.len(), "reference", reference.len())?;
    super::check_same_len("production_groups", production_groups.len(), "production", production.len())?;
    check_finite("reference", reference)?;
    check_finite("production", production)?;
    let results: Vec<(u32, Option<KsResult>)> = crate::pool::install(0, || {
        group_jobs(reference, reference_groups, production, production_groups)
            .into_par_iter()
            .map(|(k, a, b)| match (a, b) {
                (Some(mut a), Some(mut b)) => {
                    rayon::join(|| sort_f64(&mut a), || sort_f64(&mut b));
                    (k, Some(ks_sorted(&a, &b, method)))
                }
                _ => (k, None),
            })
            .collect()
    })?;
    Ok(results.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::stats::special::ln_gamma;

    #[test]
    fn js_identical_is_zero_and_disjoint_is_one_in_base2() {
        assert_eq!(jensen_shannon(&[1.0, 2.0], &[2.0, 4.0], None).unwrap(), 0.0);
        let d = jensen_shannon(&[1.0, 0.0], &[0.0, 1.0], Some(2.0)).unwrap();
        assert!((d - 1.0).abs() < 1e-15);
        assert!(jensen_shannon(&[1.0], &[1.0, 2.0], None).is_err());
    }

    #[test]
    fn ks_small_exact() {
        // scipy.stats.ks_2samp([1,2,3,4], [5,6,7,8]) -> statistic 1, pvalue 0.028571428571428577
        let r = ks_2samp(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], KsMethod::Auto).unwrap();
        assert_eq!(r.statistic, 1.0);
        assert!((r.pvalue - 0.028_571_428_571_428_577).abs() < 1e-15);
    }

    #[test]
    fn stirling_helper_matches_lgamma() {
        let n = 500.0;
        let exact = ln_gamma(n + 1.0) - n * f64::ln(n);
        assert!((log_nfactorial_div_n_pow_n(n) - exact).abs() < 1e-9);
    }

    #[test]
    fn unsorted_matches_merge_walk() {
        let mut rng = crate::stats::rng::Xoshiro256::new(9, 0);
        for case in 0..200 {
            let n1 = 1 + rng.below(300) as usize;
            let n2 = 1 + rng.below(300) as usize;
            let round = |v: f64| if case % 2 == 0 { (v * 10.0).round() / 10.0 } else { v };
            let a: Vec<f64> = (0..n1).map(|_| round(rng.normal())).collect();
            let b: Vec<f64> = (0..n2).map(|_| round(rng.normal() + 0.3)).collect();
            let (mut sa, mut sb) = (a.clone(), b.clone());
            sa.sort_by(|x, y| x.total_cmp(y));
            sb.sort_by(|x, y| x.total_cmp(y));
            assert_eq!(
                ks_sorted(&sa, &sb, KsMethod::Auto),
                ks_unsorted(&a, &b, KsMethod::Auto),
                "case {case}"
            );
        }
    }

    #[test]
    fn large_samples_match_merge_walk() {
        let mut rng = crate::stats::rng::Xoshiro256::new(10, 0);
        let a: Vec<f64> = (0..1_200_000).map(|_| (rng.normal() * 1000.0).round() / 1000.0).collect();
        let b: Vec<f64> = (0..50_000).map(|_| (rng.normal() * 1000.0).round() / 1000.0 + 0.01).collect();
        let (mut sa, mut sb) = (a.clone(), b.clone());
        sa.sort_by(|x, y| x.total_cmp(y));
        sb.sort_by(|x, y| x.total_cmp(y));
        assert_eq!(ks_sorted(&sa, &sb, KsMethod::Asymp), ks_unsorted(&a, &b, KsMethod::Asymp));
    }

    #[test]
    fn psi_zero_for_same() {
        assert!(psi(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0], 1e-4).unwrap().abs() < 1e-15);
    }

    #[test]
    fn jensen_shannon_is_finite_on_extreme_histograms() {
        let ln2 = std::f64::consts::LN_2;
        let cases: &[(&[f64], &[f64])] = &[
            (&[1.0, 0.0], &[0.0, 1.0]),
            (&[f64::MAX, f64::MAX], &[f64::MAX, 1.0]),
            (&[5e-324, 0.0], &[0.0, 5e-324]),
            (&[5e-324, 5e-324], &[1e308, 1e-308]),
            (&[0.0, 0.0, 3.0], &[0.0, 0.0, 3.0]),
            (&[0.1, 0.2, 0.7], &[0.1, 0.2, 0.7000000000000001]),
            (&[f64::MAX, f64::MAX, 0.317], &[0.0, 0.0, 5e-324]),
        ];
        for (p, q) in cases {
            let d = jensen_shannon(p, q, None).unwrap();
            assert!(d.is_finite() && (0.0..=ln2.sqrt()).contains(&d), "{p:?} {q:?}: {d}");
            let d2 = jensen_shannon(p, q, Some(2.0)).unwrap();
            assert!((0.0..=1.0).contains(&d2), "{p:?} {q:?}: {d2}");
        }
        // Disjoint supports are the maximum; huge counts normalise like small ones.
        assert_eq!(jensen_shannon(&[1.0, 0.0], &[0.0, 1.0], Some(2.0)).unwrap(), 1.0);
        let huge = jensen_shannon(&[f64::MAX, f64::MAX], &[f64::MAX, 0.0], None).unwrap();
        let small = jensen_shannon(&[1.0, 1.0], &[1.0, 0.0], None).unwrap();
        assert!((huge - small).abs() < 1e-15, "{huge} vs {small}");
        // Identical histograms are at distance exactly 0, subnormal normalised masses included.
        let tiny = [f64::MAX, f64::MAX, 0.317];
        assert_eq!(jensen_shannon(&tiny, &tiny, None).unwrap(), 0.0);
        let psi_huge = psi(&[f64::MAX, f64::MAX], &[f64::MAX, 1.0], 1e-4).unwrap();
        let psi_small = psi(&[1.0, 1.0], &[1.0, 0.0], 1e-4).unwrap();
        assert!((psi_huge - psi_small).abs() < 1e-9, "{psi_huge} vs {psi_small}");
    }

    #[test]
    fn jensen_shannon_refuses_bases_that_are_not_above_one() {
        for b in [0.5, 1.0, 0.0, -2.0, f64::NAN, f64::INFINITY] {
            let err = jensen_shannon(&[1.0], &[1.0], Some(b)).unwrap_err().to_string();
            assert!(err.contains("`base`"), "{err}");
        }
    }

    #[test]
    fn asymptotic_ks_with_one_observation_a_side_is_a_probability() {
        for (x, y) in [([0.0], [0.0]), ([0.0], [1.0])] {
            let r = ks_2samp(&x, &y, KsMethod::Asymp).unwrap();
            assert!((0.0..=1.0).contains(&r.pvalue), "{r:?}");
        }
        assert_eq!(ks_2samp(&[0.0], &[0.0], KsMethod::Asymp).unwrap().pvalue, 1.0);
    }

    #[test]
    fn kolmogorov_sf_checked_refuses_nan_infinite_and_empty() {
        assert!(kolmogorov_sf_checked(10, f64::NAN).unwrap_err().to_string().contains("`x`"));
        assert!(kolmogorov_sf_checked(10, f64::INFINITY).is_err());
        assert!(kolmogorov_sf_checked(10, f64::NEG_INFINITY).is_err());
        assert!(kolmogorov_sf_checked(0, 0.5).unwrap_err().to_string().contains("`n`"));
        assert_eq!(kolmogorov_sf_checked(10, 0.0).unwrap(), 1.0);
        assert_eq!(kolmogorov_sf_checked(10, 1.0).unwrap(), 0.0);
    }

    fn histogram() -> impl Strategy<Value = Vec<f64>> {
        let mass = prop_oneof![
            Just(0.0),
            Just(5e-324),
            Just(f64::MAX),
            0.0..1.0f64,
            0.0..1e300f64,
            (0u32..1_000_000).prop_map(f64::from),
        ];
        proptest::collection::vec(mass, 1..12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn jensen_shannon_is_a_bounded_symmetric_distance(
            (p, q) in (1usize..12).prop_flat_map(|n| (
                proptest::collection::vec(prop_oneof![Just(0.0), Just(5e-324), Just(f64::MAX), 0.0..1e300f64], n),
                proptest::collection::vec(prop_oneof![Just(0.0), Just(5e-324), Just(f64::MAX), 0.0..1e300f64], n),
            )),
        ) {
            prop_assume!(p.iter().any(|x| *x > 0.0) && q.iter().any(|x| *x > 0.0));
            let d = jensen_shannon(&p, &q, None).unwrap();
            prop_assert!(d.is_finite() && d >= 0.0 && d <= std::f64::consts::LN_2.sqrt() + 1e-15, "{}", d);
            let d2 = jensen_shannon(&p, &q, Some(2.0)).unwrap();
            prop_assert!((0.0..=1.0).contains(&d2), "{}", d2);
            let back = jensen_shannon(&q, &p, None).unwrap();
            prop_assert!((d - back).abs() <= 1e-12, "{} vs {}", d, back);
            prop_assert_eq!(jensen_shannon(&p, &p, None).unwrap(), 0.0);
        }

        #[test]
        fn psi_is_finite_and_non_negative(p in histogram(), scale in 1e-300..1e300f64) {
            prop_assume!(p.iter().any(|x| *x > 0.0));
            let q: Vec<f64> = p.iter().rev().map(|x| x * (scale / 1e300)).collect();
            prop_assume!(q.iter().any(|x| *x > 0.0));
            let v = psi(&p, &q, 1e-4).unwrap();
            prop_assert!(v.is_finite() && v >= 0.0, "{}", v);
        }

        #[test]
        fn kolmogorov_sf_is_a_survival_function(n in 1u64..5_000, x in -1.0..2.0f64, dx in 0.0..0.5f64) {
            let a = kolmogorov_sf_checked(n, x).unwrap();
            let b = kolmogorov_sf_checked(n, x + dx).unwrap();
            prop_assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b));
            // Non-increasing in x (up to the series' rounding).
            prop_assert!(b <= a + 1e-9, "sf({}, {}) = {} < sf({}, {}) = {}", n, x, a, n, x + dx, b);
        }
    }
}
