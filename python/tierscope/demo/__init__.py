"""``tierscope demo``: the post-mortem's Pareto trap, replayed on real queries and a real router.

What is real and what is simulated
    *Real*: the queries (BANKING77's train and test splits and DSTC11's long, spoken-style banking
    service turns, vendored under ``data/``) and the router (the embedded default router; every
    unique text is routed once and its tier, confidence and tail score are reused for every
    replay of that text). *Simulated*: which queries arrive on which day (sampled with
    replacement), the two tiers' answer quality and the users' reactions, drawn from the
    documented per-intent outcome model in ``data/demo_intents.csv``.

Traffic
    ``per_day`` queries a day for ``days`` days. Launch mix (weeks 1–2): every BANKING77 intent
    weighs 1, the easy-centre cheap intents 2 (the router then sends ~74% to the cheap tier; the
    post-mortem had 65%), the intents flagged "looks simple but is not" 0.5, and DSTC11's
    turns 5% of traffic. From day ``onset`` (week 3) the mix shifts over ``ramp_days`` (21: weeks
    3–5; the post-mortem's drift started in week 3 and reached the suite by week 6) toward the
    flagged intents: their share of the router's cheap-tier traffic rises linearly from its launch
    value (~5%) to 20%, the post-mortem's share (the flagged weight that gives each day's share is
    solved at run time), and DSTC11 rises linearly to 10%. ``--no-shift`` keeps the launch mix all
    run, a check that the monitors stay quiet when nothing changes.
    A query's text is drawn uniformly within its intent.

Outcome model (per query, common random numbers across the arms)
    Independent uniforms ``u``, ``v``: the cheap answer is bad when ``u < cheap_fail[intent]``, the
    capable answer when ``v < capable_fail[intent]``; both are drawn for every query, so every arm
    (and the all-capable counterfactual) sees the same answers. A bad answer
    leads to a support contact with probability ``support_given_bad`` (0.35–0.6), a good one with
    ``SUPPORT_GIVEN_GOOD``; thumbs-down with ``thumbs_down_given_bad`` (0.03) or
    ``THUMBS_DOWN_GIVEN_GOOD``: about 3 per 1,000 answers, as in the post-mortem. Prices: capable
    ``PRICE_CAPABLE`` per query, cheap a quarter of it; a support contact costs ``COST_PER_CONTACT``.

Arms (same traffic, same outcome draws)
    (a) *playbook*: the router pre-routes; 200 simple-random reviews a day, one blended number,
    a blended :class:`~tierscope.stats.Monitor` and a dashboard rule (the day's 95% Wilson interval
    entirely below baseline − tolerance); plus a weekly static regression suite (12,000
    queries drawn once from the launch mix) scored on the cheap tier. (b) the same pre-router
    with tierscope's monitoring: :func:`~tierscope.review_plan.plan_reviews` (200 a day,
    stratified by tier × router confidence × tail score, low-confidence and tail oversampled
    4×, confidence bands cut at ``CONFIDENCE_BANDS``), per-tier tail-weighted sequential monitors
    from :func:`~tierscope.audit.audit`, per-tier support-contact monitors (every answer's
    contact joined to its routing decision ``SUPPORT_LAG_DAYS`` later: the post-mortem's missing
    link between AI deflection and human-support volume; arm (a) does not have it, the two sat in
    different cost centres), and confidence drift (PSI against the router's training histogram
    and the launch weeks; reported, not an alarm).
    (c) tierscope's cascade: every query goes to the cheap tier first; the cheap answer's raw
    confidence is a simulated self-evaluation score (good answers ~ Beta(6, 2); a bad answer is
    a *confident failure* with probability ``CONFIDENT_FAILURE`` and then scores like a good one,
    otherwise ~ Beta(2, 4)); an isotonic calibrator is fitted on half of a seeded labelled
    calibration set (launch mix) and the threshold is chosen on the other half with
    :func:`~tierscope.calibration.choose_threshold` (ε = ``EPSILON``, δ = ``DELTA``); 2% of
    accepted answers are shadow-scored on the capable tier; the same monitoring as (b). The
    vectorised acceptance rule is checked against :class:`~tierscope.cascade.Cascade` itself on a
    sample of real queries.

    Alarms: every arm counts only instruments with a false-alarm guarantee. Arm (a): the blended
    :class:`~tierscope.stats.Monitor` and the static suite. Arms (b)/(c): the per-tier review
    monitors, the shadow-gap monitor and the support-contact monitors. Every monitor, in every
    arm, is a :class:`~tierscope.stats.Monitor` with the e-detector alarm (``MONITOR_METHOD``): at
    least ``ARL`` (1,000) days between false alarms per monitor on average. The daily-interval
    rule (the day's interval below baseline − tolerance: blended in (a), per tier in (b)/(c)) is
    printed but not counted: it has no such guarantee and does raise false alarms.

    Tolerances: ``TOLERANCE`` (3 points) on quality; ``CONTACT_TOLERANCE`` on a tier's contact
    rate, set where the extra contacts would eat ``CONTACT_SAVINGS_SHARE`` (a quarter) of the
    inference saving per cheap answer (0.375 points). The summary also prints the ground truth the
    monitors never see: the first day the cheap tier's *expected* quality (contact rate) under the
    day's mix moves past the tolerance, i.e. when the drop became material.

    Every arm has the same response policy: ``RESPONSE_LAG`` days after its first alarm, it goes
    conservative (pre-router: the cheap tier only when the router says cheap with confidence >=
    ``CONSERVATIVE_MIN_CONFIDENCE``; cascade: the threshold chosen at ``CONSERVATIVE_EPSILON``).
    Alarms are causal, so the response never changes the day of the alarm that triggered it.

Exact vs aggregated
    Routing, outcomes, costs, support contacts and thumbs-down are computed for every simulated
    query (vectorised numpy). Review plans are drawn by ``plan_reviews`` from each day's full
    decisions table; the audit (per-tier Hájek estimates, monitors, shadow gap) runs on the
    reviewed and shadowed decisions only (the estimators need nothing else); drift is computed
    from every query's router confidence with :func:`tierscope.stats.psi`. The
    all-capable counterfactual uses the same draws, so its costs and contacts are exact too.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import stats
from ..data import DATA_DIR, banking77
from ..routing.calibration import (
    IsotonicCalibrator,
    ThresholdReport,
    choose_threshold,
    fit_calibrator,
)

__all__ = ["DemoConfig", "DemoResult", "main", "run_demo"]

DISCLAIMER = (
    "NOTE: the queries and the router are real (BANKING77 + DSTC11 texts, the embedded default router); "
    "the answer outcomes, support contacts and thumbs-down are SIMULATED from data/demo_intents.csv."
)

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
TOLERANCE = 0.03  # a 3-point drop in any monitored quality number is material (all arms)
ALPHA = 0.05
REVIEWS_PER_DAY = 200
OVERSAMPLE = {"low_confidence": 4.0, "tail": 4.0}
# The default router is confident on most traffic (median 0.99 on its cheap tier), so the generic
# 0.7 / 0.85 cuts leave ~4% of the cheap tier in the low-confidence band; the demo cuts at 0.85 / 0.95
# (about the cheap tier's 10% and 20% launch quantiles) so that oversampling reaches the uncertain edge.
CONFIDENCE_BANDS = (0.85, 0.95)
MONITOR_TARGET = "tail_weighted"
# Every monitor in every arm (blended, per-tier reviews, shadow gap, support contacts) alarms by the
# e-detector: at least ARL days between false alarms per monitor on average.
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


# ----------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """Unique real texts with their intent, source and the router's outputs."""

    texts: list[str]
    intent: npt.NDArray[np.object_]
    source: npt.NDArray[np.object_]
    routed_cheap: BoolArray
    confidence: FloatArray
    tail: FloatArray
    cheap_fail: FloatArray
    capable_fail: FloatArray
    support_bad: FloatArray
    thumbs_bad: FloatArray
    flagged: BoolArray
    true_capable: BoolArray
    reference_edges: FloatArray
    reference_counts: FloatArray
    route_seconds: float


