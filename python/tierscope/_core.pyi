"""Type stubs for the native module ``tierscope._core`` (built from ``src/python``)."""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

# --- router ---

class RouterCore:
    @staticmethod
    def load(
        path: str,
        *,
        sessions: int | None = None,
        intra_threads: int | None = None,
        token_budget: int = 512,
        max_batch: int = 64,
        ort_search_dirs: list[str] = ...,
    ) -> RouterCore: ...
    def route_batch(
        self, texts: list[str] | tuple[str, ...], *, with_embeddings: bool = False
    ) -> dict[str, Any]: ...
    def save(self, path: str) -> None: ...
    def config_json(self) -> str: ...
    @property
    def tiers(self) -> list[str]: ...
    @property
    def threads(self) -> tuple[int, int]: ...
    @property
    def source(self) -> str | None: ...

def fit_router(
    encoder_dir: str,
    texts: list[str],
    tiers: list[str],
    *,
    tier_order: list[str],
    holdout_fraction: float = 0.2,
    l2: float = 1e-4,
    seed: int = 0,
    shrinkage: float = 0.1,
    min_confidence: float | None = None,
    max_length: int = 128,
    provenance_json: str | None = None,
    sessions: int | None = None,
    intra_threads: int | None = None,
    ort_search_dirs: list[str] = ...,
) -> RouterCore: ...
def onnxruntime_info(search_dirs: list[str] = ...) -> tuple[str, str]: ...
def cpu_features() -> tuple[str, dict[str, bool]]: ...
def _sleep_detached(seconds: float) -> None: ...
def _panic_for_test() -> None: ...

# --- end router ---

# --- stats ---

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

def stats_beta_ppf(p: _F64, a: _F64, b: _F64) -> _F64: ...
def stats_t_ppf(p: _F64, df: _F64) -> _F64: ...
def stats_norm_ppf(p: _F64) -> _F64: ...
def stats_proportion_intervals(
    successes: _F64, n: _F64, level: float = 0.95, method: str = "wilson"
) -> tuple[_F64, _F64, _F64]: ...
def stats_t_interval(
    values: _F64, weights: _F64 | None = None, level: float = 0.95
) -> tuple[float, float, float, str]: ...
def stats_bootstrap_interval(
    values: _F64,
    weights: _F64 | None = None,
    level: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    threads: int = 0,
) -> tuple[float, float, float, str]: ...
def stats_stratified_srswor(strata: _I64, sizes: list[int], seed: int = 0) -> tuple[_I64, _F64]: ...
def stats_poisson_inclusion(scores: _F64, expected_size: float) -> _F64: ...
def stats_poisson_sample(pi: _F64, seed: int = 0) -> tuple[_I64, _F64]: ...
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
) -> dict[str, Any]: ...

class StatsAggregate:
    def __init__(self) -> None: ...
    def add_sample(self, y: _F64, pi: _F64, strata: _I64, domains: _I64) -> None: ...
    def add_population(self, strata: _I64, domains: _I64) -> None: ...
    def add_population_count(self, stratum: int, domain: int, count: float) -> None: ...
    def merge(self, other: StatsAggregate) -> None: ...
    def merged(self, other: StatsAggregate) -> StatsAggregate: ...
    def __copy__(self) -> StatsAggregate: ...
    def __deepcopy__(self, memo: Any, /) -> StatsAggregate: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsAggregate: ...
    def __len__(self) -> int: ...
    def estimate_domains(
        self, design: str, level: float = 0.95, domains: list[int] | None = None
    ) -> list[dict[str, Any]]: ...
    def estimate_population(self, design: str, level: float = 0.95) -> dict[str, Any]: ...
    def estimate_strata(self, design: str, level: float = 0.95) -> list[dict[str, Any]]: ...
    def post_stratified(
        self, design: str, totals: list[tuple[int, float]], level: float = 0.95
    ) -> dict[str, Any]: ...
    def domain_gap(
        self, design: str, domain_a: int, domain_b: int, level: float = 0.95
    ) -> dict[str, Any]: ...

def stats_newcombe_independent(
    successes_a: float, n_a: float, successes_b: float, n_b: float, level: float = 0.95
) -> tuple[float, float, float, str]: ...
def stats_paired_binary(a: _F64, b: _F64, level: float = 0.95) -> dict[str, Any]: ...
def stats_paired_wald(a: _F64, b: _F64, level: float = 0.95) -> tuple[float, float, float, str]: ...
def stats_mcnemar(b: int, c: int) -> tuple[float, float]: ...

class StatsMonitor:
    def __init__(
        self,
        baseline: float,
        tolerance: float,
        alpha: float = 0.05,
        lo: float = 0.0,
        hi: float = 1.0,
        max_weight: float = 1.0,
        restart_every: int = 7,
        arl: float | None = None,
    ) -> None: ...
    def update(self, y: _F64, pi: _F64 | None = None, population: int | None = None) -> dict[str, Any]: ...
    @property
    def day(self) -> int: ...
    @property
    def alarm_day(self) -> int | None: ...
    @property
    def history(self) -> list[dict[str, Any]]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> StatsMonitor: ...

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
) -> dict[str, Any]: ...
def stats_psi(expected: _F64, actual: _F64, eps: float = 1e-4) -> float: ...
def stats_psi_samples(reference: _F64, production: _F64, bins: int = 10, eps: float = 1e-4) -> float: ...
def stats_ks_2samp(x: _F64, y: _F64, method: str = "auto") -> tuple[float, float, str]: ...
def stats_kolmogorov_sf(n: int, x: float) -> float: ...
def stats_ks_by_group(
    reference: _F64, reference_groups: _I64, production: _F64, production_groups: _I64, method: str = "auto"
) -> list[tuple[int, tuple[float, float, str, int, int] | None]]: ...
def stats_jensen_shannon(p: _F64, q: _F64, base: float | None = None) -> float: ...
def stats_drift_by_group(
    reference: _F64,
    reference_groups: _I64,
    production: _F64,
    production_groups: _I64,
    bins: int = 10,
    eps: float = 1e-4,
    base: float | None = None,
    method: str = "auto",
) -> list[tuple[int, tuple[float, float, str, float, float] | None]]: ...
def stats_fixed_sample_plan(
    p0: float, delta: float, days: int, alpha: float = 0.05, power: float = 0.8
) -> dict[str, Any]: ...
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
) -> dict[str, Any]: ...

# --- end stats ---
