"""Judge events in the decision log and the audit: log_judgement round trip, the audit's
judge-assisted table next to the human-only estimates, and the judge-assisted monitors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tierscope.exceptions import InvalidInputError
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.audit import audit
from tierscope.quality.review_plan import plan_reviews

# Local, not tests.factories: an installed distribution ships a top-level `tests` package that
# shadows this repository's (namespace) one.
T0 = datetime(2026, 5, 4, tzinfo=timezone.utc)
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


def _log(
    days: int, drop_from: int | None, seed: int = 0, oversample: bool = False, hard_low: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Decisions, reviews (plan_reviews, 150 a day) and judge events: 20% of answers judged
    (π = 0.2) by a judge that accepts 90% of good answers and 45% of bad ones, plus a judge score
    on every reviewed answer (``detail`` sample=review). With ``oversample`` the reviews and the
    judged answers carry the plan's oversampling score in their detail (as the review plan logs it);
    ``hard_low`` adds that much failure to cheap answers below route confidence 0.85 (the plan's
    oversampled low-confidence band, cuts 0.85 / 0.95), so tail-weighted and traffic quality differ."""
    rng = np.random.default_rng(seed)
    decs, outs, oks, tiers = [], [], [], []
    per_day = 1500
    for d in range(days):
        cheap = rng.random(per_day) < 0.65
        conf = 0.5 + 0.5 * rng.beta(5.0, 1.5, per_day)
        fail = np.where(cheap, 0.12 if drop_from is None or d < drop_from else 0.25, 0.04)
        fail = fail + np.where(cheap & (conf < 0.85), hard_low, 0.0)
        ok = rng.random(per_day) >= fail
        f = np.where(ok, rng.random(per_day) < 0.9, rng.random(per_day) < 0.45).astype(float)
        ids = np.array([f"d{d}-{i}" for i in range(per_day)])
        df = pd.DataFrame(
            {
                "request_id": ids,
                "timestamp": [T0 + timedelta(days=d, seconds=30.0 * i) for i in range(per_day)],
                "answered_by": np.where(cheap, "cheap", "capable"),
                "route_confidence": conf,
                "route_tail_score": rng.beta(2, 5, per_day),
                "cost": np.where(cheap, 0.002, 0.01),
            }
        )
        decs.append(df)
        oks.append(ok)
        tiers.append(np.where(cheap, "cheap", "capable"))
        bands = (0.85, 0.95) if hard_low else (0.7, 0.85)
        plan = plan_reviews(df, budget=150, seed=seed * 1000 + d, confidence_bands=bands)
        t = plan.table
        pos = np.searchsorted(ids, t["request_id"].to_numpy(str), sorter=np.argsort(ids))
        pos = np.argsort(ids)[pos]
        at = np.argsort(ids)[
            np.searchsorted(ids, plan.frame["request_id"].to_numpy(str), sorter=np.argsort(ids))
        ]
        g_all = np.ones(per_day)
        g_all[at] = plan.frame["oversample_score"].to_numpy(float)
        outs.append(
            pd.DataFrame(
                {
                    "request_id": ids[pos],
                    "kind": "review",
                    "score": ok[pos].astype(float),
                    "inclusion_prob": t["pi"].to_numpy(float),
                    "detail": [
                        json.dumps({"oversample": float(g)}) if oversample else None for g in g_all[pos]
                    ],
                }
            )
        )
        outs.append(
            pd.DataFrame(
                {
                    "request_id": ids[pos],
                    "kind": "judge",
                    "score": f[pos],
                    "reviewer": "j1",
                    "inclusion_prob": 1.0,
                    "detail": json.dumps({"sample": "review"}),
                }
            )
        )
        j = np.flatnonzero(rng.random(per_day) < 0.2)
        outs.append(
            pd.DataFrame(
                {
                    "request_id": ids[j],
                    "kind": "judge",
                    "score": f[j],
                    "reviewer": "j1",
                    "inclusion_prob": 0.2,
                    "detail": [
                        json.dumps({"oversample": float(g)}) if oversample else None for g in g_all[j]
                    ],
                }
            )
        )
    ok_all, tier_all = np.concatenate(oks), np.concatenate(tiers)
    truth = {t: float(ok_all[tier_all == t].mean()) for t in ("cheap", "capable")}
    return (
        pd.concat(decs, ignore_index=True),
        pd.concat(outs, ignore_index=True).reindex(columns=OUTCOME_COLS),
        truth,
    )


