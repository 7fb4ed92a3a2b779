"""Judge-assisted (PPI++) per-tier means: agreement with ppi_py (stored fixtures and live),
design-weighted coverage with a biased judge, merging, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import ppi_py
import pytest
from ppi_py.ppi import _calc_lam_glm
from tierscope import stats
from tierscope.exceptions import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures" / "ppi_reference.json"
CASES = json.loads(FIXTURES.read_text())["cases"]
TOL = 1e-9


def _ours(case: dict, lam: float | None, level: float) -> stats.PpiEstimate:
    y, f, fu = (np.asarray(case[k]) for k in ("y", "f", "f_unlabeled"))
    return stats.ppi_mean(y, f, fu, lam=lam, level=level, variance="with_replacement")[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c['seed']}")
@pytest.mark.parametrize("mode", ["tuned", "ppi"])
def test_agrees_with_stored_ppi_py_results(case: dict, mode: str) -> None:
    ref = case["results"][mode]
    for alpha in (0.05, 0.1):
        e = _ours(case, None if mode == "tuned" else 1.0, 1.0 - alpha)
        assert e.tuned == (mode == "tuned")
        assert abs(e.estimate - ref["estimate"]) <= TOL
        assert abs(e.lam - ref["lam"]) <= TOL
        # ppi_py's interval is the same z interval with np.std (ddof 0) variances.
        assert abs(e.lower - ref[f"lower_{alpha}"]) <= TOL
        assert abs(e.upper - ref[f"upper_{alpha}"]) <= TOL


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_agrees_with_ppi_py_live(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, big_n = int(rng.integers(30, 300)), int(rng.integers(100, 4000))
    y = (rng.uniform(size=n) < 0.75).astype(float)
    f = np.clip(y * 0.7 + rng.uniform(size=n) * 0.4, 0, 1)
    fu = np.clip((rng.uniform(size=big_n) < 0.75) * 0.7 + rng.uniform(size=big_n) * 0.4, 0, 1)
    for lam in (None, 1.0):
        e = stats.ppi_mean(y, f, fu, lam=lam, level=0.9, variance="with_replacement")[0]
        ref = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam))[0])
        lo, hi = (float(np.ravel(v)[0]) for v in ppi_py.ppi_mean_ci(y, f, fu, alpha=0.1, lam=lam))
        assert abs(e.estimate - ref) <= TOL and abs(e.lower - lo) <= TOL and abs(e.upper - hi) <= TOL
        if lam is None:
            p1 = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=1))[0])
            ref_lam = float(np.ravel(_calc_lam_glm(y - p1, f - p1, fu - p1, np.eye(1), clip=True))[0])
            assert abs(e.lam - ref_lam) <= TOL


def _population(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Three tiers; a judge that agrees 90% on honest answers but accepts 85% of the fluent wrong
    ones (a third of the wrong answers, most in the cheap tier)."""
    sizes = (20_000, 8_000, 4_000)
    tier = np.repeat(np.arange(3), sizes)
    good = rng.uniform(size=tier.size) < np.array([0.78, 0.9, 0.84])[tier]
    fluent = ~good & (rng.uniform(size=tier.size) < np.array([0.5, 0.2, 0.3])[tier])
    agree = rng.uniform(size=tier.size) < 0.9
    f = np.where(fluent, rng.uniform(size=tier.size) < 0.85, np.where(agree, good, ~good)).astype(float)
    return tier, good.astype(float), f


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_coverage_with_a_biased_judge_and_unequal_pi() -> None:
    """1,000 replications of Poisson samples with unequal π: the judged sample (π 0.05-0.2) and
    reviews (π 0.01-0.08, low judge scores oversampled 3x; about 600/400/300 per tier, a few
    days' reviews: the normal interval needs a few dozen failures per tier); each tier's 95%
    interval covers its population mean 93-97% of the time, and is narrower than the human-only
    one."""
    rng = np.random.default_rng(2026)
    tier, y, f = _population(rng)
    truth = np.array([y[tier == t].mean() for t in range(3)])
    pi_j = np.where(rng.uniform(size=tier.size) < 0.5, 0.05, 0.2)
    pi_h = np.where(f < 0.5, 3.0, 1.0) * np.array([0.02, 0.038, 0.054])[tier]
    reps, cover, cover_h = 1000, np.zeros(3), np.zeros(3)
    width, width_h = np.zeros(3), np.zeros(3)
    for _ in range(reps):
        j = rng.uniform(size=tier.size) < pi_j
        h = rng.uniform(size=tier.size) < pi_h
        agg = stats.PpiAggregate()
        agg.add_judged(f[j], pi_j[j], tier[j])
        agg.add_reviews(y[h], f[h], pi_h[h], tier[h])
        for e in agg.estimates(0.95):
            cover[e.domain] += e.lower <= truth[e.domain] <= e.upper
            cover_h[e.domain] += e.human_lower <= truth[e.domain] <= e.human_upper
            width[e.domain] += e.upper - e.lower
            width_h[e.domain] += e.human_upper - e.human_lower
    rate = cover / reps
    print("coverage (judge-assisted)", rate, "human-only", cover_h / reps)
    print("mean width (judge-assisted)", width / reps, "human-only", width_h / reps)
    assert np.all((rate >= 0.93) & (rate <= 0.97)), rate
    assert np.all(width < width_h)


