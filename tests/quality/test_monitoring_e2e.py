"""End-to-end: the post-mortem's failure, replayed, caught per tier and missed by the blended number.

Simulation (seeded; sized for CI: 1,500 queries/day for 60 days = 90,000 decisions, 200 reviews/day;
the review count, not the traffic, drives detection, and writing 4,000/day through
``DecisionLog.log_decision`` (~0.19 ms a row today) alone would take ~45 s):

- 65% of traffic is routed to the cheap tier, 35% to the capable tier (the post-mortem's 65/35).
- 20% of the cheap tier's queries are the "looks simple, is complex" segment: lower router
  confidence and higher tail scores than the easy centre (the classifier cannot see the nested
  intent, but its confidence is a little lower and the queries sit further from the training data).
- Failure rates: capable 4%, cheap 6% everywhere until day 20 (the holdout's 94%); from day 20 the
  segment's cheap-answer failure rate jumps to ``SEGMENT_FAIL_AFTER`` (30%, five-fold). The cheap
  tier's mean falls from 0.94 to ~0.89 and the blended number by ~3 points: both less than the
  5-point tolerance, the dilution the post-mortem describes. (With a jump to 50% the blended
  number would fall by ~6 points, which a 200-review daily sample does see.)
- Each day: decisions are written to a :class:`DecisionLog`; ``plan_reviews(log, budget=200,
  day=d)`` picks the reviews (stratified by tier x confidence band x tail band, low-confidence and
  tail oversampled 4x each); the reviewers' verdicts (the simulation's ground truth) are logged with π.
  A 3% shadow sample of cheap answers is judged on both tiers.
- The blended arm is what the post-mortem's team had: 200 simple-random reviews a day, one number,
  compared with its pre-onset baseline. Both arms use the same materiality rule: alarm when the
  interval lies entirely below baseline − tolerance (for the per-tier arm the anytime-valid
  confidence sequence of the tail-weighted cheap-tier quality; for the blended arm the day's own
  95% Wilson interval, and separately a blended sequential monitor). The naive rule "a day's
  value leaves the baseline ± one day's 95% half-width" is printed, not asserted: it fires on ~5%
  of days with no change at all, so over any 8-day window it is a coin toss, change or not.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import tierscope.stats as ts
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.audit import audit
from tierscope.quality.review_plan import plan_reviews

DAYS = 60
PER_DAY = 1500
ONSET = 20
BUDGET = 200
CHEAP_SHARE = 0.65
SEGMENT_SHARE = 0.20
FAIL_CHEAP = 0.06
FAIL_CAPABLE = 0.04
SEGMENT_FAIL_AFTER = 0.30
SHADOW_RATE = 0.03
TOLERANCE = 0.05
OVERSAMPLE = {"low_confidence": 4.0, "tail": 4.0}  # up to 16x: the tail-weighted monitor leans on the tail
START = date(2026, 3, 2)


def simulate_day(rng: np.random.Generator, d: int) -> dict[str, np.ndarray]:
    n = PER_DAY
    cheap = rng.random(n) < CHEAP_SHARE
    segment = cheap & (rng.random(n) < SEGMENT_SHARE)
    conf = np.where(
        cheap,
        np.where(segment, 0.5 + 0.5 * rng.beta(2.0, 3.0, n), 0.5 + 0.5 * rng.beta(6.0, 1.2, n)),
        0.5 + 0.5 * rng.beta(3.0, 2.0, n),
    )
    tail = np.where(segment, rng.beta(6.0, 1.0, n), rng.beta(2.0, 5.0, n))
    fail_p = np.where(cheap, FAIL_CHEAP, FAIL_CAPABLE)
    if d >= ONSET:
        fail_p = np.where(segment, SEGMENT_FAIL_AFTER, fail_p)
    ok = rng.random(n) >= fail_p
    # the capable model's verdict on the same query (shadow): it follows the nested intent
    capable_ok = rng.random(n) >= FAIL_CAPABLE
    return {
        "cheap": cheap,
        "segment": segment,
        "conf": conf,
        "tail": tail,
        "ok": ok,
        "capable_ok": capable_ok,
    }


def write_day(log: DecisionLog, d: int, day: dict[str, np.ndarray], rng: np.random.Generator) -> list[str]:
    t0 = datetime(START.year, START.month, START.day, tzinfo=timezone.utc) + timedelta(days=d)
    secs = np.sort(rng.uniform(0, 86_399, PER_DAY))
    ids = [f"d{d:02d}-{i:05d}" for i in range(PER_DAY)]
    for i, rid in enumerate(ids):
        tier = "cheap" if day["cheap"][i] else "capable"
        log.log_decision(
            {
                "request_id": rid,
                "timestamp": t0 + timedelta(seconds=float(secs[i])),
                "cheap_tier": "cheap",
                "capable_tier": "capable",
                "answered_by": tier,
                "route_tier": tier,
                "escalated": False,
                "fallback": False,
                "route_confidence": float(day["conf"][i]),
                "route_tail_score": float(day["tail"][i]),
                "cost": 0.0025 if tier == "cheap" else 0.01,
            }
        )
    shadowed = np.flatnonzero(day["cheap"] & (rng.random(PER_DAY) < SHADOW_RATE))
    for i in shadowed:
        log.log_shadow(
            ids[i],
            float(day["ok"][i]),
            float(day["capable_ok"][i]),
            inclusion_prob=SHADOW_RATE,
        )
    return ids


def blended_arm(days: list[dict[str, np.ndarray]], rng: np.random.Generator) -> dict[str, Any]:
    """The post-mortem team's view: 200 random reviews a day, one number, a pre-onset baseline."""
    daily = []
    monitor = None
    pre = []
    for d, day in enumerate(days):
        pick = rng.choice(PER_DAY, BUDGET, replace=False)
        y = day["ok"][pick].astype(float)
        daily.append(ts.proportion_interval(float(y.sum()), BUDGET, method="wilson"))
        if d < 14:
            pre.append(y)
        if d == 13:
            base = float(np.concatenate(pre).mean())
            monitor = ts.Monitor(base, TOLERANCE)
            for yy in pre:
                monitor.update(yy)
        elif monitor is not None:
            monitor.update(y)
    baseline = ts.proportion_interval(
        float(sum(i.estimate * BUDGET for i in daily[:ONSET])), BUDGET * ONSET, method="wilson"
    )
    assert monitor is not None
    return {"daily": daily, "baseline": baseline, "monitor": monitor}


