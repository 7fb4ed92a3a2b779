"""The audit's figures as matplotlib :class:`~matplotlib.figure.Figure` objects.

Each ``plot_*`` function takes an :class:`~tierscope.quality.report.AuditReport` and either draws on
the axes it is given (``ax=``, to restyle or combine figures) or makes its own figure; it returns
the figure either way. :meth:`AuditReport.figures` collects them and the HTML report embeds the
same figures as PNG.

* :func:`plot_quality`: per-tier quality day by day (Hájek mean, its interval band) beside the
  blended number.
* :func:`plot_alarms`: the statistic each monitor actually alarms on: the e-detector's
  log-evidence against its threshold ln ``arl`` (the default), or, for confidence sequences,
  the tightest upper bound minus the alarm line.
* :func:`plot_drift`: daily PSI of the routing confidence, one panel per reference.
* :func:`plot_costs`: routed against all-capable total cost, inference and support stacked.
* :func:`plot_frontier`: the cost–quality frontier: each tier, the routed mix and "everything on
  the capable tier".

The x axis shows dates when the log's days are dates. A figure with nothing to show (no costs
logged, no reference for drift, no monitor) is not drawn: :func:`why_empty` gives the sentence
the report prints instead, and a ``plot_*`` call writes that sentence on the axes. At most
:data:`MAX_SERIES` series share a panel; more are split over panels stacked vertically.
Legends sit outside the data, on the right.

matplotlib is imported on the first call only (``import tierscope`` does not load it); the
``Agg`` backend is chosen only when no backend has been chosen (no ``MPLBACKEND``, no pyplot
yet), so a notebook keeps its inline backend. Figures made here are closed in pyplot at once
(they stay usable: display, ``savefig``, restyle), so they do not pile up in pyplot's registry.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._optional import require

# An :class:`~tierscope.quality.report.AuditReport` (not imported: report.py imports this module).
AuditReport = Any

__all__ = [
    "FIGURES",
    "MAX_SERIES",
    "plot_alarms",
    "plot_costs",
    "plot_drift",
    "plot_frontier",
    "plot_quality",
    "why_empty",
]

MAX_SERIES = 5
"""At most this many data series share one panel."""

_ALARM_COLOR = "#b00020"
_WIDTH = 9.0  # inches: readable at notebook width (about 860 px at 96 dpi)


# ----------------------------------------------------------------------------- matplotlib set-up


def _pyplot() -> Any:
    """``matplotlib.pyplot``, with the Agg backend only when nothing chose a backend yet."""
    matplotlib = require("matplotlib", purpose="tierscope's figures (plot_*, AuditReport.figures/to_html)")

    if (
        "matplotlib.pyplot" not in sys.modules
        and not os.environ.get("MPLBACKEND")
        and getattr(matplotlib.rcParams, "_get_backend_or_none", lambda: None)() is None
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _new_axes(panels: int, height: float = 3.2, width: float = _WIDTH) -> list[Any]:
    """``panels`` axes stacked vertically on a new figure (closed in pyplot: see the module doc)."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        max(panels, 1), 1, figsize=(width, height * max(panels, 1)), layout="constrained", squeeze=False
    )
    plt.close(fig)
    return list(axes[:, 0])


def _axes(ax: Any, panels: int, height: float = 3.2, width: float = _WIDTH) -> list[Any]:
    """The axes to draw on: ``ax`` (all series on it) or new stacked panels."""
    if ax is None:
        return _new_axes(panels, height, width)
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        from .. import _validate as v

        raise v.fail("ax", "a matplotlib Axes or None", ax)
    return [ax]


def _chunks(items: Sequence[Any], size: int, panels: int) -> list[list[Any]]:
    """``items`` in groups of ``size`` (one group when ``panels`` is 1)."""
    if panels == 1:
        return [list(items)]
    return [list(items[i : i + size]) for i in range(0, len(items), size)] or [[]]


def _legend(ax: Any, **kw: Any) -> None:
    """A legend outside the data, right of the axes."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, **kw)


def _message(ax: Any, text: str) -> Any:
    """An empty panel that says why it is empty."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, transform=ax.transAxes)
    return ax.figure


