//! Anytime-valid monitoring of a bounded mean, fed in daily batches.
//!
//! [`EbConfidenceSequence`] is the predictable plug-in empirical-Bernstein confidence sequence of
//! Waudby-Smith & Ramdas (2023, "Estimating means of bounded random variables by betting",
//! Thm. 2) for observations in [0, 1]. Within a day the bet λ is held fixed at a value computed
//! from the previous days only (predictable), so the capital is a product that does not depend on
//! the order inside the batch and a batch is absorbed from its sums (k, Σx, Σx²) in O(1).
//!
//! **Weighted observations.** Reviews drawn with unequal inclusion probabilities π are handled by
//! turning the tier's traffic into a (difference-estimator) Horvitz–Thompson stream: every
//! traffic unit contributes Z = c + 1{reviewed}·(y − c)/π with c = the baseline (fixed in advance,
//! so predictable), whose mean is the traffic mean of y. With B = `max_weight` ≥ 1/π for every
//! review, Z lies in [c − (c − lo)B, c + (hi − c)B], an interval of width (hi − lo)B, so a linear
//! map sends it to [0, 1] and the confidence sequence maps back to the quality scale. Centering at
//! c keeps the stream's variance (and so the sequence's width, which adapts to it) far below the
//! plain HT stream 1{reviewed}·y/π. Unreviewed traffic units all contribute Z = c and are absorbed
//! in bulk. With `max_weight = 1` the reviews themselves are the stream (Z = y; valid when
//! reviews are a simple random sample of the tier).
//!
//! [`Monitor`] raises an alarm when the upper bound falls below `baseline − tolerance`. To detect
//! a change quickly it runs restarted sequences: a new one starts every `restart_every` days and
//! the j-th gets error budget α·6/(π² j²) (Σ = α), so the probability of any false alarm over an
//! unbounded horizon stays ≤ α while a sequence started after a drop sees only post-drop data.
//!
//! **Boundaries.** Each sequence is one of two [`Boundary`] kinds. The default,
//! [`Boundary::EmpiricalBernstein`], is the predictable plug-in sequence above; its first bet is
//! centred and sized from a *prior* known before any data: the monitor's baseline (on the [0, 1]
//! scale, with the Bernoulli variance x₀(1 − x₀) at that mean). Any value fixed in advance keeps the
//! bets predictable, so coverage is unchanged; the old prior (centre 1/2, variance 1/4) made the
//! first day's bet too small and wrongly centred, a penalty paid again at every restart.
//! [`Boundary::BetaBinomial`] is the conjugate beta-binomial mixture of Howard, Ramdas, McAuliffe
//! & Sekhon (2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Prop. 7; the
//! two-sided `beta_binomial_log_mixture` of `confseq` with g = μ, h = 1 − μ): for each candidate
//! mean μ the mixture over a Beta(r/μ, r/(1 − μ)) prior of the Bernoulli likelihood ratios,
//! M_t(μ) = B(r/(1−μ) + S, r/μ + t − S) / B(r/(1−μ), r/μ) · μ^−S (1 − μ)^−(t−S), S = Σx,
//! r = max(ρ − μ(1−μ), 10⁻³μ(1−μ)) with ρ tuned to t_opt = [`BETA_BINOMIAL_T_OPT`] observations.
//! It is a test martingale for 0/1 outcomes with mean μ and a test supermartingale for any
//! observations in [0, 1] with mean μ (x ↦ e^{θx} is convex, so E e^{θX} ≤ 1 − μ + μe^θ), so the
//! set {μ : M_t(μ) < 1/α} is a (1 − α) confidence sequence (Ville). It needs only (t, Σx) and is
//! tightest for 0/1 outcomes; it does not adapt to a small variance, so it is refused for the
//! weighted (Horvitz–Thompson) stream, `max_weight > 1`.
//!
//! **E-detector.** With [`AlarmMethod::EDetector`] the alarm is instead a CUSUM-type e-detector
//! (Shin, Ramdas & Rinaldo 2024, "E-detectors: a nonparametric framework for sequential change
//! detection"). For each bet λ_k = λ_max·2^−k, k = 1..=[`EDETECTOR_BETS`], on a day with
//! observations the day's betting e-value E_t = Π (1 + λ_k(m − x)) against "mean ≥ m =
//! baseline − tolerance" updates C_t^k = max(C_{t−1}^k, 1)·E_t (C_0^k = 1); a day without
//! observations leaves C^k unchanged. The statistic is the average M_t = (1/K) Σ_k C_t^k and the
//! alarm fires when M_t ≥ A = `arl`. The grid stops at λ_max/256: smaller bets cannot gather
//! ln A nats in any useful time, and each bet costs ln K nats of the mixture.
//!
//! *Guarantee.* Let N_t be the number of days with observations up to day t (a day with reviews;
//! for the weighted stream, a day with traffic). Under the null that every observation's
//! conditional mean is ≥ m, each E_t has conditional expectation ≤ 1, so the Shiryaev–Roberts
//! statistic R_t^k = (R_{t−1}^k + 1{data on day t})·E_t satisfies E[R_t^k | past] ≤ R_{t−1}^k +
//! 1{data}, i.e. R̄_t − N_t (R̄ = the average over k) is a supermartingale, and C_t^k ≤ R_t^k
//! pathwise (a maximum of the products Π_{i=j..t} E_i is at most their sum). Hence, for the alarm
//! time τ: (i) E[N_τ] ≥ A: on average at least `arl` *days with reviews* (so at least `arl`
//! calendar days) pass before a false alarm; (ii) for every m, P(false alarm within the first m
//! days with reviews) ≤ m/A (Ville's inequality for the nonnegative supermartingale
//! R̄_t + m − N_t, started at m and stopped at the m-th data day). (ii) bounds the probability of
//! an early false alarm, which a mean alone does not. Days without reviews add no evidence and no
//! restart term, so a tier without reviews never alarms; under a strictly safe null (mean > m)
//! each C^k drifts down and is reset to 1, so the statistic does not grow with elapsed time as the
//! Shiryaev–Roberts sum does (R_t ≈ t for the smallest bets, whose E_t ≈ 1). The alarm is sticky.
//!
//! *State versions.* [`STATE_VERSION`] 2 (this statistic, baseline prior) replaced version 1 (a
//! Shiryaev–Roberts sum that added one per calendar day, and the (1/2, 1/4) prior). Version-1 JSON
//! still loads: its confidence sequences keep their old prior (bit-for-bit the old bounds), and
//! the e-detector's evidence restarts at zero on the first day after loading (its guarantee then
//! holds from that day; an alarm already raised stays raised).
//!
//! [`Cusum`] (Bernoulli or normal) is provided for comparison; it controls average run length
//! for a fully specified change, not for a composite null.

