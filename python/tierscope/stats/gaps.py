"""Differences between tiers: independent and paired comparisons, and the design-based domain
gap returned by :meth:`Aggregate.domain_gap <tierscope.stats.Aggregate.domain_gap>` (mirrors
``src/stats/gaps.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from .. import _core, _validate
from ._convert import FloatArray, _count, _f64, _level, _nonneg, _same_len
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
    """Newcombe hybrid score interval for p_a − p_b from independent samples (counts may be
    fractional, e.g. effective counts; each in [0, n])."""
    xa, na = _nonneg("successes_a", successes_a), _nonneg("n_a", n_a)
    xb, nb = _nonneg("successes_b", successes_b), _nonneg("n_b", n_b)
    level = _level(level)
    return _interval(_core.stats_newcombe_independent(xa, na, xb, nb, level), level)


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


def _pair(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    av = _f64("a", a)
    bv = _f64("b", b)
    _same_len("b", bv, "a", av.shape[0])
    return av, bv


def paired_comparison(a: npt.ArrayLike, b: npt.ArrayLike, level: float = 0.95) -> PairedComparison:
    """Paired gap p_a − p_b: Newcombe's method 10 and Wald intervals, McNemar discordance
    (``a_only``, ``b_only``) with exact and mid-p two-sided p-values."""
    av, bv = _pair(a, b)
    level = _level(level)
    r = _core.stats_paired_binary(av, bv, level)
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
    av, bv = _pair(a, b)
    level = _level(level)
    return _interval(_core.stats_paired_wald(av, bv, level), level)


def mcnemar(b: int, c: int) -> tuple[float, float]:
    """Exact and mid-p two-sided McNemar p-values for discordant counts ``b`` and ``c``:
    non-negative integers (Python or numpy; ``1.5`` and ``True`` are refused, not truncated) with
    ``b + c < 2**64``."""
    bb = _count("b", b)
    cc = _count("c", c, maximum=_validate.USIZE_MAX - bb)
    return _core.stats_mcnemar(bb, cc)
