//! Per-tier summary of a decision log in one sweep: traffic and review counts, the Hájek quality
//! estimate with its design-based interval, and Kolmogorov–Smirnov drift of the router's
//! confidence against a reference — per tier and over all traffic.
//!
//! One parallel sweep over the rows (fixed-size chunks on the pools of [`crate::pool`], merged in
//! chunk order, so results do not depend on the thread count) validates every row and
//! accumulates, per tier, the row count, the Poisson-design sufficient statistics of the reviewed
//! rows ([`CellStats`]) and the tier's confidence values. The estimates are then exactly those of
//! [`domain_estimates`]/[`population_estimate`] (Poisson design, weights 1/π) on the merged cells,
//! with each tier's row count as its known population size.
//!
//! KS: confidence values that are exactly representable as `f32` (a router's output is; also when
//! stored as `f64`, as the decision log does) are gathered as order-preserving 32-bit keys and
//! sorted per tier with an LSD radix sort (three 11/11/10-bit passes, trivial passes skipped),
//! in parallel over tiers. Ties are exact: equal keys are equal values. Any value that is not
//! `f32`-exact switches the whole computation to `f64` values and the core's comparison sort.
//! The statistic is the merged-order walk of [`super::drift::ks_sorted`] and the p-value the
//! core's ([`ks_from_distance`]: scipy `ks_2samp`'s `auto`/`exact`/`asymp`). A reference
//! histogram instead gives the binned KS of the audit (cumulative bin proportions, asymptotic
//! Kolmogorov p-value at n = round(n·m/(n + m))).

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::aggregate::{Aggregate, CellStats};
use super::drift::{kolmogorov_sf, ks_from_distance, ks_sorted, sort_f64, KsMethod, KsResult};
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

    /// Decode rows `range` into `out` (as u32), checking each code is below `limit`. On a bad
    /// code returns its offset within `range` and its value in words.
    fn decode(
        &self,
        range: Range<usize>,
        limit: usize,
        out: &mut [u32],
    ) -> std::result::Result<(), (usize, String)> {
        fn run<T: Copy + std::fmt::Display>(
            src: &[T],
            limit: usize,
            out: &mut [u32],
        ) -> std::result::Result<(), (usize, String)>
        where
            u32: TryFrom<T>,
        {
            for (j, (&c, o)) in src.iter().zip(out.iter_mut()).enumerate() {
                match u32::try_from(c) {
                    Ok(v) if (v as usize) < limit => *o = v,
                    _ => return Err((j, c.to_string())),
                }
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
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self { level: 0.95, ks_method: KsMethod::Auto, threads: 0, chunk_rows: 0 }
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
    /// Rows with a finite confidence (the KS sample; outside the reference window for
    /// [`Reference::Window`]).
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
    /// How KS was computed: "f32_radix", "f64_sort", "binned" or "none".
    pub ks_path: String,
}

// ----------------------------------------------------------------------------- keys

/// Order-preserving 32-bit key of a finite f32 (−0 and +0 share the key of +0).
#[inline]
fn key_of(x: f32) -> u32 {
    let b = if x == 0.0 { 0 } else { x.to_bits() };
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The f32 behind a key.
#[inline]
fn value_of(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

/// The key of a finite f64 when it is exactly an f32.
#[inline]
fn key_of_f64(x: f64) -> Option<u32> {
    let f = x as f32;
    (f as f64 == x).then(|| key_of(f))
}

/// Gathered confidence values of one tier in one chunk.
#[derive(Clone, Debug)]
enum Gathered {
    /// f32-exact values as keys.
    Keys(Vec<u32>),
    /// Values as f64 (some value of the computation is not f32-exact).
    Wide(Vec<f64>),
}

impl Default for Gathered {
    fn default() -> Self {
        Gathered::Keys(Vec::new())
    }
}

impl Gathered {
    fn len(&self) -> usize {
        match self {
            Gathered::Keys(k) => k.len(),
            Gathered::Wide(w) => w.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn widen(&mut self) {
        if let Gathered::Keys(k) = self {
            *self = Gathered::Wide(k.iter().map(|&k| value_of(k) as f64).collect());
        }
    }

    /// Push a finite value, widening when it is not f32-exact (returns whether it widened).
    #[inline]
    fn push_f64(&mut self, x: f64) -> bool {
        match self {
            Gathered::Keys(k) => match key_of_f64(x) {
                Some(key) => {
                    k.push(key);
                    false
                }
                None => {
                    self.widen();
                    if let Gathered::Wide(w) = self {
                        w.push(x);
                    }
                    true
                }
            },
            Gathered::Wide(w) => {
                w.push(x);
                false
            }
        }
    }

    #[inline]
    fn push_f32(&mut self, x: f32) {
        match self {
            Gathered::Keys(k) => k.push(key_of(x)),
            Gathered::Wide(w) => w.push(x as f64),
        }
    }
}

// ----------------------------------------------------------------------------- the sweep

/// Per-tier accumulator of one chunk.
#[derive(Clone, Debug, Default)]
struct TierAcc {
    rows: u64,
    cell: CellStats,
    /// Confidence values compared with the reference.
    sample: Gathered,
    /// Reference-window confidence values ([`Reference::Window`]).
    window: Gathered,
}

/// What one chunk of rows produced.
#[derive(Debug, Default)]
struct ChunkAcc {
    tiers: Vec<TierAcc>,
    /// Some gathered value is not f32-exact (every tier of the chunk holds f64 values).
    wide: bool,
}

impl ChunkAcc {
    fn widen(&mut self) {
        if !self.wide {
            self.wide = true;
            for t in &mut self.tiers {
                t.sample.widen();
                t.window.widen();
            }
        }
    }

    fn tier(&mut self, t: usize) -> &mut TierAcc {
        if t >= self.tiers.len() {
            let wide = self.wide;
            self.tiers.resize_with(t + 1, || {
                let g = || if wide { Gathered::Wide(Vec::new()) } else { Gathered::Keys(Vec::new()) };
                TierAcc { sample: g(), window: g(), ..TierAcc::default() }
            });
        }
        &mut self.tiers[t]
    }
}

fn row_error(argument: &str, i: usize, expected: String) -> TierscopeError {
    TierscopeError::invalid(format!("{argument}[{i}]"), expected)
}

/// Sweep rows `range` of the log: validate, count, accumulate reviewed rows and gather
/// confidences by tier.
fn sweep_log(input: &SummaryInput<'_>, limit: usize, range: Range<usize>) -> Result<ChunkAcc> {
    let mut acc = ChunkAcc::default();
    let mut codes = [0u32; BLOCK];
    let mask = match input.reference {
        Reference::Window { mask } => Some(mask),
        _ => None,
    };
    let mut start = range.start;
    while start < range.end {
        let end = (start + BLOCK).min(range.end);
        let block = &mut codes[..end - start];
        if let Err((j, value)) = input.tiers.decode(start..end, limit, block) {
            return Err(row_error("tiers", start + j, format!("a tier code in 0..{limit}, got {value}")));
        }
        if let Some(&top) = block.iter().max() {
            acc.tier(top as usize);
        }
        let y = &input.outcome[start..end];
        let pi = &input.pi[start..end];
        for (j, &t) in block.iter().enumerate() {
            let tier = &mut acc.tiers[t as usize];
            tier.rows += 1;
            let yj = y[j];
            if !yj.is_nan() {
                if !yj.is_finite() {
                    return Err(row_error(
                        "outcome",
                        start + j,
                        format!("a finite outcome, or NaN for not reviewed, got {yj}"),
                    ));
                }
                let p = pi[j];
                if !(p > 0.0 && p <= 1.0) {
                    return Err(row_error(
                        "pi",
                        start + j,
                        format!("an inclusion probability in (0, 1] for a reviewed row, got {p}"),
                    ));
                }
                tier.cell.add_unit(yj, p);
            }
        }
        match input.confidence {
            Some(Values::F32(c)) => {
                for (j, &t) in block.iter().enumerate() {
                    let x = c[start + j];
                    if x.is_finite() {
                        let tier = &mut acc.tiers[t as usize];
                        let side = if mask.is_some_and(|m| m[start + j]) {
                            &mut tier.window
                        } else {
                            &mut tier.sample
                        };
                        side.push_f32(x);
                    }
                }
            }
            Some(Values::F64(c)) => {
                for (j, &t) in block.iter().enumerate() {
                    let x = c[start + j];
                    if x.is_finite() {
                        let tier = &mut acc.tiers[t as usize];
                        let side = if mask.is_some_and(|m| m[start + j]) {
                            &mut tier.window
                        } else {
                            &mut tier.sample
                        };
                        if side.push_f64(x) {
                            acc.widen();
                        }
                    }
                }
            }
            None => {}
        }
        start = end;
    }
    Ok(acc)
}

/// Sweep rows `range` of a reference sample: gather finite values by tier (all in tier 0 when
/// the reference has no tiers).
fn sweep_reference(
    values: Values<'_>,
    tiers: Option<Codes<'_>>,
    limit: usize,
    range: Range<usize>,
) -> Result<ChunkAcc> {
    let mut acc = ChunkAcc::default();
    acc.tier(0);
    let mut codes = [0u32; BLOCK];
    let mut start = range.start;
    while start < range.end {
        let end = (start + BLOCK).min(range.end);
        let block = &mut codes[..end - start];
        match tiers {
            Some(t) => {
                if let Err((j, value)) = t.decode(start..end, limit, block) {
                    return Err(row_error(
                        "reference_tiers",
                        start + j,
                        format!("a tier code in 0..{limit}, got {value}"),
                    ));
                }
                if let Some(&top) = block.iter().max() {
                    acc.tier(top as usize);
                }
            }
            None => block.fill(0),
        }
        for (j, &t) in block.iter().enumerate() {
            match values {
                Values::F32(v) => {
                    let x = v[start + j];
                    if x.is_finite() {
                        acc.tiers[t as usize].sample.push_f32(x);
                    }
                }
                Values::F64(v) => {
                    let x = v[start + j];
                    if x.is_finite() && acc.tiers[t as usize].sample.push_f64(x) {
                        acc.widen();
                    }
                }
            }
        }
        start = end;
    }
    Ok(acc)
}

/// Run `sweep` over `len` rows in chunks of `chunk` rows, in parallel on the current pool;
/// results in chunk order, the first error (lowest row) wins.
fn chunked(
    len: usize,
    chunk: usize,
    sweep: impl Fn(Range<usize>) -> Result<ChunkAcc> + Sync,
) -> Result<Vec<ChunkAcc>> {
    let chunks = len.div_ceil(chunk);
    let parts: Vec<Result<ChunkAcc>> = (0..chunks)
        .into_par_iter()
        .map(|c| sweep(c * chunk..(c * chunk).saturating_add(chunk).min(len)))
        .collect();
    parts.into_iter().collect()
}

// ----------------------------------------------------------------------------- sorting and KS

const RADIX_BITS: u32 = 11;
const RADIX: usize = 1 << RADIX_BITS;
const SHIFTS: [u32; 3] = [0, 11, 22];

#[inline]
fn digit(k: u32, shift: u32) -> usize {
    ((k >> shift) as usize) & (RADIX - 1)
}

/// The keys of all `parts`, sorted ascending (LSD radix sort; a pass whose digit is the same for
/// every key is skipped; the first pass reads the parts directly, so they are not concatenated).
pub(crate) fn radix_sort_parts(parts: &[&[u32]]) -> Vec<u32> {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    let mut hist = vec![[0usize; RADIX]; 3];
    for p in parts {
        for &k in p.iter() {
            hist[0][digit(k, 0)] += 1;
            hist[1][digit(k, 11)] += 1;
            hist[2][digit(k, 22)] += 1;
        }
    }
    let active: Vec<usize> = (0..3).filter(|&d| hist[d].iter().all(|&c| c < n)).collect();
    let offsets = |d: usize| {
        let mut off = [0usize; RADIX];
        let mut sum = 0;
        for (o, &c) in off.iter_mut().zip(hist[d].iter()) {
            *o = sum;
            sum += c;
        }
        off
    };
    let Some((&first, rest)) = active.split_first() else {
        return parts.concat();
    };
    let mut out = vec![0u32; n];
    let mut off = offsets(first);
    for p in parts {
        for &k in p.iter() {
            let b = digit(k, SHIFTS[first]);
            out[off[b]] = k;
            off[b] += 1;
        }
    }
    if rest.is_empty() {
        return out;
    }
    let mut tmp = vec![0u32; n];
    for &d in rest {
        let mut off = offsets(d);
        for &k in &out {
            let b = digit(k, SHIFTS[d]);
            tmp[off[b]] = k;
            off[b] += 1;
        }
        std::mem::swap(&mut out, &mut tmp);
    }
    out
}

/// max |i·n_b − j·n_a| over the merged order of sorted samples `a` and `b`, each given as sorted
/// parts (their union is the sample), evaluated after all ties at a value — the walk of
/// [`super::drift::ks_sorted`]. Returns (n_a, n_b, distance).
pub(crate) fn ks_distance_parts<T: Copy + PartialOrd>(a: &[&[T]], b: &[&[T]]) -> (u64, u64, i128) {
    let na: usize = a.iter().map(|p| p.len()).sum();
    let nb: usize = b.iter().map(|p| p.len()).sum();
    let (n1, n2) = (na as i128, nb as i128);
    let mut best: i128 = 0;
    if let ([a], [b]) = (a, b) {
        let (mut i, mut j) = (0usize, 0usize);
        // Once one side is exhausted the distance only shrinks to 0: stop there.
        while i < a.len() && j < b.len() {
            let v = if a[i] <= b[j] { a[i] } else { b[j] };
            while i < a.len() && a[i] <= v {
                i += 1;
            }
            while j < b.len() && b[j] <= v {
                j += 1;
            }
            best = best.max((i as i128 * n2 - j as i128 * n1).abs());
        }
        return (na as u64, nb as u64, best);
    }
    let mut ia = vec![0usize; a.len()];
    let mut ib = vec![0usize; b.len()];
    let (mut i, mut j) = (0usize, 0usize);
    while i < na && j < nb {
        let mut v: Option<T> = None;
        for (p, &h) in a.iter().zip(&ia).chain(b.iter().zip(&ib)) {
            if let Some(&x) = p.get(h) {
                if v.is_none_or(|m| x < m) {
                    v = Some(x);
                }
            }
        }
        let Some(v) = v else { break };
        for (p, h) in a.iter().zip(ia.iter_mut()) {
            while *h < p.len() && p[*h] <= v {
                *h += 1;
                i += 1;
            }
        }
        for (p, h) in b.iter().zip(ib.iter_mut()) {
            while *h < p.len() && p[*h] <= v {
                *h += 1;
                j += 1;
            }
        }
        best = best.max((i as i128 * n2 - j as i128 * n1).abs());
    }
    (na as u64, nb as u64, best)
}

/// KS of sorted sample parts `sample` against sorted reference parts `reference`.
fn ks_parts<T: Copy + PartialOrd>(reference: &[&[T]], sample: &[&[T]], method: KsMethod) -> Option<KsResult> {
    let (n1, n2, best) = ks_distance_parts(reference, sample);
    (n1 > 0 && n2 > 0).then(|| ks_from_distance(n1, n2, best, method))
}

/// Sorted samples of one side, as keys or as f64.
#[derive(Debug)]
enum Sorted {
    Keys(Vec<u32>),
    Wide(Vec<f64>),
}

impl Sorted {
    fn len(&self) -> usize {
        match self {
            Sorted::Keys(k) => k.len(),
            Sorted::Wide(w) => w.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sort the union of gathered parts (all keys, or all wide when `wide`).
fn sort_gathered(parts: &[&Gathered], wide: bool) -> Sorted {
    if wide {
        let mut v: Vec<f64> = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            match p {
                Gathered::Wide(w) => v.extend_from_slice(w),
                Gathered::Keys(k) => v.extend(k.iter().map(|&k| value_of(k) as f64)),
            }
        }
        sort_f64(&mut v);
        Sorted::Wide(v)
    } else {
        let keys: Vec<&[u32]> = parts
            .iter()
            .filter_map(|p| match p {
                Gathered::Keys(k) => Some(k.as_slice()),
                Gathered::Wide(_) => None,
            })
            .collect();
        Sorted::Keys(radix_sort_parts(&keys))
    }
}

/// KS of the union of `sample` against the union of `reference` (sorted sides).
fn ks_sorted_sides(reference: &[&Sorted], sample: &[&Sorted], method: KsMethod) -> Option<KsResult> {
    fn keys<'a>(s: &[&'a Sorted]) -> Option<Vec<&'a [u32]>> {
        s.iter()
            .map(|x| match x {
                Sorted::Keys(k) => Some(k.as_slice()),
                Sorted::Wide(_) => None,
            })
            .collect()
    }
    fn wide<'a>(s: &[&'a Sorted]) -> Option<Vec<&'a [f64]>> {
        s.iter()
            .map(|x| match x {
                Sorted::Wide(w) => Some(w.as_slice()),
                Sorted::Keys(_) => None,
            })
            .collect()
    }
    if let (Some(r), Some(s)) = (keys(reference), keys(sample)) {
        return ks_parts(&r, &s, method);
    }
    let (r, s) = (wide(reference)?, wide(sample)?);
    if let ([r], [s]) = (r.as_slice(), s.as_slice()) {
        // One sorted f64 sample per side: the core's own walk.
        return (!r.is_empty() && !s.is_empty()).then(|| ks_sorted(r, s, method));
    }
    ks_parts(&r, &s, method)
}

/// Bin index of `x` in `edges` as numpy's `histogram(clip(x, e0, e_last), edges)`.
#[inline]
fn bin_of(edges: &[f64], x: f64) -> usize {
    let x = x.clamp(edges[0], edges[edges.len() - 1]);
    let bins = edges.len() - 1;
    edges.partition_point(|&e| e <= x).saturating_sub(1).min(bins - 1)
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

/// Counts per bin of gathered values.
fn bin_counts(parts: &[&Gathered], edges: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() - 1];
    for p in parts {
        match p {
            Gathered::Keys(k) => {
                for &k in k {
                    counts[bin_of(edges, value_of(k) as f64)] += 1;
                }
            }
            Gathered::Wide(w) => {
                for &x in w {
                    counts[bin_of(edges, x)] += 1;
                }
            }
        }
    }
    counts
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
        Some(k) if k > u32::MAX as usize => {
            Err(TierscopeError::invalid("num_tiers", format!("at most {} tiers, got {k}", u32::MAX)))
        }
        Some(k) => Ok(k),
        None => Ok(MAX_TIERS),
    }
}

// ----------------------------------------------------------------------------- the summary

/// Merged per-tier state after the sweep.
struct Merged {
    rows: Vec<u64>,
    cells: Vec<CellStats>,
    /// Per tier, the chunks' gathered samples and window samples.
    sample: Vec<Vec<Gathered>>,
    window: Vec<Vec<Gathered>>,
    wide: bool,
}

fn merge_chunks(chunks: Vec<ChunkAcc>, k: usize) -> Merged {
    let mut m = Merged {
        rows: vec![0; k],
        cells: vec![CellStats::default(); k],
        sample: (0..k).map(|_| Vec::new()).collect(),
        window: (0..k).map(|_| Vec::new()).collect(),
        wide: chunks.iter().any(|c| c.wide),
    };
    for c in chunks {
        for (t, acc) in c.tiers.into_iter().enumerate() {
            m.rows[t] += acc.rows;
            m.cells[t].merge(&acc.cell);
            if !acc.sample.is_empty() {
                m.sample[t].push(acc.sample);
            }
            if !acc.window.is_empty() {
                m.window[t].push(acc.window);
            }
        }
    }
    m
}

/// Reference samples by tier (the whole reference in slot 0 when it has no tiers).
fn merge_reference(chunks: Vec<ChunkAcc>, k: usize) -> (Vec<Vec<Gathered>>, bool) {
    let wide = chunks.iter().any(|c| c.wide);
    let mut out: Vec<Vec<Gathered>> = (0..k.max(1)).map(|_| Vec::new()).collect();
    for c in chunks {
        for (t, acc) in c.tiers.into_iter().enumerate() {
            if !acc.sample.is_empty() {
                out[t].push(acc.sample);
            }
        }
    }
    (out, wide)
}

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

/// Per-tier counts, Hájek estimates with design-based intervals and KS drift of a decision log,
/// plus the all-traffic and blended figures, in one parallel sweep over the rows.
///
/// Every bad input is an [`TierscopeError::InvalidInput`] naming the argument (and the first bad
/// row); nothing is returned on error.
pub fn tier_summary(input: &SummaryInput<'_>, opts: &SummaryOptions) -> Result<TierSummary> {
    let limit = validate(input, opts)?;
    let chunk = if opts.chunk_rows == 0 { DEFAULT_CHUNK_ROWS } else { opts.chunk_rows };
    let n = input.tiers.len();
    crate::pool::install(opts.threads, || {
        let (log, reference) = rayon::join(
            || chunked(n, chunk, |r| sweep_log(input, limit, r)),
            || match input.reference {
                Reference::Sample { values, tiers } => {
                    chunked(values.len(), chunk, |r| sweep_reference(values, tiers, limit, r)).map(Some)
                }
                _ => Ok(None),
            },
        );
        let log = log?;
        let reference = reference?;
        let seen = |chunks: &[ChunkAcc]| chunks.iter().map(|c| c.tiers.len()).max().unwrap_or(0);
        let k = match input.num_tiers {
            Some(k) => k,
            None => {
                let ref_k = match (&reference, input.reference) {
                    (Some(r), Reference::Sample { tiers: Some(_), .. }) => seen(r),
                    _ => 0,
                };
                seen(&log).max(ref_k).max(1)
            }
        };
        let mut merged = merge_chunks(log, k);
        let (reference, ref_wide) = match reference {
            Some(r) => merge_reference(r, k),
            None => (Vec::new(), false),
        };
        let per_tier_reference = matches!(input.reference, Reference::Sample { tiers: Some(_), .. });
        let wide = merged.wide || ref_wide;
        let method = opts.ks_method;

        // Estimates from the merged cells (tier = domain, one stratum; traffic = population).
        let mut agg = Aggregate::new();
        for t in 0..k {
            let mut cell = merged.cells[t];
            cell.population = merged.rows[t] as f64;
            agg.merge_cell(0, t as u32, &cell);
        }
        let codes: Vec<u32> = (0..k as u32).collect();
        let estimates = domain_estimates(&agg, Design::Poisson, opts.level, Some(&codes))?;
        let overall = population_estimate(&agg, Design::Poisson, opts.level)?;
        let mut all_cell = CellStats::default();
        for c in &merged.cells {
            all_cell.merge(c);
        }
        let blend = blended(&all_cell, input.outcome, opts.level)?;

        // Drift.
        let with_conf: Vec<u64> =
            merged.sample.iter().map(|parts| parts.iter().map(|p| p.len() as u64).sum()).collect();
        let (drift, all_drift, ks_path): (Vec<Option<KsResult>>, Option<KsResult>, &str) = match input
            .reference
        {
            Reference::None => (vec![None; k], None, "none"),
            Reference::Histogram { edges, counts } => {
                let per: Vec<Vec<u64>> = merged
                    .sample
                    .par_iter()
                    .map(|parts| bin_counts(&parts.iter().collect::<Vec<_>>(), edges))
                    .collect();
                let mut total = vec![0u64; edges.len() - 1];
                for c in &per {
                    for (t, x) in total.iter_mut().zip(c) {
                        *t += x;
                    }
                }
                (per.iter().map(|c| binned_ks(counts, c)).collect(), binned_ks(counts, &total), "binned")
            }
            Reference::Sample { .. } | Reference::Window { .. } => {
                // Sort every side once (tiers in parallel, largest first), then walk.
                let window = matches!(input.reference, Reference::Window { .. });
                let mut jobs: Vec<(usize, bool, Vec<&Gathered>)> = Vec::new();
                for t in 0..k {
                    jobs.push((t, false, merged.sample[t].iter().collect()));
                    if window {
                        jobs.push((t, true, merged.window[t].iter().collect()));
                    } else if per_tier_reference {
                        jobs.push((
                            t,
                            true,
                            reference.get(t).map(|r| r.iter().collect()).unwrap_or_default(),
                        ));
                    }
                }
                if !window && !per_tier_reference {
                    jobs.push((k, true, reference.first().map(|r| r.iter().collect()).unwrap_or_default()));
                }
                jobs.sort_by_key(|j| std::cmp::Reverse(j.2.iter().map(|g| g.len()).sum::<usize>()));
                let sorted: Vec<(usize, bool, Sorted)> = jobs
                    .into_par_iter()
                    .map(|(t, is_ref, parts)| (t, is_ref, sort_gathered(&parts, wide)))
                    .collect();
                // Gathered parts are no longer needed: free them before walking.
                merged.sample.clear();
                merged.window.clear();
                let mut samples: Vec<Option<Sorted>> = (0..k).map(|_| None).collect();
                let mut refs: Vec<Option<Sorted>> = (0..=k).map(|_| None).collect();
                for (t, is_ref, s) in sorted {
                    if is_ref {
                        refs[t] = Some(s);
                    } else {
                        samples[t] = Some(s);
                    }
                }
                let empty = if wide { Sorted::Wide(Vec::new()) } else { Sorted::Keys(Vec::new()) };
                let reference_of = |t: usize| -> &Sorted {
                    let slot = if window || per_tier_reference { t } else { k };
                    refs[slot].as_ref().unwrap_or(&empty)
                };
                let per: Vec<Option<KsResult>> = (0..k)
                    .into_par_iter()
                    .map(|t| {
                        ks_sorted_sides(&[reference_of(t)], &[samples[t].as_ref().unwrap_or(&empty)], method)
                    })
                    .collect();
                let all_samples: Vec<&Sorted> = samples.iter().flatten().filter(|s| !s.is_empty()).collect();
                let all_refs: Vec<&Sorted> = if window || per_tier_reference {
                    refs[..k].iter().flatten().filter(|s| !s.is_empty()).collect()
                } else {
                    vec![reference_of(k)]
                };
                let all = ks_sorted_sides(&all_refs, &all_samples, method);
                (per, all, if wide { "f64_sort" } else { "f32_radix" })
            }
        };

        let tiers: Vec<TierRow> = (0..k)
            .map(|t| TierRow {
                tier: Some(t as u32),
                rows: merged.rows[t],
                reviewed: merged.cells[t].n,
                with_confidence: with_conf[t],
                estimate: estimates[t].clone(),
                drift: drift[t].clone(),
            })
            .collect();
        let all = TierRow {
            tier: None,
            rows: merged.rows.iter().sum(),
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

    fn make_log(n: usize, k: u64, seed: u64, f32_exact: bool) -> Log {
        let mut rng = Xoshiro256::new(seed, 0);
        let mut log = Log { tiers: vec![], y: vec![], pi: vec![], conf: vec![] };
        for _ in 0..n {
            let t = rng.below(k);
            let p = [0.05, 0.2, 1.0][rng.below(3) as usize];
            let reviewed = rng.uniform() < p;
            let y = if reviewed { (rng.uniform() < 0.8 - 0.1 * t as f64) as u8 as f64 } else { f64::NAN };
            let c = (rng.uniform() * 100.0).round() / 100.0 + 0.01 * t as f64;
            log.tiers.push(t as i64);
            log.y.push(y);
            log.pi.push(p);
            log.conf.push(if f32_exact { c as f32 as f64 } else { c });
        }
        log
    }

    fn run(log: &Log, reference: Reference<'_>, chunk_rows: usize, threads: usize) -> TierSummary {
        let input = SummaryInput {
            tiers: Codes::I64(&log.tiers),
            outcome: &log.y,
            pi: &log.pi,
            confidence: Some(Values::F64(&log.conf)),
            reference,
            num_tiers: None,
        };
        tier_summary(&input, &SummaryOptions { chunk_rows, threads, ..SummaryOptions::default() }).unwrap()
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
    fn keys_preserve_order_and_ties() {
        let xs = [-3.5f32, -1e-30, -0.0, 0.0, 1e-40, 0.25, 0.5, 1.0, 7e30];
        for w in xs.windows(2) {
            assert!(key_of(w[0]) <= key_of(w[1]));
            assert_eq!(w[0] == w[1], key_of(w[0]) == key_of(w[1]));
        }
        for &x in &xs {
            assert_eq!(value_of(key_of(x)), if x == 0.0 { 0.0 } else { x });
        }
        assert_eq!(key_of_f64(0.1), None);
        assert_eq!(key_of_f64(0.25), Some(key_of(0.25)));
    }

    #[test]
    fn radix_sort_matches_std_sort() {
        let mut rng = Xoshiro256::new(3, 0);
        for case in 0..40 {
            let parts: Vec<Vec<u32>> = (0..1 + case % 4)
                .map(|_| {
                    (0..rng.below(3000))
                        .map(|_| match case % 3 {
                            0 => rng.bits() as u32,
                            1 => 0x8000_0000 | (rng.below(1 << 12) as u32),
                            _ => 7,
                        })
                        .collect()
                })
                .collect();
            let views: Vec<&[u32]> = parts.iter().map(|p| p.as_slice()).collect();
            let mut expected = parts.concat();
            expected.sort_unstable();
            assert_eq!(radix_sort_parts(&views), expected, "case {case}");
        }
    }

    #[test]
    fn ks_matches_core_ks_2samp_on_both_paths() {
        for f32_exact in [true, false] {
            let log = make_log(20_000, 3, 5, f32_exact);
            let refs = make_log(3_000, 3, 6, f32_exact);
            let ref_codes = refs.tiers.clone();
            let reference =
                Reference::Sample { values: Values::F64(&refs.conf), tiers: Some(Codes::I64(&ref_codes)) };
            let s = run(&log, reference, 0, 0);
            assert_eq!(s.ks_path, if f32_exact { "f32_radix" } else { "f64_sort" });
            for t in 0..3 {
                let prod: Vec<f64> =
                    (0..log.tiers.len()).filter(|&i| log.tiers[i] == t).map(|i| log.conf[i]).collect();
                let r: Vec<f64> =
                    (0..refs.tiers.len()).filter(|&i| refs.tiers[i] == t).map(|i| refs.conf[i]).collect();
                assert_eq!(s.tiers[t as usize].drift, Some(ks_2samp(&r, &prod, KsMethod::Auto).unwrap()));
            }
            assert_eq!(s.all.drift, Some(ks_2samp(&refs.conf, &log.conf, KsMethod::Auto).unwrap()));
        }
    }

    #[test]
    fn estimates_match_the_aggregate_estimators() {
        let log = make_log(30_000, 4, 8, true);
        let s = run(&log, Reference::None, 0, 0);
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
    }

    #[test]
    fn bad_inputs_name_the_argument() {
        let log = make_log(5_000, 3, 9, true);
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
        let err = tier_summary(&input, &SummaryOptions { chunk_rows: 100, ..SummaryOptions::default() })
            .unwrap_err();
        assert!(err.to_string().contains(&format!("pi[{i}]")), "{err}");
        let input = SummaryInput { pi: &log.pi, num_tiers: Some(2), ..input };
        let err = tier_summary(&input, &SummaryOptions::default()).unwrap_err();
        assert!(err.to_string().contains("tiers["), "{err}");
        let err =
            tier_summary(&input, &SummaryOptions { level: 1.0, ..SummaryOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("level"), "{err}");
        let short = &log.y[1..];
        let input = SummaryInput { outcome: short, ..input };
        assert!(tier_summary(&input, &SummaryOptions::default())
            .unwrap_err()
            .to_string()
            .contains("outcome"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The ordered merge of chunk accumulators equals one pass over all rows, for any chunk
        /// size, thread count and reference kind.
        #[test]
        fn chunked_equals_single_pass(
            n in 1usize..3000, k in 1u64..5, seed in 0u64..1000, chunk in 1usize..700,
            threads in 1usize..4, f32_exact in any::<bool>(), kind in 0u8..3,
        ) {
            let log = make_log(n, k, seed, f32_exact);
            let refs = make_log(200, k, seed + 1, f32_exact);
            let mask: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
            let edges = [0.0, 0.2, 0.5, 0.7, 1.0];
            let counts = [3.0, 10.0, 20.0, 5.0];
            let reference = match kind {
                0 => Reference::Sample { values: Values::F64(&refs.conf), tiers: Some(Codes::I64(&refs.tiers)) },
                1 => Reference::Window { mask: &mask },
                _ => Reference::Histogram { edges: &edges, counts: &counts },
            };
            let whole = run(&log, reference, usize::MAX, 1);
            let parts = run(&log, reference, chunk, threads);
            prop_assert!(same(&whole, &parts).is_ok(), "{:?}", same(&whole, &parts));
        }
    }
}
