"""plan_reviews(method="ppi"): reviews among judged answers, Neyman-allocated on the PPI
residual y − λf by tier × judge band, with a π floor. Variance gain vs proportional allocation
(analytic and 500 seeded simulations), design-unbiasedness, a real DecisionLog, bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope import stats
from tierscope.exceptions import InvalidInputError, ReviewPlanWarning
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.review_plan import neyman_floor_pi, plan_reviews

T0 = datetime(2026, 5, 4, tzinfo=timezone.utc)
TIERS = ("cheap", "capable")
# The judge is reliable when it rejects (a rejected answer is almost always bad) and unreliable
# when it accepts: P(good | accept) per tier, P(good | reject) = 0.01.
GOOD_IF_ACCEPT = {"cheap": 0.7, "capable": 0.75}
ACCEPT_RATE = {"cheap": 0.55, "capable": 0.7}
BUDGET = 300


def _answers(n: int, day: int, rng: np.random.Generator) -> pd.DataFrame:
    """One day of answers with the judge's score f and the (hidden) human label y."""
    tier = np.where(rng.random(n) < 0.65, "cheap", "capable")
    accept = rng.random(n) < np.vectorize(ACCEPT_RATE.get)(tier)
    f = np.where(accept, rng.uniform(0.8, 1.0, n), rng.uniform(0.0, 0.2, n))
    y = (rng.random(n) < np.where(accept, np.vectorize(GOOD_IF_ACCEPT.get)(tier), 0.01)).astype(float)
    return pd.DataFrame(
        {
            "request_id": [f"d{day}-{i}" for i in range(n)],
            "timestamp": [T0 + timedelta(days=day, seconds=8.0 * i) for i in range(n)],
            "answered_by": tier,
            "route_confidence": rng.uniform(0.5, 1.0, n),
            "route_tail_score": rng.uniform(0.0, 1.0, n),
            "f": f,
            "y": y,
        }
    )


def _scenario(seed: int = 0, n: int = 8000, pi_judge: float = 1.0) -> tuple[tuple[Any, Any], pd.DataFrame]:
    """(decisions, outcomes) of two days: day 0 reviewed (600 uniform reviews, each judged), day 1
    judged (every answer, or a π_J sample) and not yet reviewed; and day 1's answers."""
    rng = np.random.default_rng(seed)
    past, today = _answers(n, 0, rng), _answers(n, 1, rng)
    rev = past.iloc[rng.choice(n, min(n, 600), replace=False)]
    judged = today if pi_judge >= 1 else today[rng.random(n) < pi_judge]
    outs = pd.concat(
        [
            pd.DataFrame(
                {
                    "request_id": rev["request_id"],
                    "kind": "review",
                    "score": rev["y"],
                    "inclusion_prob": 600 / n,
                }
            ),
            pd.DataFrame(
                {
                    "request_id": rev["request_id"],
                    "kind": "judge",
                    "score": rev["f"],
                    "inclusion_prob": 1.0,
                    "detail": json.dumps({"sample": "review"}),
                }
            ),
            pd.DataFrame(
                {
                    "request_id": judged["request_id"],
                    "kind": "judge",
                    "score": judged["f"],
                    "inclusion_prob": pi_judge,
                }
            ),
        ],
        ignore_index=True,
    )
    outs["tier"] = None
    outs["label"] = None
    outs["detail"] = outs["detail"] if "detail" in outs else None
    decisions = pd.concat([past, today], ignore_index=True).drop(columns=["f", "y"])
    return (decisions, outs), today


def _analytic_variance(pi: np.ndarray, y: np.ndarray, f: np.ndarray, lam: float) -> float:
    """Poisson-design variance of the Hájek mean of r = y − λf (linearised): N⁻² Σ (1/π − 1)(r − r̄)²."""
    r = y - lam * f
    return float(np.sum((1.0 / pi - 1.0) * (r - r.mean()) ** 2) / len(r) ** 2)


def _plan(log: Any, **kw: Any) -> Any:
    with pytest.warns(ReviewPlanWarning) if kw.pop("warns", False) else _nullcontext():
        return plan_reviews(log, BUDGET, day=(T0 + timedelta(days=1)).date(), method="ppi", **kw)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.timeout(60)
