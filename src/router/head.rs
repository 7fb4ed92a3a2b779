//! Fitting a router head on precomputed embeddings: the estimator path
//! (`tierscope.routing.TierClassifier`) and the head half of [`super::fit`].
//!
//! [`fit_head`] runs the same steps as [`super::fit`] after embedding: a stratified held-out
//! split seeded the same way, the L2 logistic head ([`train::fit_logistic`]), temperature scaling
//! on the held-out logits ([`train::fit_temperature`]) and the held-out metrics. Given the same
//! embeddings, labels, `l2`, `holdout_fraction` and `seed`, it yields the head `Router.fit`
//! stores (a test in `tests/routing/test_estimator.py` pins this).

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::linalg;
use super::train::{self, LinearHead, LogisticOptions};
use crate::error::{Result, TierscopeError};

/// Bins of the expected calibration error (as in [`super::fit`]).
const ECE_BINS: usize = 15;

/// Options for [`fit_head`].
#[derive(Clone, Debug)]
pub struct HeadOptions {
    /// L2 penalty of the logistic regression (on the mean log-loss).
    pub l2: f64,
    /// Share of each class held out for the temperature and the metrics.
    pub holdout_fraction: f64,
    /// Seed of the held-out split.
    pub seed: u64,
    /// L-BFGS iteration cap.
    pub max_iter: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { l2: 1e-4, holdout_fraction: 0.2, seed: 0, max_iter: LogisticOptions::default().max_iter }
    }
}

/// A fitted, temperature-scaled head and how it did on the held-out split.
#[derive(Clone, Debug)]
pub struct FittedHead {
    /// The linear head (`k × d` weights, `k` biases).
    pub head: LinearHead,
    /// Softmax temperature fitted on the held-out logits.
    pub temperature: f64,
    /// Held-out accuracy.
    pub holdout_accuracy: f64,
    /// Held-out ECE at the fitted temperature.
    pub holdout_ece: f64,
    /// Held-out ECE at temperature 1.
    pub holdout_ece_uncalibrated: f64,
    /// Rows used for training.
    pub n_train: usize,
    /// Rows held out.
    pub n_holdout: usize,
}

/// Check the inputs of [`fit_head`]: shapes, finite values, labels in `0..k`, two examples of
/// every class and the options' ranges. Nothing is fitted before this passes.
fn check(x: &[f32], labels: &[usize], k: usize, d: usize, options: &HeadOptions) -> Result<()> {
    if k < 2 {
        return Err(TierscopeError::invalid("y", format!("at least 2 classes, got {k} class")));
    }
    if d == 0 || labels.is_empty() {
        return Err(TierscopeError::invalid("X", "a non-empty 2-D array of embeddings"));
    }
    if x.len() != labels.len() * d {
        return Err(TierscopeError::invalid(
            "y",
            format!("one label per row of X: got {} rows and {} labels", x.len() / d, labels.len()),
        ));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(TierscopeError::invalid(
            format!("X[{}, {}]", i / d, i % d),
            "a finite number (Input X contains NaN or infinity)",
        ));
    }
    if !(options.l2.is_finite() && options.l2 >= 0.0) {
        return Err(TierscopeError::invalid("l2", format!("a non-negative number, got {}", options.l2)));
    }
    let fraction = options.holdout_fraction;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(TierscopeError::invalid(
            "holdout_fraction",
            format!("a value in (0, 1), got {fraction}"),
        ));
    }
    if options.max_iter == 0 {
        return Err(TierscopeError::invalid("max_iter", "a positive integer, got 0"));
    }
    let mut counts = vec![0usize; k];
    for (i, &c) in labels.iter().enumerate() {
        if c >= k {
            return Err(TierscopeError::invalid(
                format!("y[{i}]"),
                format!("a class index below {k}, got {c}"),
            ));
        }
        counts[c] += 1;
    }
    if let Some(c) = counts.iter().position(|&n| n < 2) {
        return Err(TierscopeError::invalid(
            "y",
            format!(
                "at least 2 examples of every class (one goes to the held-out split), class {c} has {}",
                counts[c]
            ),
        ));
    }
    Ok(())
}

/// Stratified held-out split: `fraction` of each class (rounded, at least one example on both
/// sides), drawn with a ChaCha8 generator seeded with `seed`, class by class in index order.
/// The same split as `Router.fit` draws (its `split_holdout`); a class with fewer than two
/// examples stays whole in the training side.
pub fn split_holdout(labels: &[usize], k: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: Vec<Vec<usize>> = vec![vec![]; k];
    for (i, &c) in labels.iter().enumerate() {
        by_class[c].push(i);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut holdout) = (Vec::new(), Vec::new());
    for members in &mut by_class {
        if members.len() < 2 {
            // Nothing to hold out ([`fit_head`] refuses such labels before splitting).
            train.extend_from_slice(members);
            continue;
        }
        members.shuffle(&mut rng);
        let n_hold = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len() - 1);
        holdout.extend_from_slice(&members[..n_hold]);
        train.extend_from_slice(&members[n_hold..]);
    }
    train.sort_unstable();
    holdout.sort_unstable();
    (train, holdout)
}

fn gather(x: &[f32], labels: &[usize], d: usize, rows: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let mut out = Vec::with_capacity(rows.len() * d);
    for &i in rows {
        out.extend_from_slice(&x[i * d..(i + 1) * d]);
    }
    (out, rows.iter().map(|&i| labels[i]).collect())
}

