"""The demo's deterministic outputs: the per-arm headline numbers, the terminal summary
(``summary.txt``) and its JSON record (``summary.json``). No timings: the same seed on the same
machine gives the same bytes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import (
    ARL,
    CONSERVATIVE_EPSILON,
    CONTACT_TOLERANCE,
    COST_PER_CONTACT,
    DELTA,
    DETECTION_TARGET_DAYS,
    EPSILON,
    JUDGE_PRICE,
    PRICE_CAPABLE,
    PRICE_CHEAP,
    PSI_WARN,
    SHADOW_RATE,
    TOLERANCE,
    IntArray,
)
from .monitoring import daily_interval_alarms, mix_drift_alarm
from .run import DemoResult

__all__ = ["DISCLAIMER", "arm_rows", "numpy_to_json", "summary", "summary_record"]

DISCLAIMER = (
    "NOTE: the queries and the router are real (BANKING77 + DSTC11 texts, the embedded default router); "
    "the answer outcomes, support contacts and thumbs-down are SIMULATED from data/demo_intents.csv."
)


def _fmt_day(d: int | None, onset: int) -> str:
    if d is None:
        return "never"
    return f"day {d} ({d - onset:+d} vs onset)"


def _share_good(good: IntArray, n: IntArray, s: slice) -> float:
    """Acceptable answers / answers over the days ``s``; NaN when the tier answered nothing."""
    den = float(n[s].sum())
    return float(good[s].sum()) / den if den else math.nan


def _judge_line(res: DemoResult) -> str:
    """The simulated judge of arms (b) and (c): its share, error model and cost."""
    calls = [int(a.detail.get("judge_calls", 0)) for a in res.arms[1:]]
    cost = [float(a.detail.get("judge_cost", 0.0)) for a in res.arms[1:]]
    j = res.config.judge
    return (
        f"judge (arms b, c; simulated): {j.share:.0%} of cheap answers + every reviewed answer, "
        f"accepts {j.accept_good:.0%} of good, {j.accept_bad:.0%} of bad, "
        f"{j.accept_fluent_bad:.0%} of fluent bad (flagged intents) answers; ${JUDGE_PRICE:.3f}/call, "
        + ", ".join(f"{n:,} calls ${c:,.0f}" for n, c in zip(calls, cost, strict=True))
        + " (in the arms' inference cost)"
    )


def arm_rows(res: DemoResult) -> list[dict[str, Any]]:
    """One row of headline numbers per arm (also used by the tests)."""
    cfg = res.config
    ac = res.allcap
    base_inf = float(ac.cost.sum())
    base_total = base_inf + float(ac.contacts.sum()) * COST_PER_CONTACT
    after = slice(min(cfg.onset + cfg.ramp_days, cfg.days - 1), cfg.days)
    launch = slice(0, min(cfg.onset, cfg.days))
    rows = []
    for a in res.arms:
        total = float(a.inference_cost.sum()) + float(a.contacts.sum()) * COST_PER_CONTACT
        rows.append(
            {
                "arm": a.label,
                "inference_vs_all_capable": float(a.inference_cost.sum()) / base_inf,
                "cheap_quality_launch": _share_good(a.cheap_good, a.cheap_n, launch),
                "cheap_quality_after": _share_good(a.cheap_good, a.cheap_n, after),
                "capable_quality_after": _share_good(a.capable_good, a.capable_n, after),
                "quality_after": _share_good(a.good, a.cheap_n + a.capable_n, after),
                "cheap_share": float(a.cheap_n.sum()) / float((a.cheap_n + a.capable_n).sum()),
                "alarm_day": a.alarm_day,
                "alarm_monitor": a.alarm_monitor,
                "switch_day": a.switch_day,
                "contacts": int(a.contacts.sum()),
                "extra_contacts": int(a.contacts.sum() - ac.contacts.sum()),
                "thumbs_down_per_1000": 1000 * float(a.thumbs_down.sum()) / float(ac.n.sum()),
                "net_cost": total,
                "net_vs_all_capable": total / base_total,
                "savings": base_inf - float(a.inference_cost.sum()),
                "extra_support_cost": (float(a.contacts.sum()) - float(ac.contacts.sum())) * COST_PER_CONTACT,
            }
        )
    rows.append(
        {
            "arm": "all capable (counterfactual)",
            "inference_vs_all_capable": 1.0,
            "quality_after": float(ac.good[after].sum()) / float(ac.n[after].sum()),
            "contacts": int(ac.contacts.sum()),
            "net_cost": base_total,
            "net_vs_all_capable": 1.0,
        }
    )
    return rows


def _q3(q: float) -> str:
    """A quality to 3 decimals; '  n/a' when the tier answered nothing (e.g. an infeasible threshold)."""
    return f"{q:.3f}" if math.isfinite(q) else "  n/a"


# ----------------------------------------------------------------------------- the summary's sections


def _setup_lines(res: DemoResult) -> list[str]:
    """Title, disclaimer, sizes, the router's shares, prices and monitors, the cascade's threshold."""
    cfg = res.config
    tr = res.truth
    s = res.setup.report
    ramp_end = min(cfg.onset + cfg.ramp_days, cfg.days - 1)
    return [
        "",
        "tierscope demo: the Pareto trap, replayed",
        DISCLAIMER,
        # No timings here: the summary is identical on every run with the same seed and machine.
        f"{cfg.days} days x {cfg.per_day:,} queries/day ({len(res.corpus.texts):,} unique real texts "
        "routed once each); "
        + (
            f"mix shift toward 'looks simple but is not' intents from day {cfg.onset} "
            f"(week {cfg.onset // 7 + 1}), complete by day {ramp_end}"
            if cfg.shift
            else "NO mix shift (launch mix all run: a false-alarm check)"
        )
        + f"; seed {cfg.seed}",
        f"router: {tr['cheap_share'][0]:.0%} of launch traffic to the cheap tier; "
        "'looks simple but is not' share"
        f" of the cheap tier {tr['flagged_share_of_cheap'][0]:.1%} at launch -> "
        f"{tr['flagged_share_of_cheap'][-1]:.1%} after the shift",
        f"off-distribution escalations (tail score >= the router's threshold, sent to the capable tier): "
        f"{np.mean(tr['off_distribution_share']):.1%} of traffic, "
        f"${np.mean(tr['off_distribution_extra_cost']):,.2f}/day over the cheap price",
        f"prices: capable ${PRICE_CAPABLE:.3f}/query, cheap ${PRICE_CHEAP:.3f}; support contact "
        f"${COST_PER_CONTACT:.2f}; tolerance {TOLERANCE:.2f} on quality, {CONTACT_TOLERANCE:.2%} on a tier's "
        f"contact rate; monitors: e-detectors, >= {ARL:,.0f} days with data between false alarms each "
        "on average; "
        f"{cfg.reviews} reviews/day",
        _judge_line(res),
        f"cascade: isotonic calibration + choose_threshold(eps={EPSILON}, delta={DELTA}) -> threshold "
        f"{s.threshold:.3f} (calibration acceptance {s.acceptance_rate:.1%}, Clopper-Pearson bound "
        f"{s.upper_bound:.3f}); shadow {SHADOW_RATE:.0%}; Cascade-class check: {res.cascade_mismatches} "
        "mismatches on 300 queries",
    ]


def _table_lines(rows: list[dict[str, Any]], onset: int) -> list[str]:
    """The arms' headline table; the last row is the all-capable counterfactual."""
    lines = [
        "",
        f"{'arm':44s} {'infer.':>6s} {'cheap q':>13s} {'capbl q':>7s} {'all q':>6s} {'first alarm':>22s} "
        f"{'support':>8s} {'net cost':>9s}",
        f"{'':44s} {'vs cap':>6s} {'launch->after':>13s} {'after':>7s} {'after':>6s} {'':>22s} "
        f"{'contacts':>8s} {'vs cap':>9s}",
    ]
    for r in rows:
        if "alarm_day" not in r:
            lines.append(
                f"{r['arm']:44s} {1.0:6.0%} {'':>13s} {'':>7s} {r['quality_after']:6.3f} {'':>22s} "
                f"{r['contacts']:8,d} {1.0:9.0%}"
            )
            continue
        lines.append(
            f"{r['arm']:44s} {r['inference_vs_all_capable']:6.0%} "
            f"{_q3(r['cheap_quality_launch'])}->{_q3(r['cheap_quality_after'])} "
            f"{r['capable_quality_after']:7.3f} "
            f"{r['quality_after']:6.3f} {_fmt_day(r['alarm_day'], onset):>22s} {r['contacts']:8,d} "
            f"{r['net_vs_all_capable']:9.0%}"
        )
    return lines


