"""Design-based estimators on mergeable sufficient statistics: :class:`Aggregate` and
:func:`estimate` (mirrors ``src/stats/aggregate.rs`` and ``src/stats/estimators.rs``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import _core
from ..exceptions import InternalError, InvalidInputError
from ._convert import _encode, _f64, _i64, _same_len
from .gaps import DomainGap, _domain_gap

__all__ = ["Aggregate", "DomainEstimate", "Estimates", "estimate"]


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


def _estimate_from(
    core: _core.StatsDomainEstimate, label: Hashable | None, *, noun: str = "domain"
) -> DomainEstimate:
    """The façade's estimate of a core result, ``domain`` set to the caller's ``label``."""
    reason = core.reason
    if reason is not None and core.domain is not None and (label != core.domain or noun != "domain"):
        # The core names integer codes; say the caller's label (and noun: "tier") instead.
        reason = reason.replace(f"domain {core.domain}", f"{noun} {label!r}")
    return DomainEstimate(
        domain=label,
        n=core.n,
        population=core.population,
        population_hat=core.population_hat,
        total=core.total,
        total_se=core.total_se,
        ht_mean=core.ht_mean,
        ht_mean_se=core.ht_mean_se,
        mean=core.mean,
        se=core.se,
        lower=core.lower,
        upper=core.upper,
        interval=core.interval,
        wald_lower=core.wald_lower,
        wald_upper=core.wald_upper,
        level=core.level,
        n_eff=core.n_eff,
        defined=core.defined,
        reason=reason,
    )


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
        return [_estimate_from(d, d.domain) for d in raw]

    def estimate_population(self, design: str = "poisson", level: float = 0.95) -> DomainEstimate:
        """Estimate over all traffic."""
        return _estimate_from(self._inner.estimate_population(_check_design(design), level), None)

    def estimate_strata(self, design: str = "poisson", level: float = 0.95) -> list[DomainEstimate]:
        """Per-stratum estimates (``domain`` holds the stratum code)."""
        raw = self._inner.estimate_strata(_check_design(design), level)
        return [_estimate_from(d, d.domain) for d in raw]

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
        return _domain_gap(self._inner.domain_gap(_check_design(design), int(domain_a), int(domain_b), level))


@dataclass(frozen=True)
class Estimates:
    """All-traffic, per-domain and per-stratum estimates from one sample."""

    population: DomainEstimate
    domains: dict[Hashable, DomainEstimate]
    strata: dict[Hashable, DomainEstimate]


def _code(core: _core.StatsDomainEstimate) -> int:
    """The domain (or stratum) code of a per-domain or per-stratum estimate."""
    if core.domain is None:
        raise InternalError("a per-domain estimate without a domain code")
    return core.domain


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
        domains={d_labels[_code(d)]: _estimate_from(d, d_labels[_code(d)]) for d in doms},
        strata={s_labels[_code(d)]: _estimate_from(d, s_labels[_code(d)]) for d in strs if d.defined},
    )
