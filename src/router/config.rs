//! `router.json`: everything about a router except the ONNX graph and the tokenizer.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;
use crate::error::{Result, TierscopeError};

/// The `router.json` format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// What the ONNX model outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// An encoder whose output is `last_hidden_state` [batch, seq, dim]; tierscope pools it and
    /// applies the head stored in `router.json`.
    Encoder,
    /// A sequence-classification model (e.g. an HF optimum export) whose output is logits [batch, k].
    SequenceClassification,
}

/// How token states become one embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over real tokens (attention mask).
    Mean,
    /// The first token's state.
    Cls,
}

/// The model and tokenizer files and how to read the model's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// ONNX file name inside the router directory.
    #[serde(default = "default_model_file")]
    pub file: String,
    /// Tokenizer file name inside the router directory.
    #[serde(default = "default_tokenizer_file")]
    pub tokenizer: String,
    /// Which of the two supported model shapes this is.
    pub kind: ModelKind,
    /// Name of the output to read (`last_hidden_state` or `logits`).
    pub output: String,
    /// Pooling for encoder models.
    #[serde(default = "default_pooling")]
    pub pooling: Pooling,
    /// L2-normalise the pooled embedding.
    #[serde(default)]
    pub normalize: bool,
    /// Longest token sequence fed to the model; longer inputs are truncated and flagged.
    pub max_length: usize,
    /// Embedding width (encoder models).
    #[serde(default)]
    pub embedding_dim: Option<usize>,
    /// Rows of the model's word-embedding table; the tokenizer's vocabulary must fit in it.
    #[serde(default)]
    pub vocab_size: Option<usize>,
    /// Which tokens a text longer than `max_length` keeps (absent in older files: `head`).
    /// Written only when not `head`, so a head router's `router.json` is unchanged.
    #[serde(default, skip_serializing_if = "Truncation::is_head")]
    pub truncation: Truncation,
    /// `head+tail` only: content tokens kept from the start (`k`); the last
    /// `max_length − specials − k` are kept from the end. Default: a quarter of the content
    /// budget (see [`ModelSpec::head_tokens_kept`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_tokens: Option<usize>,
}

/// Which tokens of a text longer than `max_length` are fed to the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Truncation {
    /// The first tokens (the format's original behaviour).
    #[default]
    #[serde(rename = "head")]
    Head,
    /// The last tokens: for prompts whose question comes last (few-shot prompts).
    #[serde(rename = "tail")]
    Tail,
    /// The first `k` and the last `max_length − specials − k` tokens.
    #[serde(rename = "head+tail")]
    HeadTail,
}

impl Truncation {
    /// Whether this is the default, `head`.
    pub fn is_head(&self) -> bool {
        *self == Truncation::Head
    }

    /// The strategy named `name` (`head`, `tail`, `head+tail`).
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        match name {
            "head" => Ok(Self::Head),
            "tail" => Ok(Self::Tail),
            "head+tail" => Ok(Self::HeadTail),
            other => Err(format!("one of \"head\", \"tail\", \"head+tail\", got {other:?}")),
        }
    }

    /// The strategy's name as `router.json` writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Tail => "tail",
            Self::HeadTail => "head+tail",
        }
    }
}

impl ModelSpec {
    /// `head+tail`: content tokens kept from the start when `budget` content tokens fit (the
    /// rest come from the end): `head_tokens` if set, else `budget / 4` (Sun et al. 2019 found
    /// a short head and a long tail best for long documents; a few-shot prompt's question is last).
    pub fn head_tokens_kept(&self, budget: usize) -> usize {
        self.head_tokens.unwrap_or(budget / 4).min(budget)
    }
}

/// The canonical model file name (`model.onnx`), the default of `model.file`.
pub fn default_model_file() -> String {
    "model.onnx".into()
}
/// The canonical tokenizer file name (`tokenizer.json`), the default of `model.tokenizer`.
pub fn default_tokenizer_file() -> String {
    "tokenizer.json".into()
}
fn default_pooling() -> Pooling {
    Pooling::Mean
}

/// A linear head on the pooled embedding: `logits = weights · e + bias`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// One row per tier, each `embedding_dim` long.
    pub weights: Vec<Vec<f32>>,
    /// One bias per tier.
    pub bias: Vec<f32>,
}

/// Temperature scaling: `p = softmax(logits / temperature)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Always `"temperature"` in this version.
    pub method: String,
    /// Positive temperature; 1.0 leaves the head's probabilities unchanged.
    pub temperature: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { method: "temperature".into(), temperature: 1.0 }
    }
}

/// Decision thresholds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Below this calibrated confidence the query goes to the fallback tier (flagged, with a reason).
    #[serde(default)]
    pub min_confidence: Option<f64>,
    /// At or above this tail score (training-set percentile in [0, 1]) the query goes to the fallback tier.
    #[serde(default)]
    pub max_tail_score: Option<f64>,
}

