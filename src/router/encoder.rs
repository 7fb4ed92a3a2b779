//! Tokenization and ONNX inference: a pool of ONNX Runtime sessions driven by a rayon pool.
//!
//! Threads are sized explicitly: `sessions × intra_threads ≤ cores`. Batches run on the
//! process's `sessions`-worker pool from [`crate::pool`]; worker `i` (its
//! `rayon::current_thread_index()`) uses session `i`, so batches run in parallel without lock
//! contention. The sessions are rebuilt lazily in a forked child, as is the pool (by
//! [`crate::pool`]), whose copies of the parent's threads and locks are unusable (the classic
//! rayon/ORT-after-fork deadlock).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use rayon::prelude::*;
use tokenizers::{Encoding, PostProcessor, Tokenizer, TruncationDirection, TruncationParams};

use crate::error::{Result, TierscopeError};
use crate::router::batching::plan_batches;
use crate::router::config::{ModelKind, ModelSpec, Pooling, Truncation};
use crate::router::{files, onnx_graph};
use crate::runtime;

/// Environment variable that sets the default total thread budget.
pub const THREADS_ENV: &str = "TIERSCOPE_NUM_THREADS";

/// How many ONNX Runtime sessions run side by side and how many intra-op threads each uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadConfig {
    /// Sessions (and rayon workers) running batches in parallel.
    pub sessions: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
}

impl ThreadConfig {
    /// Resolve a configuration. The default is one single-threaded session per core (measured
    /// faster than one multi-threaded session for batches here; see the benchmarks). The budget
    /// is `TIERSCOPE_NUM_THREADS` or the available cores; the product may not exceed the cores.
    pub fn resolve(sessions: Option<usize>, intra_threads: Option<usize>) -> Result<Self> {
        let cores = runtime::available_cores();
        let budget = match std::env::var(THREADS_ENV) {
            Ok(value) => value.trim().parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                TierscopeError::invalid(THREADS_ENV, format!("a positive integer, got {value:?}"))
            })?,
            Err(_) => cores,
        }
        .min(cores);
        let intra = intra_threads.unwrap_or(1);
        if intra == 0 {
            return Err(TierscopeError::invalid("intra_threads", "a positive integer, got 0"));
        }
        let sessions = sessions.unwrap_or((budget / intra).max(1));
        if sessions == 0 {
            return Err(TierscopeError::invalid("sessions", "a positive integer, got 0"));
        }
        if sessions * intra > cores {
            return Err(TierscopeError::invalid(
                "sessions × intra_threads",
                format!(
                    "at most the {cores} available cores, got {sessions} × {intra} = {}",
                    sessions * intra
                ),
            ));
        }
        Ok(Self { sessions, intra_threads: intra })
    }
}

/// Default [`BatchConfig::max_text_bytes`]: 1 MiB.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 1 << 20;

/// Bytes of text kept per model token before tokenization (see [`Encoder::cut_bound`]).
///
/// A WordPiece token covers at least one character, and English averages about 4–5 bytes per
/// token (CJK: one 3-byte character per token), so `max_length × 32` bytes keeps several times
/// more text than `max_length` tokens need for ordinary text. A word longer than BERT's
/// `max_input_chars_per_word` (100) becomes a single `[UNK]` whatever its length, so no more
/// bytes could change a text whose words are longer either: only a text of many long unknown
/// words can lose tokens to the cut, and the cut is then reported (`truncated`,
/// `content_discarded`).
pub const BYTES_PER_TOKEN: usize = 32;

/// Batching and input limits.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Padded tokens per batch (`batch size × longest sequence`).
    pub token_budget: usize,
    /// Most queries per batch.
    pub max_batch: usize,
    /// Longest text (UTF-8 bytes) tokenized; longer texts are cut (never refused) and flagged.
    pub max_text_bytes: usize,
}

impl BatchConfig {
    /// Batching limits, both positive, with the default text size limit.
    pub fn new(token_budget: usize, max_batch: usize) -> Result<Self> {
        if token_budget == 0 || max_batch == 0 {
            return Err(TierscopeError::invalid("token_budget/max_batch", "positive integers"));
        }
        Ok(Self { token_budget, max_batch, max_text_bytes: DEFAULT_MAX_TEXT_BYTES })
    }

