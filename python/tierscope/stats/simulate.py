"""Seeded Monte-Carlo checks run in Rust: monitor alarm days and design-based interval coverage
(mirrors ``src/stats/simulate.rs``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy.typing as npt

from .. import _core, _validate
from ._convert import _count, _days, _f64, _i64, _level, _opt_f64, _same_len, _seed, _threads
from .estimators import _check_design, _check_interval
from .sequential import _arl, _restart_every

MAX_RUNS = 10_000_000
"""The most simulated runs one call takes."""
MAX_REVIEWS_PER_DAY = 2**53
"""The most reviews per simulated day (a binomial draw per day, exact in ``float64``)."""

__all__ = ["MAX_REVIEWS_PER_DAY", "MAX_RUNS", "CoverageReport", "simulate_coverage", "simulate_monitor"]


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
    baseline = _validate.unit("baseline", baseline)
    tolerance = _validate.real("tolerance", tolerance, minimum=0.0)
    days = _days("days", days)
    reviews_per_day = _count("reviews_per_day", reviews_per_day, maximum=MAX_REVIEWS_PER_DAY)
    p_before = _validate.unit("p_before", p_before)
    p_after = _validate.unit("p_after", p_after)
    change_day = _days("change_day", change_day)
    runs = _count("runs", runs, maximum=MAX_RUNS)
    alpha = _validate.unit("alpha", alpha, open_interval=True)
    restart_every = _restart_every(restart_every)
    seed, threads = _seed(seed), _threads(threads)
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
    interval: str = "wilson",
) -> CoverageReport:
    """Repeatedly sample a fixed population (integer stratum/domain codes) under ``design``
    (``"srswor"`` with per-stratum ``sizes``, or ``"poisson"`` with ``pi``) and count interval
    coverage of the all-traffic and per-domain means, the headline interval computed with
    ``interval`` (one of :data:`~tierscope.stats.estimators.INTERVALS`)."""
    yv = _f64("y", y)
    h = _i64("strata", strata)
    d = _i64("domains", domains)
    _same_len("strata", h, "y", yv.shape[0])
    _same_len("domains", d, "y", yv.shape[0])
    design = _check_design(design)
    interval = _check_interval(interval)
    if sizes is not None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise _validate.fail("sizes", "a sequence of per-stratum sample sizes", sizes)
        sizes = [_count(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    p = _opt_f64("pi", pi)
    if p is not None:
        _same_len("pi", p, "y", yv.shape[0])
    runs = _count("runs", runs, minimum=1, maximum=MAX_RUNS)
    r = _core.stats_simulate_coverage(
        yv, h, d, design, sizes, p, runs, _level(level), _seed(seed), _threads(threads), interval
    )
    return CoverageReport(r.targets, r.truth, r.defined, r.covered, r.covered_wald, r.mean_width, r.runs)
