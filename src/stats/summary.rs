//! Per-tier summary of a decision log: traffic and review counts, the Hájek quality estimate with
//! its design-based interval, and Kolmogorov–Smirnov drift of the router's confidence against a
//! reference — per tier and over all traffic — reading the columns in place.
//!
//! Estimates: one parallel sweep over the rows (fixed-size chunks on the pools of
//! [`crate::pool`], merged in chunk order, so results do not depend on the thread count)
//! validates every row and accumulates, per tier, the row count and the Poisson-design sufficient
//! statistics of the reviewed rows ([`CellStats`]); with a drift reference it also takes the
//! range of the confidences. The estimates are exactly those of
//! [`domain_estimates`]/[`population_estimate`] (Poisson design, weights 1/π) on the merged cells,
//! with each tier's row count as its known population size.
//!
//! KS is exact — the statistic and p-value of scipy's `ks_2samp`, through the core's
//! [`ks_from_distance`] — without gathering or sorting the confidences. A counting pass reads
//! them again and counts them per (tier, side, bucket): equal-width buckets over the range of all
//! compared values, a monotone map, so the empirical CDFs at bucket boundaries are exact, and the
//! KS distance max |i·n2 − j·n1| is walked over the boundaries. Only buckets whose interior could
//! hold a larger distance (bounded by their counts; never a bucket holding a single value) are
//! refined: large ones are split into sub-buckets over their own value range by one more counting
//! pass, and a last pass gathers the values of the remaining few candidate cells, which are sorted
//! and walked with ties evaluated together. The passes only read the inputs (fast here) and write
//! small tables, instead of writing buffers the size of the log (slow: fresh pages). A reference
//! histogram instead gives the binned KS of the audit (cumulative bin proportions, asymptotic
//! Kolmogorov p-value at n = round(n·m/(n + m))).
//!
//! The inputs are borrowed slices: the caller guarantees nobody writes them during the call.

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::aggregate::{Aggregate, CellStats};
use super::drift::{kolmogorov_sf, ks_from_distance, KsMethod, KsResult};
use super::estimators::{domain_estimates, population_estimate, Design, DomainEstimate};
use super::intervals::{t_interval, wilson};
use super::{check_level, check_same_len};
use crate::error::{Result, TierscopeError};

/// Most tiers when the tier count is not given (codes are then checked against this bound).
pub const MAX_TIERS: usize = 1 << 16;

/// Rows per chunk of the sweep (the unit of parallel work and of the ordered merge).
pub const DEFAULT_CHUNK_ROWS: usize = 1 << 16;

/// Rows per block inside a chunk (tier codes are decoded and checked a block at a time).
const BLOCK: usize = 1024;

/// Integer tier codes of any width, read in place.
#[derive(Clone, Copy, Debug)]
pub enum Codes<'a> {
    /// `int8` codes (e.g. pandas categorical codes).
    I8(&'a [i8]),
    /// `int16` codes.
    I16(&'a [i16]),
    /// `int32` codes.
    I32(&'a [i32]),
    /// `int64` codes.
    I64(&'a [i64]),
    /// `uint8` codes.
    U8(&'a [u8]),
    /// `uint16` codes.
    U16(&'a [u16]),
    /// `uint32` codes (e.g. polars categorical physical codes).
    U32(&'a [u32]),
    /// `uint64` codes.
    U64(&'a [u64]),
}

impl Codes<'_> {
    /// Number of codes.
    pub fn len(&self) -> usize {
        match self {
            Codes::I8(s) => s.len(),
            Codes::I16(s) => s.len(),
            Codes::I32(s) => s.len(),
            Codes::I64(s) => s.len(),
            Codes::U8(s) => s.len(),
            Codes::U16(s) => s.len(),
            Codes::U32(s) => s.len(),
            Codes::U64(s) => s.len(),
        }
    }

    /// Whether there are no codes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decode rows `range` into `out` (as u32), checking each code is below `limit`
    /// (vectorised: widen and take the maximum, then look for the culprit only if it is too
    /// large). On a bad code returns its offset within `range` and its value in words.
    fn decode(
        &self,
        range: Range<usize>,
        limit: usize,
        out: &mut [u32],
    ) -> std::result::Result<(), (usize, String)> {
        fn run<T: Wide>(
            src: &[T],
            limit: usize,
            out: &mut [u32],
        ) -> std::result::Result<(), (usize, String)> {
            // 32-bit lanes throughout: a code outside u32 (negative or too large) maps to
            // u32::MAX, which is above any limit (at most MAX_TIERS).
            let limit = limit as u32;
            let mut bad = 0u32;
            for (o, &c) in out.iter_mut().zip(src) {
                let v = c.narrow();
                bad |= u32::from(v >= limit);
                *o = v;
            }
            if bad != 0 {
                let j = src.iter().position(|c| c.narrow() >= limit).unwrap_or(0);
                return Err((j, src[j].to_string()));
            }
            Ok(())
        }
        match self {
            Codes::I8(s) => run(&s[range], limit, out),
            Codes::I16(s) => run(&s[range], limit, out),
            Codes::I32(s) => run(&s[range], limit, out),
            Codes::I64(s) => run(&s[range], limit, out),
            Codes::U8(s) => run(&s[range], limit, out),
            Codes::U16(s) => run(&s[range], limit, out),
            Codes::U32(s) => run(&s[range], limit, out),
            Codes::U64(s) => run(&s[range], limit, out),
        }
    }
}

impl Codes<'_> {
    /// Code of row `i`, as [`Wide::narrow`].
    #[inline]
    fn at(&self, i: usize) -> u32 {
        match self {
            Codes::I8(s) => s[i].narrow(),
            Codes::I16(s) => s[i].narrow(),
            Codes::I32(s) => s[i].narrow(),
            Codes::I64(s) => s[i].narrow(),
            Codes::U8(s) => s[i].narrow(),
            Codes::U16(s) => s[i].narrow(),
            Codes::U32(s) => s[i].narrow(),
            Codes::U64(s) => s[i].narrow(),
        }
    }
}

/// An integer code as u32; u32::MAX for a code outside 0..u32::MAX (negative or too large).
trait Wide: Copy + std::fmt::Display {
    fn narrow(self) -> u32;
}

macro_rules! wide {
    (signed: $($t:ty),*) => { $(impl Wide for $t {
        #[inline]
        fn narrow(self) -> u32 {
            if self < 0 { u32::MAX } else { self as u32 }
        }
    })* };
    (unsigned: $($t:ty),*) => { $(impl Wide for $t {
        #[inline]
        fn narrow(self) -> u32 {
            self as u32
        }
    })* };
    (wide: $($t:ty),*) => { $(impl Wide for $t {
        #[inline]
        fn narrow(self) -> u32 {
            u32::try_from(self).unwrap_or(u32::MAX)
        }
    })* };
}
wide!(signed: i8, i16, i32);
wide!(unsigned: u8, u16, u32);
wide!(wide: i64, u64);

/// Floating-point values (router confidences) of either width, read in place.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    /// `float32` values.
    F32(&'a [f32]),
    /// `float64` values.
    F64(&'a [f64]),
}

impl Values<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(s) => s.len(),
            Values::F64(s) => s.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What each tier's confidence is compared with.
#[derive(Clone, Copy, Debug)]
pub enum Reference<'a> {
    /// No drift test.
    None,
    /// A reference sample (e.g. the router's training or launch confidences): each tier is
    /// compared with the reference rows of the same tier when `tiers` is given, else with all of
    /// it; all traffic is compared with the whole reference. Non-finite values are left out.
    Sample {
        /// Reference confidence values.
        values: Values<'a>,
        /// Tier code of each reference value (same codes as the log).
        tiers: Option<Codes<'a>>,
    },
    /// A reference histogram (bin `edges`, increasing, and a count per bin): binned KS of the
    /// tier's confidences (clipped to the edge range) against it.
    Histogram {
        /// Bin edges (at least two, strictly increasing).
        edges: &'a [f64],
        /// Reference count per bin (counts, not proportions: the p-value uses their total).
        counts: &'a [f64],
    },
    /// A reference window within the log: each tier's rows with `mask` true (e.g. the launch
    /// days) are compared with the tier's other rows. Estimates still cover all rows.
    Window {
        /// True for rows of the reference window.
        mask: &'a [bool],
    },
}

/// The columns of a decision log that the summary reads, one entry per logged decision.
#[derive(Clone, Copy, Debug)]
pub struct SummaryInput<'a> {
    /// Tier code of each row, in 0..k.
    pub tiers: Codes<'a>,
    /// Quality outcome (0/1 verdict or score); NaN = not reviewed.
    pub outcome: &'a [f64],
    /// Inclusion probability of each row in the review sample, in (0, 1] for reviewed rows
    /// (unreviewed rows' π is not read).
    pub pi: &'a [f64],
    /// Router confidence per row (non-finite = missing); needed for drift.
    pub confidence: Option<Values<'a>>,
    /// What the confidence is compared with.
    pub reference: Reference<'a>,
    /// Number of tiers k (codes must be below it); `None`: one more than the largest code seen
    /// (which must be below [`MAX_TIERS`]).
    pub num_tiers: Option<usize>,
}

/// Options of [`tier_summary`].
#[derive(Clone, Copy, Debug)]
pub struct SummaryOptions {
    /// Confidence level of the intervals, in (0, 1).
    pub level: f64,
    /// KS p-value method (scipy's `auto`/`exact`/`asymp`).
    pub ks_method: KsMethod,
    /// Worker threads (0 = the available cores).
    pub threads: usize,
    /// Rows per chunk of the sweep (0 = [`DEFAULT_CHUNK_ROWS`]); results are the same for every
    /// chunk size up to floating-point summation order.
    pub chunk_rows: usize,
    /// Buckets of the exact KS count (0 = automatic, up to 65,536); the results do not depend on
    /// it, only the work of the refining pass does.
    pub buckets: usize,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self { level: 0.95, ks_method: KsMethod::Auto, threads: 0, chunk_rows: 0, buckets: 0 }
    }
}

/// The summary of one tier (or of all traffic when `tier` is `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierRow {
    /// Tier code (`None` = all traffic).
    pub tier: Option<u32>,
    /// Logged decisions (traffic).
    pub rows: u64,
    /// Reviewed decisions (outcome not NaN).
    pub reviewed: u64,
    /// Rows with a finite confidence in the KS sample (outside the reference window for
    /// [`Reference::Window`]); 0 without a reference.
    pub with_confidence: u64,
    /// Hájek estimate with its design-based interval (Poisson design, weights 1/π; `population`
    /// is the row count, so `ht_mean` is the Horvitz–Thompson mean over the tier's traffic).
    pub estimate: DomainEstimate,
    /// KS of the confidence against the reference (`n1` = reference size, `n2` = this sample's);
    /// `None` without confidence or reference, or when either side is empty.
    pub drift: Option<KsResult>,
}

/// The unweighted mean of all reviews (the number a team without tiers looks at).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blended {
    /// Reviewed rows.
    pub n: u64,
    /// Unweighted mean of the reviewed outcomes.
    pub mean: f64,
    /// Its binomial (or, for scores outside [0, 1], sample) standard error.
    pub se: f64,
    /// Lower bound: Wilson for outcomes in [0, 1], else the t interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// "wilson", "t", or "none" when there are too few reviews.
    pub method: String,
}

/// Per-tier and all-traffic summary of a decision log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierSummary {
    /// One row per tier code 0..k.
    pub tiers: Vec<TierRow>,
    /// All traffic: design-based estimate over every tier, KS of all confidences.
    pub all: TierRow,
    /// Unweighted mean of all reviews.
    pub blended: Blended,
    /// Confidence level.
    pub level: f64,
    /// How KS was computed: "exact_counts" (reference sample or window), "binned" (reference
    /// histogram) or "none".
    pub ks_path: String,
}

