//! The novelty (tail) score: cosine distance from a query's embedding to its `k` nearest training
//! embeddings, as a training-set percentile in [0, 1].
//!
//! The index stores every training embedding (L2-normalised) as int8 codes with one f32 scale per
//! row, `dim + 4` bytes a row (≈ 3.9 MB for BANKING77's 10k × 384). A query is quantised the same
//! way and scanned exactly: integer dot products are exact, so a score never depends on the batch,
//! the thread or the CPU's SIMD width. The percentile is calibrated leave-one-out: each training
//! row's distance to its `k` nearest *other* rows (a point is its own nearest neighbour, so scoring
//! the rows against themselves would put every query above the whole training set).
//!
//! On BANKING77 leave-intents-out (`evals/tail`), 3-NN mean cosine distance separates unseen
//! intents better than 10-NN, per-intent centroids or the old two-centroid Mahalanobis score.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

use crate::error::{Result, TierscopeError};
use crate::router::train;

/// `tail.method` of a router whose tail score is this index.
pub const METHOD: &str = "knn_cosine_int8";
/// Neighbours averaged by default.
pub const DEFAULT_NEIGHBOURS: usize = 3;
/// Most rows stored by default (≈ 4 MB at 384 dimensions); larger training sets are subsampled.
pub const DEFAULT_MAX_ROWS: usize = 10_240;
/// Quantiles of the leave-one-out distances kept for the percentile.
pub const QUANTILES: usize = 1001;
/// First bytes of the index file.
const MAGIC: &[u8; 8] = b"TSNOVL01";
/// Header: magic, then `dim`, `rows` as little-endian u32.
const HEADER: usize = 16;

/// A fitted kNN novelty index.
#[derive(Clone, Debug, PartialEq)]
pub struct NoveltyIndex {
    dim: usize,
    neighbours: usize,
    /// Row-major `rows × dim` int8 codes of the normalised embeddings.
    codes: Vec<i8>,
    /// One dequantisation scale per row: `embedding ≈ scale · code`.
    scales: Vec<f32>,
    /// Evenly spaced quantiles of the leave-one-out distances.
    quantiles: Vec<f64>,
}

/// Quantise `v` after L2 normalisation: codes in [-127, 127] and the scale. A zero or non-finite
/// vector has no direction and gets scale 0 (it matches nothing: similarity 0).
fn quantise(v: &[f32], codes: &mut [i8]) -> f32 {
    let norm = v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
    let max = v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs())) / norm;
    if !(norm.is_finite() && norm > 0.0 && max.is_finite() && max > 0.0) {
        codes.iter_mut().for_each(|c| *c = 0);
        return 0.0;
    }
    let step = max / 127.0;
    for (c, &x) in codes.iter_mut().zip(v) {
        *c = ((x as f64 / norm) / step).round().clamp(-127.0, 127.0) as i8;
    }
    step as f32
}

/// Exact integer dot product; the portable loop LLVM vectorises to the baseline SIMD width.
#[inline(always)]
fn dot_i8_generic(a: &[i8], b: &[i8]) -> i32 {
    // Chunks of 32 keep i16 products in independent i32 lanes (no overflow: 32 · 127² < 2³¹).
    let mut total = 0i32;
    let mut ca = a.chunks_exact(32);
    let mut cb = b.chunks_exact(32);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let mut acc = [0i32; 32];
        for i in 0..32 {
            acc[i] = x[i] as i32 * y[i] as i32;
        }
        total += acc.iter().sum::<i32>();
    }
    total + ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x as i32 * y as i32).sum::<i32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_generic(a, b)
}

/// `a · b` over int8 codes: AVX2 where the CPU has it (checked at run time), else the baseline
/// loop. Integer arithmetic, so both give the same value.
fn dot_i8(a: &[i8], b: &[i8], avx2: bool) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when `is_x86_feature_detected!("avx2")` said so.
        return unsafe { dot_i8_avx2(a, b) };
    }
    let _ = avx2;
    dot_i8_generic(a, b)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Insert `value` into `best` (descending, fixed length) if it beats the smallest kept value.
#[inline]
fn keep_top(best: &mut [f64], value: f64) {
    let last = best.len() - 1;
    if value <= best[last] {
        return;
    }
    let mut i = last;
    while i > 0 && best[i - 1] < value {
        best[i] = best[i - 1];
        i -= 1;
    }
    best[i] = value;
}

