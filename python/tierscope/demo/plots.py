"""The demo's figures (per-tier quality, alarm timeline, support contacts, drift, cost-quality
frontier) and the self-contained HTML report that embeds them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arms import ArmRun
from .config import ARL, CONTACT_TOLERANCE, PSI_WARN, SUPPORT_LAG_DAYS, TOLERANCE, IntArray
from .run import DemoResult
from .summarize import DISCLAIMER, arm_rows

__all__ = ["figures", "render_html"]

_TIER_COLORS = (("cheap", "tab:red"), ("capable", "tab:blue"))


def _png(fig: Any) -> str:
    from ..quality.report import png_data_uri

    return png_data_uri(fig)


def _mark_onset(ax: Any, onset: int) -> None:
    ax.axvline(onset, color="k", ls=":", lw=1)


# ----------------------------------------------------------------------------- 1. per-tier quality


def _plot_arm_quality(ax: Any, arm: ArmRun, res: DemoResult) -> None:
    """One arm's weekly per-tier estimates (95%) against the daily truth, with its first alarm."""
    days = np.arange(res.config.days)
    qd = arm.detail["audit"].quality_weekly
    for tier, color in _TIER_COLORS:
        sub = qd[qd["tier"] == tier]
        x = sub["week"].to_numpy(float) * 7 + 3
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
    ax.set_title(arm.label)
    ax.set_xlabel("day")
    ax.legend(fontsize=7, loc="lower left")


def _quality_figure(res: DemoResult, plt: Any) -> str:
    """Per-tier quality with intervals (arms (b) and (c)'s audits) vs the simulation truth."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, arm in zip(axes, res.arms[1:], strict=True):
        _plot_arm_quality(ax, arm, res)
    axes[0].set_ylabel("share of acceptable answers")
    return _png(fig)


# ----------------------------------------------------------------------------- 2. alarm timeline


def _plot_blended_number(ax: Any, res: DemoResult) -> None:
    """Arm (a)'s daily blended number with its interval and the dashboard rule."""
    days = np.arange(res.config.days)
    bl = res.arms[0].detail
    est = np.array([i.estimate for i in bl["daily"]])
    lo = np.array([i.lower for i in bl["daily"]])
    hi = np.array([i.upper for i in bl["daily"]])
    ax.fill_between(days, lo, hi, alpha=0.2, color="tab:gray")
    ax.plot(days, est, color="k", lw=1, label="(a) blended daily number (200 random reviews)")
    ax.axhline(
        bl["baseline"] - TOLERANCE,
        color="tab:red",
        ls="--",
        lw=1,
        label=f"dashboard rule (not counted): interval below baseline - {TOLERANCE}",
    )
    ax.axhline(bl["baseline"], color="tab:gray", ls=":", lw=1)
    _mark_onset(ax, res.config.onset)
    ax.set_title("(a) what the playbook team saw")
    ax.set_xlabel("day")
    ax.legend(fontsize=7, loc="lower left")


def _plot_arm_evidence(ax: Any, arm: ArmRun, ls: str, line_at: float) -> None:
    """One tierscope arm's e-detector evidence: per-tier reviews, then per-tier support contacts."""
    hist = arm.detail["audit"].monitor_history
    for name in ("cheap", "capable"):
        h = hist[hist["monitor"] == name]
        if len(h) == 0:
            continue
        ev = h["log_evidence"].to_numpy(float)
        label = f"{arm.name}: {name} reviews"
        ax.plot(h["day"], np.clip(ev, -1.0, 2 * line_at), ls=ls, lw=1.2, label=label)
    cm = arm.detail["contacts"]
    for tier in ("cheap", "capable"):
        hc = cm.history[tier]
        if hc:
            ev = np.array([x[3] for x in hc])
            ax.plot([x[0] for x in hc], np.clip(ev, -1.0, 2 * line_at), ls=ls, lw=1.2,
                    label=f"{arm.name}: {tier} support contacts")  # fmt: skip
    if arm.alarm_day is not None:
        ax.axvline(arm.alarm_day, color="tab:orange", ls=ls, lw=2)


def _plot_e_detectors(ax: Any, res: DemoResult) -> None:
    """Arms (b)/(c)'s per-tier e-detector evidence against the alarm line ln ARL."""
    line_at = math.log(ARL)
    for arm, ls in zip(res.arms[1:], ("-", "--"), strict=True):
        _plot_arm_evidence(ax, arm, ls, line_at)
    ax.axhline(line_at, color="tab:red", ls="--", lw=1, label=f"alarm: ln ARL = ln {ARL:,.0f}")
    _mark_onset(ax, res.config.onset)
    ax.set_ylabel("e-detector evidence ln M (clipped)")
    ax.set_title("(b)/(c) per-tier e-detectors (responses change the later curves)")
    ax.set_xlabel("day (contacts are joined 3 days after the answer)")
    ax.legend(fontsize=6, loc="upper left")


