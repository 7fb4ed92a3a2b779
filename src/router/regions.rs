//! Regions of the training distribution: spherical k-means (k-means++ seeded, deterministic) on
//! the router's training embeddings, stored as `regions.bin` beside `router.json`. A routed
//! query's region is its nearest centroid by cosine (`K` fp32 dot products in a fixed order, ties
//! to the lower index), so it depends only on the query's embedding: never on the batch, the
//! thread or the CPU's SIMD width.
//!
//! Regions are what the traffic-mix drift test counts per tier and day
//! (`tierscope.stats.mix_drift`): a shift in *which* kinds of queries a tier receives shows there
//! even when the router stays confident on them.

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::error::{Result, TierscopeError};
use crate::router::linalg;
use crate::router::novelty::NoveltyIndex;

/// File name of the centroids in a router directory.
pub const FILE: &str = "regions.bin";
/// Regions fitted by default.
pub const DEFAULT_REGIONS: usize = 32;
/// Most Lloyd iterations.
pub const MAX_ITERATIONS: usize = 100;
/// First bytes of the file.
const MAGIC: &[u8; 8] = b"TSREGN01";
/// Header: magic, then `dim`, `k` as little-endian u32.
const HEADER: usize = 16;

/// Unit-norm centroids, `k × dim` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Regions {
    dim: usize,
    centroids: Vec<f32>,
}

/// What a fit did: regions, Lloyd iterations run, and the mean cosine similarity of each row to
/// its centroid (higher is tighter).
#[derive(Clone, Debug)]
pub struct FitReport {
    /// The fitted regions.
    pub regions: Regions,
    /// Lloyd iterations until no row changed region (or [`MAX_ITERATIONS`]).
    pub iterations: usize,
    /// Mean cosine similarity of the rows to their centroid.
    pub mean_similarity: f64,
    /// Region of every input row.
    pub assignment: Vec<i32>,
}

fn normalise(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return false;
    }
    v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
    true
}

impl Regions {
    /// Spherical k-means of the rows of `x` (`n × dim`): rows are L2-normalised (zero or
    /// non-finite rows are skipped), seeded by k-means++ from a ChaCha8 stream of `seed`, then
    /// Lloyd iterations (nearest centroid by cosine; centroid = normalised mean) until no row moves.
    /// Deterministic for a given input and seed.
    pub fn fit(x: &[f32], dim: usize, k: usize, seed: u64) -> Result<FitReport> {
        if dim == 0 || x.len() % dim != 0 {
            return Err(TierscopeError::invalid("embeddings", format!("rows of {dim} values")));
        }
        let mut rows: Vec<f32> = Vec::with_capacity(x.len());
        for row in x.chunks_exact(dim) {
            let mut r = row.to_vec();
            if row.iter().all(|v| v.is_finite()) && normalise(&mut r) {
                rows.extend_from_slice(&r);
            }
        }
        let n = rows.len() / dim;
        if k < 2 || k > n {
            return Err(TierscopeError::invalid(
                "regions",
                format!("between 2 and the number of usable training rows ({n}), got {k}"),
            ));
        }
        let mut centroids = seed_plus_plus(&rows, dim, k, seed);
        let mut assignment = vec![-1i32; n];
        let mut iterations = 0;
        for _ in 0..MAX_ITERATIONS {
            iterations += 1;
            let regions = Regions { dim, centroids: centroids.clone() };
            let next: Vec<i32> = rows.par_chunks_exact(dim).map(|r| regions.nearest(r).0 as i32).collect();
            let changed = next != assignment;
            assignment = next;
            if !changed {
                break;
            }
            centroids = means(&rows, dim, k, &assignment, &centroids);
        }
        let regions = Regions { dim, centroids };
        let mean_similarity =
            rows.chunks_exact(dim).map(|r| regions.nearest(r).1 as f64).sum::<f64>() / n as f64;
        // Report the assignment of the caller's rows (skipped rows as -1).
        let full = x.chunks_exact(dim).map(|r| regions.assign(r)).collect();
        Ok(FitReport { regions, iterations, mean_similarity, assignment: full })
    }

