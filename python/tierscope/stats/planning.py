"""Review planning: how many reviews per tier per day detect a drop within the horizon (mirrors
``src/stats/planning.rs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


__all__ = [
    "MAX_SIMS",
    "DetectionPlan",
    "fixed_sample_plan",
    "judge_sequential_plan",
    "oracle_alarm_day",
    "oracle_daily_reviews",
    "sequential_plan",
]


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


def judge_sequential_plan(
    p0: float,
    delta: float,
    days: int,
    judge_calls: int,
    accept_good: float = 0.92,
    accept_bad: float = 0.2,
    power: float = 0.8,
    tolerance: float = 0.0,
    arl: float = 1000.0,
    sims: int = 100,
    seed: int = 0,
    max_per_day: int = 2000,
) -> DetectionPlan:
    """Smallest daily review count for which the judge-assisted :class:`PpiMonitor` (e-detector,
    ``arl``) alarms within ``days`` days with probability >= ``power`` when quality is p0 − delta,
    with ``judge_calls`` judged answers a day from a judge that accepts ``accept_good`` of the good
    and ``accept_bad`` of the bad answers (seeded simulation, bisection over the daily count).
    λ is the variance-minimising one under the judge model at p0, fixed before the run.
    Compare with the same call at ``judge_calls=0`` (reviews alone) to see what the judge buys."""
    import numpy as np

    from .sequential import Monitor, PpiMonitor

    p0, delta, _, power = _rates(p0, delta, 0.5, power)
    days = _days("days", days, minimum=1)
    judge_calls = _count("judge_calls", judge_calls)
    accept_good = _validate.unit("accept_good", accept_good)
    accept_bad = _validate.unit("accept_bad", accept_bad)
    tolerance = _validate.real("tolerance", tolerance, minimum=0.0, maximum=delta, max_open=True)
    arl = _validate.real("arl", arl, minimum=1.0, min_open=True)
    sims = _count("sims", sims, minimum=10, maximum=100_000)
    seed = _seed(seed)
    max_per_day = _count("max_per_day", max_per_day, minimum=1)
    q = p0 * accept_good + (1 - p0) * accept_bad  # P(judge accepts) at p0
    cov = p0 * accept_good - p0 * q

    def detects(n: int) -> float:
        rng = np.random.default_rng([seed, n])
        lam = min(max(cov / (q * (1 - q) * (1 + n / judge_calls)), 0.0), 1.0) if judge_calls else 0.0
        p1 = p0 - delta
        hits = 0
        for _ in range(sims):
            mon: Any = PpiMonitor(p0, tolerance, lam, method="e_detector", arl=arl) if judge_calls else None
            plain = Monitor(p0, tolerance, method="e_detector", arl=arl)
            for _d in range(days):
                y = rng.random(n) < p1
                f = np.where(y, rng.random(n) < accept_good, rng.random(n) < accept_bad).astype(float)
                if judge_calls:
                    yj = rng.random(judge_calls) < p1
                    fj = np.where(
                        yj, rng.random(judge_calls) < accept_good, rng.random(judge_calls) < accept_bad
                    )
                    status = mon.update(y.astype(float), f, fj.astype(float))
                else:
                    status = plain.update(y.astype(float))
                if status.alarm:
                    hits += 1
                    break
        return hits / sims

    lo, hi = 1, max_per_day
    if detects(hi) < power:
        return DetectionPlan(max_per_day, max_per_day * days, detects(hi), "judge_assisted_unreachable")
    while lo < hi:
        mid = (lo + hi) // 2
        if detects(mid) >= power:
            hi = mid
        else:
            lo = mid + 1
    return DetectionPlan(lo, lo * days, detects(lo), "judge_assisted" if judge_calls else "reviews_only")


# ----------------------------------------------------------------------------- the oracle bound


def _evidence_per_unit(
    quality: Any, threshold: float, variance: float | None, arl: float, start: int
) -> tuple[Any, float, int]:
    """(per-day evidence of one observation, δ_d²/(2·variance), validated; ln ``arl``; ``start``)."""
    import math

    import numpy as np

    from ._convert import _f64

    q = _f64("quality", quality, finite=True)
    if q.size == 0:
        raise _validate.fail("quality", "at least one day's quality", "an empty array")
    if q.min() < 0.0 or q.max() > 1.0:
        raise _validate.fail("quality", "qualities in [0, 1]", f"range [{q.min()}, {q.max()}]")
    threshold = _validate.unit("threshold", threshold, open_interval=True)
    var = threshold * (1.0 - threshold) if variance is None else variance
    var = _validate.real("variance", var, minimum=0.0, min_open=True)
    arl = _validate.real("arl", arl, minimum=1.0, min_open=True)
    start = _validate.integer("start", start, minimum=0, maximum=q.shape[0] - 1)
    return np.maximum(threshold - q, 0.0) ** 2 / (2.0 * var), math.log(arl), start


def oracle_alarm_day(
    quality: Any,
    threshold: float,
    per_day: Any,
    variance: float | None = None,
    arl: float = 1000.0,
    start: int = 0,
) -> int | None:
    """The day an oracle that knows each day's true quality expects to alarm: the first day
    D >= ``start`` with Σ_{start<=d<=D} n_d·δ_d²/(2·variance) >= ln(``arl``), δ_d = max(0,
    ``threshold`` − ``quality[d]``), n_d = ``per_day`` (a count, or one per day).

    That sum is the expected log-likelihood ratio of the post-change data against the threshold
    (Gaussian approximation; ``variance`` defaults to the Bernoulli θ(1 − θ) at the threshold),
    and by Lorden's bound a detector whose mean time to a false alarm is at least ``arl`` needs
    about ln(``arl``) of it: a design question (how many reviews see a drop this fast), not a claim
    about one run, which can alarm a little earlier by chance or later because a real detector
    must also learn the size of the drop. For a judge-assisted stream pass the reviews' variance
    times the squared PPI/human width ratio. None: not within ``quality``'s days."""
    import numpy as np

    gain, needed, start = _evidence_per_unit(quality, threshold, variance, arl, start)
    info = _f64_per_day(per_day, gain.shape[0]) * gain
    info[:start] = 0.0
    hit = np.flatnonzero(np.cumsum(info) >= needed)
    return int(hit[0]) if len(hit) else None


def oracle_daily_reviews(
    quality: Any,
    threshold: float,
    by_day: int,
    variance: float | None = None,
    arl: float = 1000.0,
    start: int = 0,
) -> float:
    """The daily count with which :func:`oracle_alarm_day` is ``by_day`` or earlier (the same
    count every day from ``start``); ``inf`` when the quality is not below ``threshold`` by then."""
    import math

    gain, needed, start = _evidence_per_unit(quality, threshold, variance, arl, start)
    by_day = _validate.integer("by_day", by_day, minimum=start, maximum=gain.shape[0] - 1)
    info = float(gain[start : by_day + 1].sum())
    return needed / info if info > 0.0 else math.inf


def _f64_per_day(per_day: Any, days: int) -> Any:
    import numpy as np

    from ._convert import _f64

    if isinstance(per_day, (int, float)) and not isinstance(per_day, bool):
        n = np.full(days, _validate.real("per_day", per_day, minimum=0.0))
    else:
        n = _f64("per_day", per_day, finite=True)
        if n.shape[0] != days:
            raise _validate.fail("per_day", f"a count or one count per day ({days})", f"length {n.shape[0]}")
        if n.size and n.min() < 0.0:
            raise _validate.fail("per_day", "counts >= 0", float(n.min()))
    return n
