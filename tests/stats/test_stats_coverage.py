"""Coverage of the design-based intervals and behaviour of the sequential monitors, by seeded
simulation (the loops run in Rust; each test takes a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from tierscope import stats as ts
from tierscope.exceptions import InvalidInputError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RUNS = 4000
LOW, HIGH = 0.935, 0.965


def make_population(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Traffic with two tiers x three confidence bands x {head, tail}; the tail band holds ~5% of
    units and has much lower quality. Returns (y, strata, domains, score)."""
    rng = np.random.default_rng(seed)
    tier = (rng.random(n) < 0.6).astype(np.int64)  # 1 = cheap tier, 60% of traffic
    conf = rng.integers(0, 3, n)
    tail = (rng.random(n) < 0.05).astype(np.int64)
    p = 0.9 - 0.08 * tier - 0.05 * (2 - conf) - 0.35 * tail
    y = (rng.random(n) < p).astype(float)
    strata = tier * 6 + conf * 2 + tail
    score = 0.5 + 1.5 * (2 - conf) + 8.0 * tail  # router uncertainty: oversample low confidence and tail
    return y, strata.astype(np.int64), tier, score


def report(cov: ts.CoverageReport, label: str) -> None:
    for t, c, cw, w in zip(cov.targets, cov.coverage, cov.coverage_wald, cov.mean_width, strict=True):
        print(f"{label}: target={t} coverage={c:.4f} (wald {cw:.4f}) mean_width={w:.4f}")


def test_stratified_srswor_coverage_with_small_oversampled_stratum() -> None:
    y, strata, tier, _ = make_population(1)
    counts = np.bincount(strata, minlength=12)
    # 600 reviews: proportional-ish, but the small tail strata are heavily oversampled.
    sizes = [int(min(c, 60 if h % 2 == 1 else 40)) for h, c in enumerate(counts)]
    assert (counts[1::2].sum() / counts.sum()) < 0.06  # tail strata hold ~5% of units
    cov = ts.simulate_coverage(y, strata, tier, "srswor", sizes=sizes, runs=RUNS, seed=7)
    report(cov, "srswor")
    assert all(d == RUNS for d in cov.defined)
    for c in cov.coverage:
        assert LOW <= c <= HIGH


def test_poisson_pps_coverage() -> None:
    y, strata, tier, score = make_population(2)
    # 1,500 expected reviews of 20,000 (Kish n_eff per tier ~ 280). With 900 the heavy weights
    # (1/π from 4.6 to ~60) leave n_eff ~ 170 and the cheap tier's coverage drops to ~93.8%.
    pi = ts.poisson_inclusion_probabilities(score, expected_size=1500.0)
    assert pi.max() <= 1.0 and abs(pi.sum() - 1500.0) < 1e-6
    cov = ts.simulate_coverage(y, strata, tier, "poisson", pi=pi, runs=RUNS, seed=8)
    report(cov, "poisson")
    for c in cov.coverage:
        assert LOW <= c <= HIGH


def test_coverage_is_seeded() -> None:
    y, strata, tier, score = make_population(3, n=3000)
    pi = ts.poisson_inclusion_probabilities(score, expected_size=300.0)
    a = ts.simulate_coverage(y, strata, tier, "poisson", pi=pi, runs=200, seed=5, threads=1)
    b = ts.simulate_coverage(y, strata, tier, "poisson", pi=pi, runs=200, seed=5, threads=2)
    assert a == b


@pytest.mark.parametrize("tolerance", [0.03, 0.0])
def test_monitor_false_alarm_rate_below_alpha(tolerance: float) -> None:
    alarms = ts.simulate_monitor(
        baseline=0.85,
        tolerance=tolerance,
        days=90,
        reviews_per_day=70,
        p_before=0.85,
        p_after=0.85,
        change_day=0,
        runs=1000,
        alpha=0.05,
        seed=11,
    )
    rate = sum(a is not None for a in alarms) / len(alarms)
    print(f"no-change alarm rate (tolerance={tolerance}): {rate:.4f}")
    assert rate <= 0.05


def test_monitor_detects_ten_point_drop() -> None:
    alarms = ts.simulate_monitor(
        baseline=0.85,
        tolerance=0.03,
        days=90,
        reviews_per_day=70,
        p_before=0.85,
        p_after=0.75,
        change_day=20,
        runs=1000,
        alpha=0.05,
        seed=12,
    )
    delays = np.array([a - 20 for a in alarms if a is not None and a >= 20], dtype=float)
    early = sum(a is not None and a < 20 for a in alarms)
    detected = len(delays) / len(alarms)
    median = float(np.median(delays))
    print(f"detected within 90 days: {detected:.3f}; median delay {median:.1f} days; early alarms {early}")
    assert early <= 0.05 * len(alarms)
    assert detected >= 0.95
    assert np.isfinite(median) and 0 <= median < 20


