//! The encoder router core: a directory with `model.onnx`, `tokenizer.json` and `router.json`
//! becomes a [`Router`] that turns texts into tiers with calibrated probabilities, a confidence,
//! a long-tail score and, optionally, embeddings. [`fit`] (module [`fit`](mod@fit)) trains the head
//! without torch.

pub mod batching;
pub mod config;
pub mod encoder;
pub mod files;
pub mod fit;
pub mod head;
pub mod inputs;
pub mod linalg;
pub mod novelty;
pub mod onnx_graph;
pub mod regions;
pub mod train;

use std::path::{Path, PathBuf};

pub use config::{ModelKind, ModelSpec, Pooling, RouterConfig};
pub use encoder::{BatchConfig, Encoder, ThreadConfig};
pub use fit::{fit, FitOptions};

use crate::error::{Result, TierscopeError};
use novelty::NoveltyIndex;
use regions::Regions;
use train::TailScorer;

/// `reason` of a decision sent to the fallback tier because its tail score is at or above
/// `thresholds.max_tail_score`.
pub const REASON_OFF_DISTRIBUTION: &str = "off_distribution";
/// `reason` of a decision sent to the fallback tier because its text has no content (empty, or
/// only whitespace and control characters such as NUL).
pub const REASON_EMPTY_TEXT: &str = "empty_text";
/// Largest novelty index file read.
const INDEX_CAP: u64 = 1 << 30;
/// Largest regions file read (4096 regions of 4096 dimensions).
const REGIONS_CAP: u64 = 1 << 26;

/// Whether `text` has nothing to route: empty, or only whitespace and control characters.
pub fn is_empty_text(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || c.is_control())
}

/// Routing results for a batch, one entry per input text, in input order.
#[derive(Clone, Debug, Default)]
pub struct RouteOutput {
    /// Number of tiers (columns of `probabilities`).
    pub k: usize,
    /// Chosen tier index per text.
    pub tier_index: Vec<u32>,
    /// Calibrated class probabilities, row-major `n × k` (NaN rows where routing failed).
    pub probabilities: Vec<f32>,
    /// Calibrated confidence: the probability of the decided tier, i.e. the largest probability,
    /// or the fallback tier's own probability when a threshold sent the text there (NaN where
    /// routing failed or the text was empty).
    pub confidence: Vec<f32>,
    /// Tail score in [0, 1]: training-set percentile of the novelty distance (NaN when unscored).
    pub tail_score: Vec<f32>,
    /// The decision is the fallback tier because routing failed or a threshold was not met.
    pub fallback: Vec<bool>,
    /// Why the fallback was taken.
    pub reason: Vec<Option<String>>,
    /// The text was longer than the model's max length (or the byte bound) and was truncated.
    pub truncated: Vec<bool>,
    /// Content never reached the model: the byte cut dropped some, or no token is a real word.
    pub content_discarded: Vec<bool>,
    /// Tokens fed to the model.
    pub tokens: Vec<u32>,
    /// Embeddings, row-major `n × dim`, when requested (NaN rows where unavailable).
    pub embeddings: Option<Vec<f32>>,
    /// Embedding width (0 when not requested).
    pub embedding_dim: usize,
    /// Region of the training distribution per text ([`regions`]): its nearest centroid, or -1
    /// when the router has no regions or the text was not embedded.
    pub region: Vec<i32>,
}

impl RouteOutput {
    /// A row that was never scored: the fallback tier, `reason`, NaN numbers, no tokens.
    fn push_unscored(&mut self, fallback_tier: u32, reason: String, dim: usize) {
        self.truncated.push(false);
        self.content_discarded.push(false);
        self.tokens.push(0);
        self.push_failed(fallback_tier, reason, dim);
    }

    /// The scored columns of a row routed to the fallback tier without probabilities.
    fn push_failed(&mut self, fallback_tier: u32, reason: String, dim: usize) {
        self.tier_index.push(fallback_tier);
        self.fallback.push(true);
        self.reason.push(Some(reason));
        self.probabilities.extend(std::iter::repeat_n(f32::NAN, self.k));
        self.confidence.push(f32::NAN);
        self.tail_score.push(f32::NAN);
        self.region.push(-1);
        if let Some(e) = self.embeddings.as_mut() {
            e.extend(std::iter::repeat_n(f32::NAN, dim));
        }
    }
}

