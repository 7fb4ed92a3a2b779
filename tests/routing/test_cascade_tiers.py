"""N-tier cascades (``Cascade.tiered``) and ``choose_thresholds``' family-wise guarantee."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tierscope.exceptions import InvalidInputError
from tierscope.log.decision_log import DecisionLog
from tierscope.routing.calibration import choose_threshold, choose_thresholds
from tierscope.routing.cascade import Cascade
from tierscope.routing.cascade_config import TieredDecision
from tierscope.routing.records import TierAnswer

NAMES = ("cheap", "mid", "capable")


class Tier:
    def __init__(self, name: str, cost: float, *, fail: bool = False) -> None:
        self.name, self.cost, self.fail = name, cost, fail
        self.calls: list[str] = []

    def __call__(self, query: str) -> TierAnswer:
        self.calls.append(query)
        if self.fail:
            raise RuntimeError(f"{self.name} is down")
        return TierAnswer(f"{self.name}:{query}", f"{self.name}-model", 3, 5, self.cost)


def conf(tier: str) -> Any:
    """Confidence from the query: ``"<cheap conf> <mid conf> rest"``."""

    def score(query: str, answer: TierAnswer) -> float:
        assert answer.text.startswith(f"{tier}:")
        return float(query.split()[NAMES.index(tier)])

    return score


def three_tier(log: DecisionLog | None = None, **options: Any) -> tuple[Cascade[Any], list[Tier]]:
    tiers = [Tier("cheap", 0.1), Tier("mid", 1.0), Tier("capable", 10.0)]
    cascade = Cascade.tiered(
        dict(zip(NAMES, tiers, strict=True)),
        confidence=[conf("cheap"), conf("mid")],
        thresholds=[0.8, 0.6],
        decision_log=log,
        **options,
    )
    return cascade, tiers


def test_three_tiers_escalate_step_by_step_and_log_the_path(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1)
    cascade, (cheap, mid, capable) = three_tier(log)
    assert cascade.tier_names == NAMES and cascade.thresholds == (0.8, 0.6)
    cases = {
        "0.9 0.1 a": ("cheap", ("cheap",), None),
        "0.5 0.7 b": ("mid", ("cheap", "mid"), "low_confidence"),
        "0.5 0.3 c": ("capable", ("cheap", "mid", "capable"), "low_confidence"),
    }
    for query, (by, path, reason) in cases.items():
        answer, decision = cascade(query, request_id=query)
        assert isinstance(decision, TieredDecision)
        assert answer.text == f"{by}:{query}"
        assert (decision.answered_by, decision.path, decision.escalation_reason) == (by, path, reason)
        assert decision.escalated == (by != "cheap")
        assert decision.cost == pytest.approx(
            sum({"cheap": 0.1, "mid": 1.0, "capable": 10.0}[t] for t in path)
        )
        assert [s["tier"] for s in decision.steps] == list(path[:2])
        assert [s["accepted"] for s in decision.steps] == [t == by for t in path[:2]]
    assert len(cheap.calls) == 3 and len(mid.calls) == 2 and len(capable.calls) == 1
    log.close()
    rows = {r["request_id"]: r for r in DecisionLog(tmp_path / "log").decisions().to_pylist()}
    for query, (by, path, _) in cases.items():
        extra = json.loads(rows[query]["extra"])
        assert rows[query]["answered_by"] == by
        assert extra["path"] == list(path)
        assert [s["threshold"] for s in extra["steps"]] == [0.8, 0.6][: len(extra["steps"])]


def test_hard_rules_may_name_any_tier_and_failures_escalate_one_step() -> None:
    cascade, (cheap, mid, capable) = three_tier(
        tier_categories={"billing": "mid"}, never_cheap_categories={"fraud"}
    )
    _, d = cascade("0.99 0.99 x", category="billing")
    assert (d.answered_by, d.path, d.hard_rule, d.escalation_reason) == (
        "mid",
        ("mid",),
        "category:billing",
        "hard_rule",
    )
    _, d = cascade("0.99 0.99 y", category="fraud")
    assert (d.answered_by, d.path, d.hard_rule) == ("capable", ("capable",), "category:fraud")
    assert cheap.calls == [] and mid.calls == ["0.99 0.99 x"]
    broken, (cheap2, _, _) = three_tier()
    cheap2.fail = True
    _, d = broken("0.99 0.99 z")
    assert (d.answered_by, d.path, d.escalation_reason, d.fallback) == (
        "mid",
        ("cheap", "mid"),
        "cheap_error",
        True,
    )


def test_an_infeasible_step_is_skipped_and_arguments_are_checked() -> None:
    rng = np.random.default_rng(0)
    bad = choose_threshold(rng.random(30), np.zeros(30, bool), 0.05, 0.1)
    assert not bad.feasible
    tiers = [Tier("cheap", 0.1), Tier("mid", 1.0), Tier("capable", 10.0)]
    cascade = Cascade.tiered(
        tiers, names=NAMES, confidence=[conf("cheap"), conf("mid")], thresholds=[bad, 0.5]
    )
    _, d = cascade("0.99 0.9 q")
    assert (d.answered_by, d.path, d.steps[0]["reason"]) == ("mid", ("mid",), "threshold_infeasible")
    assert tiers[0].calls == []
    with pytest.raises(InvalidInputError, match="thresholds: expected one per step"):
        Cascade.tiered(tiers, confidence=conf("cheap"), thresholds=[0.5])
    with pytest.raises(InvalidInputError, match=r"tier_categories\['x'\]"):
        Cascade.tiered(
            tiers, names=NAMES, confidence=conf("cheap"), thresholds=0.5, tier_categories={"x": "y"}
        )
    with pytest.raises(InvalidInputError, match="at least 2 tiers"):
        Cascade.tiered([tiers[0]], confidence=conf("cheap"), thresholds=[])


def test_the_async_twin_takes_the_same_paths() -> None:
    sync_cascade, _ = three_tier(seed=3, review_rate=0.5)
    async_cascade, _ = three_tier(seed=3, review_rate=0.5)
    queries = ["0.9 0.1 a", "0.5 0.7 b", "0.5 0.3 c"]
    sync = [sync_cascade(q, request_id=q)[1] for q in queries]

    async def run() -> list[Any]:
        return [(await async_cascade.arun(q, request_id=q))[1] for q in queries]

    for a, b in zip(sync, asyncio.run(run()), strict=True):
        assert a.outcome_key() == b.outcome_key()


# -- the family-wise guarantee, by simulation ---------------------------------------------------
def _population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Query difficulty z; tier i is right with probability sigmoid(4·(skill_i − z)); each step's
    confidence is a noisy view of that probability (logit noise, so no ties at 1)."""
    z = rng.normal(size=n)
    out = []
    for skill in (0.0, 1.5):
        logit = 4 * (skill - z)
        ok = rng.random(n) < 1 / (1 + np.exp(-logit))
        score = 1 / (1 + np.exp(-(logit + rng.normal(scale=0.5, size=n))))
        out += [score, ok]
    return tuple(out)


