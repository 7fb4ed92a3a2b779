"""Wilson intervals for the audit's rates (blended quality, feedback, contacts, escalations)."""

from __future__ import annotations

import math

from ... import stats

__all__ = ["wilson"]


def wilson(successes: float, n: float, level: float) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the Wilson interval for ``successes`` out of ``n`` (NaN if n = 0)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    iv = stats.proportion_interval(min(successes, n), n, level=level, method="wilson")
    return iv.estimate, iv.lower, iv.upper
