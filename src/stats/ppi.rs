//! Judge-assisted (prediction-powered) per-domain means: PPI / PPI++ with design weights.
//!
//! Two samples per domain (tier): a *judged* sample J of answers scored by an LLM judge (score
//! `f`, inclusion probability π^J, possibly 1 = every answer) and a *human* sample H (label `y`,
//! the judge's score `f` on the same answer, inclusion probability π^H). With Hájek means
//! m_J(f) = Σ_J w f / Σ_J w and m_H(x) = Σ_H w x / Σ_H w (w = 1/π) the PPI++ estimate is
//!
//! θ̂ = λ·m_J(f) + m_H(y − λ f),
//!
//! unbiased for the human mean for any fixed λ (λ = 1: PPI; λ = 0: human only). Its linearised
//! variance, with the two samples drawn independently, is λ²·V_J(f) + V_H(y − λ f), where
//! V_S(x) = Σ_S k (x − m_S(x))² / (Σ_S w)² and k is either `w² − w` = (1 − π)/π² (Poisson
//! sampling without replacement: [`Variance::Poisson`], the design-based default, zero for a
//! census) or `w²` (the with-replacement / i.i.d. form: [`Variance::WithReplacement`]; with
//! π ≡ 1 it is exactly `ppi_py`'s `np.std(·)²/n`, which the tests check).
//!
//! The tuned λ minimises that variance: λ = Ĉ_H(y, f) / (V̂_J(f) + V̂_H(f)), with V̂_S(f) =
//! σ̂²_f · Σ_S k / (Σ_S w)² from one pooled estimate σ̂²_f of f's population variance (both
//! samples, each weighted by its own design weights, with the n/(n − 1) correction): unweighted,
//! this is exactly `ppi_py`'s `_calc_lam_glm` (λ = cov_n(y, f) / ((1 + n/N)·var(f))). It is
//! clipped to [0, 1], as `ppi_py` does: λ < 0 (judge anti-correlated with humans) gains nothing
//! over λ = 0 in expectation and λ > 1 over-trusts an estimate of a ratio from few reviews.
//!
//! Every quantity is a function of per-domain weighted moment sums ([`PpiAggregate`]), so
//! per-day or per-worker partials merge exactly (up to floating-point summation order).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::special::norm_ppf;
use super::{check_finite, check_level, check_pi, check_same_len};
use crate::error::{Result, TierscopeError};

/// Weighted moments Σk, Σk·y, Σk·f, Σk·y², Σk·f², Σk·y·f for one weight kind k.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Σk.
    pub s: f64,
    /// Σk·y.
    pub sy: f64,
    /// Σk·f.
    pub sf: f64,
    /// Σk·y².
    pub syy: f64,
    /// Σk·f².
    pub sff: f64,
    /// Σk·y·f.
    pub syf: f64,
}

impl Moments {
    fn add(&mut self, k: f64, y: f64, f: f64) {
        self.s += k;
        self.sy += k * y;
        self.sf += k * f;
        self.syy += k * y * y;
        self.sff += k * f * f;
        self.syf += k * y * f;
    }

    fn merge(&mut self, o: &Moments) {
        self.s += o.s;
        self.sy += o.sy;
        self.sf += o.sf;
        self.syy += o.syy;
        self.sff += o.sff;
        self.syf += o.syf;
    }

    /// Σk(a − ma)(b − mb) for the linear combinations a = ay·y + af·f, b = by·y + bf·f.
    fn centred(&self, (ay, af): (f64, f64), (by, bf): (f64, f64), ma: f64, mb: f64) -> f64 {
        let sab = ay * by * self.syy + (ay * bf + af * by) * self.syf + af * bf * self.sff;
        let sa = ay * self.sy + af * self.sf;
        let sb = by * self.sy + bf * self.sf;
        sab - ma * sb - mb * sa + ma * mb * self.s
    }
}

/// One sample's sums in one domain: the count and the moments under w, w² and w² − w.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleStats {
    /// Units.
    pub n: u64,
    /// Moments weighted by w = 1/π.
    pub w: Moments,
    /// Moments weighted by w².
    pub w2: Moments,
    /// Moments weighted by w² − w.
    pub v: Moments,
}

