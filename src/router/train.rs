//! Training without torch: a multinomial logistic-regression head (L2, L-BFGS), temperature
//! scaling, calibration metrics and the tail-score statistics.

use crate::router::config::TailStats;
use crate::router::linalg;

/// Options for [`fit_logistic`].
#[derive(Clone, Debug)]
pub struct LogisticOptions {
    /// L2 penalty on the weights (not the bias), applied to the mean log-loss.
    pub l2: f64,
    /// Iteration cap for L-BFGS.
    pub max_iter: usize,
    /// Stop when the gradient's max-norm falls below this.
    pub tolerance: f64,
    /// One weight per class multiplying its examples' log-loss (the sum is still divided by
    /// the number of examples, so "balanced" weights `n / (k·n_c)` keep the loss's scale); None: 1.
    pub class_weights: Option<Vec<f64>>,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        Self { l2: 1e-4, max_iter: 500, tolerance: 1e-6, class_weights: None }
    }
}

/// "Balanced" class weights `n / (k · n_c)` of labels in `0..k` (a class without examples gets 0).
pub fn balanced_class_weights(y: &[usize], k: usize) -> Vec<f64> {
    let mut counts = vec![0usize; k];
    for &c in y {
        counts[c] += 1;
    }
    counts.iter().map(|&c| if c == 0 { 0.0 } else { y.len() as f64 / (k as f64 * c as f64) }).collect()
}

/// A fitted linear head: `weights` is `k × d` row-major, `bias` has `k` values.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearHead {
    /// Number of classes.
    pub k: usize,
    /// Input width.
    pub d: usize,
    /// Row-major `k × d` weights.
    pub weights: Vec<f64>,
    /// `k` biases.
    pub bias: Vec<f64>,
    /// Iterations used.
    pub iterations: usize,
}

impl LinearHead {
    /// Logits for one row.
    pub fn logits(&self, x: &[f32], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            let w = &self.weights[c * self.d..(c + 1) * self.d];
            *o = self.bias[c] + w.iter().zip(x).map(|(a, &b)| a * b as f64).sum::<f64>();
        }
    }
}

/// Mean (class-weighted) cross-entropy + L2 and its gradient at `theta` = [weights (k·d), bias (k)].
#[allow(clippy::too_many_arguments)]
fn loss_and_gradient(
    x: &[f32],
    y: &[usize],
    k: usize,
    d: usize,
    l2: f64,
    class_weights: Option<&[f64]>,
    theta: &[f64],
    grad: &mut [f64],
) -> f64 {
    let n = y.len();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let (w, b) = theta.split_at(k * d);
    let mut logits = vec![0.0; k];
    let mut probs = vec![0.0; k];
    let mut loss = 0.0;
    for (i, &label) in y.iter().enumerate() {
        let row = &x[i * d..(i + 1) * d];
        for c in 0..k {
            logits[c] = b[c] + w[c * d..(c + 1) * d].iter().zip(row).map(|(a, &v)| a * v as f64).sum::<f64>();
        }
        linalg::softmax_scaled(&logits, 1.0, &mut probs);
        let weight = class_weights.map_or(1.0, |w| w[label]);
        loss -= weight * probs[label].max(1e-300).ln();
        for c in 0..k {
            let residual = weight * (probs[c] - if c == label { 1.0 } else { 0.0 });
            let gw = &mut grad[c * d..(c + 1) * d];
            for (g, &v) in gw.iter_mut().zip(row) {
                *g += residual * v as f64;
            }
            grad[k * d + c] += residual;
        }
    }
    let inv_n = 1.0 / n as f64;
    loss *= inv_n;
    grad.iter_mut().for_each(|g| *g *= inv_n);
    for j in 0..k * d {
        loss += 0.5 * l2 * w[j] * w[j];
        grad[j] += l2 * w[j];
    }
    loss
}

