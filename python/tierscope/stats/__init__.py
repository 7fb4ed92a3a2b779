"""Per-tier quality statistics: intervals, sampling designs, budget allocation, design-based
estimators, tier gaps, anytime-valid monitoring, drift and review planning.

A typed façade over the Rust core (``tierscope._core``): inputs are converted to numpy arrays, the
work runs in Rust with the GIL released, results come back as frozen dataclasses or numpy arrays.
Bad input raises :class:`tierscope.exceptions.InvalidInputError` naming the argument.

Labels (strata, domains/tiers, groups) may be any hashable numpy-sortable values; they are encoded
to integer codes internally and decoded in the results. The lower-level :class:`Aggregate` and
the ``*_codes`` arguments take the integer codes directly (so partial aggregates computed in
different processes agree on them).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..exceptions import InvalidInputError

__all__ = [
    "Aggregate",
    "Allocation",
    "CoverageReport",
    "Cusum",
    "DayStatus",
    "DomainEstimate",
    "DomainGap",
    "DriftReport",
    "Estimates",
    "Interval",
    "KsResult",
    "Monitor",
    "PairedComparison",
    "DetectionPlan",
    "Sample",
    "StratumSpec",
    "TargetReport",
    "allocate",
    "bootstrap_interval",
    "drift_by_group",
    "estimate",
    "fixed_sample_plan",
    "jensen_shannon",
    "kolmogorov_sf",
    "ks_2samp",
    "ks_by_group",
    "mcnemar",
    "newcombe_difference",
    "paired_comparison",
    "paired_wald",
    "poisson_inclusion_probabilities",
    "poisson_sample",
    "proportion_interval",
    "proportion_intervals",
    "psi",
    "psi_samples",
    "sequential_plan",
    "simulate_coverage",
    "simulate_monitor",
    "stratified_srswor",
    "t_interval",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# ----------------------------------------------------------------------------- conversion helpers


def _f64(name: str, values: npt.ArrayLike) -> FloatArray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"invalid `{name}`: an array of numbers ({err})") from None
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    return arr


def _i64(name: str, values: npt.ArrayLike) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"invalid `{name}`: integer codes, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _encode(name: str, labels: npt.ArrayLike) -> tuple[IntArray, list[Any]]:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array of labels, got shape {arr.shape}")
    if arr.size and np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() < 1 << 16:
        # Small non-negative integer labels are their own codes (no sort over millions of rows);
        # the label list is then the identity over 0..max.
        return np.ascontiguousarray(arr, dtype=np.int64), list(range(int(arr.max()) + 1))
    uniques, inverse = np.unique(arr, return_inverse=True)
    return np.ascontiguousarray(inverse, dtype=np.int64), [
        u.item() if hasattr(u, "item") else u for u in uniques
    ]


def _same_len(name: str, arr: np.ndarray[Any, Any], other: str, n: int) -> None:
    if arr.shape[0] != n:
        raise InvalidInputError(f"invalid `{name}`: the same length as `{other}` ({n}), got {arr.shape[0]}")


# ----------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval with its point estimate."""

    lower: float
    upper: float
    estimate: float
    method: str
    level: float


def proportion_interval(successes: float, n: float, level: float = 0.95, method: str = "wilson") -> Interval:
    """Interval for a binomial proportion.

    ``method`` is ``"wilson"``, ``"clopper_pearson"`` (alias ``"beta"``, exact via the beta
    quantile), ``"agresti_coull"`` or ``"jeffreys"``; results match statsmodels'
    ``proportion_confint``.
    """
    lo, hi, est = _core.stats_proportion_intervals(
        _f64("successes", [successes]), _f64("n", [n]), level, method
    )
    canonical = "clopper_pearson" if method in ("beta", "exact", "clopper-pearson") else method
    return Interval(float(lo[0]), float(hi[0]), float(est[0]), canonical, level)


