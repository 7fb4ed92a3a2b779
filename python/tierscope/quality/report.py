"""An audit's result, :class:`AuditReport`, and its rendering: notebook HTML tables and a self-contained
HTML page with matplotlib figures embedded as base64 PNG (no external files or scripts)."""

from __future__ import annotations

import base64
import html
import io
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import _validate as v
from .. import stats
from .._optional import require

__all__ = ["AuditReport", "make_figures", "render_html", "render_tables_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
.alarm{color:#b00020;font-weight:bold}.ok{color:#1b5e20}pre{background:#f7f7f7;padding:1em}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
"""

_MAIN_TABLES = ("quality", "monitors", "shadow", "feedback", "support", "costs", "orphans")


def _table_html(df: Any, max_rows: int = 400) -> str:
    if df is None or len(df) == 0:
        return "<p><em>none</em></p>"
    shown = df if len(df) <= max_rows else df.head(max_rows)
    out = str(shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0))
    if len(df) > max_rows:
        out += f"<p><em>{len(df) - max_rows} more rows (see report.tables())</em></p>"
    return out


def render_tables_html(report: AuditReport) -> str:
    """The notebook view: summary and main tables."""
    parts = [f"<pre>{html.escape(report.summary())}</pre>"]
    for name in _MAIN_TABLES:
        parts.append(f"<h4>{name}</h4>{_table_html(getattr(report, name))}")
    return "".join(parts)


def png_data_uri(fig: Any) -> str:
    """Render a matplotlib figure as a ``data:image/png;base64,...`` URI and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _quality_figure(report: AuditReport, plt: Any) -> str:
    """Per-tier quality over time with intervals, and the alarm days."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for tier, g in report.quality_daily.groupby("tier", sort=False):
        g = g[g["reviews"] > 0]
        if not len(g):
            continue
        (line,) = ax.plot(g["day"], g["mean"], marker=".", label=str(tier))
        ax.fill_between(g["day"], g["lower"], g["upper"], alpha=0.15, color=line.get_color())
    for r in report.monitors.itertuples(index=False):
        if not _nan(r.alarm_day):
            ax.axvline(float(r.alarm_day), color="#b00020", ls="--", lw=1)
            ax.text(
                float(r.alarm_day),
                ax.get_ylim()[0],
                f" alarm: {r.monitor}",
                color="#b00020",
                rotation=90,
                va="bottom",
                fontsize=7,
            )
    ax.set_xlabel(f"day (0 = {report.days[0]})")
    ax.set_ylabel("acceptable rate (Hájek, 95% interval)")
    ax.set_title("Per-tier quality over time vs the blended number")
    ax.legend(fontsize=8)
    return png_data_uri(fig)


def _alarm_figure(report: AuditReport, plt: Any) -> str:
    """Monitor upper bounds against their thresholds, day by day."""
    mh = report.monitor_history
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for r in report.monitors.itertuples(index=False):
        h = mh[mh["monitor"] == r.monitor]
        # the plotted quantity: margin of the tightest upper bound over the alarm threshold
        (line,) = ax.plot(
            h["day"], h["min_upper"].clip(upper=r.baseline + 0.5) - r.threshold, label=str(r.monitor)
        )
        if not _nan(r.alarm_day):
            ax.plot([r.alarm_day], [0.0], marker="X", ms=10, color=line.get_color())
    ax.axhline(0.0, color="#b00020", lw=1)
    ax.set_xlabel("day")
    ax.set_ylabel("tightest upper bound − threshold")
    ax.set_title("Sequential monitors (alarm when the curve crosses 0)")
    ax.legend(fontsize=8)
    return png_data_uri(fig)


def _drift_figure(report: AuditReport, plt: Any) -> str:
    """Daily PSI of the routing confidence per scope and reference."""
    daily = report.drift[(report.drift["period"] == "day")]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for (scope, ref), g in daily.groupby(["scope", "reference"], sort=False):
        ax.plot(g["index"], g["psi"], marker=".", label=f"{scope} vs {ref}")
    ax.axhline(0.1, color="#999", ls=":", lw=1)
    ax.axhline(0.25, color="#b00020", ls=":", lw=1)
    ax.set_xlabel("day")
    ax.set_ylabel("PSI")
    ax.set_title("Routing-confidence drift (PSI; 0.1 watch, 0.25 act)")
    ax.legend(fontsize=7)
    return png_data_uri(fig)


_COST_COMPONENTS = [
    "inference (routed)",
    "support contacts",
    "total (routed)",
    "inference (all capable)",
    "support contacts (all capable)",
    "total (all capable)",
]


def _cost_figure(report: AuditReport, plt: Any) -> str:
    """Routed against all-capable cost components, with their intervals."""
    c = report.costs
    keep = c[c["component"].isin(_COST_COMPONENTS)]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    est = keep["estimate"].to_numpy(dtype=float)
    lo = keep["lower"].to_numpy(dtype=float)
    hi = keep["upper"].to_numpy(dtype=float)
    err = [
        [max(0.0, v) if math.isfinite(v) else 0.0 for v in est - lo],
        [max(0.0, v) if math.isfinite(v) else 0.0 for v in hi - est],
    ]
    ax.barh(
        list(keep["component"]),
        [v if math.isfinite(v) else 0.0 for v in est],
        xerr=err,
        color=["#1f77b4"] * 3 + ["#ff7f0e"] * 3,
    )
    ax.invert_yaxis()
    ax.set_title("Total cost: routed vs everything on the capable tier")
    return png_data_uri(fig)


def make_figures(report: AuditReport) -> dict[str, str]:
    """The report's figures as ``data:image/png;base64,...`` URIs by title."""
    require("matplotlib", purpose="the audit report's figures (AuditReport.to_html)")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out: dict[str, str] = {"Per-tier quality over time": _quality_figure(report, plt)}
    if len(report.monitor_history):
        out["Alarm timeline"] = _alarm_figure(report, plt)
    if len(report.drift):
        out["Confidence drift"] = _drift_figure(report, plt)
    if len(report.costs):
        out["Cost view"] = _cost_figure(report, plt)
    return out


def _nan(v: Any) -> bool:
    if v is None:
        return True
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def render_html(report: AuditReport, *, figures: bool = True) -> str:
    """A complete, self-contained HTML page for ``report`` (``figures=False`` skips the plots)."""
    show = v.boolean("figures", figures)
    title = f"tierscope audit {report.days[0]} – {report.days[-1]}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<pre>{html.escape(report.summary())}</pre>",
    ]
    alarms = [r for r in report.monitors.itertuples(index=False) if not _nan(r.alarm_day)]
    if alarms:
        items = "".join(
            f'<li class="alarm">{html.escape(str(r.monitor))}: alarm on {html.escape(str(r.alarm_date))}</li>'
            for r in alarms
        )
        parts.append(f"<h2>Alarms</h2><ul>{items}</ul>")
    else:
        parts.append('<h2>Alarms</h2><p class="ok">No monitor has fired.</p>')
    if show:
        for name, uri in make_figures(report).items():
            parts.append(f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" src="{uri}">')
    for name, df in report.tables().items():
        parts.append(f"<h2>{html.escape(name.replace('_', ' '))}</h2>{_table_html(df)}")
    parts.append("</body></html>")
    return "\n".join(parts)


def is_missing(v: Any) -> bool:
    try:
        return v is None or bool(math.isnan(float(v)))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- helpers


@dataclass
class AuditReport:
    """The audit's tables (pandas DataFrames), monitors and metadata.

    Tables: ``quality`` (per tier over the window, plus the blended and all-traffic rows),
    ``quality_daily``, ``quality_weekly``, ``shadow``, ``shadow_daily``, ``feedback``,
    ``support``, ``drift``, ``escalation``, ``monitors`` (one row per monitor: baseline,
    threshold, last bounds, alarm day and date), ``monitor_history`` (every day of every
    monitor), ``costs``, ``orphans``. ``monitor_objects`` holds the :class:`~tierscope.stats.Monitor`
    instances (``to_json`` to persist).
    """

    since: datetime | None
    until: datetime | None
    days: list[str]
    tiers: list[str]
    n_decisions: int
    n_reviews: int
    n_orphans: int
    quality: Any
    quality_daily: Any
    quality_weekly: Any
    shadow: Any
    shadow_daily: Any
    feedback: Any
    support: Any
    drift: Any
    escalation: Any
    monitors: Any
    monitor_history: Any
    costs: Any
    orphans: Any
    monitor_objects: dict[str, stats.Monitor] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, Any]:
        """Every table by name."""
        return {
            name: getattr(self, name)
            for name in (
                "quality",
                "quality_daily",
                "quality_weekly",
                "monitors",
                "shadow",
                "shadow_daily",
                "feedback",
                "support",
                "drift",
                "escalation",
                "costs",
                "orphans",
                "monitor_history",
            )
        }

    def alarms(self) -> dict[str, int | None]:
        """Alarm day index (0 = first day of the window) per monitor, None when it never fired."""
        return {
            str(r.monitor): (None if r.alarm_day is None or is_missing(r.alarm_day) else int(r.alarm_day))
            for r in self.monitors.itertuples(index=False)
        }

    def summary(self) -> str:
        """Per-tier text summary (what ``tierscope audit`` prints)."""
        lines = [
            f"tierscope audit: {self.n_decisions} decisions over {len(self.days)} days "
            f"({self.days[0]} .. {self.days[-1]}), {self.n_reviews} reviews, "
            f"{self.n_orphans} orphan outcomes",
            f"{'tier':34s} {'answers':>8s} {'reviews':>7s} {'quality':>8s} {'95% interval':>17s} "
            f"{'thumbs-down':>11s} {'support':>8s}",
        ]
        fb = self.feedback.set_index("tier") if len(self.feedback) else None
        sp = self.support.set_index("tier") if len(self.support) else None
        for r in self.quality.itertuples(index=False):
            td = sp_rate = ""
            if fb is not None and r.tier in fb.index:
                td = f"{fb.loc[r.tier, 'thumbs_down_per_1000']:.1f}/1k"
            if sp is not None and r.tier in sp.index:
                sp_rate = f"{sp.loc[r.tier, 'contact_rate']:.2%}"
            q = "n/a" if is_missing(r.mean) else f"{r.mean:.3f}"
            ci = "" if is_missing(r.lower) else f"[{r.lower:.3f}, {r.upper:.3f}]"
            lines.append(
                f"{str(r.tier):34s} {int(r.answers):8d} {int(r.reviews):7d} {q:>8s} {ci:>17s} "
                f"{td:>11s} {sp_rate:>8s}"
            )
        for r in self.monitors.itertuples(index=False):
            fired = not is_missing(r.alarm_day)
            state = f"ALARM on {r.alarm_date} (day {int(r.alarm_day)})" if fired else "no alarm"
            lines.append(
                f"monitor {r.monitor}: baseline {r.baseline:.3f}, alarm below {r.threshold:.3f}: {state}"
            )
        if len(self.shadow):
            for r in self.shadow.itertuples(index=False):
                lines.append(
                    f"shadow gap {r.tier} (cheap - capable): {r.gap:+.3f} [{r.lower:+.3f}, {r.upper:+.3f}] "
                    f"on {int(r.n)} shadowed requests"
                )
        if len(self.costs):
            c = self.costs.set_index("component")
            if "total (routed)" in c.index and "total (all capable)" in c.index:
                lines.append(
                    f"total cost: routed {c.loc['total (routed)', 'estimate']:,.2f} "
                    f"[{c.loc['total (routed)', 'lower']:,.2f}, {c.loc['total (routed)', 'upper']:,.2f}] "
                    f"vs all-capable {c.loc['total (all capable)', 'estimate']:,.2f}"
                )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return render_tables_html(self)

    def to_html(self, path: str | os.PathLike[str], *, figures: bool = True) -> Path:
        """Write a self-contained HTML page (figures embedded as base64 PNG).

        ``path`` is checked before anything is rendered: a missing directory raises
        :class:`~tierscope.exceptions.TierscopeFileNotFoundError`, a directory
        :class:`~tierscope.exceptions.InvalidInputError`, both naming ``path``.
        """
        p = v.output_file("path", path)
        page = render_html(self, figures=v.boolean("figures", figures))
        p.write_text(page, encoding="utf-8")
        return p