/// Accuracy and ECE of `logits` (`n × k`) at temperature `t`.
fn measure(logits: &[f64], y: &[usize], k: usize, t: f64) -> (f64, f64) {
    let mut probs = vec![0.0; k];
    let mut confidence = Vec::with_capacity(y.len());
    let mut correct = Vec::with_capacity(y.len());
    for (i, &label) in y.iter().enumerate() {
        linalg::softmax_scaled(&logits[i * k..(i + 1) * k], t, &mut probs);
        let (pred, conf) =
            probs
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (c, &p)| if p > best.1 { (c, p) } else { best });
        confidence.push(conf);
        correct.push(pred == label);
    }
    let accuracy = correct.iter().filter(|&&c| c).count() as f64 / y.len().max(1) as f64;
    (accuracy, train::expected_calibration_error(&confidence, &correct, ECE_BINS))
}

/// Fit an L2 multinomial logistic head on `x` (`n × d` row-major embeddings) with labels in
/// `0..k`, temperature-scaled on a stratified held-out split. Deterministic given the options.
pub fn fit_head(
    x: &[f32],
    labels: &[usize],
    k: usize,
    d: usize,
    options: &HeadOptions,
) -> Result<FittedHead> {
    check(x, labels, k, d, options)?;
    let (train_rows, holdout_rows) = split_holdout(labels, k, options.holdout_fraction, options.seed);
    let (train_x, train_y) = gather(x, labels, d, &train_rows);
    let (hold_x, hold_y) = gather(x, labels, d, &holdout_rows);
    let logistic = LogisticOptions { l2: options.l2, max_iter: options.max_iter, ..Default::default() };
    let head = train::fit_logistic(&train_x, &train_y, k, d, &logistic);
    let mut logits = Vec::with_capacity(hold_y.len() * k);
    let mut row = vec![0.0; k];
    for chunk in hold_x.chunks(d) {
        head.logits(chunk, &mut row);
        logits.extend_from_slice(&row);
    }
    let temperature = train::fit_temperature(&logits, &hold_y, k);
    let (holdout_accuracy, holdout_ece_uncalibrated) = measure(&logits, &hold_y, k, 1.0);
    let (_, holdout_ece) = measure(&logits, &hold_y, k, temperature);
    Ok(FittedHead {
        head,
        temperature,
        holdout_accuracy,
        holdout_ece,
        holdout_ece_uncalibrated,
        n_train: train_rows.len(),
        n_holdout: holdout_rows.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blobs(n: usize, d: usize) -> (Vec<f32>, Vec<usize>) {
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            y.push(c);
            for j in 0..d {
                let noise = ((i * 31 + j * 17) % 13) as f32 / 13.0 - 0.5;
                x.push(if j == c { 1.5 } else { 0.0 } + noise);
            }
        }
        (x, y)
    }

    #[test]
    fn a_head_separates_blobs_and_is_calibrated_deterministically() {
        let (x, y) = blobs(300, 4);
        let fitted = fit_head(&x, &y, 3, 4, &HeadOptions::default()).unwrap();
        let again = fit_head(&x, &y, 3, 4, &HeadOptions::default()).unwrap();
        assert_eq!(fitted.head, again.head);
        assert_eq!(fitted.temperature, again.temperature);
        assert!(fitted.holdout_accuracy > 0.9, "accuracy {}", fitted.holdout_accuracy);
        assert_eq!((fitted.n_train, fitted.n_holdout), (240, 60));
        assert!((0.05..=20.0).contains(&fitted.temperature));
    }

    #[test]
    fn bad_inputs_name_the_argument() {
        let (x, y) = blobs(30, 4);
        let opts = HeadOptions::default();
        let err = |r: Result<FittedHead>| r.unwrap_err().to_string();
        assert!(err(fit_head(&x, &y, 1, 4, &opts)).contains("`y`"));
        assert!(err(fit_head(&x[..8], &y, 3, 4, &opts)).contains("one label per row"));
        let mut bad = x.clone();
        bad[5] = f32::NAN;
        assert!(err(fit_head(&bad, &y, 3, 4, &opts)).contains("X[1, 1]"));
        assert!(err(fit_head(&x, &y, 4, 4, &opts)).contains("class 3 has 0"));
        let mut labels = y.clone();
        labels[0] = 9;
        assert!(err(fit_head(&x, &labels, 3, 4, &opts)).contains("y[0]"));
        let zero = HeadOptions { holdout_fraction: 0.0, ..Default::default() };
        assert!(err(fit_head(&x, &y, 3, 4, &zero)).contains("holdout_fraction"));
        let negative = HeadOptions { l2: -1.0, ..Default::default() };
        assert!(err(fit_head(&x, &y, 3, 4, &negative)).contains("l2"));
    }

    proptest! {
        #[test]
        fn the_split_is_stratified_disjoint_and_complete(
            labels in proptest::collection::vec(0usize..3, 6..80),
            fraction in 0.05f64..0.95,
            seed in 0u64..1000,
        ) {
            let (train, holdout) = split_holdout(&labels, 3, fraction, seed);
            let mut all: Vec<usize> = train.iter().chain(&holdout).cloned().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
            for c in 0..3 {
                let n = labels.iter().filter(|&&l| l == c).count();
                if n >= 2 {
                    let held = holdout.iter().filter(|&&i| labels[i] == c).count();
                    prop_assert!(held >= 1 && held < n);
                }
            }
        }
    }
}
