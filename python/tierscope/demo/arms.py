"""The three arms, on the same traffic and the same outcome draws: (a) the playbook pre-router with
blended monitoring, (b) the same pre-router with tierscope's monitors, (c) tierscope's cascade
(calibrated threshold, shadow scoring, the same monitors); plus the cascade's calibration and the
cost-quality frontier of both routing schemes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..routing.calibration import (
    IsotonicCalibrator,
    ThresholdReport,
    choose_threshold,
    fit_calibrator,
)
from .config import (
    CONSERVATIVE_EPSILON,
    CONSERVATIVE_MIN_CONFIDENCE,
    DELTA,
    EPSILON,
    JUDGE_PRICE,
    MIN_ACCEPTED,
    PRICE_CAPABLE,
    PRICE_CHEAP,
    SHADOW_RATE,
    BoolArray,
    DemoConfig,
    FloatArray,
    IntArray,
)
from .monitoring import (
    ContactMonitors,
    DayMonitoring,
    audit_monitoring,
    blended_monitoring,
    first_counted_alarm,
    record_tierscope_day,
)
from .simulation import Corpus, Traffic, answer_outcomes, launch_mix, self_evaluation_score

__all__ = [
    "ArmRun",
    "CascadeSetup",
    "calibrate_cascade",
    "check_cascade_equivalence",
    "frontier",
    "run_cascade",
    "run_prerouter",
]

# ----------------------------------------------------------------------------- cascade calibration


@dataclass
class CascadeSetup:
    """Arm (c)'s calibrator, its chosen threshold, the conservative one, and the held-out half they
    were chosen on."""

    calibrator: IsotonicCalibrator
    report: ThresholdReport
    conservative: ThresholdReport
    cal_confidence: FloatArray
    cal_good: BoolArray


def calibrate_cascade(corpus: Corpus, cfg: DemoConfig) -> CascadeSetup:
    """A seeded labelled calibration set from the launch mix: fit on one half, choose on the other."""
    rng = np.random.default_rng([cfg.seed, 2])
    p = launch_mix(corpus)
    idx = rng.choice(len(p), cfg.calibration_size, p=p)
    bad = rng.random(len(idx)) < corpus.cheap_fail[idx]
    raw = self_evaluation_score(rng, bad)
    half = len(idx) // 2
    cal = fit_calibrator(raw[:half], ~bad[:half], "isotonic")
    assert isinstance(cal, IsotonicCalibrator)
    conf = cal.predict(raw[half:])
    good = ~bad[half:]
    kw: dict[str, Any] = {
        "price_cheap": PRICE_CHEAP,
        "price_capable": PRICE_CAPABLE,
        "shadow_rate": SHADOW_RATE,
        "min_accepted": MIN_ACCEPTED,
    }
    report = choose_threshold(conf, good, EPSILON, DELTA, **kw)
    conservative = choose_threshold(conf, good, CONSERVATIVE_EPSILON, DELTA, **kw)
    return CascadeSetup(cal, report, conservative, conf, good)


def check_cascade_equivalence(corpus: Corpus, setup: CascadeSetup, traffic: Traffic, n: int = 300) -> int:
    """Run :class:`~tierscope.routing.Cascade` itself on ``n`` real queries of day 0; returns how many
    of its accept/escalate decisions differ from the vectorised rule (expected 0)."""
    from ..routing.cascade import Cascade
    from ..routing.records import TierAnswer

    idx = traffic.idx[0][:n]
    sig = traffic.signal[0][:n]
    by_query = {f"q{k}": k for k in range(len(idx))}
    cascade = Cascade(
        lambda q: TierAnswer(text="cheap answer", model_id="cheap"),
        lambda q: TierAnswer(text="capable answer", model_id="capable"),
        confidence=lambda q, a: float(sig[by_query[q]]),
        calibrator=setup.calibrator,
        threshold=setup.report,
        seed=0,
    )
    vec = setup.calibrator.predict(sig) >= setup.report.threshold
    diff = 0
    for k in range(len(idx)):
        _, decision = cascade(f"q{k}", category=str(corpus.intent[idx[k]]))
        accepted = decision.answered_by == "cheap"
        diff += int(accepted != bool(vec[k]))
    cascade.close()
    return diff


# ----------------------------------------------------------------------------- an arm's daily tallies


@dataclass
class ArmRun:
    """One arm's results."""

    name: str
    label: str
    days: int
    cheap_n: IntArray
    cheap_good: IntArray
    capable_n: IntArray
    capable_good: IntArray
    escalated: IntArray
    contacts: IntArray
    thumbs_down: IntArray
    inference_cost: FloatArray
    alarm_day: int | None = None
    alarm_monitor: str = ""
    switch_day: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def good(self) -> IntArray:
        """Acceptable answers per day, both tiers."""
        return self.cheap_good + self.capable_good


