//! Training a router head without torch.
//!
//! [`fit`] runs named steps, in this order: check the labels ([`label_indices`]), embed the texts
//! ([`embed`]), split off a stratified held-out set ([`split_holdout`]), train the L2 logistic
//! head ([`train_head`]), temperature-scale it on the held-out set and measure it there
//! ([`temperature_scale`]), fit the tail-score statistics ([`tail_statistics`]), build the
//! training reference distributions ([`reference_histogram`]) and write the router description
//! ([`write_router`]). Deterministic given [`FitOptions::seed`].

use std::collections::BTreeMap;
use std::path::Path;

use super::config::Thresholds;
use super::config::{
    self, Calibration, Head, ModelKind, ModelSpec, Pooling, Reference, RouterConfig, Truncation,
};
use super::encoder::{BatchConfig, Encoder, ThreadConfig};
use super::novelty;
use super::train::{self, LinearHead, LogisticOptions};
use super::{argmax, linalg, Router};
use crate::error::{Result, TierscopeError};

/// Bins of the training confidence histogram stored in `router.json`.
const CONFIDENCE_BINS: usize = 20;
/// Quantiles of the training confidence stored in `router.json`.
const CONFIDENCE_QUANTILES: usize = 1001;
/// Bins of the expected calibration error.
const ECE_BINS: usize = 15;
/// Default `thresholds.max_tail_score` of a fitted router: the 99th leave-one-out percentile.
pub const DEFAULT_MAX_TAIL_SCORE: f64 = 0.99;

/// Options for [`fit`].
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Tier names from the cheapest to the most capable; every label must be one of them.
    pub tier_order: Vec<String>,
    /// Share of each tier held out for calibration and metrics.
    pub holdout_fraction: f64,
    /// L2 penalty of the logistic regression.
    pub l2: f64,
    /// Seed for the held-out split.
    pub seed: u64,
    /// Covariance shrinkage for the tail score.
    pub shrinkage: f64,
    /// Optional decision threshold stored in the router.
    pub min_confidence: Option<f64>,
    /// Tail-score threshold stored in `thresholds.max_tail_score` (a leave-one-out training
    /// percentile: 0.99 sends the farthest 1% of training-like traffic to the fallback tier);
    /// `None` stores no threshold.
    pub max_tail_score: Option<f64>,
    /// Neighbours averaged by the novelty index.
    pub tail_neighbours: usize,
    /// Most training embeddings kept in the novelty index (a seeded, intent-stratified subsample
    /// beyond it).
    pub tail_max_rows: usize,
    /// Max sequence length: None uses the encoder directory's router.json (128 without one).
    pub max_length: Option<usize>,
    /// Truncation strategy of long texts: None uses the encoder directory's (`head` without one).
    pub truncation: Option<Truncation>,
    /// `head+tail` only: content tokens kept from the start (see [`ModelSpec::head_tokens_kept`]).
    pub head_tokens: Option<usize>,
    /// Class weights of the head's log-loss.
    pub class_weight: ClassWeight,
    /// Free-form provenance stored in router.json.
    pub provenance: BTreeMap<String, serde_json::Value>,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            tier_order: vec![],
            holdout_fraction: 0.2,
            l2: 1e-4,
            seed: 0,
            shrinkage: 0.1,
            min_confidence: None,
            max_tail_score: Some(DEFAULT_MAX_TAIL_SCORE),
            tail_neighbours: novelty::DEFAULT_NEIGHBOURS,
            tail_max_rows: novelty::DEFAULT_MAX_ROWS,
            max_length: None,
            truncation: None,
            head_tokens: None,
            class_weight: ClassWeight::None,
            provenance: BTreeMap::new(),
        }
    }
}

/// How the head weighs the tiers' examples.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeight {
    /// Every example counts once.
    None,
    /// `n / (k · n_c)` from the training split's tier counts (sklearn's `"balanced"`): each
    /// tier weighs as much in total, so a rare tier is still predicted.
    Balanced,
    /// One positive weight per tier, in `tier_order`.
    Explicit(Vec<f64>),
}