def _alarms_figure(res: DemoResult, plt: Any) -> str:
    """Alarm timeline: the blended daily number (a) beside the per-tier monitors' evidence (b)/(c)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    _plot_blended_number(axes[0], res)
    _plot_e_detectors(axes[1], res)
    return _png(fig)


# ----------------------------------------------------------------------------- 2b. support contacts


def _contacts_figure(res: DemoResult, plt: Any) -> str:
    """Support contacts joined to routing decisions, per tier (census): the daily contact rate."""
    cfg = res.config
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for arm, ls in zip(res.arms[1:], ("-", "--"), strict=True):
        cm = arm.detail["contacts"]
        for tier in ("cheap", "capable"):
            h = cm.history[tier]
            if not h:
                continue
            line = ax.plot([x[0] for x in h], [x[4] for x in h], ls=ls, lw=1.2,
                           label=f"{arm.name}: {tier} tier, daily contact rate")[0]  # fmt: skip
            ax.axhline(1.0 - cm.baselines[tier] + CONTACT_TOLERANCE, color=line.get_color(), ls=":", lw=0.8)
        if arm.alarm_day is not None:
            ax.axvline(arm.alarm_day, color="tab:orange", ls=ls, lw=2)
    _mark_onset(ax, cfg.onset)
    ax.set_xlim(0, cfg.days)
    ax.set_ylabel("support contacts per answer")
    ax.set_xlabel(f"day (a contact is joined {SUPPORT_LAG_DAYS} days after the answer)")
    ax.set_title(f"(b)/(c) support contacts per tier; dotted: launch rate + {CONTACT_TOLERANCE:.2%}")
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


# ----------------------------------------------------------------------------- 3. drift, 4. frontier


def _drift_figure(res: DemoResult, plt: Any) -> str:
    """Daily PSI of the real router's confidence vs its training histogram and the launch weeks."""
    days = np.arange(res.config.days)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    dr = res.drift
    ax.plot(days, dr["daily_train"], label="daily PSI vs router training histogram")
    ax.plot(days, dr["daily_launch"], label="daily PSI vs launch weeks")
    ax.axhline(PSI_WARN, color="tab:red", ls="--", lw=1, label=f"warning {PSI_WARN}")
    _mark_onset(ax, res.config.onset)
    ax.set_xlabel("day")
    ax.set_ylabel("PSI of router confidence")
    ax.legend(fontsize=8)
    ax.set_title("routing-confidence drift (real router outputs)")
    return _png(fig)


def _frontier_figure(res: DemoResult, plt: Any) -> str:
    """Cost-quality frontier after the shift: both threshold sweeps, the arms and all-capable."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
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
    ax.legend(fontsize=7)
    ax.set_title("cost-quality frontier")
    return _png(fig)


def figures(res: DemoResult) -> dict[str, str]:
    """PNG data URIs (data:image/png;base64,...): per-tier quality over time, alarms, drift, frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return {
        "quality": _quality_figure(res, plt),
        "alarms": _alarms_figure(res, plt),
        "contacts": _contacts_figure(res, plt),
        "drift": _drift_figure(res, plt),
        "frontier": _frontier_figure(res, plt),
    }


# ----------------------------------------------------------------------------- HTML

_CAPTIONS = {
    "quality": "Per-tier quality: weekly design-based estimates from the reviews (95% intervals) and the "
    "simulation truth.",
    "alarms": "Alarm timeline: the playbook's blended number vs the evidence of tierscope's per-tier "
    "e-detectors (reviews and support contacts). The evidence moves only on days with data and, with no "
    "change, stays near zero (a CUSUM-type e-detector); an alarm needs ln 1000.",
    "contacts": "Support contacts joined to the routing decisions, per tier: the post-mortem's missing link.",
    "drift": "Confidence drift: PSI of the real router's confidence distribution.",
    "frontier": "Cost-quality frontier after the shift: the arms and the threshold sweeps.",
}


def render_html(res: DemoResult, text: str) -> str:
    """A self-contained HTML report (figures as base64 PNG)."""
    import html

    figs = figures(res)
    body = "".join(
        f"<h2>{k}</h2><p>{html.escape(_CAPTIONS[k])}</p><img alt='{k}' src='{v}'/>" for k, v in figs.items()
    )
    audits = "".join(
        f"<h2>audit of arm {a.name}</h2><pre>{html.escape(a.detail['audit'].summary())}</pre>"
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