def _new_arm(name: str, label: str, days: int) -> ArmRun:
    z = np.zeros(days, np.int64)
    return ArmRun(name, label, days, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy(),
                  np.zeros(days))  # fmt: skip


def _tally(arm: ArmRun, d: int, cheap: BoolArray, bad: BoolArray, contact: BoolArray, thumbs: BoolArray,
           escalated: BoolArray, cost: float) -> None:  # fmt: skip
    arm.cheap_n[d] = int(cheap.sum())
    arm.cheap_good[d] = int((cheap & ~bad).sum())
    arm.capable_n[d] = int((~cheap).sum())
    arm.capable_good[d] = int((~cheap & ~bad).sum())
    arm.escalated[d] = int(escalated.sum())
    arm.contacts[d] = int(contact.sum())
    arm.thumbs_down[d] = int(thumbs.sum())
    arm.inference_cost[d] = cost


def _finish_tierscope(
    arm: ArmRun, mon: DayMonitoring, contacts: ContactMonitors, cfg: DemoConfig, corpus: Corpus
) -> None:
    """Audit a tierscope arm's reviewed decisions and set its first counted alarm."""
    report = audit_monitoring(mon, cfg, corpus)
    arm.detail["audit"] = report
    arm.detail["judge_calls"] = int(sum(mon.judge_calls))
    arm.detail["judge_cost"] = float(sum(mon.judge_calls)) * JUDGE_PRICE
    arm.detail["contacts"] = contacts
    arm.detail["monitoring"] = mon  # the reviewed/judged rows (evals.judge_monitor's daily widths)
    arm.alarm_day, arm.alarm_monitor = first_counted_alarm(report, min(cfg.onset, cfg.days), contacts)


# ----------------------------------------------------------------------------- the arms


def run_prerouter(
    corpus: Corpus,
    traffic: Traffic,
    cfg: DemoConfig,
    switch_day: int | None,
    monitoring: str,
    progress: Any = None,
) -> ArmRun:
    """Arm (a) (``monitoring="blended"``) or (b) (``"tierscope"``)."""
    name = "a" if monitoring == "blended" else "b"
    label = "(a) playbook pre-router, blended monitoring" if name == "a" else "(b) pre-router + tierscope"
    arm = _new_arm(name, label, cfg.days)
    arm.switch_day = switch_day
    mon = DayMonitoring()
    contacts = ContactMonitors(min(cfg.onset, cfg.days), cfg.days)
    blended_y: list[FloatArray] = []
    for d in range(cfg.days):
        idx = traffic.idx[d]
        cheap = corpus.routed_cheap[idx].copy()
        if switch_day is not None and d >= switch_day:
            cheap &= corpus.confidence[idx] >= CONSERVATIVE_MIN_CONFIDENCE
        bad, contact, thumbs = answer_outcomes(corpus, traffic, d, cheap)
        no = np.zeros(len(idx), bool)
        cost = float(np.where(cheap, PRICE_CHEAP, PRICE_CAPABLE).sum())
        _tally(arm, d, cheap, bad, contact, thumbs, no, cost)
        if monitoring == "blended":
            rng = np.random.default_rng([cfg.seed, 4, d])
            pick = rng.choice(len(idx), min(cfg.reviews, len(idx)), replace=False)
            blended_y.append((~bad[pick]).astype(float))
        else:
            record_tierscope_day(mon, cfg, d, corpus, traffic, cheap, no, bad, None)
            mon.count_day(d, cheap, contact, thumbs)
            arm.inference_cost[d] += mon.judge_calls[-1] * JUDGE_PRICE  # the judge's calls are spend too
            contacts.update(d, cheap, contact)
        if progress is not None:
            progress.update(1)
    if monitoring == "blended":
        arm.detail.update(blended_monitoring(blended_y, cfg, corpus))
        arm.alarm_day, arm.alarm_monitor = arm.detail["alarm_day"], arm.detail["alarm_rule"]
    else:
        _finish_tierscope(arm, mon, contacts, cfg, corpus)
    return arm