def test_cusum_comparison() -> None:
    """Bernoulli CUSUM on the same kind of stream: detects faster but with a run-length (not a
    probability) guarantee; printed for comparison with the monitor."""
    rng = np.random.default_rng(13)
    false_alarms, delays = 0, []
    for run in range(300):
        c = ts.Cusum.bernoulli(0.85, 0.75, threshold=6.0)
        for day in range(1, 91):
            p = 0.75 if (run >= 150 and day >= 20) else 0.85
            c.update((rng.random(70) < p).astype(float))
            if c.alarm_day is not None:
                break
        if run < 150 and c.alarm_day is not None:
            false_alarms += 1
        if run >= 150 and c.alarm_day is not None and c.alarm_day >= 20:
            delays.append(c.alarm_day - 20)
    rate = false_alarms / 150
    print(f"CUSUM h=6: false alarms within 90 days {rate:.3f}; median delay {np.median(delays):.1f}")
    assert len(delays) > 100


def test_weighted_monitor_no_false_alarms_and_detects_drop() -> None:
    """Horvitz–Thompson stream: unequal π (oversampled low-confidence traffic), tolerance 0."""
    rng = np.random.default_rng(14)
    false_alarms, delays, runs = 0, [], 150
    for run in range(runs):
        drop = run >= runs // 2
        m = ts.Monitor(baseline=0.8, tolerance=0.0 if not drop else 0.03, max_weight=20.0)
        for day in range(1, 91):
            traffic = 600
            low_conf = rng.random(traffic) < 0.3
            pi = np.where(low_conf, 0.25, 0.05)
            quality = np.where(low_conf, 0.7, 0.85) - (0.1 if drop and day >= 20 else 0.0)
            sampled = rng.random(traffic) < pi
            y = (rng.random(traffic) < quality)[sampled].astype(float)
            m.update(y, pi=pi[sampled], population=traffic)
            if m.alarm_day is not None:
                break
        if not drop and m.alarm_day is not None:
            false_alarms += 1
        if drop and m.alarm_day is not None and m.alarm_day >= 20:
            delays.append(m.alarm_day - 20)
    rate = false_alarms / (runs // 2)
    median = float(np.median(delays)) if delays else float("inf")
    found = f"{len(delays)}/{runs // 2}"
    print(f"weighted monitor: false-alarm rate {rate:.3f}; detected {found}; median delay {median}")
    assert rate <= 0.05
    assert len(delays) >= 0.8 * (runs // 2)


def test_e_detector_average_run_length_and_delay() -> None:
    """E-detector: under the null's worst case (quality exactly at baseline − tolerance) the mean
    number of days with reviews to a false alarm is at least ``arl`` (here far above: the CUSUM-type
    statistic has no clock); on the ten-point drop it is faster than the restarted confidence
    sequences."""
    arl = 30.0
    null = ts.simulate_monitor(
        baseline=0.85, tolerance=0.03, days=900, reviews_per_day=70, p_before=0.82, p_after=0.82,
        change_day=0, runs=200, seed=15, method="e_detector", arl=arl,
    )  # fmt: skip
    run_lengths = np.array([900 if a is None else a for a in null], dtype=float)
    print(f"e-detector ARL {arl:.0f}: mean run length >= {run_lengths.mean():.1f} days (censored at 900)")
    assert run_lengths.mean() >= arl

    kw = dict(baseline=0.85, tolerance=0.03, days=90, reviews_per_day=70, p_before=0.85, p_after=0.75,
              change_day=20, runs=500, seed=12)  # fmt: skip
    ed = ts.simulate_monitor(**kw, method="e_detector", arl=1000.0)  # type: ignore[arg-type]
    cs = ts.simulate_monitor(**kw)  # type: ignore[arg-type]
    ed_delay = np.median([a - 20 for a in ed if a is not None and a >= 20])
    cs_delay = np.median([a - 20 for a in cs if a is not None and a >= 20])
    early = sum(a is not None and a < 20 for a in ed)
    print(f"median delay: e-detector {ed_delay} days, confidence sequences {cs_delay} days; early {early}")
    assert early <= 0.05 * len(ed)
    assert sum(a is not None for a in ed) >= 0.95 * len(ed)
    assert ed_delay < cs_delay


def test_monitor_method_is_validated() -> None:
    with pytest.raises(InvalidInputError, match="`method`"):
        ts.Monitor(0.85, 0.03, method="cusum")
    with pytest.raises(InvalidInputError, match="`arl`"):
        ts.Monitor(0.85, 0.03, method="e_detector", arl=0.5)
    m = ts.Monitor(0.85, 0.03, method="e_detector", arl=100.0)
    assert m.update(np.zeros(0)).log_evidence == pytest.approx(0.0, abs=1e-12)
    st = m.update(np.zeros(50))
    assert st.log_evidence is not None and st.log_evidence > 0
    back = ts.Monitor.from_json(m.to_json())
    assert back.update(np.zeros(50)).log_evidence == pytest.approx(m.update(np.zeros(50)).log_evidence)
    assert ts.Monitor(0.85, 0.03).update(np.ones(10)).log_evidence is None