impl NoveltyIndex {
    /// Build the index from `x` (`n × dim` row-major embeddings): at most `max_rows` rows (a
    /// seeded subsample, stratified by `groups` when given, e.g. intents), then calibrate the
    /// percentile on leave-one-out distances. Needs at least `neighbours + 1` rows.
    pub fn fit(
        x: &[f32],
        dim: usize,
        neighbours: usize,
        max_rows: usize,
        groups: Option<&[usize]>,
        seed: u64,
    ) -> Result<Self> {
        if dim == 0 || x.len() % dim != 0 {
            return Err(TierscopeError::invalid("embeddings", format!("rows of {dim} values")));
        }
        let n = x.len() / dim;
        if neighbours == 0 {
            return Err(TierscopeError::invalid("tail_neighbours", "at least 1, got 0"));
        }
        if max_rows <= neighbours {
            return Err(TierscopeError::invalid(
                "tail_max_rows",
                format!("more than tail_neighbours ({neighbours}), got {max_rows}"),
            ));
        }
        if n <= neighbours {
            return Err(TierscopeError::invalid(
                "texts",
                format!("more than tail_neighbours ({neighbours}) texts for the tail index, got {n}"),
            ));
        }
        if let Some(g) = groups {
            if g.len() != n {
                return Err(TierscopeError::invalid(
                    "intents",
                    format!("one intent per text: got {n} texts and {} intents", g.len()),
                ));
            }
        }
        let rows = subsample(n, max_rows, groups, seed);
        let mut codes = vec![0i8; rows.len() * dim];
        let mut scales = vec![0f32; rows.len()];
        for (r, &i) in rows.iter().enumerate() {
            scales[r] = quantise(&x[i * dim..(i + 1) * dim], &mut codes[r * dim..(r + 1) * dim]);
        }
        let mut index = Self { dim, neighbours, codes, scales, quantiles: vec![] };
        let distances: Vec<f64> = (0..rows.len())
            .into_par_iter()
            .map(|r| {
                let code = &index.codes[r * dim..(r + 1) * dim];
                index.distance_codes(code, index.scales[r], Some(r))
            })
            .collect();
        index.quantiles = train::quantiles(&distances, QUANTILES);
        Ok(index)
    }

