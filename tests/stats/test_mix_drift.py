"""Traffic-mix drift (`tierscope.stats.mix_drift`): descriptive statistics against independent
computations, the false-alarm guarantee by simulation under the worst mixes of the tolerance null,
detection of a shift beyond it, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from tierscope import stats
from tierscope.exceptions import InvalidInputError
from tierscope.stats.drift import mix_drift, region_counts

K = 16
P0 = np.arange(1, K + 1, dtype=float) / np.arange(1, K + 1).sum()


def _days(rng: np.random.Generator, p: np.ndarray, days: int, n: int) -> np.ndarray:
    return rng.multinomial(n, p, size=days).astype(float)


def test_descriptive_columns_match_scipy_and_the_psi_function() -> None:
    rng = np.random.default_rng(0)
    ref = rng.multinomial(100_000, P0).astype(float)
    daily = _days(rng, P0, 5, 20_000)
    res = mix_drift(ref, daily, horizon=84)
    shares = ref / ref.sum()
    for d in range(5):
        chi = sps.chisquare(daily[d], daily[d].sum() * shares)
        assert res.chi_square[d] == pytest.approx(chi.statistic, rel=1e-9)
        assert res.chi_square_p[d] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-12)
        assert res.psi[d] == pytest.approx(stats.psi(shares, daily[d] / daily[d].sum()), rel=1e-9)
        assert res.tv[d] == pytest.approx(0.5 * np.abs(daily[d] / daily[d].sum() - shares).sum())
    assert res.threshold == pytest.approx(np.log(84 / 0.05))
    # The first day has no earlier day to bet on: its e-value is exactly 1.
    assert res.log_e[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.timeout(120)
def test_false_alarm_rate_within_the_guarantee_at_the_edge_of_the_null() -> None:
    """Every day's mix is the launch mix with the full tolerance ε moved to one region (the worst
    case for a detector of that region, yet inside H0): alarms over 84 days stay below α + α_ref,
    while the exact-equality chi-square rejects on most days."""
    rng = np.random.default_rng(1)
    eps = 0.02
    runs, alarms, chi_reject = 300, 0, 0.0
    for r in range(runs):
        ref = rng.multinomial(300_000, P0).astype(float)
        target = r % K
        p = (1 - eps) * P0
        p[target] += eps
        res = mix_drift(ref, _days(rng, p, 70, 20_000), tolerance=eps, horizon=84)
        alarms += res.alarm_day is not None
        chi_reject += float(np.mean(res.chi_square_p < 0.05))
    # Binomial(300, 0.06) exceeds 30 with probability < 1e-3.
    assert alarms <= 30, alarms
    assert chi_reject / runs > 0.5


def res_tolerance(ref: np.ndarray) -> float:
    return mix_drift(ref, np.zeros((1, ref.size)), horizon=84).effective_tolerance


def test_a_shift_beyond_the_tolerance_alarms_within_days() -> None:
    rng = np.random.default_rng(2)
    ref = rng.multinomial(300_000, P0).astype(float)
    # The effective tolerance is ε plus the reference's estimation slack (about 5% here).
    assert 0.02 < res_tolerance(ref) < 0.07
    p1 = 0.9 * P0
    p1[3] += 0.1
    daily = np.vstack([_days(rng, P0, 10, 20_000), _days(rng, p1, 10, 20_000)])
    res = mix_drift(ref, daily, horizon=84)
    assert res.alarm_day is not None and 10 <= res.alarm_day <= 13, res.alarm_day
    region, before, after = res.moved(res.alarm_day, top=1)[0]
    assert region == 3 and after > before + 0.03


def test_region_counts_skip_missing_regions_and_apply_the_mask() -> None:
    region = np.array([0, 1, 1, -1, 2, 2, 2], dtype=np.int32)
    mask = np.array([True, True, False, True, True, True, False])
    assert region_counts(region, 3).tolist() == [1, 2, 3]
    assert region_counts(region, 3, mask).tolist() == [1, 1, 2]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: mix_drift([5.0], np.zeros((1, 1))), "reference_counts"),
        (lambda: mix_drift([5.0, 5.0], np.zeros((2, 3))), "daily_counts"),
        (lambda: mix_drift([5.0, 5.0], [[1.0, -1.0]]), "daily_counts"),
        (lambda: mix_drift([5.0, 5.0], [[1.0, 1.0]], tolerance=1.0), "tolerance"),
        (lambda: mix_drift([5.0, 5.0], [[1.0, 1.0]], alpha=0.0), "alpha"),
        (lambda: mix_drift([5.0, 5.0], [[1.0, 1.0]], horizon=0), "horizon"),
        (lambda: mix_drift([5.0, 5.0], "abc"), "daily_counts"),
        (lambda: region_counts(np.array([0, 3]), 3), "region"),
        (lambda: region_counts(np.array([0.5]), 3), "region"),
        (lambda: region_counts(np.array([0, 1]), 3, [True]), "mask"),
    ],
)
def test_bad_input_names_the_argument(call, name) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=f"`{name}"):
        call()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=2, max_size=12),
    st.integers(0, 2**32 - 1),
)
def test_results_are_finite_and_the_detector_is_a_cusum(ref: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = len(ref)
    reference = np.asarray(ref, dtype=float) + 1.0
    daily = rng.multinomial(500, np.full(k, 1.0 / k), size=6).astype(float)
    res = mix_drift(reference, daily)
    assert np.all(np.isfinite(res.log_e)) and np.all(np.isfinite(res.log_detector))
    expected, m = [], 0.0
    for e in res.log_e:
        m = max(m, 0.0) + e
        expected.append(m)
    np.testing.assert_allclose(res.log_detector, expected, rtol=1e-12, atol=1e-9)
    assert np.all(res.floor <= res.reference + 1e-12)
