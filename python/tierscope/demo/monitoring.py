"""The arms' instruments: tierscope's monitoring (stratified review plans, the audit's per-tier
monitors and shadow gap, per-tier support-contact monitors, confidence drift) and the playbook's
(a blended number, a blended monitor and a static regression suite)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import stats
from ..exceptions import InvalidInputError
from .config import (
    ALPHA,
    ARL,
    CONFIDENCE_BANDS,
    CONTACT_TOLERANCE,
    DETECTION_TARGET_DAYS,
    JUDGE_ID,
    MONITOR_METHOD,
    MONITOR_TARGET,
    OVERSAMPLE,
    PRICE_CAPABLE,
    PRICE_CHEAP,
    PSI_WARN,
    RESTART_EVERY,
    SHADOW_RATE,
    START,
    SUPPORT_LAG_DAYS,
    TOLERANCE,
    BoolArray,
    DemoConfig,
    FloatArray,
    JudgeModel,
)
from .simulation import LAUNCH_FLAGGED_WEIGHT, Corpus, Traffic, sampling_mix

__all__ = [
    "ContactMonitors",
    "DayMonitoring",
    "audit_monitoring",
    "blended_monitoring",
    "counted_alarms",
    "daily_interval_alarms",
    "detection_limit",
    "drift",
    "first_counted_alarm",
    "judge_daily_widths",
    "record_tierscope_day",
]

# ----------------------------------------------------------------------------- tierscope's reviews


def _request_ids(d: int, n: int) -> npt.NDArray[np.object_]:
    return np.char.add(f"d{d:03d}-", np.char.zfill(np.arange(n).astype(str), 6)).astype(object)


@dataclass
class DayMonitoring:
    """What tierscope's monitoring keeps per day (reviewed/shadowed rows only)."""

    decisions: list[Any] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)
    judge_calls: list[int] = field(default_factory=list)
    """Judge calls per day (the judged sample plus the reviewed answers it did not cover)."""
    census: list[dict[str, Any]] = field(default_factory=list)
    """Per tier and day, counts over every answer (the audit's ``census``: the denominators the
    reviewed rows alone lack)."""

    def count_day(self, d: int, cheap: BoolArray, contact: BoolArray, thumbs: BoolArray) -> None:
        """Add day ``d``'s census rows: answers, answers followed by a contact, thumbs-down, per tier."""
        for tier, mask in (("cheap", cheap), ("capable", ~cheap)):
            self.census.append(
                {"day": d, "tier": tier, "answers": int(mask.sum()),
                 "support_contacts": int((contact & mask).sum()), "thumbs_down": int((thumbs & mask).sum())}
            )  # fmt: skip


def record_tierscope_day(
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
    """Plan day ``d``'s reviews from its full decisions table and keep the reviewed (and shadowed)
    decisions with their outcomes in ``mon``."""
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
    g_all = np.ones(n)
    g_all[np.searchsorted(ids.astype(str), plan.frame["request_id"].to_numpy(dtype=str))] = plan.frame[
        "oversample_score"
    ]
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
    keep |= _judge_day(mon, cfg, d, corpus, idx, ids, cheap, bad, pos, g_all)
    mon.decisions.append(frame.loc[keep])


def judge_scores(
    corpus: Corpus, idx: npt.NDArray[np.int_], bad: BoolArray, u: FloatArray, judge: JudgeModel
) -> FloatArray:
    """The simulated judge's verdicts (1 = acceptable) on answers to texts ``idx`` (see
    :mod:`.config`: by default it accepts most fluent wrong answers to the flagged intents)."""
    accept = np.where(
        ~bad, judge.accept_good, np.where(corpus.flagged[idx], judge.accept_fluent_bad, judge.accept_bad)
    )
    return (u < accept).astype(float)


def _judge_day(
    mon: DayMonitoring,
    cfg: DemoConfig,
    d: int,
    corpus: Corpus,
    idx: npt.NDArray[np.int_],
    ids: npt.NDArray[np.object_],
    cheap: BoolArray,
    bad: BoolArray,
    reviewed: npt.NDArray[np.int_],
    oversample: FloatArray,
) -> BoolArray:
    """Judge day ``d``: a Poisson ``cfg.judge.share`` sample of cheap answers (π logged) and every reviewed
    answer (``sample: review``); the judge events go to ``mon``, each judged answer's detail with the
    review plan's oversampling score (``oversample``: what the tail-weighted judge-assisted monitor
    weights the judged mean by). Returns the judged-answer mask and counts the judge calls in
    ``mon.judge_calls``."""
    import pandas as pd

    rng = np.random.default_rng([cfg.seed, 8, d])
    u, pick = rng.random(len(idx)), rng.random(len(idx))
    f = judge_scores(corpus, idx, bad, u, cfg.judge)
    judged = cheap & (pick < cfg.judge.share)
    jd = np.flatnonzero(judged)
    extra = np.setdiff1d(reviewed, jd)  # reviewed answers the sample did not already judge
    mon.judge_calls.append(len(jd) + len(extra))
    mon.outcomes.append(
        pd.DataFrame(
            {
                "request_id": np.concatenate([ids[jd], ids[reviewed]]),
                "kind": "judge",
                "score": np.concatenate([f[jd], f[reviewed]]),
                "reviewer": JUDGE_ID,
                "inclusion_prob": np.concatenate([np.full(len(jd), cfg.judge.share), np.ones(len(reviewed))]),
                "detail": [json.dumps({"oversample": float(g)}) for g in oversample[jd]]
                + [json.dumps({"sample": "review"})] * len(reviewed),
            }
        )
    )
    return judged


def audit_monitoring(mon: DayMonitoring, cfg: DemoConfig, corpus: Corpus) -> Any:
    """Run :func:`~tierscope.quality.audit.run.audit` on the reviewed and shadowed decisions, with
    the day's census (every answer's contact and thumbs-down, per tier) as the rates' denominators."""
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
        census=pd.DataFrame(mon.census) if mon.census else None,
    )