/// Fit a multinomial logistic regression on `x` (`n × d` row-major) with labels in `0..k`.
/// Deterministic: starts from zero and uses a fixed summation order.
pub fn fit_logistic(x: &[f32], y: &[usize], k: usize, d: usize, options: &LogisticOptions) -> LinearHead {
    let dim = k * d + k;
    let mut theta = vec![0.0; dim];
    let mut grad = vec![0.0; dim];
    let weights = options.class_weights.as_deref();
    let mut loss = loss_and_gradient(x, y, k, d, options.l2, weights, &theta, &mut grad);
    let memory = 10;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut iterations = 0;
    let mut new_grad = vec![0.0; dim];
    let mut candidate = vec![0.0; dim];
    for iter in 0..options.max_iter {
        iterations = iter + 1;
        if grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) < options.tolerance {
            break;
        }
        // Two-loop recursion for the search direction.
        let mut q = grad.clone();
        let mut alphas = vec![0.0; s_hist.len()];
        for j in (0..s_hist.len()).rev() {
            let rho = 1.0 / dotf(&y_hist[j], &s_hist[j]);
            alphas[j] = rho * dotf(&s_hist[j], &q);
            axpy(-alphas[j], &y_hist[j], &mut q);
        }
        if let (Some(s), Some(yv)) = (s_hist.last(), y_hist.last()) {
            let gamma = dotf(s, yv) / dotf(yv, yv);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for j in 0..s_hist.len() {
            let rho = 1.0 / dotf(&y_hist[j], &s_hist[j]);
            let beta = rho * dotf(&y_hist[j], &q);
            axpy(alphas[j] - beta, &s_hist[j], &mut q);
        }
        let mut direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dotf(&grad, &direction);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            direction = grad.iter().map(|g| -g).collect();
            slope = dotf(&grad, &direction);
        }
        // Backtracking (Armijo) line search.
        let mut step =
            if s_hist.is_empty() { 1.0 / grad.iter().map(|g| g.abs()).fold(1.0, f64::max) } else { 1.0 };
        let mut new_loss;
        loop {
            for j in 0..dim {
                candidate[j] = theta[j] + step * direction[j];
            }
            new_loss = loss_and_gradient(x, y, k, d, options.l2, weights, &candidate, &mut new_grad);
            if new_loss <= loss + 1e-4 * step * slope || step < 1e-12 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = candidate.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = new_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let converged = (loss - new_loss).abs() <= 1e-12 * loss.abs().max(1.0);
        theta.copy_from_slice(&candidate);
        grad.copy_from_slice(&new_grad);
        loss = new_loss;
        if dotf(&s, &yv) > 1e-12 {
            s_hist.push(s);
            y_hist.push(yv);
            if s_hist.len() > memory {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        if converged {
            break;
        }
    }
    let bias = theta[k * d..].to_vec();
    theta.truncate(k * d);
    LinearHead { k, d, weights: theta, bias, iterations }
}

fn dotf(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += alpha * b;
    }
}

/// Mean negative log-likelihood of `labels` under `softmax(logits / t)`; `logits` is `n × k`.
pub fn nll_at_temperature(logits: &[f64], labels: &[usize], k: usize, t: f64) -> f64 {
    let mut probs = vec![0.0; k];
    let mut total = 0.0;
    for (i, &label) in labels.iter().enumerate() {
        linalg::softmax_scaled(&logits[i * k..(i + 1) * k], t, &mut probs);
        total -= probs[label].max(1e-300).ln();
    }
    total / labels.len() as f64
}

/// The temperature in [0.05, 20] minimising held-out NLL (golden-section search on log t).
pub fn fit_temperature(logits: &[f64], labels: &[usize], k: usize) -> f64 {
    let (mut lo, mut hi) = (0.05f64.ln(), 20.0f64.ln());
    let ratio = (5.0f64.sqrt() - 1.0) / 2.0;
    let f = |log_t: f64| nll_at_temperature(logits, labels, k, log_t.exp());
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..100 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = f(b);
        }
        if hi - lo < 1e-6 {
            break;
        }
    }
    ((lo + hi) / 2.0).exp()
}