// ----------------------------------------------------------------------------- pass 1: the sweep

/// Per-tier accumulator of one chunk.
#[derive(Clone, Debug, Default)]
struct TierAcc {
    rows: u64,
    cell: CellStats,
}

/// What one chunk of rows produced: per-tier sums and the range of the finite confidences.
#[derive(Clone, Debug)]
struct ChunkAcc {
    tiers: Vec<TierAcc>,
    lo: f64,
    hi: f64,
}

impl Default for ChunkAcc {
    fn default() -> Self {
        Self { tiers: Vec::new(), lo: f64::INFINITY, hi: f64::NEG_INFINITY }
    }
}

fn row_error(argument: &str, i: usize, expected: String) -> TierscopeError {
    TierscopeError::invalid(format!("{argument}[{i}]"), expected)
}

/// Widen `lo`/`hi` to the finite values of `v` (eight independent lanes of branch-free
/// selects, so it vectorises; NaN and ±inf never win).
#[inline]
fn finite_range<T: Copy + Into<f64>>(v: &[T], lo: &mut f64, hi: &mut f64) {
    let (mut l, mut h) = ([*lo; 8], [*hi; 8]);
    #[inline(always)]
    fn lane(x: f64, l: &mut f64, h: &mut f64) {
        let ok = x.abs() < f64::INFINITY; // false for NaN and ±inf
        let (a, b) = (if ok { x } else { f64::INFINITY }, if ok { x } else { f64::NEG_INFINITY });
        *l = if a < *l { a } else { *l };
        *h = if b > *h { b } else { *h };
    }
    let mut lanes = v.chunks_exact(8);
    for c in &mut lanes {
        for i in 0..8 {
            lane(c[i].into(), &mut l[i], &mut h[i]);
        }
    }
    for &x in lanes.remainder() {
        lane(x.into(), &mut l[0], &mut h[0]);
    }
    *lo = l.iter().copied().fold(*lo, f64::min);
    *hi = h.iter().copied().fold(*hi, f64::max);
}

fn values_range(values: Values<'_>, range: Range<usize>, lo: &mut f64, hi: &mut f64) {
    match values {
        Values::F32(c) => finite_range(&c[range], lo, hi),
        Values::F64(c) => finite_range(&c[range], lo, hi),
    }
}

/// Sweep rows `range` of the log: validate, count rows, accumulate the reviewed rows' sufficient
/// statistics by tier, and (`need_range`) the range of the finite confidences.
fn sweep_log(
    input: &SummaryInput<'_>,
    limit: usize,
    need_range: bool,
    range: Range<usize>,
) -> Result<ChunkAcc> {
    let mut acc = ChunkAcc::default();
    let mut codes = [0u32; BLOCK];
    let mut reviewed = [0u16; BLOCK + 1];
    let mut start = range.start;
    while start < range.end {
        let end = (start + BLOCK).min(range.end);
        let block = &mut codes[..end - start];
        if let Err((j, value)) = input.tiers.decode(start..end, limit, block) {
            return Err(row_error("tiers", start + j, format!("a tier code in 0..{limit}, got {value}")));
        }
        let top = block.iter().copied().max().unwrap_or(0) as usize;
        if top >= acc.tiers.len() {
            acc.tiers.resize_with(top + 1, TierAcc::default);
        }
        if acc.tiers.len() <= 8 {
            // Few tiers: one vectorised count per tier over the block.
            for (t, tier) in acc.tiers.iter_mut().enumerate() {
                tier.rows += u64::from(block.iter().map(|&c| u32::from(c == t as u32)).sum::<u32>());
            }
        } else {
            for &t in block.iter() {
                acc.tiers[t as usize].rows += 1;
            }
        }
        // Reviewed rows are rare. First list them (branch-free compaction over the dense outcome
        // column), then read their π: independent loads of scattered rows that overlap in
        // flight, instead of one cache miss after each mispredicted branch.
        let (y, pi) = (&input.outcome[start..end], &input.pi[start..end]);
        let mut hits = 0usize;
        let mut groups = y.chunks_exact(8);
        for (g, ys) in (&mut groups).enumerate() {
            // Eight at a time (vectorised): most groups of eight have no review at all.
            let any = ys.iter().fold(0u8, |any, v| any | u8::from(!v.is_nan()));
            if any != 0 {
                for (jj, v) in ys.iter().enumerate() {
                    reviewed[hits] = (g * 8 + jj) as u16;
                    hits += usize::from(!v.is_nan());
                }
            }
        }
        let tail = y.len() - groups.remainder().len();
        for (jj, v) in groups.remainder().iter().enumerate() {
            reviewed[hits] = (tail + jj) as u16;
            hits += usize::from(!v.is_nan());
        }
        // Touch every needed π first: independent loads, so their cache misses overlap.
        let touched = reviewed[..hits].iter().fold(0u64, |a, &j| a | pi[j as usize].to_bits());
        std::hint::black_box(touched);
        for &j in &reviewed[..hits] {
            let j = j as usize;
            let (yj, p) = (y[j], pi[j]);
            if !yj.is_finite() {
                return Err(row_error(
                    "outcome",
                    start + j,
                    format!("a finite outcome, or NaN for not reviewed, got {yj}"),
                ));
            }
            if !(p > 0.0 && p <= 1.0) {
                return Err(row_error(
                    "pi",
                    start + j,
                    format!("an inclusion probability in (0, 1] for a reviewed row, got {p}"),
                ));
            }
            acc.tiers[block[j] as usize].cell.add_unit(yj, p);
        }
        if need_range {
            if let Some(c) = input.confidence {
                values_range(c, start..end, &mut acc.lo, &mut acc.hi);
            }
        }
        start = end;
    }
    Ok(acc)
}