    /// Rebuild from stored parts (`router.json`'s quantiles, the index file's codes and scales).
    pub fn from_parts(
        dim: usize,
        neighbours: usize,
        codes: Vec<i8>,
        scales: Vec<f32>,
        quantiles: Vec<f64>,
    ) -> std::result::Result<Self, String> {
        if dim == 0 || codes.len() != scales.len() * dim {
            return Err(format!("the index holds {} codes, not {} rows of {dim}", codes.len(), scales.len()));
        }
        if neighbours == 0 || scales.len() <= neighbours {
            return Err(format!(
                "`tail.neighbours` must be in 1..{} (the index rows), got {neighbours}",
                scales.len()
            ));
        }
        if scales.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err("the index holds a negative or non-finite scale".into());
        }
        if quantiles.len() < 2
            || quantiles.iter().any(|q| !q.is_finite())
            || quantiles.windows(2).any(|w| w[0] > w[1])
        {
            return Err("`tail.distance_quantiles`: expected at least 2 finite non-decreasing values".into());
        }
        Ok(Self { dim, neighbours, codes, scales, quantiles })
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Rows stored.
    pub fn rows(&self) -> usize {
        self.scales.len()
    }
    /// Neighbours averaged.
    pub fn neighbours(&self) -> usize {
        self.neighbours
    }
    /// Quantiles of the leave-one-out training distances.
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }
    /// The stored training embeddings, dequantised (`rows × dim`, unit norm up to int8 error):
    /// what the regions ([`crate::router::regions`]) are fitted on.
    pub fn dequantised(&self) -> Vec<f32> {
        self.codes
            .chunks_exact(self.dim)
            .zip(&self.scales)
            .flat_map(|(row, &s)| row.iter().map(move |&c| c as f32 * s))
            .collect()
    }

    /// Mean cosine distance to the `k` nearest rows (skipping row `skip`), from a quantised query.
    fn distance_codes(&self, code: &[i8], scale: f32, skip: Option<usize>) -> f64 {
        let avx2 = has_avx2();
        let mut best = vec![f64::NEG_INFINITY; self.neighbours];
        let query_scale = scale as f64;
        for (r, row) in self.codes.chunks_exact(self.dim).enumerate() {
            if Some(r) == skip {
                continue;
            }
            let sim = dot_i8(row, code, avx2) as f64 * self.scales[r] as f64 * query_scale;
            keep_top(&mut best, sim);
        }
        1.0 - best.iter().sum::<f64>() / self.neighbours as f64
    }

    /// Mean cosine distance from `embedding` to its `k` nearest training rows, in [0, 2]
    /// (NaN for a non-finite embedding).
    pub fn distance(&self, embedding: &[f32]) -> f64 {
        if embedding.len() != self.dim || embedding.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        let mut code = vec![0i8; self.dim];
        let scale = quantise(embedding, &mut code);
        self.distance_codes(&code, scale, None)
    }

    /// The distance as a leave-one-out training percentile in [0, 1] (1 = farther than every
    /// training text from its neighbours).
    pub fn score(&self, embedding: &[f32]) -> f64 {
        train::percentile_of(&self.quantiles, self.distance(embedding))
    }

    /// The index file: magic, `dim` and `rows` (u32 LE), the scales (f32 LE), then the codes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.scales.len() * 4 + self.codes.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.scales.len() as u32).to_le_bytes());
        for s in &self.scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend(self.codes.iter().map(|&c| c as u8));
        out
    }

    /// Parse an index file written by [`to_bytes`](Self::to_bytes); `dim` and `rows` must match
    /// `router.json`.
    pub fn parse(bytes: &[u8], dim: usize, rows: usize) -> std::result::Result<(Vec<i8>, Vec<f32>), String> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err("not a tierscope novelty index (bad magic)".into());
        }
        let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let (file_dim, file_rows) = (word(8) as usize, word(12) as usize);
        if file_dim != dim || file_rows != rows {
            return Err(format!(
                "the index holds {file_rows} rows of {file_dim}, but router.json says {rows} rows of {dim}"
            ));
        }
        let expected = HEADER + rows * 4 + rows * dim;
        if bytes.len() != expected {
            return Err(format!("expected {expected} bytes, got {}", bytes.len()));
        }
        let scales = bytes[HEADER..HEADER + rows * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let codes = bytes[HEADER + rows * 4..].iter().map(|&b| b as i8).collect();
        Ok((codes, scales))
    }
}