/// Training-distribution statistics for the tail score: Mahalanobis distance to the nearest tier
/// centroid under a shared, shrunk covariance, reported as a percentile of training distances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailStats {
    /// Always `"mahalanobis_nearest_centroid"` in this version.
    pub method: String,
    /// Shrinkage weight towards a scaled identity used for the covariance.
    pub shrinkage: f64,
    /// Whitening matrix `L⁻¹` (lower triangular, `dim × dim`) with `Σ = L Lᵀ`.
    pub whitening: Vec<Vec<f32>>,
    /// Whitened centroids `L⁻¹ μ_k`, one per class.
    pub centroids: Vec<Vec<f32>>,
    /// Quantiles (evenly spaced levels from 0 to 1) of the training distances.
    pub distance_quantiles: Vec<f64>,
}

/// The kNN novelty index behind the tail score ([`crate::router::novelty`]): int8 codes of the
/// training embeddings in `index_file`, scored as the mean cosine distance to the `neighbours`
/// nearest rows, reported as a leave-one-out training percentile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoveltyStats {
    /// Always `"knn_cosine_int8"` in this version.
    pub method: String,
    /// The index file inside the router directory (canonically `tail_index.bin`).
    pub index_file: String,
    /// Rows in the index (training embeddings kept).
    pub rows: usize,
    /// Neighbours averaged.
    pub neighbours: usize,
    /// Quantiles (evenly spaced levels from 0 to 1) of the leave-one-out training distances.
    pub distance_quantiles: Vec<f64>,
}

/// The canonical novelty index file name.
pub fn default_index_file() -> String {
    "tail_index.bin".into()
}

/// Reference distributions recorded at training time, for drift checks in production.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Histogram bin edges of the calibrated confidence on the training texts.
    pub confidence_edges: Vec<f64>,
    /// Counts per bin (`confidence_edges.len() - 1` of them).
    pub confidence_counts: Vec<u64>,
    /// Evenly spaced quantiles of the training confidence, a compact reference sample for KS tests.
    pub confidence_quantiles: Vec<f64>,
    /// Share of training texts routed to each tier.
    pub tier_shares: Vec<f64>,
    /// Number of training texts.
    pub n: u64,
}

/// Everything in `router.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Must equal [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Tier names ordered from the cheapest to the most capable.
    pub tiers: Vec<String>,
    /// Tier used when routing fails; defaults to the most capable (last) tier.
    #[serde(default)]
    pub fallback_tier: Option<String>,
    /// Model files and output shape.
    pub model: ModelSpec,
    /// The classification head (encoder models only).
    #[serde(default)]
    pub head: Option<Head>,
    /// Probability calibration.
    #[serde(default)]
    pub calibration: Calibration,
    /// Decision thresholds.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Tail-score statistics; without them the tail score is NaN.
    #[serde(default)]
    pub tail: Option<TailStats>,
    /// The kNN novelty index of the tail score; when present it replaces `tail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<NoveltyStats>,
    /// Training reference distributions for drift checks.
    #[serde(default)]
    pub reference: Option<Reference>,
    /// Where the model and data came from (free-form).
    #[serde(default)]
    pub provenance: BTreeMap<String, serde_json::Value>,
    /// Held-out metrics recorded at training time (free-form).
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
}