/// Sweep rows `range` of a reference sample: validate its tier codes; returns (one more than the
/// largest code, lo, hi) with the range of its finite values.
fn sweep_reference(
    values: Values<'_>,
    tiers: Option<Codes<'_>>,
    limit: usize,
    range: Range<usize>,
) -> Result<(usize, f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut seen = 0usize;
    if let Some(t) = tiers {
        let mut codes = [0u32; BLOCK];
        let mut start = range.start;
        while start < range.end {
            let end = (start + BLOCK).min(range.end);
            let block = &mut codes[..end - start];
            if let Err((j, value)) = t.decode(start..end, limit, block) {
                return Err(row_error(
                    "reference_tiers",
                    start + j,
                    format!("a tier code in 0..{limit}, got {value}"),
                ));
            }
            seen = seen.max(block.iter().copied().max().map_or(0, |m| m as usize + 1));
            start = end;
        }
    }
    values_range(values, range, &mut lo, &mut hi);
    Ok((seen, lo, hi))
}

/// Run `sweep` over `len` rows in chunks of `chunk` rows, in parallel on the current pool;
/// results in chunk order, the first error (lowest row) wins.
fn chunked<R: Send>(
    len: usize,
    chunk: usize,
    sweep: impl Fn(Range<usize>) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let chunks = len.div_ceil(chunk);
    let parts: Vec<Result<R>> = (0..chunks)
        .into_par_iter()
        .map(|c| sweep(c * chunk..(c * chunk).saturating_add(chunk).min(len)))
        .collect();
    parts.into_iter().collect()
}

// ----------------------------------------------------------------------------- pass 2: counts

/// Maps a finite value to its bucket, monotonically: a lower bucket holds only smaller values,
/// so cumulative bucket counts are exact CDF values at the bucket boundaries. (A trait, so the
/// hot loops are compiled for each map.)
trait Binner: Copy + Send + Sync {
    fn len(&self) -> usize;
    fn bin(&self, x: f64) -> usize;
}

/// `buckets` equal-width buckets over [lo, hi] (the range of all confidences compared).
#[derive(Clone, Copy, Debug)]
struct RangeBins {
    lo: f64,
    scale: f64,
    buckets: usize,
}

impl Binner for RangeBins {
    fn len(&self) -> usize {
        self.buckets
    }

    #[inline]
    fn bin(&self, x: f64) -> usize {
        // (x − lo)·scale is monotone in x (both operations round monotonically) and in
        // [0, buckets]; the i32 conversion (one instruction, saturating) and the clamp keep it so.
        (((x - self.lo) * self.scale) as i32).clamp(0, self.buckets as i32 - 1) as usize
    }
}

/// The reference histogram's bins (values clipped to the edge range, as numpy's histogram).
#[derive(Clone, Copy, Debug)]
struct EdgeBins<'a>(&'a [f64]);

impl Binner for EdgeBins<'_> {
    fn len(&self) -> usize {
        self.0.len() - 1
    }

    #[inline]
    fn bin(&self, x: f64) -> usize {
        bin_of(self.0, x)
    }
}

/// Bin index of `x` in `edges` as numpy's `histogram(clip(x, e0, e_last), edges)`.
#[inline]
fn bin_of(edges: &[f64], x: f64) -> usize {
    let x = x.clamp(edges[0], edges[edges.len() - 1]);
    edges.partition_point(|&e| e <= x).saturating_sub(1).min(edges.len() - 2)
}

/// Where each counted value goes: sides 0..k are the tiers' samples; reference sides follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sides {
    /// Histogram reference: only the k sample sides.
    SampleOnly,
    /// One reference side (k) for every tier.
    Global,
    /// Reference side k + t per tier (per-tier reference sample, or the reference window).
    PerTier,
}

impl Sides {
    fn count(self, k: usize) -> usize {
        match self {
            Sides::SampleOnly => k,
            Sides::Global => k + 1,
            Sides::PerTier => 2 * k,
        }
    }
}

/// A piece of work of the counting and refining passes.
#[derive(Clone, Debug)]
enum Job {
    Log(Range<usize>),
    Reference(Range<usize>),
}

/// Split the log and the reference into a few row ranges per worker.
fn jobs(n_log: usize, n_ref: usize) -> Vec<Job> {
    let parts = 2 * rayon::current_num_threads().max(1);
    let split = |n: usize| -> Vec<Range<usize>> {
        let step = n.div_ceil(parts).max(BLOCK);
        (0..n.div_ceil(step)).map(|p| p * step..((p + 1) * step).min(n)).collect()
    };
    let mut out: Vec<Job> = split(n_log).into_iter().map(Job::Log).collect();
    out.extend(split(n_ref).into_iter().map(Job::Reference));
    out
}

/// Marks a non-finite (missing) confidence in the side column of a block.
const MISSING: u32 = u32::MAX;

/// Walk the rows of `job` a block at a time: `f(rows, sides, values)` gets, for each block, the
/// row offset, each row's side (see [`Sides`]; [`MISSING`] for a non-finite confidence) and its
/// confidence as f64 — the one row walk of the counting and refining passes (the codes were
/// validated by pass 1).
fn visit_blocks<F: FnMut(usize, &[u32], &[f64])>(
    input: &SummaryInput<'_>,
    k: usize,
    job: &Job,
    mut f: F,
) -> Result<()> {
    #[allow(clippy::too_many_arguments)]
    fn walk<T: Copy + Into<f64>, F: FnMut(usize, &[u32], &[f64])>(
        codes: Option<Codes<'_>>,
        values: &[T],
        mask: Option<&[bool]>,
        k: usize,
        base: u32,
        range: Range<usize>,
        f: &mut F,
    ) -> Result<()> {
        let mut side = [0u32; BLOCK];
        let mut xs = [0f64; BLOCK];
        let mut start = range.start;
        while start < range.end {
            let end = (start + BLOCK).min(range.end);
            let (side, xs) = (&mut side[..end - start], &mut xs[..end - start]);
            match codes {
                Some(c) => c.decode(start..end, k, side).map_err(|(j, v)| {
                    row_error("tiers", start + j, format!("a tier code in 0..{k}, got {v}"))
                })?,
                None => side.fill(0),
            }
            if let Some(m) = mask {
                for (s, &w) in side.iter_mut().zip(&m[start..end]) {
                    *s += u32::from(w) * k as u32;
                }
            }
            for ((s, x), &v) in side.iter_mut().zip(xs.iter_mut()).zip(&values[start..end]) {
                *x = v.into();
                *s = if x.abs() < f64::INFINITY { *s + base } else { MISSING };
            }
            f(start, side, xs);
            start = end;
        }
        Ok(())
    }
    match (job, &input.reference) {
        (Job::Log(r), reference) => {
            let mask = match reference {
                Reference::Window { mask } => Some(*mask),
                _ => None,
            };
            match input.confidence {
                Some(Values::F32(c)) => walk(Some(input.tiers), c, mask, k, 0, r.clone(), &mut f),
                Some(Values::F64(c)) => walk(Some(input.tiers), c, mask, k, 0, r.clone(), &mut f),
                None => Ok(()),
            }
        }
        (Job::Reference(r), Reference::Sample { values, tiers }) => match values {
            Values::F32(c) => walk(*tiers, c, None, k, k as u32, r.clone(), &mut f),
            Values::F64(c) => walk(*tiers, c, None, k, k as u32, r.clone(), &mut f),
        },
        (Job::Reference(_), _) => Ok(()),
    }
}

