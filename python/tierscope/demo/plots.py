"""The demo's figures (per-tier quality, alarm timeline, support contacts, drift, cost-quality
frontier) as matplotlib ``Figure`` objects, and the self-contained HTML report that embeds them.

Same conventions as :mod:`tierscope.quality.plots`: legends outside the data, every reference
line labelled, at most about five data series per panel, a y-axis label on every panel."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arms import ArmRun
from .config import ARL, CONTACT_TOLERANCE, PSI_WARN, SUPPORT_LAG_DAYS, TOLERANCE, IntArray
from .run import DemoResult
from .summarize import DISCLAIMER, arm_rows

__all__ = ["figure_uris", "figures", "render_html"]

_TIER_COLORS = (("cheap", "tab:red"), ("capable", "tab:blue"))


def _subplots(rows: int, cols: int, figsize: tuple[float, float], **kw: Any) -> tuple[Any, Any]:
    """A new figure (closed in pyplot at once, see :mod:`tierscope.quality.plots`) and its axes."""
    from ..quality.plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=figsize, layout="constrained", squeeze=False, **kw)
    plt.close(fig)
    return fig, axes


def _legend(ax: Any) -> None:
    from ..quality.plots import _legend as outside

    outside(ax)


def _mark_onset(ax: Any, onset: int) -> None:
    ax.axvline(onset, color="k", ls=":", lw=1, label=f"mix shift starts (day {onset})")


# ----------------------------------------------------------------------------- 1. per-tier quality


def _plot_arm_quality(ax: Any, arm: ArmRun, res: DemoResult) -> None:
    """One arm's weekly per-tier estimates (95%) against the daily truth, with its first alarm."""
    days = np.arange(res.config.days)
    qd = arm.detail["audit"].quality_weekly
    for tier, color in _TIER_COLORS:
        sub = qd[qd["tier"] == tier]
        x = sub["week"].to_numpy(float) * 7 + (2.7 if tier == "cheap" else 3.3)  # side by side
        ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["lower"], sub["upper"] - sub["mean"]],
                    fmt="o", color=color, capsize=3, label=f"{tier}: weekly estimate (95%)")  # fmt: skip
        n: IntArray = arm.cheap_n if tier == "cheap" else arm.capable_n
        g: IntArray = arm.cheap_good if tier == "cheap" else arm.capable_good
        ax.plot(days, g / np.maximum(n, 1), color=color, alpha=0.4, lw=1, label=f"{tier}: truth (daily)")
    _mark_onset(ax, res.config.onset)
    material = res.truth["quality_material_day"]
    if material is not None:
        label = f"cheap drop material (truth, day {material})"
        ax.axvline(material, color="tab:red", ls="--", lw=1, label=label)
    if arm.alarm_day is not None:
        ax.axvline(arm.alarm_day, color="tab:orange", lw=2, label=f"first alarm (day {arm.alarm_day})")
    ax.set_title(arm.label, fontsize=10)
    ax.set_ylabel("share of acceptable answers")
    _legend(ax)


def _quality_figure(res: DemoResult) -> Any:
    """Per-tier quality with intervals (arms (b) and (c)'s audits) vs the simulation truth."""
    fig, axes = _subplots(2, 1, (10, 7), sharex=True, sharey=True)
    for ax, arm in zip(axes[:, 0], res.arms[1:], strict=True):
        _plot_arm_quality(ax, arm, res)
    axes[-1, 0].set_xlabel("day")
    return fig


# ----------------------------------------------------------------------------- 2. alarm timeline


def _plot_blended_number(ax: Any, res: DemoResult) -> None:
    """Arm (a)'s daily blended number with its interval and the dashboard rule."""
    days = np.arange(res.config.days)
    bl = res.arms[0].detail
    est = np.array([i.estimate for i in bl["daily"]])
    lo = np.array([i.lower for i in bl["daily"]])
    hi = np.array([i.upper for i in bl["daily"]])
    ax.fill_between(days, lo, hi, alpha=0.2, color="tab:gray")
    ax.plot(days, est, color="k", lw=1, label="blended daily number\n(200 random reviews, 95%)")
    ax.axhline(
        bl["baseline"] - TOLERANCE,
        color="tab:red",
        ls="--",
        lw=1,
        label=f"dashboard rule: interval\nbelow baseline − {TOLERANCE}",
    )
    ax.axhline(bl["baseline"], color="tab:gray", ls=":", lw=1, label="launch baseline")
    _mark_onset(ax, res.config.onset)
    ax.set_title("(a) what the playbook team saw", fontsize=10)
    ax.set_ylabel("blended share acceptable")
    _legend(ax)