impl SampleStats {
    fn add(&mut self, y: f64, f: f64, pi: f64) {
        let w = 1.0 / pi;
        self.n += 1;
        self.w.add(w, y, f);
        self.w2.add(w * w, y, f);
        self.v.add(w * w - w, y, f);
    }

    fn merge(&mut self, o: &SampleStats) {
        self.n += o.n;
        self.w.merge(&o.w);
        self.w2.merge(&o.w2);
        self.v.merge(&o.v);
    }

    fn variance_moments(&self, variance: Variance) -> &Moments {
        match variance {
            Variance::Poisson => &self.v,
            Variance::WithReplacement => &self.w2,
        }
    }
}

/// The sums of one domain: the judged sample (scores in the `f` slot) and the human sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PpiCell {
    /// Judged answers (y unused).
    pub judged: SampleStats,
    /// Human-reviewed answers, with the judge's score on each.
    pub human: SampleStats,
}

/// Which linearised variance: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variance {
    /// Poisson sampling without replacement, k = (1 − π)/π² (design-based; 0 for a census).
    Poisson,
    /// With replacement / i.i.d., k = 1/π² (`ppi_py`'s variance when π ≡ 1).
    WithReplacement,
}

impl Variance {
    /// Parse `"poisson"` or `"with_replacement"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "poisson" => Ok(Self::Poisson),
            "with_replacement" => Ok(Self::WithReplacement),
            other => Err(TierscopeError::invalid(
                "variance",
                format!("one of 'poisson', 'with_replacement', got {other:?}"),
            )),
        }
    }
}

/// The judge-assisted estimate of one domain, with the human-only estimate beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct PpiEstimate {
    /// Domain code.
    pub domain: u32,
    /// Judged answers.
    pub n_judged: u64,
    /// Human-reviewed answers.
    pub n_human: u64,
    /// The λ used (tuned and clipped to [0, 1], or as given).
    pub lam: f64,
    /// Whether λ was tuned from the data.
    pub tuned: bool,
    /// PPI++ point estimate θ̂.
    pub estimate: f64,
    /// Its linearised standard error.
    pub se: f64,
    /// Lower end of the normal (z) interval.
    pub lower: f64,
    /// Upper end of the normal (z) interval.
    pub upper: f64,
    /// Hájek mean of the judge's scores on the judged sample, m_J(f).
    pub judge_mean: f64,
    /// Hájek mean of the human labels, m_H(y) (the human-only estimate).
    pub human_mean: f64,
    /// Its standard error (same variance form).
    pub human_se: f64,
    /// Pooled estimate of the population variance of the judge's score.
    pub judge_variance: f64,
    /// Confidence level of the interval.
    pub level: f64,
    /// False when the domain has no human review or no judged answer (NaN estimates).
    pub defined: bool,
}

/// Per-domain PPI sums; serde-serialisable and mergeable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PpiAggregate {
    cells: BTreeMap<u32, PpiCell>,
}

fn check_unit_scores(name: &str, values: &[f64]) -> Result<()> {
    check_finite(name, values)?;
    Ok(())
}

