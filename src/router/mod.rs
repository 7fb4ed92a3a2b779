//! The encoder router core: a directory with `model.onnx`, `tokenizer.json` and `router.json`
//! becomes a [`Router`] that turns texts into tiers with calibrated probabilities, a confidence,
//! a long-tail score and, optionally, embeddings. [`fit`] trains the head without torch.

pub mod batching;
pub mod config;
pub mod encoder;
pub mod linalg;
pub mod train;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

pub use config::{ModelKind, ModelSpec, Pooling, RouterConfig};
pub use encoder::{BatchConfig, Encoder, ThreadConfig};

use crate::error::{Result, TierscopeError};
use config::{Calibration, Head, Reference, Thresholds};
use train::{LogisticOptions, TailScorer};

/// Routing results for a batch, one entry per input text, in input order.
#[derive(Clone, Debug, Default)]
pub struct RouteOutput {
    /// Number of tiers (columns of `probabilities`).
    pub k: usize,
    /// Chosen tier index per text.
    pub tier_index: Vec<u32>,
    /// Calibrated class probabilities, row-major `n × k` (NaN rows where routing failed).
    pub probabilities: Vec<f32>,
    /// Calibrated confidence: the largest probability (NaN where routing failed).
    pub confidence: Vec<f32>,
    /// Tail score in [0, 1]: training-set percentile of the distance to the nearest centroid.
    pub tail_score: Vec<f32>,
    /// The decision is the fallback tier because routing failed or a threshold was not met.
    pub fallback: Vec<bool>,
    /// Why the fallback was taken.
    pub reason: Vec<Option<String>>,
    /// The text was longer than the model's max length and was truncated.
    pub truncated: Vec<bool>,
    /// Tokens fed to the model.
    pub tokens: Vec<u32>,
    /// Embeddings, row-major `n × dim`, when requested (NaN rows where unavailable).
    pub embeddings: Option<Vec<f32>>,
    /// Embedding width (0 when not requested).
    pub embedding_dim: usize,
}

/// A loaded router.
pub struct Router {
    config: RouterConfig,
    encoder: Encoder,
    head: Option<(Vec<f32>, Vec<f32>)>,
    tail: Option<TailScorer>,
    source: Option<PathBuf>,
}

impl Router {
    /// Load the router in `dir`, validating every file and field.
    pub fn load(dir: &Path, threads: ThreadConfig, batch: BatchConfig) -> Result<Self> {
        if !dir.is_dir() {
            return Err(TierscopeError::FileNotFound {
                what: "router directory".into(),
                path: dir.to_path_buf(),
            });
        }
        let config = RouterConfig::from_file(&dir.join("router.json"))?;
        let encoder = Encoder::load(dir, &config.model, threads, batch)?;
        let router = Self::assemble(config, encoder, Some(dir.to_path_buf()))
            .map_err(|reason| TierscopeError::model_load(dir.join("router.json"), reason))?;
        Ok(router)
    }

    fn assemble(
        config: RouterConfig,
        encoder: Encoder,
        source: Option<PathBuf>,
    ) -> std::result::Result<Self, String> {
        let k = config.tiers.len();
        if config.model.kind == ModelKind::SequenceClassification && encoder.output_width() != k {
            return Err(format!(
                "the model outputs {} logits but `tiers` names {k} tiers",
                encoder.output_width()
            ));
        }
        let head =
            config.head.as_ref().map(|h| (h.weights.iter().flatten().cloned().collect(), h.bias.clone()));
        let tail = config.tail.as_ref().map(TailScorer::new);
        Ok(Self { config, encoder, head, tail, source })
    }