use serde::{Deserialize, Serialize};

use super::{check_finite, check_pi};
use crate::error::{Result, TierscopeError};

/// Bet truncation (WSR use c = 1/2 or 3/4).
const LAMBDA_MAX: f64 = 0.5;

/// Version of the serialised [`Monitor`] state written by this code (see the module docs).
pub const STATE_VERSION: u32 = 2;

/// Intrinsic time (observations) at which the beta-binomial boundary is tuned: a week of ~70
/// reviews a day, the monitors' restart window.
pub const BETA_BINOMIAL_T_OPT: f64 = 500.0;

/// Which confidence-sequence boundary a [`Monitor`] runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Predictable plug-in empirical-Bernstein (Waudby-Smith & Ramdas 2023).
    #[default]
    EmpiricalBernstein,
    /// Conjugate beta-binomial mixture (Howard et al. 2021), for 0/1 outcomes.
    BetaBinomial,
}

impl Boundary {
    /// Parse `"eb"` or `"beta_binomial"` (the Python names).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "eb" => Ok(Self::EmpiricalBernstein),
            "beta_binomial" => Ok(Self::BetaBinomial),
            other => Err(TierscopeError::invalid(
                "boundary",
                format!("\"eb\" or \"beta_binomial\", got {other:?}"),
            )),
        }
    }
}

fn old_prior_mean() -> f64 {
    0.5
}

fn old_prior_var() -> f64 {
    0.25
}

/// ln M_t(μ) of the two-sided beta-binomial mixture (module docs) after t observations summing to
/// S, tuned at `t_opt` observations and error level `alpha_opt`; μ in (0, 1).
pub fn beta_binomial_log_mixture(mu: f64, t: f64, s: f64, t_opt: f64, alpha_opt: f64) -> f64 {
    use super::special::ln_beta;
    let gh = mu * (1.0 - mu);
    let z = (1.0 / alpha_opt).ln();
    let rho = gh * t_opt / (2.0 * z + (1.0 + 2.0 * z).ln());
    let r = (rho - gh).max(1e-3 * gh);
    let (a0, b0) = (r / (1.0 - mu), r / mu);
    ln_beta(a0 + s, b0 + t - s) - ln_beta(a0, b0) - s * mu.ln() - (t - s) * (1.0 - mu).ln()
}

/// The beta-binomial confidence interval {μ : ln M_t(μ) < ln(1/α)} at (t, S), by bisection on
/// each side of S/t (ln M_t is decreasing then increasing in μ).
pub fn beta_binomial_interval(t: f64, s: f64, alpha: f64, t_opt: f64) -> (f64, f64) {
    let threshold = (1.0 / alpha).ln();
    let p_hat = (s / t).clamp(0.0, 1.0);
    let outside = |mu: f64| beta_binomial_log_mixture(mu, t, s, t_opt, alpha) >= threshold;
    let bisect = |mut inside: f64, mut out: f64| {
        for _ in 0..60 {
            let mid = 0.5 * (inside + out);
            if outside(mid) {
                out = mid;
            } else {
                inside = mid;
            }
            if (inside - out).abs() < 1e-12 {
                break;
            }
        }
        // The interval's edge, rounded outwards.
        out
    };
    // ln M_t(S/t) <= 0 (a mixture is at most the maximum likelihood), so S/t is inside.
    let lower = if p_hat <= 0.0 { 0.0 } else { bisect(p_hat, 0.0) };
    let upper = if p_hat >= 1.0 { 1.0 } else { bisect(p_hat, 1.0) };
    (lower.clamp(0.0, 1.0), upper.clamp(0.0, 1.0))
}

/// Predictable plug-in empirical-Bernstein confidence sequence for a mean in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EbConfidenceSequence {
    /// Error budget of this sequence.
    pub alpha: f64,
    /// Day (1-based) on which it started.
    pub start_day: u32,
    /// Observations absorbed.
    pub t: f64,
    /// Σx.
    pub sum_x: f64,
    /// Σ (x − μ̂_prev)², for the predictable variance estimate.
    pub sum_sq: f64,
    /// Σλ.
    pub sum_lambda: f64,
    /// Σλx.
    pub sum_lambda_x: f64,
    /// Σ v ψ_E(λ).
    pub sum_v_psi: f64,
    /// Running-intersection lower bound.
    pub lower: f64,
    /// Running-intersection upper bound.
    pub upper: f64,
    /// Prior mean of the predictable plug-in (fixed before any data; 1/2 in version-1 state).
    #[serde(default = "old_prior_mean")]
    pub prior_mean: f64,
    /// Prior variance of the predictable plug-in (1/4 in version-1 state).
    #[serde(default = "old_prior_var")]
    pub prior_var: f64,
    /// The boundary this sequence runs.
    #[serde(default)]
    pub boundary: Boundary,
}