    /// The same limits with texts cut at `max_text_bytes` (positive) bytes.
    pub fn with_max_text_bytes(self, max_text_bytes: usize) -> Result<Self> {
        if max_text_bytes == 0 {
            return Err(TierscopeError::invalid("max_text_bytes", "a positive integer, got 0"));
        }
        Ok(Self { max_text_bytes, ..self })
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn cut_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    // At most 3 steps back: a UTF-8 character is at most 4 bytes.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest suffix of `text` of at most `max_bytes` bytes that starts on a character boundary.
pub fn suffix_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut start = text.len() - max_bytes;
    // At most 3 steps forward: a UTF-8 character is at most 4 bytes.
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Default for BatchConfig {
    /// 512 padded tokens per batch measured ~8% faster than 4096 on MiniLM (fp32 and int8, one
    /// core): smaller batches keep the activations in cache, and length sorting keeps padding low.
    fn default() -> Self {
        Self { token_budget: 512, max_batch: 64, max_text_bytes: DEFAULT_MAX_TEXT_BYTES }
    }
}

/// One tokenized query.
#[derive(Clone, Debug)]
pub struct Tokenized {
    ids: Vec<i64>,
    type_ids: Vec<i64>,
    /// The text was longer than `max_length` tokens, or than the byte bound, and was cut.
    pub truncated: bool,
    /// Content never reached the model: the byte cut dropped some, or no token is a real word
    /// (every token is special or unknown, e.g. an empty text or one 10 MB word).
    pub content_discarded: bool,
}

impl Tokenized {
    /// Number of tokens fed to the model.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for a zero-token encoding (never produced with special tokens).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The token ids fed to the model (special tokens included).
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
}

/// What the model produced for one query: a pooled embedding (encoder) or logits.
pub type RowResult = std::result::Result<Vec<f32>, String>;

struct Engine {
    pid: u32,
    /// `sessions.len()` workers, shared with every other user of that thread count.
    pool: Arc<rayon::ThreadPool>,
    sessions: Vec<Mutex<Session>>,
}

/// A loaded model + tokenizer with its session pool.
pub struct Encoder {
    spec: ModelSpec,
    model_path: PathBuf,
    model_bytes: Arc<Vec<u8>>,
    tokenizer_bytes: Arc<Vec<u8>>,
    tokenizer: Tokenizer,
    threads: ThreadConfig,
    batch: BatchConfig,
    uses_token_type_ids: bool,
    output_width: usize,
    /// Ids of the tokenizer's unknown token(s) (`[UNK]`, `<unk>`).
    unk_ids: Vec<u32>,
    engine: RwLock<Option<Arc<Engine>>>,
}

impl Encoder {
    /// Load `spec.file` and `spec.tokenizer` from `dir`, build the sessions and probe the model
    /// once so that a wrong output, width or vocabulary fails here, naming the file.
    ///
    /// Both names must resolve inside `dir` (see [`files::resolve_inside`]) and both files are
    /// read with a size cap ([`files::MODEL_CAP`], [`files::TOKENIZER_CAP`]).
    pub fn load(dir: &Path, spec: &ModelSpec, threads: ThreadConfig, batch: BatchConfig) -> Result<Self> {
        let model_path = files::resolve_inside(dir, "model.file", &spec.file, "model file")?;
        let tokenizer_path =
            files::resolve_inside(dir, "model.tokenizer", &spec.tokenizer, "tokenizer file")?;
        let model_bytes =
            files::read_bounded(&model_path, "model file (field `model.file`)", files::MODEL_CAP)?;
        let tokenizer_bytes = files::read_bounded(
            &tokenizer_path,
            "tokenizer file (field `model.tokenizer`)",
            files::TOKENIZER_CAP,
        )?;
        Self::from_bytes(
            spec.clone(),
            model_path,
            model_bytes,
            tokenizer_path,
            tokenizer_bytes,
            threads,
            batch,
        )
    }

    fn from_bytes(
        mut spec: ModelSpec,
        model_path: PathBuf,
        model_bytes: Vec<u8>,
        tokenizer_path: PathBuf,
        tokenizer_bytes: Vec<u8>,
        threads: ThreadConfig,
        batch: BatchConfig,
    ) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| TierscopeError::model_load(&tokenizer_path, format!("invalid tokenizer: {e}")))?;
        // Padding happens per batch (to the batch's longest), never to a fixed length.
        tokenizer.with_padding(None);
        // `head` lets the tokenizer truncate (as always); `tail` and `head+tail` tokenize the whole
        // (byte-bounded) text and choose the tokens in [`Self::tokenize`].
        let truncation = (spec.truncation == Truncation::Head)
            .then(|| TruncationParams { max_length: spec.max_length, ..Default::default() });
        tokenizer.with_truncation(truncation).map_err(|e| {
            TierscopeError::model_load(&tokenizer_path, format!("cannot set truncation: {e}"))
        })?;
        let vocab = tokenizer.get_vocab_size(true);
        let facts = onnx_graph::inspect(&model_bytes);
        if let Some(table) = facts.vocab_size {
            // Smaller is refused too: ids the model knows and the tokenizer never emits mean the
            // two were not trained together, and such a router routes confidently on noise.
            if vocab != table {
                return Err(TierscopeError::model_load(
                    &tokenizer_path,
                    format!(
                        "tokenizer.json has a vocabulary of {vocab} ids but the model's embedding table \
                         has {table} rows; use the tokenizer the model was trained with"
                    ),
                ));
            }
        }
        if let Some(positions) = facts.max_positions {
            if spec.max_length > positions {
                return Err(TierscopeError::model_load(
                    &model_path,
                    format!(
                        "field `model.max_length`: expected at most the model's {positions} positions, got {}",
                        spec.max_length
                    ),
                ));
            }
        }
        if let Some(model_vocab) = spec.vocab_size {
            if vocab > model_vocab {
                return Err(TierscopeError::model_load(
                    &tokenizer_path,
                    format!(
                        "the tokenizer's vocabulary ({vocab} ids) does not fit the model's \
                         (model.vocab_size = {model_vocab}); use the tokenizer the model was trained with"
                    ),
                ));
            }
        }

        let unk_ids: Vec<u32> =
            ["[UNK]", "<unk>", "<UNK>"].iter().filter_map(|t| tokenizer.token_to_id(t)).collect();
        let probe_session = build_session(&model_bytes, 1, &model_path)?;
        let input_names: Vec<String> = probe_session.inputs().iter().map(|i| i.name().to_string()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !input_names.iter().any(|n| n == required) {
                return Err(TierscopeError::model_load(
                    &model_path,
                    format!("the model has no `{required}` input (inputs: {input_names:?})"),
                ));
            }
        }
        if !probe_session.outputs().iter().any(|o| o.name() == spec.output) {
            let outputs: Vec<&str> = probe_session.outputs().iter().map(|o| o.name()).collect();
            return Err(TierscopeError::model_load(
                &model_path,
                format!(
                    "the model has no output `{}` (field model.output); outputs: {outputs:?}",
                    spec.output
                ),
            ));
        }
        let uses_token_type_ids = input_names.iter().any(|n| n == "token_type_ids");
        drop(probe_session);

        let mut encoder = Self {
            spec: spec.clone(),
            model_path,
            model_bytes: Arc::new(model_bytes),
            tokenizer_bytes: Arc::new(tokenizer_bytes),
            tokenizer,
            threads,
            batch,
            uses_token_type_ids,
            output_width: 0,
            unk_ids,
            engine: RwLock::new(None),
        };
        // Probe with the highest token id: a tokenizer whose vocabulary is larger than the model's
        // embedding table fails here rather than on some later query.
        let probe = Tokenized {
            ids: vec![(vocab.max(1) - 1) as i64; 2],
            type_ids: vec![0; 2],
            truncated: false,
            content_discarded: false,
        };
        // Only a failed run or a wrong shape fails the load: non-finite values are a per-query
        // failure (routed to the fallback tier), not a broken model.
        let (_, width) = encoder.run_batch(&[&probe]).map_err(|reason| {
            TierscopeError::model_load(
                &encoder.model_path,
                format!(
                    "probe inference failed (does tokenizer.json match the model's vocabulary?): {reason}"
                ),
            )
        })?;
        match (spec.kind, spec.embedding_dim) {
            (ModelKind::Encoder, Some(dim)) if dim != width => {
                return Err(TierscopeError::model_load(
                    &encoder.model_path,
                    format!("the model's embeddings have width {width}, but model.embedding_dim is {dim}"),
                ));
            }
            (ModelKind::Encoder, None) => spec.embedding_dim = Some(width),
            _ => {}
        }
        encoder.spec = spec;
        encoder.output_width = width;
        Ok(encoder)
    }

