"""Step 2 of the audit: review verdicts and per-tier quality over the window, per day and per week.

Per-tier quality is the log layer's :func:`~tierscope.log.quality.quality_by` (Hájek mean with
weights 1/π and its Poisson-design interval: by default Wilson at n* = min(n, m(1 − m)/se²), or
an R ``svyciprop`` method chosen with ``audit(interval=...)``), the same computation as
:meth:`JoinedLog.per_tier <tierscope.log.JoinedLog.per_tier>`, with one verdict per request.
The *blended* row is the unweighted mean of all verdicts with a Wilson interval (the single
number a team without tiers would look at); ``all traffic`` is the design-based estimate.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ... import stats
from ...log.quality import quality_by, review_units
from .frame import AuditFrame
from .rates import wilson

__all__ = ["ALL_TRAFFIC", "BLENDED", "quality_by_period", "quality_table", "review_verdicts"]

BLENDED = "blended (all reviews, unweighted)"
ALL_TRAFFIC = "all traffic (design-based)"


def _parse_detail(text: Any) -> dict[str, Any]:
    """An outcome's ``detail`` JSON object ({} when absent or not an object)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        v = json.loads(text)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def review_verdicts(frame: AuditFrame) -> tuple[Any, list[str]]:
    """(one verdict per reviewed request, notes).

    Verdict columns: ``request_id``, ``score`` (the mean of the request's reviews), ``pi``,
    ``tier``, ``g`` (the review plan's oversampling score from ``detail``, used by the monitors),
    ``day`` and ``week``. Reviews without a score are left out.
    """
    out = frame.outcomes
    reviews = out[out["kind"] == "review"].rename(columns={"tier": "outcome_tier", "dtier": "tier"})
    notes = []
    missing_pi = int((reviews["score"].notna() & reviews["inclusion_prob"].isna()).sum())
    if missing_pi:
        notes.append(f"{missing_pi} reviews have no inclusion probability: treated as pi = 1 (census)")
    if len(reviews):
        oversample = [float(_parse_detail(t).get("oversample", 1.0)) for t in reviews["detail"]]
        reviews = reviews.assign(g=np.clip(oversample, 1e-9, None))
    else:
        reviews = reviews.assign(g=[])
    units = review_units(reviews, unit="request", unscored="drop", carry=("g", "day", "week"))
    return units, notes


def _estimate_row(d: Any) -> dict[str, Any]:
    """A quality row's estimate columns from a :class:`~tierscope.stats.DomainEstimate` (or None)."""
    if d is None or not d.defined:
        nan = math.nan
        return {
            "reviews": 0 if d is None else d.n,
            "mean": nan,
            "lower": nan,
            "upper": nan,
            "se": nan,
            "n_eff": nan,
        }
    return {"reviews": d.n, "mean": d.mean, "lower": d.lower, "upper": d.upper, "se": d.se, "n_eff": d.n_eff}


def _blended_row(score_sum: float, reviews: int, level: float) -> dict[str, Any]:
    """The blended row's estimate columns: the unweighted mean of ``reviews`` verdicts, Wilson interval."""
    mean, lower, upper = wilson(score_sum, float(reviews), level)
    return {
        "reviews": reviews,
        "mean": mean,
        "lower": lower,
        "upper": upper,
        "se": math.sqrt(mean * (1 - mean) / reviews) if reviews else math.nan,
        "n_eff": float(reviews),
    }


def quality_table(frame: AuditFrame, verdicts: Any, level: float, interval: str = "wilson") -> Any:
    """Quality over the window: one row per tier, then the blended and the all-traffic rows
    (``interval``: the design-based rows' interval method)."""
    import pandas as pd

    n_decisions = len(frame.decisions)
    per_tier = quality_by(verdicts, verdicts["tier"].astype(str), frame.tiers, level=level, interval=interval)
    rows = [
        {"tier": t, "answers": int(frame.answers.get(t, 0)), **_estimate_row(per_tier[t])}
        for t in frame.tiers
    ]
    scores = verdicts["score"].to_numpy(dtype=float)
    rows.append(
        {"tier": BLENDED, "answers": n_decisions, **_blended_row(float(scores.sum()), len(scores), level)}
    )
    population = quality_by(verdicts, np.zeros(len(scores), dtype=int), [0], level=level, interval=interval)[
        0
    ]
    rows.append({"tier": ALL_TRAFFIC, "answers": n_decisions, **_estimate_row(population)})
    return pd.DataFrame(rows)