def test_ppi_plan_beats_proportional_allocation() -> None:
    log, today = _scenario()
    plan = _plan(log)
    frame = plan.frame.merge(today[["request_id", "f", "y"]], on="request_id")
    alloc = plan.allocation.set_index("stratum")
    assert plan.method == "ppi" and set(alloc["tier"]) == set(TIERS)
    assert plan.allocation["expected"].sum() == pytest.approx(BUDGET, rel=1e-9)
    assert int(plan.allocation["allocated"].sum()) == BUDGET
    # the accepting strata (unreliable judge) are oversampled, the rejecting ones sit at or above the floor
    for t in TIERS:
        acc, rej = alloc.loc[f"{t}|judge[0.50,1.00]"], alloc.loc[f"{t}|judge[0.00,0.50)"]
        assert acc["sd"] > 2 * rej["sd"] and acc["pi"] > 1.5 * rej["pi"]
    floor = 0.2 * BUDGET / len(frame)  # the default floor: a fifth of the uniform rate
    assert frame["pi"].min() >= floor - 1e-12
    ratios = {}
    n_rep = 2000  # the simulated ratio's SE is about 0.045
    rng = np.random.default_rng(7)
    for t in TIERS:
        sub = frame[frame["tier"] == t]
        y, f, pi = sub["y"].to_numpy(), sub["f"].to_numpy(), sub["pi"].to_numpy()
        lam = float(alloc[alloc["tier"] == t]["lam"].iloc[0])
        prop = np.full(len(y), pi.sum() / len(y))  # proportional: same expected reviews in the tier
        ratios[t] = _analytic_variance(pi, y, f, lam) / _analytic_variance(prop, y, f, lam)
        # the same ratio from 2,000 seeded simulations of the PPI++ estimator (judged census, fixed λ)
        est: dict[str, list[float]] = {"plan": [], "prop": []}
        for _ in range(n_rep):
            for name, p in (("plan", pi), ("prop", prop)):
                s = rng.random(len(y)) < p
                e = stats.ppi_mean(y[s], f[s], f, pi_reviewed=p[s], lam=lam)[0]
                est[name].append(e.estimate)
        sim = float(np.var(est["plan"], ddof=1) / np.var(est["prop"], ddof=1))
        ratios[t + " (simulated)"] = sim
        assert sim < 0.95 and abs(sim - ratios[t]) < 0.12, (t, sim, ratios[t])
    print("PPI variance, planned / proportional:", {k: round(v, 3) for k, v in ratios.items()})
    # analytic: the judge rejects 45% of cheap answers (reliably), 30% of capable ones
    assert ratios["cheap"] < 0.8 and ratios["capable"] < 0.9, ratios


@pytest.mark.timeout(60)
def test_ppi_estimate_stays_unbiased_under_the_plan() -> None:
    log, today = _scenario(seed=1)
    plan = _plan(log)
    frame = plan.frame.merge(today[["request_id", "f", "y"]], on="request_id")
    rng = np.random.default_rng(11)
    for t in TIERS:
        sub = frame[frame["tier"] == t]
        y, f, pi = sub["y"].to_numpy(), sub["f"].to_numpy(), sub["pi"].to_numpy()
        lam = float(plan.allocation.loc[plan.allocation["tier"] == t, "lam"].iloc[0])
        fixed, tuned = [], []
        for _ in range(1000):
            s = rng.random(len(y)) < pi
            fixed.append(stats.ppi_mean(y[s], f[s], f, pi_reviewed=pi[s], lam=lam)[0].estimate - y.mean())
            tuned.append(stats.ppi_mean(y[s], f[s], f, pi_reviewed=pi[s])[0].estimate - y.mean())
        # λ fixed from past data (as the plan and the audit's monitors use it): unbiased
        se = np.std(fixed, ddof=1) / np.sqrt(len(fixed))
        assert abs(np.mean(fixed)) < 3 * se, (t, np.mean(fixed), se)
        # λ tuned on the same reviews is only consistent: its O(1/n) bias stays well inside one SD
        assert abs(np.mean(tuned)) < 0.3 * np.std(tuned, ddof=1), (t, np.mean(tuned), np.std(tuned))
    # the plan's own seeded sample, logged with its π, is what the audit's estimator reads
    assert set(plan.table["request_id"]) <= set(today["request_id"]) and len(plan) > 0.8 * BUDGET