    /// The model specification (with `embedding_dim` filled in from the probe).
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Width of each row's output (embedding width or number of logits).
    pub fn output_width(&self) -> usize {
        self.output_width
    }

    /// The thread configuration in use.
    pub fn threads(&self) -> ThreadConfig {
        self.threads
    }

    /// The ONNX bytes (kept so sessions can be rebuilt after a fork and the router saved).
    pub fn model_bytes(&self) -> &[u8] {
        &self.model_bytes
    }

    /// The original tokenizer.json bytes.
    pub fn tokenizer_bytes(&self) -> &[u8] {
        &self.tokenizer_bytes
    }

    /// The tokenizer vocabulary size (with added tokens).
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The engine for this process, building it on first use and again after a fork.
    fn engine(&self) -> Result<Arc<Engine>> {
        let pid = std::process::id();
        if let Ok(guard) = self.engine.read() {
            if let Some(engine) = guard.as_ref().filter(|e| e.pid == pid) {
                return Ok(engine.clone());
            }
        }
        let mut guard = self.engine.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(engine) = guard.as_ref().filter(|e| e.pid == pid) {
            return Ok(engine.clone());
        }
        if let Some(stale) = guard.take() {
            // Inherited across fork(): its worker threads do not exist in this process, so
            // dropping it could block forever joining them. Leak it instead.
            std::mem::forget(stale);
        }
        let pool = crate::pool::pool(self.threads.sessions)
            .map_err(|e| TierscopeError::Inference(format!("cannot start the worker pool: {e}")))?;
        let sessions = (0..self.threads.sessions)
            .map(|_| {
                build_session(&self.model_bytes, self.threads.intra_threads, &self.model_path).map(Mutex::new)
            })
            .collect::<Result<Vec<_>>>()?;
        let engine = Arc::new(Engine { pid, pool, sessions });
        *guard = Some(engine.clone());
        Ok(engine)
    }

