"""The per-tier audit: quality, shadow gap, feedback, support contacts, confidence drift, monitors
and total cost, from a decision log.

:func:`audit` joins the routing decisions of a window with their outcomes (reviews logged with
their inclusion probability π, thumbs feedback, shadow verdicts, human-support contacts) and
returns an :class:`AuditReport`: pandas tables (``report.tables()``, ``_repr_html_`` in a
notebook) and a self-contained HTML page (``report.to_html(path)``). It reads as the audit's table
of contents: each step lives in its own module of this package (see the package docstring).

Statistics
    *Quality* per tier, per day and per week, is the Hájek mean of review scores with weights 1/π
    and its design-based interval (:func:`tierscope.stats.estimate`, Poisson design), one verdict
    per request. ``interval`` picks the interval: ``"wilson"`` (default) is Wilson at the
    effective sample size n* = min(n, m(1 − m)/se²) — capped at the number of reviews, without
    which a tier whose few failures fall on heavily oversampled (low-weight) reviews gets a
    collapsed interval (coverage 0.85 instead of 0.95 for a 28-review tier in simulation; 0.95–0.97
    with the cap); ``"logit"``, ``"beta"``, ``"asin"``, ``"mean"``, ``"xlogit"`` are R
    ``svyciprop``'s methods (:data:`tierscope.stats.estimators.INTERVALS`). Computed by
    :func:`tierscope.log.quality.quality_by`, the computation behind ``JoinedLog.per_tier``. The
    *blended* row is the unweighted mean of all reviews with a Wilson interval (the single number
    a team without tiers would look at); ``all traffic`` is the design-based estimate.

    *Monitors*: one :class:`tierscope.stats.Monitor` per tier, fed day by day. The stream is a
    two-phase Horvitz–Thompson stream: with c = the day's largest q = π/g (g = the review's
    oversampling score, 1 for ``monitor_target="traffic"``), reviews enter with probability q/c
    among ≈ N·c first-phase units, so the monitored quantity is the g-weighted tier quality
    Σ g·y / Σ g (``"tail_weighted"``, the default: the quality where model choice matters, as the
    review plan's oversampling defines it) or the plain tier mean (``"traffic"``). When all π/g
    are equal the stream is the reviews themselves. By default (``monitor_method="e_detector"``)
    the alarm is a CUSUM-type e-detector against "quality >= baseline − tolerance" that moves only
    on days with reviews (on average at least ``arl`` days with reviews between false alarms, at
    most m/``arl`` chance of one in the first m such days); with ``"confidence_sequence"`` it fires the
    first day the anytime-valid upper bound falls below ``baseline − tolerance`` (P(any false
    alarm) <= ``alpha``). The bounds are reported either way. ``baseline`` defaults to the same
    weighted estimate over the first ``baseline_days`` days (the team's launch reference).
    One more monitor per shadowed tier follows the paired gap cheap − capable (in [−1, 1]).

    *Drift*: the router's production confidence against its training reference (PSI and JS on
    the reference histogram's bins, a binned KS with the asymptotic Kolmogorov p-value), over all
    traffic and per tier, per day and per week; per tier also against the tier's own baseline
    window (KS on raw samples). Escalation-rate drift compares each day's rate with the baseline
    window (Newcombe interval of the difference).

    *Cost*: inference spend per tier (the logged ``cost``) plus support contacts within
    ``support_window_days`` × ``cost_per_contact`` (Wilson interval on the contact count), against
    "everything on the capable tier" (capable price per call × traffic, plus contacts at the
    capable tier's contact rate, the best available counterfactual).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..._optional import require
from ...log.reader import load_outcomes, window
from ..report import AuditReport
from .costs import cost_table
from .drift import confidence_drift, escalation_drift, mix_drift_table, reference_histogram
from .feedback import (
    census_note,
    census_tables,
    check_census,
    feedback_table,
    support_contacts,
    support_table,
)
from .frame import check_arguments, check_settings, load_frame
from .monitors import MonitorBook, MonitorSettings, judge_monitors, quality_monitors
from .quality import (
    ALL_TRAFFIC,
    BLENDED,
    judge_assisted_table,
    judge_samples,
    quality_by_period,
    quality_table,
    review_verdicts,
)
from .shadow import shadow_gap

__all__ = ["ALL_TRAFFIC", "BLENDED", "AuditReport", "audit", "load_outcomes"]


def audit(
    log: Any,
    *,
    since: Any = None,
    until: Any = None,
    reference: Any = None,
    baseline: float | Mapping[str, float] | None = None,
    tolerance: float = 0.05,
    cost_per_contact: float = 0.0,
    prices: Mapping[str, float] | None = None,
    support_window_days: float = 7.0,
    alpha: float = 0.05,
    level: float = 0.95,
    baseline_days: int = 14,
    monitor_target: str = "tail_weighted",
    restart_every: int = 7,
    monitor_method: str = "e_detector",
    arl: float = 1000.0,
    tiers: Sequence[str] | None = None,
    capable_tier: str | None = None,
    interval: str = "wilson",
    census: Any = None,
) -> AuditReport:
    """Audit a decision log per tier (see the module docstring for the statistics).

    ``log``: a :class:`~tierscope.log.DecisionLog`, a log directory, or a
    ``(decisions, outcomes)`` pair of pyarrow/pandas tables. ``since``/``until`` filter decisions
    by timestamp (``[since, until)``, UTC). ``reference``: a :class:`~tierscope.routing.Router` or
    its ``reference`` dict (training confidence histogram) for drift. ``baseline``: the monitors'
    reference quality on the ``monitor_target`` scale (a number, or tier -> number; default:
    estimated the same way over the first ``baseline_days`` days). ``prices``: tier -> price per
    call, used where a decision has no logged cost and for the all-capable counterfactual
    (default: the mean logged capable cost).
    ``tiers``: the expected tier names (unknown names raise). ``capable_tier``: the tier of the
    all-capable counterfactual (default: the logged ``capable_tier``, else a tier named "capable").
    ``monitor_method``/``arl``: the monitors' alarm rule (:class:`tierscope.stats.Monitor`): the
    default ``"e_detector"`` expects at least ``arl`` days with reviews between false alarms per
    monitor (a tier without reviews never alarms);
    ``"confidence_sequence"`` bounds the probability of any false alarm by ``alpha``.
    ``interval``: the per-tier quality interval method (see the module docstring).
    ``census``: per-tier counts over every answer in the window (columns ``tier``, ``answers``,
    ``support_contacts``, ``thumbs_down``; one row per tier or per tier and day, summed), for a log
    that keeps only a sample of its decisions (e.g. the reviewed ones): the ``feedback`` and
    ``support`` tables then take their rates from the census (every answer as denominator)
    instead of from the logged events (:func:`~tierscope.quality.audit.feedback.check_census`).
    The ``costs`` table still comes from the log.

    Every argument is checked before the log is read: a bad one raises
    :class:`~tierscope.exceptions.InvalidInputError` naming it (NaN, infinities, booleans,
    out-of-range numbers, unknown tier names); a missing log directory raises
    :class:`~tierscope.exceptions.TierscopeFileNotFoundError`.
    """
    require("pandas", purpose="tierscope.audit()")
    check_settings(
        tolerance=tolerance,
        alpha=alpha,
        level=level,
        cost_per_contact=cost_per_contact,
        support_window_days=support_window_days,
        baseline_days=baseline_days,
        monitor_method=monitor_method,
        arl=arl,
        monitor_target=monitor_target,
        restart_every=restart_every,
        interval=interval,
    )
    log = check_arguments(log=log, baseline=baseline, prices=prices, tiers=tiers, capable_tier=capable_tier)
    census_df = check_census(census, tiers)
    since_utc, until_utc = window(None, since, until)
    ref_hist = reference_histogram(reference)
    frame = load_frame(
        log,
        since_utc,
        until_utc,
        tiers=tiers,
        baseline=baseline,
        capable_tier=capable_tier,
        prices=prices,
        baseline_days=baseline_days,
    )

    verdicts, review_notes = review_verdicts(frame)
    quality = quality_table(frame, verdicts, level, interval)
    quality_daily = quality_by_period(frame, verdicts, "day", frame.day_labels, level, interval)
    quality_weekly = quality_by_period(frame, verdicts, "week", frame.week_labels, level, interval)

    settings = MonitorSettings(tolerance, alpha, restart_every, monitor_method, arl)
    monitors = MonitorBook(frame.day_labels, tolerance)
    monitor_notes = quality_monitors(monitors, frame, verdicts, baseline, monitor_target, settings)
    shadow, shadow_daily = shadow_gap(monitors, frame, level, settings)
    # Judge events (kind "judge"), when logged: PPI++ estimates and judge-assisted monitors.
    judge = judge_samples(frame, verdicts)
    judge_table = None if judge is None else judge_assisted_table(frame, judge, level)
    if judge is not None:
        monitor_notes += judge_monitors(monitors, frame, judge, monitor_target, settings)

    contacts = support_contacts(frame, support_window_days)
    support = support_table(frame, contacts, level)
    feedback = feedback_table(frame, level)
    # A census replaces the log's rates (not its costs): its denominators are every answer.
    rates = (feedback, support) if census_df is None else census_tables(census_df, frame.tiers, level)

    return AuditReport(
        since=since_utc,
        until=until_utc,
        days=frame.day_labels,
        tiers=frame.tiers,
        n_decisions=len(frame.decisions),
        n_reviews=len(verdicts),
        n_orphans=len(frame.orphans),
        quality=quality,
        quality_daily=quality_daily,
        quality_weekly=quality_weekly,
        shadow=shadow,
        shadow_daily=shadow_daily,
        feedback=rates[0],
        support=rates[1],
        drift=confidence_drift(frame, ref_hist),
        escalation=escalation_drift(frame, level),
        monitors=monitors.table(),
        monitor_history=monitors.history_table(),
        costs=cost_table(frame, contacts, support, prices, float(cost_per_contact), level),
        orphans=frame.orphan_table(),
        mix=mix_drift_table(frame, alpha),
        monitor_objects=monitors.objects,
        settings={
            "tolerance": tolerance,
            "alpha": alpha,
            "level": level,
            "baseline_days": frame.baseline_days,
            "monitor_target": monitor_target,
            "support_window_days": support_window_days,
            "cost_per_contact": cost_per_contact,
            "restart_every": restart_every,
            "monitor_method": monitor_method,
            "arl": arl,
            "interval": interval,
            "day0": frame.day_labels[0],
            "reference": ref_hist is not None,
            "census": census_df is not None,
        },
        notes=[*frame.notes(), *review_notes, *monitor_notes, *census_note(census_df, len(frame.decisions))],
        judge_assisted=judge_table,
    )