def _plot_arm_evidence(ax: Any, arm: ArmRun, res: DemoResult) -> None:
    """One tierscope arm's e-detector evidence: per-tier reviews and per-tier support contacts
    (four series) against the alarm line ln ARL, with the arm's first alarm."""
    line_at = math.log(ARL)
    hist = arm.detail["audit"].monitor_history
    colors = dict(_TIER_COLORS)
    for name in ("cheap", "capable"):
        h = hist[hist["monitor"] == name]
        if len(h):
            ev = np.clip(h["log_evidence"].to_numpy(float), -1.0, 2 * line_at)
            ax.plot(h["day"], ev, color=colors[name], lw=1.4, label=f"{name} tier: reviews")
    cm = arm.detail["contacts"]
    for tier in ("cheap", "capable"):
        hc = cm.history[tier]
        if hc:
            ev = np.clip(np.array([x[3] for x in hc]), -1.0, 2 * line_at)
            ax.plot(
                [x[0] for x in hc],
                ev,
                color=colors[tier],
                ls="--",
                lw=1.2,
                label=f"{tier} tier: support contacts",
            )
    ax.axhline(
        line_at,
        color="tab:purple",
        ls="-.",
        lw=1.2,
        label=f"alarm threshold ln ARL\n= ln {ARL:,.0f} = {line_at:.2f}",
    )
    _mark_onset(ax, res.config.onset)
    if arm.alarm_day is not None:
        ax.axvline(arm.alarm_day, color="tab:orange", lw=2, label=f"first alarm (day {arm.alarm_day})")
    ax.set_ylabel("e-detector evidence\nln M (clipped)")
    ax.set_title(f"{arm.label}: per-tier e-detectors", fontsize=10)
    _legend(ax)


def _alarms_figure(res: DemoResult) -> Any:
    """Alarm timeline: the blended daily number (a) above the per-tier monitors' evidence of (b)
    and (c), one panel each (responses to an alarm change the later curves)."""
    fig, axes = _subplots(3, 1, (10, 9), sharex=True)
    _plot_blended_number(axes[0, 0], res)
    for ax, arm in zip(axes[1:, 0], res.arms[1:], strict=True):
        _plot_arm_evidence(ax, arm, res)
    axes[-1, 0].set_xlabel(f"day (support contacts are joined {SUPPORT_LAG_DAYS} days after the answer)")
    return fig


# ----------------------------------------------------------------------------- 2b. support contacts


def _contacts_figure(res: DemoResult) -> Any:
    """Support contacts joined to routing decisions, per tier (census): the daily contact rate,
    one panel per tierscope arm, against each tier's alarm line (launch rate + tolerance)."""
    cfg = res.config
    colors = dict(_TIER_COLORS)
    fig, axes = _subplots(2, 1, (10, 6.5), sharex=True, sharey=True)
    for ax, arm in zip(axes[:, 0], res.arms[1:], strict=True):
        cm = arm.detail["contacts"]
        for tier in ("cheap", "capable"):
            h = cm.history[tier]
            if not h:
                continue
            ax.plot(
                [x[0] for x in h],
                [x[4] for x in h],
                color=colors[tier],
                lw=1.2,
                label=f"{tier} tier: daily rate",
            )
            ax.axhline(1.0 - cm.baselines[tier] + CONTACT_TOLERANCE, color=colors[tier], ls=":", lw=0.9,
                       label=f"{tier}: launch rate + {CONTACT_TOLERANCE:.2%}")  # fmt: skip
        _mark_onset(ax, cfg.onset)
        if arm.alarm_day is not None:
            ax.axvline(arm.alarm_day, color="tab:orange", lw=2, label=f"first alarm (day {arm.alarm_day})")
        ax.set_xlim(0, cfg.days)
        ax.set_ylabel("support contacts\nper answer")
        ax.set_title(f"{arm.label}: support contacts per tier", fontsize=10)
        _legend(ax)
    axes[-1, 0].set_xlabel(f"day (a contact is joined {SUPPORT_LAG_DAYS} days after the answer)")
    return fig


# ----------------------------------------------------------------------------- 3. drift, 4. frontier


def _drift_figure(res: DemoResult) -> Any:
    """Daily PSI of the real router's confidence vs its training histogram and the launch weeks."""
    days = np.arange(res.config.days)
    fig, axes = _subplots(1, 1, (10, 3.6))
    ax = axes[0, 0]
    dr = res.drift
    ax.plot(days, dr["daily_train"], label="daily PSI vs router training histogram")
    ax.plot(days, dr["daily_launch"], label="daily PSI vs launch weeks")
    ax.axhline(PSI_WARN, color="tab:red", ls="--", lw=1, label=f"warning line: PSI {PSI_WARN}")
    _mark_onset(ax, res.config.onset)
    ax.set_xlabel("day")
    ax.set_ylabel("PSI of router confidence")
    _legend(ax)
    ax.set_title("routing-confidence drift (real router outputs)")
    return fig


