"""Step 4 of the audit: the shadow gap, cheap − capable on the same shadowed requests, per tier.

Binary verdicts get Newcombe's paired interval and McNemar's exact test, graded ones a paired
Wald interval. One monitor per shadowed tier follows the daily gap (in [−1, 1]) against 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import stats
from .frame import AuditFrame
from .monitors import MonitorBook, MonitorSettings

__all__ = ["shadow_gap"]

FloatArray = npt.NDArray[np.float64]
_SHADOW_COLUMNS = ["tier", "n", "cheap", "capable", "gap", "lower", "upper", "interval", "mcnemar_p"]
_DAILY_COLUMNS = ["tier", "day", "date", "n", "gap", "lower", "upper"]


def _gap_row(tier: str, cheap: FloatArray, capable: FloatArray, level: float) -> dict[str, Any]:
    """The ``shadow`` table row of one tier."""
    row: dict[str, Any] = {
        "tier": tier,
        "n": len(cheap),
        "cheap": float(cheap.mean()),
        "capable": float(capable.mean()),
    }
    binary = bool(np.all(np.isin(cheap, (0.0, 1.0))) and np.all(np.isin(capable, (0.0, 1.0))))
    if binary:
        pc = stats.paired_comparison(cheap, capable, level=level)
        row.update(
            gap=pc.newcombe.estimate,
            lower=pc.newcombe.lower,
            upper=pc.newcombe.upper,
            interval="newcombe_paired",
            mcnemar_p=pc.mcnemar_exact_p,
        )
    else:
        iv = stats.paired_wald(cheap, capable, level=level)
        row.update(gap=iv.estimate, lower=iv.lower, upper=iv.upper, interval=iv.method, mcnemar_p=math.nan)
    return row


def _daily_gap_row(
    tier: str, day: int, date: str, cheap: FloatArray, capable: FloatArray, level: float
) -> dict[str, Any]:
    """The ``shadow_daily`` row of one tier and day (a Wald interval from 2 pairs on)."""
    iv = stats.paired_wald(cheap, capable, level=level) if len(cheap) >= 2 else None
    return {
        "tier": tier,
        "day": day,
        "date": date,
        "n": len(cheap),
        "gap": float(np.mean(cheap - capable)),
        "lower": iv.lower if iv else math.nan,
        "upper": iv.upper if iv else math.nan,
    }


def _follow_gap(
    book: MonitorBook,
    frame: AuditFrame,
    tier: str,
    shadowed: Any,
    level: float,
    settings: MonitorSettings,
) -> list[dict[str, Any]]:
    """Feed tier ``tier``'s daily gaps to a monitor in ``book``; return the tier's daily rows."""
    cheap = shadowed["cheap_score"].to_numpy(float)
    capable = shadowed["capable_score"].to_numpy(float)
    days = shadowed["day"].to_numpy(int)
    name = f"shadow gap {tier}"
    monitor = settings.monitor(0.0, lo=-1.0, hi=1.0)
    rows = []
    for d in range(frame.n_days):
        m = days == d
        book.record_day(name, d, monitor.update(cheap[m] - capable[m]))
        if m.sum() >= 1:
            rows.append(_daily_gap_row(tier, d, frame.day_labels[d], cheap[m], capable[m], level))
    book.add(name, "shadow gap", monitor, 0.0)
    return rows


def shadow_gap(
    book: MonitorBook, frame: AuditFrame, level: float, settings: MonitorSettings
) -> tuple[Any, Any]:
    """(``shadow``, ``shadow_daily``) tables; the gap monitors go to ``book``."""
    import pandas as pd

    out = frame.outcomes
    sh = out[(out["kind"] == "shadow") & out["cheap_score"].notna() & out["capable_score"].notna()]
    rows = []
    daily_rows = []
    for t in sorted(set(sh["dtier"].tolist())):
        shadowed = sh[sh["dtier"] == t]
        cheap = shadowed["cheap_score"].to_numpy(float)
        capable = shadowed["capable_score"].to_numpy(float)
        rows.append(_gap_row(t, cheap, capable, level))
        daily_rows += _follow_gap(book, frame, t, shadowed, level, settings)
    return pd.DataFrame(rows, columns=_SHADOW_COLUMNS), pd.DataFrame(daily_rows, columns=_DAILY_COLUMNS)
