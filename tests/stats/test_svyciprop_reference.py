"""Design-based proportion intervals against R ``survey::svyciprop`` (survey 4.1.1).

The reference values were generated once by ``fixtures/r/svyciprop.R`` (stored beside
``fixtures/r/svyciprop.json``), so this test needs no R. Deviations from R, by design:
``"mean"`` is clipped to [0, 1] (R leaves it unclipped); ``"logit"`` is computed in closed form,
while R fits a quasibinomial ``svyglm`` by IRLS and stops at its convergence tolerance, so the two
agree to about 2e-9 rather than to rounding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tierscope import stats
from tierscope.exceptions import InvalidInputError
from tierscope.stats.estimators import INTERVALS

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "r" / "svyciprop.json").read_text(encoding="utf-8")
)["cases"]
TOLERANCE = {"logit": 5e-9, "beta": 1e-9, "asin": 1e-9, "mean": 1e-9, "xlogit": 1e-9}


def _estimate(case: dict[str, Any], interval: str) -> stats.DomainEstimate:
    y = np.asarray(case["y"], dtype=float)
    dom = np.asarray(case["dom"])
    strata = np.asarray(case["strata"])
    sizes = None
    if case["design"] == "srswor":
        sizes = {h: float(case["popsize"][int(np.flatnonzero(strata == h)[0])]) for h in np.unique(strata)}
    est = stats.estimate(
        y,
        np.asarray(case["pi"], dtype=float),
        strata,
        dom,
        design=case["design"],
        population_sizes=sizes,
        level=case["level"],
        interval=interval,
    )
    return est.population if case["domain"] is None else est.domains[case["domain"]]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("method", sorted(TOLERANCE))
def test_matches_r_svyciprop(case: dict[str, Any], method: str) -> None:
    e = _estimate(case, method)
    assert e.mean == pytest.approx(case["mean"], abs=1e-12)
    assert e.se == pytest.approx(case["se"], abs=1e-12)
    assert e.df == case["degf"]
    assert e.n == case["nrow"]
    assert e.interval == method
    lo, hi = case["ci"][method]
    if method == "mean":
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    assert abs(e.lower - lo) <= TOLERANCE[method], (e.lower, lo)
    assert abs(e.upper - hi) <= TOLERANCE[method], (e.upper, hi)


def test_default_is_wilson_at_capped_effective_n() -> None:
    case = CASES[0]
    e = _estimate(case, "wilson")
    assert e.interval == "wilson"
    n_star = min(e.n, e.mean * (1 - e.mean) / e.se**2)
    ref = stats.proportion_interval(e.mean * n_star, n_star, level=case["level"], method="wilson")
    assert (e.lower, e.upper) == pytest.approx((ref.lower, ref.upper), abs=1e-12)


def test_the_cap_binds_when_the_se_collapses() -> None:
    # One failure on a heavily oversampled (low-weight) review: m(1 − m)/se² far exceeds n.
    y = np.ones(30)
    y[0] = 0.0
    pi = np.full(30, 0.02)
    pi[0] = 0.9
    e = stats.estimate(y, pi, np.zeros(30, int), np.zeros(30, int)).population
    assert e.mean * (1 - e.mean) / e.se**2 > 10 * e.n
    ref = stats.proportion_interval(e.mean * e.n, e.n, method="wilson")
    assert (e.lower, e.upper) == pytest.approx((ref.lower, ref.upper), abs=1e-12)


@pytest.mark.parametrize("method", INTERVALS)
def test_degenerate_estimates_fall_back_to_wilson(method: str) -> None:
    e = stats.estimate(np.ones(5), np.full(5, 0.5), np.zeros(5, int), np.zeros(5, int), interval=method)
    assert e.population.interval == "wilson"
    assert e.population.upper == 1.0 and 0.0 < e.population.lower < 1.0


def test_unbounded_scores_keep_wald_and_bad_methods_are_named() -> None:
    e = stats.estimate([2.0, 3.0, 5.0], [0.5] * 3, [0] * 3, [0] * 3, interval="logit").population
    assert e.interval == "wald" and not e.bounded
    with pytest.raises(InvalidInputError, match="`interval`"):
        stats.estimate([1.0, 0.0], [0.5] * 2, [0] * 2, [0] * 2, interval="likelihood")
    agg = stats.Aggregate.from_sample([1.0, 0.0, 1.0], [0.5] * 3, [0] * 3, [0] * 3)
    assert agg.estimate_population(interval="beta").interval == "beta"
    with pytest.raises(InvalidInputError, match="`interval`"):
        agg.estimate_domains(interval="Wald")