/// Visit a sparse selection of the finite confidences of `job`: `keep(x)` is tested on each
/// value first and the row's side is worked out only for the values kept (the codes were
/// validated by pass 1).
fn visit_sparse(
    input: &SummaryInput<'_>,
    k: usize,
    job: &Job,
    keep: impl Fn(f64) -> bool,
    mut f: impl FnMut(usize, f64),
) {
    fn walk<T: Copy + Into<f64>>(
        values: &[T],
        range: Range<usize>,
        keep: &impl Fn(f64) -> bool,
        mut hit: impl FnMut(usize, f64),
    ) {
        for (i, &x) in values[range.clone()].iter().enumerate() {
            let x: f64 = x.into();
            if x.is_finite() && keep(x) {
                hit(range.start + i, x);
            }
        }
    }
    let window = match input.reference {
        Reference::Window { mask } => Some(mask),
        _ => None,
    };
    match (job, input.reference) {
        (Job::Log(r), _) => {
            let side =
                |i: usize| input.tiers.at(i) as usize + if window.is_some_and(|m| m[i]) { k } else { 0 };
            match input.confidence {
                Some(Values::F32(c)) => walk(c, r.clone(), &keep, |i, x| f(side(i), x)),
                Some(Values::F64(c)) => walk(c, r.clone(), &keep, |i, x| f(side(i), x)),
                None => {}
            }
        }
        (Job::Reference(r), Reference::Sample { values, tiers }) => {
            let side = |i: usize| k + tiers.map_or(0, |t| t.at(i) as usize);
            match values {
                Values::F32(c) => walk(c, r.clone(), &keep, |i, x| f(side(i), x)),
                Values::F64(c) => walk(c, r.clone(), &keep, |i, x| f(side(i), x)),
            }
        }
        (Job::Reference(_), _) => {}
    }
}