impl PpiAggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add judged answers: judge scores `f`, inclusion probabilities `pi`, domain codes.
    /// Validated first; nothing is added on error.
    pub fn add_judged(&mut self, f: &[f64], pi: &[f64], domains: &[u32]) -> Result<()> {
        check_same_len("pi", pi.len(), "f", f.len())?;
        check_same_len("domains", domains.len(), "f", f.len())?;
        check_unit_scores("f", f)?;
        check_pi("pi", pi)?;
        for ((&fi, &p), &d) in f.iter().zip(pi).zip(domains) {
            self.cells.entry(d).or_default().judged.add(0.0, fi, p);
        }
        Ok(())
    }

    /// Add human-reviewed answers: labels `y`, the judge's scores `f` on them, inclusion
    /// probabilities `pi`, domain codes. Validated first; nothing is added on error.
    pub fn add_reviews(&mut self, y: &[f64], f: &[f64], pi: &[f64], domains: &[u32]) -> Result<()> {
        check_same_len("f", f.len(), "y", y.len())?;
        check_same_len("pi", pi.len(), "y", y.len())?;
        check_same_len("domains", domains.len(), "y", y.len())?;
        check_unit_scores("y", y)?;
        check_unit_scores("f", f)?;
        check_pi("pi", pi)?;
        for (((&yi, &fi), &p), &d) in y.iter().zip(f).zip(pi).zip(domains) {
            self.cells.entry(d).or_default().human.add(yi, fi, p);
        }
        Ok(())
    }

    /// Add another aggregate's sums, domain by domain.
    pub fn merge(&mut self, other: &PpiAggregate) {
        for (d, c) in &other.cells {
            let cell = self.cells.entry(*d).or_default();
            cell.judged.merge(&c.judged);
            cell.human.merge(&c.human);
        }
    }

    /// `a` merged with `b`.
    pub fn merged(a: &PpiAggregate, b: &PpiAggregate) -> PpiAggregate {
        let mut out = a.clone();
        out.merge(b);
        out
    }

    /// The domains present, in order.
    pub fn domains(&self) -> Vec<u32> {
        self.cells.keys().copied().collect()
    }

    /// One domain's sums, if present.
    pub fn cell(&self, domain: u32) -> Option<&PpiCell> {
        self.cells.get(&domain)
    }

    /// Per-domain estimates at confidence `level`; `lam`: a fixed λ, or None to tune it.
    pub fn estimates(&self, level: f64, lam: Option<f64>, variance: Variance) -> Result<Vec<PpiEstimate>> {
        check_level(level)?;
        if let Some(l) = lam {
            if !l.is_finite() {
                return Err(TierscopeError::invalid("lam", format!("a finite number or None, got {l}")));
            }
        }
        Ok(self.cells.iter().map(|(d, c)| estimate_cell(*d, c, level, lam, variance)).collect())
    }

    /// JSON text of the state.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(&Repr::from(self))
            .map_err(|e| TierscopeError::invalid("aggregate", format!("serialisable state ({e})")))
    }

    /// Restore from [`PpiAggregate::to_json`] text.
    pub fn from_json(text: &str) -> Result<Self> {
        let r: Repr = serde_json::from_str(text)
            .map_err(|e| TierscopeError::invalid("text", format!("PpiAggregate JSON ({e})")))?;
        let mut out = PpiAggregate::new();
        for e in r.cells {
            out.cells.entry(e.domain).or_default().judged.merge(&e.cell.judged);
            out.cells.entry(e.domain).or_default().human.merge(&e.cell.human);
        }
        Ok(out)
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    domain: u32,
    #[serde(flatten)]
    cell: PpiCell,
}

#[derive(Serialize, Deserialize)]
struct Repr {
    version: u32,
    cells: Vec<Entry>,
}

impl From<&PpiAggregate> for Repr {
    fn from(a: &PpiAggregate) -> Self {
        Repr { version: 1, cells: a.cells.iter().map(|(d, c)| Entry { domain: *d, cell: *c }).collect() }
    }
}

/// The pooled population variance of f: both samples' design-weighted second moments about the
/// pooled mean, each sample weighted by its own weight total, times n/(n − 1) (n = all units).
fn pooled_f_variance(j: &SampleStats, h: &SampleStats) -> f64 {
    let (sj, sh) = (j.w.s, h.w.s);
    // Each sample's weighted mean and mean square of f, averaged with weights Σw (both estimate
    // the domain's size, so each sample counts in proportion to its estimate, not its units).
    let mean = (j.w.sf + h.w.sf) / (sj + sh);
    let msq = (j.w.sff + h.w.sff) / (sj + sh);
    let n = (j.n + h.n) as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    ((msq - mean * mean) * n / (n - 1.0)).max(0.0)
}