/// A loaded router.
pub struct Router {
    config: RouterConfig,
    encoder: Encoder,
    head: Option<(Vec<f32>, Vec<f32>)>,
    tail: Option<TailScorer>,
    novelty: Option<NoveltyIndex>,
    regions: Option<Regions>,
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
        // router.json itself may not be a symlink out of the directory either.
        let config_path = files::resolve_inside(dir, "router.json", "router.json", "router.json")?;
        let config = RouterConfig::from_file(&config_path)?;
        let encoder = Encoder::load(dir, &config.model, threads, batch)?;
        let novelty = match &config.novelty {
            Some(stats) => Some(Self::load_index(dir, stats, config.model.embedding_dim.unwrap_or(0))?),
            None => None,
        };
        let mut router = Self::assemble(config, encoder, novelty, Some(dir.to_path_buf()))
            .map_err(|reason| TierscopeError::model_load(dir.join("router.json"), reason))?;
        // Optional and found by name (no router.json field): older directories simply have none.
        if dir.join(regions::FILE).symlink_metadata().is_ok() {
            let path = files::resolve_inside(dir, regions::FILE, regions::FILE, "regions file")?;
            let bytes = files::read_bounded(&path, regions::FILE, REGIONS_CAP)?;
            let parsed =
                Regions::parse(&bytes).map_err(|reason| TierscopeError::model_load(&path, reason))?;
            router =
                router.with_regions(parsed).map_err(|reason| TierscopeError::model_load(&path, reason))?;
        }
        Ok(router)
    }

    /// This router with `regions` (their width must be the encoder's embedding width).
    pub fn with_regions(mut self, regions: Regions) -> std::result::Result<Self, String> {
        if self.config.model.kind != ModelKind::Encoder || regions.dim() != self.encoder.output_width() {
            return Err(format!(
                "the regions have {} dimensions, the encoder outputs {} embedding values",
                regions.dim(),
                self.encoder.output_width()
            ));
        }
        self.regions = Some(regions);
        Ok(self)
    }

    /// The regions of the training distribution, if the router has them.
    pub fn regions(&self) -> Option<&Regions> {
        self.regions.as_ref()
    }

    /// The novelty index of the router in `dir` (None when it has none), without loading the
    /// model: what [`regions::Regions::fit_index`] clusters.
    pub fn load_novelty(dir: &Path) -> Result<Option<NoveltyIndex>> {
        let config_path = files::resolve_inside(dir, "router.json", "router.json", "router.json")?;
        let config = RouterConfig::from_file(&config_path)?;
        match &config.novelty {
            Some(stats) => Ok(Some(Self::load_index(dir, stats, config.model.embedding_dim.unwrap_or(0))?)),
            None => Ok(None),
        }
    }

    /// The novelty index named by `router.json` (inside `dir`, checked against its header).
    fn load_index(dir: &Path, stats: &config::NoveltyStats, dim: usize) -> Result<NoveltyIndex> {
        let path = files::resolve_inside(dir, "novelty.index_file", &stats.index_file, "novelty index")?;
        let bytes = files::read_bounded(&path, "novelty.index_file", INDEX_CAP)?;
        let (codes, scales) = NoveltyIndex::parse(&bytes, dim, stats.rows)
            .map_err(|reason| TierscopeError::model_load(&path, reason))?;
        NoveltyIndex::from_parts(dim, stats.neighbours, codes, scales, stats.distance_quantiles.clone())
            .map_err(|reason| TierscopeError::model_load(&path, reason))
    }

    fn assemble(
        config: RouterConfig,
        encoder: Encoder,
        novelty: Option<NoveltyIndex>,
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
        if config.novelty.is_some() != novelty.is_some() {
            return Err("`novelty` in router.json and the loaded index disagree".into());
        }
        if let Some(index) = &novelty {
            if index.dim() != encoder.output_width() {
                return Err(format!(
                    "the novelty index has {} dimensions, the encoder outputs {}",
                    index.dim(),
                    encoder.output_width()
                ));
            }
        }
        let tail = config.tail.as_ref().map(TailScorer::new);
        Ok(Self { config, encoder, head, tail, novelty, regions: None, source })
    }

    /// The router's description (`router.json`).
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The directory the router was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The novelty index behind the tail score, if the router has one.
    pub fn novelty(&self) -> Option<&NoveltyIndex> {
        self.novelty.as_ref()
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
        // Texts with no content never reach the model: they go to the fallback tier unscored.
        let empty: Vec<bool> = texts.iter().map(|t| is_empty_text(t)).collect();
        let to_run: Vec<String> =
            texts.iter().zip(&empty).filter(|(_, &e)| !e).map(|(t, _)| t.clone()).collect();
        let mut ran = self.encoder.infer(&to_run)?.into_iter();
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
            content_discarded: Vec::with_capacity(n),
            tokens: Vec::with_capacity(n),
            embeddings: if dim > 0 { Some(Vec::with_capacity(n * dim)) } else { None },
            embedding_dim: dim,
            region: Vec::with_capacity(n),
        };
        let mut logits = vec![0.0f64; k];
        let mut probs = vec![0.0f64; k];
        for &is_empty in &empty {
            if is_empty {
                out.push_unscored(fallback_tier, REASON_EMPTY_TEXT.into(), dim);
                continue;
            }
            let Some((row, tokenized)) = ran.next() else {
                return Err(TierscopeError::Inference("the encoder returned fewer rows than texts".into()));
            };
            out.truncated.push(tokenized.as_ref().is_some_and(|t| t.truncated));
            out.content_discarded.push(tokenized.as_ref().is_some_and(|t| t.content_discarded));
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
                            reason = Some(REASON_OFF_DISTRIBUTION.into());
                        }
                    }
                    // A fallback decision reports the probability of the tier it names, not the
                    // (higher) probability of the tier it overrode.
                    let decided = if reason.is_some() { fallback_tier as usize } else { best };
                    out.tier_index.push(decided as u32);
                    out.fallback.push(reason.is_some());
                    out.reason.push(reason);
                    out.probabilities.extend(probs.iter().map(|&p| p as f32));
                    out.confidence.push(if decided == best { confidence } else { probs[decided] } as f32);
                    out.tail_score.push(tail as f32);
                    out.region.push(self.regions.as_ref().map_or(-1, |r| r.assign(&values)));
                    if let Some(e) = out.embeddings.as_mut() {
                        e.extend_from_slice(&values);
                    }
                }
                Err(reason) => out.push_failed(fallback_tier, reason, dim),
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
        Ok(match (&self.novelty, &self.tail) {
            (Some(index), _) => index.score(values),
            (None, Some(tail)) => tail.score(values),
            (None, None) => f64::NAN,
        })
    }

    /// Write the router into `dir`, creating it if needed, under the canonical names
    /// `model.onnx`, `tokenizer.json` and `router.json` (whose `model.file` and
    /// `model.tokenizer` are rewritten to match), whatever names it was loaded from. Each file
    /// is written atomically ([`files::write_atomic`]: a pre-existing symlink at a name is
    /// replaced, never followed), `router.json` last, so an interrupted save never leaves a
    /// `router.json` naming files that are not there.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TierscopeError::io(dir, e))?;
        let mut config = self.config.clone();
        config.model.file = config::default_model_file();
        config.model.tokenizer = config::default_tokenizer_file();
        files::write_atomic(dir, &config.model.file, self.encoder.model_bytes())?;
        files::write_atomic(dir, &config.model.tokenizer, self.encoder.tokenizer_bytes())?;
        if let (Some(stats), Some(index)) = (config.novelty.as_mut(), &self.novelty) {
            stats.index_file = config::default_index_file();
            files::write_atomic(dir, &stats.index_file, &index.to_bytes())?;
        }
        if let Some(r) = &self.regions {
            files::write_atomic(dir, regions::FILE, &r.to_bytes())?;
        }
        config.to_file(&dir.join("router.json"))
    }
}

fn argmax(values: &[f64]) -> (usize, f64) {
    values
        .iter()
        .cloned()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}