def _outcome_lines(res: DemoResult, rows: list[dict[str, Any]]) -> list[str]:
    """Per arm: what alarmed first, when it went conservative, and what it saved and cost."""
    lines = [""]
    for r, a in zip(rows, res.arms, strict=False):
        how = f"first alarm by: {r['alarm_monitor']}" if r["alarm_day"] is not None else "no alarm"
        sw = (
            f"; went conservative from day {a.switch_day}"
            if a.switch_day is not None
            else "; stayed on its routing all run"
        )
        if a.name == "c" and a.switch_day is not None and not res.setup.conservative.feasible:
            sw += f" (no threshold meets eps={CONSERVATIVE_EPSILON}: all traffic to the capable tier)"
        lines.append(
            f"{a.label}: {how}{sw}; saved ${r['savings']:,.0f} inference, "
            f"${r['extra_support_cost']:,.0f} extra "
            f"support; thumbs-down {r['thumbs_down_per_1000']:.1f}/1,000"
        )
    return lines


def _instrument_lines(res: DemoResult) -> list[str]:
    """Every instrument's first alarm in the run without a response, arms (b)/(c) then (a)."""
    onset = res.config.onset
    lines = [
        "each instrument's first alarm in the run without a response (after an arm responds, the drop it "
        "would have gone on to see is mostly gone):"
    ]
    for a in res.arms[1:]:
        src = a.detail.get("no_response", a.detail)
        rep = src["audit"]
        mons = "; ".join(
            f"{k if k.startswith('shadow gap') else k + ' review'} {_fmt_day(v, onset)}"
            for k, v in rep.alarms().items()
        )
        contacts = src["contacts"].alarms.items()
        con = "; ".join(f"{k} support-contact {_fmt_day(v, onset)}" for k, v in contacts)
        daily = "; ".join(f"{k} {_fmt_day(v, onset)}" for k, v in daily_interval_alarms(rep, onset).items())
        lines.append(f"({a.name})'s monitors: {mons}; {con}")
        lines.append(f"    (per-tier daily-interval rule, not counted, no false-alarm guarantee: {daily})")
    bl = res.arms[0].detail.get("no_response", res.arms[0].detail)
    lines.append(
        f"(a)'s instruments: blended baseline {bl['baseline']:.3f}; "
        f"blended monitor {_fmt_day(bl['monitor_day'], onset)}; "
        f"static suite pass rate {min(bl['suite_weekly']):.3f}..{max(bl['suite_weekly']):.3f} "
        f"({_fmt_day(bl['suite_day'], onset)})"
    )
    lines.append(
        "    (blended daily-interval rule, not counted, no false-alarm guarantee: "
        f"{_fmt_day(bl['dashboard_day'], onset)})"
    )
    return lines