fn psi_e(lambda: f64) -> f64 {
    (-(-lambda).ln_1p() - lambda) / 4.0
}

impl EbConfidenceSequence {
    /// A fresh empirical-Bernstein sequence with error budget `alpha` starting on `start_day`, with
    /// the uninformative prior (mean 1/2, variance 1/4).
    pub fn new(alpha: f64, start_day: u32) -> Self {
        Self::with_prior(alpha, start_day, 0.5, 0.25, Boundary::EmpiricalBernstein)
    }

    /// A fresh sequence whose first bet is centred at `prior_mean` and sized with `prior_var`
    /// (values fixed before the data, e.g. from the baseline; clamped to [0, 1] and [10⁻², 1/4]).
    /// `prior_*` are not read by [`Boundary::BetaBinomial`].
    pub fn with_prior(
        alpha: f64,
        start_day: u32,
        prior_mean: f64,
        prior_var: f64,
        boundary: Boundary,
    ) -> Self {
        Self {
            prior_mean: prior_mean.clamp(0.0, 1.0),
            prior_var: prior_var.clamp(1e-2, 0.25),
            boundary,
            alpha,
            start_day,
            t: 0.0,
            sum_x: 0.0,
            sum_sq: 0.0,
            sum_lambda: 0.0,
            sum_lambda_x: 0.0,
            sum_v_psi: 0.0,
            lower: 0.0,
            upper: 1.0,
        }
    }

    /// Absorb a batch of `k` observations in [0, 1] given by their sums Σx and Σx².
    pub fn update_sums(&mut self, k: f64, sum_x: f64, sum_x2: f64) {
        if k <= 0.0 {
            return;
        }
        if self.boundary == Boundary::BetaBinomial {
            self.t += k;
            self.sum_x += sum_x;
            let (lo, hi) = beta_binomial_interval(self.t, self.sum_x, self.alpha, BETA_BINOMIAL_T_OPT);
            self.lower = self.lower.max(lo).clamp(0.0, 1.0);
            self.upper = self.upper.min(hi).clamp(0.0, 1.0);
            return;
        }
        let mu = (self.prior_mean + self.sum_x) / (self.t + 1.0);
        let var = (self.prior_var + self.sum_sq) / (self.t + 1.0);
        let t_mid = self.t + 0.5 * (k + 1.0);
        let lambda =
            ((2.0 * (2.0 / self.alpha).ln()) / (var * t_mid * (1.0 + t_mid).ln())).sqrt().min(LAMBDA_MAX);
        let sq = (sum_x2 - 2.0 * mu * sum_x + k * mu * mu).max(0.0);
        self.sum_lambda += k * lambda;
        self.sum_lambda_x += lambda * sum_x;
        self.sum_v_psi += 4.0 * sq * psi_e(lambda);
        self.t += k;
        self.sum_x += sum_x;
        self.sum_sq += sq;
        let center = self.sum_lambda_x / self.sum_lambda;
        let half = ((2.0 / self.alpha).ln() + self.sum_v_psi) / self.sum_lambda;
        self.lower = self.lower.max(center - half).clamp(0.0, 1.0);
        self.upper = self.upper.min(center + half).clamp(0.0, 1.0);
    }

    /// Absorb a batch of observations in [0, 1].
    pub fn update(&mut self, x: &[f64]) {
        let s: f64 = x.iter().sum();
        let s2: f64 = x.iter().map(|v| v * v).sum();
        self.update_sums(x.len() as f64, s, s2);
    }
}

/// Number of bets in the e-detector's grid: λ_k = λ_max·2^−k, k = 1..=K, weights 1/K.
pub const EDETECTOR_BETS: usize = 8;

/// Which rule raises a [`Monitor`]'s alarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlarmMethod {
    /// Restarted confidence sequences: P(any false alarm, ever) ≤ α.
    #[default]
    ConfidenceSequence,
    /// CUSUM-type e-detector: expected days *with reviews* to a false alarm ≥ `arl`, and
    /// P(false alarm within the first m days with reviews) ≤ m/`arl` (module docs).
    EDetector {
        /// Mean run length to a false alarm under the null, in days with reviews, at least.
        arl: f64,
    },
}

/// Monitor configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// Expected quality (or gap) when all is well.
    pub baseline: f64,
    /// Tolerated drop: alarm when the upper bound < baseline − tolerance.
    pub tolerance: f64,
    /// Probability of any false alarm, over an unbounded horizon.
    pub alpha: f64,
    /// Smallest possible observation (0 for quality, −1 for a paired gap).
    pub lo: f64,
    /// Largest possible observation.
    pub hi: f64,
    /// Bound B on the review weights 1/π (1 = unweighted stream of reviews).
    pub max_weight: f64,
    /// Start a new sequence every this many days (0 = a single sequence).
    pub restart_every: u32,
    /// The alarm rule (confidence sequences unless set).
    #[serde(default)]
    pub method: AlarmMethod,
}

impl MonitorConfig {
    /// Validate the configuration.
    pub fn validate(&self) -> Result<()> {
        let bad = |arg: &str, what: String| Err(TierscopeError::invalid(arg, what));
        if !(self.lo.is_finite() && self.hi.is_finite() && self.hi > self.lo) {
            return bad("hi", format!("finite bounds with hi > lo, got lo = {}, hi = {}", self.lo, self.hi));
        }
        if !(self.baseline.is_finite() && self.baseline >= self.lo && self.baseline <= self.hi) {
            return bad("baseline", format!("a value in [{}, {}], got {}", self.lo, self.hi, self.baseline));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return bad("tolerance", format!("a non-negative tolerance, got {}", self.tolerance));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha", format!("a false-alarm probability in (0, 1), got {}", self.alpha));
        }
        if !(self.max_weight.is_finite() && self.max_weight >= 1.0) {
            return bad("max_weight", format!("a weight bound >= 1, got {}", self.max_weight));
        }
        if let AlarmMethod::EDetector { arl } = self.method {
            if !(arl.is_finite() && arl > 1.0) {
                return bad("arl", format!("an average run length in days > 1, got {arl}"));
            }
        }
        Ok(())
    }
}