def proportion_intervals(
    successes: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95, method: str = "wilson"
) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`proportion_interval`: returns ``(lower, upper)`` arrays."""
    x = _f64("successes", successes)
    nn = _f64("n", n)
    _same_len("n", nn, "successes", x.shape[0])
    lo, hi, _ = _core.stats_proportion_intervals(x, nn, level, method)
    return lo, hi


def t_interval(values: npt.ArrayLike, weights: npt.ArrayLike | None = None, level: float = 0.95) -> Interval:
    """Student t interval for the mean of bounded scores (e.g. rescaled 1–5 ratings).

    ``weights`` are frequency weights, as statsmodels ``DescrStatsW(values, weights).tconfint_mean``.
    """
    v = _f64("values", values)
    w = None if weights is None else _f64("weights", weights)
    lo, hi, est, method = _core.stats_t_interval(v, w, level)
    return Interval(lo, hi, est, method, level)


def bootstrap_interval(
    values: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    level: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    threads: int = 0,
) -> Interval:
    """Seeded percentile bootstrap interval for the (Hájek-weighted) mean.

    Resampling uses multinomial counts, never materialised resamples; the result depends only on
    ``seed``, not on ``threads`` (0 = all cores).
    """
    v = _f64("values", values)
    w = None if weights is None else _f64("weights", weights)
    lo, hi, est, method = _core.stats_bootstrap_interval(v, w, level, replicates, seed, threads)
    return Interval(lo, hi, est, method, level)


# ----------------------------------------------------------------------------- designs


@dataclass(frozen=True)
class Sample:
    """Selected unit indices (ascending) and their inclusion probabilities."""

    indices: IntArray
    pi: FloatArray


def stratified_srswor(strata: npt.ArrayLike, sizes: Mapping[Hashable, int], seed: int = 0) -> Sample:
    """Stratified simple random sampling without replacement.

    ``strata`` labels every frame unit; ``sizes`` maps stratum label -> sample size (missing
    strata get 0). Each selected unit carries π = n_h / N_h. Deterministic given ``seed``.
    """
    codes, labels = _encode("strata", strata)
    unknown = [k for k in sizes if k not in set(labels)]
    if unknown:
        raise InvalidInputError(f"invalid `sizes`: stratum labels present in `strata`, got {unknown[:3]}")
    per_code = [int(sizes.get(lab, 0)) for lab in labels]
    if any(s < 0 for s in per_code):
        raise InvalidInputError("invalid `sizes`: non-negative sample sizes")
    idx, pi = _core.stats_stratified_srswor(codes, per_code, seed)
    return Sample(idx, pi)


def poisson_inclusion_probabilities(scores: npt.ArrayLike, expected_size: float) -> FloatArray:
    """π ∝ score, capped at 1 with iterative redistribution, Σπ = ``expected_size``."""
    return _core.stats_poisson_inclusion(_f64("scores", scores), float(expected_size))


def poisson_sample(pi: npt.ArrayLike, seed: int = 0) -> Sample:
    """Poisson sampling: unit i is selected independently with probability ``pi[i]``."""
    idx, p = _core.stats_poisson_sample(_f64("pi", pi), seed)
    return Sample(idx, p)


# ----------------------------------------------------------------------------- allocation


@dataclass(frozen=True)
class StratumSpec:
    """A stratum for :func:`allocate`.

    ``sd`` is the prior-period SD of the quality score (NaN = unknown, the floor is used),
    ``cost`` the cost of a review, ``minimum``/``maximum`` per-stratum bounds (``maximum`` None =
    the population) and ``domain`` the tier the stratum belongs to.
    """

    population: float
    sd: float = math.nan
    cost: float = 1.0
    minimum: int = 0
    maximum: int | None = None
    domain: Hashable = 0


@dataclass(frozen=True)
class TargetReport:
    """Whether a domain's precision target is reached by the allocation."""

    domain: Hashable
    target: float
    achieved: float
    required: int
    reached: bool


@dataclass(frozen=True)
class Allocation:
    """Integer reviews per stratum (summing exactly to the budget)."""

    sizes: IntArray
    method: str
    total_cost: float
    targets: list[TargetReport] = field(default_factory=list)


def allocate(
    strata: Sequence[StratumSpec],
    budget: int,
    method: str = "neyman",
    sd_floor: float = 0.05,
    level: float = 0.95,
    targets: Mapping[Hashable, float] | None = None,
) -> Allocation:
    """Allocate ``budget`` reviews over ``strata``.

    Methods: ``"proportional"`` (∝ N_h), ``"neyman"`` (∝ N_h·max(S_h, floor)), ``"optimal"``
    (∝ N_h·S_h/√c_h, the cost-optimal shape) and ``"precision"`` (each domain in ``targets``
    reaches its half-width at ``level`` if the budget allows; leftover is spread Neyman-style;
    the report says which targets are unreachable). Minimums and caps are respected and rounding
    is largest-remainder, so the sizes sum exactly to ``budget``.
    """
    if len(strata) == 0:
        raise InvalidInputError("invalid `strata`: at least one stratum")
    domain_labels = sorted({s.domain for s in strata}, key=repr)
    code_of = {lab: i for i, lab in enumerate(domain_labels)}
    target_list: list[tuple[int, float]] = []
    for dom, half in (targets or {}).items():
        if dom not in code_of:
            raise InvalidInputError(f"invalid `targets`: domains that have strata, got {dom!r}")
        target_list.append((code_of[dom], float(half)))
    out = _core.stats_allocate(
        _f64("population", [s.population for s in strata]),
        _f64("sd", [s.sd for s in strata]),
        _f64("cost", [s.cost for s in strata]),
        np.array([s.minimum for s in strata], dtype=np.int64),
        np.array([-1 if s.maximum is None else s.maximum for s in strata], dtype=np.int64),
        np.array([code_of[s.domain] for s in strata], dtype=np.int64),
        int(budget),
        method,
        sd_floor,
        level,
        target_list,
    )
    reports = [
        TargetReport(
            domain_labels[int(t["domain"])],
            float(t["target"]),
            float(t["achieved"]),
            int(t["required"]),
            bool(t["reached"]),
        )
        for t in out["targets"]
    ]
    return Allocation(out["sizes"], str(out["method"]), float(out["total_cost"]), reports)