# ----------------------------------------------------------------------------- the x axis


def _dates(report: AuditReport) -> Any:
    """The window's days as datetimes, or None when the day labels are not dates."""
    import pandas as pd

    try:
        out = pd.to_datetime(pd.Series(report.days), format="%Y-%m-%d")
    except (TypeError, ValueError):
        return None
    return None if out.isna().any() else out.to_numpy()


def _x(report: AuditReport, day: Any) -> Any:
    """Day indices (0 = the window's first day) as x values: dates when the log has them."""
    idx = np.asarray(day, dtype=np.int64)
    dates = _dates(report)
    return idx if dates is None else dates[idx]


def _date_axis(ax: Any, report: AuditReport) -> None:
    """Dates on the x axis (concise labels) when the log has them, else labelled day indices."""
    if _dates(report) is None:
        ax.set_xlabel(f"day of the window (0 = {report.days[0]})")
        return
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # untyped in matplotlib's stubs
    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("date (UTC)")


def _alarm_lines(ax: Any, report: AuditReport, monitors: Sequence[str] | None = None) -> None:
    """A labelled vertical line on each alarm day (of ``monitors``, default all)."""
    for r in report.monitors.itertuples(index=False):
        if _missing(r.alarm_day) or (monitors is not None and r.monitor not in monitors):
            continue
        ax.axvline(
            _x(report, [int(r.alarm_day)])[0],
            color=_ALARM_COLOR,
            ls="--",
            lw=1,
            label=f"alarm: {r.monitor} ({r.alarm_date})",
        )


def _missing(v: Any) -> bool:
    try:
        return v is None or math.isnan(float(v))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- why a figure is empty


def _costs_logged(report: AuditReport) -> bool:
    c = report.costs
    if c is None or not len(c):
        return False
    est = c["estimate"].to_numpy(dtype=float)
    return bool(np.any(np.isfinite(est) & (est != 0.0)))


def why_empty(report: AuditReport, name: str) -> str | None:
    """Why figure ``name`` (a key of :data:`FIGURES`) has nothing to show, or None when it has."""
    if name == "quality":
        q = report.quality_daily
        if q is None or not len(q) or not (q["reviews"] > 0).any():
            return "No per-tier quality over time: the window has no scored reviews."
        return None
    if name == "alarms":
        if report.monitor_history is None or not len(report.monitor_history):
            return "No alarm timeline: no monitor ran (no tier had reviews in the baseline window)."
        return None
    if name == "drift":
        d = report.drift
        if d is None or not len(d) or not (d["period"] == "day").any():
            return (
                "No confidence drift: the log has no routing confidence, or the audit had no training "
                "reference (pass `reference=`) and no baseline window to compare with."
            )
        return None
    if name in ("costs", "frontier"):
        if not _costs_logged(report):
            return (
                f"No {'cost view' if name == 'costs' else 'cost–quality frontier'}: no costs were logged "
                "(no `cost` on the decisions, no `prices=`, and `cost_per_contact` is 0)."
            )
        if name == "frontier" and not len(_frontier_points(report)):
            return "No cost–quality frontier: no tier has both a cost and a quality estimate."
        return None
    raise KeyError(name)


# ----------------------------------------------------------------------------- quality