    /// Bytes of a text tokenized: `min(max_text_bytes, max_length × BYTES_PER_TOKEN)`. The
    /// tokenizer works on the whole text before truncating to `max_length`, so without this
    /// one 10 MB query costs seconds and a gigabyte of memory for 128 tokens.
    pub fn cut_bound(&self) -> usize {
        self.batch.max_text_bytes.min(self.spec.max_length.saturating_mul(BYTES_PER_TOKEN))
    }

    /// Tokenize one text: cut at [`Self::cut_bound`] bytes (on a character boundary), then
    /// truncated to `max_length` tokens by the spec's [`Truncation`] strategy (`tail` cuts the
    /// bytes from the start instead, `head+tail` keeps both ends' bytes).
    pub fn tokenize(&self, text: &str) -> std::result::Result<Tokenized, String> {
        let bound = self.cut_bound();
        let (kept, cut) = match self.spec.truncation {
            Truncation::Head => {
                let kept = cut_at_char_boundary(text, bound);
                (std::borrow::Cow::Borrowed(kept), kept.len() < text.len())
            }
            _ if text.len() <= bound => (std::borrow::Cow::Borrowed(text), false),
            Truncation::Tail => (std::borrow::Cow::Borrowed(suffix_at_char_boundary(text, bound)), true),
            Truncation::HeadTail => {
                let head = cut_at_char_boundary(text, bound / 2);
                let tail = suffix_at_char_boundary(text, bound - head.len());
                (std::borrow::Cow::Owned(format!("{head} {tail}")), true)
            }
        };
        let encoding = match self.spec.truncation {
            Truncation::Head => self.tokenizer.encode(kept.as_ref(), true),
            _ => self.tokenizer.encode(kept.as_ref(), false),
        }
        .map_err(|e| format!("tokenization failed: {e}"))?;
        let (encoding, overflow) = match self.spec.truncation {
            Truncation::Head => {
                let overflow = !encoding.get_overflowing().is_empty();
                (encoding, overflow)
            }
            _ => self.truncate_ends(encoding)?,
        };
        let real_tokens = encoding
            .get_ids()
            .iter()
            .zip(encoding.get_special_tokens_mask())
            .filter(|(id, &special)| special == 0 && !self.unk_ids.contains(id))
            .count();
        Ok(Tokenized {
            ids: encoding.get_ids().iter().map(|&v| v as i64).collect(),
            type_ids: encoding.get_type_ids().iter().map(|&v| v as i64).collect(),
            truncated: cut || overflow,
            content_discarded: cut || real_tokens == 0,
        })
    }