# ----------------------------------------------------------------------------- estimators


@dataclass(frozen=True)
class DomainEstimate:
    """A design-based estimate for one domain (``domain`` None = all traffic).

    ``mean``/``se`` are the Hájek (ratio) mean and its linearised SE; ``lower``/``upper`` the
    headline interval (``interval`` = ``"wilson_neff"``: Wilson at the effective sample size
    m(1 − m)/se² when every score is in [0, 1]; otherwise ``"wald"``); ``wald_lower``/``wald_upper``
    the plain Wald interval; ``total``/``total_se`` the Horvitz–Thompson total; ``ht_mean`` the HT total
    over the known population size. ``defined`` is False (numbers NaN) when the domain has no
    sampled units; ``reason`` says why.
    """

    domain: Hashable | None
    n: int
    population: float
    population_hat: float
    total: float
    total_se: float
    ht_mean: float
    ht_mean_se: float
    mean: float
    se: float
    lower: float
    upper: float
    interval: str
    wald_lower: float
    wald_upper: float
    level: float
    n_eff: float
    defined: bool
    reason: str | None


def _estimate_from(d: Mapping[str, Any], label: Hashable | None) -> DomainEstimate:
    reason = d["reason"]
    if reason is not None and d["domain"] is not None and label != d["domain"]:
        # The core names integer codes; say the caller's label instead.
        reason = reason.replace(f"domain {d['domain']}", f"domain {label!r}")
    return DomainEstimate(
        domain=label,
        n=int(d["n"]),
        population=float(d["population"]),
        population_hat=float(d["population_hat"]),
        total=float(d["total"]),
        total_se=float(d["total_se"]),
        ht_mean=float(d["ht_mean"]),
        ht_mean_se=float(d["ht_mean_se"]),
        mean=float(d["mean"]),
        se=float(d["se"]),
        lower=float(d["lower"]),
        upper=float(d["upper"]),
        interval=str(d["interval"]),
        wald_lower=float(d["wald_lower"]),
        wald_upper=float(d["wald_upper"]),
        level=float(d["level"]),
        n_eff=float(d["n_eff"]),
        defined=bool(d["defined"]),
        reason=reason,
    )


@dataclass(frozen=True)
class DomainGap:
    """Design-based Wald interval for the difference of two domains' Hájek means."""

    estimate: float
    se: float
    lower: float
    upper: float
    level: float
    defined: bool
    reason: str | None


def _check_design(design: str) -> str:
    if design not in ("srswor", "stratified", "poisson"):
        raise InvalidInputError(f"invalid `design`: 'srswor' or 'poisson', got {design!r}")
    return design