def test_log_judgement_round_trip_and_bad_input(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log", flush_every=10_000) as log:
        log.log_decision({"request_id": "r1", "answered_by": "cheap", "cost": 0.01, "timestamp": T0})
        log.log_judgement("r1", 0.8, "gpt-judge-v2", 0.1, tier="cheap")
        log.log_review("r1", True, inclusion_prob=0.5)
        for call, name in (
            (lambda: log.log_judgement("r1", 0.8, "", 0.1), "judge_id"),
            (lambda: log.log_judgement("r1", 0.8, "j", 0.0), "pi"),
            (lambda: log.log_judgement("r1", 1.5, "j", 0.5), "score"),
            (lambda: log.log_judgement("r1", True, "j", 0.5), "score"),  # type: ignore[arg-type]
        ):
            with pytest.raises(InvalidInputError, match=name):
                call()
    from tierscope.log.reader import load_outcomes

    out = load_outcomes(tmp_path / "log")
    out = out.to_pandas() if hasattr(out, "to_pandas") else out
    judge = out[out["kind"] == "judge"].iloc[0]
    assert judge["score"] == 0.8 and judge["reviewer"] == "gpt-judge-v2" and judge["inclusion_prob"] == 0.1
    assert pd.isna(judge["label"])


@pytest.mark.timeout(120)
def test_judge_assisted_monitor_follows_the_review_monitors_quantity() -> None:
    """Whatever λ, the judge-assisted stream's mean is the quantity the tier's review monitor
    follows: its baseline matches the review monitor's (tail-weighted when the judged answers carry
    their oversampling score, within a few standard errors), and without the scores both the note
    and the baseline say it follows the traffic quality."""
    d, o, truth = _log(days=14, drop_from=None, seed=3, oversample=True, hard_low=0.3)
    rep = audit((d, o), baseline_days=14, tolerance=0.03)
    mons = rep.monitors.set_index("monitor")
    # the cheap tier's tail-weighted quality (the low-confidence band weighted 3x) is far below its
    # traffic quality; a stream mixing the two weightings by λ would sit between them
    assert mons.loc["cheap", "baseline"] < truth["cheap"] - 0.05
    for t in ("cheap", "capable"):
        # 14 days x ~100 (cheap) / ~50 reviews, the same reviews: the gap's SE is below 0.01
        assert abs(mons.loc[f"{t} (judge-assisted)", "baseline"] - mons.loc[t, "baseline"]) < 0.015
        assert not mons.loc[[t, f"{t} (judge-assisted)"], "alarm_day"].notna().any()
    lam = rep.judge_assisted.set_index("tier").loc["cheap", "lam"]
    assert lam > 0.2
    assert not any("oversampling score" in n for n in rep.notes)
    # judged answers without the score: the judge-assisted monitor follows the traffic quality
    bare = o.copy()
    judged = (bare["kind"] == "judge") & ~bare["detail"].fillna("").str.contains("review")
    bare.loc[judged, "detail"] = None
    rep2 = audit((d, bare), baseline_days=14, tolerance=0.03)
    assert any("follows the traffic quality" in n for n in rep2.notes)
    b = rep2.monitors.set_index("monitor").loc["cheap (judge-assisted)", "baseline"]
    assert abs(b - truth["cheap"]) < 0.04, (b, truth)  # HT over ~1,400 reviews: SE about 0.015
    assert b > mons.loc["cheap", "baseline"] + 0.04


def test_audit_reports_judge_assisted_estimates_and_monitors() -> None:
    d, o, truth = _log(days=21, drop_from=14)
    rep = audit((d, o), baseline_days=7, tolerance=0.03)
    table = rep.judge_assisted.set_index("tier")
    assert set(table.index) == {"cheap", "capable"}
    for t in ("cheap", "capable"):
        row = table.loc[t]
        assert row["judged"] > 1000 and 0.0 <= row["lam"] <= 1.0
        assert row["se"] < row["human_se"], "the judge must tighten the interval"
        assert abs(row["estimate"] - truth[t]) < 4 * row["se"]
    assert "judge_assisted" in rep.tables()
    assert "judge-assisted cheap:" in rep.summary()
    mons = rep.monitors.set_index("monitor")
    assert mons.loc["cheap (judge-assisted)", "kind"] == "judge_assisted"
    assert mons.loc["cheap (judge-assisted)", "alarm_day"] >= 14  # no alarm before the drop
    assert pd.isna(mons.loc["capable (judge-assisted)", "alarm_day"])
    # reviews logged without oversampling scores: tail-weighted is the traffic quality, no note
    assert not any("oversampling score" in n for n in rep.notes)
    # without judge events the audit is as before
    plain = audit((d, o[o["kind"] != "judge"]), baseline_days=7, tolerance=0.03)
    assert plain.judge_assisted is None and "judge_assisted" not in plain.tables()
    assert not any("judge-assisted" in m for m in plain.monitors["monitor"])
