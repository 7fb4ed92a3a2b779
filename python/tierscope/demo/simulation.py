"""The simulated world the arms run in: the real corpus and its router outputs, each day's traffic
(the mix shift from the onset), the cheap and capable tiers' answer outcomes, the all-capable
counterfactual and the ground truth no monitor sees."""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data import DATA_DIR, banking77
from ..exceptions import InvalidInputError
from .config import (
    CONFIDENCE_BANDS,
    CONFIDENT_FAILURE,
    CONTACT_TOLERANCE,
    FLAGGED_CHEAP_SHARE_AFTER,
    OVERSAMPLE,
    PRICE_CAPABLE,
    PRICE_CHEAP,
    SUPPORT_GIVEN_GOOD,
    THUMBS_DOWN_GIVEN_GOOD,
    TOLERANCE,
    BoolArray,
    DemoConfig,
    FloatArray,
    IntArray,
)

__all__ = [
    "LAUNCH_FLAGGED_WEIGHT",
    "Corpus",
    "Counterfactual",
    "Traffic",
    "answer_outcomes",
    "build_corpus",
    "counterfactual",
    "dstc_share",
    "generate_traffic",
    "ground_truth",
    "launch_mix",
    "load_intents",
    "load_texts",
    "sampling_mix",
    "self_evaluation_score",
    "shift_progress",
    "solve_shift",
]

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
    #: Sent to the fallback (capable) tier by the tail threshold (``reason="off_distribution"``).
    off_distribution: BoolArray | None = None
    #: Region of the training distribution per text (the router's ``regions.bin``; -1: none).
    region: IntArray | None = None
    #: Number of the router's regions (0: the router has none).
    regions: int = 0


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
        raise InvalidInputError(f"demo_intents.csv lacks intents {missing[:5]}")
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
        off_distribution=col([r == "off_distribution" for r in batch.reason], dtype=bool),
        region=None if batch.region is None else np.asarray(batch.region, dtype=np.int64),
        regions=int(getattr(router, "regions", 0) or 0),
    )


# ----------------------------------------------------------------------------- traffic

LAUNCH_FLAGGED_WEIGHT = 0.5


def sampling_mix(corpus: Corpus, flagged_weight: float, dstc_share: float) -> FloatArray:
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
    """The flagged intents' share of the router's cheap-tier traffic under sampling mix ``p``."""
    cheap = corpus.routed_cheap
    return float(p[cheap & corpus.flagged].sum() / p[cheap].sum())


def dstc_share(s: float) -> float:
    """DSTC11's share of the traffic at shift progress ``s`` (5% at launch, 10% once complete)."""
    return 0.05 + 0.05 * s


def launch_mix(corpus: Corpus) -> FloatArray:
    """The launch weeks' sampling mix (no shift yet)."""
    return sampling_mix(corpus, LAUNCH_FLAGGED_WEIGHT, dstc_share(0.0))


def solve_shift(corpus: Corpus, s: float = 1.0) -> float:
    """The flagged intents' weight at shift progress ``s`` in [0, 1]: their share of the router's
    cheap-tier traffic moves linearly from its launch value (weight 0.5) to 20% (at ``s = 1``)."""
    if s <= 0.0:
        return LAUNCH_FLAGGED_WEIGHT
    start = _flagged_cheap_share(corpus, launch_mix(corpus))
    target = start + s * (FLAGGED_CHEAP_SHARE_AFTER - start)
    lo, hi = LAUNCH_FLAGGED_WEIGHT, 200.0
    # Bisection on a log scale: the share grows monotonically with the weight.
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if _flagged_cheap_share(corpus, sampling_mix(corpus, mid, dstc_share(s))) < target:
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
        return sampling_mix(corpus, self.flagged_weight[d], dstc_share(self.shift[d]))


def self_evaluation_score(rng: np.random.Generator, cheap_bad: BoolArray) -> FloatArray:
    """Simulated self-evaluation score of the cheap answer (see :mod:`tierscope.demo`)."""
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
        p = sampling_mix(corpus, weights[s], dstc_share(s))
        # The draw order below is part of the seed's contract: changing it changes every number.
        rng = np.random.default_rng([cfg.seed, 1, d])
        idx = rng.choice(len(p), cfg.per_day, p=p).astype(np.int64)
        u = rng.random(cfg.per_day)
        out.idx.append(idx)
        out.u.append(u)
        out.u_capable.append(rng.random(cfg.per_day))
        out.u_support.append(rng.random(cfg.per_day))
        out.u_thumbs.append(rng.random(cfg.per_day))
        out.signal.append(self_evaluation_score(rng, u < corpus.cheap_fail[idx]))
        out.shift.append(s)
        out.flagged_weight.append(weights[s])
    return out


# ----------------------------------------------------------------------------- the two tiers' outcomes