def load_intents() -> dict[str, dict[str, Any]]:
    """The documented ground-truth outcome model, one row per intent."""
    with open(DATA_DIR / "demo_intents.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out[r["intent"]] = {
            "source": r["source"],
            "tier": r["tier"],
            "flagged": r["looks_simple_but_is_not"] == "1",
            "cheap_fail": float(r["cheap_fail"]),
            "capable_fail": float(r["capable_fail"]),
            "support_given_bad": float(r["support_given_bad"]),
            "thumbs_down_given_bad": float(r["thumbs_down_given_bad"]),
        }
    return out


def load_texts(quick: bool) -> tuple[list[str], list[str], list[str]]:
    """(texts, intents, sources): BANKING77 (test only when ``quick``) + DSTC11 banking turns, unique."""

    texts: list[str] = []
    intents: list[str] = []
    sources: list[str] = []
    for split in ("test",) if quick else ("train", "test"):
        t, i = banking77(split)
        texts += t
        intents += i
        sources += ["banking77"] * len(t)
    with open(DATA_DIR / "dstc11" / "banking_utterances.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.append(row["utterance"])
            intents.append("dstc11:" + row["intent"])
            sources.append("dstc11")
    seen: set[str] = set()
    keep = []
    for k, text in enumerate(texts):
        if text not in seen:
            seen.add(text)
            keep.append(k)
    return [texts[k] for k in keep], [intents[k] for k in keep], [sources[k] for k in keep]


def build_corpus(router: Any, quick: bool, log: Callable[[str], None] = print) -> Corpus:
    """Route every unique text once with ``router`` and attach the outcome model."""
    texts, intents, sources = load_texts(quick)
    model = load_intents()
    missing = sorted(set(intents) - set(model))
    if missing:
        raise ValueError(f"demo_intents.csv lacks intents {missing[:5]}")
    log(f"routing {len(texts):,} unique real queries with the default router ...")
    t0 = time.perf_counter()
    batch = router.route_batch(texts)
    seconds = time.perf_counter() - t0
    cheap_index = list(router.tiers).index("cheap")
    ref = router.reference or {}
    edges = np.asarray(ref.get("confidence_edges", np.linspace(0.5, 1.0, 21)), dtype=np.float64)
    counts = np.asarray(ref.get("confidence_counts", np.ones(len(edges) - 1)), dtype=np.float64)
    col = np.array
    return Corpus(
        texts=texts,
        intent=col(intents, dtype=object),
        source=col(sources, dtype=object),
        routed_cheap=np.asarray(batch.tier_index) == cheap_index,
        confidence=np.nan_to_num(np.asarray(batch.confidence, dtype=np.float64), nan=0.0),
        tail=np.nan_to_num(np.asarray(batch.tail_score, dtype=np.float64), nan=1.0),
        cheap_fail=col([model[i]["cheap_fail"] for i in intents]),
        capable_fail=col([model[i]["capable_fail"] for i in intents]),
        support_bad=col([model[i]["support_given_bad"] for i in intents]),
        thumbs_bad=col([model[i]["thumbs_down_given_bad"] for i in intents]),
        flagged=col([model[i]["flagged"] for i in intents], dtype=bool),
        true_capable=col([model[i]["tier"] == "capable" for i in intents], dtype=bool),
        reference_edges=edges,
        reference_counts=counts,
        route_seconds=seconds,
    )


# ----------------------------------------------------------------------------- traffic


def _mix(corpus: Corpus, flagged_weight: float, dstc_share: float) -> FloatArray:
    """Per-text sampling probabilities for a given weight of the flagged intents."""
    is_dstc = corpus.source == "dstc11"
    easy_cheap = ~corpus.true_capable & ~corpus.flagged
    w_intent = np.where(corpus.flagged, flagged_weight, np.where(easy_cheap, 2.0, 1.0))
    _, inv, n_per = np.unique(corpus.intent, return_inverse=True, return_counts=True)
    p = w_intent / n_per[inv]
    out = np.zeros(len(p))
    for mask, share in ((~is_dstc, 1.0 - dstc_share), (is_dstc, dstc_share)):
        out[mask] = share * p[mask] / p[mask].sum()
    return out


def _flagged_cheap_share(corpus: Corpus, p: FloatArray) -> float:
    cheap = corpus.routed_cheap
    return float(p[cheap & corpus.flagged].sum() / p[cheap].sum())


LAUNCH_FLAGGED_WEIGHT = 0.5


def _dstc_share(s: float) -> float:
    return 0.05 + 0.05 * s


def solve_shift(corpus: Corpus, s: float = 1.0) -> float:
    """The flagged intents' weight at shift progress ``s`` in [0, 1]: their share of the router's
    cheap-tier traffic moves linearly from its launch value (weight 0.5) to 20% (at ``s = 1``)."""
    if s <= 0.0:
        return LAUNCH_FLAGGED_WEIGHT
    start = _flagged_cheap_share(corpus, _mix(corpus, LAUNCH_FLAGGED_WEIGHT, _dstc_share(0.0)))
    target = start + s * (FLAGGED_CHEAP_SHARE_AFTER - start)
    lo, hi = LAUNCH_FLAGGED_WEIGHT, 200.0
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if _flagged_cheap_share(corpus, _mix(corpus, mid, _dstc_share(s))) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def shift_progress(cfg: DemoConfig, d: int) -> float:
    """How far the mix shift has gone on day ``d`` (0 before the onset, 1 once complete)."""
    if not cfg.shift:
        return 0.0
    return min(max((d - cfg.onset + 1) / max(cfg.ramp_days, 1), 0.0), 1.0)


@dataclass
class Traffic:
    """Per-day arrays: text index, outcome uniforms, cheap-confidence signal, and the sampling mix."""

    idx: list[IntArray]
    u: list[FloatArray]
    u_capable: list[FloatArray]
    u_support: list[FloatArray]
    u_thumbs: list[FloatArray]
    signal: list[FloatArray]
    shift: list[float]
    flagged_weight: list[float]

    def mix(self, corpus: Corpus, d: int) -> FloatArray:
        """Day ``d``'s sampling probabilities over the corpus (the traffic's ground truth)."""
        return _mix(corpus, self.flagged_weight[d], _dstc_share(self.shift[d]))


def _signal(rng: np.random.Generator, cheap_bad: BoolArray) -> FloatArray:
    """Simulated self-evaluation score of the cheap answer (see the module docstring)."""
    n = len(cheap_bad)
    good_like = rng.beta(6.0, 2.0, n)
    bad_like = rng.beta(2.0, 4.0, n)
    confident = rng.random(n) < CONFIDENT_FAILURE
    return np.where(cheap_bad & ~confident, bad_like, good_like)


def generate_traffic(corpus: Corpus, cfg: DemoConfig) -> Traffic:
    """Sample every day's queries (with replacement) and their outcome draws."""
    out = Traffic([], [], [], [], [], [], [], [])
    weights: dict[float, float] = {}
    for d in range(cfg.days):
        s = shift_progress(cfg, d)
        if s not in weights:
            weights[s] = solve_shift(corpus, s)
        p = _mix(corpus, weights[s], _dstc_share(s))
        rng = np.random.default_rng([cfg.seed, 1, d])
        idx = rng.choice(len(p), cfg.per_day, p=p).astype(np.int64)
        u = rng.random(cfg.per_day)
        out.idx.append(idx)
        out.u.append(u)
        out.u_capable.append(rng.random(cfg.per_day))
        out.u_support.append(rng.random(cfg.per_day))
        out.u_thumbs.append(rng.random(cfg.per_day))
        out.signal.append(_signal(rng, u < corpus.cheap_fail[idx]))
        out.shift.append(s)
        out.flagged_weight.append(weights[s])
    return out


# ----------------------------------------------------------------------------- cascade calibration


@dataclass
class CascadeSetup:
    calibrator: IsotonicCalibrator
    report: ThresholdReport
    conservative: ThresholdReport
    cal_confidence: FloatArray
    cal_good: BoolArray


def calibrate_cascade(corpus: Corpus, cfg: DemoConfig) -> CascadeSetup:
    """A seeded labelled calibration set from the launch mix: fit on one half, choose on the other."""
    rng = np.random.default_rng([cfg.seed, 2])
    p = _mix(corpus, LAUNCH_FLAGGED_WEIGHT, _dstc_share(0.0))
    idx = rng.choice(len(p), cfg.calibration_size, p=p)
    bad = rng.random(len(idx)) < corpus.cheap_fail[idx]
    raw = _signal(rng, bad)
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
    """Run :class:`~tierscope.cascade.Cascade` itself on ``n`` real queries of day 0; returns how many
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


# ----------------------------------------------------------------------------- arms


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
        return self.cheap_good + self.capable_good


@dataclass
class Counterfactual:
    """All traffic on the capable tier (exact, same outcome draws)."""

    n: IntArray
    good: IntArray
    contacts: IntArray
    cost: FloatArray


def _outcomes(
    corpus: Corpus, traffic: Traffic, d: int, cheap: BoolArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    idx = traffic.idx[d]
    bad = np.where(
        cheap, traffic.u[d] < corpus.cheap_fail[idx], traffic.u_capable[d] < corpus.capable_fail[idx]
    )
    contact = traffic.u_support[d] < np.where(bad, corpus.support_bad[idx], SUPPORT_GIVEN_GOOD)
    thumbs = traffic.u_thumbs[d] < np.where(bad, corpus.thumbs_bad[idx], THUMBS_DOWN_GIVEN_GOOD)
    return bad, contact, thumbs


def counterfactual(corpus: Corpus, traffic: Traffic) -> Counterfactual:
    days = len(traffic.idx)
    n = np.zeros(days, np.int64)
    good = np.zeros(days, np.int64)
    contacts = np.zeros(days, np.int64)
    for d in range(days):
        bad, contact, _ = _outcomes(corpus, traffic, d, np.zeros(len(traffic.idx[d]), bool))
        n[d], good[d], contacts[d] = len(bad), int((~bad).sum()), int(contact.sum())
    return Counterfactual(n, good, contacts, n.astype(np.float64) * PRICE_CAPABLE)


def _request_ids(d: int, n: int) -> npt.NDArray[np.object_]:
    return np.char.add(f"d{d:03d}-", np.char.zfill(np.arange(n).astype(str), 6)).astype(object)


@dataclass
class DayMonitoring:
    """What tierscope's monitoring keeps per day (reviewed/shadowed rows only)."""

    decisions: list[Any] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)


