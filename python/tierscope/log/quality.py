"""Per-tier quality from logged reviews: the one computation behind :meth:`JoinedLog.per_tier
<tierscope.log.JoinedLog.per_tier>` and :func:`tierscope.audit`.

Quality is the Hájek mean of review scores with weights 1/π (π = the review's logged inclusion
probability; a review without one is a census draw, π = 1) and its design-based interval
(:func:`tierscope.stats.estimate`, Poisson design). The two callers differ only in what one
sampled unit is and in reviews logged without a score; :func:`review_units` makes both explicit:

========================  =====================  ======================================
caller                    ``unit``               ``unscored``
========================  =====================  ======================================
``JoinedLog.per_tier``    ``"review"``           ``"unacceptable"`` (score 0, counted)
``audit``                 ``"request"``          ``"drop"``
========================  =====================  ======================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .. import stats

__all__ = ["UNANSWERED", "quality_by", "review_units"]

UNANSWERED = "<none>"
"""The tier label of decisions that no tier answered."""

Unit = Literal["request", "review"]
Unscored = Literal["drop", "unacceptable"]


def review_units(reviews: Any, *, unit: Unit, unscored: Unscored, carry: Sequence[str] = ()) -> Any:
    """The sampled units of the quality estimate, from review rows.

    ``reviews``: a pandas DataFrame with ``request_id``, ``tier``, ``score`` and
    ``inclusion_prob`` columns (plus the ``carry`` columns). Returns ``request_id``, ``score``,
    ``pi`` (missing π = 1), ``tier`` and the ``carry`` columns.

    ``unit="review"``: every review is a unit (in the given order). ``unit="request"``: one
    verdict per request, the mean of its reviews' scores, with its first review's π, tier and
    ``carry`` values (rows sorted by request id).
    ``unscored="drop"``: reviews without a score are left out; ``"unacceptable"``: they count as
    score 0 (a review that found no acceptable answer).
    """
    import pandas as pd

    if unscored == "drop":
        rows = reviews[reviews["score"].notna()].copy()
    else:
        rows = reviews.copy()
        rows["score"] = rows["score"].fillna(0.0)
    rows["pi"] = rows["inclusion_prob"].fillna(1.0).astype(float)
    columns = ["request_id", "score", "pi", "tier", *carry]
    if unit == "review":
        return rows[columns].reset_index(drop=True)
    if not len(rows):
        return pd.DataFrame(columns=columns)
    first = {name: (name, "first") for name in ("pi", "tier", *carry)}
    return rows.groupby("request_id", as_index=False).agg(score=("score", "mean"), **first)


def quality_by(
    units: Any, groups: Any, expected: Sequence[Any], *, level: float = 0.95, interval: str = "wilson"
) -> dict[Any, stats.DomainEstimate | None]:
    """The Hájek quality estimate of ``units`` (from :func:`review_units`) per group label.

    ``groups``: one label per unit (a tier, a day index, ...). Every label of ``expected`` gets
    an entry: an undefined estimate when it has no units, None when there are no units at all.
    ``interval``: the interval method (:data:`tierscope.stats.estimators.INTERVALS`; default
    ``"wilson"``, Wilson at n* = min(n, m(1 − m)/se²)).
    """
    scores = units["score"].to_numpy(dtype=float)
    if len(scores) == 0:
        return {label: None for label in expected}
    labels = np.asarray(groups, dtype=object).astype(str)
    est = stats.estimate(
        scores,
        units["pi"].to_numpy(dtype=float),
        labels,
        labels,
        design="poisson",
        expected_domains=[str(label) for label in expected],
        level=level,
        interval=interval,
    )
    return {label: est.domains.get(str(label)) for label in expected}