/// Counts per (side, cell) of a counting pass, and the smallest and largest value of each cell
/// (over all sides).
#[derive(Clone, Debug)]
struct Counts {
    cells: usize,
    counts: Vec<u64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Counts {
    #[inline]
    fn at(&self, side: usize, cell: usize) -> u64 {
        self.counts[side * self.cells + cell]
    }

    /// All values of the cell are equal: its only evaluation point is its right boundary.
    fn single_valued(&self, cell: usize) -> bool {
        self.lo[cell] >= self.hi[cell]
    }
}

/// One counting pass over the rows of `jobs`: `cell(x)` is each finite value's cell in
/// 0..cells (`cells` = not counted). Exact integer sums, so the job order does not matter.
fn count_pass(
    input: &SummaryInput<'_>,
    k: usize,
    sides: usize,
    cells: usize,
    cell: impl Fn(f64) -> usize + Sync,
    jobs: &[Job],
) -> Result<Counts> {
    /// One job's counts and per-cell smallest and largest values.
    type Part = (Vec<u32>, Vec<f64>, Vec<f64>);
    let trash = sides * cells;
    let parts: Vec<Result<Part>> = jobs
        .par_iter()
        .map(|job| {
            // One extra slot (and cell) takes what is not counted, so the updates need no branch.
            let mut h = vec![0u32; trash + 1];
            let (mut lo, mut hi) = (vec![f64::INFINITY; cells + 1], vec![f64::NEG_INFINITY; cells + 1]);
            let (mut slots, mut at) = ([0u32; BLOCK], [0u32; BLOCK]);
            visit_blocks(input, k, job, |_, side, xs| {
                let (slots, at) = (&mut slots[..side.len()], &mut at[..side.len()]);
                for (((o, c), &s), &x) in slots.iter_mut().zip(at.iter_mut()).zip(side).zip(xs) {
                    let b = if s == MISSING { cells } else { cell(x) };
                    *c = b as u32;
                    *o = if b == cells { trash as u32 } else { s * cells as u32 + b as u32 };
                }
                for ((&o, &c), &x) in slots.iter().zip(at.iter()).zip(xs) {
                    h[o as usize] += 1;
                    let c = c as usize;
                    lo[c] = if x < lo[c] { x } else { lo[c] };
                    hi[c] = if x > hi[c] { x } else { hi[c] };
                }
            })?;
            h.pop();
            lo.pop();
            hi.pop();
            Ok((h, lo, hi))
        })
        .collect();
    let mut out = Counts {
        cells,
        counts: vec![0u64; sides * cells],
        lo: vec![f64::INFINITY; cells],
        hi: vec![f64::NEG_INFINITY; cells],
    };
    for p in parts {
        let (h, lo, hi) = p?;
        for (t, c) in out.counts.iter_mut().zip(h) {
            *t += c as u64;
        }
        for (t, c) in out.lo.iter_mut().zip(lo) {
            *t = t.min(c);
        }
        for (t, c) in out.hi.iter_mut().zip(hi) {
            *t = t.max(c);
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------------------- KS from counts

/// One KS comparison: reference sides against sample sides.
#[derive(Clone, Debug)]
struct Comparison {
    reference: Vec<usize>,
    sample: Vec<usize>,
}

/// Where a cell to refine lies: a level-0 bucket, or a sub-bucket of a large level-0 bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Cell {
    Bucket(usize),
    Sub(usize),
}

/// The walk of one comparison.
#[derive(Clone, Debug, Default)]
struct Walk {
    n1: u64,
    n2: u64,
    /// max |i·n2 − j·n1| so far (exact at every cell boundary walked).
    best: i128,
    /// Cells whose interior could exceed `best`: (cell, s at its left boundary, bound).
    candidates: Vec<(Cell, i128, i128)>,
}

impl Walk {
    /// Walk `cells` (in value order) from `s` = i·n2 − j·n1 at their left: s is exact at every
    /// boundary. Inside a cell with a reference and d sample values, s stays within
    /// [max(s_l − d·n1, s_r − a·n2), min(s_l + a·n2, s_r + d·n1)]; a cell with values on both
    /// sides and more than one distinct value becomes a candidate with that bound.
    fn cells(&mut self, mut s: i128, cells: impl Iterator<Item = (Cell, i128, i128, bool)>) {
        let (m1, m2) = (self.n1 as i128, self.n2 as i128);
        for (cell, a, d, single) in cells {
            if a == 0 && d == 0 {
                continue;
            }
            let left = s;
            s += a * m2 - d * m1;
            self.best = self.best.max(s.abs());
            if a > 0 && d > 0 && !single {
                let upper = (left + a * m2).min(s + d * m1);
                let lower = (left - d * m1).max(s - a * m2);
                self.candidates.push((cell, left, upper.max(-lower)));
            }
        }
    }

    /// Keep the candidates that could still beat the best distance.
    fn prune(&mut self) {
        let best = self.best;
        self.candidates.retain(|c| c.2 > best);
    }
}

/// The counts of comparison `c` in `cell` of `counts`: (reference, sample).
fn pair(counts: &Counts, c: &Comparison, cell: usize) -> (i128, i128) {
    let a = c.reference.iter().map(|&r| counts.at(r, cell) as i128).sum();
    let d = c.sample.iter().map(|&x| counts.at(x, cell) as i128).sum();
    (a, d)
}

/// Walk the level-0 buckets of comparison `c`.
fn walk_buckets(counts: &Counts, c: &Comparison) -> Walk {
    let total = |sides: &[usize]| -> u64 {
        sides
            .iter()
            .map(|&s| counts.counts[s * counts.cells..(s + 1) * counts.cells].iter().sum::<u64>())
            .sum()
    };
    let mut w = Walk { n1: total(&c.reference), n2: total(&c.sample), ..Walk::default() };
    if w.n1 > 0 && w.n2 > 0 {
        w.cells(
            0,
            (0..counts.cells).map(|b| {
                let (a, d) = pair(counts, c, b);
                (Cell::Bucket(b), a, d, counts.single_valued(b))
            }),
        );
        w.prune();
    }
    w
}

/// max |s| inside one cell: walk its sorted reference values `a` and sample values `b` from
/// `s = left`, evaluating after all ties at a value (as [`super::drift::ks_sorted`]).
fn walk_bucket(a: &[f64], b: &[f64], left: i128, n1: i128, n2: i128) -> i128 {
    let (mut i, mut j, mut s, mut best) = (0usize, 0usize, left, 0i128);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
            s += n2;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
            s -= n1;
        }
        best = best.max(s.abs());
    }
    best
}

/// Level-0 buckets holding more values than this are split into sub-buckets (one more counting
/// pass) rather than gathered (tests split almost every candidate, to exercise the path).
const SPLIT_MASS: u64 = if cfg!(test) { 8 } else { 1 << 15 };
/// At most this many level-0 buckets are split (the largest); the others are gathered.
const MAX_SPLIT: usize = 64;

/// Refine the candidate cells of every comparison. Large candidate buckets (a value range with
/// many values: heavy ties, or outliers that squeezed the data into a few buckets) are first split
/// into sub-buckets over their own value range by another counting pass; the remaining
/// candidates' values are then gathered (few, normally) by one more pass, sorted and walked.
#[allow(clippy::too_many_arguments)]
fn refine(
    input: &SummaryInput<'_>,
    k: usize,
    sides: Sides,
    binner: RangeBins,
    counts: &Counts,
    jobs: &[Job],
    comparisons: &[Comparison],
    walks: &mut [Walk],
) -> Result<()> {
    let nb = binner.len();
    let nsides = sides.count(k);
    let mass = |b: usize| -> u64 { (0..nsides).map(|s| counts.at(s, b)).sum() };
    // Level 1: split the largest candidate buckets.
    let mut big: Vec<usize> = walks
        .iter()
        .flat_map(|w| w.candidates.iter())
        .filter_map(|&(cell, _, _)| match cell {
            Cell::Bucket(b) if mass(b) > SPLIT_MASS => Some(b),
            _ => None,
        })
        .collect();
    big.sort_unstable_by_key(|&b| std::cmp::Reverse((mass(b), b)));
    big.dedup();
    big.truncate(MAX_SPLIT);
    const NONE: u32 = u32::MAX;
    let mut big_pos = vec![NONE; nb];
    let mut subs: Vec<RangeBins> = Vec::with_capacity(big.len());
    if !big.is_empty() {
        let per = ((1usize << 20) / (big.len() * nsides)).clamp(16, 1 << 16);
        for (p, &b) in big.iter().enumerate() {
            big_pos[b] = p as u32;
            // Candidates are never single-valued, so hi > lo.
            let span = counts.hi[b] - counts.lo[b];
            let scale = if (per as f64 / span).is_finite() { per as f64 / span } else { 0.0 };
            subs.push(RangeBins { lo: counts.lo[b], scale, buckets: per });
        }
        let cells = big.len() * per;
        let sub_counts = count_pass(
            input,
            k,
            nsides,
            cells,
            |x| {
                let p = big_pos[binner.bin(x)];
                if p == NONE {
                    cells
                } else {
                    p as usize * per + subs[p as usize].bin(x)
                }
            },
            jobs,
        )?;
        walks.par_iter_mut().zip(comparisons.par_iter()).for_each(|(w, c)| {
            let split: Vec<(usize, i128)> = w
                .candidates
                .iter()
                .filter_map(|&(cell, left, _)| match cell {
                    Cell::Bucket(b) if big_pos[b] != NONE => Some((big_pos[b] as usize, left)),
                    _ => None,
                })
                .collect();
            w.candidates.retain(|&(cell, _, _)| !matches!(cell, Cell::Bucket(b) if big_pos[b] != NONE));
            for (p, left) in split {
                w.cells(
                    left,
                    (p * per..(p + 1) * per).map(|cell| {
                        let (a, d) = pair(&sub_counts, c, cell);
                        (Cell::Sub(cell), a, d, sub_counts.single_valued(cell))
                    }),
                );
            }
            w.prune();
        });
    }
    if walks.iter().all(|w| w.candidates.is_empty()) {
        return Ok(());
    }
    // Gather: slot[c][cell] is the cell's index among comparison c's candidates.
    let mut slot: Vec<std::collections::HashMap<Cell, usize>> = vec![Default::default(); comparisons.len()];
    // A bitset of the level-0 buckets to look into (8 KiB at most: stays in L1 during the pass).
    let mut any = vec![0u64; nb.div_ceil(64)];
    // And of the sub-buckets of split buckets.
    let per = subs.first().map_or(1, |s| s.buckets);
    let mut any_sub = vec![0u64; (big.len() * per).div_ceil(64)];
    for (c, w) in walks.iter().enumerate() {
        for (i, &(cell, _, _)) in w.candidates.iter().enumerate() {
            slot[c].insert(cell, i);
            let b = match cell {
                Cell::Bucket(b) => b,
                Cell::Sub(cell) => {
                    any_sub[cell / 64] |= 1 << (cell % 64);
                    big[cell / per]
                }
            };
            any[b / 64] |= 1 << (b % 64);
        }
    }
    let bit = |set: &[u64], i: usize| set[i / 64] >> (i % 64) & 1 == 1;
    // Which comparisons (and on which side) a value of side `side` takes part in.
    let all = k;
    let targets = |side: usize| -> Vec<(usize, bool)> {
        let mut v = Vec::with_capacity(3);
        if side < k {
            v.push((side, false));
            v.push((all, false));
        } else if sides == Sides::Global {
            v.extend((0..=k).map(|c| (c, true)));
        } else {
            v.push((side - k, true));
            v.push((all, true));
        }
        v
    };
    let side_targets: Vec<Vec<(usize, bool)>> = (0..nsides).map(targets).collect();
    let cell_of = |x: f64, b: usize| -> Cell {
        match big_pos[b] {
            NONE => Cell::Bucket(b),
            p => Cell::Sub(p as usize * per + subs[p as usize].bin(x)),
        }
    };
    /// (comparison, candidate index, reference side?, value).
    type Gathered = Vec<(u32, u32, bool, f64)>;
    let parts: Vec<Result<Gathered>> = jobs
        .par_iter()
        .map(|job| {
            let mut out: Gathered = Vec::new();
            visit_sparse(
                input,
                k,
                job,
                |x| {
                    let b = binner.bin(x);
                    bit(&any, b)
                        && match cell_of(x, b) {
                            Cell::Bucket(_) => true,
                            Cell::Sub(cell) => bit(&any_sub, cell),
                        }
                },
                |side, x| {
                    let cell = cell_of(x, binner.bin(x));
                    for &(c, is_ref) in &side_targets[side] {
                        if let Some(&i) = slot[c].get(&cell) {
                            out.push((c as u32, i as u32, is_ref, x));
                        }
                    }
                },
            );
            Ok(out)
        })
        .collect();
    let mut values: Vec<Vec<(Vec<f64>, Vec<f64>)>> =
        walks.iter().map(|w| vec![(Vec::new(), Vec::new()); w.candidates.len()]).collect();
    for p in parts {
        for (c, i, is_ref, x) in p? {
            let cell = &mut values[c as usize][i as usize];
            if is_ref {
                cell.0.push(x);
            } else {
                cell.1.push(x);
            }
        }
    }
    walks.par_iter_mut().zip(values.par_iter_mut()).for_each(|(w, vals)| {
        let (n1, n2) = (w.n1 as i128, w.n2 as i128);
        for (&(_, left, _), (a, b)) in w.candidates.iter().zip(vals.iter_mut()) {
            a.sort_unstable_by(|p, q| p.total_cmp(q));
            b.sort_unstable_by(|p, q| p.total_cmp(q));
            w.best = w.best.max(walk_bucket(a, b, left, n1, n2));
        }
    });
    Ok(())
}

/// Binned KS against a reference histogram: max |cum(ref)/m − cum(prod)/n| over bins, p-value
/// from the one-sample Kolmogorov distribution at n = round(n·m/(n + m)) (1 when the distance
/// is 0), as the audit computes it.
fn binned_ks(ref_counts: &[f64], counts: &[u64]) -> Option<KsResult> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return None;
    }
    let m: f64 = ref_counts.iter().sum();
    let nf = n as f64;
    let (mut cr, mut cp, mut d) = (0.0f64, 0.0f64, 0.0f64);
    for (&r, &p) in ref_counts.iter().zip(counts) {
        cr += r;
        cp += p as f64;
        d = d.max((cr / m - cp / nf).abs());
    }
    let en = nf * m / (nf + m);
    let pvalue = if d > 0.0 { kolmogorov_sf((en.round_ties_even() as u64).max(1), d) } else { 1.0 };
    Some(KsResult { statistic: d, pvalue, method: "binned_asymp".into(), n1: m.round() as u64, n2: n })
}