impl FitOptions {
    /// Check the numeric options that need no data: `l2` >= 0 and `shrinkage` in (0, 1].
    /// [`fit`] checks them first; callers may check them earlier (before loading a runtime).
    pub fn validate(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(TierscopeError::invalid("l2", format!("a non-negative number, got {}", self.l2)));
        }
        if !(self.shrinkage.is_finite() && self.shrinkage > 0.0 && self.shrinkage <= 1.0) {
            return Err(TierscopeError::invalid(
                "shrinkage",
                format!("a value in (0, 1], got {}", self.shrinkage),
            ));
        }
        if let Some(t) = self.max_tail_score {
            if !(0.0..=1.0).contains(&t) {
                return Err(TierscopeError::invalid("max_tail_score", format!("a value in [0, 1], got {t}")));
            }
        }
        if let ClassWeight::Explicit(w) = &self.class_weight {
            if w.len() != self.tier_order.len() || w.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(TierscopeError::invalid(
                    "class_weight",
                    format!("one positive weight per tier of {:?}, got {w:?}", self.tier_order),
                ));
            }
        }
        if self.tail_neighbours == 0 {
            return Err(TierscopeError::invalid("tail_neighbours", "at least 1, got 0"));
        }
        if self.tail_max_rows <= self.tail_neighbours {
            return Err(TierscopeError::invalid(
                "tail_max_rows",
                format!("more than tail_neighbours ({}), got {}", self.tail_neighbours, self.tail_max_rows),
            ));
        }
        Ok(())
    }
}

/// Train a router head on `texts` labelled with `tiers` using the encoder in `encoder_dir`:
/// embed, split off a stratified held-out set, fit an L2 multinomial logistic regression,
/// temperature-scale it on the held-out set, record held-out accuracy/ECE, the novelty index of
/// the tail score and the training confidence histogram. `intents` (optional fine labels, one per
/// text) stratify the index's subsample when the training set is larger than
/// `options.tail_max_rows`. Deterministic given `options.seed`.
pub fn fit(
    encoder_dir: &Path,
    texts: &[String],
    tiers: &[String],
    intents: Option<&[String]>,
    options: &FitOptions,
    threads: ThreadConfig,
) -> Result<Router> {
    fit_with(encoder_dir, FitInput::Texts(texts), tiers, intents, options, threads)
}