/// Row indices (ascending) of a seeded subsample of at most `max_rows` of `n`; with `groups`,
/// every group keeps a row (while `max_rows` allows) and then its share (rounded down), the rest
/// drawn at random.
fn subsample(n: usize, max_rows: usize, groups: Option<&[usize]>, seed: u64) -> Vec<usize> {
    if n <= max_rows {
        return (0..n).collect();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = vec![false; n];
    let mut picked = 0usize;
    if let Some(g) = groups {
        let mut by_group: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, &k) in g.iter().enumerate() {
            by_group.entry(k).or_default().push(i);
        }
        for members in by_group.values_mut() {
            members.shuffle(&mut rng);
        }
        // One row per group first (so none drops out), then each group's proportional share.
        for round in 0..2 {
            for members in by_group.values() {
                let share = if round == 0 { 1 } else { (members.len() * max_rows / n).max(1) };
                for &i in members.iter().take(share) {
                    if picked < max_rows && !chosen[i] {
                        chosen[i] = true;
                        picked += 1;
                    }
                }
            }
        }
    }
    let mut rest: Vec<usize> = (0..n).filter(|&i| !chosen[i]).collect();
    rest.shuffle(&mut rng);
    for &i in rest.iter().take(max_rows - picked) {
        chosen[i] = true;
    }
    (0..n).filter(|&i| chosen[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::Rng;

    /// Points near 4 directions in 16 dimensions.
    fn clusters(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let d = 16;
        let mut x = Vec::with_capacity(n * d);
        for i in 0..n {
            for j in 0..d {
                let centre = if j == i % 4 { 3.0 } else { 0.0 };
                x.push(centre + rng.random_range(-0.5f32..0.5));
            }
        }
        x
    }

    #[test]
    fn far_queries_score_high_and_training_points_spread_over_percentiles() {
        let x = clusters(800, 1);
        let index = NoveltyIndex::fit(&x, 16, 3, 10_000, None, 0).unwrap();
        let mut near = vec![0.0f32; 16];
        near[1] = 3.0;
        let mut far = vec![0.0f32; 16];
        far[9] = 1.0;
        far[12] = -1.0;
        assert!(index.score(&near) < 0.2, "{}", index.score(&near));
        assert_eq!(index.score(&far), 1.0);
        // Fresh draws from the training distribution are roughly uniform over the percentiles
        // (leave-one-out calibration); scoring the training rows themselves would give ~0.
        let fresh = clusters(800, 2);
        let scores: Vec<f64> = fresh.chunks(16).map(|e| index.score(e)).collect();
        let above_half = scores.iter().filter(|&&s| s > 0.5).count();
        assert!((320..=480).contains(&above_half), "{above_half}");
        let above_99 = scores.iter().filter(|&&s| s >= 0.99).count();
        assert!(above_99 <= 30, "{above_99}");
    }

    #[test]
    fn integer_dot_products_agree_on_every_path() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for len in [0usize, 1, 31, 32, 33, 384, 1000] {
            let a: Vec<i8> = (0..len).map(|_| rng.random_range(-127i8..=127)).collect();
            let b: Vec<i8> = (0..len).map(|_| rng.random_range(-127i8..=127)).collect();
            let naive: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
            assert_eq!(dot_i8(&a, &b, false), naive);
            assert_eq!(dot_i8(&a, &b, has_avx2()), naive);
        }
    }

    #[test]
    fn bytes_round_trip_and_mismatches_are_refused() {
        let x = clusters(100, 4);
        let index = NoveltyIndex::fit(&x, 16, 3, 64, None, 0).unwrap();
        assert_eq!(index.rows(), 64);
        let bytes = index.to_bytes();
        assert_eq!(bytes.len(), 16 + 64 * 4 + 64 * 16);
        let (codes, scales) = NoveltyIndex::parse(&bytes, 16, 64).unwrap();
        let back = NoveltyIndex::from_parts(16, 3, codes, scales, index.quantiles().to_vec()).unwrap();
        assert_eq!(back, index);
        assert!(NoveltyIndex::parse(&bytes, 16, 63).unwrap_err().contains("router.json says"));
        assert!(NoveltyIndex::parse(&bytes[..bytes.len() - 1], 16, 64).unwrap_err().contains("bytes"));
        assert!(NoveltyIndex::parse(b"not an index at all", 16, 64).unwrap_err().contains("magic"));
    }

    #[test]
    fn bad_options_are_named() {
        let x = clusters(10, 5);
        let err = |r: Result<NoveltyIndex>| r.unwrap_err().to_string();
        assert!(err(NoveltyIndex::fit(&x, 16, 0, 100, None, 0)).contains("tail_neighbours"));
        assert!(err(NoveltyIndex::fit(&x, 16, 3, 3, None, 0)).contains("tail_max_rows"));
        assert!(err(NoveltyIndex::fit(&x, 16, 10, 100, None, 0)).contains("texts"));
        assert!(err(NoveltyIndex::fit(&x, 16, 3, 100, Some(&[0, 1]), 0)).contains("intents"));
    }

    #[test]
    fn stratified_subsample_keeps_every_group() {
        let groups: Vec<usize> = (0..1000).map(|i| if i < 990 { 0 } else { 1 + i % 2 }).collect();
        let rows = subsample(1000, 100, Some(&groups), 9);
        assert_eq!(rows.len(), 100);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        for g in 0..3 {
            assert!(rows.iter().any(|&i| groups[i] == g), "group {g} missing");
        }
        assert_eq!(rows, subsample(1000, 100, Some(&groups), 9));
    }

    proptest! {
        #[test]
        fn scores_are_percentiles_and_independent_of_other_queries(
            seed in 0u64..1000, probe in proptest::collection::vec(-2.0f32..2.0, 16),
        ) {
            let x = clusters(60, seed);
            let index = NoveltyIndex::fit(&x, 16, 3, 10_000, None, seed).unwrap();
            let s = index.score(&probe);
            prop_assert!(s.is_nan() || (0.0..=1.0).contains(&s));
            // Scale-invariant (cosine) and a pure function of the query.
            let scaled: Vec<f32> = probe.iter().map(|v| v * 4.0).collect();
            let d = index.distance(&probe);
            prop_assert!(d.is_nan() || (index.distance(&scaled) - d).abs() < 1e-2);
            prop_assert_eq!(index.score(&probe).to_bits(), s.to_bits());
            prop_assert!(d.is_nan() || (-1e-6..=2.0 + 1e-6).contains(&d));
        }
    }
}
