"""An audit's result, :class:`AuditReport`, and its rendering: notebook HTML tables and a self-contained
HTML page with matplotlib figures embedded as base64 PNG (no external files or scripts)."""

from __future__ import annotations

import base64
import html
import io
import math
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import _validate as v
from .. import stats

__all__ = [
    "AuditReport",
    "Table",
    "Tables",
    "figures",
    "make_figures",
    "omitted_figures",
    "render_html",
    "render_tables_html",
    "section_text",
]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
.alarm{color:#b00020;font-weight:bold}.ok{color:#1b5e20}pre{background:#f7f7f7;padding:1em}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.omitted{color:#555;font-style:italic}
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
    if "matplotlib.pyplot" in sys.modules:  # a pyplot figure: free it (the figures of plots are closed)
        sys.modules["matplotlib.pyplot"].close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figures(report: AuditReport) -> dict[str, Any]:
    """The report's figures (matplotlib ``Figure``) by key (:data:`~tierscope.quality.plots.FIGURES`);
    figures with nothing to show are left out (:func:`omitted_figures` says why)."""
    from . import plots

    return {key: fn(report) for key, (_, fn) in plots.FIGURES.items() if plots.why_empty(report, key) is None}


def omitted_figures(report: AuditReport) -> dict[str, str]:
    """Figure key -> the sentence saying why it is not drawn (no costs logged, no monitor, ...)."""
    from . import plots

    out = {key: plots.why_empty(report, key) for key in plots.FIGURES}
    return {k: why for k, why in out.items() if why is not None}


def make_figures(report: AuditReport) -> dict[str, str]:
    """The report's figures as ``data:image/png;base64,...`` URIs by title (what the HTML embeds)."""
    from . import plots

    return {plots.FIGURES[key][0]: png_data_uri(fig) for key, fig in figures(report).items()}


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
        from .plots import FIGURES

        for name, uri in make_figures(report).items():
            parts.append(f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" src="{uri}">')
        for key, why in omitted_figures(report).items():
            parts.append(f'<h2>{html.escape(FIGURES[key][0])}</h2><p class="omitted">{html.escape(why)}</p>')
    for name, table in report.tables().items():
        parts.append(f"<h2>{html.escape(name.replace('_', ' '))}</h2>{_table_html(table.to_pandas())}")
    parts.append("</body></html>")
    return "\n".join(parts)


def is_missing(v: Any) -> bool:
    try:
        return v is None or bool(math.isnan(float(v)))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- tables


class Table:
    """One named audit table: an HTML table in Jupyter, ``to_pandas()`` / ``to_polars()`` for work.

    ``len(table)``, ``table.columns`` and ``table.shape`` are the frame's; the frame itself is
    ``to_pandas()`` (the report's own object, not a copy).
    """

    def __init__(self, name: str, frame: Any) -> None:
        self.name = name
        self._frame = frame

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame."""
        return self._frame

    def to_polars(self) -> Any:
        """The table as a polars DataFrame (needs polars: ``pip install polars``)."""
        try:
            import polars as pl
        except ImportError as err:
            raise ImportError("Table.to_polars() needs polars: pip install polars") from err
        frame = self._frame
        # pandas object columns holding None/ints (alarm days) convert as nullable values
        return pl.from_pandas(frame.infer_objects() if len(frame.columns) else frame)

    @property
    def columns(self) -> list[str]:
        """The column names."""
        return [str(c) for c in self._frame.columns]

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return int(self._frame.shape[0]), int(self._frame.shape[1])

    def __len__(self) -> int:
        return len(self._frame)

    def __repr__(self) -> str:
        return f"{self.name} ({len(self)} rows)\n{self._frame!r}"

    def _repr_html_(self) -> str:
        rows = f"{len(self)} row{'s' if len(self) != 1 else ''}"
        return f"<h4>{html.escape(self.name)} <small>({rows})</small></h4>{_table_html(self._frame)}"


class Tables(Mapping[str, Table]):
    """The audit's tables by name (a read-only mapping of :class:`Table`): every table rendered in
    Jupyter; ``to_pandas()`` / ``to_polars()`` give plain dicts of DataFrames."""

    def __init__(self, tables: Mapping[str, Table]) -> None:
        self._tables = dict(tables)

    def __getitem__(self, name: str) -> Table:
        return self._tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def to_pandas(self) -> dict[str, Any]:
        """name -> pandas DataFrame."""
        return {k: t.to_pandas() for k, t in self._tables.items()}

    def to_polars(self) -> dict[str, Any]:
        """name -> polars DataFrame."""
        return {k: t.to_polars() for k, t in self._tables.items()}

    def __repr__(self) -> str:
        return "Tables(" + ", ".join(f"{k}: {len(t)} rows" for k, t in self._tables.items()) + ")"

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self._tables.values())


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
    judge_assisted: Any = None
    """Per tier, the judge-assisted (PPI++) estimate next to the human-only one; None when the
    log has no judge events."""
    mix: Any = None
    """Per tier and day: the traffic-mix drift over the router's regions against the baseline
    window (:func:`tierscope.quality.audit.drift.mix_drift_table`); None in reports built by hand."""

    def tables(self) -> Tables:
        """Every table by name: a :class:`Tables` mapping of :class:`Table` (HTML in a notebook,
        ``to_pandas()`` / ``to_polars()`` on each)."""
        return Tables(
            {
                name: Table(name, getattr(self, name))
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
                    *(["judge_assisted"] if self.judge_assisted is not None else []),
                    *(("mix",) if self.mix is not None else ()),
                )
            }
        )

    def figures(self) -> dict[str, Any]:
        """The figures as matplotlib ``Figure`` objects by key (``quality``, ``alarms``, ``drift``,
        ``costs``, ``frontier``), each made by the :mod:`tierscope.quality.plots` function of the
        same name (call those with ``ax=`` to draw on your own axes). Figures with nothing to show
        are left out; :meth:`omitted_figures` says why. The HTML report embeds these figures."""
        return figures(self)

    def omitted_figures(self) -> dict[str, str]:
        """Figure key -> why it is not drawn (e.g. no costs were logged)."""
        return omitted_figures(self)

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
        if self.judge_assisted is not None:
            for r in self.judge_assisted.itertuples(index=False):
                if int(r.judged) == 0 or is_missing(r.estimate):
                    # A tier the judge does not sample (the demo judges cheap answers only).
                    lines.append(
                        f"judge-assisted {r.tier}: no judged answers ({int(r.reviews)} reviews; human only "
                        f"{r.human_mean:.3f} [{r.human_lower:.3f}, {r.human_upper:.3f}])"
                    )
                    continue
                lines.append(
                    f"judge-assisted {r.tier}: {r.estimate:.3f} [{r.lower:.3f}, {r.upper:.3f}] "
                    f"(lambda {r.lam:.2f}, {int(r.judged)} judged, {int(r.reviews)} reviews; human only "
                    f"{r.human_mean:.3f} [{r.human_lower:.3f}, {r.human_upper:.3f}])"
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
        lines.extend(self._mix_lines())
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def mix_alarms(self) -> dict[str, int | None]:
        """Per tier: the day (0 = first day of the window) its traffic-mix drift alarm fired, None
        when it never did (empty without region data)."""
        if self.mix is None or not len(self.mix):
            return {}
        out: dict[str, int | None] = {}
        for tier, rows in self.mix.groupby("tier", sort=False):
            fired = rows[rows["alarm"].astype(bool)]
            out[str(tier)] = int(fired["day"].iloc[0]) if len(fired) else None
        return out

    def _mix_lines(self) -> list[str]:
        """One line per tier: the mix alarm and the regions that moved most on its day (or the last)."""
        lines = []
        for tier, day in self.mix_alarms().items():
            rows = self.mix[self.mix["tier"] == tier]
            row = rows[rows["day"] == day].iloc[0] if day is not None else rows.iloc[-1]
            state = f"ALARM on {row['date']} (day {day})" if day is not None else "no alarm"
            lines.append(
                f"traffic mix {tier} (regions vs baseline window): {state}; moved most: {row['moved']}"
            )
        return lines

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


# ----------------------------------------------------------------------------- a report's section


def _all_row(df: Any, column: str) -> Any:
    """The ``all`` row's ``column`` of a feedback/support table (None when absent)."""
    if df is None or not len(df) or "all" not in set(df["tier"]):
        return None
    return df.set_index("tier").loc["all", column]


def _day(day: int | None) -> str:
    return "never" if day is None else f"day {day}"


def section_text(
    report: AuditReport,
    *,
    counted_alarms: Mapping[str, int | None] | None = None,
    counted_note: str = "",
    extra_lines: Iterator[str] | list[str] | tuple[str, ...] = (),
) -> str:
    """The text of one audit's section in a larger report (e.g. the demo's per-arm sections):
    :meth:`AuditReport.summary`, the support-contact and thumbs-down rates over every answer
    (the ``all`` rows of ``support``/``feedback``; from the census when the audit had one), then
    each counted monitor's first alarm and the first of them (``counted_alarms``: monitor ->
    day index, None = never; default: :meth:`AuditReport.alarms`; ``counted_note`` says where they
    come from), then ``extra_lines`` (e.g. monitors the audit did not run itself)."""
    lines = [report.summary()]
    n = _all_row(report.support, "answers")
    if n is not None:
        src = "census" if report.settings.get("census") else "log"
        con, down = int(_all_row(report.support, "contacts")), int(_all_row(report.feedback, "thumbs_down"))
        # Rates from the integer counts (not the Wilson estimate) so they round as count/answers does.
        per = 1.0 / max(int(n), 1)
        lines.append(
            f"every answer ({int(n):,}, {src}): support contacts {con:,} ({100 * con * per:.2f}%); "
            f"thumbs-down {down:,} ({1000 * down / max(int(n), 1):.1f}/1,000)"
        )
    counted = dict(report.alarms() if counted_alarms is None else counted_alarms)
    note = f" ({counted_note})" if counted_note else ""
    for name, day in counted.items():
        lines.append(f"counted monitor {name}: first alarm {_day(day)}{note}")
    fired = [(day, name) for name, day in counted.items() if day is not None]
    first = min(fired) if fired else None
    lines.append(f"first counted alarm: {_day(first[0]) + ' by ' + first[1] if first else 'never'}{note}")
    lines.extend(extra_lines)
    return "\n".join(lines)
