"""``stats.oracle_alarm_day`` / ``stats.oracle_daily_reviews``: the expected-evidence bound of a
design, checked in closed form and against each other."""

from __future__ import annotations

import math

import numpy as np
from tierscope import stats


def test_alarm_day_for_a_constant_drop() -> None:
    # 100 observations a day, 5 points below the threshold, variance 0.1: 1.25 nats a day, so
    # ln(1000) = 6.91 nats are reached on the 6th day after the start (day 15).
    q = np.r_[np.full(10, 0.9), np.full(20, 0.8)]
    assert stats.oracle_alarm_day(q, 0.85, 100, 0.1, arl=1000.0, start=10) == 15
    assert stats.oracle_alarm_day(q, 0.85, np.full(30, 100.0), 0.1, start=10) == 15
    # above the threshold throughout: never; a larger ARL needs more evidence (ln 1e6 / 1.25 → 12 days)
    assert stats.oracle_alarm_day(np.full(30, 0.9), 0.85, 100, 0.1) is None
    assert stats.oracle_alarm_day(q, 0.85, 100, 0.1, arl=1e6, start=10) == 21
    # the default variance is the Bernoulli one at the threshold
    assert stats.oracle_alarm_day(q, 0.85, 100, start=10) == stats.oracle_alarm_day(
        q, 0.85, 100, 0.85 * 0.15, start=10
    )
    # days before `start` add nothing, whatever they hold
    early = np.r_[np.full(10, 0.5), np.full(20, 0.8)]
    assert stats.oracle_alarm_day(early, 0.85, 100, 0.1, start=10) == 15


def test_daily_reviews_is_the_smallest_count_for_the_day() -> None:
    q = np.r_[np.full(14, 0.91), 0.91 - 0.0035 * np.arange(1, 30)]
    for by in (24, 30, 40):
        n = stats.oracle_daily_reviews(q, 0.88, by, 0.1, start=14)
        enough = stats.oracle_alarm_day(q, 0.88, n * 1.001, 0.1, start=14)
        fewer = stats.oracle_alarm_day(q, 0.88, n * 0.95, 0.1, start=14)
        assert enough is not None and enough <= by
        assert fewer is None or fewer > by
    # a linear drop: the evidence grows like the cube of the days past the crossing
    n1 = stats.oracle_daily_reviews(q, 0.88, 30, 0.1, start=14)
    n2 = stats.oracle_daily_reviews(q, 0.88, 38, 0.1, start=14)
    assert n1 > 5 * n2
    assert stats.oracle_daily_reviews(np.full(30, 0.95), 0.88, 20) == math.inf
    assert stats.oracle_daily_reviews(q, 0.88, 30, arl=10.0, start=14) < stats.oracle_daily_reviews(
        q, 0.88, 30, arl=1000.0, start=14
    )


def test_the_e_detector_is_no_faster_than_the_oracle_on_average() -> None:
    """The bound is about expectations: the e-detector (ARL 1,000) fed the oracle's Bernoulli
    observations alarms on average no earlier than the oracle's expected day (and within a few
    days of it: it must also learn the size of the drop)."""
    p0, tol = 0.9, 0.03
    q = np.r_[np.full(10, p0), p0 - 0.01 * np.arange(1, 41)]
    thr = p0 - tol
    bound = stats.oracle_alarm_day(q, thr, 100, start=10)
    assert bound is not None
    rng = np.random.default_rng(3)
    days = []
    for _ in range(60):
        mon = stats.Monitor(p0, tol, method="e_detector", arl=1000.0)
        for d in range(10, len(q)):
            if mon.update((rng.random(100) < q[d]).astype(float)).alarm:
                days.append(d)
                break
    assert len(days) == 60
    assert bound <= np.mean(days) <= bound + 6, (bound, np.mean(days))