    /// Fit on the training embeddings a novelty index stores (dequantised int8 rows).
    pub fn fit_index(index: &NoveltyIndex, k: usize, seed: u64) -> Result<FitReport> {
        Self::fit(&index.dequantised(), index.dim(), k, seed)
    }

    /// Nearest centroid of a unit (or any nonzero) vector and its dot product; ties go to the
    /// lower index.
    fn nearest(&self, v: &[f32]) -> (usize, f32) {
        let mut best = (0usize, f32::NEG_INFINITY);
        for (j, c) in self.centroids.chunks_exact(self.dim).enumerate() {
            let s = linalg::dot(c, v);
            if s > best.1 {
                best = (j, s);
            }
        }
        best
    }

    /// The region of `embedding`: its nearest centroid by cosine, or -1 when the embedding has
    /// the wrong width, a non-finite value or no direction (all zeros).
    pub fn assign(&self, embedding: &[f32]) -> i32 {
        if embedding.len() != self.dim || embedding.iter().any(|v| !v.is_finite()) {
            return -1;
        }
        if embedding.iter().all(|&v| v == 0.0) {
            return -1;
        }
        // Cosine argmax does not depend on the query's norm: no normalisation needed.
        self.nearest(embedding).0 as i32
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.centroids.len() / self.dim
    }
    /// Always false (a fit has at least 2 regions).
    pub fn is_empty(&self) -> bool {
        self.centroids.is_empty()
    }
    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Centroids, `len() × dim()` row-major, unit norm.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    /// The file: magic, `dim` and `k` (u32 LE), then the centroids (f32 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.centroids.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        for c in &self.centroids {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Parse a file written by [`to_bytes`](Self::to_bytes).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err("not a tierscope regions file (bad magic)".into());
        }
        let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let (dim, k) = (word(8) as usize, word(12) as usize);
        let expected = HEADER + dim * k * 4;
        if dim == 0 || k < 2 || bytes.len() != expected {
            return Err(format!(
                "expected {expected} bytes for {k} regions of {dim} (k >= 2), got {}",
                bytes.len()
            ));
        }
        let centroids: Vec<f32> =
            bytes[HEADER..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if centroids.iter().any(|v| !v.is_finite()) {
            return Err("a centroid holds a non-finite value".into());
        }
        Ok(Self { dim, centroids })
    }
}

/// k-means++ seeding on unit rows: the first centre uniformly, each next one with probability
/// proportional to its squared distance (2 − 2·cos) to the nearest chosen centre.
fn seed_plus_plus(rows: &[f32], dim: usize, k: usize, seed: u64) -> Vec<f32> {
    let n = rows.len() / dim;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut centres = Vec::with_capacity(k * dim);
    let first = rng.random_range(0..n);
    centres.extend_from_slice(&rows[first * dim..(first + 1) * dim]);
    let mut d2: Vec<f64> = vec![f64::INFINITY; n];
    for c in 1..k {
        let last = &centres[(c - 1) * dim..c * dim].to_vec();
        d2.par_iter_mut().zip(rows.par_chunks_exact(dim)).for_each(|(d, r)| {
            let dist = (2.0 - 2.0 * linalg::dot(last, r) as f64).max(0.0);
            if dist < *d {
                *d = dist;
            }
        });
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                if u < d {
                    chosen = i;
                    break;
                }
                u -= d;
            }
            chosen
        } else {
            rng.random_range(0..n)
        };
        centres.extend_from_slice(&rows[pick * dim..(pick + 1) * dim]);
    }
    centres
}

