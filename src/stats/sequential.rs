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
//! **E-detector.** With [`AlarmMethod::EDetector`] the alarm is instead a Shiryaev–Roberts
//! e-detector (Shin, Ramdas & Rinaldo 2024, "E-detectors: a nonparametric framework for
//! sequential change detection"): for each bet λ on a grid, R_t = (R_{t−1} + 1)·E_t with the day's
//! betting e-value E_t = Π (1 + λ(m − x)) against "mean ≥ m = baseline − tolerance", averaged over
//! the grid. Under that null M_t − t is a supermartingale, so the expected number of days to a false
//! alarm (alarm when M_t ≥ A) is at least A = `arl`. It restarts at every day implicitly, so it is
//! not diluted by pre-change data and needs no split of α across restarts: a guarantee on the
//! false-alarm *rate* rather than on any false alarm ever. The confidence sequences still run and
//! give the reported bounds.
//!
//! [`Cusum`] (Bernoulli or normal) is provided for comparison; it controls average run length
//! for a fully specified change, not for a composite null.

use serde::{Deserialize, Serialize};

use super::{check_finite, check_pi};
use crate::error::{Result, TierscopeError};

/// Bet truncation (WSR use c = 1/2 or 3/4).
const LAMBDA_MAX: f64 = 0.5;

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
}

fn psi_e(lambda: f64) -> f64 {
    (-(-lambda).ln_1p() - lambda) / 4.0
}

impl EbConfidenceSequence {
    /// A fresh sequence with error budget `alpha` starting on `start_day`.
    pub fn new(alpha: f64, start_day: u32) -> Self {
        Self {
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
        let mu = (0.5 + self.sum_x) / (self.t + 1.0);
        let var = (0.25 + self.sum_sq) / (self.t + 1.0);
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

/// Number of bets in the e-detector's grid: λ_k = λ_max·2^−k, k = 1..=16, weights 1/16.
const EDETECTOR_BETS: usize = 16;

/// Which rule raises a [`Monitor`]'s alarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlarmMethod {
    /// Restarted confidence sequences: P(any false alarm, ever) ≤ α.
    #[default]
    ConfidenceSequence,
    /// Shiryaev–Roberts e-detector: expected days to a false alarm ≥ `arl`.
    EDetector {
        /// Average run length (days) to a false alarm under the null, at least.
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
    /// E-detector state: ln R_t for each bet of the grid (empty until the first day).
    #[serde(default)]
    pub log_r: Vec<f64>,
}

impl Monitor {
    /// A new monitor (validates the configuration).
    pub fn new(config: MonitorConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            day: 0,
            sequences: Vec::new(),
            alarm_day: None,
            history: Vec::new(),
            log_r: Vec::new(),
        })
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
    /// e-detector and return ln M_t.
    fn update_detector(&mut self, xs: &[f64], bulk: f64, x_bulk: f64) -> f64 {
        let (bets, m) = self.bets();
        if self.log_r.len() != bets.len() {
            self.log_r = vec![f64::NEG_INFINITY; bets.len()];
        }
        for (log_r, &lambda) in self.log_r.iter_mut().zip(&bets) {
            let mut log_e: f64 = xs.iter().map(|&x| (lambda * (m - x)).ln_1p()).sum();
            if bulk > 0.0 {
                log_e += bulk * (lambda * (m - x_bulk)).ln_1p();
            }
            // ln(R + 1) = logaddexp(ln R, 0)
            *log_r = log_add_exp(*log_r, 0.0) + log_e;
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
            self.sequences.push(EbConfidenceSequence::new(alpha_j, self.day));
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
        let m: Monitor = serde_json::from_str(text)
            .map_err(|e| TierscopeError::invalid("json", format!("a serialised Monitor: {e}")))?;
        m.config.validate()?;
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
        /// an all-perfect stream never alarms within fewer days than the ARL (empty days only
        /// count days: R grows by one).
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
                let p = perfect.update(&vec![1.0; y.len()], None, None).unwrap();
                proptest::prop_assert!(p.alarm_day.is_none());
            }
        }
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