// ----------------------------------------------------------------------------- validation

fn check_histogram(edges: &[f64], counts: &[f64]) -> Result<()> {
    if edges.len() < 2 {
        return Err(TierscopeError::invalid(
            "reference_edges",
            format!("at least two bin edges, got {}", edges.len()),
        ));
    }
    if let Some(i) = edges.iter().position(|e| !e.is_finite()) {
        return Err(row_error("reference_edges", i, format!("a finite edge, got {}", edges[i])));
    }
    if let Some(i) = edges.windows(2).position(|w| w[1] <= w[0]) {
        return Err(row_error(
            "reference_edges",
            i + 1,
            format!("strictly increasing edges, got {} after {}", edges[i + 1], edges[i]),
        ));
    }
    check_same_len("reference_counts", counts.len(), "reference_edges minus one", edges.len() - 1)?;
    if let Some(i) = counts.iter().position(|c| !(c.is_finite() && *c >= 0.0)) {
        return Err(row_error(
            "reference_counts",
            i,
            format!("a finite, non-negative count, got {}", counts[i]),
        ));
    }
    if counts.iter().sum::<f64>() <= 0.0 {
        return Err(TierscopeError::invalid("reference_counts", "a histogram with a positive total count"));
    }
    Ok(())
}

fn validate(input: &SummaryInput<'_>, opts: &SummaryOptions) -> Result<usize> {
    check_level(opts.level)?;
    let n = input.tiers.len();
    check_same_len("outcome", input.outcome.len(), "tiers", n)?;
    check_same_len("pi", input.pi.len(), "tiers", n)?;
    if let Some(c) = input.confidence {
        check_same_len("confidence", c.len(), "tiers", n)?;
    }
    match input.reference {
        Reference::None => {}
        Reference::Sample { values, tiers } => {
            if let Some(t) = tiers {
                check_same_len("reference_tiers", t.len(), "reference", values.len())?;
            }
        }
        Reference::Histogram { edges, counts } => check_histogram(edges, counts)?,
        Reference::Window { mask } => check_same_len("reference_window", mask.len(), "tiers", n)?,
    }
    if !matches!(input.reference, Reference::None) && input.confidence.is_none() {
        return Err(TierscopeError::invalid(
            "confidence",
            "the confidence of each row when a reference is given",
        ));
    }
    match input.num_tiers {
        Some(0) => Err(TierscopeError::invalid("num_tiers", "at least one tier")),
        Some(k) if k > MAX_TIERS => {
            Err(TierscopeError::invalid("num_tiers", format!("at most {MAX_TIERS} tiers, got {k}")))
        }
        Some(k) => Ok(k),
        None => Ok(MAX_TIERS),
    }
}

// ----------------------------------------------------------------------------- the summary

fn blended(cell: &CellStats, outcome: &[f64], level: f64) -> Result<Blended> {
    let n = cell.n;
    let none = |mean: f64| Blended {
        n,
        mean,
        se: f64::NAN,
        lower: f64::NAN,
        upper: f64::NAN,
        method: "none".into(),
    };
    if n == 0 {
        return Ok(none(f64::NAN));
    }
    let nf = n as f64;
    if cell.min_y >= 0.0 && cell.max_y <= 1.0 {
        let iv = wilson(cell.sum_y.min(nf), nf, level)?;
        let q = iv.estimate;
        return Ok(Blended {
            n,
            mean: q,
            se: (q * (1.0 - q) / nf).sqrt(),
            lower: iv.lower,
            upper: iv.upper,
            method: "wilson".into(),
        });
    }
    if n < 2 {
        return Ok(none(cell.sum_y / nf));
    }
    // Scores outside [0, 1]: the t interval on the reviewed values (few rows; gathered again).
    let values: Vec<f64> = outcome.iter().copied().filter(|y| !y.is_nan()).collect();
    let iv = t_interval(&values, None, level)?;
    let var = (cell.sum_y2 - cell.sum_y * cell.sum_y / nf).max(0.0) / (nf - 1.0);
    Ok(Blended {
        n,
        mean: iv.estimate,
        se: (var / nf).sqrt(),
        lower: iv.lower,
        upper: iv.upper,
        method: "t".into(),
    })
}

/// Buckets of the exact KS count: as many as keep the per-worker count tables small.
fn auto_buckets(sides: usize) -> usize {
    let budget = (1usize << 20) / sides.max(1);
    (1usize << (usize::BITS - 1 - budget.max(1).leading_zeros())).clamp(1 << 8, 1 << 16)
}