/// Normalised means of the rows per region (in row order, f64 sums); an empty region keeps its
/// previous centroid.
fn means(rows: &[f32], dim: usize, k: usize, assignment: &[i32], previous: &[f32]) -> Vec<f32> {
    let mut sums = vec![0.0f64; k * dim];
    for (r, &a) in rows.chunks_exact(dim).zip(assignment) {
        let a = a as usize;
        for (s, &v) in sums[a * dim..(a + 1) * dim].iter_mut().zip(r) {
            *s += v as f64;
        }
    }
    let mut out = previous.to_vec();
    for j in 0..k {
        let mut c: Vec<f32> = sums[j * dim..(j + 1) * dim].iter().map(|&s| s as f32).collect();
        if normalise(&mut c) {
            out[j * dim..(j + 1) * dim].copy_from_slice(&c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    /// Points near `c` directions in 16 dimensions, with the true cluster of each.
    fn clusters(n: usize, c: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let d = 16;
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            y.push(i % c);
            for j in 0..d {
                let centre = if j == i % c { 3.0 } else { 0.0 };
                x.push(centre + rng.random_range(-0.5f32..0.5));
            }
        }
        (x, y)
    }

    #[test]
    fn recovers_well_separated_clusters_deterministically() {
        let (x, y) = clusters(600, 6, 1);
        let fit = Regions::fit(&x, 16, 6, 0).unwrap();
        // Each found region is one true cluster (purity 1).
        let mut map = std::collections::BTreeMap::new();
        for (a, t) in fit.assignment.iter().zip(&y) {
            map.entry(*a).or_insert_with(std::collections::BTreeSet::new).insert(*t);
        }
        assert_eq!(map.len(), 6);
        assert!(map.values().all(|s| s.len() == 1), "{map:?}");
        let again = Regions::fit(&x, 16, 6, 0).unwrap();
        assert_eq!(again.regions, fit.regions);
        assert!(fit.mean_similarity > 0.9, "{}", fit.mean_similarity);
    }

    #[test]
    fn assign_is_scale_free_and_rejects_bad_embeddings() {
        let (x, _) = clusters(200, 4, 2);
        let r = Regions::fit(&x, 16, 4, 3).unwrap().regions;
        let v = &x[..16];
        let scaled: Vec<f32> = v.iter().map(|a| a * 7.0).collect();
        assert_eq!(r.assign(v), r.assign(&scaled));
        assert_eq!(r.assign(&[0.0; 16]), -1);
        assert_eq!(r.assign(&[f32::NAN; 16]), -1);
        assert_eq!(r.assign(&[1.0; 3]), -1);
    }

    #[test]
    fn bytes_round_trip_and_corrupt_files_are_refused() {
        let (x, _) = clusters(200, 4, 2);
        let r = Regions::fit(&x, 16, 4, 3).unwrap().regions;
        let bytes = r.to_bytes();
        assert_eq!(Regions::parse(&bytes).unwrap(), r);
        assert!(Regions::parse(&bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(Regions::parse(&bad).is_err());
    }

    #[test]
    fn bad_k_is_refused_with_the_argument_named() {
        let (x, _) = clusters(20, 4, 2);
        let err = Regions::fit(&x, 16, 1, 0).unwrap_err().to_string();
        assert!(err.contains("regions"), "{err}");
        assert!(Regions::fit(&x, 16, 21, 0).is_err());
        assert!(Regions::fit(&x, 15, 4, 0).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn assignment_is_a_pure_function_of_the_embedding(seed in 0u64..1000, probe in prop::collection::vec(-3.0f32..3.0, 16)) {
            let (x, _) = clusters(120, 4, seed);
            let r = Regions::fit(&x, 16, 5, seed).unwrap().regions;
            let a = r.assign(&probe);
            prop_assert!((-1..5).contains(&a));
            prop_assert_eq!(r.assign(&probe), a);
            // The region is the argmax of the centroid dot products.
            if a >= 0 {
                let best = r.centroids().chunks(16).map(|c| linalg::dot(c, &probe)).fold(f32::NEG_INFINITY, f32::max);
                prop_assert_eq!(linalg::dot(&r.centroids()[a as usize * 16..(a as usize + 1) * 16], &probe), best);
            }
        }
    }
}
