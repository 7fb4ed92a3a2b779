"""The judge-assisted monitor (PpiMonitor): its false-alarm rate under no change, checked by
simulation against the e-detector's guarantee, and that it sees a drop sooner than reviews alone."""

from __future__ import annotations

import numpy as np
import pytest
from tierscope import stats
from tierscope.exceptions import InvalidInputError

REVIEWS, JUDGED, BASE, TOL = 130, 3000, 0.85, 0.03


def _day(rng: np.random.Generator, quality: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n answers of the given quality; the judge agrees 85% of the time on honest answers and
    accepts 80% of the wrong answers that are fluent (half of them)."""
    y = rng.uniform(size=n) < quality
    fluent = ~y & (rng.uniform(size=n) < 0.5)
    f = np.where(fluent, rng.uniform(size=n) < 0.8, np.where(rng.uniform(size=n) < 0.85, y, ~y))
    return y.astype(float), f.astype(float)


def _launch_lam(rng: np.random.Generator) -> float:
    y, f = _day(rng, BASE, 14 * REVIEWS)
    _, fj = _day(rng, BASE, 14 * JUDGED)
    return stats.ppi_mean(y, f, fj, variance="with_replacement")[0].lam


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_no_change_false_alarms_within_the_guarantee() -> None:
    """Quality exactly at the alarm line (the hardest null) for 84 days, 200 runs: the share of
    runs with a false alarm stays within the e-detector's bound 84/ARL (plus Monte Carlo slack)."""
    rng = np.random.default_rng(16)
    lam, runs, days, arl = _launch_lam(rng), 200, 84, 1000.0
    alarms = 0
    for _ in range(runs):
        mon = stats.PpiMonitor(BASE, TOL, lam, method="e_detector", arl=arl)
        for _d in range(days):
            y, f = _day(rng, BASE - TOL, REVIEWS)
            _, fj = _day(rng, BASE - TOL, JUDGED)
            mon.update(y, f, fj)
        alarms += mon.alarm_day is not None
    bound = days / arl
    slack = 3 * np.sqrt(bound * (1 - bound) / runs)
    print(f"λ={lam:.3f}: {alarms}/{runs} runs with a false alarm (bound {bound:.3f})")
    assert alarms / runs <= bound + slack


@pytest.mark.timeout(60)
def test_judge_assisted_alarms_sooner_than_reviews_alone() -> None:
    rng = np.random.default_rng(7)
    lam = _launch_lam(rng)
    ppi_days, human_days = [], []
    for _ in range(20):
        ppi = stats.PpiMonitor(BASE, TOL, lam, method="e_detector", arl=1000.0)
        human = stats.Monitor(BASE, TOL, method="e_detector", arl=1000.0)
        for d in range(60):
            q = BASE if d < 5 else BASE - 0.08
            y, f = _day(rng, q, REVIEWS)
            _, fj = _day(rng, q, JUDGED)
            ppi.update(y, f, fj)
            human.update(y)
        ppi_days.append(ppi.alarm_day or 61)
        human_days.append(human.alarm_day or 61)
    print("mean alarm day: judge-assisted", np.mean(ppi_days), "reviews only", np.mean(human_days))
    assert np.mean(ppi_days) < np.mean(human_days)
    assert max(ppi_days) <= 60


def test_stream_is_unbiased_for_a_fixed_lambda_and_checks_inputs() -> None:
    z = stats.ppi_stream([1.0, 0.0, 1.0], [1.0, 1.0, 0.0], judge_mean=0.5, lam=0.6)
    np.testing.assert_allclose(z, [0.7, -0.3, 1.3])
    with pytest.raises(InvalidInputError, match="lam"):
        stats.ppi_stream([1.0], [1.0], 0.5, 1.5)
    with pytest.raises(InvalidInputError, match="`f`"):
        stats.ppi_stream([1.0], [1.0, 0.0], 0.5, 0.5)
    with pytest.raises(InvalidInputError, match="`y`"):
        stats.ppi_stream([2.0], [1.0], 0.5, 0.5)


@pytest.mark.timeout(120)
def test_judge_sequential_plan_needs_fewer_reviews_with_a_good_judge() -> None:
    kw = {"p0": 0.9, "delta": 0.08, "days": 10, "tolerance": 0.03, "sims": 40, "max_per_day": 400}
    alone = stats.judge_sequential_plan(judge_calls=0, **kw)
    judged = stats.judge_sequential_plan(judge_calls=3000, accept_good=0.97, accept_bad=0.1, **kw)
    print(
        "reviews/day to detect an 8-point drop within 10 days:",
        alone.per_day,
        "alone,",
        judged.per_day,
        "with a judge",
    )
    assert judged.method == "judge_assisted" and alone.method == "reviews_only"
    assert judged.per_day < alone.per_day
    with pytest.raises(InvalidInputError, match="judge_calls"):
        stats.judge_sequential_plan(0.9, 0.05, 7, judge_calls=-1)
