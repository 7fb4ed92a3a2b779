"""The demo's knobs: a run's sizes (:class:`DemoConfig`) and the fixed constants of the outcome model,
the prices, the monitors and the response policy (described in :mod:`tierscope.demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

PRICE_CAPABLE = 0.12  # $ per query on the capable tier (six-figure monthly bill at ~1.2M queries/month)
PRICE_CHEAP = PRICE_CAPABLE / 4  # "about 1/4 of the price per token"
COST_PER_CONTACT = 6.0  # $ per human-support contact
SUPPORT_GIVEN_GOOD = 0.01
THUMBS_DOWN_GIVEN_GOOD = 0.001
CONFIDENT_FAILURE = 0.15
EPSILON = 0.07
CONSERVATIVE_EPSILON = 0.05
MIN_ACCEPTED = 500  # the fixed sequence starts at the highest threshold accepting >= 500 calibration answers
DELTA = 0.1
SHADOW_RATE = 0.02
# The simulated LLM judge of arms (b) and (c) (issue 16): it scores a Poisson sample of JUDGE_SHARE of
# the cheap tier's answers (π = JUDGE_SHARE, logged as judge events) and every reviewed answer (so each
# review carries the judge's score). Error model: it accepts 92% of acceptable answers, 20% of
# unacceptable ones, and 60% of the unacceptable answers to the flagged intents (the shifted hard
# queries that look simple: fluent wrong answers); about 85-90% agreement with the reviewers. Each
# judge call costs JUDGE_PRICE (in the arms' inference cost).
JUDGE_SHARE = 0.10
JUDGE_ACCEPT_GOOD = 0.92
JUDGE_ACCEPT_BAD = 0.20
JUDGE_ACCEPT_FLUENT_BAD = 0.60
JUDGE_PRICE = PRICE_CHEAP / 2
JUDGE_ID = "simulated-judge-v1"
TOLERANCE = 0.03  # a 3-point drop in any monitored quality number is material (all arms)
# Issue 16's aim: the cheap tier's judge-assisted review monitor alarms within this many days of
# the ground-truth quality day (the summary's detection-limit line says what that would take).
DETECTION_TARGET_DAYS = 2
ALPHA = 0.05
REVIEWS_PER_DAY = 200
OVERSAMPLE = {"low_confidence": 4.0, "tail": 4.0}
# The default router is confident on most traffic (median 0.99 on its cheap tier), so the generic
# 0.7 / 0.85 cuts leave ~4% of the cheap tier in the low-confidence band; the demo cuts at 0.85 / 0.95
# (about the cheap tier's 10% and 20% launch quantiles) so that oversampling reaches the uncertain edge.
CONFIDENCE_BANDS = (0.85, 0.95)
MONITOR_TARGET = "tail_weighted"
# Every monitor in every arm (blended, per-tier reviews, shadow gap, support contacts) alarms by the
# e-detector: on average at least ARL days with data between false alarms per monitor.
MONITOR_METHOD = "e_detector"
ARL = 1000.0
RESTART_EVERY = 7
RESPONSE_LAG = 3
CONSERVATIVE_MIN_CONFIDENCE = 0.97
PSI_WARN = 0.1
# A tier's support-contact rate is materially worse once its extra contacts eat a quarter of the
# inference saving per cheap answer: 0.25 x ($0.12 - $0.03) / $6 = 0.375 points.
CONTACT_SAVINGS_SHARE = 0.25
CONTACT_TOLERANCE = CONTACT_SAVINGS_SHARE * (PRICE_CAPABLE - PRICE_CHEAP) / COST_PER_CONTACT
SUPPORT_LAG_DAYS = 3  # a support contact is joined to its routing decision this many days after the answer
FLAGGED_CHEAP_SHARE_AFTER = 0.20
START = date(2026, 3, 2)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class JudgeModel:
    """The simulated judge's error model (defaults: the constants above): the share of cheap answers
    it samples, and the probability it accepts a good answer, a bad one, and a bad answer to a
    flagged intent (fluent and wrong)."""

    share: float = JUDGE_SHARE
    accept_good: float = JUDGE_ACCEPT_GOOD
    accept_bad: float = JUDGE_ACCEPT_BAD
    accept_fluent_bad: float = JUDGE_ACCEPT_FLUENT_BAD


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and knobs of a run (the defaults are the full-size demo)."""

    days: int = 84
    per_day: int = 40_000
    seed: int = 20260627
    onset: int = 14
    ramp_days: int = 21
    reviews: int = REVIEWS_PER_DAY
    suite_size: int = 12_000
    calibration_size: int = 6_000
    quick: bool = False
    shift: bool = True  # False: the launch mix all run (a false-alarm check)
    judge: JudgeModel = JudgeModel()  # arms (b) and (c)'s simulated judge