class Aggregate:
    """Mergeable per-(stratum, domain) sufficient statistics (integer codes).

    Build one per partition of the traffic (population counts *and* sampled units of that
    partition), :meth:`merge` them in any order, and estimate: the result equals the estimate
    over the whole. Serialisable with :meth:`to_json` / :meth:`from_json`.
    """

    def __init__(self, _inner: _core.StatsAggregate | None = None) -> None:
        self._inner = _inner if _inner is not None else _core.StatsAggregate()

    @classmethod
    def from_sample(
        cls, y: npt.ArrayLike, pi: npt.ArrayLike, strata: npt.ArrayLike, domains: npt.ArrayLike
    ) -> Aggregate:
        """Sufficient statistics of a sample (scores, inclusion probabilities, integer codes)."""
        agg = cls()
        agg.add_sample(y, pi, strata, domains)
        return agg

    def add_sample(
        self, y: npt.ArrayLike, pi: npt.ArrayLike, strata: npt.ArrayLike, domains: npt.ArrayLike
    ) -> None:
        """Add sampled units."""
        self._inner.add_sample(_f64("y", y), _f64("pi", pi), _i64("strata", strata), _i64("domains", domains))

    def add_population(self, strata: npt.ArrayLike, domains: npt.ArrayLike) -> None:
        """Count population units (one per entry) into their (stratum, domain) cells."""
        self._inner.add_population(_i64("population_strata", strata), _i64("population_domains", domains))

    def add_population_count(self, stratum: int, domain: int, count: float) -> None:
        """Add ``count`` population units to the (stratum, domain) cell."""
        if stratum < 0 or domain < 0:
            raise InvalidInputError("invalid `stratum`: non-negative integer codes for stratum and domain")
        self._inner.add_population_count(int(stratum), int(domain), float(count))

    def merge(self, other: Aggregate) -> Aggregate:
        """A new aggregate: the cell-wise sum of ``self`` and ``other`` (neither changes)."""
        return Aggregate(self._inner.merged(other._inner))

    def to_json(self) -> str:
        """JSON text of the state."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Aggregate:
        """Restore from :meth:`to_json` text."""
        return cls(_core.StatsAggregate.from_json(text))

    def __len__(self) -> int:
        return len(self._inner)

    def estimate_domains(
        self, design: str = "poisson", level: float = 0.95, domains: Sequence[int] | None = None
    ) -> list[DomainEstimate]:
        """Per-domain estimates; requested domains without sampled units are undefined."""
        ds = None if domains is None else [int(d) for d in domains]
        raw = self._inner.estimate_domains(_check_design(design), level, ds)
        return [_estimate_from(d, d["domain"]) for d in raw]

    def estimate_population(self, design: str = "poisson", level: float = 0.95) -> DomainEstimate:
        """Estimate over all traffic."""
        return _estimate_from(self._inner.estimate_population(_check_design(design), level), None)

    def estimate_strata(self, design: str = "poisson", level: float = 0.95) -> list[DomainEstimate]:
        """Per-stratum estimates (``domain`` holds the stratum code)."""
        return [
            _estimate_from(d, d["domain"]) for d in self._inner.estimate_strata(_check_design(design), level)
        ]

    def post_stratified(
        self, totals: Mapping[int, float], design: str = "poisson", level: float = 0.95
    ) -> DomainEstimate:
        """Post-stratified mean over domains (post-strata) with known sizes ``totals``."""
        pairs = [(int(k), float(v)) for k, v in totals.items()]
        return _estimate_from(self._inner.post_stratified(_check_design(design), pairs, level), None)

    def domain_gap(
        self, domain_a: int, domain_b: int, design: str = "poisson", level: float = 0.95
    ) -> DomainGap:
        """Design-based Wald interval for mean(domain_a) − mean(domain_b)."""
        g = self._inner.domain_gap(_check_design(design), int(domain_a), int(domain_b), level)
        return DomainGap(
            float(g["estimate"]),
            float(g["se"]),
            float(g["lower"]),
            float(g["upper"]),
            float(g["level"]),
            bool(g["defined"]),
            g["reason"],
        )


@dataclass(frozen=True)
class Estimates:
    """All-traffic, per-domain and per-stratum estimates from one sample."""

    population: DomainEstimate
    domains: dict[Hashable, DomainEstimate]
    strata: dict[Hashable, DomainEstimate]


def estimate(
    y: npt.ArrayLike,
    pi: npt.ArrayLike,
    strata: npt.ArrayLike,
    domains: npt.ArrayLike,
    design: str = "poisson",
    population_sizes: Mapping[Hashable, float] | None = None,
    expected_domains: Sequence[Hashable] | None = None,
    level: float = 0.95,
) -> Estimates:
    """Design-based estimates from a reviewed sample.

    ``y`` are the review scores, ``pi`` the inclusion probabilities, ``strata``/``domains`` the
    labels of each reviewed unit. For ``design="srswor"`` the stratum population sizes
    ``population_sizes`` (stratum label -> N_h) are required (weights N_h/n_h, FPC); for
    ``"poisson"`` weights are 1/π. Domains listed in ``expected_domains`` but absent from the
    sample are reported undefined with a reason.
    """
    yv = _f64("y", y)
    pv = _f64("pi", pi)
    n = yv.shape[0]
    _same_len("pi", pv, "y", n)
    s_arr = np.asarray(strata)
    d_arr = np.asarray(domains)
    _same_len("strata", s_arr, "y", n)
    _same_len("domains", d_arr, "y", n)
    s_codes, s_labels = _encode("strata", s_arr)
    d_codes, d_labels = _encode("domains", d_arr)
    # Labels known only from population sizes / expected domains get codes after the sampled ones.
    s_labels += [lab for lab in (population_sizes or {}) if lab not in set(s_labels)]
    d_labels += [lab for lab in (expected_domains or []) if lab not in set(d_labels)]
    s_code = {lab: i for i, lab in enumerate(s_labels)}
    agg = Aggregate.from_sample(yv, pv, s_codes, d_codes)
    if population_sizes is not None:
        for lab, size in population_sizes.items():
            # Population counts per stratum; the domain code only matters for HT means.
            agg.add_population_count(s_code[lab], len(d_labels), float(size))
    inner = agg._inner
    d_design = _check_design(design)
    pop = _estimate_from(inner.estimate_population(d_design, level), None)
    present = set(np.flatnonzero(np.bincount(d_codes, minlength=1)).tolist()) if d_codes.size else set()
    wanted = sorted(present | {d_labels.index(lab) for lab in (expected_domains or [])})
    doms = inner.estimate_domains(d_design, level, wanted)
    strs = inner.estimate_strata(d_design, level)
    return Estimates(
        population=pop,
        domains={d_labels[int(d["domain"])]: _estimate_from(d, d_labels[int(d["domain"])]) for d in doms},
        strata={
            s_labels[int(d["domain"])]: _estimate_from(d, s_labels[int(d["domain"])])
            for d in strs
            if d["defined"]
        },
    )


# ----------------------------------------------------------------------------- gaps


def newcombe_difference(
    successes_a: float, n_a: float, successes_b: float, n_b: float, level: float = 0.95
) -> Interval:
    """Newcombe hybrid score interval for p_a − p_b from independent samples."""
    lo, hi, est, method = _core.stats_newcombe_independent(successes_a, n_a, successes_b, n_b, level)
    return Interval(lo, hi, est, method, level)


@dataclass(frozen=True)
class PairedComparison:
    """Shadow comparison of two tiers judged on the same queries (binary judgements)."""

    n: int
    both: int
    a_only: int
    b_only: int
    neither: int
    newcombe: Interval
    wald: Interval
    mcnemar_exact_p: float
    mcnemar_midp: float


def paired_comparison(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> PairedComparison:
    """Paired gap p_a − p_b: Newcombe's method 10 and Wald intervals, McNemar discordance
    (``a_only``, ``b_only``) with exact and mid-p two-sided p-values."""
    av = _f64("a", a)
    bv = _f64("b", b)
    r = _core.stats_paired_binary(av, bv, level)
    nc = r["newcombe"]
    wd = r["wald"]
    return PairedComparison(
        n=int(r["n"]),
        both=int(r["both"]),
        a_only=int(r["a_only"]),
        b_only=int(r["b_only"]),
        neither=int(r["neither"]),
        newcombe=Interval(nc[0], nc[1], nc[2], nc[3], level),
        wald=Interval(wd[0], wd[1], wd[2], wd[3], level),
        mcnemar_exact_p=float(r["mcnemar_exact_p"]),
        mcnemar_midp=float(r["mcnemar_midp"]),
    )


def paired_wald(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> Interval:
    """Wald interval on paired differences a − b (any bounded scores)."""
    lo, hi, est, method = _core.stats_paired_wald(_f64("a", a), _f64("b", b), level)
    return Interval(lo, hi, est, method, level)


def mcnemar(b: int, c: int) -> tuple[float, float]:
    """Exact and mid-p two-sided McNemar p-values for discordant counts ``b`` and ``c``."""
    if b < 0 or c < 0:
        raise InvalidInputError(f"invalid `b`: non-negative discordant counts, got {b}, {c}")
    return _core.stats_mcnemar(int(b), int(c))


# ----------------------------------------------------------------------------- sequential


@dataclass(frozen=True)
class DayStatus:
    """A monitor's status after a day: full-history bounds, tightest upper bound, alarm."""

    day: int
    lower: float
    upper: float
    min_upper: float
    alarm: bool
    alarm_day: int | None
    log_evidence: float | None = None
    """ln of the e-detector statistic (``method="e_detector"``; alarm at ln ``arl``), else None."""