def plot_quality(report: AuditReport, ax: Any = None) -> Any:
    """Per-tier quality day by day: the Hájek mean with its interval band, the blended number
    (all reviews, unweighted) dashed, and the alarm days. Returns the figure."""
    from .audit.quality import ALL_TRAFFIC, BLENDED

    why = why_empty(report, "quality")
    q = report.quality_daily
    tiers = [t for t in dict.fromkeys(q["tier"]) if t not in (BLENDED, ALL_TRAFFIC)] if why is None else []
    has_blend = why is None and (q["tier"] == BLENDED).any()
    per_panel = MAX_SERIES - 1 - int(has_blend)  # room for the blended line and an alarm line
    n_panels = 1 if ax is not None else max(1, math.ceil(len(tiers) / per_panel))
    axes = _axes(ax, n_panels)
    if why is not None:
        return _message(axes[0], why)
    for a, group in zip(axes, _chunks(tiers, per_panel, n_panels), strict=False):
        for tier in group:
            g = q[(q["tier"] == tier) & (q["reviews"] > 0)]
            x = _x(report, g["day"])
            (line,) = a.plot(x, g["mean"], marker=".", lw=1.4, label=f"{tier} (Hájek, 95% band)")
            a.fill_between(x, g["lower"], g["upper"], alpha=0.15, color=line.get_color(), lw=0)
        if has_blend:
            g = q[(q["tier"] == BLENDED) & (q["reviews"] > 0)]
            a.plot(
                _x(report, g["day"]), g["mean"], color="0.35", ls="--", lw=1.2, label="blended (unweighted)"
            )
        _alarm_lines(a, report, group)
        a.set_ylabel("acceptable rate")
        _date_axis(a, report)
        _legend(a, title="tier")
    axes[0].set_title("Per-tier quality over time against the blended number")
    return axes[0].figure


# ----------------------------------------------------------------------------- alarms


def _monitor_curve(report: AuditReport, h: Any, row: Any) -> tuple[Any, float]:
    """(the plotted statistic, its alarm line) of one monitor's history ``h``."""
    if report.settings.get("monitor_method", "e_detector") == "e_detector":
        ev = h["log_evidence"].to_numpy(dtype=float)
        return ev, math.log(float(report.settings.get("arl", 1000.0)))
    return h["min_upper"].to_numpy(dtype=float) - float(row.threshold), 0.0


def plot_alarms(report: AuditReport, ax: Any = None) -> Any:
    """Each monitor's alarm statistic day by day against its labelled alarm line.

    The e-detector (the audit's default ``monitor_method``): ln of its statistic, alarm at
    ln ``arl``. Confidence sequences: the tightest upper bound minus ``baseline − tolerance``,
    alarm below 0. An ``X`` marks each alarm. Returns the figure.
    """
    why = why_empty(report, "alarms")
    rows = [] if why is not None else list(report.monitors.itertuples(index=False))
    n_panels = 1 if ax is not None else max(1, math.ceil(len(rows) / MAX_SERIES))
    axes = _axes(ax, n_panels, height=3.0)
    if why is not None:
        return _message(axes[0], why)
    e_detector = report.settings.get("monitor_method", "e_detector") == "e_detector"
    mh = report.monitor_history
    line_at = 0.0
    for a, group in zip(axes, _chunks(rows, MAX_SERIES, n_panels), strict=False):
        for r in group:
            h = mh[mh["monitor"] == r.monitor]
            y, line_at = _monitor_curve(report, h, r)
            if not e_detector:
                y = np.clip(y, None, 0.5)  # a bound far above the line says nothing more
            (line,) = a.plot(_x(report, h["day"]), y, lw=1.4, label=str(r.monitor))
            if not _missing(r.alarm_day):
                d = int(r.alarm_day)
                at = h["day"].to_numpy(int) == d
                a.plot(_x(report, [d]), y[at][:1], marker="X", ms=9, color=line.get_color(), ls="none")
        if e_detector:
            arl = float(report.settings.get("arl", 1000.0))
            label = f"alarm threshold: ln ARL = ln {arl:,.0f} = {line_at:.2f}"
            a.set_ylabel("e-detector log-evidence ln M")
        else:
            label = "alarm: upper bound below baseline − tolerance"
            a.set_ylabel("tightest upper bound −\n(baseline − tolerance)")
        a.axhline(line_at, color=_ALARM_COLOR, ls="--", lw=1, label=label)
        _date_axis(a, report)
        _legend(a, title="monitor (X: alarm)")
    title = (
        "Sequential monitors: e-detector log-evidence"
        if e_detector
        else "Sequential monitors: confidence-sequence bounds"
    )
    axes[0].set_title(title)
    return axes[0].figure


# ----------------------------------------------------------------------------- drift