/// What [`fit_with`] trains on: texts (embedded by the encoder) or their precomputed embeddings.
pub enum FitInput<'a> {
    /// Texts, embedded by the encoder.
    Texts(&'a [String]),
    /// Row-major embeddings (`dim` values per example) made by the same encoder with the same
    /// truncation (e.g. `route_batch(..., with_embeddings=True)` of a router on it), and how
    /// many of the texts were truncated (for the metrics); the encoder is loaded, never run.
    Embeddings { values: &'a [f32], dim: usize, truncated: usize },
}

/// [`fit`] on texts or on precomputed embeddings ([`FitInput`]).
pub fn fit_with(
    encoder_dir: &Path,
    input: FitInput<'_>,
    tiers: &[String],
    intents: Option<&[String]>,
    options: &FitOptions,
    threads: ThreadConfig,
) -> Result<Router> {
    options.validate()?;
    let n = match &input {
        FitInput::Texts(texts) => texts.len(),
        FitInput::Embeddings { values, dim, .. } => {
            if *dim == 0 || values.len() % dim != 0 {
                return Err(TierscopeError::invalid(
                    "embeddings",
                    format!(
                        "a 2-d array of rows of positive width, got {} values of width {dim}",
                        values.len()
                    ),
                ));
            }
            values.len() / dim
        }
    };
    let labels = label_indices(n, tiers, options)?;
    let groups = intents.map(|names| intent_indices(names, n)).transpose()?;
    let k = options.tier_order.len();
    let (encoder, embeddings, truncated) = match input {
        FitInput::Texts(texts) => embed(encoder_dir, texts, options, threads)?,
        FitInput::Embeddings { values, dim, truncated } => {
            let encoder = load_encoder(encoder_dir, options, threads)?;
            if encoder.output_width() != dim {
                return Err(TierscopeError::invalid(
                    "embeddings",
                    format!("rows of the encoder's width {}, got {dim}", encoder.output_width()),
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(TierscopeError::invalid("embeddings", "finite values (found NaN or infinity)"));
            }
            (encoder, Embeddings { values: values.to_vec(), dim }, truncated)
        }
    };
    let split = split_holdout(&labels, k, options.holdout_fraction, options.seed);
    let train_set = embeddings.gather(&split.train, &labels);
    let holdout_set = embeddings.gather(&split.holdout, &labels);
    let weights = match &options.class_weight {
        ClassWeight::None => None,
        ClassWeight::Balanced => Some(train::balanced_class_weights(&train_set.y, k)),
        ClassWeight::Explicit(w) => Some(w.clone()),
    };
    let head = train_head(&train_set, k, options.l2, weights);
    let calibrated = temperature_scale(&head, &holdout_set, k);
    let reference = reference_histogram(&head, &embeddings, &labels, k, calibrated.temperature);
    let index = novelty::NoveltyIndex::fit(
        &embeddings.values,
        embeddings.dim,
        options.tail_neighbours,
        options.tail_max_rows,
        groups.as_deref(),
        options.seed,
    )?;
    let truncation = [
        ("n_truncated".to_string(), truncated.into()),
        ("truncated_share".to_string(), (truncated as f64 / n as f64).into()),
    ];
    write_router(encoder, options, head, calibrated, &split, index, reference, truncation)
}

/// Each intent's index among the distinct intents (sorted), after checking one per text.
fn intent_indices(intents: &[String], n: usize) -> Result<Vec<usize>> {
    if intents.len() != n {
        return Err(TierscopeError::invalid(
            "intents",
            format!("one intent per text: got {n} texts and {} intents", intents.len()),
        ));
    }
    let names: std::collections::BTreeSet<&String> = intents.iter().collect();
    let names: Vec<&String> = names.into_iter().collect();
    Ok(intents.iter().map(|i| names.binary_search(&i).unwrap_or(0)).collect())
}

/// Each label's index in `options.tier_order`, after checking there is one label per text, at
/// least two tiers, a held-out fraction in (0, 1) and at least two examples of every tier.
fn label_indices(n: usize, tiers: &[String], options: &FitOptions) -> Result<Vec<usize>> {
    if n != tiers.len() {
        return Err(TierscopeError::invalid(
            "tiers",
            format!("one tier label per text: got {n} texts and {} labels", tiers.len()),
        ));
    }
    if n == 0 {
        return Err(TierscopeError::invalid("texts", "at least 2 labelled texts per tier, got none"));
    }
    let order = &options.tier_order;
    if order.len() < 2 {
        return Err(TierscopeError::invalid("tier_order", "at least 2 tier names, cheapest first"));
    }
    if !(0.0..1.0).contains(&options.holdout_fraction) || options.holdout_fraction <= 0.0 {
        return Err(TierscopeError::invalid(
            "holdout_fraction",
            format!("a value in (0, 1), got {}", options.holdout_fraction),
        ));
    }
    let labels = tiers
        .iter()
        .enumerate()
        .map(|(i, tier)| {
            order.iter().position(|t| t == tier).ok_or_else(|| {
                TierscopeError::invalid(format!("tiers[{i}]"), format!("one of {order:?}, got {tier:?}"))
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    for (c, members) in members_by_tier(&labels, order.len()).iter().enumerate() {
        if members.len() < 2 {
            return Err(TierscopeError::invalid(
                "tiers",
                format!("at least 2 examples of every tier, but tier {:?} has {}", order[c], members.len()),
            ));
        }
    }
    Ok(labels)
}

/// The example indices of each tier, ascending.
fn members_by_tier(labels: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut by_tier: Vec<Vec<usize>> = vec![vec![]; k];
    for (i, &c) in labels.iter().enumerate() {
        by_tier[c].push(i);
    }
    by_tier
}

/// Row-major embeddings, `dim` values per text.
struct Embeddings {
    values: Vec<f32>,
    dim: usize,
}

impl Embeddings {
    /// The rows at `indices` (in that order) with their labels.
    fn gather(&self, indices: &[usize], labels: &[usize]) -> Examples {
        let d = self.dim;
        let mut x = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            x.extend_from_slice(&self.values[i * d..(i + 1) * d]);
        }
        Examples { x, y: indices.iter().map(|&i| labels[i]).collect(), dim: d }
    }
}

/// Labelled examples: row-major `x` (`dim` values per row) and labels `y`.
struct Examples {
    x: Vec<f32>,
    y: Vec<usize>,
    dim: usize,
}

/// The model spec for an encoder directory (its router.json's, or the mean-pooling default),
/// with the fit's `max_length` and truncation when given.
fn encoder_spec(encoder_dir: &Path, options: &FitOptions) -> Result<ModelSpec> {
    let mut spec = directory_spec(encoder_dir)?;
    if let Some(max_length) = options.max_length {
        spec.max_length = max_length;
    }
    if let Some(truncation) = options.truncation {
        spec.truncation = truncation;
        spec.head_tokens = None;
    }
    if options.head_tokens.is_some() {
        spec.head_tokens = options.head_tokens;
    }
    if spec.max_length < 2 {
        return Err(TierscopeError::invalid("max_length", format!("at least 2, got {}", spec.max_length)));
    }
    if let Some(k) = spec.head_tokens {
        if spec.truncation != Truncation::HeadTail || k >= spec.max_length {
            return Err(TierscopeError::invalid(
                "head_tokens",
                format!(
                    "fewer than max_length ({}) with truncation \"head+tail\", got {k} with {:?}",
                    spec.max_length,
                    spec.truncation.name()
                ),
            ));
        }
    }
    Ok(spec)
}

/// The model spec of an encoder directory: its router.json's, or the mean-pooling default.
fn directory_spec(encoder_dir: &Path) -> Result<ModelSpec> {
    let config_path = encoder_dir.join("router.json");
    // Any router.json (a directory, a FIFO, a symlink out of the directory) is checked, not
    // silently skipped or followed: only a missing one means "use the defaults".
    if config_path.symlink_metadata().is_ok() {
        let config_path =
            super::files::resolve_inside(encoder_dir, "router.json", "router.json", "router.json")?;
        let config = RouterConfig::from_file(&config_path)?;
        if config.model.kind != ModelKind::Encoder {
            return Err(TierscopeError::invalid(
                "encoder",
                format!(
                    "an encoder model (last_hidden_state output); {} holds a sequence-classification model",
                    encoder_dir.display()
                ),
            ));
        }
        return Ok(config.model);
    }
    Ok(ModelSpec {
        file: "model.onnx".into(),
        tokenizer: "tokenizer.json".into(),
        kind: ModelKind::Encoder,
        output: "last_hidden_state".into(),
        pooling: Pooling::Mean,
        normalize: true,
        max_length: 128,
        embedding_dim: None,
        vocab_size: None,
        truncation: Truncation::Head,
        head_tokens: None,
    })
}

/// Load the encoder in `encoder_dir` with the fit's max length and truncation.
fn load_encoder(encoder_dir: &Path, options: &FitOptions, threads: ThreadConfig) -> Result<Encoder> {
    let spec = encoder_spec(encoder_dir, options)?;
    Encoder::load(encoder_dir, &spec, threads, BatchConfig::default())
}

/// Load the encoder and embed every text (any failed text is an error); also how many texts
/// were truncated.
fn embed(
    encoder_dir: &Path,
    texts: &[String],
    options: &FitOptions,
    threads: ThreadConfig,
) -> Result<(Encoder, Embeddings, usize)> {
    let encoder = load_encoder(encoder_dir, options, threads)?;
    let dim = encoder.output_width();
    let rows = encoder.infer(texts)?;
    let mut values = Vec::with_capacity(texts.len() * dim);
    let mut truncated = 0;
    for (i, (row, tokenized)) in rows.into_iter().enumerate() {
        let embedding = row.map_err(|reason| TierscopeError::Inference(format!("texts[{i}]: {reason}")))?;
        truncated += usize::from(tokenized.is_some_and(|t| t.truncated));
        values.extend_from_slice(&embedding);
    }
    Ok((encoder, Embeddings { values, dim }, truncated))
}

/// Embed `texts` as [`fit`] would (the encoder in `encoder_dir` with the options' max length and
/// truncation): row-major embeddings, their width and each text's `truncated` flag. For caching
/// embeddings across fits ([`FitInput::Embeddings`]).
pub fn embed_texts(
    encoder_dir: &Path,
    texts: &[String],
    options: &FitOptions,
    threads: ThreadConfig,
) -> Result<(Vec<f32>, usize, Vec<bool>)> {
    let encoder = load_encoder(encoder_dir, options, threads)?;
    let dim = encoder.output_width();
    let rows = encoder.infer(texts)?;
    let mut values = Vec::with_capacity(texts.len() * dim);
    let mut truncated = Vec::with_capacity(texts.len());
    for (i, (row, tokenized)) in rows.into_iter().enumerate() {
        let embedding = row.map_err(|reason| TierscopeError::Inference(format!("texts[{i}]: {reason}")))?;
        truncated.push(tokenized.is_some_and(|t| t.truncated));
        values.extend_from_slice(&embedding);
    }
    Ok((values, dim, truncated))
}

/// Example indices on each side of the held-out split, ascending.
struct Split {
    train: Vec<usize>,
    holdout: Vec<usize>,
}

/// Stratified held-out split: `fraction` of each tier (rounded, at least one example on both
/// sides), drawn with a ChaCha8 generator seeded with `seed`, tier by tier in tier order. One
/// implementation with [`super::head::fit_head`]'s ([`super::head::split_holdout`]), so a head
/// fitted on a router's embeddings sees the same split as `Router.fit` (every tier has at least
/// two examples here, checked by [`label_indices`]).
fn split_holdout(labels: &[usize], k: usize, fraction: f64, seed: u64) -> Split {
    let (train, holdout) = super::head::split_holdout(labels, k, fraction, seed);
    Split { train, holdout }
}

/// The L2 multinomial logistic regression head over `k` tiers.
fn train_head(train_set: &Examples, k: usize, l2: f64, class_weights: Option<Vec<f64>>) -> LinearHead {
    let logistic = LogisticOptions { l2, class_weights, ..Default::default() };
    train::fit_logistic(&train_set.x, &train_set.y, k, train_set.dim, &logistic)
}

/// The head's logits for every row of `x`, row-major `rows × k`.
fn logits_of(head: &LinearHead, x: &[f32], dim: usize, k: usize) -> Vec<f64> {
    let mut all = Vec::with_capacity(x.len() / dim * k);
    let mut row = vec![0.0; k];
    for chunk in x.chunks(dim) {
        head.logits(chunk, &mut row);
        all.extend_from_slice(&row);
    }
    all
}

/// How the head does on labelled logits at one temperature.
struct Evaluation {
    accuracy: f64,
    ece: f64,
    /// Top probability per row.
    confidence: Vec<f64>,
    /// `confusion[label][predicted]`.
    confusion: Vec<Vec<u64>>,
}

fn evaluate(logits: &[f64], y: &[usize], k: usize, temperature: f64) -> Evaluation {
    let mut probs = vec![0.0; k];
    let mut confidence = Vec::with_capacity(y.len());
    let mut correct = Vec::with_capacity(y.len());
    let mut confusion = vec![vec![0u64; k]; k];
    for (i, &label) in y.iter().enumerate() {
        linalg::softmax_scaled(&logits[i * k..(i + 1) * k], temperature, &mut probs);
        let (pred, conf) = argmax(&probs);
        confidence.push(conf);
        correct.push(pred == label);
        confusion[label][pred] += 1;
    }
    let accuracy = correct.iter().filter(|&&c| c).count() as f64 / y.len() as f64;
    let ece = train::expected_calibration_error(&confidence, &correct, ECE_BINS);
    Evaluation { accuracy, ece, confidence, confusion }
}

/// The fitted temperature and the held-out metrics before and after it.
struct Calibrated {
    temperature: f64,
    accuracy: f64,
    ece: f64,
    ece_uncalibrated: f64,
    nll: f64,
    nll_uncalibrated: f64,
    confusion: Vec<Vec<u64>>,
}

/// Fit the softmax temperature on the held-out logits and measure the head there.
fn temperature_scale(head: &LinearHead, holdout_set: &Examples, k: usize) -> Calibrated {
    let logits = logits_of(head, &holdout_set.x, holdout_set.dim, k);
    let y = &holdout_set.y;
    let temperature = train::fit_temperature(&logits, y, k);
    let raw = evaluate(&logits, y, k, 1.0);
    let scaled = evaluate(&logits, y, k, temperature);
    Calibrated {
        temperature,
        accuracy: raw.accuracy,
        ece: scaled.ece,
        ece_uncalibrated: raw.ece,
        nll: train::nll_at_temperature(&logits, y, k, temperature),
        nll_uncalibrated: train::nll_at_temperature(&logits, y, k, 1.0),
        confusion: scaled.confusion,
    }
}

/// Training reference distributions over every example at the fitted temperature: the
/// confidence histogram and quantiles and each tier's share of the predictions.
fn reference_histogram(
    head: &LinearHead,
    embeddings: &Embeddings,
    labels: &[usize],
    k: usize,
    temperature: f64,
) -> Reference {
    let logits = logits_of(head, &embeddings.values, embeddings.dim, k);
    let confidence = evaluate(&logits, labels, k, temperature).confidence;
    let mut tier_counts = vec![0u64; k];
    let mut probs = vec![0.0; k];
    for i in 0..labels.len() {
        linalg::softmax_scaled(&logits[i * k..(i + 1) * k], temperature, &mut probs);
        tier_counts[argmax(&probs).0] += 1;
    }
    let bins = CONFIDENCE_BINS;
    let edges: Vec<f64> = (0..=bins).map(|i| i as f64 / bins as f64).collect();
    let mut counts = vec![0u64; bins];
    for &c in &confidence {
        counts[((c * bins as f64) as usize).min(bins - 1)] += 1;
    }
    Reference {
        confidence_edges: edges,
        confidence_counts: counts,
        confidence_quantiles: train::quantiles(&confidence, CONFIDENCE_QUANTILES),
        tier_shares: tier_counts.iter().map(|&c| c as f64 / labels.len() as f64).collect(),
        n: labels.len() as u64,
    }
}

/// The held-out metrics stored in `router.json` (`Router.metrics` in Python).
fn metrics(calibrated: &Calibrated, split: &Split, head: &LinearHead) -> BTreeMap<String, serde_json::Value> {
    let confusion = serde_json::to_value(&calibrated.confusion).unwrap_or_default();
    [
        ("holdout_accuracy", calibrated.accuracy.into()),
        ("holdout_ece", calibrated.ece.into()),
        ("holdout_ece_uncalibrated", calibrated.ece_uncalibrated.into()),
        ("holdout_nll", calibrated.nll.into()),
        ("holdout_nll_uncalibrated", calibrated.nll_uncalibrated.into()),
        ("holdout_confusion", confusion),
        ("n_train", split.train.len().into()),
        ("n_holdout", split.holdout.len().into()),
        ("lbfgs_iterations", head.iterations.into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// The router description (head, calibration, thresholds, tail, reference, metrics,
/// provenance), validated, assembled with `encoder` into a [`Router`].
#[allow(clippy::too_many_arguments)]
fn write_router(
    encoder: Encoder,
    options: &FitOptions,
    head: LinearHead,
    calibrated: Calibrated,
    split: &Split,
    index: novelty::NoveltyIndex,
    reference: Reference,
    truncation: [(String, serde_json::Value); 2],
) -> Result<Router> {
    let d = encoder.output_width();
    let mut metrics = metrics(&calibrated, split, &head);
    metrics.extend(truncation);
    metrics.insert("tail_index_rows".into(), index.rows().into());
    metrics.insert("tail_index_bytes".into(), index.to_bytes().len().into());
    let mut provenance = options.provenance.clone();
    provenance.insert(
        "trainer".into(),
        format!(
            "tierscope {} (multinomial logistic regression, L2={}, seed={})",
            env!("CARGO_PKG_VERSION"),
            options.l2,
            options.seed
        )
        .into(),
    );
    let mut model = encoder.spec().clone();
    model.vocab_size = Some(model.vocab_size.unwrap_or(encoder.vocab_size()));
    let config = RouterConfig {
        format_version: config::FORMAT_VERSION,
        tiers: options.tier_order.clone(),
        fallback_tier: None,
        model,
        head: Some(Head {
            weights: head.weights.chunks(d).map(|r| r.iter().map(|&v| v as f32).collect()).collect(),
            bias: head.bias.iter().map(|&v| v as f32).collect(),
        }),
        calibration: Calibration { method: "temperature".into(), temperature: calibrated.temperature },
        thresholds: Thresholds {
            min_confidence: options.min_confidence,
            max_tail_score: options.max_tail_score,
        },
        tail: None,
        novelty: Some(config::NoveltyStats {
            method: novelty::METHOD.into(),
            index_file: config::default_index_file(),
            rows: index.rows(),
            neighbours: index.neighbours(),
            distance_quantiles: index.quantiles().to_vec(),
        }),
        reference: Some(reference),
        provenance,
        metrics,
    };
    config
        .validate()
        .map_err(|reason| TierscopeError::Inference(format!("fitted router is invalid: {reason}")))?;
    Router::assemble(config, encoder, Some(index), None).map_err(TierscopeError::Inference)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(order: &[&str]) -> FitOptions {
        FitOptions { tier_order: order.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_checked_before_any_data() {
        assert!(FitOptions::default().validate().is_ok());
        let bad_l2 = FitOptions { l2: -1.0, ..Default::default() };
        assert_eq!(bad_l2.validate().unwrap_err().to_string(), "invalid `l2`: a non-negative number, got -1");
        let bad_shrinkage = FitOptions { shrinkage: 0.0, ..Default::default() };
        assert_eq!(
            bad_shrinkage.validate().unwrap_err().to_string(),
            "invalid `shrinkage`: a value in (0, 1], got 0"
        );
    }

    #[test]
    fn labels_map_to_tier_indices_and_every_tier_needs_two_examples() {
        let texts = 4;
        let order = options(&["cheap", "capable"]);
        let labels = label_indices(texts, &strings(&["capable", "cheap", "cheap", "capable"]), &order);
        assert_eq!(labels.unwrap(), vec![1, 0, 0, 1]);
        let err = label_indices(texts, &strings(&["cheap", "cheap", "cheap", "capable"]), &order);
        assert!(err.unwrap_err().to_string().contains("tier \"capable\" has 1"));
        let err = label_indices(texts, &strings(&["cheap", "capable", "cheap", "premium"]), &order);
        assert!(err.unwrap_err().to_string().contains("tiers[3]"));
        let err = label_indices(texts, &strings(&["cheap"]), &order);
        assert!(err.unwrap_err().to_string().contains("one tier label per text"));
    }

    #[test]
    fn the_holdout_split_is_stratified_seeded_and_disjoint() {
        let labels: Vec<usize> = (0..50).map(|i| usize::from(i % 5 == 0)).collect();
        let split = split_holdout(&labels, 2, 0.2, 7);
        assert_eq!(split.holdout.len() + split.train.len(), 50);
        assert!(split.holdout.iter().all(|i| !split.train.contains(i)));
        // 20% of 40 and of 10, each side keeping every tier.
        assert_eq!(split.holdout.iter().filter(|&&i| labels[i] == 0).count(), 8);
        assert_eq!(split.holdout.iter().filter(|&&i| labels[i] == 1).count(), 2);
        let again = split_holdout(&labels, 2, 0.2, 7);
        assert_eq!((again.train, again.holdout), (split.train, split.holdout));
    }
}