def _tierscope_day(
    mon: DayMonitoring,
    cfg: DemoConfig,
    d: int,
    corpus: Corpus,
    traffic: Traffic,
    cheap: BoolArray,
    escalated: BoolArray,
    bad: BoolArray,
    shadow: BoolArray | None,
    cheap_called: bool = True,
) -> None:
    import pandas as pd

    idx = traffic.idx[d]
    n = len(idx)
    rng = np.random.default_rng([cfg.seed, 3, d])
    t0 = pd.Timestamp(START + timedelta(days=d), tz="UTC")
    ts = t0 + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, n)), unit="s")
    ids = _request_ids(d, n)
    tier = np.where(cheap, "cheap", "capable").astype(object)
    frame = pd.DataFrame(
        {
            "request_id": ids,
            "timestamp": ts,
            "answered_by": tier,
            "route_tier": np.where(corpus.routed_cheap[idx], "cheap", "capable").astype(object),
            "route_confidence": corpus.confidence[idx],
            "route_tail_score": corpus.tail[idx],
            "escalated": escalated,
            "cost": np.where(cheap, PRICE_CHEAP, PRICE_CAPABLE)
            + np.where(escalated & cheap_called, PRICE_CHEAP, 0.0),
            "cheap_tier": "cheap",
            "capable_tier": "capable",
        }
    )
    from ..quality.review_plan import plan_reviews

    plan = plan_reviews(
        frame,
        budget=cfg.reviews,
        oversample=OVERSAMPLE,
        confidence_bands=CONFIDENCE_BANDS,
        seed=cfg.seed % 100_000 * 100 + d,
    )
    pos = np.searchsorted(ids.astype(str), plan.table["request_id"].to_numpy(dtype=str))
    keep = np.zeros(n, bool)
    keep[pos] = True
    rev = pd.DataFrame(
        {
            "request_id": ids[pos],
            "kind": "review",
            "score": (~bad[pos]).astype(float),
            "inclusion_prob": plan.table["pi"].to_numpy(float),
            "detail": [
                json.dumps({"stratum": s, "oversample": float(g)})
                for s, g in zip(plan.table["stratum"], plan.table["oversample_score"], strict=True)
            ],
        }
    )
    mon.outcomes.append(rev)
    if shadow is not None and shadow.any():
        sh = np.flatnonzero(shadow)
        keep[sh] = True
        cheap_bad = traffic.u[d][sh] < corpus.cheap_fail[idx[sh]]
        cap_bad = traffic.u_capable[d][sh] < corpus.capable_fail[idx[sh]]
        mon.outcomes.append(
            pd.DataFrame(
                {
                    "request_id": ids[sh],
                    "kind": "shadow",
                    "cheap_score": (~cheap_bad).astype(float),
                    "capable_score": (~cap_bad).astype(float),
                    "inclusion_prob": SHADOW_RATE,
                }
            )
        )
    mon.decisions.append(frame.loc[keep])