def plot_drift(report: AuditReport, ax: Any = None) -> Any:
    """Daily PSI of the routing confidence per scope (all traffic, each tier), one panel per
    reference (the router's training histogram, the tier's own baseline window), with the 0.1
    (watch) and 0.25 (act) lines. With ``ax``, the training reference only when there is one.
    Returns the figure."""
    why = why_empty(report, "drift")
    daily = report.drift[report.drift["period"] == "day"] if why is None else None
    refs = [] if daily is None else list(dict.fromkeys(daily["reference"]))
    if ax is not None and refs:
        refs = refs[:1]
    panels = [
        (ref, scopes[i : i + MAX_SERIES - 2])
        for ref in refs
        for scopes in [list(dict.fromkeys(daily[daily["reference"] == ref]["scope"]))]  # type: ignore[index]
        for i in range(0, len(scopes), MAX_SERIES - 2)
    ]
    if ax is not None:
        panels = panels[:1]
    axes = _axes(ax, max(1, len(panels)), height=2.8)
    if why is not None or daily is None:
        return _message(axes[0], str(why))
    for a, (ref, scopes) in zip(axes, panels, strict=True):
        for scope in scopes:
            g = daily[(daily["reference"] == ref) & (daily["scope"] == scope)]
            a.plot(_x(report, g["index"]), g["psi"], marker=".", lw=1.2, label=str(scope))
        a.axhline(0.1, color="0.5", ls=":", lw=1, label="0.1: watch")
        a.axhline(0.25, color=_ALARM_COLOR, ls=":", lw=1, label="0.25: act")
        a.set_ylabel(f"PSI vs {ref}")
        _date_axis(a, report)
        _legend(a, title="scope")
    axes[0].set_title("Routing-confidence drift (population stability index, daily)")
    return axes[0].figure


# ----------------------------------------------------------------------------- costs


def _cost(report: AuditReport, component: str) -> tuple[float, float, float]:
    c = report.costs.set_index("component")
    if component not in c.index:
        return math.nan, math.nan, math.nan
    return tuple(float(c.loc[component, k]) for k in ("estimate", "lower", "upper"))  # type: ignore[return-value]


def plot_costs(report: AuditReport, ax: Any = None) -> Any:
    """Total cost over the window, routed against everything on the capable tier: inference and
    support contacts stacked, the total's interval as an error bar. Returns the figure."""
    axes = _axes(ax, 1, height=2.6)
    a = axes[0]
    why = why_empty(report, "costs")
    if why is not None:
        return _message(a, why)
    rows = [("routed", "inference (routed)", "support contacts", "total (routed)")]
    rows.append(
        ("all capable", "inference (all capable)", "support contacts (all capable)", "total (all capable)")
    )
    labels = [r[0] for r in rows]
    inf = np.array([_cost(report, r[1])[0] for r in rows])
    sup = np.array([_cost(report, r[2])[0] for r in rows])
    tot = [_cost(report, r[3]) for r in rows]
    inf0, sup0 = np.nan_to_num(inf), np.nan_to_num(sup)
    a.barh(labels, inf0, color="#1f77b4", label="inference")
    if np.any(sup0 != 0):  # no contact cost (cost_per_contact 0): no empty legend entry
        a.barh(labels, sup0, left=inf0, color="#ff7f0e", label="support contacts")
    err = np.nan_to_num(np.array([[max(0.0, t[0] - t[1]), max(0.0, t[2] - t[0])] for t in tot]).T)
    if np.any(err > 0):
        a.errorbar(
            inf0 + sup0, labels, xerr=err, fmt="none", ecolor="k", capsize=4, label="total: 95% interval"
        )
    for y, t in enumerate(tot):
        if math.isfinite(t[0]):
            end = max(t[0], t[2]) if math.isfinite(t[2]) else t[0]
            a.annotate(
                f"{t[0]:,.2f}", (end, y), xytext=(5, 0), textcoords="offset points", va="center", fontsize=8
            )
    a.invert_yaxis()
    a.set_xlabel("total cost over the window")
    a.set_title("Total cost: routed against everything on the capable tier")
    a.margins(x=0.15)
    _legend(a)
    return a.figure