def quality_by_period(
    frame: AuditFrame, verdicts: Any, period: str, labels: list[str], level: float, interval: str = "wilson"
) -> Any:
    """Quality per tier and per ``period`` (``"day"`` or ``"week"``), then the blended rows."""
    import pandas as pd

    dec = frame.decisions
    index = list(range(len(labels)))
    traffic = dec.groupby(["tier", period]).size()
    rows = []
    for t in frame.tiers:
        sub = verdicts[verdicts["tier"] == t]
        est = quality_by(sub, sub[period].astype(int), index, level=level, interval=interval)
        for i in index:
            answers = int(traffic.get((t, i), 0))
            rows.append(
                {"tier": t, period: i, "date": labels[i], "answers": answers, **_estimate_row(est[i])}
            )
    for i in index:
        sub = verdicts[verdicts[period] == i]
        blended = _blended_row(float(sub["score"].sum()), len(sub), level)
        rows.append(
            {
                "tier": BLENDED,
                period: i,
                "date": labels[i],
                "answers": int((dec[period] == i).sum()),
                **blended,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- judge-assisted

_JUDGE_COLUMNS = [
    "tier",
    "judged",
    "reviews",
    "lam",
    "estimate",
    "lower",
    "upper",
    "se",
    "human_mean",
    "human_lower",
    "human_upper",
    "human_se",
    "width_ratio",
]


def judge_samples(frame: AuditFrame, verdicts: Any) -> tuple[Any, Any] | None:
    """(judged sample, reviews with their judge score), or None when the log has no judge events.

    The judged sample is every ``"judge"`` event whose ``detail`` does not say ``"sample":
    "review"`` (those judged an answer *because* it was reviewed: they give the review its judge
    score, but their π is not a judging probability). Columns: judged ``tier``, ``day``, ``f``,
    ``pi``, ``g`` (detail ``"oversample"``, NaN when not logged); reviews: the verdicts with ``f``
    (reviews without a judge score are left out).
    """
    out = frame.outcomes
    judge = out[out["kind"] == "judge"]
    if not len(judge):
        return None
    for_review = np.array(
        ["review" in str(_parse_detail(t).get("sample", "")) for t in judge["detail"]], bool
    )
    sample = judge[~for_review]
    # The oversampling score the review plan gave the judged answer, when logged (NaN otherwise):
    # what a tail-weighted judge-assisted monitor weights the judged mean by.
    g = [float(_parse_detail(t).get("oversample", math.nan)) for t in sample["detail"]]
    judged = sample.assign(
        tier=sample["dtier"],
        f=sample["score"].astype(float),
        pi=sample["inclusion_prob"].fillna(1.0).astype(float),
        g=np.clip(g, 1e-9, None),
    )[["request_id", "tier", "day", "f", "pi", "g"]]
    scores = judge.groupby("request_id")["score"].mean()
    rev = verdicts.assign(f=verdicts["request_id"].map(scores).astype(float))
    return judged[judged["f"].notna()], rev[rev["f"].notna()]


def judge_assisted_table(frame: AuditFrame, samples: tuple[Any, Any], level: float) -> Any:
    """Per tier: the PPI++ estimate (tuned λ, Poisson variance) next to the human-only Hájek
    estimate from the same reviews, and the ratio of their interval widths."""
    import pandas as pd

    judged, rev = samples
    codes = {t: i for i, t in enumerate(frame.tiers)}
    agg = stats.PpiAggregate()
    agg.add_judged(judged["f"], judged["pi"], judged["tier"].map(codes).to_numpy(np.int64))
    agg.add_reviews(rev["score"], rev["f"], rev["pi"], rev["tier"].map(codes).to_numpy(np.int64))
    rows = []
    for e in agg.estimates(level):
        rows.append(
            {
                "tier": frame.tiers[e.domain],
                "judged": e.n_judged,
                "reviews": e.n_human,
                "lam": e.lam,
                "estimate": e.estimate,
                "lower": e.lower,
                "upper": e.upper,
                "se": e.se,
                "human_mean": e.human_mean,
                "human_lower": e.human_lower,
                "human_upper": e.human_upper,
                "human_se": e.human_se,
                "width_ratio": e.se / e.human_se if e.defined and e.human_se > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=_JUDGE_COLUMNS)