/// Expected calibration error of the top-class confidence with `bins` equal-width bins.
pub fn expected_calibration_error(confidence: &[f64], correct: &[bool], bins: usize) -> f64 {
    let mut conf_sum = vec![0.0; bins];
    let mut hit_sum = vec![0.0; bins];
    let mut count = vec![0usize; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let b = ((c * bins as f64) as usize).min(bins - 1);
        conf_sum[b] += c;
        hit_sum[b] += if ok { 1.0 } else { 0.0 };
        count[b] += 1;
    }
    let n = confidence.len().max(1) as f64;
    (0..bins).filter(|&b| count[b] > 0).map(|b| (conf_sum[b] - hit_sum[b]).abs() / n).sum()
}

/// Evenly spaced quantiles (levels 0, 1/(m-1), …, 1) of `values` with linear interpolation.
pub fn quantiles(values: &[f64], m: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().cloned().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return vec![];
    }
    (0..m)
        .map(|i| {
            let pos = i as f64 / (m - 1) as f64 * (sorted.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        })
        .collect()
}

/// Fraction of the reference distribution at or below `value`, from its evenly spaced quantiles
/// (the inverse of [`quantiles`], linear between quantile points).
pub fn percentile_of(quantiles: &[f64], value: f64) -> f64 {
    let m = quantiles.len();
    if value.is_nan() || m < 2 {
        return f64::NAN;
    }
    if value < quantiles[0] {
        return 0.0;
    }
    if value >= quantiles[m - 1] {
        return 1.0;
    }
    // Last index with q <= value.
    let i = quantiles.partition_point(|&q| q <= value) - 1;
    let (lo, hi) = (quantiles[i], quantiles[i + 1]);
    let frac = if hi > lo { (value - lo) / (hi - lo) } else { 1.0 };
    (i as f64 + frac) / (m - 1) as f64
}

