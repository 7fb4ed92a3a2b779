//! Mergeable per-(stratum, domain) sufficient statistics.
//!
//! Every estimator in [`super::estimators`] is a function of these sums, so estimates computed
//! from merged partial aggregates (shards of the traffic log, processed separately) equal the
//! estimates over the whole. Merging adds sums cell by cell: associative and commutative. Both the
//! population counts and the sampled units of a partition are added, so partitions must split
//! the population and its sample together (e.g. by time or worker); a stratum key that occurs in
//! two partitions is one stratum of one design.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_finite, check_pi, check_same_len};
use crate::error::{Result, TierscopeError};

/// Sufficient statistics of one (stratum, domain) cell. `w = 1/π`, `v = w² − w = (1 − π)/π²`
/// (the Poisson-sampling variance weight).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CellStats {
    /// Sampled units.
    pub n: u64,
    /// Population units (sampled or not) known to fall in the cell.
    pub population: f64,
    /// Σw.
    pub sum_w: f64,
    /// Σw².
    pub sum_w2: f64,
    /// Σy.
    pub sum_y: f64,
    /// Σy².
    pub sum_y2: f64,
    /// Σwy.
    pub sum_wy: f64,
    /// Σwy².
    pub sum_wy2: f64,
    /// Σv.
    pub sum_v: f64,
    /// Σvy.
    pub sum_vy: f64,
    /// Σvy².
    pub sum_vy2: f64,
    /// Smallest sampled score (meaningful when n > 0).
    pub min_y: f64,
    /// Largest sampled score (meaningful when n > 0).
    pub max_y: f64,
}

impl CellStats {
    /// Add one sampled unit with score `y` and inclusion probability `pi`.
    pub fn add_unit(&mut self, y: f64, pi: f64) {
        let w = 1.0 / pi;
        let v = w * w - w;
        if self.n == 0 {
            self.min_y = y;
            self.max_y = y;
        } else {
            self.min_y = self.min_y.min(y);
            self.max_y = self.max_y.max(y);
        }
        self.n += 1;
        self.sum_w += w;
        self.sum_w2 += w * w;
        self.sum_y += y;
        self.sum_y2 += y * y;
        self.sum_wy += w * y;
        self.sum_wy2 += w * y * y;
        self.sum_v += v;
        self.sum_vy += v * y;
        self.sum_vy2 += v * y * y;
    }

    /// Add another cell's sums.
    pub fn merge(&mut self, o: &CellStats) {
        if o.n > 0 {
            if self.n == 0 {
                self.min_y = o.min_y;
                self.max_y = o.max_y;
            } else {
                self.min_y = self.min_y.min(o.min_y);
                self.max_y = self.max_y.max(o.max_y);
            }
        }
        self.n += o.n;
        self.population += o.population;
        self.sum_w += o.sum_w;
        self.sum_w2 += o.sum_w2;
        self.sum_y += o.sum_y;
        self.sum_y2 += o.sum_y2;
        self.sum_wy += o.sum_wy;
        self.sum_wy2 += o.sum_wy2;
        self.sum_v += o.sum_v;
        self.sum_vy += o.sum_vy;
        self.sum_vy2 += o.sum_vy2;
    }
}

#[derive(Serialize, Deserialize)]
struct CellEntry {
    stratum: u32,
    domain: u32,
    #[serde(flatten)]
    stats: CellStats,
}

#[derive(Serialize, Deserialize)]
struct AggregateRepr {
    cells: Vec<CellEntry>,
}

/// Re-base `name[i]` by `offset` so chunked validation reports the caller's index.
fn shift_index(argument: &str, offset: usize) -> String {
    if let (Some(open), true) = (argument.find('['), argument.ends_with(']')) {
        if let Ok(i) = argument[open + 1..argument.len() - 1].parse::<usize>() {
            return format!("{}[{}]", &argument[..open], i + offset);
        }
    }
    argument.to_string()
}

/// Per-(stratum, domain) sufficient statistics; serde-serialisable and mergeable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "AggregateRepr", into = "AggregateRepr")]
pub struct Aggregate {
    cells: BTreeMap<(u32, u32), CellStats>,
}

impl From<AggregateRepr> for Aggregate {
    fn from(r: AggregateRepr) -> Self {
        let mut a = Aggregate::new();
        for e in r.cells {
            a.cells.entry((e.stratum, e.domain)).or_default().merge(&e.stats);
        }
        a
    }
}

impl From<Aggregate> for AggregateRepr {
    fn from(a: Aggregate) -> Self {
        AggregateRepr {
            cells: a
                .cells
                .into_iter()
                .map(|((stratum, domain), stats)| CellEntry { stratum, domain, stats })
                .collect(),
        }
    }
}

