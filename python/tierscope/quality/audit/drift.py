"""Step 6 of the audit: drift of the router's confidence and of the escalation rate.

Confidence: production against the training reference (PSI and JS on the reference histogram's
bins, a binned KS with the asymptotic Kolmogorov p-value), over all traffic and per tier, per
day and per week; per tier also against the tier's own baseline window (KS on raw samples).
Escalation rate: each day's rate against the baseline window (Newcombe interval of the
difference). Traffic mix: per tier, each day's shares over the router's regions
(``route_region``) against the baseline window's, with the sequential alarm of
:func:`tierscope.stats.mix_drift` (tolerance null, e-CUSUM, ``alpha`` split over the tiers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import stats
from ...exceptions import InvalidInputError
from .frame import AuditFrame
from .rates import wilson

__all__ = ["confidence_drift", "escalation_drift", "mix_drift_table", "reference_histogram"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ReferenceHistogram = tuple[FloatArray, FloatArray]
_DRIFT_COLUMNS = ["scope", "reference", "period", "index", "date", "n", "psi", "js", "ks", "ks_pvalue"]


def reference_histogram(reference: Any) -> ReferenceHistogram | None:
    """(edges, counts) of the training confidence histogram, from a Router or its reference dict."""
    if reference is None:
        return None
    ref = getattr(reference, "reference", reference)
    if not isinstance(ref, Mapping) or "confidence_edges" not in ref or "confidence_counts" not in ref:
        raise InvalidInputError(
            "invalid `reference`: a Router or its reference dict with `confidence_edges` and "
            "`confidence_counts`"
        )
    try:
        edges = np.asarray(ref["confidence_edges"], dtype=np.float64)
        counts = np.asarray(ref["confidence_counts"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "invalid `reference`: numeric `confidence_edges` and `confidence_counts`"
        ) from None
    if (
        edges.ndim != 1
        or counts.shape != (edges.shape[0] - 1,)
        or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) <= 0)
    ):
        raise InvalidInputError("invalid `reference`: finite increasing edges and one count per bin")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise InvalidInputError("invalid `reference`: finite, non-negative bin counts")
    if counts.sum() <= 0:
        raise InvalidInputError("invalid `reference`: the confidence histogram is empty")
    return edges, counts


def _hist(values: FloatArray, edges: FloatArray) -> FloatArray:
    v = values[np.isfinite(values)]
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.float64)


def _binned_drift(ref_counts: FloatArray, prod_counts: FloatArray) -> dict[str, float]:
    n = float(prod_counts.sum())
    m = float(ref_counts.sum())
    if n <= 0:
        return {"n": 0, "psi": math.nan, "js": math.nan, "ks": math.nan, "ks_pvalue": math.nan}
    d = float(np.max(np.abs(np.cumsum(ref_counts) / m - np.cumsum(prod_counts) / n)))
    en = n * m / (n + m)
    p = stats.kolmogorov_sf(max(1, int(round(en))), d) if d > 0 else 1.0
    return {
        "n": int(n),
        "psi": stats.psi(ref_counts, prod_counts),
        "js": stats.jensen_shannon(ref_counts, prod_counts, base=2),
        "ks": d,
        "ks_pvalue": float(p),
    }


def _sample_drift(ref: FloatArray, prod: FloatArray) -> dict[str, float]:
    ref = ref[np.isfinite(ref)]
    prod = prod[np.isfinite(prod)]
    if len(ref) < 2 or len(prod) < 2:
        return {"n": int(len(prod)), "psi": math.nan, "js": math.nan, "ks": math.nan, "ks_pvalue": math.nan}
    ks = stats.ks_2samp(ref, prod, method="asymp")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    edges[0], edges[-1] = min(edges[0], prod.min()), max(edges[-1], prod.max())
    if len(edges) < 3:
        edges = np.array([min(ref.min(), prod.min()), np.median(ref), max(ref.max(), prod.max()) + 1e-12])
    rc, _ = np.histogram(ref, bins=edges)
    pc, _ = np.histogram(prod, bins=edges)
    return {
        "n": int(len(prod)),
        "psi": stats.psi(rc.astype(float), pc.astype(float)),
        "js": stats.jensen_shannon(rc.astype(float), pc.astype(float), base=2),
        "ks": ks.statistic,
        "ks_pvalue": ks.pvalue,
    }


def _scope_drift(
    frame: AuditFrame, scope: str, mask: BoolArray, conf: FloatArray, ref_hist: ReferenceHistogram | None
) -> list[dict[str, Any]]:
    """Drift rows of one scope (all traffic or a tier): per day, per week, then the whole window."""
    dec = frame.decisions
    days = dec["day"].to_numpy(int)
    base_sample = conf[mask & (days < frame.baseline_days)]
    rows = []
    for period, index, labels in (
        ("day", days, frame.day_labels),
        ("week", dec["week"].to_numpy(int), frame.week_labels),
    ):
        for i, date in enumerate(labels):
            m = mask & (index == i)
            if not m.any() or not np.isfinite(conf[m]).any():
                continue
            key = {"scope": scope, "period": period, "index": i, "date": date}
            if ref_hist is not None:
                rows.append(
                    {
                        **key,
                        "reference": "training",
                        **_binned_drift(ref_hist[1], _hist(conf[m], ref_hist[0])),
                    }
                )
            if scope != "all" and len(base_sample) >= 2:
                rows.append({**key, "reference": "baseline window", **_sample_drift(base_sample, conf[m])})
    if ref_hist is not None and np.isfinite(conf[mask]).any():
        window = _binned_drift(ref_hist[1], _hist(conf[mask], ref_hist[0]))
        key = {"scope": scope, "period": "window", "index": 0, "date": frame.day_labels[0]}
        rows.append({**key, "reference": "training", **window})
    return rows


def confidence_drift(frame: AuditFrame, ref_hist: ReferenceHistogram | None) -> Any:
    """The ``drift`` table: routing confidence against training and against the baseline window."""
    import pandas as pd

    dec = frame.decisions
    conf = (
        pd.to_numeric(dec["route_confidence"], errors="coerce").to_numpy(float)
        if "route_confidence" in dec
        else np.full(len(dec), np.nan)
    )
    tiers = dec["tier"].to_numpy(str)
    scopes: list[tuple[str, BoolArray]] = [("all", np.ones(len(dec), dtype=bool))]
    scopes += [(t, tiers == t) for t in frame.tiers]
    rows = [row for scope, mask in scopes for row in _scope_drift(frame, scope, mask, conf, ref_hist)]
    return pd.DataFrame(rows, columns=_DRIFT_COLUMNS)


def escalation_drift(frame: AuditFrame, level: float) -> Any:
    """The ``escalation`` table: each day's escalation rate against the baseline window's."""
    import pandas as pd

    dec = frame.decisions
    esc = (
        dec["escalated"].fillna(False).astype(bool).to_numpy()
        if "escalated" in dec
        else np.zeros(len(dec), bool)
    )
    days = dec["day"].to_numpy(int)
    base_mask = days < frame.baseline_days
    bx, bn = float(esc[base_mask].sum()), float(base_mask.sum())
    rows = []
    for i, date in enumerate(frame.day_labels):
        m = days == i
        n_i = float(m.sum())
        if n_i == 0:
            continue
        x_i = float(esc[m].sum())
        est, lo, hi = wilson(x_i, n_i, level)
        diff = stats.newcombe_difference(x_i, n_i, bx, bn, level=level) if bn > 0 else None
        rows.append(
            {
                "day": i,
                "date": date,
                "answers": int(n_i),
                "escalation_rate": est,
                "lower": lo,
                "upper": hi,
                "baseline_rate": bx / bn if bn else math.nan,
                "diff": diff.estimate if diff else math.nan,
                "diff_lower": diff.lower if diff else math.nan,
                "diff_upper": diff.upper if diff else math.nan,
            }
        )
    return pd.DataFrame(rows)


_MIX_COLUMNS = [
    "tier", "day", "date", "n", "chi_square", "chi_square_p", "psi", "tv", "log_e", "log_detector",
    "threshold", "alarm", "moved",
]  # fmt: skip


def mix_drift_table(frame: AuditFrame, alpha: float, tolerance: float = 0.02, top: int = 3) -> Any:
    """The ``mix`` table: per tier and day after the baseline window, the region-share drift
    against the baseline window (chi-square, PSI, TV, the day's e-value and the e-CUSUM), the
    first alarm day marked in ``alarm``, and the ``top`` regions that moved most as
    ``"region: reference share -> day share"``. Empty when the log has no ``route_region``
    (a router without regions, or a log older than the column)."""
    import pandas as pd

    from ...stats.drift import mix_drift, region_counts

    dec = frame.decisions
    if "route_region" not in dec:
        return pd.DataFrame(columns=_MIX_COLUMNS)
    region = pd.to_numeric(dec["route_region"], errors="coerce").fillna(-1).to_numpy(np.int64)
    if region.size == 0 or region.max() < 1:
        return pd.DataFrame(columns=_MIX_COLUMNS)
    k = int(region.max()) + 1
    days = dec["day"].to_numpy(int)
    tiers = dec["tier"].to_numpy(str)
    base, n_days = frame.baseline_days, len(frame.day_labels)
    rows: list[dict[str, Any]] = []
    if n_days <= base:
        return pd.DataFrame(columns=_MIX_COLUMNS)
    for tier in frame.tiers:
        mask = tiers == tier
        counts = np.array([region_counts(region, k, mask & (days == d)) for d in range(n_days)])
        ref = counts[:base].sum(axis=0)
        if ref.sum() <= 0:
            continue
        res = mix_drift(ref, counts[base:], alpha=alpha / max(len(frame.tiers), 1), tolerance=tolerance,
                        horizon=n_days - base)  # fmt: skip
        for i in range(len(res.n)):
            moved = "; ".join(f"{j}: {a:.1%} -> {b:.1%}" for j, a, b in res.moved(i, top)) if res.n[i] else ""
            rows.append(
                {
                    "tier": tier, "day": base + i, "date": frame.day_labels[base + i], "n": int(res.n[i]),
                    "chi_square": float(res.chi_square[i]), "chi_square_p": float(res.chi_square_p[i]),
                    "psi": float(res.psi[i]), "tv": float(res.tv[i]), "log_e": float(res.log_e[i]),
                    "log_detector": float(res.log_detector[i]), "threshold": res.threshold,
                    "alarm": res.alarm_day == i, "moved": moved,
                }
            )  # fmt: skip
    return pd.DataFrame(rows, columns=_MIX_COLUMNS)