def _audit(mon: DayMonitoring, cfg: DemoConfig, corpus: Corpus) -> Any:
    import pandas as pd

    from ..quality.audit.run import audit

    dec = pd.concat(mon.decisions, ignore_index=True)
    cols = ["request_id", "kind", "timestamp", "tier", "score", "label", "reviewer", "inclusion_prob",
            "cheap_score", "capable_score", "days_after", "detail"]  # fmt: skip
    out = pd.concat(mon.outcomes, ignore_index=True).reindex(columns=cols)
    since = datetime(START.year, START.month, START.day, tzinfo=timezone.utc)
    reference = {
        "confidence_edges": corpus.reference_edges.tolist(),
        "confidence_counts": corpus.reference_counts.tolist(),
    }
    return audit(
        (dec, out),
        since=since,
        until=since + timedelta(days=cfg.days),
        reference=reference,
        tolerance=TOLERANCE,
        alpha=ALPHA,
        baseline_days=min(cfg.onset, cfg.days),
        monitor_target=MONITOR_TARGET,
        restart_every=RESTART_EVERY,
        monitor_method=MONITOR_METHOD,
        arl=ARL,
        tiers=sorted(set(dec["answered_by"])),
    )


class ContactMonitors:
    """Per-tier support-contact monitors: every answer's contact outcome (a census, not a sample) joined
    to its routing decision, ``SUPPORT_LAG_DAYS`` later. A :class:`~tierscope.stats.Monitor` per tier
    follows the contact-free rate against its launch-window baseline minus ``CONTACT_TOLERANCE``."""

    def __init__(self, onset: int, days: int) -> None:
        self.onset = onset
        self.days = days
        self.launch: dict[str, list[float]] = {"cheap": [0.0, 0.0], "capable": [0.0, 0.0]}
        self.monitors: dict[str, stats.Monitor] = {}
        # per tier: (day joined, lower, upper, ln evidence, the day's contact rate)
        self.history: dict[str, list[tuple[int, float, float, float, float]]] = {"cheap": [], "capable": []}
        self.alarms: dict[str, int | None] = {"cheap": None, "capable": None}
        self.baselines: dict[str, float] = {}

    def update(self, d: int, cheap: BoolArray, contact: BoolArray) -> None:
        for tier, mask in (("cheap", cheap), ("capable", ~cheap)):
            y = (~contact[mask]).astype(np.float64)
            if d < self.onset:
                self.launch[tier][0] += float(y.sum())
                self.launch[tier][1] += float(len(y))
                continue
            if tier not in self.monitors:
                k, n = self.launch[tier]
                if n == 0:
                    continue
                self.baselines[tier] = k / n
                self.monitors[tier] = stats.Monitor(
                    k / n, CONTACT_TOLERANCE, alpha=ALPHA, method=MONITOR_METHOD, arl=ARL
                )
            st = self.monitors[tier].update(y)
            ev = st.log_evidence if st.log_evidence is not None else math.nan
            rate = 1.0 - float(y.mean()) if len(y) else math.nan
            self.history[tier].append((d + SUPPORT_LAG_DAYS, st.lower, st.upper, ev, rate))
            if st.alarm and self.alarms[tier] is None and d + SUPPORT_LAG_DAYS < self.days:
                self.alarms[tier] = d + SUPPORT_LAG_DAYS


