"""The per-tier audit: quality, shadow gap, feedback, support contacts, confidence drift, monitors
and total cost, from a decision log.

:func:`audit` joins the routing decisions of a window with their outcomes (reviews logged with
their inclusion probability π, thumbs feedback, shadow verdicts, human-support contacts) and
returns an :class:`AuditReport`: pandas tables (``report.tables()``, ``_repr_html_`` in a
notebook) and a self-contained HTML page (``report.to_html(path)``).

Statistics
    *Quality* per tier, per day and per week, is the Hájek mean of review scores with weights 1/π
    and its design-based interval (:func:`tierscope.stats.estimate`, Poisson design). The
    *blended* row is the unweighted mean of all reviews with a Wilson interval (the single
    number a team without tiers would look at); ``all traffic`` is the design-based estimate.

    *Monitors*: one :class:`tierscope.stats.Monitor` per tier, fed day by day. The stream is a
    two-phase Horvitz–Thompson stream: with c = the day's largest q = π/g (g = the review's
    oversampling score, 1 for ``monitor_target="traffic"``), reviews enter with probability q/c
    among ≈ N·c first-phase units, so the monitored quantity is the g-weighted tier quality
    Σ g·y / Σ g (``"tail_weighted"``, the default: the quality where model choice matters, as the
    review plan's oversampling defines it) or the plain tier mean (``"traffic"``). When all π/g
    are equal the stream is the reviews themselves. By default (``monitor_method="e_detector"``)
    the alarm is a Shiryaev–Roberts e-detector against "quality >= baseline − tolerance", with at
    least ``arl`` days between false alarms on average; with ``"confidence_sequence"`` it fires the
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

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import stats
from ...exceptions import InvalidInputError
from ...log.reader import decisions_source, load_decisions, load_outcomes, tier_column, window
from ..report import AuditReport

__all__ = ["AuditReport", "audit", "load_outcomes"]

FloatArray = npt.NDArray[np.float64]
BLENDED = "blended (all reviews, unweighted)"
ALL_TRAFFIC = "all traffic (design-based)"


# ----------------------------------------------------------------------------- loading


def _reference_hist(reference: Any) -> tuple[FloatArray, FloatArray] | None:
    """(edges, counts) of the training confidence histogram, from a Router or its reference dict."""
    if reference is None:
        return None
    ref = getattr(reference, "reference", reference)
    if not isinstance(ref, Mapping) or "confidence_edges" not in ref or "confidence_counts" not in ref:
        raise InvalidInputError(
            "invalid `reference`: a Router or its reference dict with `confidence_edges` and "
            "`confidence_counts`"
        )
    edges = np.asarray(ref["confidence_edges"], dtype=np.float64)
    counts = np.asarray(ref["confidence_counts"], dtype=np.float64)
    if edges.ndim != 1 or counts.shape != (edges.shape[0] - 1,) or np.any(np.diff(edges) <= 0):
        raise InvalidInputError("invalid `reference`: increasing edges and one count per bin")
    if counts.sum() <= 0:
        raise InvalidInputError("invalid `reference`: the confidence histogram is empty")
    return edges, counts


# ----------------------------------------------------------------------------- the report


def _hajek_by(
    y: FloatArray, pi: FloatArray, groups: Any, expected: Sequence[Any], level: float
) -> dict[Any, Any]:
    """Hájek estimate per group label (undefined groups included)."""
    if len(y) == 0:
        exp = list(expected)
        return {g: None for g in exp}
    g = np.asarray(groups, dtype=object).astype(str)
    est = stats.estimate(
        y, pi, g, g, design="poisson", expected_domains=[str(e) for e in expected], level=level
    )
    return {e: est.domains.get(str(e)) for e in expected}


def _row_from(d: Any) -> dict[str, Any]:
    if d is None or not d.defined:
        nan = math.nan
        return {
            "reviews": 0 if d is None else d.n,
            "mean": nan,
            "lower": nan,
            "upper": nan,
            "se": nan,
            "n_eff": nan,
        }
    return {"reviews": d.n, "mean": d.mean, "lower": d.lower, "upper": d.upper, "se": d.se, "n_eff": d.n_eff}


def _wilson(x: float, n: float, level: float) -> tuple[float, float, float]:
    if n <= 0:
        return math.nan, math.nan, math.nan
    iv = stats.proportion_interval(min(x, n), n, level=level, method="wilson")
    return iv.estimate, iv.lower, iv.upper


def _parse_detail(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        v = json.loads(text)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def _hist(values: FloatArray, edges: FloatArray) -> FloatArray:
    v = values[np.isfinite(values)]
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.float64)


def _binned_drift(ref_counts: FloatArray, prod_counts: FloatArray) -> dict[str, float]:
    n = float(prod_counts.sum())
    m = float(ref_counts.sum())
    if n <= 0:
        return {"n": 0, "psi": math.nan, "js": math.nan, "ks": math.nan, "ks_pvalue": math.nan}
    d = float(np.max(np.abs(np.cumsum(ref_counts) / m - np.cumsum(prod_counts) / n)))
    en = n * m / (n + m)
    p = stats.kolmogorov_sf(max(1, int(round(en))), d) if d > 0 else 1.0
    return {
        "n": int(n),
        "psi": stats.psi(ref_counts, prod_counts),
        "js": stats.jensen_shannon(ref_counts, prod_counts, base=2),
        "ks": d,
        "ks_pvalue": float(p),
    }


def _sample_drift(ref: FloatArray, prod: FloatArray) -> dict[str, float]:
    ref = ref[np.isfinite(ref)]
    prod = prod[np.isfinite(prod)]
    if len(ref) < 2 or len(prod) < 2:
        return {"n": int(len(prod)), "psi": math.nan, "js": math.nan, "ks": math.nan, "ks_pvalue": math.nan}
    ks = stats.ks_2samp(ref, prod, method="asymp")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    edges[0], edges[-1] = min(edges[0], prod.min()), max(edges[-1], prod.max())
    if len(edges) < 3:
        edges = np.array([min(ref.min(), prod.min()), np.median(ref), max(ref.max(), prod.max()) + 1e-12])
    rc, _ = np.histogram(ref, bins=edges)
    pc, _ = np.histogram(prod, bins=edges)
    return {
        "n": int(len(prod)),
        "psi": stats.psi(rc.astype(float), pc.astype(float)),
        "js": stats.jensen_shannon(rc.astype(float), pc.astype(float), base=2),
        "ks": ks.statistic,
        "ks_pvalue": ks.pvalue,
    }


# ----------------------------------------------------------------------------- audit


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
) -> AuditReport:
    """Audit a decision log per tier (see the module docstring for the statistics).

    ``log``: a :class:`~tierscope.decision_log.DecisionLog`, a log directory, or a
    ``(decisions, outcomes)`` pair of pyarrow/pandas tables. ``since``/``until`` filter decisions
    by timestamp (``[since, until)``, UTC). ``reference``: a :class:`~tierscope.router.Router` or
    its ``reference`` dict (training confidence histogram) for drift. ``baseline``: the monitors'
    reference quality on the ``monitor_target`` scale (a number, or tier -> number; default:
    estimated the same way over the first ``baseline_days`` days). ``prices``: tier -> price per
    call, used where a decision has no logged cost and for the all-capable counterfactual
    (default: the mean logged capable cost).
    ``tiers``: the expected tier names (unknown names raise). ``capable_tier``: the tier of the
    all-capable counterfactual (default: the logged ``capable_tier``, else a tier named "capable").
    ``monitor_method``/``arl``: the monitors' alarm rule (:class:`tierscope.stats.Monitor`): the
    default ``"e_detector"`` expects at least ``arl`` days between false alarms per monitor;
    ``"confidence_sequence"`` bounds the probability of any false alarm by ``alpha``.
    """
    import pandas as pd

    for name, v, lo, hi in (
        ("tolerance", tolerance, 0.0, 1.0),
        ("alpha", alpha, 0.0, 1.0),
        ("level", level, 0.0, 1.0),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < float(v) < hi:
            raise InvalidInputError(f"invalid `{name}`: a number in ({lo}, {hi}), got {v!r}")
    if (
        not isinstance(cost_per_contact, (int, float))
        or cost_per_contact < 0
        or not math.isfinite(cost_per_contact)
    ):
        raise InvalidInputError(
            f"invalid `cost_per_contact`: a non-negative number, got {cost_per_contact!r}"
        )
    if not isinstance(support_window_days, (int, float)) or support_window_days < 0:
        raise InvalidInputError(
            f"invalid `support_window_days`: a non-negative number, got {support_window_days!r}"
        )
    if not isinstance(baseline_days, int) or baseline_days < 1:
        raise InvalidInputError(f"invalid `baseline_days`: a positive integer, got {baseline_days!r}")
    if monitor_method not in stats.MONITOR_METHODS:
        raise InvalidInputError(
            f"invalid `monitor_method`: one of {stats.MONITOR_METHODS}, got {monitor_method!r}"
        )
    if isinstance(arl, bool) or not isinstance(arl, (int, float)) or not 1.0 < float(arl) < math.inf:
        raise InvalidInputError(f"invalid `arl`: an average run length in days > 1, got {arl!r}")
    if monitor_target not in ("tail_weighted", "traffic"):
        raise InvalidInputError(
            f"invalid `monitor_target`: 'tail_weighted' or 'traffic', got {monitor_target!r}"
        )
    s, u = window(None, since, until)
    ref_hist = _reference_hist(reference)

    src = decisions_source(log)
    all_dec = load_decisions(src)
    if len(all_dec) == 0:
        raise InvalidInputError("invalid `log`: the log has no decisions")
    dec = all_dec
    if s is not None:
        dec = dec[dec["timestamp"] >= pd.Timestamp(s)]
    if u is not None:
        dec = dec[dec["timestamp"] < pd.Timestamp(u)]
    dec = dec.drop_duplicates("request_id", keep="first").reset_index(drop=True)
    if len(dec) == 0:
        raise InvalidInputError(f"invalid `since`: no decisions in [{s}, {u})")
    dec["tier"] = tier_column(dec).to_numpy()
    present = sorted(set(dec["tier"].tolist()) - {"<none>"})
    if tiers is not None:
        unknown = sorted(set(tiers) - set(present))
        if unknown:
            raise InvalidInputError(f"invalid `tiers`: not in the log: {unknown} (log has {present})")
        tier_list = [str(t) for t in tiers]
    else:
        tier_list = present
    if isinstance(baseline, Mapping):
        bad = [k for k in baseline if k not in present]
        if bad:
            raise InvalidInputError(f"invalid `baseline`: unknown tiers {bad} (log has {present})")
    if capable_tier is None:
        logged = (
            dec["capable_tier"].dropna() if "capable_tier" in dec.columns else pd.Series([], dtype=object)
        )
        capable_tier = (
            str(logged.mode().iloc[0]) if len(logged) else ("capable" if "capable" in present else None)
        )
    elif capable_tier not in present:
        raise InvalidInputError(
            f"invalid `capable_tier`: a tier of the log, got {capable_tier!r} ({present})"
        )
    for k in prices or {}:
        if k not in present and k != capable_tier:
            raise InvalidInputError(f"invalid `prices`: unknown tier {k!r} (log has {present})")

    day0 = (pd.Timestamp(s) if s is not None else dec["timestamp"].min()).floor("D")
    dec["day"] = ((dec["timestamp"] - day0) // pd.Timedelta(days=1)).astype(int)
    n_days = int(dec["day"].max()) + 1
    if u is not None:
        n_days = max(n_days, int(math.ceil((pd.Timestamp(u) - day0) / pd.Timedelta(days=1))))
    day_labels = [(day0 + pd.Timedelta(days=i)).strftime("%Y-%m-%d") for i in range(n_days)]
    dec["week"] = dec["day"] // 7
    n_weeks = (n_days + 6) // 7
    week_labels = [day_labels[7 * w] for w in range(n_weeks)]

    # outcomes ---------------------------------------------------------------------------
    out = load_outcomes(log)
    known_ids = pd.Index(all_dec["request_id"].astype(str).to_numpy(dtype=object))
    if len(out):
        out["request_id"] = out["request_id"].astype(str)
        is_orphan = pd.Series(
            known_ids.get_indexer(out["request_id"].to_numpy(dtype=object)) < 0, index=out.index
        )
    else:
        is_orphan = pd.Series([], dtype=bool)
    orphans = out[is_orphan]
    orphan_table = (
        orphans.groupby("kind").size().rename("orphans").reset_index()
        if len(orphans)
        else pd.DataFrame({"kind": [], "orphans": []})
    )
    cols = ["request_id", "tier", "day", "week", "timestamp"]
    joined = out[~is_orphan].merge(
        dec[cols].rename(columns={"tier": "dtier", "timestamp": "dts"}), on="request_id"
    )
    notes: list[str] = []
    if len(orphans):
        notes.append(f"{len(orphans)} outcome events have no logged decision (orphans; counted, not used)")

    # reviews ----------------------------------------------------------------------------
    rev = joined[joined["kind"] == "review"].copy()
    rev = rev[rev["score"].notna()]
    missing_pi = int(rev["inclusion_prob"].isna().sum())
    if missing_pi:
        notes.append(f"{missing_pi} reviews have no inclusion probability: treated as pi = 1 (census)")
    rev["pi"] = rev["inclusion_prob"].fillna(1.0).astype(float)
    rev["g"] = [float(_parse_detail(t).get("oversample", 1.0)) for t in rev["detail"]] if len(rev) else []
    rev["g"] = rev["g"].clip(lower=1e-9) if len(rev) else rev["g"]
    # one verdict per request: the mean of its reviews
    rev = (
        rev.groupby("request_id", as_index=False).agg(
            score=("score", "mean"),
            pi=("pi", "first"),
            g=("g", "first"),
            tier=("dtier", "first"),
            day=("day", "first"),
            week=("week", "first"),
        )
        if len(rev)
        else pd.DataFrame(columns=["request_id", "score", "pi", "g", "tier", "day", "week"])
    )
    y_all = rev["score"].to_numpy(dtype=float)
    pi_all = rev["pi"].to_numpy(dtype=float)

    answers = dec.groupby("tier").size()
    quality_rows = []
    overall = _hajek_by(y_all, pi_all, rev["tier"].astype(str), tier_list, level)
    for t in tier_list:
        quality_rows.append({"tier": t, "answers": int(answers.get(t, 0)), **_row_from(overall[t])})
    nb = len(y_all)
    bl = _wilson(float(y_all.sum()), float(nb), level)
    quality_rows.append(
        {
            "tier": BLENDED,
            "answers": len(dec),
            "reviews": nb,
            "mean": bl[0],
            "lower": bl[1],
            "upper": bl[2],
            "se": math.sqrt(bl[0] * (1 - bl[0]) / nb) if nb else math.nan,
            "n_eff": float(nb),
        }
    )
    pop_est = _hajek_by(y_all, pi_all, np.zeros(nb, dtype=int), [0], level)[0]
    quality_rows.append({"tier": ALL_TRAFFIC, "answers": len(dec), **_row_from(pop_est)})
    quality = pd.DataFrame(quality_rows)

    def per_period(col: str, labels: list[str]) -> Any:
        rows = []
        idx = list(range(len(labels)))
        traffic = dec.groupby(["tier", col]).size()
        for t in tier_list:
            sub = rev[rev["tier"] == t]
            est = _hajek_by(
                sub["score"].to_numpy(float), sub["pi"].to_numpy(float), sub[col].astype(int), idx, level
            )
            for i in idx:
                rows.append(
                    {
                        "tier": t,
                        col: i,
                        "date": labels[i],
                        "answers": int(traffic.get((t, i), 0)),
                        **_row_from(est[i]),
                    }
                )
        for i in idx:
            sub = rev[rev[col] == i]
            k = len(sub)
            b = _wilson(float(sub["score"].sum()), float(k), level)
            rows.append(
                {
                    "tier": BLENDED,
                    col: i,
                    "date": labels[i],
                    "answers": int((dec[col] == i).sum()),
                    "reviews": k,
                    "mean": b[0],
                    "lower": b[1],
                    "upper": b[2],
                    "se": math.sqrt(b[0] * (1 - b[0]) / k) if k else math.nan,
                    "n_eff": float(k),
                }
            )
        return pd.DataFrame(rows)

    quality_daily = per_period("day", day_labels)
    quality_weekly = per_period("week", week_labels)

    # monitors ---------------------------------------------------------------------------
    monitors: dict[str, stats.Monitor] = {}
    mon_rows = []
    hist_rows = []
    base_days = min(baseline_days, n_days)
    for t in tier_list:
        sub = rev[rev["tier"] == t]
        g = sub["g"].to_numpy(float) if monitor_target == "tail_weighted" else np.ones(len(sub))
        q = sub["pi"].to_numpy(float) / g
        days_arr = sub["day"].to_numpy(int)
        if isinstance(baseline, Mapping) and t in baseline:
            b0 = float(baseline[t])
        elif isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
            b0 = float(baseline)
        else:
            m = days_arr < base_days
            w = 1.0 / q[m]
            b0 = float(np.sum(w * sub["score"].to_numpy(float)[m]) / np.sum(w)) if m.any() else math.nan
        if not math.isfinite(b0):
            notes.append(f"tier {t!r}: no reviews in the baseline window, no monitor")
            continue
        traffic = dec[dec["tier"] == t].groupby("day").size()
        yv = sub["score"].to_numpy(float)
        keys = _uniform_keys(sub["request_id"].astype(str).tolist())
        streams = []
        for d in range(n_days):
            m = days_arr == d
            streams.append(
                _two_phase_stream(yv[m], q[m], keys[m], float(traffic.get(d, 0)), monitor_target == "traffic")
            )
        bound = max([1.0, *(st[2] for st in streams)])
        mon = stats.Monitor(
            min(b0, 1.0),
            float(tolerance),
            alpha=float(alpha),
            max_weight=bound * (1 + 1e-9) if bound > 1.0 else 1.0,
            restart_every=restart_every,
            method=monitor_method,
            arl=arl,
        )
        for d, (y_d, r_d, _, k_d) in enumerate(streams):
            if bound > 1.0:
                st = mon.update(y_d, pi=r_d, population=k_d)
            else:
                st = mon.update(y_d)
            hist_rows.append(_history_row(t, d, day_labels[d], st) | {"stream_reviews": len(y_d)})
        monitors[t] = mon
        mon_rows.append(_monitor_row(t, "quality", mon, b0, tolerance, day_labels))

    # shadow -----------------------------------------------------------------------------
    sh = joined[
        (joined["kind"] == "shadow") & joined["cheap_score"].notna() & joined["capable_score"].notna()
    ]
    shadow_rows = []
    shadow_daily_rows = []
    for t in sorted(set(sh["dtier"].tolist())):
        ss = sh[sh["dtier"] == t]
        a = ss["cheap_score"].to_numpy(float)
        b = ss["capable_score"].to_numpy(float)
        binary = bool(np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))))
        row: dict[str, Any] = {"tier": t, "n": len(ss), "cheap": float(a.mean()), "capable": float(b.mean())}
        if binary:
            pc = stats.paired_comparison(a, b, level=level)
            row.update(
                gap=pc.newcombe.estimate,
                lower=pc.newcombe.lower,
                upper=pc.newcombe.upper,
                interval="newcombe_paired",
                mcnemar_p=pc.mcnemar_exact_p,
            )
        else:
            iv = stats.paired_wald(a, b, level=level)
            row.update(
                gap=iv.estimate, lower=iv.lower, upper=iv.upper, interval=iv.method, mcnemar_p=math.nan
            )
        shadow_rows.append(row)
        gmon = stats.Monitor(
            0.0,
            float(tolerance),
            alpha=float(alpha),
            lo=-1.0,
            hi=1.0,
            restart_every=restart_every,
            method=monitor_method,
            arl=arl,
        )
        sd_arr = ss["day"].to_numpy(int)
        for d in range(n_days):
            m = sd_arr == d
            st = gmon.update(a[m] - b[m])
            hist_rows.append(_history_row(f"shadow gap {t}", d, day_labels[d], st))
            if m.sum() >= 1:
                ivd = stats.paired_wald(a[m], b[m], level=level) if m.sum() >= 2 else None
                shadow_daily_rows.append(
                    {
                        "tier": t,
                        "day": d,
                        "date": day_labels[d],
                        "n": int(m.sum()),
                        "gap": float(np.mean(a[m] - b[m])),
                        "lower": ivd.lower if ivd else math.nan,
                        "upper": ivd.upper if ivd else math.nan,
                    }
                )
        monitors[f"shadow gap {t}"] = gmon
        mon_rows.append(_monitor_row(f"shadow gap {t}", "shadow gap", gmon, 0.0, tolerance, day_labels))
    shadow = pd.DataFrame(
        shadow_rows,
        columns=["tier", "n", "cheap", "capable", "gap", "lower", "upper", "interval", "mcnemar_p"],
    )
    shadow_daily = pd.DataFrame(
        shadow_daily_rows, columns=["tier", "day", "date", "n", "gap", "lower", "upper"]
    )

    # feedback and support ---------------------------------------------------------------
    fb = joined[(joined["kind"] == "feedback") & joined["score"].notna()]
    sc = joined[(joined["kind"] == "support_contact")]
    sc = sc[sc["days_after"].fillna(0.0) <= float(support_window_days)]
    fb_rows = []
    sp_rows = []
    for t in [*tier_list, "all"]:
        n_t = int(answers.get(t, 0)) if t != "all" else len(dec)
        f_t = fb if t == "all" else fb[fb["dtier"] == t]
        downs = float((f_t["score"] < 0.5).sum())
        est, lo, hi = _wilson(downs, float(n_t), level)
        share = _wilson(downs, float(len(f_t)), level)
        fb_rows.append(
            {
                "tier": t,
                "answers": n_t,
                "feedback": len(f_t),
                "thumbs_down": int(downs),
                "thumbs_down_per_1000": 1000 * est,
                "lower_per_1000": 1000 * lo,
                "upper_per_1000": 1000 * hi,
                "down_share_of_feedback": share[0],
            }
        )
        c_t = sc if t == "all" else sc[sc["dtier"] == t]
        contacts = float(c_t["request_id"].nunique())
        est, lo, hi = _wilson(contacts, float(n_t), level)
        sp_rows.append(
            {
                "tier": t,
                "answers": n_t,
                "contacts": int(contacts),
                "contact_rate": est,
                "lower": lo,
                "upper": hi,
            }
        )
    feedback = pd.DataFrame(fb_rows)
    support = pd.DataFrame(sp_rows)

    # drift ------------------------------------------------------------------------------
    drift_rows = []
    conf = (
        pd.to_numeric(dec["route_confidence"], errors="coerce").to_numpy(float)
        if "route_confidence" in dec
        else np.full(len(dec), np.nan)
    )
    dec_days = dec["day"].to_numpy(int)
    dec_weeks = dec["week"].to_numpy(int)
    dec_tiers = dec["tier"].to_numpy(str)
    scopes: list[tuple[str, npt.NDArray[np.bool_]]] = [("all", np.ones(len(dec), dtype=bool))]
    scopes += [(t, dec_tiers == t) for t in tier_list]
    for scope, mask in scopes:
        base_sample = conf[mask & (dec_days < base_days)]
        for period, arr, labels in (("day", dec_days, day_labels), ("week", dec_weeks, week_labels)):
            for i, lab in enumerate(labels):
                m = mask & (arr == i)
                if not m.any() or not np.isfinite(conf[m]).any():
                    continue
                if ref_hist is not None:
                    r = _binned_drift(ref_hist[1], _hist(conf[m], ref_hist[0]))
                    drift_rows.append(
                        {
                            "scope": scope,
                            "reference": "training",
                            "period": period,
                            "index": i,
                            "date": lab,
                            **r,
                        }
                    )
                if scope != "all" and len(base_sample) >= 2:
                    r = _sample_drift(base_sample, conf[m])
                    drift_rows.append(
                        {
                            "scope": scope,
                            "reference": "baseline window",
                            "period": period,
                            "index": i,
                            "date": lab,
                            **r,
                        }
                    )
        if ref_hist is not None and np.isfinite(conf[mask]).any():
            r = _binned_drift(ref_hist[1], _hist(conf[mask], ref_hist[0]))
            drift_rows.append(
                {
                    "scope": scope,
                    "reference": "training",
                    "period": "window",
                    "index": 0,
                    "date": day_labels[0],
                    **r,
                }
            )
    drift = pd.DataFrame(
        drift_rows,
        columns=["scope", "reference", "period", "index", "date", "n", "psi", "js", "ks", "ks_pvalue"],
    )

    esc = (
        dec["escalated"].fillna(False).astype(bool).to_numpy()
        if "escalated" in dec
        else np.zeros(len(dec), bool)
    )
    base_mask = dec_days < base_days
    bx, bn = float(esc[base_mask].sum()), float(base_mask.sum())
    esc_rows = []
    for i, lab in enumerate(day_labels):
        m = dec_days == i
        n_i = float(m.sum())
        if n_i == 0:
            continue
        x_i = float(esc[m].sum())
        est, lo, hi = _wilson(x_i, n_i, level)
        diff = stats.newcombe_difference(x_i, n_i, bx, bn, level=level) if bn > 0 else None
        esc_rows.append(
            {
                "day": i,
                "date": lab,
                "answers": int(n_i),
                "escalation_rate": est,
                "lower": lo,
                "upper": hi,
                "baseline_rate": bx / bn if bn else math.nan,
                "diff": diff.estimate if diff else math.nan,
                "diff_lower": diff.lower if diff else math.nan,
                "diff_upper": diff.upper if diff else math.nan,
            }
        )
    escalation = pd.DataFrame(esc_rows)

    # costs ------------------------------------------------------------------------------
    costs = _cost_table(dec, sc, tier_list, prices, float(cost_per_contact), level, support, capable_tier)

    mon_table = pd.DataFrame(
        mon_rows,
        columns=[
            "monitor",
            "kind",
            "baseline",
            "threshold",
            "lower",
            "upper",
            "min_upper",
            "alarm_day",
            "alarm_date",
            "days",
        ],
    )
    return AuditReport(
        since=s,
        until=u,
        days=day_labels,
        tiers=tier_list,
        n_decisions=len(dec),
        n_reviews=len(rev),
        n_orphans=len(orphans),
        quality=quality,
        quality_daily=quality_daily,
        quality_weekly=quality_weekly,
        shadow=shadow,
        shadow_daily=shadow_daily,
        feedback=feedback,
        support=support,
        drift=drift,
        escalation=escalation,
        monitors=mon_table,
        monitor_history=pd.DataFrame(hist_rows),
        costs=costs,
        orphans=orphan_table,
        monitor_objects=monitors,
        settings={
            "tolerance": tolerance,
            "alpha": alpha,
            "level": level,
            "baseline_days": base_days,
            "monitor_target": monitor_target,
            "support_window_days": support_window_days,
            "cost_per_contact": cost_per_contact,
            "restart_every": restart_every,
            "monitor_method": monitor_method,
            "arl": arl,
            "day0": day_labels[0],
            "reference": ref_hist is not None,
        },
        notes=notes,
    )


def _history_row(monitor: str, day: int, date: str, st: stats.DayStatus) -> dict[str, Any]:
    """One row of ``monitor_history``: a monitor's status after one day."""
    return {
        "monitor": monitor,
        "day": day,
        "date": date,
        "lower": st.lower,
        "upper": st.upper,
        "min_upper": st.min_upper,
        "log_evidence": st.log_evidence,
        "alarm": st.alarm,
    }