def _truth_and_drift_lines(res: DemoResult) -> list[str]:
    """The ground truth no monitor sees, and the router's confidence drift."""
    onset = res.config.onset
    tr = res.truth
    dr = res.drift
    qd, cd = tr["quality_material_day"], tr["contact_material_day"]
    return [
        "ground truth (simulation only, no monitor sees it): under pre-routing the cheap tier's expected "
        f"quality {tr['cheap_quality_expected'][0]:.3f} -> {tr['cheap_quality_expected'][-1]:.3f} (first "
        f"below launch - {TOLERANCE}: {_fmt_day(qd, onset)}); its expected support-contact rate "
        f"{tr['cheap_contact_expected'][0]:.2%} -> {tr['cheap_contact_expected'][-1]:.2%} (first above "
        f"launch + {CONTACT_TOLERANCE:.2%}: {_fmt_day(cd, onset)})",
        "confidence drift (router, all traffic): weekly PSI vs training "
        + " ".join(f"{v:.3f}" for v in dr["weekly_train"])
        + f"; daily PSI vs launch weeks >= {PSI_WARN}: {_fmt_day(dr['warn_day'], onset)}",
    ]


def _limit_lines(res: DemoResult) -> list[str]:
    """What alarming within DETECTION_TARGET_DAYS of the ground-truth day would take."""
    lim = res.detection_limit
    if lim is None:
        return []
    tw = lim["tail_weighted"]
    when = "never" if tw["crossing_day"] is None else f"from day {tw['crossing_day']}"
    return [
        "detection limit (simulation only: the evidence an oracle that knows each day's true quality "
        f"expects, against the monitors' ARL of {ARL:,.0f} days): to alarm by day {lim['by_day']} "
        f"(ground truth +{DETECTION_TARGET_DAYS}), (b)'s cheap review monitors (tail-weighted quality, "
        f"below launch - {TOLERANCE} {when}) need ~{tw['reviews_needed']:,.0f} cheap reviews a day, "
        f"~{tw['reviews_needed_judge_assisted']:,.0f} judge-assisted (this judge narrows the daily "
        f"interval x{lim['width_ratio']:.2f}); the run has ~{lim['reviews_per_day']:.0f}"
    ]