    /// The router's description (`router.json`).
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The directory the router was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The encoder (tokenizer + sessions).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Route `texts`. Never fails per text: a text whose routing fails gets the fallback tier
    /// with `fallback = true` and the reason. Only a broken runtime returns an error.
    pub fn route_batch(&self, texts: &[String], want_embeddings: bool) -> Result<RouteOutput> {
        let n = texts.len();
        let k = self.config.tiers.len();
        let fallback_tier = self.config.fallback_index() as u32;
        let rows = self.encoder.infer(texts)?;
        let dim = if want_embeddings && self.config.model.kind == ModelKind::Encoder {
            self.encoder.output_width()
        } else {
            0
        };
        let mut out = RouteOutput {
            k,
            tier_index: Vec::with_capacity(n),
            probabilities: Vec::with_capacity(n * k),
            confidence: Vec::with_capacity(n),
            tail_score: Vec::with_capacity(n),
            fallback: Vec::with_capacity(n),
            reason: Vec::with_capacity(n),
            truncated: Vec::with_capacity(n),
            tokens: Vec::with_capacity(n),
            embeddings: if dim > 0 { Some(Vec::with_capacity(n * dim)) } else { None },
            embedding_dim: dim,
        };
        let mut logits = vec![0.0f64; k];
        let mut probs = vec![0.0f64; k];
        for (row, tokenized) in rows {
            out.truncated.push(tokenized.as_ref().is_some_and(|t| t.truncated));
            out.tokens.push(tokenized.as_ref().map_or(0, |t| t.len() as u32));
            let scored = row.and_then(|values| {
                self.score_row(&values, &mut logits, &mut probs).map(|tail| (values, tail))
            });
            match scored {
                Ok((values, tail)) => {
                    let (best, confidence) = argmax(&probs);
                    let mut reason = None;
                    if let Some(min) = self.config.thresholds.min_confidence {
                        if confidence < min {
                            reason = Some(format!(
                                "confidence {confidence:.3} is below thresholds.min_confidence {min}"
                            ));
                        }
                    }
                    if let (Some(max), None) = (self.config.thresholds.max_tail_score, &reason) {
                        if tail >= max {
                            reason = Some(format!(
                                "tail score {tail:.3} is at or above thresholds.max_tail_score {max}"
                            ));
                        }
                    }
                    out.tier_index.push(if reason.is_some() { fallback_tier } else { best as u32 });
                    out.fallback.push(reason.is_some());
                    out.reason.push(reason);
                    out.probabilities.extend(probs.iter().map(|&p| p as f32));
                    out.confidence.push(confidence as f32);
                    out.tail_score.push(tail as f32);
                    if let Some(e) = out.embeddings.as_mut() {
                        e.extend_from_slice(&values);
                    }
                }
                Err(reason) => {
                    out.tier_index.push(fallback_tier);
                    out.fallback.push(true);
                    out.reason.push(Some(reason));
                    out.probabilities.extend(std::iter::repeat_n(f32::NAN, k));
                    out.confidence.push(f32::NAN);
                    out.tail_score.push(f32::NAN);
                    if let Some(e) = out.embeddings.as_mut() {
                        e.extend(std::iter::repeat_n(f32::NAN, dim));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Head, calibration and tail score for one model output row; fills `probs`.
    fn score_row(
        &self,
        values: &[f32],
        logits: &mut [f64],
        probs: &mut [f64],
    ) -> std::result::Result<f64, String> {
        match &self.head {
            Some((weights, bias)) => {
                let d = values.len();
                for (c, l) in logits.iter_mut().enumerate() {
                    *l = bias[c] as f64 + linalg::dot(&weights[c * d..(c + 1) * d], values) as f64;
                }
            }
            None => logits.iter_mut().zip(values).for_each(|(l, &v)| *l = v as f64),
        }
        linalg::softmax_scaled(logits, self.config.calibration.temperature, probs);
        if probs.iter().any(|p| !p.is_finite()) {
            return Err("invalid output: non-finite probabilities".into());
        }
        Ok(self.tail.as_ref().map_or(f64::NAN, |t| t.score(values)))
    }

    /// Write the router (model, tokenizer, router.json) into `dir`, creating it if needed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TierscopeError::io(dir, e))?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| TierscopeError::io(&path, e))
        };
        write(&self.config.model.file, self.encoder.model_bytes())?;
        write(&self.config.model.tokenizer, self.encoder.tokenizer_bytes())?;
        self.config.to_file(&dir.join("router.json"))
    }
}

fn argmax(values: &[f64]) -> (usize, f64) {
    values
        .iter()
        .cloned()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}

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
    /// Max sequence length (used when the encoder directory has no router.json).
    pub max_length: usize,
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
            max_length: 128,
            provenance: BTreeMap::new(),
        }
    }
}