def answer_outcomes(
    corpus: Corpus, traffic: Traffic, d: int, cheap: BoolArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Day ``d``'s (bad answer, support contact, thumbs-down) per query when the ``cheap`` rows are
    answered by the cheap tier and the others by the capable tier (common random numbers)."""
    idx = traffic.idx[d]
    bad = np.where(
        cheap, traffic.u[d] < corpus.cheap_fail[idx], traffic.u_capable[d] < corpus.capable_fail[idx]
    )
    contact = traffic.u_support[d] < np.where(bad, corpus.support_bad[idx], SUPPORT_GIVEN_GOOD)
    thumbs = traffic.u_thumbs[d] < np.where(bad, corpus.thumbs_bad[idx], THUMBS_DOWN_GIVEN_GOOD)
    return bad, contact, thumbs


@dataclass
class Counterfactual:
    """All traffic on the capable tier (exact, same outcome draws)."""

    n: IntArray
    good: IntArray
    contacts: IntArray
    cost: FloatArray


def counterfactual(corpus: Corpus, traffic: Traffic) -> Counterfactual:
    """The all-capable counterfactual: every query answered by the capable tier."""
    days = len(traffic.idx)
    n = np.zeros(days, np.int64)
    good = np.zeros(days, np.int64)
    contacts = np.zeros(days, np.int64)
    for d in range(days):
        bad, contact, _ = answer_outcomes(corpus, traffic, d, np.zeros(len(traffic.idx[d]), bool))
        n[d], good[d], contacts[d] = len(bad), int((~bad).sum()), int(contact.sum())
    return Counterfactual(n, good, contacts, n.astype(np.float64) * PRICE_CAPABLE)


# ----------------------------------------------------------------------------- ground truth


def ground_truth(corpus: Corpus, traffic: Traffic, cfg: DemoConfig) -> dict[str, Any]:
    """Ground truth the monitors never see: per day, the pre-router's cheap share and the expected
    cheap-tier quality and support-contact rate under the day's sampling mix, and the first days
    on which those expectations move past the monitors' tolerances (the drop becomes material).
    ``cheap_quality_tail_weighted`` is the same quality weighted by the review plan's oversampling
    score (what the tail-weighted review monitors follow)."""
    from ..quality.review_plan import DEFAULT_TAIL_BANDS

    pre = [corpus.routed_cheap[i] for i in traffic.idx]
    cheap_share = [float(p.mean()) for p in pre]
    flagged_share = [float(corpus.flagged[i][p].mean()) for i, p in zip(traffic.idx, pre, strict=True)]
    c = corpus.routed_cheap
    contact = corpus.cheap_fail * corpus.support_bad + (1.0 - corpus.cheap_fail) * SUPPORT_GIVEN_GOOD
    # The review plan's oversampling score g: the audit's tail-weighted review monitors follow Σg·y/Σg.
    g = np.ones(len(c))
    g[corpus.confidence < CONFIDENCE_BANDS[0]] *= OVERSAMPLE["low_confidence"]
    g[corpus.tail >= DEFAULT_TAIL_BANDS[0]] *= OVERSAMPLE["tail"]
    quality, contact_rate, weighted = [], [], []
    for d in range(len(traffic.idx)):
        p = traffic.mix(corpus, d)[c]
        quality.append(float(np.dot(p, 1.0 - corpus.cheap_fail[c]) / p.sum()))
        contact_rate.append(float(np.dot(p, contact[c]) / p.sum()))
        weighted.append(float(np.dot(p * g[c], 1.0 - corpus.cheap_fail[c]) / np.dot(p, g[c])))
    base = min(cfg.onset, cfg.days)
    q0, c0 = float(np.mean(quality[:base])), float(np.mean(contact_rate[:base]))
    q_day = next((d for d in range(base, cfg.days) if quality[d] < q0 - TOLERANCE), None)
    w0 = float(np.mean(weighted[:base]))
    w_day = next((d for d in range(base, cfg.days) if weighted[d] < w0 - TOLERANCE), None)
    c_day = next((d for d in range(base, cfg.days) if contact_rate[d] > c0 + CONTACT_TOLERANCE), None)
    off = corpus.off_distribution if corpus.off_distribution is not None else np.zeros(len(c), bool)
    # Off-distribution escalations: their share of each day's traffic and what they cost over
    # answering them on the cheap tier (price difference only; the quality they buy is in the arms).
    off_share = [float(off[i].mean()) for i in traffic.idx]
    off_cost = [float(off[i].sum()) * (PRICE_CAPABLE - PRICE_CHEAP) for i in traffic.idx]
    return {
        "off_distribution_share": off_share,
        "off_distribution_extra_cost": off_cost,
        "cheap_share": cheap_share,
        "flagged_share_of_cheap": flagged_share,
        "cheap_quality_expected": quality,
        "cheap_quality_tail_weighted": weighted,
        "tail_weighted_material_day": w_day,
        "cheap_contact_expected": contact_rate,
        "quality_material_day": q_day,
        "contact_material_day": c_day,
    }