impl Aggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sufficient statistics of a sample: scores `y`, inclusion probabilities `pi`, stratum and
    /// domain codes per unit.
    pub fn from_sample(y: &[f64], pi: &[f64], strata: &[u32], domains: &[u32]) -> Result<Self> {
        let mut a = Self::new();
        a.add_sample(y, pi, strata, domains)?;
        Ok(a)
    }

    /// Like [`Aggregate::from_sample`], built in parallel (on the default pool of
    /// [`crate::pool`]) over chunks that are then merged in order (the merge is exact up to
    /// floating-point summation order; the result does not depend on the thread count).
    pub fn from_sample_par(y: &[f64], pi: &[f64], strata: &[u32], domains: &[u32]) -> Result<Self> {
        use rayon::prelude::*;
        check_same_len("pi", pi.len(), "y", y.len())?;
        check_same_len("strata", strata.len(), "y", y.len())?;
        check_same_len("domains", domains.len(), "y", y.len())?;
        const CHUNK: usize = 1 << 18;
        let chunks = y.len().div_ceil(CHUNK);
        let build = |c: usize| {
            let (a, b) = (c * CHUNK, ((c + 1) * CHUNK).min(y.len()));
            Aggregate::from_sample(&y[a..b], &pi[a..b], &strata[a..b], &domains[a..b]).map_err(|e| match e {
                TierscopeError::InvalidInput { argument, expected } => {
                    TierscopeError::InvalidInput { argument: shift_index(&argument, a), expected }
                }
                other => other,
            })
        };
        // One chunk needs no workers (and no pool hand-off); more run on the default pool.
        let parts: Vec<Result<Aggregate>> = if chunks <= 1 {
            (0..chunks).map(build).collect()
        } else {
            crate::pool::install(0, || (0..chunks).into_par_iter().map(build).collect())?
        };
        let mut out = Aggregate::new();
        for p in parts {
            out.merge(&p?);
        }
        Ok(out)
    }

    /// Add sampled units (validated first; nothing is added on error).
    pub fn add_sample(&mut self, y: &[f64], pi: &[f64], strata: &[u32], domains: &[u32]) -> Result<()> {
        check_same_len("pi", pi.len(), "y", y.len())?;
        check_same_len("strata", strata.len(), "y", y.len())?;
        check_same_len("domains", domains.len(), "y", y.len())?;
        check_finite("y", y)?;
        check_pi("pi", pi)?;
        let max_h = strata.iter().copied().max().unwrap_or(0) as usize;
        let max_d = domains.iter().copied().max().unwrap_or(0) as usize;
        let dense = (max_h + 1).checked_mul(max_d + 1).filter(|&k| k <= 1 << 16);
        if let Some(k) = dense {
            // Small code ranges (the usual case): a dense table instead of a map lookup per row.
            let mut table = vec![CellStats::default(); k];
            let mut used = vec![false; k];
            for i in 0..y.len() {
                let slot = strata[i] as usize * (max_d + 1) + domains[i] as usize;
                table[slot].add_unit(y[i], pi[i]);
                used[slot] = true;
            }
            for (slot, cell) in table.iter().enumerate() {
                if used[slot] {
                    let key = ((slot / (max_d + 1)) as u32, (slot % (max_d + 1)) as u32);
                    self.cells.entry(key).or_default().merge(cell);
                }
            }
        } else {
            for i in 0..y.len() {
                self.cells.entry((strata[i], domains[i])).or_default().add_unit(y[i], pi[i]);
            }
        }
        Ok(())
    }

    /// Count population units (one per entry) into their (stratum, domain) cells.
    pub fn add_population(&mut self, strata: &[u32], domains: &[u32]) -> Result<()> {
        check_same_len("population_domains", domains.len(), "population_strata", strata.len())?;
        for (&h, &d) in strata.iter().zip(domains) {
            self.cells.entry((h, d)).or_default().population += 1.0;
        }
        Ok(())
    }

    /// Add `count` population units to cell (stratum, domain).
    pub fn add_population_count(&mut self, stratum: u32, domain: u32, count: f64) -> Result<()> {
        if !(count.is_finite() && count >= 0.0) {
            return Err(TierscopeError::invalid(
                "count",
                format!("a non-negative, finite population count, got {count}"),
            ));
        }
        self.cells.entry((stratum, domain)).or_default().population += count;
        Ok(())
    }

    /// Add `stats` to cell (stratum, domain), for callers that accumulate cells themselves.
    pub fn merge_cell(&mut self, stratum: u32, domain: u32, stats: &CellStats) {
        self.cells.entry((stratum, domain)).or_default().merge(stats);
    }

    /// Merge `other` into `self` (cell-wise sums).
    pub fn merge(&mut self, other: &Aggregate) {
        for (k, c) in &other.cells {
            self.cells.entry(*k).or_default().merge(c);
        }
    }

    /// The merge of two aggregates.
    pub fn merged(a: &Aggregate, b: &Aggregate) -> Aggregate {
        let mut out = a.clone();
        out.merge(b);
        out
    }

    /// Iterate over ((stratum, domain), stats).
    pub fn cells(&self) -> impl Iterator<Item = (&(u32, u32), &CellStats)> {
        self.cells.iter()
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Relabel domains with `f(stratum, domain)` (cells that collide are merged).
    pub fn rekey_domains(&self, f: impl Fn(u32, u32) -> u32) -> Aggregate {
        let mut out = Aggregate::new();
        for (&(h, d), c) in &self.cells {
            out.cells.entry((h, f(h, d))).or_default().merge(c);
        }
        out
    }

    /// Per-stratum totals (sampled units, population) over all domains.
    pub fn stratum_totals(&self) -> BTreeMap<u32, (u64, f64)> {
        let mut m: BTreeMap<u32, (u64, f64)> = BTreeMap::new();
        for (&(h, _), c) in &self.cells {
            let e = m.entry(h).or_default();
            e.0 += c.n;
            e.1 += c.population;
        }
        m
    }

    /// JSON text of the aggregate.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| TierscopeError::invalid("aggregate", format!("serialisable state: {e}")))
    }

    /// Parse an aggregate from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| TierscopeError::invalid("json", format!("a serialised Aggregate: {e}")))
    }
}