/// What one day's update reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayStatus {
    /// Day number (1-based).
    pub day: u32,
    /// Lower bound of the full-history sequence, on the observation scale.
    pub lower: f64,
    /// Upper bound of the full-history sequence.
    pub upper: f64,
    /// Smallest upper bound over all running sequences (what the alarm compares).
    pub min_upper: f64,
    /// Whether the alarm is raised (now or earlier).
    pub alarm: bool,
    /// Day the alarm first fired.
    pub alarm_day: Option<u32>,
    /// ln M_t of the e-detector (None for confidence-sequence alarms); alarm at ln(arl).
    #[serde(default)]
    pub log_evidence: Option<f64>,
}

/// Anytime-valid alarm for one tier (or one paired gap). Serde-serialisable between days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Configuration.
    pub config: MonitorConfig,
    /// Days absorbed so far.
    pub day: u32,
    /// Running sequences (on the [0, 1] scale of X).
    pub sequences: Vec<EbConfidenceSequence>,
    /// Day the alarm first fired.
    pub alarm_day: Option<u32>,
    /// Per-day history.
    pub history: Vec<DayStatus>,
    /// E-detector state: ln C_t for each bet of the grid (empty until the first day with data).
    #[serde(default)]
    pub log_r: Vec<f64>,
    /// The confidence sequences' boundary.
    #[serde(default)]
    pub boundary: Boundary,
    /// State version ([`STATE_VERSION`]; 1 when absent: state written before version 2).
    #[serde(default = "version_one")]
    pub version: u32,
}

fn version_one() -> u32 {
    1
}

impl Monitor {
    /// A new monitor (validates the configuration).
    pub fn new(config: MonitorConfig) -> Result<Self> {
        Self::with_boundary(config, Boundary::default())
    }

    /// A new monitor running `boundary` confidence sequences (validates the configuration; the
    /// beta-binomial boundary needs an unweighted stream, `max_weight = 1`).
    pub fn with_boundary(config: MonitorConfig, boundary: Boundary) -> Result<Self> {
        config.validate()?;
        Self::check_boundary(&config, boundary)?;
        Ok(Self {
            config,
            day: 0,
            sequences: Vec::new(),
            alarm_day: None,
            history: Vec::new(),
            log_r: Vec::new(),
            boundary,
            version: STATE_VERSION,
        })
    }

    fn check_boundary(config: &MonitorConfig, boundary: Boundary) -> Result<()> {
        if boundary == Boundary::BetaBinomial && config.max_weight > 1.0 {
            return Err(TierscopeError::invalid(
                "boundary",
                format!(
                    "\"eb\" for a weighted stream (max_weight = {} > 1); the beta-binomial boundary is for unweighted 0/1 outcomes",
                    config.max_weight
                ),
            ));
        }
        Ok(())
    }

    /// The e-detector's bets on the [0, 1] scale of X and its null boundary m there.
    fn bets(&self) -> (Vec<f64>, f64) {
        let (low, scale) = self.stream_range();
        let m = ((self.config.baseline - self.config.tolerance - low) / scale).clamp(0.0, 1.0);
        // 1 + λ(m − x) ≥ 1 − λ(1 − m) > 0 for every x in [0, 1] when λ < 1/(1 − m).
        let lambda_max = 1.0 / (1.0 - m).max(1e-12);
        let bets = (1..=EDETECTOR_BETS).map(|k| lambda_max * 0.5f64.powi(k as i32)).collect();
        (bets, m)
    }

    /// Fold one day's observations (on the [0, 1] scale; `bulk` more units at `x_bulk`) into the
    /// e-detector and return ln M_t. A day without observations leaves the statistic unchanged.
    fn update_detector(&mut self, xs: &[f64], bulk: f64, x_bulk: f64) -> f64 {
        let (bets, m) = self.bets();
        if self.log_r.len() != bets.len() {
            // C_0 = 1 (ln 0): the same as C_0 = 0, since the first data day takes max(C_0, 1).
            self.log_r = vec![0.0; bets.len()];
        }
        if !xs.is_empty() || bulk > 0.0 {
            for (log_c, &lambda) in self.log_r.iter_mut().zip(&bets) {
                let mut log_e: f64 = xs.iter().map(|&x| (lambda * (m - x)).ln_1p()).sum();
                if bulk > 0.0 {
                    log_e += bulk * (lambda * (m - x_bulk)).ln_1p();
                }
                // C_t = max(C_{t−1}, 1)·E_t: the CUSUM restart, only on a day with data.
                *log_c = log_c.max(0.0) + log_e;
            }
        }
        self.log_evidence()
    }

    /// ln M_t = ln of the average of the bets' statistics (0 before the first day with data).
    fn log_evidence(&self) -> f64 {
        if self.log_r.is_empty() {
            return 0.0;
        }
        let total = self.log_r.iter().fold(f64::NEG_INFINITY, |acc, &v| log_add_exp(acc, v));
        total - (self.log_r.len() as f64).ln()
    }

    /// The stream's range: Z ∈ [low, low + width] with Z = c + 1{reviewed}·(y − c)/π, c the
    /// baseline and B the weight bound (B = 1 when unweighted, where Z is just y).
    fn stream_range(&self) -> (f64, f64) {
        let c = &self.config;
        let b = if c.max_weight > 1.0 { c.max_weight } else { 1.0 };
        (c.baseline - (c.baseline - c.lo) * b, (c.hi - c.lo) * b)
    }

