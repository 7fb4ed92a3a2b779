"""Step 3 of the audit: one sequential quality monitor per tier, fed day by day.

The stream is a two-phase Horvitz–Thompson stream: with c = the day's largest q = π/g (g = the
review's oversampling score, 1 for ``monitor_target="traffic"``), reviews enter with probability
q/c among ≈ N·c first-phase units, so the monitored quantity is the g-weighted tier quality
Σ g·y / Σ g (``"tail_weighted"``: the quality where model choice matters, as the review plan's
oversampling defines it) or the plain tier mean (``"traffic"``). When all π/g are equal the
stream is the reviews themselves. ``baseline`` defaults to the same weighted estimate over the
first ``baseline_days`` days. :class:`MonitorBook` collects these monitors and the shadow-gap
monitors (:mod:`.shadow`) into the report's ``monitors`` and ``monitor_history`` tables.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import stats
from .frame import AuditFrame

__all__ = ["MonitorBook", "MonitorSettings", "judge_monitors", "quality_monitors"]

FloatArray = npt.NDArray[np.float64]
_MONITOR_COLUMNS = [
    "monitor",
    "kind",
    "baseline",
    "threshold",
    "lower",
    "upper",
    "min_upper",
    "alarm_day",
    "alarm_date",
    "days",
]


@dataclass(frozen=True)
class MonitorSettings:
    """The alarm rule shared by every monitor of one audit (see :class:`tierscope.stats.Monitor`)."""

    tolerance: float
    alpha: float
    restart_every: int
    method: str
    arl: float

    def monitor(self, baseline: float, **bounds: Any) -> stats.Monitor:
        """A monitor of "quality >= ``baseline`` − tolerance" (``bounds``: lo/hi/max_weight)."""
        return stats.Monitor(
            baseline,
            float(self.tolerance),
            alpha=float(self.alpha),
            **bounds,
            restart_every=self.restart_every,
            method=self.method,
            arl=self.arl,
        )


@dataclass
class MonitorBook:
    """Every monitor of an audit, its summary row and its day-by-day history, in creation order."""

    day_labels: list[str]
    tolerance: float
    objects: dict[str, stats.Monitor] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def record_day(self, name: str, day: int, status: stats.DayStatus, **extra: Any) -> None:
        """One row of ``monitor_history``: monitor ``name``'s status after ``day``."""
        self.history.append(
            {
                "monitor": name,
                "day": day,
                "date": self.day_labels[day],
                "lower": status.lower,
                "upper": status.upper,
                "min_upper": status.min_upper,
                "log_evidence": status.log_evidence,
                "alarm": status.alarm,
            }
            | extra
        )

    def add(self, name: str, kind: str, monitor: stats.Monitor, baseline: float) -> None:
        """Keep a monitor that has been fed every day, with its summary row."""
        last = monitor.history[-1] if monitor.history else None
        alarm = monitor.alarm_day  # 1-based monitor day
        self.objects[name] = monitor
        self.rows.append(
            {
                "monitor": name,
                "kind": kind,
                "baseline": baseline,
                "threshold": baseline - self.tolerance,
                "lower": last.lower if last else math.nan,
                "upper": last.upper if last else math.nan,
                "min_upper": last.min_upper if last else math.nan,
                "alarm_day": None if alarm is None else int(alarm) - 1,
                "alarm_date": None if alarm is None else self.day_labels[int(alarm) - 1],
                "days": monitor.day,
            }
        )

    def table(self) -> Any:
        """The ``monitors`` table: one row per monitor."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=_MONITOR_COLUMNS)

    def history_table(self) -> Any:
        """The ``monitor_history`` table: every day of every monitor."""
        import pandas as pd

        return pd.DataFrame(self.history)


def _uniform_keys(ids: list[str]) -> FloatArray:
    """A reproducible uniform(0, 1) number per request id (for thinning)."""
    out = np.empty(len(ids))
    for i, rid in enumerate(ids):
        h = hashlib.blake2b(rid.encode("utf-8"), digest_size=8, person=b"tsmonitor").digest()
        out[i] = (int.from_bytes(h, "big") + 0.5) / 2.0**64
    return out


def _two_phase_stream(
    y: FloatArray, q: FloatArray, keys: FloatArray, traffic: float, known_total: bool
) -> tuple[FloatArray, FloatArray, float, int]:
    """One day's monitor stream: (scores, relative inclusion probabilities, weight bound, length).

    Reviews were drawn with probability π = q·g (g = oversampling score, the target is the
    g-weighted mean). Pick c = the 1/q-weighted median of q; reviews with q > c are thinned at
    random (kept with probability c/q, a fixed hash of the request id), so every kept review
    has inclusion c·min(q, c)/c relative to a virtual first-phase sample of k = c·Ĝ units
    (Ĝ = Σ1/q, the HT estimate of Σg; the day's traffic when g = 1). Within that sample the
    kept reviews form an HT stream with weights c/min(q, c) ≤ the returned bound.
    """
    if len(y) == 0:
        return np.array([]), np.array([]), 1.0, 0
    w = 1.0 / q
    order = np.argsort(q)
    cum = np.cumsum(w[order])
    c = float(q[order][np.searchsorted(cum, cum[-1] / 2.0)])
    keep = (q <= c) | (keys < c / q)
    r = np.minimum(q[keep], c) / c
    total = traffic if known_total and traffic > 0 else float(w.sum())
    k = max(int(round(c * total)), int(keep.sum()))
    return y[keep], r, float(1.0 / r.min()), k


def _tier_baseline(
    baseline: float | Mapping[str, float] | None,
    tier: str,
    scores: FloatArray,
    q: FloatArray,
    days: npt.NDArray[np.int_],
    baseline_days: int,
) -> float:
    """The tier's reference quality: as given, else the q-weighted mean of the baseline window."""
    if isinstance(baseline, Mapping) and tier in baseline:
        return float(baseline[tier])
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return float(baseline)
    in_window = days < baseline_days
    if not in_window.any():
        return math.nan
    w = 1.0 / q[in_window]
    return float(np.sum(w * scores[in_window]) / np.sum(w))


def _follow_tier(
    book: MonitorBook,
    frame: AuditFrame,
    tier: str,
    sub: Any,
    q: FloatArray,
    b0: float,
    target: str,
    settings: MonitorSettings,
    *,
    values: FloatArray | None = None,
    name: str | None = None,
    kind: str = "quality",
    lo: float = 0.0,
    hi: float = 1.0,
) -> None:
    """Feed tier ``tier``'s reviews ``sub`` (relative draw probabilities ``q``) day by day as a
    two-phase stream of ``values`` in [``lo``, ``hi``] (default: the review scores), into the
    monitor ``name`` (default: the tier) of ``kind``."""
    dec = frame.decisions
    traffic = dec[dec["tier"] == tier].groupby("day").size()
    scores = sub["score"].to_numpy(float) if values is None else values
    days = sub["day"].to_numpy(int)
    keys = _uniform_keys(sub["request_id"].astype(str).tolist())
    streams = []
    for d in range(frame.n_days):
        m = days == d
        streams.append(
            _two_phase_stream(scores[m], q[m], keys[m], float(traffic.get(d, 0)), target == "traffic")
        )
    bound = max([1.0, *(st[2] for st in streams)])
    mon = settings.monitor(min(b0, 1.0), lo=lo, hi=hi, max_weight=bound * (1 + 1e-9) if bound > 1.0 else 1.0)
    name = tier if name is None else name
    for d, (y_d, r_d, _, k_d) in enumerate(streams):
        status = mon.update(y_d, pi=r_d, population=k_d) if bound > 1.0 else mon.update(y_d)
        book.record_day(name, d, status, stream_reviews=len(y_d))
    book.add(name, kind, mon, b0)


def quality_monitors(
    book: MonitorBook,
    frame: AuditFrame,
    verdicts: Any,
    baseline: float | Mapping[str, float] | None,
    target: str,
    settings: MonitorSettings,
) -> list[str]:
    """Add one quality monitor per tier to ``book``; return notes on tiers left unmonitored."""
    notes = []
    for t in frame.tiers:
        sub = verdicts[verdicts["tier"] == t]
        g = sub["g"].to_numpy(float) if target == "tail_weighted" else np.ones(len(sub))
        q = sub["pi"].to_numpy(float) / g
        scores = sub["score"].to_numpy(float)
        b0 = _tier_baseline(baseline, t, scores, q, sub["day"].to_numpy(int), frame.baseline_days)
        if not math.isfinite(b0):
            notes.append(f"tier {t!r}: no reviews in the baseline window, no monitor")
            continue
        _follow_tier(book, frame, t, sub, q, b0, target, settings)
    return notes


def _judge_target(target: str, jt: Any, rt: Any) -> tuple[str, FloatArray, FloatArray, str | None]:
    """The judge-assisted monitor's weighting of the tier: (target, judged g, reviews' g, note).
    ``"tail_weighted"`` needs every judged answer's oversampling score (detail ``"oversample"``);
    without it the monitor follows the traffic quality (g = 1 on both samples) and says why."""
    ones_j, ones_r = np.ones(len(jt)), np.ones(len(rt))
    if target != "tail_weighted":
        return "traffic", ones_j, ones_r, None
    g_j, g_r = jt["g"].to_numpy(float), rt["g"].to_numpy(float)
    if np.isnan(g_j).any():
        if np.all(g_r == 1.0):  # reviews not oversampled: traffic and tail-weighted are the same
            return "traffic", ones_j, ones_r, None
        return (
            "traffic",
            ones_j,
            ones_r,
            (
                'judged answers without an oversampling score (judge detail "oversample"): its '
                "judge-assisted monitor follows the traffic quality"
            ),
        )
    return "tail_weighted", g_j, g_r, None


def judge_monitors(
    book: MonitorBook, frame: AuditFrame, samples: tuple[Any, Any], target: str, settings: MonitorSettings
) -> list[str]:
    """One judge-assisted monitor per tier (``"<tier> (judge-assisted)"``, kind ``"judge_assisted"``)
    on the same quantity as the tier's review monitor (``target``; see :func:`_judge_target`).

    With g the oversampling score (1 for ``"traffic"``), each day's stream is the review monitor's
    two-phase Horvitz–Thompson stream (:func:`_two_phase_stream`, relative draw probability
    q = π/g) of z = λ·m_J + (y − λf), where m_J = Σ(g/π_J)f / Σ(g/π_J) is the day's g-weighted
    judged mean: its mean is E_g[y] + λ(m_J − E_g[f]), the g-weighted quality whatever λ, since m_J
    estimates E_g[f] (a day without judged answers uses λ = 0). λ is the tuned PPI++ λ of the
    baseline window under the same weighting, fixed before the monitored days; the baseline is the
    stream's weighted mean over that window; z lies in [−λ, 1 + λ].
    """
    judged, rev = samples
    notes = []
    for t in frame.tiers:
        jt, rt = judged[judged["tier"] == t], rev[rev["tier"] == t]
        in_base_j, in_base_r = jt["day"] < frame.baseline_days, rt["day"] < frame.baseline_days
        if not in_base_r.any() or not in_base_j.any():
            notes.append(
                f"tier {t!r}: no judged answers or reviews in the baseline window, no judge-assisted monitor"
            )
            continue
        tgt, g_j, g_r, note = _judge_target(target, jt, rt)
        if note:
            notes.append(f"tier {t!r}: {note}")
        q_j = jt["pi"].to_numpy(float) / g_j  # weight g/π_J
        q_r = rt["pi"].to_numpy(float) / g_r  # the reviews' relative draw probability
        days_j, days_r = jt["day"].to_numpy(int), rt["day"].to_numpy(int)
        fj = jt["f"].to_numpy(float)
        y, f = rt["score"].to_numpy(float), rt["f"].to_numpy(float)
        bj, br = in_base_j.to_numpy(), in_base_r.to_numpy()
        agg = stats.PpiAggregate()
        agg.add_judged(fj[bj], np.minimum(q_j[bj], 1.0), np.zeros(int(bj.sum()), np.int64))
        agg.add_reviews(y[br], f[br], np.minimum(q_r[br], 1.0), np.zeros(int(br.sum()), np.int64))
        lam = agg.estimates()[0].lam
        lam = min(max(lam, 0.0), 1.0) if math.isfinite(lam) else 0.0
        z = np.empty(len(rt))
        for d in range(frame.n_days):
            mj, mr = days_j == d, days_r == d
            if not mr.any():
                continue
            if mj.any():
                m = float(np.clip(np.sum(fj[mj] / q_j[mj]) / np.sum(1.0 / q_j[mj]), 0.0, 1.0))
                z[mr] = lam * m + (y[mr] - lam * f[mr])
            else:
                z[mr] = y[mr]
        b0 = _tier_baseline(None, t, z, q_r, days_r, frame.baseline_days)
        _follow_tier(book, frame, t, rt, q_r, b0, tgt, settings, values=z, name=f"{t} (judge-assisted)",
                     kind="judge_assisted", lo=-lam, hi=1.0 + lam)  # fmt: skip
    return notes