def _frontier_figure(res: DemoResult) -> Any:
    """Cost-quality frontier after the shift: both threshold sweeps, the arms and all-capable."""
    fig, axes = _subplots(1, 1, (9, 4.8))
    ax = axes[0, 0]
    fr = res.frontier
    c = np.array(fr["cascade"])
    p = np.array(fr["prerouter"])
    ax.plot(c[:, 1], c[:, 2], "-o", ms=3, label="cascade: threshold sweep")
    ax.plot(p[:, 1], p[:, 2], "-s", ms=3, label="pre-router: min-confidence sweep")
    for r in arm_rows(res)[:-1]:
        ax.plot(r["inference_vs_all_capable"], r["quality_after"], "*", ms=12, label=r["arm"])
    ax.plot(1.0, fr["capable_quality"], "kD", label="all capable")
    ax.set_xlabel("inference cost / all-capable")
    ax.set_ylabel(f"quality after the shift (days {fr['from_day']}+)")
    _legend(ax)
    ax.set_title("cost-quality frontier")
    return fig


def figures(res: DemoResult) -> dict[str, Any]:
    """The demo's figures as matplotlib ``Figure`` objects: per-tier quality over time, the alarm
    timeline, support contacts, drift and the cost-quality frontier (restyle them, ``savefig``
    them, or display them in a notebook)."""
    return {
        "quality": _quality_figure(res),
        "alarms": _alarms_figure(res),
        "contacts": _contacts_figure(res),
        "drift": _drift_figure(res),
        "frontier": _frontier_figure(res),
    }


def figure_uris(res: DemoResult) -> dict[str, str]:
    """The same figures as PNG data URIs (``data:image/png;base64,...``), as the HTML report embeds them."""
    from ..quality.report import png_data_uri

    return {k: png_data_uri(fig) for k, fig in figures(res).items()}


# ----------------------------------------------------------------------------- HTML

_CAPTIONS = {
    "quality": "Per-tier quality: weekly design-based estimates from the reviews (95% intervals) and the "
    "simulation truth.",
    "alarms": "Alarm timeline: the playbook's blended number (top) vs the evidence of tierscope's per-tier "
    "e-detectors, reviews (solid) and support contacts (dashed), one panel per arm. The evidence moves only "
    "on days with data and, with no change, stays near zero (a CUSUM-type e-detector); an alarm needs "
    "ln 1000.",
    "contacts": "Support contacts joined to the routing decisions, per tier: the post-mortem's missing link.",
    "drift": "Confidence drift: PSI of the real router's confidence distribution.",
    "frontier": "Cost-quality frontier after the shift: the arms and the threshold sweeps.",
}


def arm_section(res: DemoResult, arm: ArmRun) -> str:
    """A tierscope arm's audit section: its audit (rates over every answer, from the census), its
    counted monitors (the audit's and the support-contact monitors, in the run without a response,
    whose first alarm is the arm's alarm) and the router's traffic-mix drift alarm."""
    from ..quality.report import section_text
    from .monitoring import counted_alarms, mix_drift_alarm

    src = arm.detail.get("no_response", arm.detail)
    counted = counted_alarms(src["audit"], src["contacts"])
    mix = mix_drift_alarm(res.corpus, res.traffic, res.config)
    if mix is None:
        extra = ["traffic-mix drift: the router has no regions (regions.bin)"]
    else:
        day = "never" if mix["alarm_day"] is None else f"day {mix['alarm_day']}"
        extra = [
            "traffic-mix drift (router regions, the pre-router's cheap-tier traffic, run without a response; "
            f"reported, not counted): alarm {day}"
        ]
    return section_text(arm.detail["audit"], counted_alarms=counted, counted_note="run without a response",
                        extra_lines=extra)  # fmt: skip


def render_html(res: DemoResult, text: str) -> str:
    """A self-contained HTML report (figures as base64 PNG)."""
    import html

    figs = figure_uris(res)
    body = "".join(
        f"<h2>{k}</h2><p>{html.escape(_CAPTIONS[k])}</p><img alt='{k}' src='{v}'/>" for k, v in figs.items()
    )
    audits = "".join(
        f"<h2>audit of arm {a.name}</h2><pre>{html.escape(arm_section(res, a))}</pre>"
        for a in res.arms
        if "audit" in a.detail
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tierscope demo</title>"
        "<style>body{font-family:sans-serif;max-width:1300px;margin:auto}pre{font-size:12px;"
        "background:#f6f6f6;padding:8px;overflow-x:auto}img{max-width:100%}</style></head><body>"
        f"<h1>tierscope demo: the Pareto trap, replayed</h1><p><b>{html.escape(DISCLAIMER)}</b></p>"
        f"<pre>{html.escape(text)}</pre>{body}{audits}</body></html>"
    )