    /// `tail` / `head+tail`: keep the content tokens the strategy keeps (the special tokens
    /// fill the rest of `max_length`), then add the special tokens; true when some were dropped.
    fn truncate_ends(&self, mut content: Encoding) -> std::result::Result<(Encoding, bool), String> {
        let specials = self.tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        let budget = self.spec.max_length.saturating_sub(specials).max(1);
        let overflow = content.len() > budget;
        if overflow {
            content = match self.spec.truncation {
                Truncation::HeadTail => {
                    let k = self.spec.head_tokens_kept(budget);
                    let mut head = content.clone();
                    head.truncate(k, 0, TruncationDirection::Right);
                    head.take_overflowing();
                    content.truncate(budget - k, 0, TruncationDirection::Left);
                    content.take_overflowing();
                    Encoding::merge([head, content], false)
                }
                _ => {
                    content.truncate(budget, 0, TruncationDirection::Left);
                    content.take_overflowing();
                    content
                }
            };
        }
        let encoding = self
            .tokenizer
            .post_process(content, None, true)
            .map_err(|e| format!("tokenization failed: {e}"))?;
        Ok((encoding, overflow))
    }

    /// Tokenize and run `texts`, returning per-text results in input order together with the
    /// tokenization (for token counts and truncation flags). A failing batch is retried one text
    /// at a time, so one bad text cannot take its neighbours down.
    pub fn infer(&self, texts: &[String]) -> Result<Vec<(RowResult, Option<Tokenized>)>> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let engine = self.engine()?;
        if texts.len() == 1 {
            // A single query runs on the caller's thread: no pool hand-off on the latency path.
            let tokenized = self.tokenize(&texts[0]);
            return Ok(vec![match tokenized {
                Ok(t) => {
                    let row =
                        self.run_on(&engine, None, &[&t]).map(|mut rows| rows.remove(0)).unwrap_or_else(Err);
                    (row, Some(t))
                }
                Err(reason) => (Err(reason), None),
            }]);
        }
        let tokenized: Vec<std::result::Result<Tokenized, String>> =
            engine.pool.install(|| texts.par_iter().map(|t| self.tokenize(t)).collect());
        let ok_indices: Vec<usize> = (0..texts.len()).filter(|&i| tokenized[i].is_ok()).collect();
        let lengths: Vec<usize> =
            ok_indices.iter().map(|&i| tokenized[i].as_ref().map(|t| t.len()).unwrap_or(0)).collect();
        let plan = plan_batches(&lengths, self.batch.token_budget, self.batch.max_batch);
        let batch_results: Vec<(Vec<usize>, Vec<RowResult>)> = engine.pool.install(|| {
            plan.par_iter()
                .map(|batch| {
                    let members: Vec<usize> = batch.iter().map(|&j| ok_indices[j]).collect();
                    let refs: Vec<&Tokenized> =
                        members.iter().map(|&i| tokenized[i].as_ref().expect("filtered to Ok")).collect();
                    let worker = rayon::current_thread_index();
                    let rows = match self.run_on(&engine, worker, &refs) {
                        Ok(rows) => rows,
                        Err(_) if refs.len() > 1 => refs
                            .iter()
                            .map(|t| {
                                self.run_on(&engine, worker, &[t])
                                    .map(|mut r| r.remove(0))
                                    .unwrap_or_else(Err)
                            })
                            .collect(),
                        Err(reason) => vec![Err(reason)],
                    };
                    (members, rows)
                })
                .collect()
        });
        let mut rows: Vec<Option<RowResult>> = vec![None; texts.len()];
        for (members, results) in batch_results {
            for (i, r) in members.into_iter().zip(results) {
                rows[i] = Some(r);
            }
        }
        Ok(tokenized
            .into_iter()
            .zip(rows)
            .map(|(tok, row)| match tok {
                Ok(t) => (row.unwrap_or_else(|| Err("internal: row not computed".into())), Some(t)),
                Err(reason) => (Err(reason), None),
            })
            .collect())
    }

    /// Run one padded batch on a session: the worker's own, or (from a caller thread) the first free.
    fn run_on(
        &self,
        engine: &Engine,
        worker: Option<usize>,
        batch: &[&Tokenized],
    ) -> std::result::Result<Vec<RowResult>, String> {
        self.run_on_with_width(engine, worker, batch).map(|(rows, _)| rows)
    }

    /// As [`Self::run_on`], also returning the width of each output row.
    fn run_on_with_width(
        &self,
        engine: &Engine,
        worker: Option<usize>,
        batch: &[&Tokenized],
    ) -> std::result::Result<(Vec<RowResult>, usize), String> {
        let n = engine.sessions.len();
        let lock = |i: usize| engine.sessions[i].lock().unwrap_or_else(|p| p.into_inner());
        let mut session = match worker {
            Some(w) => lock(w % n),
            None => (0..n).find_map(|i| engine.sessions[i].try_lock().ok()).unwrap_or_else(|| lock(0)),
        };
        self.run_session(&mut session, batch)
    }

    /// Run one batch from the caller's thread; returns the rows and the output width.
    fn run_batch(&self, batch: &[&Tokenized]) -> std::result::Result<(Vec<RowResult>, usize), String> {
        let engine = self.engine().map_err(|e| e.to_string())?;
        self.run_on_with_width(&engine, None, batch)
    }

    fn run_session(
        &self,
        session: &mut Session,
        batch: &[&Tokenized],
    ) -> std::result::Result<(Vec<RowResult>, usize), String> {
        let b = batch.len();
        let s = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; b * s];
        let mut mask = vec![0i64; b * s];
        let mut types = vec![0i64; b * s];
        for (r, t) in batch.iter().enumerate() {
            ids[r * s..r * s + t.len()].copy_from_slice(&t.ids);
            types[r * s..r * s + t.len()].copy_from_slice(&t.type_ids);
            mask[r * s..r * s + t.len()].iter_mut().for_each(|m| *m = 1);
        }
        let shape = [b, s];
        let tensor = |data: Vec<i64>| {
            Tensor::from_array((shape, data)).map_err(|e| format!("cannot build input: {e}"))
        };
        let mut inputs = ort::inputs!["input_ids" => tensor(ids)?, "attention_mask" => tensor(mask.clone())?];
        if self.uses_token_type_ids {
            inputs.push(("token_type_ids".into(), tensor(types)?.into()));
        }
        let outputs = session.run(inputs).map_err(|e| format!("ONNX Runtime error: {e}"))?;
        let value =
            outputs.get(&self.spec.output).ok_or_else(|| format!("output `{}` missing", self.spec.output))?;
        let (out_shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("output `{}` is not float32: {e}", self.spec.output))?;
        let dims: Vec<i64> = out_shape.to_vec();
        match self.spec.kind {
            ModelKind::Encoder => {
                if dims.len() != 3 || dims[0] as usize != b || dims[1] as usize != s {
                    return Err(format!("expected last_hidden_state of shape [{b}, {s}, dim], got {dims:?}"));
                }
                let dim = dims[2] as usize;
                let rows = (0..b)
                    .map(|r| {
                        pool_row(
                            &data[r * s * dim..(r + 1) * s * dim],
                            &mask[r * s..(r + 1) * s],
                            dim,
                            self.spec.pooling,
                            self.spec.normalize,
                        )
                    })
                    .collect();
                Ok((rows, dim))
            }
            ModelKind::SequenceClassification => {
                if dims.len() != 2 || dims[0] as usize != b {
                    return Err(format!("expected logits of shape [{b}, k], got {dims:?}"));
                }
                let k = dims[1] as usize;
                let rows = (0..b)
                    .map(|r| {
                        let row = data[r * k..(r + 1) * k].to_vec();
                        if row.iter().all(|v| v.is_finite()) {
                            Ok(row)
                        } else {
                            Err("the model produced non-finite logits".to_string())
                        }
                    })
                    .collect();
                Ok((rows, k))
            }
        }
    }
}