def _uniform_keys(ids: list[str]) -> FloatArray:
    """A reproducible uniform(0, 1) number per request id (for thinning)."""
    out = np.empty(len(ids))
    for i, rid in enumerate(ids):
        h = hashlib.blake2b(rid.encode("utf-8"), digest_size=8, person=b"tsmonitor").digest()
        out[i] = (int.from_bytes(h, "big") + 0.5) / 2.0**64
    return out


def _two_phase_stream(
    y: FloatArray, q: FloatArray, keys: FloatArray, traffic: float, known_total: bool
) -> tuple[FloatArray, FloatArray, float, int]:
    """One day's monitor stream: (scores, relative inclusion probabilities, weight bound, length).

    Reviews were drawn with probability π = q·g (g = oversampling score, the target is the
    g-weighted mean). Pick c = the 1/q-weighted median of q; reviews with q > c are thinned at
    random (kept with probability c/q, a fixed hash of the request id), so every kept review
    has inclusion c·min(q, c)/c relative to a virtual first-phase sample of k = c·Ĝ units
    (Ĝ = Σ1/q, the HT estimate of Σg; the day's traffic when g = 1). Within that sample the
    kept reviews form an HT stream with weights c/min(q, c) ≤ the returned bound.
    """
    if len(y) == 0:
        return np.array([]), np.array([]), 1.0, 0
    w = 1.0 / q
    order = np.argsort(q)
    cum = np.cumsum(w[order])
    c = float(q[order][np.searchsorted(cum, cum[-1] / 2.0)])
    keep = (q <= c) | (keys < c / q)
    r = np.minimum(q[keep], c) / c
    total = traffic if known_total and traffic > 0 else float(w.sum())
    k = max(int(round(c * total)), int(keep.sum()))
    return y[keep], r, float(1.0 / r.min()), k