    /// Absorb one day of reviews: scores `y` in [lo, hi], their inclusion probabilities `pi`
    /// (optional; 1/π must not exceed `max_weight`) and the day's traffic count `population`
    /// (required when `max_weight > 1`; the units beyond the reviews are the stream's zeros).
    pub fn update(&mut self, y: &[f64], pi: Option<&[f64]>, population: Option<u64>) -> Result<DayStatus> {
        check_finite("y", y)?;
        let (lo, hi) = (self.config.lo, self.config.hi);
        if let Some(i) = y.iter().position(|v| *v < lo || *v > hi) {
            return Err(TierscopeError::invalid(
                format!("y[{i}]"),
                format!("a score in [{lo}, {hi}], got {}", y[i]),
            ));
        }
        let b = self.config.max_weight;
        let weighted = b > 1.0;
        if let Some(p) = pi {
            super::check_same_len("pi", p.len(), "y", y.len())?;
            check_pi("pi", p)?;
            if let Some(i) = p.iter().position(|v| 1.0 / v > b * (1.0 + 1e-12)) {
                return Err(TierscopeError::invalid(
                    format!("pi[{i}]"),
                    format!("an inclusion probability of at least 1/max_weight = {}, got {}", 1.0 / b, p[i]),
                ));
            }
        }
        let k = if weighted {
            let Some(pop) = population else {
                return Err(TierscopeError::invalid(
                    "population",
                    "the day's traffic count (needed for weighted observations, max_weight > 1)",
                ));
            };
            if (pop as usize) < y.len() {
                return Err(TierscopeError::invalid(
                    "population",
                    format!("at least the number of reviews ({}), got {pop}", y.len()),
                ));
            }
            pop as f64
        } else {
            y.len() as f64
        };
        let (low, scale) = self.stream_range();
        let c = self.config.baseline;
        let (mut sx, mut sx2) = (0.0, 0.0);
        let mut xs = Vec::with_capacity(y.len());
        for (i, &v) in y.iter().enumerate() {
            let w = if weighted { pi.map_or(1.0, |p| 1.0 / p[i]) } else { 1.0 };
            let x = ((c + (v - c) * w - low) / scale).clamp(0.0, 1.0);
            sx += x;
            sx2 += x * x;
            xs.push(x);
        }
        // Unreviewed traffic units contribute Z = c.
        let unreviewed = k - y.len() as f64;
        let x0 = (c - low) / scale;
        sx += unreviewed * x0;
        sx2 += unreviewed * x0 * x0;
        self.day += 1;
        let restart = self.config.restart_every;
        if self.sequences.is_empty() || (restart > 0 && (self.day - 1) % restart == 0) {
            let j = self.sequences.len() as f64 + 1.0;
            let alpha_j = self.config.alpha * 6.0 / (std::f64::consts::PI.powi(2) * j * j);
            let alpha_j = if restart == 0 { self.config.alpha } else { alpha_j };
            // Predictable prior for the first bet: the baseline on the [0, 1] scale, known in advance.
            let var0 = x0 * (1.0 - x0);
            self.sequences.push(EbConfidenceSequence::with_prior(alpha_j, self.day, x0, var0, self.boundary));
        }
        for s in &mut self.sequences {
            s.update_sums(k, sx, sx2);
        }
        let to_y = |x: f64| low + x * scale;
        let min_upper =
            self.sequences.iter().filter(|s| s.t > 0.0).map(|s| to_y(s.upper)).fold(f64::INFINITY, f64::min);
        let (fired, log_evidence) = match self.config.method {
            AlarmMethod::ConfidenceSequence => {
                (min_upper < self.config.baseline - self.config.tolerance, None)
            }
            AlarmMethod::EDetector { arl } => {
                let log_m = self.update_detector(&xs, unreviewed, x0);
                (log_m >= arl.ln(), Some(log_m))
            }
        };
        if self.alarm_day.is_none() && fired {
            self.alarm_day = Some(self.day);
        }
        let first = &self.sequences[0];
        let status = DayStatus {
            day: self.day,
            lower: to_y(first.lower).max(lo),
            upper: to_y(first.upper).min(hi),
            min_upper: min_upper.min(hi),
            alarm: self.alarm_day.is_some(),
            alarm_day: self.alarm_day,
            log_evidence,
        };
        self.history.push(status.clone());
        Ok(status)
    }

    /// JSON state.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| TierscopeError::invalid("monitor", format!("serialisable state: {e}")))
    }

    /// Restore from JSON state.
    pub fn from_json(text: &str) -> Result<Self> {
        let mut m: Monitor = serde_json::from_str(text)
            .map_err(|e| TierscopeError::invalid("json", format!("a serialised Monitor: {e}")))?;
        if m.version > STATE_VERSION {
            return Err(TierscopeError::invalid(
                "json",
                format!(
                    "Monitor state of version <= {STATE_VERSION}, got version {} (written by a newer tierscope)",
                    m.version
                ),
            ));
        }
        m.config.validate()?;
        Self::check_boundary(&m.config, m.boundary)?;
        if m.version < STATE_VERSION {
            // Version 1 held a Shiryaev–Roberts sum with a per-day clock: its evidence restarts.
            m.log_r.clear();
            m.version = STATE_VERSION;
        }
        Ok(m)
    }
}

/// ln(e^a + e^b), exact at −∞.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let hi = a.max(b);
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + ((a - hi).exp() + (b - hi).exp()).ln()
}

