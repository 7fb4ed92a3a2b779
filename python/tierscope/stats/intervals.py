"""Confidence intervals for a proportion and for the mean of bounded scores (mirrors
``src/stats/intervals.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from .. import _core
from ._convert import FloatArray, _count, _f64, _level, _method, _nonneg, _opt_f64, _same_len, _seed, _threads

__all__ = [
    "MAX_REPLICATES",
    "PROPORTION_METHODS",
    "Interval",
    "bootstrap_interval",
    "proportion_interval",
    "proportion_intervals",
    "t_interval",
]


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval with its point estimate."""

    lower: float
    upper: float
    estimate: float
    method: str
    level: float


PROPORTION_METHODS = (
    "wilson",
    "clopper_pearson",
    "beta",
    "exact",
    "clopper-pearson",
    "agresti_coull",
    "jeffreys",
)
"""The ``method`` names :func:`proportion_interval` takes (``beta``/``exact`` alias Clopper–Pearson)."""


def _interval(core: _core.StatsInterval, level: float) -> Interval:
    """The façade's interval for a core one, at the ``level`` the caller asked for."""
    return Interval(core.lower, core.upper, core.estimate, core.method, level)


def proportion_interval(successes: float, n: float, level: float = 0.95, method: str = "wilson") -> Interval:
    """Interval for a binomial proportion.

    ``method`` is ``"wilson"``, ``"clopper_pearson"`` (alias ``"beta"``, exact via the beta
    quantile), ``"agresti_coull"`` or ``"jeffreys"``; results match statsmodels'
    ``proportion_confint``.
    """
    x = _nonneg("successes", successes)
    nn = _nonneg("n", n)
    level = _level(level)
    method = _method("method", method, PROPORTION_METHODS)
    columns = _core.stats_proportion_intervals(_f64("successes", [x]), _f64("n", [nn]), level, method)
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
    level = _level(level)
    method = _method("method", method, PROPORTION_METHODS)
    columns = _core.stats_proportion_intervals(x, nn, level, method)
    return columns.lower, columns.upper


def t_interval(values: npt.ArrayLike, weights: npt.ArrayLike | None = None, level: float = 0.95) -> Interval:
    """Student t interval for the mean of bounded scores (e.g. rescaled 1–5 ratings).

    ``weights`` are frequency weights, as statsmodels ``DescrStatsW(values, weights).tconfint_mean``.
    """
    v = _f64("values", values)
    w = _opt_f64("weights", weights)
    if w is not None:
        _same_len("weights", w, "values", v.shape[0])
    level = _level(level)
    return _interval(_core.stats_t_interval(v, w, level), level)


MAX_REPLICATES = 10_000_000
"""The most bootstrap replicates one call may ask for (each is a pass over ``values``)."""


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
    w = _opt_f64("weights", weights)
    if w is not None:
        _same_len("weights", w, "values", v.shape[0])
    level = _level(level)
    replicates = _count("replicates", replicates, minimum=10, maximum=MAX_REPLICATES)
    core = _core.stats_bootstrap_interval(v, w, level, replicates, _seed(seed), _threads(threads))
    return _interval(core, level)