def summary(res: DemoResult) -> str:
    """The terminal summary."""
    rows = arm_rows(res)
    lines = [
        *_setup_lines(res),
        *_table_lines(rows, res.config.onset),
        *_outcome_lines(res, rows),
        *_instrument_lines(res),
        *_truth_and_drift_lines(res),
        *_limit_lines(res),
        *_mix_drift_lines(res),
    ]
    return "\n".join(lines)


def _mix_drift_lines(res: DemoResult) -> list[str]:
    """The cheap tier's traffic-mix drift alarm (regions of the training distribution)."""
    mix = mix_drift_alarm(res.corpus, res.traffic, res.config)
    if mix is None:
        return ["traffic-mix drift: the router has no regions (regions.bin)"]
    moved = ", ".join(f"region {j} ({intent}) {a:.1%} -> {b:.1%}" for j, a, b, intent in mix["moved"])
    return [
        f"traffic-mix drift (cheap tier's region shares vs launch weeks; null: <= {mix['tolerance']:.0%} of "
        f"its traffic moved, {mix['effective_tolerance']:.1%} with the launch weeks' estimation error; "
        f"P(false alarm in {res.config.days} days) <= {mix['alpha']:.2f}): alarm "
        f"{_fmt_day(mix['alarm_day'], res.config.onset)}; moved most: {moved}; exact-equality chi-square "
        f"p < 0.05 on {mix['chi_square_rejections']}/{mix['monitored_days']} days, max daily PSI "
        f"{mix['psi_max']:.3f}"
    ]


# ----------------------------------------------------------------------------- summary.json


def numpy_to_json(value: Any) -> Any:
    """``json.dumps`` hook for the numpy scalars and arrays in the demo's results."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def summary_record(res: DemoResult) -> dict[str, Any]:
    """The summary's figures as JSON (``summary.json``; the README's demo table is made from it)."""
    from .._runtime import cpu_info

    cfg = res.config
    return {
        "seed": cfg.seed,
        "days": cfg.days,
        "per_day": cfg.per_day,
        "shift": cfg.shift,
        "onset": cfg.onset,
        "cpu": cpu_info(),
        "arms": arm_rows(res),
        "mix_drift": mix_drift_alarm(res.corpus, res.traffic, cfg),
        "detection_limit": res.detection_limit,
    }