impl RouterConfig {
    /// Read and validate `path` (a `router.json`): a regular file of at most
    /// [`files::CONFIG_CAP`] bytes whose file names are plain relative paths.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = files::read_bounded(path, "router.json", files::CONFIG_CAP)?;
        let config: RouterConfig = serde_json::from_slice(&bytes)
            .map_err(|e| TierscopeError::model_load(path, format!("invalid router.json: {e}")))?;
        config.validate().map_err(|reason| TierscopeError::model_load(path, reason))?;
        Ok(config)
    }

    /// Write to `path` as JSON, atomically (see [`files::write_atomic`]).
    pub fn to_file(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| TierscopeError::model_load(path, format!("cannot serialise router.json: {e}")))?;
        let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
            (Some(dir), Some(name)) => (if dir.as_os_str().is_empty() { Path::new(".") } else { dir }, name),
            _ => return Err(TierscopeError::invalid("path", format!("a file path, got {}", path.display()))),
        };
        files::write_atomic(dir, name, text.as_bytes())
    }

    /// Index of the fallback tier.
    pub fn fallback_index(&self) -> usize {
        self.fallback_tier
            .as_ref()
            .and_then(|name| self.tiers.iter().position(|t| t == name))
            .unwrap_or(self.tiers.len().saturating_sub(1))
    }

    /// Check internal consistency; the error names the bad field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "field `format_version`: expected {FORMAT_VERSION}, got {}",
                self.format_version
            ));
        }
        if self.tiers.len() < 2 {
            return Err(format!("field `tiers`: expected at least 2 tier names, got {}", self.tiers.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.trim().is_empty() {
                return Err(format!("field `tiers[{i}]`: expected a non-empty name"));
            }
            if !seen.insert(tier) {
                return Err(format!("field `tiers`: tier {tier:?} appears twice"));
            }
        }
        if let Some(name) = &self.fallback_tier {
            if !self.tiers.contains(name) {
                return Err(format!(
                    "field `fallback_tier`: {name:?} is not one of the tiers {:?}",
                    self.tiers
                ));
            }
        }
        let k = self.tiers.len();
        let spec = &self.model;
        files::check_relative("model.file", &spec.file)?;
        files::check_relative("model.tokenizer", &spec.tokenizer)?;
        if spec.max_length < 2 {
            return Err(format!("field `model.max_length`: expected at least 2, got {}", spec.max_length));
        }
        if let Some(k) = spec.head_tokens {
            if spec.truncation != Truncation::HeadTail {
                return Err("field `model.head_tokens`: only meaningful with truncation \"head+tail\"".into());
            }
            if k >= spec.max_length {
                return Err(format!(
                    "field `model.head_tokens`: expected fewer than model.max_length ({}), got {k}",
                    spec.max_length
                ));
            }
        }
        match spec.kind {
            ModelKind::Encoder => {
                let head = self.head.as_ref().ok_or(
                    "field `head`: an encoder model needs a head (weights and bias), or use model.kind \
                     \"sequence_classification\" for a model that outputs logits",
                )?;
                let dim =
                    spec.embedding_dim.ok_or("field `model.embedding_dim`: required for encoder models")?;
                if head.weights.len() != k {
                    return Err(format!(
                        "field `head.weights`: expected one row per tier ({k}), got {}",
                        head.weights.len()
                    ));
                }
                if let Some((i, row)) = head.weights.iter().enumerate().find(|(_, r)| r.len() != dim) {
                    return Err(format!(
                        "field `head.weights[{i}]`: expected {dim} values, got {}",
                        row.len()
                    ));
                }
                if head.bias.len() != k {
                    return Err(format!("field `head.bias`: expected {k} values, got {}", head.bias.len()));
                }
                if head.weights.iter().flatten().chain(&head.bias).any(|v| !v.is_finite()) {
                    return Err("field `head`: contains NaN or infinite values".into());
                }
                if let Some(tail) = &self.tail {
                    validate_tail(tail, dim)?;
                }
                if let Some(novelty) = &self.novelty {
                    validate_novelty(novelty)?;
                }
            }
            ModelKind::SequenceClassification => {
                if self.head.is_some() {
                    return Err("field `head`: a sequence-classification model outputs logits itself; \
                                remove the head"
                        .into());
                }
                if self.tail.is_some() || self.novelty.is_some() {
                    return Err("field `tail`: tail statistics need an encoder model's embeddings".into());
                }
            }
        }
        if self.calibration.method != "temperature" {
            return Err(format!(
                "field `calibration.method`: expected \"temperature\", got {:?}",
                self.calibration.method
            ));
        }
        let t = self.calibration.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(format!("field `calibration.temperature`: expected a positive number, got {t}"));
        }
        if let Some(c) = self.thresholds.min_confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(format!(
                    "field `thresholds.min_confidence`: expected a value in [0, 1], got {c}"
                ));
            }
        }
        if let Some(c) = self.thresholds.max_tail_score {
            if !(0.0..=1.0).contains(&c) {
                return Err(format!(
                    "field `thresholds.max_tail_score`: expected a value in [0, 1], got {c}"
                ));
            }
        }
        if let Some(reference) = &self.reference {
            if reference.confidence_edges.len() != reference.confidence_counts.len() + 1 {
                return Err("field `reference.confidence_counts`: expected one count per bin".into());
            }
            if reference.tier_shares.len() != k {
                return Err(format!("field `reference.tier_shares`: expected {k} values"));
            }
        }
        Ok(())
    }
}

fn validate_novelty(novelty: &NoveltyStats) -> std::result::Result<(), String> {
    if novelty.method != crate::router::novelty::METHOD {
        return Err(format!(
            "field `novelty.method`: expected {:?}, got {:?}",
            crate::router::novelty::METHOD,
            novelty.method
        ));
    }
    files::check_relative("novelty.index_file", &novelty.index_file)?;
    if novelty.neighbours == 0 || novelty.rows <= novelty.neighbours {
        return Err(format!(
            "field `novelty.neighbours`: expected 1 to rows - 1 ({}), got {}",
            novelty.rows.saturating_sub(1),
            novelty.neighbours
        ));
    }
    let q = &novelty.distance_quantiles;
    if q.len() < 2 || q.iter().any(|v| !v.is_finite()) || q.windows(2).any(|w| w[0] > w[1]) {
        return Err(
            "field `novelty.distance_quantiles`: expected at least 2 finite non-decreasing values".into()
        );
    }
    Ok(())
}

