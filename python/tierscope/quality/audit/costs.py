"""Step 7 of the audit: total cost, routed against everything on the capable tier.

Routed: inference spend per tier (the logged ``cost``; ``prices`` fill decisions without one)
plus support contacts within the support window × ``cost_per_contact`` (Wilson interval on the
contact count). All capable: the capable price per call × traffic, plus contacts at the capable
tier's contact rate (the best available counterfactual).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .frame import AuditFrame
from .rates import wilson

__all__ = ["cost_table"]


def _row(component: str, estimate: float, lower: float, upper: float) -> dict[str, Any]:
    return {"component": component, "estimate": estimate, "lower": lower, "upper": upper}


def _inference_cost(dec: Any, prices: Mapping[str, float]) -> Any:
    """Each decision's inference cost: the logged ``cost``, else its tier's price (NaN if neither)."""
    import pandas as pd

    cost = (
        pd.to_numeric(dec["cost"], errors="coerce") if "cost" in dec else pd.Series(np.nan, index=dec.index)
    )
    for t, p in prices.items():
        cost = cost.where(cost.notna() | (dec["tier"] != t), float(p))
    return cost


def _capable_price(dec: Any, cost: Any, prices: Mapping[str, float], capable_tier: str | None) -> float:
    """The price per call on the capable tier: given, else the mean logged capable cost, else the
    mean cost of the calls the capable tier answered."""
    import pandas as pd

    if capable_tier is not None and capable_tier in prices:
        return float(prices[capable_tier])
    cap_cost = pd.to_numeric(dec["capable_cost"], errors="coerce") if "capable_cost" in dec else None
    if cap_cost is not None and cap_cost.notna().any():
        return float(cap_cost.dropna().mean())
    if capable_tier is not None and (dec["tier"] == capable_tier).any():
        return float(cost[dec["tier"] == capable_tier].fillna(0.0).mean())
    return math.nan


def _capable_contact_rate(support: Any, capable_tier: str | None) -> tuple[float, float, float]:
    """(rate, lower, upper) of the capable tier's support contacts (NaN when it answered nothing)."""
    sp = support.set_index("tier")
    if capable_tier is not None and capable_tier in sp.index and sp.loc[capable_tier, "answers"] > 0:
        r, lo, hi = (float(sp.loc[capable_tier, c]) for c in ("contact_rate", "lower", "upper"))
        return r, lo, hi
    return math.nan, math.nan, math.nan


def cost_table(
    frame: AuditFrame,
    contacts: Any,
    support: Any,
    prices: Mapping[str, float] | None,
    cost_per_contact: float,
    level: float,
) -> Any:
    """The ``costs`` table (``contacts``: support contacts in the window; ``support``: its table)."""
    import pandas as pd

    dec = frame.decisions
    prices = dict(prices or {})
    cost = _inference_cost(dec, prices)
    n_total = len(dec)
    cpc = cost_per_contact
    rows = []
    inference = 0.0
    for t in frame.tiers:
        v = float(cost[dec["tier"] == t].fillna(0.0).sum())
        inference += v
        rows.append(_row(f"inference {t}", v, v, v))
    rows.append(_row("inference (routed)", inference, inference, inference))
    n_contacts = float(contacts["request_id"].nunique())
    _, lo, hi = wilson(n_contacts, float(n_total), level)
    support_cost = (n_contacts * cpc, lo * n_total * cpc, hi * n_total * cpc)
    rows.append(_row("support contacts", *support_cost))
    rows.append(_row("total (routed)", *(inference + c for c in support_cost)))
    cf_inf = _capable_price(dec, cost, prices, frame.capable_tier) * n_total
    rate = _capable_contact_rate(support, frame.capable_tier)
    cf_support = tuple(r * n_total * cpc for r in rate)
    rows.append(_row("inference (all capable)", cf_inf, cf_inf, cf_inf))
    rows.append(_row("support contacts (all capable)", *cf_support))
    rows.append(_row("total (all capable)", *(cf_inf + c for c in cf_support)))
    return pd.DataFrame(rows)