def _monitor_row(
    name: str, kind: str, mon: stats.Monitor, base: float, tol: float, labels: list[str]
) -> dict[str, Any]:
    h = mon.history
    last = h[-1] if h else None
    alarm = mon.alarm_day  # 1-based monitor day
    return {
        "monitor": name,
        "kind": kind,
        "baseline": base,
        "threshold": base - tol,
        "lower": last.lower if last else math.nan,
        "upper": last.upper if last else math.nan,
        "min_upper": last.min_upper if last else math.nan,
        "alarm_day": None if alarm is None else int(alarm) - 1,
        "alarm_date": None if alarm is None else labels[int(alarm) - 1],
        "days": mon.day,
    }


def _cost_table(
    dec: Any,
    sc: Any,
    tiers: list[str],
    prices: Mapping[str, float] | None,
    cpc: float,
    level: float,
    support: Any,
    capable_tier: str | None,
) -> Any:
    import pandas as pd

    prices = dict(prices or {})
    cost = (
        pd.to_numeric(dec["cost"], errors="coerce") if "cost" in dec else pd.Series(np.nan, index=dec.index)
    )
    for t, p in prices.items():
        cost = cost.where(cost.notna() | (dec["tier"] != t), float(p))
    rows = []
    n_total = len(dec)
    inference = 0.0
    for t in tiers:
        v = float(cost[dec["tier"] == t].fillna(0.0).sum())
        inference += v
        rows.append({"component": f"inference {t}", "estimate": v, "lower": v, "upper": v})
    rows.append(
        {"component": "inference (routed)", "estimate": inference, "lower": inference, "upper": inference}
    )
    contacts = float(sc["request_id"].nunique())
    _, lo, hi = _wilson(contacts, float(n_total), level)
    rows.append(
        {
            "component": "support contacts",
            "estimate": contacts * cpc,
            "lower": lo * n_total * cpc,
            "upper": hi * n_total * cpc,
        }
    )
    rows.append(
        {
            "component": "total (routed)",
            "estimate": inference + contacts * cpc,
            "lower": inference + lo * n_total * cpc,
            "upper": inference + hi * n_total * cpc,
        }
    )
    # counterfactual: everything on the capable tier
    capable_price = math.nan
    if capable_tier is not None and capable_tier in prices:
        capable_price = float(prices[capable_tier])
    else:
        cap_cost = pd.to_numeric(dec["capable_cost"], errors="coerce") if "capable_cost" in dec else None
        if cap_cost is not None and cap_cost.notna().any():
            capable_price = float(cap_cost.dropna().mean())
        elif capable_tier is not None and (dec["tier"] == capable_tier).any():
            capable_price = float(cost[dec["tier"] == capable_tier].fillna(0.0).mean())
    sp = support.set_index("tier")
    if capable_tier is not None and capable_tier in sp.index and sp.loc[capable_tier, "answers"] > 0:
        r, rlo, rhi = (float(sp.loc[capable_tier, c]) for c in ("contact_rate", "lower", "upper"))
    else:
        r = rlo = rhi = math.nan
    cf_inf = capable_price * n_total
    rows.append(
        {"component": "inference (all capable)", "estimate": cf_inf, "lower": cf_inf, "upper": cf_inf}
    )
    rows.append(
        {
            "component": "support contacts (all capable)",
            "estimate": r * n_total * cpc,
            "lower": rlo * n_total * cpc,
            "upper": rhi * n_total * cpc,
        }
    )
    rows.append(
        {
            "component": "total (all capable)",
            "estimate": cf_inf + r * n_total * cpc,
            "lower": cf_inf + rlo * n_total * cpc,
            "upper": cf_inf + rhi * n_total * cpc,
        }
    )
    return pd.DataFrame(rows)