/// Pool one row's token states (`seq × dim`) into an embedding; non-finite output is an error.
fn pool_row(states: &[f32], mask: &[i64], dim: usize, pooling: Pooling, normalize: bool) -> RowResult {
    let mut out = vec![0.0f32; dim];
    match pooling {
        Pooling::Cls => out.copy_from_slice(&states[..dim]),
        Pooling::Mean => {
            let mut count = 0.0f32;
            for (t, &m) in mask.iter().enumerate() {
                if m != 0 {
                    count += 1.0;
                    for (o, &v) in out.iter_mut().zip(&states[t * dim..(t + 1) * dim]) {
                        *o += v;
                    }
                }
            }
            let inv = 1.0 / count.max(1.0);
            out.iter_mut().for_each(|v| *v *= inv);
        }
    }
    if normalize {
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v /= norm);
    }
    if out.iter().all(|v| v.is_finite()) {
        Ok(out)
    } else {
        Err("the model produced non-finite embeddings".into())
    }
}

fn build_session(bytes: &[u8], intra_threads: usize, path: &Path) -> Result<Session> {
    let environment = runtime::environment()?;
    let fail = |e: String| TierscopeError::model_load(path, e);
    Session::builder(environment)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(intra_threads)
        .map_err(|e| fail(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(|e| fail(format!("not a valid ONNX model: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_limits_must_be_positive() {
        let batch = BatchConfig::new(256, 8).unwrap();
        assert_eq!((batch.token_budget, batch.max_batch), (256, 8));
        for (budget, max) in [(0, 8), (256, 0)] {
            let err = BatchConfig::new(budget, max).unwrap_err();
            assert_eq!(err.to_string(), "invalid `token_budget/max_batch`: positive integers");
        }
    }

    #[test]
    fn mean_pooling_ignores_padding_and_normalises() {
        let states = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let row = pool_row(&states, &[1, 1, 0], 2, Pooling::Mean, false).unwrap();
        assert_eq!(row, vec![2.0, 3.0]);
        let unit = pool_row(&states, &[1, 1, 0], 2, Pooling::Mean, true).unwrap();
        assert!((unit.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(pool_row(&states, &[1, 0, 0], 2, Pooling::Cls, false).unwrap(), vec![1.0, 2.0]);
        assert!(pool_row(&[f32::NAN, 0.0], &[1], 2, Pooling::Mean, false).is_err());
    }

    #[test]
    fn the_suffix_cut_keeps_whole_characters() {
        assert_eq!(suffix_at_char_boundary("héllo", 4), "llo");
        assert_eq!(suffix_at_char_boundary("hé", 1), "");
        assert_eq!(suffix_at_char_boundary("hé", 2), "é");
        assert_eq!(suffix_at_char_boundary("hé", 3), "hé");
        assert_eq!(suffix_at_char_boundary("abc", 10), "abc");
    }

    #[test]
    fn the_cut_keeps_whole_characters() {
        assert_eq!(cut_at_char_boundary("héllo", 2), "h");
        assert_eq!(cut_at_char_boundary("héllo", 3), "hé");
        assert_eq!(cut_at_char_boundary("abc", 10), "abc");
        assert_eq!(cut_at_char_boundary("€", 2), "");
        let batch = BatchConfig::default().with_max_text_bytes(7).unwrap();
        assert_eq!(batch.max_text_bytes, 7);
        assert!(BatchConfig::default()
            .with_max_text_bytes(0)
            .unwrap_err()
            .to_string()
            .contains("max_text_bytes"));
    }

    proptest::proptest! {
        #[test]
        fn the_cut_is_a_bounded_char_boundary_prefix(text in "\\PC{0,64}", bound in 0usize..80) {
            let kept = cut_at_char_boundary(&text, bound);
            proptest::prop_assert!(kept.len() <= bound || kept.len() == text.len() && text.len() <= bound);
            proptest::prop_assert!(text.starts_with(kept));
            proptest::prop_assert!(text.is_char_boundary(kept.len()));
            // Maximal: one more character would pass the bound.
            if kept.len() < text.len() {
                let next = text[kept.len()..].chars().next().unwrap().len_utf8();
                proptest::prop_assert!(kept.len() + next > bound);
            }
        }
    }

    #[test]
    fn thread_config_never_exceeds_the_cores() {
        let cores = runtime::available_cores();
        let default = ThreadConfig::resolve(None, None).unwrap();
        assert!(default.sessions * default.intra_threads <= cores);
        assert!(ThreadConfig::resolve(Some(cores + 1), Some(1)).is_err());
        assert!(ThreadConfig::resolve(Some(1), Some(0)).is_err());
        let err = ThreadConfig::resolve(Some(cores), Some(2)).unwrap_err().to_string();
        assert!(err.contains("sessions × intra_threads"), "{err}");
    }
}