def daily_interval_alarms(report: Any, onset: int) -> dict[str, int | None]:
    """Per tier: the first day after the launch window whose 95% design-based interval lies entirely
    below the tier's launch quality minus the tolerance (the same rule as arm (a)'s dashboard,
    applied per tier; like it, no guarantee against false alarms over many days)."""
    qd = report.quality_daily
    out: dict[str, int | None] = {}
    for tier in report.tiers:
        sub = qd[qd["tier"] == tier].sort_values("day")
        launch = sub[sub["day"] < onset]
        w = launch["reviews"].to_numpy(float)
        m = launch["mean"].to_numpy(float)
        ok = np.isfinite(m) & (w > 0)
        if not ok.any():
            out[str(tier)] = None
            continue
        base = float(np.sum(w[ok] * m[ok]) / np.sum(w[ok]))
        late = sub[(sub["day"] >= onset) & (sub["upper"] < base - TOLERANCE)]
        out[str(tier)] = int(late["day"].iloc[0]) if len(late) else None
    return out


def _first_alarm(report: Any, onset: int, contacts: ContactMonitors) -> tuple[int | None, str]:
    """The earliest alarm of the monitors with a false-alarm guarantee (e-detectors): the
    audit's per-tier review monitors (and shadow gap), then the support-contact monitors. The
    per-tier daily-interval rule (:func:`daily_interval_alarms`) is reported, not counted."""
    best: tuple[int | None, str] = (None, "")
    cands = [(day, f"{name} review monitor") for name, day in report.alarms().items()]
    cands += [(day, f"{name} support-contact monitor") for name, day in contacts.alarms.items()]
    for day, name in cands:
        if day is not None and (best[0] is None or day < best[0]):
            best = (day, name)
    return best


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
        bad, contact, thumbs = _outcomes(corpus, traffic, d, cheap)
        no = np.zeros(len(idx), bool)
        cost = float(np.where(cheap, PRICE_CHEAP, PRICE_CAPABLE).sum())
        _tally(arm, d, cheap, bad, contact, thumbs, no, cost)
        if monitoring == "blended":
            rng = np.random.default_rng([cfg.seed, 4, d])
            pick = rng.choice(len(idx), min(cfg.reviews, len(idx)), replace=False)
            blended_y.append((~bad[pick]).astype(float))
        else:
            _tierscope_day(mon, cfg, d, corpus, traffic, cheap, no, bad, None)
            contacts.update(d, cheap, contact)
        if progress is not None:
            progress.update(1)
    if monitoring == "blended":
        arm.detail.update(_blended_monitoring(blended_y, cfg, corpus, traffic))
        arm.alarm_day, arm.alarm_monitor = arm.detail["alarm_day"], arm.detail["alarm_rule"]
    else:
        _finish_tierscope(arm, mon, contacts, cfg, corpus)
    return arm


def _finish_tierscope(
    arm: ArmRun, mon: DayMonitoring, contacts: ContactMonitors, cfg: DemoConfig, corpus: Corpus
) -> None:
    """Audit a tierscope arm's reviewed decisions and set its first counted alarm."""
    report = _audit(mon, cfg, corpus)
    arm.detail["audit"] = report
    arm.detail["contacts"] = contacts
    arm.alarm_day, arm.alarm_monitor = _first_alarm(report, min(cfg.onset, cfg.days), contacts)


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
        bad, contact, thumbs = _outcomes(corpus, traffic, d, accepted)
        escalated = ~accepted
        rng = np.random.default_rng([cfg.seed, 5, d])
        shadow = accepted & (rng.random(len(idx)) < SHADOW_RATE)
        cheap_calls = len(idx) if report.feasible else 0
        cost = float(cheap_calls * PRICE_CHEAP + (escalated.sum() + shadow.sum()) * PRICE_CAPABLE)
        _tally(arm, d, accepted, bad, contact, thumbs, escalated, cost)
        _tierscope_day(mon, cfg, d, corpus, traffic, accepted, escalated, bad, shadow, report.feasible)
        contacts.update(d, accepted, contact)
        if progress is not None:
            progress.update(1)
    _finish_tierscope(arm, mon, contacts, cfg, corpus)
    return arm