/// Tail statistics from embeddings `x` (`n × d`) and labels: per-class centroids, pooled
/// within-class covariance shrunk towards `(tr Σ / d) I`, whitened with its Cholesky factor.
pub fn fit_tail(x: &[f32], y: &[usize], k: usize, d: usize, shrinkage: f64) -> Option<TailStats> {
    let n = y.len();
    let mut centroids = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    for (i, &c) in y.iter().enumerate() {
        counts[c] += 1;
        for j in 0..d {
            centroids[c * d + j] += x[i * d + j] as f64;
        }
    }
    for c in 0..k {
        for j in 0..d {
            centroids[c * d + j] /= counts[c].max(1) as f64;
        }
    }
    let mut cov = vec![0.0f64; d * d];
    let mut centered = vec![0.0f64; d];
    for (i, &c) in y.iter().enumerate() {
        for j in 0..d {
            centered[j] = x[i * d + j] as f64 - centroids[c * d + j];
        }
        for a in 0..d {
            let ca = centered[a];
            let row = &mut cov[a * d..a * d + a + 1];
            for (b, v) in row.iter_mut().enumerate() {
                *v += ca * centered[b];
            }
        }
    }
    let denom = (n.saturating_sub(k)).max(1) as f64;
    for a in 0..d {
        for b in 0..=a {
            cov[a * d + b] /= denom;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    let trace_mean = (0..d).map(|a| cov[a * d + a]).sum::<f64>() / d as f64;
    let floor = if trace_mean > 0.0 { trace_mean } else { 1.0 };
    for a in 0..d {
        for b in 0..d {
            cov[a * d + b] *= 1.0 - shrinkage;
        }
        cov[a * d + a] += shrinkage * floor;
    }
    let l = linalg::cholesky(&cov, d)?;
    let whitening = linalg::invert_lower(&l, d);
    let whitening_f32: Vec<f32> = whitening.iter().map(|&v| v as f32).collect();
    let mut whitened_centroids = Vec::with_capacity(k);
    for c in 0..k {
        let centroid: Vec<f32> = centroids[c * d..(c + 1) * d].iter().map(|&v| v as f32).collect();
        let mut out = vec![0.0f32; d];
        linalg::matvec(&whitening_f32, d, d, &centroid, &mut out);
        whitened_centroids.push(out);
    }
    let mut tail = TailStats {
        method: "mahalanobis_nearest_centroid".into(),
        shrinkage,
        whitening: whitening_f32.chunks(d).map(|r| r.to_vec()).collect(),
        centroids: whitened_centroids,
        distance_quantiles: vec![],
    };
    let scorer = TailScorer::new(&tail);
    let distances: Vec<f64> = (0..n).map(|i| scorer.distance(&x[i * d..(i + 1) * d])).collect();
    tail.distance_quantiles = quantiles(&distances, 1001);
    Some(tail)
}

/// Precomputed tail scoring: whitening as a flat matrix, centroids already whitened.
#[derive(Clone, Debug)]
pub struct TailScorer {
    d: usize,
    whitening: Vec<f32>,
    centroids: Vec<Vec<f32>>,
    quantiles: Vec<f64>,
}

impl TailScorer {
    /// Flatten the stored statistics for fast scoring.
    pub fn new(tail: &TailStats) -> Self {
        let d = tail.whitening.len();
        Self {
            d,
            whitening: tail.whitening.iter().flatten().cloned().collect(),
            centroids: tail.centroids.clone(),
            quantiles: tail.distance_quantiles.clone(),
        }
    }

    /// Mahalanobis distance from `embedding` to the nearest centroid.
    pub fn distance(&self, embedding: &[f32]) -> f64 {
        let mut z = vec![0.0f32; self.d];
        linalg::lower_triangular_matvec(&self.whitening, self.d, embedding, &mut z);
        self.centroids
            .iter()
            .map(|c| c.iter().zip(&z).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>())
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }

    /// The distance as a training-set percentile in [0, 1] (1 = farther than every training text).
    pub fn score(&self, embedding: &[f32]) -> f64 {
        percentile_of(&self.quantiles, self.distance(embedding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    fn blobs(n: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            y.push(c);
            for j in 0..d {
                let centre = if j == c { 2.0 } else { 0.0 };
                x.push(centre + rng.random_range(-1.0f32..1.0));
            }
        }
        (x, y)
    }

    #[test]
    fn logistic_regression_learns_separable_blobs_deterministically() {
        let (x, y) = blobs(600, 5, 7);
        let head = fit_logistic(&x, &y, 3, 5, &LogisticOptions::default());
        let again = fit_logistic(&x, &y, 3, 5, &LogisticOptions::default());
        assert_eq!(head, again);
        let mut logits = vec![0.0; 3];
        let correct = (0..600)
            .filter(|&i| {
                head.logits(&x[i * 5..(i + 1) * 5], &mut logits);
                let pred = (0..3).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap();
                pred == y[i]
            })
            .count();
        assert!(correct as f64 / 600.0 > 0.95, "accuracy {correct}/600");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (x, y) = blobs(30, 4, 3);
        let theta: Vec<f64> = (0..15).map(|i| (i as f64 * 0.37).sin() * 0.3).collect();
        let weights = [0.5, 1.0, 3.0];
        for w in [None, Some(&weights[..])] {
            let mut grad = vec![0.0; 15];
            loss_and_gradient(&x, &y, 3, 4, 0.01, w, &theta, &mut grad);
            for j in 0..15 {
                let mut plus = theta.clone();
                let mut minus = theta.clone();
                plus[j] += 1e-6;
                minus[j] -= 1e-6;
                let mut scratch = vec![0.0; 15];
                let numeric = (loss_and_gradient(&x, &y, 3, 4, 0.01, w, &plus, &mut scratch)
                    - loss_and_gradient(&x, &y, 3, 4, 0.01, w, &minus, &mut scratch))
                    / 2e-6;
                assert!((numeric - grad[j]).abs() < 1e-6, "coordinate {j}: {numeric} vs {}", grad[j]);
            }
        }
    }

    #[test]
    fn balanced_weights_make_the_minority_class_count() {
        assert_eq!(balanced_class_weights(&[0, 0, 0, 1], 2), vec![4.0 / 6.0, 2.0]);
        // 95% class 0, with class 1 overlapping it: balanced weights move predictions to class 1.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..400 {
            let c = usize::from(i % 20 == 0);
            y.push(c);
            x.push(c as f32 * 0.8 + rng.random_range(-1.0f32..1.0));
        }
        let predicted_minority = |options: &LogisticOptions| {
            let head = fit_logistic(&x, &y, 2, 1, options);
            let mut logits = vec![0.0; 2];
            (0..400)
                .filter(|&i| {
                    head.logits(&x[i..i + 1], &mut logits);
                    logits[1] > logits[0]
                })
                .count()
        };
        let plain = predicted_minority(&LogisticOptions::default());
        let balanced =
            LogisticOptions { class_weights: Some(balanced_class_weights(&y, 2)), ..Default::default() };
        let balanced = predicted_minority(&balanced);
        assert!(plain < 10, "unweighted, the minority class (20 of 400) is almost never predicted: {plain}");
        assert!(balanced > 3 * plain.max(7), "balanced weights predict it: {balanced} vs {plain}");
    }

    #[test]
    fn temperature_scaling_recovers_the_generating_temperature() {
        // Labels drawn from softmax(z / 2.5): the NLL-optimal temperature is near 2.5.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let mut logits = Vec::with_capacity(n * 2);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let z: f64 = rng.random_range(-10.0..10.0);
            logits.extend_from_slice(&[z, 0.0]);
            let p0 = 1.0 / (1.0 + (-z / 2.5).exp());
            labels.push(if rng.random::<f64>() < p0 { 0 } else { 1 });
        }
        let t = fit_temperature(&logits, &labels, 2);
        assert!((t - 2.5).abs() < 0.15, "fitted temperature {t}");
    }

    #[test]
    fn ece_is_zero_for_perfect_calibration_and_large_for_overconfidence() {
        let conf = vec![0.75; 400];
        let correct: Vec<bool> = (0..400).map(|i| i % 4 != 0).collect();
        assert!(expected_calibration_error(&conf, &correct, 15) < 1e-12);
        let wrong: Vec<bool> = (0..400).map(|i| i % 2 == 0).collect();
        assert!((expected_calibration_error(&conf, &wrong, 15) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn tail_score_grows_with_distance_from_training_data() {
        let (x, y) = blobs(900, 5, 5);
        let tail = fit_tail(&x, &y, 3, 5, 0.1).unwrap();
        let scorer = TailScorer::new(&tail);
        let centre = [2.0f32, 0.0, 0.0, 0.0, 0.0];
        let far = [9.0f32, -7.0, 8.0, 0.0, 6.0];
        assert!(scorer.score(&centre) < 0.2);
        assert_eq!(scorer.score(&far), 1.0);
        // Training points are spread over the percentiles roughly uniformly.
        let above_half = (0..900).filter(|&i| scorer.score(&x[i * 5..(i + 1) * 5]) > 0.5).count();
        assert!((400..=500).contains(&above_half), "{above_half}");
    }

    proptest! {
        #[test]
        fn percentile_inverts_quantiles(values in proptest::collection::vec(-1e3f64..1e3, 2..200), probe in -2e3f64..2e3) {
            let q = quantiles(&values, 101);
            let p = percentile_of(&q, probe);
            prop_assert!((0.0..=1.0).contains(&p));
            let below = values.iter().filter(|&&v| v <= probe).count() as f64 / values.len() as f64;
            // Interpolated quantiles can differ from the empirical CDF by one step of either grid.
            prop_assert!((p - below).abs() <= 1.0 / (values.len() - 1) as f64 + 0.011, "p={p} below={below}");
        }
    }
}