def judge_daily_widths(mon: DayMonitoring, onset: int, tier: str = "cheap") -> dict[str, Any]:
    """Per day, the tier's PPI++ and human-only standard errors from that day's reviews and judged
    answers (:class:`tierscope.stats.PpiAggregate`, one domain per day); medians over the days and
    the launch-window (days before ``onset``) ρ² of review label and judge score."""
    import pandas as pd

    dec = pd.concat(mon.decisions, ignore_index=True)
    out = pd.concat(mon.outcomes, ignore_index=True)
    day = dec["request_id"].str.slice(1, 4).astype(int)  # the day in :func:`_request_ids`' "dNNN-..."
    tiers = dict(zip(dec["request_id"], dec["answered_by"], strict=True))
    days = dict(zip(dec["request_id"], day, strict=True))
    out = out[out["request_id"].map(tiers) == tier]
    judge = out[out["kind"] == "judge"]
    for_review = judge["detail"].fillna("").str.contains('"review"')
    sample = judge[~for_review]
    f_of = judge.groupby("request_id")["score"].mean()
    rev = out[out["kind"] == "review"]
    f_rev = rev["request_id"].map(f_of).to_numpy(float)
    agg = stats.PpiAggregate()
    agg.add_judged(sample["score"].to_numpy(float), sample["inclusion_prob"].to_numpy(float),
                   sample["request_id"].map(days).to_numpy(np.int64))  # fmt: skip
    agg.add_reviews(rev["score"].to_numpy(float), f_rev, rev["inclusion_prob"].to_numpy(float),
                    rev["request_id"].map(days).to_numpy(np.int64))  # fmt: skip
    est = [e for e in agg.estimates() if e.defined and e.human_se > 0]
    if not est:
        raise InvalidInputError(
            f"invalid `mon`: no day with both judged answers and reviews on tier {tier!r}"
        )
    se = np.array([e.se for e in est])
    hse = np.array([e.human_se for e in est])
    rev_days = rev["request_id"].map(days).to_numpy(int)
    launch = rev_days < onset
    y, f = rev["score"].to_numpy(float)[launch], f_rev[launch]
    rho2 = float(np.corrcoef(y, f)[0, 1] ** 2)
    return {
        "days": len(est),
        "reviews_per_day": float(np.median([e.n_human for e in est])),
        "judged_per_day": float(np.median([e.n_judged for e in est])),
        "human_se": float(np.median(hse)),
        "ppi_se": float(np.median(se)),
        "width_ratio": float(np.median(se / hse)),
        "lam": float(np.median([e.lam for e in est])),
        "rho2_launch": rho2,
    }


