"""Review planning: how many reviews per tier per day detect a drop within the horizon (mirrors
``src/stats/planning.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import _core, _validate
from ._convert import U32_MAX, _count, _days, _seed, _threads

MAX_SIMS = 10_000_000
"""The most simulated runs :func:`sequential_plan` takes per candidate daily count."""


def _rates(p0: float, delta: float, alpha: float, power: float) -> tuple[float, float, float, float]:
    return (
        _validate.unit("p0", p0, open_interval=True),
        _validate.unit("delta", delta, open_interval=True),
        _validate.unit("alpha", alpha, open_interval=True),
        _validate.unit("power", power, open_interval=True),
    )


__all__ = ["MAX_SIMS", "DetectionPlan", "fixed_sample_plan", "sequential_plan"]


@dataclass(frozen=True)
class DetectionPlan:
    """Reviews per tier per day (and in total) to detect a drop within the horizon."""

    per_day: int
    total: int
    power: float
    method: str


def _plan(core: _core.StatsReviewPlan) -> DetectionPlan:
    return DetectionPlan(core.per_day, core.total, core.power, core.method)


def fixed_sample_plan(
    p0: float, delta: float, days: int, alpha: float = 0.05, power: float = 0.8
) -> DetectionPlan:
    """Closed-form one-sided test of p0 against p0 − delta, reviews pooled over ``days``."""
    p0, delta, alpha, power = _rates(p0, delta, alpha, power)
    days = _days("days", days, minimum=1)
    return _plan(_core.stats_fixed_sample_plan(p0, delta, days, alpha, power))


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
    p0, delta, alpha, power = _rates(p0, delta, alpha, power)
    days = _days("days", days, minimum=1)
    tolerance = _validate.optional(_validate.real, "tolerance", tolerance, minimum=0.0)
    restart_every = _validate.integer("restart_every", restart_every, minimum=0, maximum=U32_MAX)
    sims = _count("sims", sims, minimum=10, maximum=MAX_SIMS)
    seed, threads = _seed(seed), _threads(threads)
    max_per_day = _count("max_per_day", max_per_day, minimum=1)
    return _plan(
        _core.stats_sequential_plan(
            p0, delta, days, alpha, power, tolerance, restart_every, sims, seed, threads, max_per_day
        )
    )