/// The model spec for an encoder directory: its router.json's, or the mean-pooling default.
fn encoder_spec(encoder_dir: &Path, max_length: usize) -> Result<ModelSpec> {
    let config_path = encoder_dir.join("router.json");
    if config_path.is_file() {
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
        max_length,
        embedding_dim: None,
        vocab_size: None,
    })
}

/// Train a router head on `texts` labelled with `tiers` using the encoder in `encoder_dir`:
/// embed, split off a stratified held-out set, fit an L2 multinomial logistic regression,
/// temperature-scale it on the held-out set, record held-out accuracy/ECE, the tail statistics
/// and the training confidence histogram. Deterministic given `options.seed`.
pub fn fit(
    encoder_dir: &Path,
    texts: &[String],
    tiers: &[String],
    options: &FitOptions,
    threads: ThreadConfig,
) -> Result<Router> {
    if texts.len() != tiers.len() {
        return Err(TierscopeError::invalid(
            "tiers",
            format!("one tier label per text: got {} texts and {} labels", texts.len(), tiers.len()),
        ));
    }
    if texts.is_empty() {
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
    let k = order.len();
    let mut labels = Vec::with_capacity(tiers.len());
    for (i, tier) in tiers.iter().enumerate() {
        let index = order.iter().position(|t| t == tier).ok_or_else(|| {
            TierscopeError::invalid(format!("tiers[{i}]"), format!("one of {order:?}, got {tier:?}"))
        })?;
        labels.push(index);
    }
    let mut by_tier: Vec<Vec<usize>> = vec![vec![]; k];
    for (i, &c) in labels.iter().enumerate() {
        by_tier[c].push(i);
    }
    for (c, members) in by_tier.iter().enumerate() {
        if members.len() < 2 {
            return Err(TierscopeError::invalid(
                "tiers",
                format!("at least 2 examples of every tier, but tier {:?} has {}", order[c], members.len()),
            ));
        }
    }

    let spec = encoder_spec(encoder_dir, options.max_length)?;
    let encoder = Encoder::load(encoder_dir, &spec, threads, BatchConfig::default())?;
    let d = encoder.output_width();
    let rows = encoder.infer(texts)?;
    let mut x = Vec::with_capacity(texts.len() * d);
    for (i, (row, _)) in rows.into_iter().enumerate() {
        let embedding = row.map_err(|reason| TierscopeError::Inference(format!("texts[{i}]: {reason}")))?;
        x.extend_from_slice(&embedding);
    }

    // Stratified held-out split: at least one example of each tier on both sides.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
    let mut train_idx = Vec::new();
    let mut hold_idx = Vec::new();
    for members in &mut by_tier {
        members.shuffle(&mut rng);
        let n_hold =
            ((members.len() as f64 * options.holdout_fraction).round() as usize).clamp(1, members.len() - 1);
        hold_idx.extend_from_slice(&members[..n_hold]);
        train_idx.extend_from_slice(&members[n_hold..]);
    }
    train_idx.sort_unstable();
    hold_idx.sort_unstable();
    let gather = |idx: &[usize]| -> (Vec<f32>, Vec<usize>) {
        let mut xs = Vec::with_capacity(idx.len() * d);
        for &i in idx {
            xs.extend_from_slice(&x[i * d..(i + 1) * d]);
        }
        (xs, idx.iter().map(|&i| labels[i]).collect())
    };
    let (x_train, y_train) = gather(&train_idx);
    let (x_hold, y_hold) = gather(&hold_idx);

    let logistic = LogisticOptions { l2: options.l2, ..Default::default() };
    let head = train::fit_logistic(&x_train, &y_train, k, d, &logistic);
    let logits_of = |xs: &[f32]| -> Vec<f64> {
        let mut all = Vec::with_capacity(xs.len() / d * k);
        let mut row = vec![0.0; k];
        for chunk in xs.chunks(d) {
            head.logits(chunk, &mut row);
            all.extend_from_slice(&row);
        }
        all
    };
    let hold_logits = logits_of(&x_hold);
    let temperature = train::fit_temperature(&hold_logits, &y_hold, k);

    let evaluate = |logits: &[f64], y: &[usize], t: f64| {
        let mut probs = vec![0.0; k];
        let mut confidence = Vec::with_capacity(y.len());
        let mut correct = Vec::with_capacity(y.len());
        let mut confusion = vec![vec![0u64; k]; k];
        for (i, &label) in y.iter().enumerate() {
            linalg::softmax_scaled(&logits[i * k..(i + 1) * k], t, &mut probs);
            let (pred, conf) = argmax(&probs);
            confidence.push(conf);
            correct.push(pred == label);
            confusion[label][pred] += 1;
        }
        let accuracy = correct.iter().filter(|&&c| c).count() as f64 / y.len() as f64;
        let ece = train::expected_calibration_error(&confidence, &correct, 15);
        (accuracy, ece, confidence, confusion)
    };
    let (hold_acc, hold_ece_raw, _, _) = evaluate(&hold_logits, &y_hold, 1.0);
    let (_, hold_ece, _, hold_confusion) = evaluate(&hold_logits, &y_hold, temperature);
    let hold_nll_raw = train::nll_at_temperature(&hold_logits, &y_hold, k, 1.0);
    let hold_nll = train::nll_at_temperature(&hold_logits, &y_hold, k, temperature);

    let all_logits = logits_of(&x);
    let (_, _, all_confidence, _) = evaluate(&all_logits, &labels, temperature);
    let mut tier_counts = vec![0u64; k];
    {
        let mut probs = vec![0.0; k];
        for i in 0..labels.len() {
            linalg::softmax_scaled(&all_logits[i * k..(i + 1) * k], temperature, &mut probs);
            tier_counts[argmax(&probs).0] += 1;
        }
    }
    let bins = 20;
    let edges: Vec<f64> = (0..=bins).map(|i| i as f64 / bins as f64).collect();
    let mut counts = vec![0u64; bins];
    for &c in &all_confidence {
        counts[((c * bins as f64) as usize).min(bins - 1)] += 1;
    }
    let reference = Reference {
        confidence_edges: edges,
        confidence_counts: counts,
        confidence_quantiles: train::quantiles(&all_confidence, 1001),
        tier_shares: tier_counts.iter().map(|&c| c as f64 / labels.len() as f64).collect(),
        n: labels.len() as u64,
    };
    let tail = train::fit_tail(&x, &labels, k, d, options.shrinkage).ok_or_else(|| {
        TierscopeError::Inference(
            "the embeddings' covariance is not positive definite; raise `shrinkage`".into(),
        )
    })?;

    let mut metrics = BTreeMap::new();
    let json = |v: serde_json::Value| v;
    metrics.insert("holdout_accuracy".into(), json(hold_acc.into()));
    metrics.insert("holdout_ece".into(), json(hold_ece.into()));
    metrics.insert("holdout_ece_uncalibrated".into(), json(hold_ece_raw.into()));
    metrics.insert("holdout_nll".into(), json(hold_nll.into()));
    metrics.insert("holdout_nll_uncalibrated".into(), json(hold_nll_raw.into()));
    metrics.insert("holdout_confusion".into(), serde_json::to_value(&hold_confusion).unwrap_or_default());
    metrics.insert("n_train".into(), json(train_idx.len().into()));
    metrics.insert("n_holdout".into(), json(hold_idx.len().into()));
    metrics.insert("lbfgs_iterations".into(), json(head.iterations.into()));
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
        tiers: order.clone(),
        fallback_tier: None,
        model,
        head: Some(Head {
            weights: head.weights.chunks(d).map(|r| r.iter().map(|&v| v as f32).collect()).collect(),
            bias: head.bias.iter().map(|&v| v as f32).collect(),
        }),
        calibration: Calibration { method: "temperature".into(), temperature },
        thresholds: Thresholds { min_confidence: options.min_confidence, max_tail_score: None },
        tail: Some(tail),
        reference: Some(reference),
        provenance,
        metrics,
    };
    config
        .validate()
        .map_err(|reason| TierscopeError::Inference(format!("fitted router is invalid: {reason}")))?;
    Router::assemble(config, encoder, None).map_err(TierscopeError::Inference)
}
