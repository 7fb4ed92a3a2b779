"""Type stubs for the native module ``tierscope._core`` (built from ``src/python``).

Checked against the built module by ``python -m mypy.stubtest tierscope._core --allowlist
stubtest-allowlist.txt`` (``make lint``): every name, signature, default and class attribute here
exists at runtime. Result classes (``Stats*``, ``RouteColumns``, ``HeadFit``, ``BuildInfo``) are frozen:
their attributes are read-only and they cannot be built or subclassed from Python.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "RouterCore",
    "RouteColumns",
    "fit_router",
    "embed_texts",
    "HeadFit",
    "fit_head",
    "route_utf8",
    "tail_scores",
    "fit_regions",
    "BuildInfo",
    "onnxruntime_info",
    "cpu_features",
    "build_info",
    "stats_beta_ppf",
    "stats_t_ppf",
    "stats_norm_ppf",
    "stats_binom_cdf",
    "stats_clopper_pearson_upper",
    "StatsInterval",
    "StatsIntervalColumns",
    "stats_proportion_intervals",
    "stats_t_interval",
    "stats_bootstrap_interval",
    "StatsSample",
    "stats_stratified_srswor",
    "stats_poisson_inclusion",
    "stats_poisson_sample",
    "StatsTargetReport",
    "StatsAllocation",
    "stats_allocate",
    "StatsDomainEstimate",
    "StatsAggregate",
    "StatsPpsEstimates",
    "stats_pps_brewer_estimates",
    "StatsDomainGap",
    "StatsPairedComparison",
    "stats_newcombe_independent",
    "stats_paired_binary",
    "stats_paired_wald",
    "stats_mcnemar",
    "StatsDayStatus",
    "StatsMonitor",
    "StatsCusum",
    "StatsCoverageReport",
    "stats_simulate_monitor",
    "stats_simulate_coverage",
    "StatsKsResult",
    "StatsTierRow",
    "StatsBlended",
    "StatsTierSummary",
    "stats_tier_summary",
    "StatsDriftReport",
    "stats_psi",
    "stats_psi_samples",
    "stats_ks_2samp",
    "stats_kolmogorov_sf",
    "stats_ks_by_group",
    "stats_drift_by_group",
    "stats_jensen_shannon",
    "stats_mix_drift",
    "StatsReviewPlan",
    "stats_fixed_sample_plan",
    "stats_sequential_plan",
    "StatsPpiEstimate",
    "StatsPpiAggregate",
    "_sleep_detached",
    "_panic_for_test",
    "_raise_for_test",
    "_input_address",
]

__version__: str

_Path = str | os.PathLike[str]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
_F32 = npt.NDArray[np.float32]
_U32 = npt.NDArray[np.uint32]
_Bool = npt.NDArray[np.bool_]

# --- router (src/python/router.rs) ---

@final
class RouterCore:
    @staticmethod
    def load(
        path: _Path,
        *,
        sessions: int | None = None,
        intra_threads: int | None = None,
        token_budget: int = 512,
        max_batch: int = 64,
        max_text_bytes: int = 1048576,
        ort_search_dirs: Sequence[_Path] = ...,
    ) -> RouterCore: ...
    def route_batch(
        self, texts: list[str] | tuple[str, ...], *, with_embeddings: bool = False
    ) -> RouteColumns: ...
    def save(self, path: _Path) -> None: ...
    def config_json(self) -> str: ...
    @property
    def tiers(self) -> list[str]: ...
    @property
    def threads(self) -> tuple[int, int]: ...
    @property
    def source(self) -> Path | None: ...
    @property
    def regions(self) -> int: ...
    def region_centroids(self) -> _F32 | None: ...

@final
class RouteColumns:
    @property
    def tier_index(self) -> _U32: ...
    @property
    def probabilities(self) -> _F32: ...
    @property
    def confidence(self) -> _F32: ...
    @property
    def tail_score(self) -> _F32: ...
    @property
    def fallback(self) -> _Bool: ...
    @property
    def truncated(self) -> _Bool: ...
    @property
    def content_discarded(self) -> _Bool: ...
    @property
    def tokens(self) -> _U32: ...
    @property
    def reason(self) -> list[str | None]: ...
    @property
    def embeddings(self) -> _F32 | None: ...
    @property
    def region(self) -> npt.NDArray[np.int32]: ...

def fit_router(
    encoder_dir: _Path,
    texts: list[str] | tuple[str, ...],
    tiers: list[str] | tuple[str, ...],
    *,
    tier_order: list[str],
    holdout_fraction: float = 0.2,
    l2: float = 1e-4,
    seed: int = 0,
    shrinkage: float = 0.1,
    min_confidence: float | None = None,
    max_length: int | None = None,
    provenance_json: str | None = None,
    sessions: int | None = None,
    intra_threads: int | None = None,
    ort_search_dirs: Sequence[_Path] = ...,
    intents: list[str] | tuple[str, ...] | None = None,
    max_tail_score: float | None = ...,  # 0.99
    tail_neighbours: int = 3,
    tail_max_rows: int = 10240,
    truncation: str | None = None,
    head_tokens: int | None = None,
    class_weight_balanced: bool = False,
    class_weights: list[float] | None = None,
    embeddings: npt.NDArray[np.float32] | None = None,
    n_truncated: int = 0,
) -> RouterCore: ...
def embed_texts(
    encoder_dir: _Path,
    texts: list[str] | tuple[str, ...],
    *,
    max_length: int | None = None,
    truncation: str | None = None,
    head_tokens: int | None = None,
    sessions: int | None = None,
    intra_threads: int | None = None,
    ort_search_dirs: Sequence[_Path] = ...,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]: ...

# --- head fitting (src/python/head.rs) and Arrow buffers (src/python/arrow.rs) ---

_F64_2D = npt.NDArray[np.float64]

@final
class HeadFit:
    @property
    def weights(self) -> _F64_2D: ...
    @property
    def bias(self) -> _F64_2D: ...
    @property
    def temperature(self) -> float: ...
    @property
    def holdout_accuracy(self) -> float: ...
    @property
    def holdout_ece(self) -> float: ...
    @property
    def holdout_ece_uncalibrated(self) -> float: ...
    @property
    def n_train(self) -> int: ...
    @property
    def n_holdout(self) -> int: ...
    @property
    def iterations(self) -> int: ...

def fit_head(
    embeddings: _F32,
    labels: _I64,
    k: int,
    *,
    l2: float = 0.0001,
    holdout_fraction: float = 0.2,
    seed: int = 0,
    max_iter: int = 500,
) -> HeadFit: ...
def route_utf8(
    router: RouterCore,
    offsets: _I64,
    data: npt.NDArray[np.uint8],
    valid: _Bool | None = None,
    *,
    with_embeddings: bool = False,
) -> RouteColumns: ...

# Tail scores of embeddings against training embeddings (evals/tail).
def fit_regions(path: _Path, *, regions: int = 32, seed: int = 0) -> dict[str, Any]: ...
def tail_scores(
    train: _F32,
    train_tiers: _U32,
    query: _F32,
    *,
    neighbours: int = 3,
    max_rows: int = 10240,
    shrinkage: float = 0.1,
    l2: float = 1e-4,
    seed: int = 0,
) -> dict[str, _F64]: ...

# --- runtime and build facts (src/python/runtime.rs) ---

@final
class BuildInfo:
    @property
    def version(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def rustc(self) -> str | None: ...
    @property
    def pyo3(self) -> str | None: ...
    @property
    def python_abi(self) -> str | None: ...
    @property
    def onnxruntime_status(self) -> str: ...
    @property
    def onnxruntime_path(self) -> Path | None: ...
    @property
    def onnxruntime_version(self) -> str | None: ...
    @property
    def onnxruntime_error(self) -> str | None: ...
    @property
    def cpu_isa(self) -> str: ...
    @property
    def cpu_features(self) -> list[str]: ...

def onnxruntime_info(search_dirs: Sequence[_Path] = ...) -> tuple[Path, str]: ...
def cpu_features() -> tuple[str, list[tuple[str, bool]]]: ...
def build_info(search_dirs: Sequence[_Path] = ...) -> BuildInfo: ...

# --- stats: special (src/python/stats/special.rs) ---
# Every scalar argument of the stats bindings is taken as `Arg<T>` (src/python/convert.rs): a
# wrong type, a bool given as a number, or an integer out of the Rust type's range raises
# InvalidInputError naming the argument (never OverflowError/TypeError); the types below are
# what is accepted.

def stats_beta_ppf(p: _F64, a: _F64, b: _F64) -> _F64: ...
def stats_t_ppf(p: _F64, df: _F64) -> _F64: ...
def stats_norm_ppf(p: _F64) -> _F64: ...
def stats_binom_cdf(k: int, n: int, p: float) -> float: ...
def stats_clopper_pearson_upper(k: int, n: int, delta: float) -> float: ...

# --- stats: intervals ---

@final
class StatsInterval:
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def estimate(self) -> float: ...
    @property
    def method(self) -> str: ...
    @property
    def level(self) -> float: ...

@final
class StatsIntervalColumns:
    @property
    def lower(self) -> _F64: ...
    @property
    def upper(self) -> _F64: ...
    @property
    def estimate(self) -> _F64: ...

def stats_proportion_intervals(
    successes: _F64, n: _F64, level: float = 0.95, method: str = "wilson"
) -> StatsIntervalColumns: ...
def stats_t_interval(values: _F64, weights: _F64 | None = None, level: float = 0.95) -> StatsInterval: ...
def stats_bootstrap_interval(
    values: _F64,
    weights: _F64 | None = None,
    level: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    threads: int = 0,
) -> StatsInterval: ...

# --- stats: design ---

@final
class StatsSample:
    @property
    def indices(self) -> _I64: ...
    @property
    def pi(self) -> _F64: ...

def stats_stratified_srswor(strata: _I64, sizes: list[int], seed: int = 0) -> StatsSample: ...
def stats_poisson_inclusion(scores: _F64, expected_size: float) -> _F64: ...
def stats_poisson_sample(pi: _F64, seed: int = 0) -> StatsSample: ...

# --- stats: allocation ---

@final
class StatsTargetReport:
    @property
    def domain(self) -> int: ...
    @property
    def target(self) -> float: ...
    @property
    def achieved(self) -> float: ...
    @property
    def required(self) -> int: ...
    @property
    def reached(self) -> bool: ...

@final
class StatsAllocation:
    @property
    def sizes(self) -> list[int]: ...
    @property
    def method(self) -> str: ...
    @property
    def total_cost(self) -> float: ...
    @property
    def targets(self) -> list[StatsTargetReport]: ...

def stats_allocate(
    population: _F64,
    sd: _F64,
    cost: _F64,
    minimum: _I64,
    maximum: _I64,
    domain: _I64,
    budget: int,
    method: str,
    sd_floor: float = 0.05,
    level: float = 0.95,
    targets: list[tuple[int, float]] = ...,
) -> StatsAllocation: ...

# --- stats: estimators and the aggregate they run on ---

@final
class StatsDomainEstimate:
    @property
    def domain(self) -> int | None: ...
    @property
    def n(self) -> int: ...
    @property
    def population(self) -> float: ...
    @property
    def population_hat(self) -> float: ...
    @property
    def total(self) -> float: ...
    @property
    def total_se(self) -> float: ...
    @property
    def ht_mean(self) -> float: ...
    @property
    def ht_mean_se(self) -> float: ...
    @property
    def mean(self) -> float: ...
    @property
    def se(self) -> float: ...
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def interval(self) -> str: ...
    @property
    def wald_lower(self) -> float: ...
    @property
    def wald_upper(self) -> float: ...
    @property
    def level(self) -> float: ...
    @property
    def n_eff(self) -> float: ...
    @property
    def defined(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def df(self) -> float: ...
    @property
    def bounded(self) -> bool: ...
    def with_interval(self, method: str) -> StatsDomainEstimate: ...

@final
class StatsAggregate:
    def __new__(cls) -> StatsAggregate: ...
    def add_sample(self, y: _F64, pi: _F64, strata: _I64, domains: _I64) -> None: ...
    def add_population(self, strata: _I64, domains: _I64) -> None: ...
    def add_population_count(self, stratum: int, domain: int, count: float) -> None: ...
    def merge(self, other: StatsAggregate) -> None: ...
    def merged(self, other: StatsAggregate) -> StatsAggregate: ...
    def __copy__(self) -> StatsAggregate: ...
    def __deepcopy__(self, _memo: object) -> StatsAggregate: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsAggregate: ...
    def __len__(self) -> int: ...
    def estimate_domains(
        self,
        design: str,
        level: float = 0.95,
        domains: list[int] | None = None,
        lonely: str | None = None,
    ) -> list[StatsDomainEstimate]: ...
    def estimate_population(
        self, design: str, level: float = 0.95, lonely: str | None = None
    ) -> StatsDomainEstimate: ...
    def estimate_strata(
        self, design: str, level: float = 0.95, lonely: str | None = None
    ) -> list[StatsDomainEstimate]: ...
    def post_stratified(
        self, design: str, totals: list[tuple[int, float]], level: float = 0.95, lonely: str | None = None
    ) -> StatsDomainEstimate: ...
    def lonely_strata(self, design: str) -> list[int]: ...
    def domain_gap(
        self, design: str, domain_a: int, domain_b: int, level: float = 0.95, lonely: str | None = None
    ) -> StatsDomainGap: ...

@final
class StatsPpsEstimates:
    @property
    def population(self) -> StatsDomainEstimate: ...
    @property
    def domains(self) -> list[StatsDomainEstimate]: ...
    @property
    def strata(self) -> list[StatsDomainEstimate]: ...
    @property
    def lonely_strata(self) -> list[int]: ...

def stats_pps_brewer_estimates(
    y: _F64,
    pi: _F64,
    strata: _I64,
    domains: _I64,
    stratum_sizes: list[tuple[int, float]],
    wanted: list[int] | None = None,
    level: float = 0.95,
    lonely: str | None = None,
) -> StatsPpsEstimates: ...

# --- stats: gaps ---

@final
class StatsDomainGap:
    @property
    def estimate(self) -> float: ...
    @property
    def se(self) -> float: ...
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def level(self) -> float: ...
    @property
    def defined(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...

@final
class StatsPairedComparison:
    @property
    def n(self) -> int: ...
    @property
    def both(self) -> int: ...
    @property
    def a_only(self) -> int: ...
    @property
    def b_only(self) -> int: ...
    @property
    def neither(self) -> int: ...
    @property
    def newcombe(self) -> StatsInterval: ...
    @property
    def wald(self) -> StatsInterval: ...
    @property
    def mcnemar_exact_p(self) -> float: ...
    @property
    def mcnemar_midp(self) -> float: ...

def stats_newcombe_independent(
    successes_a: float, n_a: float, successes_b: float, n_b: float, level: float = 0.95
) -> StatsInterval: ...
def stats_paired_binary(a: _F64, b: _F64, level: float = 0.95) -> StatsPairedComparison: ...
def stats_paired_wald(a: _F64, b: _F64, level: float = 0.95) -> StatsInterval: ...
def stats_mcnemar(b: int, c: int) -> tuple[float, float]: ...

# --- stats: sequential ---

@final
class StatsDayStatus:
    @property
    def day(self) -> int: ...
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def min_upper(self) -> float: ...
    @property
    def alarm(self) -> bool: ...
    @property
    def alarm_day(self) -> int | None: ...
    @property
    def log_evidence(self) -> float | None: ...

@final
class StatsMonitor:
    def __new__(
        cls,
        baseline: float,
        tolerance: float,
        alpha: float = 0.05,
        lo: float = 0.0,
        hi: float = 1.0,
        max_weight: float = 1.0,
        restart_every: int = 7,
        arl: float | None = None,
        boundary: str | None = None,
    ) -> StatsMonitor: ...
    def update(self, y: _F64, pi: _F64 | None = None, population: int | None = None) -> StatsDayStatus: ...
    @property
    def day(self) -> int: ...
    @property
    def alarm_day(self) -> int | None: ...
    @property
    def history(self) -> list[StatsDayStatus]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsMonitor: ...

@final
class StatsCusum:
    @staticmethod
    def bernoulli(p0: float, p1: float, threshold: float) -> StatsCusum: ...
    @staticmethod
    def normal(mean0: float, sd: float, shift: float, threshold: float) -> StatsCusum: ...
    def update(self, x: _F64) -> bool: ...
    @property
    def statistic(self) -> float: ...
    @property
    def day(self) -> int: ...
    @property
    def alarm_day(self) -> int | None: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsCusum: ...

# --- stats: simulate ---

@final
class StatsCoverageReport:
    @property
    def targets(self) -> list[int | None]: ...
    @property
    def truth(self) -> list[float]: ...
    @property
    def defined(self) -> list[int]: ...
    @property
    def covered(self) -> list[int]: ...
    @property
    def covered_wald(self) -> list[int]: ...
    @property
    def mean_width(self) -> list[float]: ...
    @property
    def runs(self) -> int: ...

def stats_simulate_monitor(
    baseline: float,
    tolerance: float,
    alpha: float,
    restart_every: int,
    days: int,
    reviews_per_day: int,
    p_before: float,
    p_after: float,
    change_day: int,
    runs: int,
    seed: int = 0,
    threads: int = 0,
    arl: float | None = None,
) -> list[int | None]: ...
def stats_simulate_coverage(
    y: _F64,
    strata: _I64,
    domains: _I64,
    design: str,
    sizes: list[int] | None = None,
    pi: _F64 | None = None,
    runs: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    threads: int = 0,
    interval: str = "wilson",
) -> StatsCoverageReport: ...

# --- stats: drift ---

@final
class StatsKsResult:
    @property
    def statistic(self) -> float: ...
    @property
    def pvalue(self) -> float: ...
    @property
    def method(self) -> str: ...
    @property
    def n1(self) -> int: ...
    @property
    def n2(self) -> int: ...

@final
class StatsDriftReport:
    @property
    def ks(self) -> StatsKsResult: ...
    @property
    def psi(self) -> float: ...
    @property
    def js(self) -> float: ...

def stats_psi(expected: _F64, actual: _F64, eps: float = 1e-4) -> float: ...
def stats_psi_samples(reference: _F64, production: _F64, bins: int = 10, eps: float = 1e-4) -> float: ...
def stats_ks_2samp(x: _F64, y: _F64, method: str = "auto") -> StatsKsResult: ...
def stats_kolmogorov_sf(n: int, x: float) -> float: ...
def stats_ks_by_group(
    reference: _F64, reference_groups: _I64, production: _F64, production_groups: _I64, method: str = "auto"
) -> list[tuple[int, StatsKsResult | None]]: ...
def stats_drift_by_group(
    reference: _F64,
    reference_groups: _I64,
    production: _F64,
    production_groups: _I64,
    bins: int = 10,
    eps: float = 1e-4,
    base: float | None = None,
    method: str = "auto",
) -> list[tuple[int, StatsDriftReport | None]]: ...
def stats_jensen_shannon(p: _F64, q: _F64, base: float | None = None) -> float: ...
def stats_mix_drift(
    reference_counts: _F64,
    daily_counts: _F64,
    *,
    tolerance: float = 0.02,
    alpha: float = 0.05,
    reference_alpha: float = 0.01,
    horizon: int = 365,
    window: int = 3,
    shrink: float = 0.1,
) -> dict[str, Any]: ...

# --- stats: planning ---

@final
class StatsReviewPlan:
    @property
    def per_day(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def power(self) -> float: ...
    @property
    def method(self) -> str: ...

def stats_fixed_sample_plan(
    p0: float, delta: float, days: int, alpha: float = 0.05, power: float = 0.8
) -> StatsReviewPlan: ...
def stats_sequential_plan(
    p0: float,
    delta: float,
    days: int,
    alpha: float = 0.05,
    power: float = 0.8,
    tolerance: float | None = None,
    restart_every: int = 7,
    sims: int = 400,
    seed: int = 0,
    threads: int = 0,
    max_per_day: int = 2000,
) -> StatsReviewPlan: ...

# --- test hooks (src/python/testing.rs) ---

def _sleep_detached(seconds: float) -> None: ...
def _panic_for_test() -> None: ...
def _raise_for_test(variant: str) -> None: ...
def _input_address(array: _F64) -> int: ...

# --- stats: summary ---
@final
class StatsTierRow:
    @property
    def tier(self) -> int | None: ...
    @property
    def rows(self) -> int: ...
    @property
    def reviewed(self) -> int: ...
    @property
    def with_confidence(self) -> int: ...
    @property
    def estimate(self) -> StatsDomainEstimate: ...
    @property
    def drift(self) -> StatsKsResult | None: ...

@final
class StatsBlended:
    @property
    def n(self) -> int: ...
    @property
    def mean(self) -> float: ...
    @property
    def se(self) -> float: ...
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def method(self) -> str: ...

@final
class StatsTierSummary:
    @property
    def tiers(self) -> list[StatsTierRow]: ...
    @property
    def all(self) -> StatsTierRow: ...
    @property
    def blended(self) -> StatsBlended: ...
    @property
    def level(self) -> float: ...
    @property
    def ks_path(self) -> str: ...

def stats_tier_summary(
    tiers: npt.NDArray[Any],
    outcome: _F64,
    pi: _F64,
    confidence: npt.NDArray[Any] | None = None,
    reference: npt.NDArray[Any] | None = None,
    reference_tiers: npt.NDArray[Any] | None = None,
    reference_edges: _F64 | None = None,
    reference_counts: _F64 | None = None,
    reference_window: _Bool | None = None,
    num_tiers: int | None = None,
    level: float = 0.95,
    ks_method: str = "auto",
    threads: int = 0,
) -> StatsTierSummary: ...

# judge-assisted (PPI++) per-domain means (src/python/stats/ppi.rs)
@final
class StatsPpiEstimate:
    @property
    def domain(self) -> int: ...
    @property
    def n_judged(self) -> int: ...
    @property
    def n_human(self) -> int: ...
    @property
    def lam(self) -> float: ...
    @property
    def tuned(self) -> bool: ...
    @property
    def estimate(self) -> float: ...
    @property
    def se(self) -> float: ...
    @property
    def lower(self) -> float: ...
    @property
    def upper(self) -> float: ...
    @property
    def judge_mean(self) -> float: ...
    @property
    def human_mean(self) -> float: ...
    @property
    def human_se(self) -> float: ...
    @property
    def judge_variance(self) -> float: ...
    @property
    def level(self) -> float: ...
    @property
    def defined(self) -> bool: ...

@final
class StatsPpiAggregate:
    def __new__(cls) -> StatsPpiAggregate: ...
    def add_judged(self, f: _F64, pi: _F64, domains: _I64) -> None: ...
    def add_reviews(self, y: _F64, f: _F64, pi: _F64, domains: _I64) -> None: ...
    def merge(self, other: StatsPpiAggregate) -> None: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsPpiAggregate: ...
    def estimates(
        self, level: float = 0.95, lam: float | None = None, variance: str = "poisson"
    ) -> list[StatsPpiEstimate]: ...