def test_recorded_pi_is_the_judging_pi_times_the_review_pi() -> None:
    log, today = _scenario(seed=2, pi_judge=0.5)
    plan = _plan(log, warns=True)  # unjudged answers are not eligible: warned
    fr = plan.frame
    judged = fr["judge_score"].notna()
    assert (fr.loc[~judged, "pi"] == 0).all() and not fr.loc[~judged, "selected"].any()
    assert np.allclose(fr.loc[judged, "judge_pi"], 0.5)
    conditional = fr.loc[judged, "pi"] / 0.5
    assert conditional.min() >= 0.2 * BUDGET / judged.sum() - 1e-12 and conditional.max() <= 1.0
    assert conditional.sum() == pytest.approx(BUDGET, rel=1e-9)


def test_judge_scores_mapping_and_previous_table_replace_the_log() -> None:
    (decisions, outs), today = _scenario(seed=3, n=3000)
    rev = outs[outs["kind"] == "review"].merge(
        outs[(outs["kind"] == "judge")][["request_id", "score"]].rename(columns={"score": "f"}),
        on="request_id",
    )
    tiers = dict(zip(decisions["request_id"], decisions["answered_by"], strict=True))
    previous = pd.DataFrame({"tier": rev["request_id"].map(tiers), "score": rev["score"], "f": rev["f"]})
    scores = dict(zip(today["request_id"], today["f"], strict=True))
    a = _plan(decisions, judge_scores=scores, previous=previous, seed=4)
    b = _plan((decisions, outs), seed=4)
    assert np.allclose(a.frame["pi"], b.frame["pi"]) and a.request_ids == b.request_ids