def _day(d: Mapping[str, Any]) -> DayStatus:
    ev = d.get("log_evidence")
    return DayStatus(
        int(d["day"]),
        float(d["lower"]),
        float(d["upper"]),
        float(d["min_upper"]),
        bool(d["alarm"]),
        d["alarm_day"],
        None if ev is None else float(ev),
    )


MONITOR_METHODS = ("confidence_sequence", "e_detector")


def _arl(method: str, arl: float) -> float | None:
    """The core's ``arl`` argument for a monitor method (None: confidence sequences)."""
    if method not in MONITOR_METHODS:
        raise InvalidInputError(f"invalid `method`: one of {MONITOR_METHODS}, got {method!r}")
    return float(arl) if method == "e_detector" else None


class Monitor:
    """Sequential alarm for one tier's quality (or one paired gap, with ``lo=-1``).

    Runs empirical-Bernstein confidence sequences (Waudby-Smith & Ramdas) restarted every
    ``restart_every`` days with error budgets α·6/(π²j²). ``method`` picks the alarm:

    * ``"confidence_sequence"`` (default): the first day any upper bound falls below
      ``baseline - tolerance``; P(any false alarm, ever) <= ``alpha``.
    * ``"e_detector"``: a Shiryaev–Roberts e-detector (Shin, Ramdas & Rinaldo 2024) of betting
      e-values against "mean >= baseline - tolerance", mixed over 16 bets; the expected number of
      days to a false alarm is at least ``arl``. It is not diluted by data from before a change, so
      it detects a drop sooner (days instead of weeks when reviews are few); ``alpha`` then only
      sets the reported bounds. Use it for standing production monitors, where a false-alarm rate
      (one per ``arl`` days at most, on average) is the meaningful guarantee.

    Weighted reviews: give ``max_weight`` = the largest possible 1/π and pass each day's ``pi``
    and the tier's traffic ``population``; the day then contributes a Horvitz–Thompson stream
    (reviewed units (y − lo)/π, unreviewed zeros) bounded by (hi − lo)·max_weight.
    """

    def __init__(
        self,
        baseline: float,
        tolerance: float,
        alpha: float = 0.05,
        lo: float = 0.0,
        hi: float = 1.0,
        max_weight: float = 1.0,
        restart_every: int = 7,
        method: str = "confidence_sequence",
        arl: float = 1000.0,
        _inner: _core.StatsMonitor | None = None,
    ) -> None:
        if restart_every < 0:
            raise InvalidInputError(
                f"invalid `restart_every`: a non-negative number of days, got {restart_every}"
            )
        core_arl = _arl(method, arl)
        self._inner = (
            _inner
            if _inner is not None
            else _core.StatsMonitor(baseline, tolerance, alpha, lo, hi, max_weight, restart_every, core_arl)
        )

    def update(
        self, y: npt.ArrayLike, pi: npt.ArrayLike | None = None, population: int | None = None
    ) -> DayStatus:
        """Absorb one day's reviews and return the day's status."""
        if population is not None and population < 0:
            raise InvalidInputError(f"invalid `population`: a non-negative traffic count, got {population}")
        p = None if pi is None else _f64("pi", pi)
        return _day(self._inner.update(_f64("y", y), p, population))

    @property
    def day(self) -> int:
        """Days absorbed."""
        return self._inner.day

    @property
    def alarm_day(self) -> int | None:
        """Day the alarm first fired, or None."""
        return self._inner.alarm_day

    @property
    def history(self) -> list[DayStatus]:
        """Status of every day so far."""
        return [_day(d) for d in self._inner.history]

    def to_json(self) -> str:
        """JSON state (persist between days)."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Monitor:
        """Restore from :meth:`to_json` text."""
        return cls(0.0, 0.0, _inner=_core.StatsMonitor.from_json(text))


class Cusum:
    """One-sided (downward) CUSUM chart, Bernoulli or normal, for comparison with :class:`Monitor`.

    Controls the average run length, not the probability of any false alarm.
    """

    def __init__(self, _inner: _core.StatsCusum) -> None:
        self._inner = _inner

    @classmethod
    def bernoulli(cls, p0: float, p1: float, threshold: float) -> Cusum:
        """Log-likelihood-ratio CUSUM from rate ``p0`` to ``p1 < p0``; signal when S > threshold."""
        return cls(_core.StatsCusum.bernoulli(p0, p1, threshold))

    @classmethod
    def normal(cls, mean0: float, sd: float, shift: float, threshold: float) -> Cusum:
        """Normal CUSUM for a downward shift of ``shift`` SDs."""
        return cls(_core.StatsCusum.normal(mean0, sd, shift, threshold))

    def update(self, x: npt.ArrayLike) -> bool:
        """Absorb one day's observations; True once the chart has signalled."""
        return self._inner.update(_f64("x", x))

    @property
    def statistic(self) -> float:
        """Current CUSUM statistic."""
        return self._inner.statistic

    @property
    def alarm_day(self) -> int | None:
        """Day the chart first signalled, or None."""
        return self._inner.alarm_day

    def to_json(self) -> str:
        """JSON state."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Cusum:
        """Restore from JSON state."""
        return cls(_core.StatsCusum.from_json(text))


def simulate_monitor(
    baseline: float,
    tolerance: float,
    days: int,
    reviews_per_day: int,
    p_before: float,
    p_after: float,
    change_day: int,
    runs: int,
    alpha: float = 0.05,
    restart_every: int = 7,
    seed: int = 0,
    threads: int = 0,
    method: str = "confidence_sequence",
    arl: float = 1000.0,
) -> list[int | None]:
    """Alarm day of each of ``runs`` simulated Bernoulli streams (None = no alarm).

    Quality is ``p_before`` until ``change_day - 1`` and ``p_after`` from ``change_day`` (0 = no
    change). ``method``/``arl`` as in :class:`Monitor`. Runs in Rust, seeded, thread-count
    independent.
    """
    core_arl = _arl(method, arl)
    for name, v in (
        ("days", days),
        ("reviews_per_day", reviews_per_day),
        ("runs", runs),
        ("change_day", change_day),
    ):
        if v < 0:
            raise InvalidInputError(f"invalid `{name}`: a non-negative integer, got {v}")
    return _core.stats_simulate_monitor(
        baseline,
        tolerance,
        alpha,
        restart_every,
        days,
        reviews_per_day,
        p_before,
        p_after,
        change_day,
        runs,
        seed,
        threads,
        core_arl,
    )


@dataclass(frozen=True)
class CoverageReport:
    """Coverage of the design-based intervals over simulated audits (first target = all traffic)."""

    targets: list[int | None]
    truth: list[float]
    defined: list[int]
    covered: list[int]
    covered_wald: list[int]
    mean_width: list[float]
    runs: int

    @property
    def coverage(self) -> list[float]:
        """Covered / defined per target (headline interval)."""
        return [c / d if d else math.nan for c, d in zip(self.covered, self.defined, strict=True)]

    @property
    def coverage_wald(self) -> list[float]:
        """Covered / defined per target for the plain Wald interval."""
        return [c / d if d else math.nan for c, d in zip(self.covered_wald, self.defined, strict=True)]


def simulate_coverage(
    y: npt.ArrayLike,
    strata: npt.ArrayLike,
    domains: npt.ArrayLike,
    design: str,
    sizes: Sequence[int] | None = None,
    pi: npt.ArrayLike | None = None,
    runs: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    threads: int = 0,
) -> CoverageReport:
    """Repeatedly sample a fixed population (integer stratum/domain codes) under ``design``
    (``"srswor"`` with per-stratum ``sizes``, or ``"poisson"`` with ``pi``) and count interval
    coverage of the all-traffic and per-domain means."""
    if runs < 1:
        raise InvalidInputError(f"invalid `runs`: at least one run, got {runs}")
    r = _core.stats_simulate_coverage(
        _f64("y", y),
        _i64("strata", strata),
        _i64("domains", domains),
        _check_design(design),
        None if sizes is None else [int(s) for s in sizes],
        None if pi is None else _f64("pi", pi),
        runs,
        level,
        seed,
        threads,
    )
    return CoverageReport(
        list(r["targets"]),
        list(r["truth"]),
        list(r["defined"]),
        list(r["covered"]),
        list(r["covered_wald"]),
        list(r["mean_width"]),
        int(r["runs"]),
    )


# ----------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class KsResult:
    """Two-sided two-sample Kolmogorov–Smirnov result."""

    statistic: float
    pvalue: float
    method: str


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, eps: float = 1e-4) -> float:
    """Population stability index between two histograms (counts or proportions)."""
    return _core.stats_psi(_f64("expected", expected), _f64("actual", actual), eps)


def psi_samples(
    reference: npt.ArrayLike, production: npt.ArrayLike, bins: int = 10, eps: float = 1e-4
) -> float:
    """PSI between two samples, bins cut at the reference quantiles."""
    if bins < 2:
        raise InvalidInputError(f"invalid `bins`: at least 2 bins, got {bins}")
    return _core.stats_psi_samples(_f64("reference", reference), _f64("production", production), bins, eps)


def ks_2samp(x: npt.ArrayLike, y: npt.ArrayLike, method: str = "auto") -> KsResult:
    """Two-sided two-sample KS test matching ``scipy.stats.ks_2samp(x, y, method=method)``."""
    stat, p, m = _core.stats_ks_2samp(_f64("x", x), _f64("y", y), method)
    return KsResult(stat, p, m)


def kolmogorov_sf(n: int, x: float) -> float:
    """Survival function of the one-sample two-sided Kolmogorov statistic (``scipy.stats.kstwo.sf``)."""
    if n < 1:
        raise InvalidInputError(f"invalid `n`: a positive sample size, got {n}")
    return _core.stats_kolmogorov_sf(int(n), float(x))


def _grouped_samples(
    reference: npt.ArrayLike,
    production: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production_groups: npt.ArrayLike,
) -> tuple[FloatArray, IntArray, FloatArray, IntArray, list[Any]]:
    """Validated samples and group codes for the per-group drift functions."""
    r = _f64("reference", reference)
    p = _f64("production", production)
    rg = np.asarray(reference_groups)
    pg = np.asarray(production_groups)
    _same_len("reference_groups", rg, "reference", r.shape[0])
    _same_len("production_groups", pg, "production", p.shape[0])
    # One vectorised encoding over both sides keeps the codes consistent.
    both, labels = _encode("groups", np.concatenate([rg, pg]))
    rc = np.ascontiguousarray(both[: rg.shape[0]])
    pc = np.ascontiguousarray(both[rg.shape[0] :])
    return r, rc, p, pc, labels


def ks_by_group(
    reference: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production: npt.ArrayLike,
    production_groups: npt.ArrayLike,
    method: str = "auto",
) -> dict[Hashable, KsResult | None]:
    """KS drift per group label (e.g. tier); groups present on one side only map to None."""
    r, rc, p, pc, labels = _grouped_samples(reference, production, reference_groups, production_groups)
    out: dict[Hashable, KsResult | None] = {}
    for k, res in _core.stats_ks_by_group(r, rc, p, pc, method):
        out[labels[k]] = None if res is None else KsResult(res[0], res[1], res[2])
    return out


@dataclass(frozen=True)
class DriftReport:
    """Drift of one group: KS test, PSI and Jensen–Shannon distance (reference-quantile bins)."""

    ks: KsResult
    psi: float
    js: float


def drift_by_group(
    reference: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production: npt.ArrayLike,
    production_groups: npt.ArrayLike,
    bins: int = 10,
    eps: float = 1e-4,
    base: float | None = None,
    method: str = "auto",
) -> dict[Hashable, DriftReport | None]:
    """KS, PSI and JS drift per group label (e.g. tier) between a reference sample (e.g. the
    router's training confidences) and production. PSI/JS use ``bins`` bins cut at each group's
    reference quantiles; groups present on one side only map to None."""
    r, rc, p, pc, labels = _grouped_samples(reference, production, reference_groups, production_groups)
    out: dict[Hashable, DriftReport | None] = {}
    for k, res in _core.stats_drift_by_group(r, rc, p, pc, bins, eps, base, method):
        out[labels[k]] = (
            None if res is None else DriftReport(KsResult(res[0], res[1], res[2]), res[3], res[4])
        )
    return out


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike, base: float | None = None) -> float:
    """Jensen–Shannon distance between two histograms (``scipy.spatial.distance.jensenshannon``)."""
    return _core.stats_jensen_shannon(_f64("p", p), _f64("q", q), base)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class DetectionPlan:
    """Reviews per tier per day (and in total) to detect a drop within the horizon."""

    per_day: int
    total: int
    power: float
    method: str


def fixed_sample_plan(
    p0: float, delta: float, days: int, alpha: float = 0.05, power: float = 0.8
) -> DetectionPlan:
    """Closed-form one-sided test of p0 against p0 − delta, reviews pooled over ``days``."""
    if days < 1:
        raise InvalidInputError(f"invalid `days`: a horizon of at least one day, got {days}")
    r = _core.stats_fixed_sample_plan(p0, delta, days, alpha, power)
    return DetectionPlan(int(r["per_day"]), int(r["total"]), float(r["power"]), str(r["method"]))


def sequential_plan(
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
) -> DetectionPlan:
    """Smallest daily count for which :class:`Monitor` alarms within ``days`` days with
    probability >= ``power`` when quality is p0 − delta (seeded simulation, bisection).

    ``tolerance`` (default 0: alarm when the upper bound falls below p0) must be below ``delta``;
    a positive tolerance makes the alarm stricter and the plan larger. The anytime-valid monitor
    needs more reviews than the fixed-sample test, which looks only once at the horizon."""
    for name, v in (
        ("days", days),
        ("sims", sims),
        ("max_per_day", max_per_day),
        ("restart_every", restart_every),
    ):
        if v < 0:
            raise InvalidInputError(f"invalid `{name}`: a non-negative integer, got {v}")
    r = _core.stats_sequential_plan(
        p0, delta, days, alpha, power, tolerance, restart_every, sims, seed, threads, max_per_day
    )
    return DetectionPlan(int(r["per_day"]), int(r["total"]), float(r["power"]), str(r["method"]))


from .summary import tier_summary as tier_summary  # noqa: E402