fn validate_tail(tail: &TailStats, dim: usize) -> std::result::Result<(), String> {
    if tail.method != "mahalanobis_nearest_centroid" {
        return Err(format!(
            "field `tail.method`: expected \"mahalanobis_nearest_centroid\", got {:?}",
            tail.method
        ));
    }
    if tail.whitening.len() != dim || tail.whitening.iter().any(|row| row.len() != dim) {
        return Err(format!("field `tail.whitening`: expected a {dim}×{dim} matrix"));
    }
    if tail.centroids.is_empty() || tail.centroids.iter().any(|c| c.len() != dim) {
        return Err(format!("field `tail.centroids`: expected rows of {dim} values"));
    }
    if tail.distance_quantiles.len() < 2 || tail.distance_quantiles.windows(2).any(|w| w[0] > w[1]) {
        return Err("field `tail.distance_quantiles`: expected at least 2 non-decreasing values".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> RouterConfig {
        RouterConfig {
            format_version: FORMAT_VERSION,
            tiers: vec!["cheap".into(), "capable".into()],
            fallback_tier: None,
            model: ModelSpec {
                file: default_model_file(),
                tokenizer: default_tokenizer_file(),
                kind: ModelKind::Encoder,
                output: "last_hidden_state".into(),
                pooling: Pooling::Mean,
                normalize: true,
                max_length: 128,
                embedding_dim: Some(3),
                vocab_size: None,
                truncation: Truncation::Head,
                head_tokens: None,
            },
            head: Some(Head {
                weights: vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]],
                bias: vec![0.0, 0.0],
            }),
            calibration: Calibration::default(),
            thresholds: Thresholds::default(),
            tail: None,
            novelty: None,
            reference: None,
            provenance: BTreeMap::new(),
            metrics: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_through_json() {
        let config = minimal();
        let text = serde_json::to_string(&config).unwrap();
        let back: RouterConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(config, back);
        assert!(back.validate().is_ok());
        assert_eq!(back.fallback_index(), 1);
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let mut value = serde_json::to_value(minimal()).unwrap();
        value["model"]["poolng"] = serde_json::json!("mean");
        let err = serde_json::from_value::<RouterConfig>(value).unwrap_err().to_string();
        assert!(err.contains("poolng"), "{err}");
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut config = minimal();
        config.tiers = vec!["only".into()];
        assert!(config.validate().unwrap_err().contains("`tiers`"));

        let mut config = minimal();
        config.head.as_mut().unwrap().weights[1].pop();
        assert!(config.validate().unwrap_err().contains("head.weights[1]"));

        let mut config = minimal();
        config.calibration.temperature = 0.0;
        assert!(config.validate().unwrap_err().contains("calibration.temperature"));

        let mut config = minimal();
        config.fallback_tier = Some("premium".into());
        assert!(config.validate().unwrap_err().contains("fallback_tier"));

        let mut config = minimal();
        config.head = None;
        assert!(config.validate().unwrap_err().contains("`head`"));

        for (field, bad) in [("model.file", "../x"), ("model.file", "/etc/passwd"), ("model.tokenizer", "")] {
            let mut config = minimal();
            if field == "model.file" {
                config.model.file = bad.into();
            } else {
                config.model.tokenizer = bad.into();
            }
            assert!(config.validate().unwrap_err().contains(field), "{field} = {bad:?}");
        }
    }

    #[test]
    fn truncation_defaults_to_head_and_is_written_only_when_not_head() {
        let config = minimal();
        let value = serde_json::to_value(&config).unwrap();
        assert!(value["model"].get("truncation").is_none(), "a head router's file is unchanged");
        let mut config = minimal();
        config.model.truncation = Truncation::HeadTail;
        config.model.head_tokens = Some(32);
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(value["model"]["truncation"], "head+tail");
        let back: RouterConfig = serde_json::from_value(value).unwrap();
        assert_eq!(back.model.truncation, Truncation::HeadTail);
        assert!(back.validate().is_ok());
        assert_eq!(back.model.head_tokens_kept(126), 32);
        config.model.head_tokens = Some(128);
        assert!(config.validate().unwrap_err().contains("model.head_tokens"));
        config.model.truncation = Truncation::Tail;
        config.model.head_tokens = Some(3);
        assert!(config.validate().unwrap_err().contains("model.head_tokens"));
        assert_eq!(Truncation::parse("tail"), Ok(Truncation::Tail));
        assert!(Truncation::parse("middle").unwrap_err().contains("head+tail"));
        let spec = minimal().model;
        assert_eq!(spec.head_tokens_kept(126), 31);
    }
}