def test_per_tier_monitor_catches_what_the_blended_number_misses(tmp_path: Path) -> None:
    started = time.perf_counter()
    rng = np.random.default_rng(20260627)
    path = tmp_path / "log"
    days: list[dict[str, np.ndarray]] = []
    truth_ok: dict[str, bool] = {}
    with DecisionLog(path, flush_every=50_000, flush_interval_s=None, fsync=False) as log:
        for d in range(DAYS):
            day = simulate_day(rng, d)
            days.append(day)
            ids = write_day(log, d, day, rng)
            truth_ok.update(zip(ids, day["ok"].tolist(), strict=True))
            log.flush()
            plan = plan_reviews(
                log, budget=BUDGET, day=START + timedelta(days=d), oversample=OVERSAMPLE, seed=d
            )
            plan.log_reviews(log, {rid: bool(truth_ok[rid]) for rid in plan.request_ids}, reviewer="sim")
            log.flush()
        # the online view at day 27 (no data after it), then the whole 60 days
        online = audit(log, until=START + timedelta(days=ONSET + 8), tolerance=TOLERANCE)
        full = audit(log, tolerance=TOLERANCE)

    cheap_alarm_online = online.alarms()["cheap"]
    cheap_alarm = full.alarms()["cheap"]
    capable_alarm = full.alarms()["capable"]
    shadow_alarm = full.alarms().get("shadow gap cheap")
    blended = blended_arm(days, np.random.default_rng(7))
    base = blended["baseline"]
    threshold = base.estimate - TOLERANCE
    # materiality rule, the blended arm: the day's whole 95% interval below baseline - tolerance
    material = [d for d, i in enumerate(blended["daily"]) if i.upper < threshold]
    material_in_window = [d for d in material if ONSET <= d <= ONSET + 7]
    # the naive rule (printed only): the day's value outside baseline +- a day's 95% half-width
    half = float(np.mean([(i.upper - i.lower) / 2 for i in blended["daily"][:ONSET]]))
    band = (base.estimate - half, base.estimate + half)
    outside = [d for d, i in enumerate(blended["daily"]) if not band[0] <= i.estimate <= band[1]]
    blended_alarm = blended["monitor"].alarm_day
    blended_alarm_day = None if blended_alarm is None else blended_alarm - 1
    elapsed = time.perf_counter() - started

    truth_cheap_after = float(np.mean(np.concatenate([x["ok"][x["cheap"]] for x in days[ONSET:]])))
    truth_blended_after = float(np.mean(np.concatenate([x["ok"] for x in days[ONSET:]])))
    truth_blended_before = float(np.mean(np.concatenate([x["ok"] for x in days[:ONSET]])))
    cheap_row = full.monitors.set_index("monitor").loc["cheap"]
    print()
    print(f"e2e: {DAYS} days x {PER_DAY} queries, {BUDGET} reviews/day, onset day {ONSET}, {elapsed:.1f} s")
    print(
        f"  truth: cheap after onset {truth_cheap_after:.3f}; blended {truth_blended_before:.3f} -> "
        f"{truth_blended_after:.3f}"
    )
    print(
        f"  PER-TIER cheap monitor (tail-weighted, baseline {cheap_row['baseline']:.3f}, alarm below "
        f"{cheap_row['threshold']:.3f}): alarm day {cheap_alarm} "
        f"(online audit to day 27: {cheap_alarm_online})"
    )
    print(f"  capable monitor alarm day: {capable_alarm}; shadow-gap monitor alarm day: {shadow_alarm}")
    print(
        f"  BLENDED: baseline {base.estimate:.3f}, alarm below {threshold:.3f}; days whose 95% interval is "
        f"below it: {material or 'none'}"
    )
    print(
        "  BLENDED sequential monitor first alarm day over 60 days: "
        f"{blended_alarm_day if blended_alarm_day is not None else 'never'}"
    )
    print(
        f"  naive band [{band[0]:.3f}, {band[1]:.3f}]: days outside before onset "
        f"{[d for d in outside if d < ONSET] or 'none'}, after {[d for d in outside if d >= ONSET] or 'none'}"
    )
    print(
        "  blended daily values days 18..28: "
        + ", ".join(f"{blended['daily'][d].estimate:.3f}" for d in range(18, 29))
    )

    assert cheap_alarm is not None and ONSET <= cheap_alarm <= ONSET + 7
    assert cheap_alarm_online is not None and cheap_alarm_online <= ONSET + 7
    assert capable_alarm is None  # the capable tier did not change: no false alarm
    assert material_in_window == []  # the blended number never crosses the same threshold in the window
    assert blended_alarm_day is None or blended_alarm_day > ONSET + 7
    assert full.quality.set_index("tier").loc["cheap", "reviews"] > 0