fn estimate_cell(domain: u32, c: &PpiCell, level: f64, lam: Option<f64>, variance: Variance) -> PpiEstimate {
    let (j, h) = (&c.judged, &c.human);
    let z = norm_ppf(0.5 + level / 2.0);
    let mut out = PpiEstimate {
        domain,
        n_judged: j.n,
        n_human: h.n,
        lam: f64::NAN,
        tuned: lam.is_none(),
        estimate: f64::NAN,
        se: f64::NAN,
        lower: f64::NAN,
        upper: f64::NAN,
        judge_mean: if j.n > 0 { j.w.sf / j.w.s } else { f64::NAN },
        human_mean: f64::NAN,
        human_se: f64::NAN,
        judge_variance: pooled_f_variance(j, h),
        level,
        defined: false,
    };
    if h.n == 0 {
        return out;
    }
    let (kj, kh) = (j.variance_moments(variance), h.variance_moments(variance));
    let (sw_h, my, mf) = (h.w.s, h.w.sy / h.w.s, h.w.sf / h.w.s);
    let vh = |a: (f64, f64), b: (f64, f64), ma: f64, mb: f64| kh.centred(a, b, ma, mb) / (sw_h * sw_h);
    out.human_mean = my;
    out.human_se = vh((1.0, 0.0), (1.0, 0.0), my, my).max(0.0).sqrt();
    if j.n == 0 {
        return out;
    }
    let (sw_j, mj) = (j.w.s, j.w.sf / j.w.s);
    let v_j = kj.centred((0.0, 1.0), (0.0, 1.0), mj, mj).max(0.0) / (sw_j * sw_j);
    let lam = match lam {
        Some(l) => l,
        None => {
            let cov = vh((1.0, 0.0), (0.0, 1.0), my, mf);
            let denom = out.judge_variance * (kj.s / (sw_j * sw_j) + kh.s / (sw_h * sw_h));
            if denom > 0.0 && denom.is_finite() && cov.is_finite() {
                (cov / denom).clamp(0.0, 1.0)
            } else {
                0.0
            }
        }
    };
    let mg = my - lam * mf;
    let v_g = vh((1.0, -lam), (1.0, -lam), mg, mg).max(0.0);
    out.lam = lam;
    out.estimate = lam * mj + mg;
    out.se = (lam * lam * v_j + v_g).sqrt();
    out.lower = out.estimate - z * out.se;
    out.upper = out.estimate + z * out.se;
    out.defined = true;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Xoshiro256;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())) || (a.is_nan() && b.is_nan())
    }

    fn sample(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<u32>) {
        let mut r = Xoshiro256::new(seed, 0);
        let mut y = Vec::new();
        let mut f = Vec::new();
        let mut pi = Vec::new();
        let mut d = Vec::new();
        for _ in 0..n {
            let yi = f64::from(u8::from(r.uniform() < 0.8));
            y.push(yi);
            f.push(if r.uniform() < 0.85 { yi } else { 1.0 - yi });
            pi.push(0.05 + 0.95 * r.uniform());
            d.push((r.uniform() * 3.0) as u32);
        }
        (y, f, pi, d)
    }

    #[test]
    fn unweighted_matches_closed_forms() {
        // y, f on 4 reviews; 6 judged answers, π ≡ 1, with-replacement variance.
        let (y, f) = ([1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0]);
        let fj = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let mut a = PpiAggregate::new();
        a.add_reviews(&y, &f, &[1.0; 4], &[0; 4]).unwrap();
        a.add_judged(&fj, &[1.0; 6], &[0; 6]).unwrap();
        let e = &a.estimates(0.9, Some(1.0), Variance::WithReplacement).unwrap()[0];
        let mj = 4.0 / 6.0;
        assert!(close(e.estimate, mj + 0.75 - 0.5, 1e-12));
        // var_n(y - f) / n + var_N(f_J) / N
        let g = [0.0, 0.0, 1.0, 0.0];
        let vg = g.iter().map(|x| (x - 0.25f64).powi(2)).sum::<f64>() / 4.0 / 4.0;
        let vj = fj.iter().map(|x| (x - mj).powi(2)).sum::<f64>() / 6.0 / 6.0;
        assert!(close(e.se, (vg + vj).sqrt(), 1e-12));
        // A census judged sample has no Poisson variance.
        let p = &a.estimates(0.9, Some(1.0), Variance::Poisson).unwrap()[0];
        assert!(close(p.se, 0.0, 1e-12));
    }

    #[test]
    fn lam_zero_is_the_human_only_estimate() {
        let (y, f, pi, d) = sample(500, 7);
        let mut a = PpiAggregate::new();
        a.add_reviews(&y, &f, &pi, &d).unwrap();
        a.add_judged(&f, &pi, &d).unwrap();
        for e in a.estimates(0.95, Some(0.0), Variance::Poisson).unwrap() {
            assert!(close(e.estimate, e.human_mean, 1e-12));
            assert!(close(e.se, e.human_se, 1e-12));
        }
        for e in a.estimates(0.95, None, Variance::Poisson).unwrap() {
            assert!((0.0..=1.0).contains(&e.lam));
            assert!(e.se <= e.human_se * 1.05, "tuned λ should not lose much: {e:?}");
        }
    }

    #[test]
    fn bad_inputs_name_the_argument() {
        let mut a = PpiAggregate::new();
        let err = a.add_reviews(&[1.0], &[1.0, 0.0], &[1.0], &[0]).unwrap_err();
        assert!(err.to_string().contains("`f`"), "{err}");
        let err = a.add_judged(&[1.0], &[0.0], &[0]).unwrap_err();
        assert!(err.to_string().contains("pi[0]"), "{err}");
        let err = a.add_judged(&[f64::NAN], &[1.0], &[0]).unwrap_err();
        assert!(err.to_string().contains("f[0]"), "{err}");
        assert!(a.estimates(1.5, None, Variance::Poisson).is_err());
        assert!(a.estimates(0.9, Some(f64::NAN), Variance::Poisson).is_err());
        assert!(Variance::parse("bogus").is_err());
        assert_eq!(a, PpiAggregate::new(), "nothing added on error");
    }

    #[test]
    fn empty_domains_are_undefined_not_errors() {
        let mut a = PpiAggregate::new();
        a.add_judged(&[1.0, 0.0], &[0.5, 0.5], &[2, 2]).unwrap();
        let e = &a.estimates(0.95, None, Variance::Poisson).unwrap()[0];
        assert!(!e.defined && e.estimate.is_nan());
        let json = a.to_json().unwrap();
        assert_eq!(PpiAggregate::from_json(&json).unwrap(), a);
        assert!(PpiAggregate::from_json("{").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Merging partial aggregates (any split point) equals one pass over all units.
        #[test]
        fn merge_equals_one_pass(n in 2usize..400, seed in 0u64..10_000, cut in 0usize..400) {
            let (y, f, pi, d) = sample(n, seed);
            let cut = cut.min(n);
            let mut whole = PpiAggregate::new();
            whole.add_reviews(&y, &f, &pi, &d).unwrap();
            whole.add_judged(&f, &pi, &d).unwrap();
            let mut a = PpiAggregate::new();
            a.add_reviews(&y[..cut], &f[..cut], &pi[..cut], &d[..cut]).unwrap();
            a.add_judged(&f[cut..], &pi[cut..], &d[cut..]).unwrap();
            let mut b = PpiAggregate::new();
            b.add_reviews(&y[cut..], &f[cut..], &pi[cut..], &d[cut..]).unwrap();
            b.add_judged(&f[..cut], &pi[..cut], &d[..cut]).unwrap();
            let m = PpiAggregate::merged(&a, &b);
            let m2 = PpiAggregate::merged(&b, &a);
            prop_assert_eq!(m.domains(), whole.domains());
            for v in [Variance::Poisson, Variance::WithReplacement] {
                let (e1, e2, e3) = (
                    whole.estimates(0.95, None, v).unwrap(),
                    m.estimates(0.95, None, v).unwrap(),
                    m2.estimates(0.95, None, v).unwrap(),
                );
                for ((x, y), z) in e1.iter().zip(&e2).zip(&e3) {
                    prop_assert_eq!((x.n_judged, x.n_human), (y.n_judged, y.n_human));
                    for (p, q) in [(x.estimate, y.estimate), (x.se, y.se), (x.lam, y.lam), (y.estimate, z.estimate)] {
                        prop_assert!(close(p, q, 1e-9), "{} vs {}", p, q);
                    }
                }
            }
        }
    }
}