/// Per-tier counts, Hájek estimates with design-based intervals and KS drift of a decision log,
/// plus the all-traffic and blended figures.
///
/// Every bad input is an [`TierscopeError::InvalidInput`] naming the argument (and the first bad
/// row); nothing is returned on error.
pub fn tier_summary(input: &SummaryInput<'_>, opts: &SummaryOptions) -> Result<TierSummary> {
    let limit = validate(input, opts)?;
    let chunk = if opts.chunk_rows == 0 { DEFAULT_CHUNK_ROWS } else { opts.chunk_rows };
    let n = input.tiers.len();
    let need_range = matches!(input.reference, Reference::Sample { .. } | Reference::Window { .. });
    crate::pool::install(opts.threads, || {
        // Pass 1: validate, count, accumulate (and the confidence range).
        let (log, reference) = rayon::join(
            || chunked(n, chunk, |r| sweep_log(input, limit, need_range, r)),
            || match input.reference {
                Reference::Sample { values, tiers } => {
                    chunked(values.len(), chunk, |r| sweep_reference(values, tiers, limit, r))
                }
                _ => Ok(Vec::new()),
            },
        );
        let (log, reference) = (log?, reference?);
        let k = match input.num_tiers {
            Some(k) => k,
            None => {
                let seen = log.iter().map(|c| c.tiers.len()).max().unwrap_or(0);
                seen.max(reference.iter().map(|r| r.0).max().unwrap_or(0)).max(1)
            }
        };
        let mut rows = vec![0u64; k];
        let mut cells = vec![CellStats::default(); k];
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for c in &log {
            for (t, acc) in c.tiers.iter().enumerate() {
                rows[t] += acc.rows;
                cells[t].merge(&acc.cell);
            }
            (lo, hi) = (lo.min(c.lo), hi.max(c.hi));
        }
        for &(_, l, h) in &reference {
            (lo, hi) = (lo.min(l), hi.max(h));
        }

        // Estimates from the merged cells (tier = domain, one stratum; traffic = population).
        let mut agg = Aggregate::new();
        for t in 0..k {
            let mut cell = cells[t];
            cell.population = rows[t] as f64;
            agg.merge_cell(0, t as u32, &cell);
        }
        let codes: Vec<u32> = (0..k as u32).collect();
        let estimates = domain_estimates(&agg, Design::Poisson, opts.level, Some(&codes))?;
        let overall = population_estimate(&agg, Design::Poisson, opts.level)?;
        let mut all_cell = CellStats::default();
        for c in &cells {
            all_cell.merge(c);
        }
        let blend = blended(&all_cell, input.outcome, opts.level)?;

        // Drift: pass 2 counts the confidences per (side, bucket); pass 3 refines the few buckets
        // where the KS distance could hide.
        let n_ref = match input.reference {
            Reference::Sample { values, .. } => values.len(),
            _ => 0,
        };
        let sides = match input.reference {
            Reference::None | Reference::Histogram { .. } => Sides::SampleOnly,
            Reference::Sample { tiers: None, .. } => Sides::Global,
            Reference::Sample { tiers: Some(_), .. } | Reference::Window { .. } => Sides::PerTier,
        };
        let work = jobs(n, n_ref);
        let (drift, all_drift, with_conf, ks_path) = match input.reference {
            Reference::None => (vec![None; k], None, vec![0u64; k], "none"),
            Reference::Histogram { edges, counts } => {
                let binner = EdgeBins(edges);
                let nb = binner.len();
                let c = count_pass(input, k, k, nb, |x| binner.bin(x), &work)?.counts;
                let mut total = vec![0u64; nb];
                let per: Vec<Option<KsResult>> = (0..k)
                    .map(|t| {
                        let ct = &c[t * nb..(t + 1) * nb];
                        for (s, x) in total.iter_mut().zip(ct) {
                            *s += x;
                        }
                        binned_ks(counts, ct)
                    })
                    .collect();
                let with: Vec<u64> = (0..k).map(|t| c[t * nb..(t + 1) * nb].iter().sum()).collect();
                (per, binned_ks(counts, &total), with, "binned")
            }
            Reference::Sample { .. } | Reference::Window { .. } => {
                let buckets =
                    if opts.buckets == 0 { auto_buckets(sides.count(k)) } else { opts.buckets.min(1 << 16) };
                let span = hi - lo;
                let scale = if span > 0.0 && (buckets as f64 / span).is_finite() {
                    buckets as f64 / span
                } else {
                    0.0
                };
                let binner = RangeBins { lo, scale, buckets };
                let c = count_pass(input, k, sides.count(k), buckets, |x| binner.bin(x), &work)?;
                let reference_of = |t: usize| if sides == Sides::Global { vec![k] } else { vec![k + t] };
                let mut comparisons: Vec<Comparison> =
                    (0..k).map(|t| Comparison { reference: reference_of(t), sample: vec![t] }).collect();
                let all_refs = if sides == Sides::Global { vec![k] } else { (k..2 * k).collect() };
                comparisons.push(Comparison { reference: all_refs, sample: (0..k).collect() });
                let mut walks: Vec<Walk> = comparisons.par_iter().map(|cmp| walk_buckets(&c, cmp)).collect();
                refine(input, k, sides, binner, &c, &work, &comparisons, &mut walks)?;
                let ks = |w: &Walk| {
                    (w.n1 > 0 && w.n2 > 0).then(|| ks_from_distance(w.n1, w.n2, w.best, opts.ks_method))
                };
                let per: Vec<Option<KsResult>> = walks[..k].iter().map(ks).collect();
                let with: Vec<u64> = walks[..k].iter().map(|w| w.n2).collect();
                (per, ks(&walks[k]), with, "exact_counts")
            }
        };

        let tiers: Vec<TierRow> = (0..k)
            .map(|t| TierRow {
                tier: Some(t as u32),
                rows: rows[t],
                reviewed: cells[t].n,
                with_confidence: with_conf[t],
                estimate: estimates[t].clone(),
                drift: drift[t].clone(),
            })
            .collect();
        let all = TierRow {
            tier: None,
            rows: rows.iter().sum(),
            reviewed: all_cell.n,
            with_confidence: with_conf.iter().sum(),
            estimate: overall,
            drift: all_drift,
        };
        Ok(TierSummary { tiers, all, blended: blend, level: opts.level, ks_path: ks_path.to_string() })
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::drift::ks_2samp;
    use crate::stats::rng::Xoshiro256;
    use proptest::prelude::*;

    struct Log {
        tiers: Vec<i64>,
        y: Vec<f64>,
        pi: Vec<f64>,
        conf: Vec<f64>,
    }

    /// A log with `k` tiers; `grid` > 0 rounds confidences to multiples of 1/grid (many ties).
    fn make_log(n: usize, k: u64, seed: u64, grid: f64) -> Log {
        let mut rng = Xoshiro256::new(seed, 0);
        let mut log = Log { tiers: vec![], y: vec![], pi: vec![], conf: vec![] };
        for _ in 0..n {
            let t = rng.below(k);
            let p = [0.05, 0.2, 1.0][rng.below(3) as usize];
            let reviewed = rng.uniform() < p;
            let y = if reviewed { (rng.uniform() < 0.8 - 0.1 * t as f64) as u8 as f64 } else { f64::NAN };
            let u = rng.uniform() + 0.02 * t as f64;
            let c = if grid > 0.0 { (u * grid).round() / grid } else { u };
            log.tiers.push(t as i64);
            log.y.push(y);
            log.pi.push(p);
            log.conf.push(if rng.below(50) == 0 { f64::NAN } else { c });
        }
        log
    }

    fn run(log: &Log, reference: Reference<'_>, opts: SummaryOptions) -> TierSummary {
        let input = SummaryInput {
            tiers: Codes::I64(&log.tiers),
            outcome: &log.y,
            pi: &log.pi,
            confidence: Some(Values::F64(&log.conf)),
            reference,
            num_tiers: None,
        };
        tier_summary(&input, &opts).unwrap()
    }

    fn finite(v: impl Iterator<Item = f64>) -> Vec<f64> {
        v.filter(|x| x.is_finite()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    fn same(a: &TierSummary, b: &TierSummary) -> std::result::Result<(), String> {
        let rows = a.tiers.iter().chain([&a.all]).zip(b.tiers.iter().chain([&b.all]));
        for (x, y) in rows {
            if (x.rows, x.reviewed, x.with_confidence) != (y.rows, y.reviewed, y.with_confidence) {
                return Err(format!("counts differ: {x:?} vs {y:?}"));
            }
            let (e, f) = (&x.estimate, &y.estimate);
            for (p, q) in
                [(e.mean, f.mean), (e.se, f.se), (e.lower, f.lower), (e.upper, f.upper), (e.n_eff, f.n_eff)]
            {
                if !close(p, q) {
                    return Err(format!("estimates differ: {e:?} vs {f:?}"));
                }
            }
            if x.drift != y.drift {
                return Err(format!("drift differs: {:?} vs {:?}", x.drift, y.drift));
            }
        }
        Ok(())
    }

    #[test]
    fn ks_matches_core_ks_2samp_for_every_reference_kind() {
        for grid in [0.0, 50.0] {
            let log = make_log(20_000, 3, 5, grid);
            let refs = make_log(3_000, 3, 6, grid);
            let of =
                |l: &Log, t: i64| finite((0..l.tiers.len()).filter(|&i| l.tiers[i] == t).map(|i| l.conf[i]));
            for buckets in [0, 1, 7] {
                let opts = SummaryOptions { buckets, ..SummaryOptions::default() };
                // Per-tier reference sample.
                let reference = Reference::Sample {
                    values: Values::F64(&refs.conf),
                    tiers: Some(Codes::I64(&refs.tiers)),
                };
                let s = run(&log, reference, opts);
                assert_eq!(s.ks_path, "exact_counts");
                for t in 0..3 {
                    let expected = ks_2samp(&of(&refs, t), &of(&log, t), KsMethod::Auto).unwrap();
                    assert_eq!(
                        s.tiers[t as usize].drift,
                        Some(expected),
                        "grid {grid} buckets {buckets} tier {t}"
                    );
                }
                let all = ks_2samp(
                    &finite(refs.conf.iter().copied()),
                    &finite(log.conf.iter().copied()),
                    KsMethod::Auto,
                );
                assert_eq!(s.all.drift, Some(all.unwrap()));
                // One reference for every tier.
                let s = run(&log, Reference::Sample { values: Values::F64(&refs.conf), tiers: None }, opts);
                for t in 0..3 {
                    let expected =
                        ks_2samp(&finite(refs.conf.iter().copied()), &of(&log, t), KsMethod::Auto).unwrap();
                    assert_eq!(s.tiers[t as usize].drift, Some(expected));
                }
                // Reference window.
                let mask: Vec<bool> = (0..log.tiers.len()).map(|i| i % 4 == 0).collect();
                let s = run(&log, Reference::Window { mask: &mask }, opts);
                for t in 0..3 {
                    let side = |w: bool| {
                        finite(
                            (0..log.tiers.len())
                                .filter(|&i| log.tiers[i] == t && mask[i] == w)
                                .map(|i| log.conf[i]),
                        )
                    };
                    let expected = ks_2samp(&side(true), &side(false), KsMethod::Auto).unwrap();
                    assert_eq!(s.tiers[t as usize].drift, Some(expected));
                }
            }
        }
    }

    #[test]
    fn f32_confidences_match_their_f64_values() {
        let log = make_log(5_000, 2, 11, 0.0);
        let refs = make_log(800, 2, 12, 0.0);
        let c32: Vec<f32> = log.conf.iter().map(|&x| x as f32).collect();
        let c64: Vec<f64> = c32.iter().map(|&x| x as f64).collect();
        let r32: Vec<f32> = refs.conf.iter().map(|&x| x as f32).collect();
        let r64: Vec<f64> = r32.iter().map(|&x| x as f64).collect();
        let base = SummaryInput {
            tiers: Codes::I64(&log.tiers),
            outcome: &log.y,
            pi: &log.pi,
            confidence: Some(Values::F32(&c32)),
            reference: Reference::Sample { values: Values::F32(&r32), tiers: None },
            num_tiers: Some(2),
        };
        let a = tier_summary(&base, &SummaryOptions::default()).unwrap();
        let wide = SummaryInput {
            confidence: Some(Values::F64(&c64)),
            reference: Reference::Sample { values: Values::F64(&r64), tiers: None },
            ..base
        };
        assert_eq!(a, tier_summary(&wide, &SummaryOptions::default()).unwrap());
    }

    #[test]
    fn binned_ks_follows_the_audit_formula() {
        let log = make_log(4_000, 2, 13, 0.0);
        let edges = [0.0, 0.25, 0.5, 0.75, 1.0];
        let counts = [10.0, 30.0, 40.0, 20.0];
        let s = run(&log, Reference::Histogram { edges: &edges, counts: &counts }, SummaryOptions::default());
        let prod = finite((0..log.tiers.len()).filter(|&i| log.tiers[i] == 1).map(|i| log.conf[i]));
        let mut c = [0.0f64; 4];
        for x in &prod {
            c[bin_of(&edges, *x)] += 1.0;
        }
        let (n, m) = (prod.len() as f64, 100.0);
        let (mut cr, mut cp, mut d) = (0.0, 0.0, 0.0f64);
        for i in 0..4 {
            cr += counts[i];
            cp += c[i];
            d = d.max((cr / m - cp / n).abs());
        }
        let drift = s.tiers[1].drift.clone().unwrap();
        assert_eq!(drift.statistic, d);
        assert_eq!(drift.pvalue, kolmogorov_sf((n * m / (n + m)).round_ties_even() as u64, d));
        assert_eq!(s.ks_path, "binned");
    }

    #[test]
    fn estimates_match_the_aggregate_estimators() {
        let log = make_log(30_000, 4, 8, 0.0);
        let s = run(&log, Reference::None, SummaryOptions::default());
        let idx: Vec<usize> = (0..log.y.len()).filter(|&i| !log.y[i].is_nan()).collect();
        let y: Vec<f64> = idx.iter().map(|&i| log.y[i]).collect();
        let p: Vec<f64> = idx.iter().map(|&i| log.pi[i]).collect();
        let d: Vec<u32> = idx.iter().map(|&i| log.tiers[i] as u32).collect();
        let agg = Aggregate::from_sample(&y, &p, &vec![0; y.len()], &d).unwrap();
        let e = domain_estimates(&agg, Design::Poisson, 0.95, None).unwrap();
        for (row, e) in s.tiers.iter().zip(&e) {
            assert!(close(row.estimate.mean, e.mean) && close(row.estimate.se, e.se));
            assert_eq!(row.estimate.interval, e.interval);
            assert_eq!(row.rows, log.tiers.iter().filter(|&&t| t as u32 == e.domain.unwrap()).count() as u64);
        }
        let pop = population_estimate(&agg, Design::Poisson, 0.95).unwrap();
        assert!(close(s.all.estimate.lower, pop.lower) && close(s.all.estimate.upper, pop.upper));
        assert_eq!(s.blended.n, y.len() as u64);
        assert_eq!((s.ks_path.as_str(), s.all.drift.is_none()), ("none", true));
    }

    #[test]
    fn bad_inputs_name_the_argument() {
        let log = make_log(5_000, 3, 9, 0.0);
        let mut bad = log.pi.clone();
        let i = (0..log.y.len()).rev().find(|&i| !log.y[i].is_nan()).unwrap();
        bad[i] = 0.0;
        let input = SummaryInput {
            tiers: Codes::I64(&log.tiers),
            outcome: &log.y,
            pi: &bad,
            confidence: None,
            reference: Reference::None,
            num_tiers: Some(3),
        };
        let opts = SummaryOptions { chunk_rows: 100, ..SummaryOptions::default() };
        let err = tier_summary(&input, &opts).unwrap_err();
        assert!(err.to_string().contains(&format!("pi[{i}]")), "{err}");
        let input = SummaryInput { pi: &log.pi, num_tiers: Some(2), ..input };
        let first = log.tiers.iter().position(|&t| t == 2).unwrap();
        let err = tier_summary(&input, &opts).unwrap_err();
        assert!(err.to_string().contains(&format!("tiers[{first}]")), "{err}");
        let err =
            tier_summary(&input, &SummaryOptions { level: 1.0, ..SummaryOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("level"), "{err}");
        let short = SummaryInput { outcome: &log.y[1..], ..input };
        assert!(tier_summary(&short, &opts).unwrap_err().to_string().contains("outcome"));
        let no_conf =
            SummaryInput { reference: Reference::Window { mask: &[] }, num_tiers: Some(3), ..input };
        assert!(tier_summary(&no_conf, &opts).unwrap_err().to_string().contains("reference_window"));
        let neg: Vec<i8> = vec![0, 1, -1];
        let three = [0.5; 3];
        let input =
            SummaryInput { tiers: Codes::I8(&neg), outcome: &three, pi: &three, num_tiers: None, ..input };
        assert!(tier_summary(&input, &opts).unwrap_err().to_string().contains("tiers[2]"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The ordered merge of chunk accumulators equals one pass over all rows, for any chunk
        /// size, thread count, bucket count and reference kind.
        #[test]
        fn chunked_equals_single_pass(
            n in 1usize..3000, k in 1u64..5, seed in 0u64..1000, chunk in 1usize..700,
            threads in 1usize..4, grid in prop::sample::select(vec![0.0, 10.0, 1000.0]), kind in 0u8..4,
            buckets in prop::sample::select(vec![0usize, 1, 3, 64]),
        ) {
            let log = make_log(n, k, seed, grid);
            let refs = make_log(200, k, seed + 1, grid);
            let mask: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
            let edges = [0.0, 0.2, 0.5, 0.7, 1.0];
            let counts = [3.0, 10.0, 20.0, 5.0];
            let reference = match kind {
                0 => Reference::Sample { values: Values::F64(&refs.conf), tiers: Some(Codes::I64(&refs.tiers)) },
                1 => Reference::Sample { values: Values::F64(&refs.conf), tiers: None },
                2 => Reference::Window { mask: &mask },
                _ => Reference::Histogram { edges: &edges, counts: &counts },
            };
            let whole = run(&log, reference, SummaryOptions { chunk_rows: usize::MAX, threads: 1, buckets: 1, ..SummaryOptions::default() });
            let parts = run(&log, reference, SummaryOptions { chunk_rows: chunk, threads, buckets, ..SummaryOptions::default() });
            prop_assert!(same(&whole, &parts).is_ok(), "{:?}", same(&whole, &parts));
        }
    }
}