def test_merged_partials_equal_one_pass() -> None:
    rng = np.random.default_rng(5)
    tier, y, f = _population(rng)
    pi = np.full(tier.size, 0.1)
    h = rng.uniform(size=tier.size) < 0.01
    whole = stats.PpiAggregate()
    whole.add_judged(f, np.ones(tier.size), tier)
    whole.add_reviews(y[h], f[h], pi[h], tier[h])
    parts = []
    for chunk in np.array_split(np.arange(tier.size), 4):
        p = stats.PpiAggregate()
        p.add_judged(f[chunk], np.ones(chunk.size), tier[chunk])
        hc = chunk[h[chunk]]
        p.add_reviews(y[hc], f[hc], pi[hc], tier[hc])
        parts.append(stats.PpiAggregate.from_json(p.to_json()))
    merged = parts[3].merge(parts[1]).merge(parts[0].merge(parts[2]))
    for a, b in zip(whole.estimates(), merged.estimates(), strict=True):
        assert a.n_judged == b.n_judged and a.n_human == b.n_human
        for k in ("estimate", "se", "lam", "human_mean"):
            assert getattr(a, k) == pytest.approx(getattr(b, k), rel=1e-12, abs=1e-14)


def test_labels_and_undefined_tiers() -> None:
    out = stats.ppi_mean(
        [1.0, 0.0],
        [1.0, 1.0],
        [1.0, 0.0, 1.0],
        tiers_reviewed=["cheap", "cheap"],
        tiers_judged=["cheap", "capable", "capable"],
    )
    assert set(out) == {"cheap", "capable"}
    assert out["cheap"].defined and out["cheap"].domain == "cheap"
    assert not out["capable"].defined and np.isnan(out["capable"].estimate)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: stats.ppi_mean([1.0], [1.0, 0.0], [1.0]), "f_reviewed"),
        (lambda: stats.ppi_mean([1.0], [1.0], [1.0], pi_judged=[0.0]), "pi[0]"),
        (lambda: stats.ppi_mean([np.nan], [1.0], [1.0]), "y[0]"),
        (lambda: stats.ppi_mean([1.0], [1.0], [1.0], level=1.5), "level"),
        (lambda: stats.ppi_mean([1.0], [1.0], [1.0], lam="x"), "lam"),
        (lambda: stats.ppi_mean([1.0], [1.0], [1.0], variance="iid"), "variance"),
        (lambda: stats.PpiAggregate().merge("x"), "other"),  # type: ignore[arg-type]
        (lambda: stats.PpiAggregate.from_json("{"), "text"),
    ],
)
def test_bad_input_names_the_argument(call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=name.replace("[", r"\[").replace("]", r"\]")):
        call()