def _escalated(c1: np.ndarray, c2: np.ndarray, k2: np.ndarray) -> Any:
    """Step 2's calibration set: the queries step 1's certified threshold escalates."""

    def select(prev: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
        down = c1 < prev[0].threshold
        return c2[down], k2[down]

    return select


@pytest.mark.timeout(120)
def test_choose_thresholds_certifies_every_step_family_wise() -> None:
    """200 resamples: calibrate step 1 on 1,000 queries, step 2 on those of 1,000 more that step 1
    escalates; then measure each step's realized failure rate among what it accepts on a fresh
    population of 40,000. P(any step's rate > ε) must stay ≤ δ (the margin: 3 binomial
    standard errors of a 200-resample estimate, ≈ 0.064 at δ = 0.1)."""
    eps, delta, resamples = 0.1, 0.1, 200
    rng = np.random.default_rng(14)
    s1, ok1, s2, ok2 = _population(rng, 40_000)
    violations = naive_violations = feasible = 0
    for _ in range(resamples):
        c1, k1, c2, k2 = _population(rng, 2000)
        cal, fresh = slice(0, 1000), slice(1000, 2000)

        r1, r2 = choose_thresholds(
            [(c1[cal], k1[cal]), _escalated(c1[fresh], c2[fresh], k2[fresh])], eps, delta
        )
        feasible += r1.feasible and r2.feasible
        acc1 = s1 >= r1.threshold
        acc2 = ~acc1 & (s2 >= r2.threshold)
        rates = [1 - ok1[acc1].mean() if acc1.any() else 0.0, 1 - ok2[acc2].mean() if acc2.any() else 0.0]
        violations += any(r > eps for r in rates)
        # A naive threshold (empirical failure rate <= eps on the calibration set) for contrast.
        order = np.argsort(-c1[cal])
        fails = np.cumsum(~k1[cal][order]) / np.arange(1, 1001)
        naive_t = c1[cal][order][np.nonzero(fails <= eps)[0].max()]
        naive_violations += (1 - ok1[s1 >= naive_t].mean()) > eps
    print(f"feasible {feasible}/{resamples}, violations {violations}, naive {naive_violations}")
    assert feasible >= resamples * 0.9, feasible
    assert violations / resamples <= delta + 3 * np.sqrt(delta * (1 - delta) / resamples), violations
    assert naive_violations / resamples > delta, "the simulation can tell a guarantee from none"


def test_choose_thresholds_is_bonferroni_over_steps() -> None:
    rng = np.random.default_rng(1)
    c, k = rng.random(500), rng.random(500) < 0.95
    reports = choose_thresholds([(c, k), (c, k), (c, k)], [0.1, 0.1, 0.1], 0.3)
    single = choose_threshold(c, k, 0.1, 0.1)
    assert all(r.delta == pytest.approx(0.1) for r in reports)
    assert reports[0].threshold == single.threshold
    with pytest.raises(InvalidInputError, match="epsilon: expected one float or one per step"):
        choose_thresholds([(c, k)], [0.1, 0.2], 0.1)
    with pytest.raises(InvalidInputError, match=r"steps\[0\]"):
        choose_thresholds([(c, k[:3])], 0.1, 0.1)