def _blended_monitoring(
    ys: list[FloatArray], cfg: DemoConfig, corpus: Corpus, traffic: Traffic
) -> dict[str, Any]:
    """The playbook's instruments: a daily blended number, a blended monitor, a static suite."""
    base_days = min(cfg.onset, cfg.days)
    base = float(np.mean(np.concatenate(ys[:base_days])))
    daily = [stats.proportion_interval(float(y.sum()), float(len(y))) for y in ys]
    dashboard = next((d for d in range(base_days, cfg.days) if daily[d].upper < base - TOLERANCE), None)
    monitor = stats.Monitor(base, TOLERANCE, alpha=ALPHA, method=MONITOR_METHOD, arl=ARL)
    seq_day = None
    for d in range(base_days, cfg.days):
        st = monitor.update(ys[d])
        if st.alarm and seq_day is None:
            seq_day = d
    # the static regression suite: curated before routing, from the launch mix, on the cheap tier
    rng = np.random.default_rng([cfg.seed, 6])
    suite = rng.choice(len(corpus.texts), cfg.suite_size, p=_mix(corpus, LAUNCH_FLAGGED_WEIGHT, 0.0))
    weekly = []
    for w in range((cfg.days + 6) // 7):
        wr = np.random.default_rng([cfg.seed, 7, w])
        weekly.append(float(np.mean(wr.random(len(suite)) >= corpus.cheap_fail[suite])))
    suite_day = next((7 * w + 6 for w in range(1, len(weekly)) if weekly[w] < weekly[0] - TOLERANCE), None)
    # Counted like arms (b)/(c): only instruments with a false-alarm guarantee (the monitor) and
    # the fixed suite; the daily-interval rule is reported, not counted.
    counted = ((seq_day, "blended monitor"), (suite_day, "regression suite"))
    cands = [(d, r) for d, r in counted if d is not None]
    first = min(cands) if cands else (None, "")
    return {
        "baseline": base,
        "daily": daily,
        "dashboard_day": dashboard,
        "monitor_day": seq_day,
        "suite_weekly": weekly,
        "suite_day": suite_day,
        "alarm_day": first[0],
        "alarm_rule": first[1],
    }


# ----------------------------------------------------------------------------- drift


def drift(corpus: Corpus, traffic: Traffic, cfg: DemoConfig) -> dict[str, Any]:
    """Daily and weekly PSI of the router's confidence vs its training histogram and the launch weeks."""
    edges = corpus.reference_edges
    ref = corpus.reference_counts
    inner = edges[1:-1]

    def hist(d0: int, d1: int) -> FloatArray:
        c = np.concatenate([corpus.confidence[traffic.idx[d]] for d in range(d0, d1)])
        return np.bincount(np.searchsorted(inner, c, side="right"), minlength=len(ref)).astype(float)

    base_days = min(cfg.onset, cfg.days)
    launch = hist(0, base_days)
    daily_train = [stats.psi(ref, hist(d, d + 1)) for d in range(cfg.days)]
    daily_launch = [stats.psi(launch, hist(d, d + 1)) for d in range(cfg.days)]
    weeks = (cfg.days + 6) // 7
    weekly_train = [stats.psi(ref, hist(7 * w, min(7 * w + 7, cfg.days))) for w in range(weeks)]
    weekly_launch = [stats.psi(launch, hist(7 * w, min(7 * w + 7, cfg.days))) for w in range(weeks)]
    warn = next((d for d in range(base_days, cfg.days) if daily_launch[d] >= PSI_WARN), None)
    return {
        "daily_train": daily_train,
        "daily_launch": daily_launch,
        "weekly_train": weekly_train,
        "weekly_launch": weekly_launch,
        "warn_day": warn,
    }


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


# ----------------------------------------------------------------------------- the run


@dataclass
class DemoResult:
    """Everything the summary, the HTML report and the tests need."""

    config: DemoConfig
    corpus: Corpus
    traffic: Traffic
    arms: list[ArmRun]
    allcap: Counterfactual
    setup: CascadeSetup
    drift: dict[str, Any]
    frontier: dict[str, Any]
    cascade_mismatches: int
    seconds: float
    truth: dict[str, Any]


def _truth(corpus: Corpus, traffic: Traffic, cfg: DemoConfig) -> dict[str, Any]:
    """Ground truth the monitors never see: per day, the pre-router's cheap share and the expected
    cheap-tier quality and support-contact rate under the day's sampling mix, and the first days
    on which those expectations move past the monitors' tolerances (the drop becomes material)."""
    pre = [corpus.routed_cheap[i] for i in traffic.idx]
    cheap_share = [float(p.mean()) for p in pre]
    flagged_share = [float(corpus.flagged[i][p].mean()) for i, p in zip(traffic.idx, pre, strict=True)]
    c = corpus.routed_cheap
    contact = corpus.cheap_fail * corpus.support_bad + (1.0 - corpus.cheap_fail) * SUPPORT_GIVEN_GOOD
    quality, contact_rate = [], []
    for d in range(len(traffic.idx)):
        p = traffic.mix(corpus, d)[c]
        quality.append(float(np.dot(p, 1.0 - corpus.cheap_fail[c]) / p.sum()))
        contact_rate.append(float(np.dot(p, contact[c]) / p.sum()))
    base = min(cfg.onset, cfg.days)
    q0, c0 = float(np.mean(quality[:base])), float(np.mean(contact_rate[:base]))
    q_day = next((d for d in range(base, cfg.days) if quality[d] < q0 - TOLERANCE), None)
    c_day = next((d for d in range(base, cfg.days) if contact_rate[d] > c0 + CONTACT_TOLERANCE), None)
    return {
        "cheap_share": cheap_share,
        "flagged_share_of_cheap": flagged_share,
        "cheap_quality_expected": quality,
        "cheap_contact_expected": contact_rate,
        "quality_material_day": q_day,
        "contact_material_day": c_day,
    }


def run_demo(cfg: DemoConfig, router: Any = None, log: Callable[[str], None] = print,
             progress: bool = True, corpus: Corpus | None = None) -> DemoResult:  # fmt: skip
    """Run the three arms and return the results (no printing beyond ``log``).

    ``corpus``: reuse an already routed corpus (:func:`build_corpus`) instead of routing again.
    """
    from tqdm import tqdm

    from ..routing.router import Router

    started = time.perf_counter()
    if corpus is None:
        corpus = build_corpus(router if router is not None else Router.default(), cfg.quick, log)
    log(f"routed in {corpus.route_seconds:.1f} s; sampling {cfg.days} days x {cfg.per_day:,} queries ...")
    traffic = generate_traffic(corpus, cfg)
    setup = calibrate_cascade(corpus, cfg)
    mismatches = check_cascade_equivalence(corpus, setup, traffic, n=min(300, cfg.per_day))
    allcap = counterfactual(corpus, traffic)
    bar = tqdm(total=cfg.days * 3, desc="simulating arms (days)", disable=not progress, file=sys.stderr)
    arms: list[ArmRun] = []
    lag = RESPONSE_LAG + 1
    for kind in ("blended", "tierscope"):
        first = run_prerouter(corpus, traffic, cfg, None, kind, bar)
        if first.alarm_day is not None and first.alarm_day + lag < cfg.days:
            bar.total += cfg.days
            again = run_prerouter(corpus, traffic, cfg, first.alarm_day + lag, kind, bar)
            assert again.alarm_day == first.alarm_day or kind == "blended"
            again.alarm_day, again.alarm_monitor = first.alarm_day, first.alarm_monitor
            again.detail["no_response"] = first.detail
            first = again
        arms.append(first)
    cas = run_cascade(corpus, traffic, cfg, setup, None, bar)
    if cas.alarm_day is not None and cas.alarm_day + lag < cfg.days:
        bar.total += cfg.days
        again = run_cascade(corpus, traffic, cfg, setup, cas.alarm_day + lag, bar)
        again.alarm_day, again.alarm_monitor = cas.alarm_day, cas.alarm_monitor
        again.detail["no_response"] = cas.detail
        cas = again
    arms.append(cas)
    bar.close()
    return DemoResult(
        config=cfg,
        corpus=corpus,
        traffic=traffic,
        arms=arms,
        allcap=allcap,
        setup=setup,
        drift=drift(corpus, traffic, cfg),
        frontier=frontier(corpus, traffic, cfg, setup),
        cascade_mismatches=mismatches,
        seconds=time.perf_counter() - started,
        truth=_truth(corpus, traffic, cfg),
    )


# ----------------------------------------------------------------------------- summary


def _fmt_day(d: int | None, onset: int) -> str:
    if d is None:
        return "never"
    return f"day {d} ({d - onset:+d} vs onset)"


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

        def q(good: IntArray, n: IntArray, s: slice) -> float:
            den = float(n[s].sum())
            return float(good[s].sum()) / den if den else math.nan

        rows.append(
            {
                "arm": a.label,
                "inference_vs_all_capable": float(a.inference_cost.sum()) / base_inf,
                "cheap_quality_launch": q(a.cheap_good, a.cheap_n, launch),
                "cheap_quality_after": q(a.cheap_good, a.cheap_n, after),
                "capable_quality_after": q(a.capable_good, a.capable_n, after),
                "quality_after": q(a.good, a.cheap_n + a.capable_n, after),
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


def summary(res: DemoResult) -> str:
    """The terminal summary."""
    cfg = res.config
    rows = arm_rows(res)
    dr = res.drift
    tr = res.truth
    s = res.setup.report
    ramp_end = min(cfg.onset + cfg.ramp_days, cfg.days - 1)
    lines = [
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
        f"prices: capable ${PRICE_CAPABLE:.3f}/query, cheap ${PRICE_CHEAP:.3f}; support contact "
        f"${COST_PER_CONTACT:.2f}; tolerance {TOLERANCE:.2f} on quality, {CONTACT_TOLERANCE:.2%} on a tier's "
        f"contact rate; monitors: e-detectors, >= {ARL:,.0f} days between false alarms each on average; "
        f"{cfg.reviews} reviews/day",
        f"cascade: isotonic calibration + choose_threshold(eps={EPSILON}, delta={DELTA}) -> threshold "
        f"{s.threshold:.3f} (calibration acceptance {s.acceptance_rate:.1%}, Clopper-Pearson bound "
        f"{s.upper_bound:.3f}); shadow {SHADOW_RATE:.0%}; Cascade-class check: {res.cascade_mismatches} "
        "mismatches on 300 queries",
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
            f"{r['quality_after']:6.3f} {_fmt_day(r['alarm_day'], cfg.onset):>22s} {r['contacts']:8,d} "
            f"{r['net_vs_all_capable']:9.0%}"
        )
    lines.append("")
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
    lines.append(
        "each instrument's first alarm in the run without a response (after an arm responds, the drop it "
        "would have gone on to see is mostly gone):"
    )
    for a in res.arms[1:]:
        src = a.detail.get("no_response", a.detail)
        rep = src["audit"]
        mons = "; ".join(
            f"{k if k.startswith('shadow gap') else k + ' review'} {_fmt_day(v, cfg.onset)}"
            for k, v in rep.alarms().items()
        )
        con = "; ".join(
            f"{k} support-contact {_fmt_day(v, cfg.onset)}" for k, v in src["contacts"].alarms.items()
        )
        daily = "; ".join(
            f"{k} {_fmt_day(v, cfg.onset)}" for k, v in daily_interval_alarms(rep, cfg.onset).items()
        )
        lines.append(f"({a.name})'s monitors: {mons}; {con}")
        lines.append(f"    (per-tier daily-interval rule, not counted, no false-alarm guarantee: {daily})")
    bl = res.arms[0].detail.get("no_response", res.arms[0].detail)
    lines.append(
        f"(a)'s instruments: blended baseline {bl['baseline']:.3f}; "
        f"blended monitor {_fmt_day(bl['monitor_day'], cfg.onset)}; "
        f"static suite pass rate {min(bl['suite_weekly']):.3f}..{max(bl['suite_weekly']):.3f} "
        f"({_fmt_day(bl['suite_day'], cfg.onset)})"
    )
    lines.append(
        "    (blended daily-interval rule, not counted, no false-alarm guarantee: "
        f"{_fmt_day(bl['dashboard_day'], cfg.onset)})"
    )
    qd, cd = tr["quality_material_day"], tr["contact_material_day"]
    lines.append(
        "ground truth (simulation only, no monitor sees it): under pre-routing the cheap tier's expected "
        f"quality {tr['cheap_quality_expected'][0]:.3f} -> {tr['cheap_quality_expected'][-1]:.3f} (first "
        f"below launch - {TOLERANCE}: {_fmt_day(qd, cfg.onset)}); its expected support-contact rate "
        f"{tr['cheap_contact_expected'][0]:.2%} -> {tr['cheap_contact_expected'][-1]:.2%} (first above "
        f"launch + {CONTACT_TOLERANCE:.2%}: {_fmt_day(cd, cfg.onset)})"
    )
    lines.append(
        "confidence drift (router, all traffic): weekly PSI vs training "
        + " ".join(f"{v:.3f}" for v in dr["weekly_train"])
        + f"; daily PSI vs launch weeks >= {PSI_WARN}: {_fmt_day(dr['warn_day'], cfg.onset)}"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- HTML


def _png(fig: Any) -> str:
    from ..quality.report import png_data_uri

    return png_data_uri(fig)


def figures(res: DemoResult) -> dict[str, str]:
    """PNG data URIs (data:image/png;base64,...): per-tier quality over time, alarms, drift, frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = res.config
    out: dict[str, str] = {}
    days = np.arange(cfg.days)
    # 1. per-tier quality with intervals (arm b's audit) vs truth, and the blended number (arm a)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, arm in zip(axes, res.arms[1:], strict=True):
        qd = arm.detail["audit"].quality_weekly
        for tier, color in (("cheap", "tab:red"), ("capable", "tab:blue")):
            sub = qd[qd["tier"] == tier]
            x = sub["week"].to_numpy(float) * 7 + 3
            ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["lower"], sub["upper"] - sub["mean"]],
                        fmt="o", color=color, capsize=3, label=f"{tier}: weekly estimate (95%)")  # fmt: skip
            n = arm.cheap_n if tier == "cheap" else arm.capable_n
            g = arm.cheap_good if tier == "cheap" else arm.capable_good
            ax.plot(days, g / np.maximum(n, 1), color=color, alpha=0.4, lw=1, label=f"{tier}: truth (daily)")
        ax.axvline(cfg.onset, color="k", ls=":", lw=1)
        material = res.truth["quality_material_day"]
        if material is not None:
            label = f"cheap drop material (truth, day {material})"
            ax.axvline(material, color="tab:red", ls="--", lw=1, label=label)
        if arm.alarm_day is not None:
            ax.axvline(arm.alarm_day, color="tab:orange", lw=2, label=f"first alarm (day {arm.alarm_day})")
        ax.set_title(arm.label)
        ax.set_xlabel("day")
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("share of acceptable answers")
    out["quality"] = _png(fig)
    # 2. alarm timeline: blended daily number, per-tier monitor bounds
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    bl = res.arms[0].detail
    est = np.array([i.estimate for i in bl["daily"]])
    lo = np.array([i.lower for i in bl["daily"]])
    hi = np.array([i.upper for i in bl["daily"]])
    ax = axes[0]
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
    ax.axvline(cfg.onset, color="k", ls=":", lw=1)
    ax.set_title("(a) what the playbook team saw")
    ax.set_xlabel("day")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    line_at = math.log(ARL)
    for arm, ls in zip(res.arms[1:], ("-", "--"), strict=True):
        rep = arm.detail["audit"]
        hist = rep.monitor_history
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
    ax.axhline(line_at, color="tab:red", ls="--", lw=1, label=f"alarm: ln ARL = ln {ARL:,.0f}")
    ax.axvline(cfg.onset, color="k", ls=":", lw=1)
    ax.set_ylabel("e-detector evidence ln M (clipped)")
    ax.set_title("(b)/(c) per-tier e-detectors (responses change the later curves)")
    ax.set_xlabel("day (contacts are joined 3 days after the answer)")
    ax.legend(fontsize=6, loc="upper left")
    out["alarms"] = _png(fig)
    # 2b. support contacts joined to routing decisions, per tier (census): the daily contact rate
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
    ax.axvline(cfg.onset, color="k", ls=":", lw=1)
    ax.set_xlim(0, cfg.days)
    ax.set_ylabel("support contacts per answer")
    ax.set_xlabel(f"day (a contact is joined {SUPPORT_LAG_DAYS} days after the answer)")
    ax.set_title(f"(b)/(c) support contacts per tier; dotted: launch rate + {CONTACT_TOLERANCE:.2%}")
    ax.legend(fontsize=7, loc="upper left")
    out["contacts"] = _png(fig)
    # 3. drift
    fig, ax = plt.subplots(figsize=(8, 3.6))
    dr = res.drift
    ax.plot(days, dr["daily_train"], label="daily PSI vs router training histogram")
    ax.plot(days, dr["daily_launch"], label="daily PSI vs launch weeks")
    ax.axhline(PSI_WARN, color="tab:red", ls="--", lw=1, label=f"warning {PSI_WARN}")
    ax.axvline(cfg.onset, color="k", ls=":", lw=1)
    ax.set_xlabel("day")
    ax.set_ylabel("PSI of router confidence")
    ax.legend(fontsize=8)
    ax.set_title("routing-confidence drift (real router outputs)")
    out["drift"] = _png(fig)
    # 4. frontier
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fr = res.frontier
    c = np.array(fr["cascade"])
    p = np.array(fr["prerouter"])
    ax.plot(c[:, 1], c[:, 2], "-o", ms=3, label="cascade: threshold sweep")
    ax.plot(p[:, 1], p[:, 2], "-s", ms=3, label="pre-router: min-confidence sweep")
    rows = arm_rows(res)
    for r in rows[:-1]:
        ax.plot(r["inference_vs_all_capable"], r["quality_after"], "*", ms=12, label=r["arm"])
    ax.plot(1.0, fr["capable_quality"], "kD", label="all capable")
    ax.set_xlabel("inference cost / all-capable")
    ax.set_ylabel(f"quality after the shift (days {fr['from_day']}+)")
    ax.legend(fontsize=7)
    ax.set_title("cost-quality frontier")
    out["frontier"] = _png(fig)
    return out


def render_html(res: DemoResult, text: str) -> str:
    """A self-contained HTML report (figures as base64 PNG)."""
    import html

    figs = figures(res)
    caps = {
        "quality": "Per-tier quality: weekly design-based estimates from the reviews (95% intervals) and the "
        "simulation truth.",
        "alarms": "Alarm timeline: the playbook's blended number vs the evidence of tierscope's per-tier "
        "e-detectors (reviews and support contacts). With no change, ln M creeps up like ln(days) by design "
        "(Shiryaev-Roberts: M minus the day count is a supermartingale); an alarm needs ln 1000.",
        "contacts": "Support contacts joined to the routing decisions, per tier: the post-mortem's "
        "missing link.",
        "drift": "Confidence drift: PSI of the real router's confidence distribution.",
        "frontier": "Cost-quality frontier after the shift: the arms and the threshold sweeps.",
    }
    body = "".join(
        f"<h2>{k}</h2><p>{html.escape(caps[k])}</p><img alt='{k}' src='{v}'/>" for k, v in figs.items()
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


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (used by ``tierscope demo``)."""
    parser.add_argument("--days", type=int, default=None, help="days to simulate (default 84; quick 28)")
    parser.add_argument(
        "--per-day", type=int, default=None, help="queries a day (default 40,000; quick 5,000)"
    )
    parser.add_argument("--seed", type=int, default=DemoConfig.seed)
    parser.add_argument("--html", default="demo_report.html", help="HTML report file name ('' for none)")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the HTML report")
    parser.add_argument("--quick", action="store_true", help="small sizes (BANKING77 test split, 28 x 5,000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-shift",
        action="store_true",
        help="keep the launch mix all run (a false-alarm check: no alarm expected)",
    )


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    quick = bool(args.quick)
    days = args.days if args.days is not None else (28 if quick else 84)
    per_day = args.per_day if args.per_day is not None else (5_000 if quick else 40_000)
    if days < 2 or per_day < 1:
        raise ValueError("--days must be >= 2 and --per-day >= 1")
    return DemoConfig(
        days=days,
        per_day=per_day,
        seed=int(args.seed),
        onset=min(14, days // 2),
        ramp_days=7 if quick else 21,
        suite_size=2_000 if quick else 12_000,
        calibration_size=6_000,
        quick=quick,
        shift=not bool(getattr(args, "no_shift", False)),
    )


def main(args: argparse.Namespace) -> int:
    """Entry point for ``tierscope demo``."""
    cfg = config_from_args(args)
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)  # noqa: E731
    res = run_demo(cfg, log=log, progress=not args.no_progress)
    log(f"runtime {res.seconds:.1f} s (routing {res.corpus.route_seconds:.1f} s)")
    text = summary(res)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    record = json.dumps(summary_record(res), indent=2, default=_numpy_to_json)
    (out / "summary.json").write_text(record + "\n", encoding="utf-8")
    if args.html:
        path = out / args.html
        path.write_text(render_html(res, text), encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _numpy_to_json(value: Any) -> Any:
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
    }


def _cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tierscope.demo")
    add_arguments(parser)
    return main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(_cli())
