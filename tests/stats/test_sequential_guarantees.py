"""Guarantees of the sequential monitors (src/stats/sequential.rs), by seeded simulation: the
e-detector's null run length (in days with reviews) and early-alarm bound, its silence without
reviews, detection delays, and the anytime coverage of both confidence-sequence boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from tierscope import stats as ts
from tierscope.exceptions import InvalidInputError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ARL = 30.0
CAP = 600  # 20 x ARL days


def _null_runs(p: float, runs: int = 400) -> np.ndarray:
    alarms = ts.simulate_monitor(
        baseline=0.85, tolerance=0.03, days=CAP, reviews_per_day=70, p_before=p, p_after=p,
        change_day=0, runs=runs, seed=15, method="e_detector", arl=ARL,
    )  # fmt: skip
    return np.array([CAP + 1 if a is None else a for a in alarms], dtype=float)


def test_null_run_length_worst_case_and_early_alarm_bound() -> None:
    """Quality exactly on the line: mean run length >= ARL (here censored at 20 x ARL, so a lower
    bound), and P(alarm within m days with reviews) <= m / ARL."""
    r = _null_runs(0.82)
    mean = np.minimum(r, CAP).mean()
    print(f"worst-case null, arl={ARL:.0f}: mean run length >= {mean:.1f} days; "
          f"alarmed before day arl {np.mean(r < ARL):.3f}")  # fmt: skip
    assert mean >= ARL
    for m in (3, 7, 15, 30):
        frac = np.mean(r <= m)
        assert frac <= m / ARL, (m, frac)


def test_null_run_length_safe_null() -> None:
    """Quality 3 points above the line: false alarms far rarer than one per ARL days."""
    r = _null_runs(0.85)
    frac = np.mean(r <= CAP)
    print(f"safe null, arl={ARL:.0f}: alarmed within {CAP} days {frac:.4f}")
    assert frac <= 0.1  # the ARL bound alone would allow 1.0


def test_no_reviews_never_alarm() -> None:
    m = ts.Monitor(0.85, 0.03, method="e_detector", arl=ARL)
    for _ in range(int(10 * ARL)):
        st = m.update(np.zeros(0))
        assert st.log_evidence == pytest.approx(0.0, abs=1e-12)
    assert m.alarm_day is None
    w = ts.Monitor(0.85, 0.03, method="e_detector", arl=ARL, max_weight=10.0)
    for _ in range(int(10 * ARL)):
        w.update(np.zeros(0), pi=np.zeros(0), population=0)
    assert w.alarm_day is None


@pytest.mark.parametrize(("p_after", "max_median"), [(0.75, 14), (0.80, 90)])
def test_detection_delay(p_after: float, max_median: float) -> None:
    """Median delay of the ARL-1000 e-detector for a 10-point and a 5-point drop, 70 reviews/day."""
    alarms = ts.simulate_monitor(
        baseline=0.85, tolerance=0.03, days=120, reviews_per_day=70, p_before=0.85,
        p_after=p_after, change_day=20, runs=300, seed=12, method="e_detector", arl=1000.0,
    )  # fmt: skip
    early = sum(a is not None and a < 20 for a in alarms)
    delays = [a - 20 for a in alarms if a is not None and a >= 20]
    median = float(np.median(delays + [10_000] * (len(alarms) - len(delays) - early)))
    print(
        f"drop to {p_after}: median delay {median} days, detected {len(delays)}/{len(alarms)}, early {early}"
    )
    assert early <= 0.05 * len(alarms)
    assert median <= max_median


@pytest.mark.parametrize("boundary", ["eb", "beta_binomial"])
@pytest.mark.parametrize("p", [0.85, 0.80])
def test_anytime_coverage(boundary: str, p: float) -> None:
    """The full-history sequence covers the true mean on every day (running intersection), in
    >= 95% of runs; the truth on the baseline and 5 points below it."""
    rng = np.random.default_rng(7)
    runs, days, covered = 300, 30, 0
    for _ in range(runs):
        m = ts.Monitor(0.85, 0.03, restart_every=0, boundary=boundary)
        ok = True
        for _ in range(days):
            st = m.update((rng.random(70) < p).astype(float))
            ok &= st.lower <= p <= st.upper
        covered += ok
    print(f"{boundary} p={p}: anytime coverage {covered / runs:.3f}")
    assert covered / runs >= 0.95


def test_boundary_is_validated_and_round_trips() -> None:
    with pytest.raises(InvalidInputError, match="`boundary`"):
        ts.Monitor(0.85, 0.03, boundary="hoeffding")
    with pytest.raises(InvalidInputError, match="`boundary`"):
        ts.Monitor(0.85, 0.03, boundary="beta_binomial", max_weight=5.0)
    m = ts.Monitor(0.85, 0.03, boundary="beta_binomial")
    x = np.r_[np.ones(60), np.zeros(10)]
    m.update(x)
    back = ts.Monitor.from_json(m.to_json())
    assert back.update(x) == m.update(x)
    bb = m.history[-1]
    eb = ts.Monitor(0.85, 0.03)
    eb.update(x)
    eb_st = eb.update(x)
    assert bb.upper - bb.lower < eb_st.upper - eb_st.lower