def _frontier_points(report: AuditReport) -> list[dict[str, Any]]:
    """(label, cost per answer, quality, lower, upper) of each tier, the routed mix and all-capable."""
    from .audit.quality import ALL_TRAFFIC

    q = report.quality.set_index("tier")
    n = float(report.n_decisions)
    answers = q["answers"] if "answers" in q else None
    out = []
    for t in report.tiers:
        cost = _cost(report, f"inference {t}")[0]
        count = float(answers.get(t, 0)) if answers is not None else 0.0
        if t in q.index and count > 0 and math.isfinite(cost) and not _missing(q.loc[t, "mean"]):
            row = q.loc[t]
            out.append({"label": f"tier {t}", "cost": cost / count, "q": row["mean"],
                        "lo": row["lower"], "hi": row["upper"], "kind": "tier"})  # fmt: skip
    routed = _cost(report, "inference (routed)")[0]
    if (
        ALL_TRAFFIC in q.index
        and n > 0
        and math.isfinite(routed)
        and not _missing(q.loc[ALL_TRAFFIC, "mean"])
    ):
        row = q.loc[ALL_TRAFFIC]
        out.append({"label": "routed mix (all traffic)", "cost": routed / n, "q": row["mean"],
                    "lo": row["lower"], "hi": row["upper"], "kind": "routed"})  # fmt: skip
    cap = _cost(report, "inference (all capable)")[0]
    tier = next((p for p in out if p["label"] == f"tier {_capable(report)}"), None)
    if tier is not None and n > 0 and math.isfinite(cap):
        # the capable tier's own point would sit on (or next to) this one: one point, one label
        out.remove(tier)
        label = f"all on tier {_capable(report)} (its measured quality)"
        out.append({**tier, "label": label, "cost": cap / n, "kind": "capable"})
    return out


def _capable(report: AuditReport) -> str:
    """The capable tier's name (the last, most expensive tier unless one is named "capable")."""
    return "capable" if "capable" in report.tiers else str(report.tiers[-1])


def plot_frontier(report: AuditReport, ax: Any = None) -> Any:
    """The cost–quality frontier: inference cost per answer against quality (95% intervals) for
    each tier on the traffic it answered, the routed mix, and everything on the capable tier
    (at the capable tier's measured quality: the best available counterfactual). Points no other
    point beats on both axes are joined. Returns the figure."""
    axes = _axes(ax, 1, height=4.0, width=7.5)
    a = axes[0]
    why = why_empty(report, "frontier")
    if why is not None:
        return _message(a, why)
    pts = _frontier_points(report)
    markers = {"tier": "o", "routed": "*", "capable": "D"}
    for p in pts[: MAX_SERIES - 1]:
        err = [[max(0.0, p["q"] - p["lo"])], [max(0.0, p["hi"] - p["q"])]]
        size = 11 if p["kind"] == "routed" else 7
        a.errorbar(
            [p["cost"]], [p["q"]], yerr=err, fmt=markers[p["kind"]], ms=size, capsize=3, label=p["label"]
        )
    front = sorted(
        (p for p in pts if not any(o["cost"] <= p["cost"] and o["q"] > p["q"] for o in pts if o is not p)),
        key=lambda p: p["cost"],
    )
    if len(front) > 1:
        a.plot([p["cost"] for p in front], [p["q"] for p in front], color="0.5", lw=1, ls="-", zorder=0,
               label="frontier (not beaten on both)")  # fmt: skip
    a.set_xlabel("inference cost per answer")
    a.set_ylabel("acceptable rate (Hájek, 95%)")
    a.set_title("Cost–quality frontier")
    a.margins(0.15)
    _legend(a)
    return a.figure


FIGURES: dict[str, tuple[str, Callable[..., Any]]] = {
    "quality": ("Per-tier quality over time", plot_quality),
    "alarms": ("Alarm timeline", plot_alarms),
    "drift": ("Confidence drift", plot_drift),
    "costs": ("Cost view", plot_costs),
    "frontier": ("Cost–quality frontier", plot_frontier),
}
"""Every figure of the report: key -> (title, plot function)."""
