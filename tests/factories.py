"""Shared test factories: synthetic routed traffic and decision logs with known truth.

Each factory is seeded and deterministic; tests across tests/quality, tests/log and the CLI use them
instead of building their own frames.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tierscope.quality.review_plan import plan_reviews
from tierscope.routing.records import CascadeDecision

REPO = Path(__file__).resolve().parents[1]
"""The repository root."""

START = date(2026, 5, 4)
T0 = datetime(START.year, START.month, START.day, tzinfo=timezone.utc)
OUTCOME_COLS = [
    "request_id",
    "kind",
    "timestamp",
    "tier",
    "score",
    "label",
    "reviewer",
    "inclusion_prob",
    "cheap_score",
    "capable_score",
    "days_after",
    "detail",
]


def training_reference(rng: np.random.Generator, n: int = 20_000) -> dict[str, Any]:
    conf = 0.5 + 0.5 * rng.beta(5.0, 1.5, n)
    edges = np.linspace(0.0, 1.0, 21)
    counts, _ = np.histogram(conf, bins=edges)
    return {"confidence_edges": edges.tolist(), "confidence_counts": counts.tolist()}


def synthetic_log(
    days: int = 10,
    per_day: int = 1000,
    seed: int = 0,
    cheap_fail: float = 0.12,
    capable_fail: float = 0.04,
    shift_from: int | None = None,
    budget: int = 150,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Decisions + outcomes (reviews planned by plan_reviews, shadow, feedback, support) + truth."""
    rng = np.random.default_rng(seed)
    decs, outs = [], []
    ok_all, tier_all = [], []
    for d in range(days):
        cheap = rng.random(per_day) < 0.65
        hard = rng.random(per_day) < 0.2
        a, b = (2.0, 1.5) if shift_from is not None and d >= shift_from else (5.0, 1.5)
        conf = 0.5 + 0.5 * rng.beta(a, b, per_day)
        tail = np.where(hard, rng.beta(5, 1, per_day), rng.beta(2, 5, per_day))
        fail = np.where(cheap, np.where(hard, 3 * cheap_fail, cheap_fail * 0.5), capable_fail)
        ok = rng.random(per_day) >= np.clip(fail, 0, 1)
        ids = [f"d{d}-{i}" for i in range(per_day)]
        df = pd.DataFrame(
            {
                "request_id": ids,
                "timestamp": [
                    T0 + timedelta(days=d, seconds=float(s)) for s in np.sort(rng.uniform(0, 86_000, per_day))
                ],
                "answered_by": np.where(cheap, "cheap", "capable"),
                "route_confidence": conf,
                "route_tail_score": tail,
                "escalated": rng.random(per_day) < 0.1,
                "cost": np.where(cheap, 0.002, 0.01),
                "capable_cost": np.where(cheap, np.nan, 0.01),
            }
        )
        decs.append(df)
        ok_all.append(ok)
        tier_all.append(np.where(cheap, "cheap", "capable"))
        plan = plan_reviews(df, budget=budget, seed=seed * 1000 + d)
        okmap = dict(zip(ids, ok.tolist(), strict=True))
        t = plan.table
        outs.append(
            pd.DataFrame(
                {
                    "request_id": t["request_id"],
                    "kind": "review",
                    "score": [float(okmap[r]) for r in t["request_id"]],
                    "inclusion_prob": t["pi"],
                    "detail": [json.dumps({"oversample": float(g)}) for g in t["oversample_score"]],
                }
            )
        )
        # shadow: 10% of cheap answers judged on both tiers (capable fails 4%)
        sh = np.flatnonzero(cheap & (rng.random(per_day) < 0.1))
        outs.append(
            pd.DataFrame(
                {
                    "request_id": [ids[i] for i in sh],
                    "kind": "shadow",
                    "cheap_score": ok[sh].astype(float),
                    "capable_score": (rng.random(len(sh)) >= 0.04).astype(float),
                    "score": ok[sh].astype(float),
                }
            )
        )
        # feedback: thumbs-down on 3% of failures, thumbs-up on 1% of the rest
        down = np.flatnonzero(~ok & (rng.random(per_day) < 0.03))
        up = np.flatnonzero(ok & (rng.random(per_day) < 0.01))
        outs.append(
            pd.DataFrame(
                {
                    "request_id": [ids[i] for i in [*down, *up]],
                    "kind": "feedback",
                    "score": [0.0] * len(down) + [1.0] * len(up),
                }
            )
        )
        # support: 30% of failures call support within 0-10 days
        sc = np.flatnonzero(~ok & (rng.random(per_day) < 0.3))
        outs.append(
            pd.DataFrame(
                {
                    "request_id": [ids[i] for i in sc],
                    "kind": "support_contact",
                    "days_after": rng.uniform(0, 10, len(sc)),
                }
            )
        )
    decisions = pd.concat(decs, ignore_index=True)
    outcomes = pd.concat(outs, ignore_index=True).reindex(columns=OUTCOME_COLS)
    ok = np.concatenate(ok_all)
    tiers = np.concatenate(tier_all)
    truth = {t: float(ok[tiers == t].mean()) for t in ("cheap", "capable")}
    truth["all"] = float(ok.mean())
    return decisions, outcomes, truth


REVIEW_DAY = date(2026, 5, 4)


def routed_day(n: int = 4000, seed: int = 0, day: date = REVIEW_DAY) -> pd.DataFrame:
    """A day of routed traffic: 65% cheap; a low-confidence, high-tail segment in each tier."""
    rng = np.random.default_rng(seed)
    cheap = rng.random(n) < 0.65
    hard = rng.random(n) < 0.15
    conf = np.where(hard, 0.5 + 0.5 * rng.beta(2, 4, n), 0.5 + 0.5 * rng.beta(6, 1.2, n))
    tail = np.where(hard, rng.beta(6, 1, n), rng.beta(2, 5, n))
    t0 = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return pd.DataFrame(
        {
            "request_id": [f"r{seed}-{i}" for i in range(n)],
            "timestamp": [t0 + timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 86_399, n))],
            "answered_by": np.where(cheap, "cheap", "capable"),
            "route_confidence": conf,
            "route_tail_score": tail,
        }
    )


def cascade_decision(rid: str, **kw: object) -> CascadeDecision:
    base: dict[str, object] = dict(
        request_id=rid,
        timestamp=datetime.now(timezone.utc),
        cheap_tier="cheap",
        capable_tier="capable",
        answered_by="cheap",
        escalated=False,
        escalation_reason=None,
        escalation_detail=None,
        hard_rule=None,
        fallback=False,
        fallback_reason=None,
        category="card_arrival",
        route_probabilities={"cheap": 0.75, "capable": 0.25},
        confidence_raw=0.9,
        cheap_input_tokens=12,
        cost=0.001,
        latency_total_s=0.2,
    )
    base.update(kw)
    return CascadeDecision(**base)  # type: ignore[arg-type]