def test_real_decision_log(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    past, today = _answers(400, 0, rng), _answers(400, 1, rng)
    with DecisionLog(tmp_path / "log", flush_every=10_000) as log:
        for df in (past, today):
            for row in df.itertuples(index=False):
                log.log_decision(
                    {"request_id": row.request_id, "answered_by": row.answered_by, "timestamp": row.timestamp}
                )
        for row in past.iloc[:200].itertuples(index=False):
            log.log_review(row.request_id, bool(row.y), inclusion_prob=0.5)
            log.log_judgement(row.request_id, float(row.f), "judge-v1", 1.0, detail={"sample": "review"})
        for row in today.itertuples(index=False):
            log.log_judgement(row.request_id, float(row.f), "judge-v1", 1.0)
    plan = plan_reviews(
        tmp_path / "log", 60, day=(T0 + timedelta(days=1)).date(), method="ppi", pi_floor=0.02
    )
    assert plan.allocation["expected"].sum() == pytest.approx(60, rel=1e-9)
    acc = plan.allocation[plan.allocation["judge_band"] == "judge[0.50,1.00]"]
    rej = plan.allocation[plan.allocation["judge_band"] == "judge[0.00,0.50)"]
    assert acc["pi"].min() > rej["pi"].max()
    with DecisionLog(tmp_path / "log") as log:
        assert plan.log_reviews(log, {r: True for r in plan.request_ids[:3]}) == 3
    # the CLI: `tierscope plan LOG --method ppi`
    from tierscope.cli import main

    out = tmp_path / "plan.csv"
    args = [
        str(tmp_path / "log"),
        "--method",
        "ppi",
        "--budget",
        "40",
        "--day",
        "2026-05-05",
        "--out",
        str(out),
    ]
    assert main(["plan", *args]) == 0
    written = pd.read_csv(out)
    assert len(written) > 0 and (written["pi"] > 0).all() and written["stratum"].str.contains("judge").all()


def test_bad_input_gets_clear_errors() -> None:
    log, today = _scenario(seed=6, n=1500)
    decisions = log[0]
    day = (T0 + timedelta(days=1)).date()
    cases: list[tuple[dict[str, Any], str, Any]] = [
        (dict(method="ppi"), "judge_scores", decisions),  # a decisions table: no judge events
        (dict(method="ppi"), "judge_scores", (decisions, log[1][log[1]["kind"] == "review"])),
        (dict(method="ppi", pi_floor=0.0), "pi_floor", log),
        (dict(method="ppi", pi_floor=1.5), "pi_floor", log),
        (dict(method="ppi", pi_floor=float("nan")), "pi_floor", log),
        (dict(method="ppi", pi_floor=0.5), "pi_floor", log),  # 0.5 x 1500 judged > budget 300
        (dict(method="ppi", pi_floor="0.1"), "pi_floor", log),
        (dict(method="ppi", judge_scores={}), "judge_scores", decisions),
        (dict(method="ppi", judge_scores={"d1-0": 1.5}), "judge_scores", decisions),
        (dict(method="ppi", judge_scores={"d1-0": True}), "judge_scores", decisions),
        (dict(method="ppi", judge_scores={"nope": 0.5}), "judge_scores", decisions),
        (dict(judge_scores={"d1-0": 0.5}), "judge_scores", decisions),  # only with method 'ppi'
        (dict(pi_floor=0.1), "pi_floor", decisions),
        (dict(judge_bands=(0.3,)), "judge_bands", decisions),
        (dict(method="ppi", judge_bands=(0.5, 0.2)), "judge_bands", log),
        (dict(method="ppi", previous=pd.DataFrame({"score": [1.0]})), "previous", log),
        (dict(method="ppi", previous={"cheap": 0.3}), "previous", log),
        (
            dict(method="ppi", previous=pd.DataFrame({"tier": ["cheap"], "score": [2.0], "f": [0.5]})),
            "previous",
            log,
        ),
        (dict(method="ppi"), "log", (decisions, pd.DataFrame({"request_id": ["d1-0"]}))),
        (dict(method="ppi"), "log", (decisions, log[1].assign(inclusion_prob=0.0))),
        (dict(method="ppi"), "log", (decisions, log[1].assign(score=log[1]["score"] * 3))),
    ]
    for kw, name, src in cases:
        with pytest.raises(InvalidInputError, match=name):
            plan_reviews(src, BUDGET, day=day, **kw)


def test_neyman_floor_pi_solves_the_constrained_allocation() -> None:
    n, s = np.array([1000.0, 3000.0, 500.0]), np.array([0.45, 0.1, 0.0])
    pi = neyman_floor_pi(n, s, 400.0, 0.03)
    assert float(n @ pi) == pytest.approx(400.0, rel=1e-9)
    assert pi[2] == pytest.approx(0.03) and pi[0] / pi[1] == pytest.approx(4.5, rel=1e-6)
    # no other feasible π does better on Σ N S² / π (random feasible perturbations)
    rng = np.random.default_rng(0)
    best = float(np.sum(n * s**2 / pi))
    for _ in range(200):
        q = np.clip(pi * rng.uniform(0.8, 1.2, 3), 0.03, 1.0)
        q *= 400.0 / float(n @ q)
        if np.all((q >= 0.03) & (q <= 1.0)):
            assert float(np.sum(n * s**2 / q)) >= best - 1e-9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5000), st.floats(0.0, 0.5)), min_size=1, max_size=8),
    st.floats(0.001, 0.2),
    st.floats(0.0, 1.0),
)
def test_neyman_floor_pi_meets_the_budget_and_the_bounds(
    strata: list[tuple[int, float]], floor: float, share: float
) -> None:
    n = np.array([k for k, _ in strata], dtype=float)
    s = np.array([sd for _, sd in strata])
    budget = floor * n.sum() + share * (1 - floor) * n.sum()
    pi = neyman_floor_pi(n, s, budget, floor)
    assert np.all(pi >= floor - 1e-12) and np.all(pi <= 1.0)
    assert float(n @ pi) == pytest.approx(budget, rel=1e-6, abs=1e-6)


def test_budget_above_the_judged_answers_reviews_them_all() -> None:
    log, today = _scenario(seed=8, n=250)
    with pytest.warns(ReviewPlanWarning, match="every judged answer"):
        plan = plan_reviews(log, BUDGET, day=(T0 + timedelta(days=1)).date(), method="ppi")
    assert (plan.frame["pi"] == 1.0).all() and plan.frame["selected"].all()