/// CUSUM chart kinds for a downward shift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CusumKind {
    /// Bernoulli log-likelihood-ratio CUSUM from p0 (in control) to p1 < p0.
    Bernoulli {
        /// In-control rate.
        p0: f64,
        /// Out-of-control rate to detect.
        p1: f64,
    },
    /// Normal CUSUM: S = max(0, S + (mean0 − x)/sd − k) with k = shift/2 (shift in SD units).
    Normal {
        /// In-control mean.
        mean0: f64,
        /// In-control SD.
        sd: f64,
        /// Shift to detect, in SD units.
        shift: f64,
    },
}

/// A one-sided (downward) CUSUM chart, updated in daily batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    /// Chart kind.
    pub kind: CusumKind,
    /// Decision threshold h.
    pub threshold: f64,
    /// Current statistic.
    pub statistic: f64,
    /// Days absorbed.
    pub day: u32,
    /// Day the chart first signalled.
    pub alarm_day: Option<u32>,
}

impl Cusum {
    /// A new chart (validates parameters).
    pub fn new(kind: CusumKind, threshold: f64) -> Result<Self> {
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(TierscopeError::invalid(
                "threshold",
                format!("a positive threshold, got {threshold}"),
            ));
        }
        match &kind {
            CusumKind::Bernoulli { p0, p1 } => {
                if !(*p0 > 0.0 && *p0 < 1.0 && *p1 > 0.0 && *p1 < *p0) {
                    return Err(TierscopeError::invalid(
                        "p1",
                        format!("0 < p1 < p0 < 1, got p0 = {p0}, p1 = {p1}"),
                    ));
                }
            }
            CusumKind::Normal { mean0, sd, shift } => {
                if !(mean0.is_finite() && sd.is_finite() && *sd > 0.0 && shift.is_finite() && *shift > 0.0) {
                    return Err(TierscopeError::invalid(
                        "sd",
                        format!("finite mean0, sd > 0 and shift > 0, got {mean0}, {sd}, {shift}"),
                    ));
                }
            }
        }
        Ok(Self { kind, threshold, statistic: 0.0, day: 0, alarm_day: None })
    }

    /// Absorb one day's observations in order; returns whether the chart has signalled.
    pub fn update(&mut self, x: &[f64]) -> Result<bool> {
        check_finite("x", x)?;
        if let CusumKind::Bernoulli { .. } = self.kind {
            // Validated before anything changes: a bad day leaves the chart as it was.
            if let Some(v) = x.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                return Err(TierscopeError::invalid("x", format!("observations in [0, 1], got {v}")));
            }
        }
        self.day += 1;
        for &v in x {
            let inc = match self.kind {
                CusumKind::Bernoulli { p0, p1 } => {
                    v * (p1 / p0).ln() + (1.0 - v) * ((1.0 - p1) / (1.0 - p0)).ln()
                }
                CusumKind::Normal { mean0, sd, shift } => (mean0 - v) / sd - shift / 2.0,
            };
            self.statistic = (self.statistic + inc).max(0.0);
            if self.statistic > self.threshold && self.alarm_day.is_none() {
                self.alarm_day = Some(self.day);
            }
        }
        Ok(self.alarm_day.is_some())
    }

    /// JSON state.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| TierscopeError::invalid("cusum", format!("serialisable state: {e}")))
    }

    /// Restore from JSON state.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| TierscopeError::invalid("json", format!("a serialised Cusum: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Xoshiro256;

    fn cfg() -> MonitorConfig {
        MonitorConfig {
            baseline: 0.85,
            tolerance: 0.03,
            alpha: 0.05,
            lo: 0.0,
            hi: 1.0,
            max_weight: 1.0,
            restart_every: 7,
            method: AlarmMethod::ConfidenceSequence,
        }
    }

    #[test]
    fn cs_covers_and_shrinks() {
        let mut rng = Xoshiro256::new(3, 0);
        let mut cs = EbConfidenceSequence::new(0.05, 1);
        for _ in 0..60 {
            let x: Vec<f64> = (0..70).map(|_| if rng.uniform() < 0.8 { 1.0 } else { 0.0 }).collect();
            cs.update(&x);
            assert!(cs.lower <= 0.8 && cs.upper >= 0.8);
        }
        assert!(cs.upper - cs.lower < 0.08, "{cs:?}");
    }

    #[test]
    fn monitor_detects_drop_and_round_trips() {
        let mut rng = Xoshiro256::new(5, 0);
        let mut m = Monitor::new(cfg()).unwrap();
        for day in 1..=60 {
            let p = if day >= 20 { 0.75 } else { 0.85 };
            let y: Vec<f64> = (0..70).map(|_| if rng.uniform() < p { 1.0 } else { 0.0 }).collect();
            m.update(&y, None, None).unwrap();
            let back = Monitor::from_json(&m.to_json().unwrap()).unwrap();
            assert_eq!(back, m);
        }
        let d = m.alarm_day.expect("drop detected");
        assert!((20..50).contains(&d), "alarm day {d}");
    }

    #[test]
    fn weighted_stream_needs_population() {
        let mut c = cfg();
        c.max_weight = 50.0;
        let mut m = Monitor::new(c).unwrap();
        assert!(m.update(&[1.0], Some(&[0.1]), None).is_err());
        assert!(m.update(&[1.0], Some(&[0.01]), Some(100)).is_err());
        assert!(m.update(&[1.0, 0.0], Some(&[0.1, 0.05]), Some(40)).is_ok());
        assert!(Monitor::new(MonitorConfig { alpha: 1.5, ..cfg() }).is_err());
    }

    fn bernoulli_day(rng: &mut Xoshiro256, p: f64, n: usize) -> Vec<f64> {
        (0..n).map(|_| if rng.uniform() < p { 1.0 } else { 0.0 }).collect()
    }

    fn edetector(arl: f64) -> MonitorConfig {
        MonitorConfig { method: AlarmMethod::EDetector { arl }, ..cfg() }
    }

    #[test]
    fn edetector_average_run_length_under_the_null_is_at_least_arl() {
        // Worst case of the null: the mean sits exactly on the alarm line baseline − tolerance.
        let arl = 20.0;
        let (runs, cap) = (300, 2_000u32);
        let mut total = 0.0;
        for r in 0..runs {
            let mut rng = Xoshiro256::new(11, r);
            let mut m = Monitor::new(edetector(arl)).unwrap();
            let mut day = cap;
            for d in 1..=cap {
                m.update(&bernoulli_day(&mut rng, 0.82, 40), None, None).unwrap();
                if m.alarm_day.is_some() {
                    day = d;
                    break;
                }
            }
            total += f64::from(day);
        }
        let mean = total / f64::from(runs as u32);
        assert!(mean >= arl, "mean run length {mean} < ARL {arl}");
    }

    #[test]
    fn edetector_detects_faster_than_restarted_sequences() {
        let (mut cs_days, mut ed_days) = (0u32, 0u32);
        for r in 0..40 {
            let mut rng = Xoshiro256::new(21, r);
            let mut cs = Monitor::new(cfg()).unwrap();
            let mut ed = Monitor::new(edetector(1_000.0)).unwrap();
            for day in 1..=120 {
                let p = if day >= 30 { 0.76 } else { 0.85 };
                let y = bernoulli_day(&mut rng, p, 70);
                cs.update(&y, None, None).unwrap();
                let st = ed.update(&y, None, None).unwrap();
                assert!(st.log_evidence.is_some_and(f64::is_finite));
            }
            let (c, e) = (cs.alarm_day.expect("cs fires"), ed.alarm_day.expect("e-detector fires"));
            assert!(c >= 30 && e >= 30, "false alarm before the change: cs {c}, e-detector {e}");
            cs_days += c - 30;
            ed_days += e - 30;
        }
        assert!(ed_days < cs_days, "e-detector delay {ed_days} vs confidence sequences {cs_days}");
    }

    #[test]
    fn edetector_weighted_stream_and_round_trip() {
        let mut m = Monitor::new(MonitorConfig { max_weight: 4.0, ..edetector(500.0) }).unwrap();
        let mut rng = Xoshiro256::new(2, 0);
        for _ in 0..20 {
            let y = bernoulli_day(&mut rng, 0.6, 50);
            let pi: Vec<f64> = (0..50).map(|i| if i % 2 == 0 { 0.25 } else { 0.5 }).collect();
            m.update(&y, Some(&pi), Some(400)).unwrap();
        }
        assert!(m.alarm_day.is_some(), "a 25-point drop is detected: {:?}", m.history.last());
        let back = Monitor::from_json(&m.to_json().unwrap()).unwrap();
        assert_eq!(back, m);
        // state written before the e-detector existed still loads (confidence-sequence alarms)
        let mut old: serde_json::Value =
            serde_json::from_str(&Monitor::new(cfg()).unwrap().to_json().unwrap()).unwrap();
        old["config"].as_object_mut().unwrap().remove("method");
        old.as_object_mut().unwrap().remove("log_r");
        let restored = Monitor::from_json(&old.to_string()).unwrap();
        assert_eq!(restored.config.method, AlarmMethod::ConfidenceSequence);
        assert!(Monitor::new(edetector(1.0)).is_err());
        assert!(Monitor::new(edetector(f64::NAN)).is_err());
    }

    proptest::proptest! {
        /// The e-detector's evidence is finite, does not depend on the order of a day's
        /// observations (a product of factors), and its alarm, once raised, stays with its day;
        /// an all-perfect stream never alarms, and an empty day leaves the evidence unchanged.
        #[test]
        fn edetector_invariants(
            days in proptest::collection::vec(proptest::collection::vec(0.0f64..=1.0, 0..30), 1..25),
            baseline in 0.5f64..0.99, tolerance in 0.0f64..0.2,
        ) {
            let config = MonitorConfig { baseline, tolerance, method: AlarmMethod::EDetector { arl: 50.0 }, ..cfg() };
            let (mut forward, mut reversed) = (Monitor::new(config.clone()).unwrap(), Monitor::new(config.clone()).unwrap());
            let mut perfect = Monitor::new(config).unwrap();
            let mut first_alarm = None;
            for y in &days {
                let a = forward.update(y, None, None).unwrap();
                let rev: Vec<f64> = y.iter().rev().copied().collect();
                let b = reversed.update(&rev, None, None).unwrap();
                let (ea, eb) = (a.log_evidence.unwrap(), b.log_evidence.unwrap());
                proptest::prop_assert!(ea.is_finite());
                proptest::prop_assert!((ea - eb).abs() <= 1e-9 * (1.0 + ea.abs()));
                if first_alarm.is_none() {
                    first_alarm = a.alarm_day;
                }
                proptest::prop_assert_eq!(a.alarm_day, first_alarm);
                let before = perfect.log_r.clone();
                let p = perfect.update(&vec![1.0; y.len()], None, None).unwrap();
                proptest::prop_assert!(p.alarm_day.is_none());
                proptest::prop_assert!(p.log_evidence.unwrap() <= 1e-12);
                if y.is_empty() && !before.is_empty() {
                    proptest::prop_assert_eq!(&perfect.log_r, &before);
                }
            }
        }
    }

    #[test]
    fn edetector_without_reviews_never_alarms() {
        let arl = 30.0;
        let mut m = Monitor::new(edetector(arl)).unwrap();
        let mut w = Monitor::new(MonitorConfig { max_weight: 10.0, ..edetector(arl) }).unwrap();
        for _ in 0..(10 * arl as u32) {
            let st = m.update(&[], None, None).unwrap();
            assert!(st.log_evidence.is_some_and(|e| e.abs() < 1e-12), "{st:?}");
            let sw = w.update(&[], None, Some(0)).unwrap();
            assert!(sw.log_evidence.is_some_and(|e| e.abs() < 1e-12), "{sw:?}");
        }
        assert_eq!((m.alarm_day, w.alarm_day), (None, None));
        // Data then silence: the evidence stays where the last review left it.
        m.update(&[0.0; 5], None, None).unwrap();
        let after = m.history.last().unwrap().log_evidence;
        for _ in 0..100 {
            assert_eq!(m.update(&[], None, None).unwrap().log_evidence, after);
        }
    }

    #[test]
    fn beta_binomial_matches_confseq_reference_values() {
        // confseq's bernoulli_confidence_interval test values (t_opt, alpha_opt = alpha).
        for (s, t, t_opt, lo, hi) in
            [(700.0, 1000.0, 100.0, 0.651629, 0.745949), (100.0, 200.0, 1.0, 0.328923, 0.671076)]
        {
            let (l, u) = beta_binomial_interval(t, s, 0.05, t_opt);
            assert!((l - lo).abs() < 2e-6 && (u - hi).abs() < 2e-6, "{s}/{t}: ({l}, {u}) vs ({lo}, {hi})");
        }
        let (l, u) = beta_binomial_interval(2.0, 1.0, 0.05, 50.0);
        assert_eq!((l, u), (0.0, 1.0));
        assert!(Boundary::parse("beta").is_err());
        assert!(Monitor::with_boundary(MonitorConfig { max_weight: 2.0, ..cfg() }, Boundary::BetaBinomial)
            .is_err());
    }

    /// Anytime coverage of one (never restarted) sequence over 40 days of 70 Bernoulli(p) reviews.
    fn anytime_coverage(boundary: Boundary, p: f64, baseline: f64, runs: u64) -> f64 {
        let mut covered = 0u64;
        for r in 0..runs {
            let mut rng = Xoshiro256::new(31, r);
            let mut s =
                EbConfidenceSequence::with_prior(0.05, 1, baseline, baseline * (1.0 - baseline), boundary);
            let mut ok = true;
            for _ in 0..40 {
                s.update(&bernoulli_day(&mut rng, p, 70));
                ok &= s.lower <= p && p <= s.upper;
            }
            covered += u64::from(ok);
        }
        covered as f64 / runs as f64
    }

    #[test]
    fn sequences_cover_anytime() {
        // The true mean on the baseline and 5 points off it (a prior fixed in advance stays valid).
        for boundary in [Boundary::EmpiricalBernstein, Boundary::BetaBinomial] {
            for p in [0.85, 0.80] {
                let c = anytime_coverage(boundary, p, 0.85, 400);
                assert!(c >= 0.95, "{boundary:?} p = {p}: anytime coverage {c}");
            }
        }
    }

    #[test]
    fn baseline_prior_and_beta_binomial_are_tighter() {
        let mut rng = Xoshiro256::new(8, 0);
        let mut old = EbConfidenceSequence::new(0.05, 1);
        let mut new =
            EbConfidenceSequence::with_prior(0.05, 1, 0.85, 0.85 * 0.15, Boundary::EmpiricalBernstein);
        let mut bb = EbConfidenceSequence::with_prior(0.05, 1, 0.85, 0.0, Boundary::BetaBinomial);
        for _ in 0..7 {
            let x = bernoulli_day(&mut rng, 0.85, 70);
            old.update(&x);
            new.update(&x);
            bb.update(&x);
        }
        let w = |s: &EbConfidenceSequence| s.upper - s.lower;
        assert!(w(&new) < w(&old) && w(&bb) < w(&old), "{} {} {}", w(&old), w(&new), w(&bb));
    }

    #[test]
    fn version_one_state_loads() {
        let mut m = Monitor::new(edetector(100.0)).unwrap();
        m.update(&[0.0; 30], None, None).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&m.to_json().unwrap()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("version");
        obj.remove("boundary");
        for s in obj["sequences"].as_array_mut().unwrap() {
            let s = s.as_object_mut().unwrap();
            for k in ["prior_mean", "prior_var", "boundary"] {
                s.remove(k);
            }
        }
        let back = Monitor::from_json(&v.to_string()).unwrap();
        assert_eq!(back.version, STATE_VERSION);
        assert!(back.log_r.is_empty(), "version-1 evidence restarts");
        assert_eq!((back.sequences[0].prior_mean, back.sequences[0].prior_var), (0.5, 0.25));
        v["version"] = serde_json::json!(STATE_VERSION + 1);
        let err = Monitor::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }

    #[test]
    fn cusum_signals() {
        let mut c = Cusum::new(CusumKind::Bernoulli { p0: 0.85, p1: 0.75 }, 4.0).unwrap();
        let zeros = vec![0.0; 20];
        assert!(c.update(&zeros).unwrap());
        assert_eq!(c.alarm_day, Some(1));
        assert!(Cusum::new(CusumKind::Bernoulli { p0: 0.5, p1: 0.6 }, 4.0).is_err());
        let back = Cusum::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn failed_updates_change_nothing() {
        let mut c = Cusum::new(CusumKind::Bernoulli { p0: 0.85, p1: 0.75 }, 4.0).unwrap();
        c.update(&[0.0, 1.0]).unwrap();
        let before = c.clone();
        assert!(c.update(&[0.0, 0.0, 2.0]).is_err());
        assert!(c.update(&[0.0, f64::NAN]).is_err());
        assert_eq!(c, before);
        let mut m = Monitor::new(cfg()).unwrap();
        m.update(&[1.0; 10], None, None).unwrap();
        let before = m.clone();
        assert!(m.update(&[1.0, 2.0], None, None).is_err());
        assert!(m.update(&[1.0, 1.0], Some(&[1.0]), None).is_err());
        assert_eq!(m, before);
    }
}