def run_cascade(
    corpus: Corpus,
    traffic: Traffic,
    cfg: DemoConfig,
    setup: CascadeSetup,
    switch_day: int | None,
    progress: Any = None,
) -> ArmRun:
    """Arm (c): cheap first, escalate below the calibrated threshold, 2% shadow, tierscope monitoring."""
    arm = _new_arm("c", "(c) tierscope cascade", cfg.days)
    arm.switch_day = switch_day
    mon = DayMonitoring()
    contacts = ContactMonitors(min(cfg.onset, cfg.days), cfg.days)
    for d in range(cfg.days):
        idx = traffic.idx[d]
        report = setup.conservative if switch_day is not None and d >= switch_day else setup.report
        # An infeasible threshold escalates everything without calling the cheap tier (as Cascade does).
        t = report.threshold if report.feasible else math.inf
        accepted = setup.calibrator.predict(traffic.signal[d]) >= t
        bad, contact, thumbs = answer_outcomes(corpus, traffic, d, accepted)
        escalated = ~accepted
        rng = np.random.default_rng([cfg.seed, 5, d])
        shadow = accepted & (rng.random(len(idx)) < SHADOW_RATE)
        cheap_calls = len(idx) if report.feasible else 0
        cost = float(cheap_calls * PRICE_CHEAP + (escalated.sum() + shadow.sum()) * PRICE_CAPABLE)
        _tally(arm, d, accepted, bad, contact, thumbs, escalated, cost)
        record_tierscope_day(mon, cfg, d, corpus, traffic, accepted, escalated, bad, shadow, report.feasible)
        mon.count_day(d, accepted, contact, thumbs)
        arm.inference_cost[d] += mon.judge_calls[-1] * JUDGE_PRICE  # the judge's calls are spend too
        contacts.update(d, accepted, contact)
        if progress is not None:
            progress.update(1)
    _finish_tierscope(arm, mon, contacts, cfg, corpus)
    return arm


# ----------------------------------------------------------------------------- frontier


def frontier(corpus: Corpus, traffic: Traffic, cfg: DemoConfig, setup: CascadeSetup) -> dict[str, Any]:
    """Cost (share of all-capable inference) and quality after the shift, for threshold sweeps."""
    d0 = min(cfg.onset + cfg.ramp_days, cfg.days - 1)
    idx = np.concatenate(traffic.idx[d0:])
    u = np.concatenate(traffic.u[d0:])
    u2 = np.concatenate(traffic.u_capable[d0:])
    cal = setup.calibrator.predict(np.concatenate(traffic.signal[d0:]))
    cheap_ok = u >= corpus.cheap_fail[idx]
    cap_ok = u2 >= corpus.capable_fail[idx]
    n = len(idx)
    cas = []
    for t in np.linspace(0.5, 1.0, 26):
        acc = cal >= t
        cost = (
            n * PRICE_CHEAP + (~acc).sum() * PRICE_CAPABLE * 1.0 + (acc.sum() * SHADOW_RATE) * PRICE_CAPABLE
        )
        q = float(np.where(acc, cheap_ok, cap_ok).mean())
        cas.append((float(t), float(cost / (n * PRICE_CAPABLE)), q))
    pre = []
    conf = corpus.confidence[idx]
    routed = corpus.routed_cheap[idx]
    for c in np.linspace(0.5, 1.0, 26):
        ch = routed & (conf >= c)
        cost = float(np.where(ch, PRICE_CHEAP, PRICE_CAPABLE).sum() / (n * PRICE_CAPABLE))
        pre.append((float(c), cost, float(np.where(ch, cheap_ok, cap_ok).mean())))
    return {"cascade": cas, "prerouter": pre, "capable_quality": float(cap_ok.mean()), "from_day": d0}