def detection_limit(
    truth: dict[str, Any], cfg: DemoConfig, mon: DayMonitoring, widths: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """What it would take to see the cheap tier's drop within DETECTION_TARGET_DAYS of the
    ground-truth quality day, by :func:`tierscope.stats.oracle_alarm_day`: per target quality
    (``"traffic"``: the ground truth's; ``"tail_weighted"``: what the review and judge-assisted
    monitors follow), the
    day it first falls below launch − TOLERANCE, the day an oracle expects to alarm with the run's
    cheap reviews a day (alone, and with the judge's daily variance cut: ``widths``, by default
    :func:`judge_daily_widths` of ``mon``), and the daily reviews it would need to expect an alarm
    by the target day (alone and judge-assisted). None without a ground-truth quality day."""
    q_day = truth["quality_material_day"]
    if q_day is None:
        return None
    widths = judge_daily_widths(mon, cfg.onset) if widths is None else widths
    base = min(cfg.onset, cfg.days)
    by_day = min(q_day + DETECTION_TARGET_DAYS, cfg.days - 1)
    n, ratio2 = widths["reviews_per_day"], widths["width_ratio"] ** 2
    out: dict[str, Any] = {
        "by_day": by_day,
        "reviews_per_day": n,
        "width_ratio": widths["width_ratio"],
        "widths": widths,
    }
    for target, key in (
        ("traffic", "cheap_quality_expected"),
        ("tail_weighted", "cheap_quality_tail_weighted"),
    ):
        q = np.asarray(truth[key], dtype=np.float64)
        thr = float(np.mean(q[:base])) - TOLERANCE
        var = thr * (1.0 - thr)
        need = stats.oracle_daily_reviews(q, thr, by_day, var, arl=ARL, start=base)
        out[target] = {
            "crossing_day": next((d for d in range(base, cfg.days) if q[d] < thr), None),
            "oracle_day": stats.oracle_alarm_day(q, thr, n, var, arl=ARL, start=base),
            "oracle_day_judge_assisted": stats.oracle_alarm_day(q, thr, n, var * ratio2, arl=ARL, start=base),
            "reviews_needed": need,
            "reviews_needed_judge_assisted": need * ratio2,
        }
    return out


# ----------------------------------------------------------------------------- support contacts


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
        """Join day ``d``'s contacts (``contact``; ``cheap``: answered by the cheap tier) to the monitors."""
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


# ----------------------------------------------------------------------------- alarms


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


def counted_alarms(report: Any, contacts: ContactMonitors) -> dict[str, int | None]:
    """Every counted monitor's first alarm day (None: never): the audit's per-tier review monitors
    (and shadow gap, judge-assisted monitors), then the per-tier support-contact monitors."""
    out = {f"{name} review monitor": day for name, day in report.alarms().items()}
    out.update({f"{name} support-contact monitor": day for name, day in contacts.alarms.items()})
    return out


def first_counted_alarm(report: Any, onset: int, contacts: ContactMonitors) -> tuple[int | None, str]:
    """The earliest alarm of the monitors with a false-alarm guarantee (e-detectors,
    :func:`counted_alarms`). The per-tier daily-interval rule (:func:`daily_interval_alarms`) is
    reported, not counted."""
    best: tuple[int | None, str] = (None, "")
    for name, day in counted_alarms(report, contacts).items():
        if day is not None and (best[0] is None or day < best[0]):
            best = (day, name)
    return best


# ----------------------------------------------------------------------------- the playbook's instruments


def blended_monitoring(ys: list[FloatArray], cfg: DemoConfig, corpus: Corpus) -> dict[str, Any]:
    """The playbook's instruments: a daily blended number, a blended monitor, a static suite.

    ``ys``: each day's simple-random review scores (1 = acceptable answer)."""
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
    suite = rng.choice(len(corpus.texts), cfg.suite_size, p=sampling_mix(corpus, LAUNCH_FLAGGED_WEIGHT, 0.0))
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


# ----------------------------------------------------------------------------- traffic-mix drift


#: The demo's mix-drift tolerance: up to 1% of the cheap tier's traffic may move between regions
#: without counting as drift (the guarantee holds for any tolerance; a larger one alarms later:
#: 2% alarms on the ground-truth quality day with the default seed, see evals/mix_drift).
MIX_TOLERANCE = 0.01


def mix_drift_alarm(corpus: Any, traffic: Any, cfg: DemoConfig) -> dict[str, Any] | None:
    """The pre-router's cheap tier's traffic-mix drift (:func:`tierscope.stats.mix_drift`): its
    region counts over the launch weeks (days before the onset, as the other monitors' baseline)
    against each later day. None when the router has no regions. Counted over the run without a
    response (the response changes which queries the cheap tier gets)."""
    from ..stats.drift import mix_drift, region_counts

    if corpus.region is None or corpus.regions < 2:
        return None
    base = min(cfg.onset, cfg.days)
    counts = [region_counts(corpus.region[i], corpus.regions, corpus.routed_cheap[i]) for i in traffic.idx]
    if base < 1 or base >= cfg.days:
        return None
    res = mix_drift(np.sum(counts[:base], axis=0), np.array(counts[base:]), tolerance=MIX_TOLERANCE,
                    horizon=cfg.days)  # fmt: skip
    day = None if res.alarm_day is None else base + res.alarm_day
    moved = res.moved(res.alarm_day if res.alarm_day is not None else len(counts) - base - 1, top=3)
    # Each moved region's dominant intent among the corpus texts the router puts there (cheap tier).
    top = []
    for j, before, after in moved:
        names, n = np.unique(corpus.intent[(corpus.region == j) & corpus.routed_cheap], return_counts=True)
        top.append((j, before, after, str(names[np.argmax(n)]) if len(n) else ""))
    return {
        "alarm_day": day,
        "tolerance": res.tolerance,
        "effective_tolerance": res.effective_tolerance,
        "alpha": res.alpha + res.reference_alpha,
        "psi_max": float(np.max(res.psi)),
        "chi_square_rejections": int((res.chi_square_p < 0.05).sum()),
        "monitored_days": int(len(res.psi)),
        "moved": top,
    }
