"""Confidence intervals for a proportion and for the mean of bounded scores (mirrors
``src/stats/intervals.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from .. import _core
from ._convert import FloatArray, _f64, _same_len

__all__ = ["Interval", "bootstrap_interval", "proportion_interval", "proportion_intervals", "t_interval"]


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval with its point estimate."""

    lower: float
    upper: float
    estimate: float
    method: str
    level: float


def _interval(core: _core.StatsInterval, level: float) -> Interval:
    """The façade's interval for a core one, at the ``level`` the caller asked for."""
    return Interval(core.lower, core.upper, core.estimate, core.method, level)


def proportion_interval(successes: float, n: float, level: float = 0.95, method: str = "wilson") -> Interval:
    """Interval for a binomial proportion.

    ``method`` is ``"wilson"``, ``"clopper_pearson"`` (alias ``"beta"``, exact via the beta
    quantile), ``"agresti_coull"`` or ``"jeffreys"``; results match statsmodels'
    ``proportion_confint``.
    """
    columns = _core.stats_proportion_intervals(_f64("successes", [successes]), _f64("n", [n]), level, method)
    canonical = "clopper_pearson" if method in ("beta", "exact", "clopper-pearson") else method
    return Interval(
        float(columns.lower[0]), float(columns.upper[0]), float(columns.estimate[0]), canonical, level
    )


def proportion_intervals(
    successes: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95, method: str = "wilson"
) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`proportion_interval`: returns ``(lower, upper)`` arrays."""
    x = _f64("successes", successes)
    nn = _f64("n", n)
    _same_len("n", nn, "successes", x.shape[0])
    columns = _core.stats_proportion_intervals(x, nn, level, method)
    return columns.lower, columns.upper


def t_interval(values: npt.ArrayLike, weights: npt.ArrayLike | None = None, level: float = 0.95) -> Interval:
    """Student t interval for the mean of bounded scores (e.g. rescaled 1–5 ratings).

    ``weights`` are frequency weights, as statsmodels ``DescrStatsW(values, weights).tconfint_mean``.
    """
    v = _f64("values", values)
    w = None if weights is None else _f64("weights", weights)
    return _interval(_core.stats_t_interval(v, w, level), level)


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
    return _interval(_core.stats_bootstrap_interval(v, w, level, replicates, seed, threads), level)
