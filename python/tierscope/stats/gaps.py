"""Differences between tiers: independent and paired comparisons, and the design-based domain
gap returned by :meth:`Aggregate.domain_gap <tierscope.stats.Aggregate.domain_gap>` (mirrors
``src/stats/gaps.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from .. import _core
from ..exceptions import InvalidInputError
from ._convert import _f64
from .intervals import Interval, _interval

__all__ = [
    "DomainGap",
    "PairedComparison",
    "mcnemar",
    "newcombe_difference",
    "paired_comparison",
    "paired_wald",
]


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


def _domain_gap(core: _core.StatsDomainGap) -> DomainGap:
    return DomainGap(core.estimate, core.se, core.lower, core.upper, core.level, core.defined, core.reason)


def newcombe_difference(
    successes_a: float, n_a: float, successes_b: float, n_b: float, level: float = 0.95
) -> Interval:
    """Newcombe hybrid score interval for p_a − p_b from independent samples."""
    return _interval(_core.stats_newcombe_independent(successes_a, n_a, successes_b, n_b, level), level)


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
    r = _core.stats_paired_binary(_f64("a", a), _f64("b", b), level)
    return PairedComparison(
        n=r.n,
        both=r.both,
        a_only=r.a_only,
        b_only=r.b_only,
        neither=r.neither,
        newcombe=_interval(r.newcombe, level),
        wald=_interval(r.wald, level),
        mcnemar_exact_p=r.mcnemar_exact_p,
        mcnemar_midp=r.mcnemar_midp,
    )


def paired_wald(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> Interval:
    """Wald interval on paired differences a − b (any bounded scores)."""
    return _interval(_core.stats_paired_wald(_f64("a", a), _f64("b", b), level), level)


def mcnemar(b: int, c: int) -> tuple[float, float]:
    """Exact and mid-p two-sided McNemar p-values for discordant counts ``b`` and ``c``."""
    if b < 0 or c < 0:
        raise InvalidInputError(f"invalid `b`: non-negative discordant counts, got {b}, {c}")
    return _core.stats_mcnemar(int(b), int(c))
