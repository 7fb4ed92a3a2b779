"""tierscope.stats.tier_summary against pandas + statsmodels + scipy reference numbers (1e-9),
against the audit's estimator and binned-KS formula, hypothesis properties, dtypes and bad input."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW
from tierscope import stats
from tierscope.exceptions import InvalidInputError
from tierscope.stats.summary import TierSummary

RTOL = 1e-9
ATOL = 1e-12


def close(ours: float, ref: float) -> bool:
    if math.isnan(ours) or math.isnan(ref):
        return math.isnan(ours) and math.isnan(ref)
    return abs(ours - ref) <= RTOL * abs(ref) + ATOL


def _hist(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The audit's production histogram (quality/audit/run.py): finite values clipped to the edges."""
    v = values[np.isfinite(values)]
    counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.float64)


def _binned_drift(ref_counts: np.ndarray, prod_counts: np.ndarray) -> dict[str, float]:
    """The audit's binned KS (quality/audit/run.py), written out as the reference."""
    n, m = float(prod_counts.sum()), float(ref_counts.sum())
    d = float(np.max(np.abs(np.cumsum(ref_counts) / m - np.cumsum(prod_counts) / n)))
    p = stats.kolmogorov_sf(max(1, int(round(n * m / (n + m)))), d) if d > 0 else 1.0
    return {"ks": d, "ks_pvalue": float(p)}


def make_log(n: int, k: int = 3, seed: int = 0, f32: bool = True) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    p = np.array([0.6, 0.3, 0.1, 0.05, 0.05][:k])
    tiers = rng.choice(k, n, p=p / p.sum()).astype(np.int8)
    conf = np.clip(rng.beta(5, 2, n) - 0.04 * tiers, 0, 1)
    if f32:
        conf = conf.astype(np.float32).astype(np.float64)
    conf[rng.random(n) < 0.01] = np.nan
    pi = np.where(conf < 0.55, 0.3, 0.08)
    reviewed = rng.random(n) < pi
    y = np.where(reviewed, (rng.random(n) < 0.9 - 0.07 * tiers).astype(float), np.nan)
    return {"tiers": tiers, "y": y, "pi": pi, "conf": conf}


def reference_estimate(y: np.ndarray, pi: np.ndarray, level: float) -> dict[str, float]:
    """Hájek mean (DescrStatsW, weights 1/π), linearised Poisson-design SE, Wilson at n* (statsmodels)."""
    w = 1.0 / pi
    d = DescrStatsW(y, weights=w)
    m = d.mean
    se = math.sqrt(float(((1 - pi) / pi**2 * (y - m) ** 2).sum()) / w.sum() ** 2)
    n_eff = w.sum() ** 2 / (w**2).sum()
    pq = m * (1 - m)
    n_star = pq / se**2 if pq > 0 and se > 0 else n_eff
    lo, hi = proportion_confint(m * n_star, n_star, alpha=1 - level, method="wilson")
    z = sps.norm.ppf(1 - (1 - level) / 2)
    return {
        "mean": m,
        "se": se,
        "lower": max(lo, 0.0),
        "upper": min(hi, 1.0),
        "n_eff": n_eff,
        "wald_lower": m - z * se,
        "wald_upper": m + z * se,
    }


def assert_estimate(row: Any, ref: dict[str, float]) -> None:
    for name, value in ref.items():
        ours = getattr(row.estimate, name)
        assert close(ours, value), f"{name}: ours {ours!r} reference {value!r}"


def assert_ks(drift: Any, ref: Any) -> None:
    assert drift is not None
    assert close(drift.statistic, ref.statistic), (drift, ref)
    assert close(drift.pvalue, ref.pvalue), (drift, ref)


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_matches_pandas_statsmodels_scipy_per_tier_reference(level: float) -> None:
    log = make_log(30_000, seed=1)
    ref = make_log(4_000, seed=2)
    s = stats.tier_summary(
        log["tiers"],
        log["y"],
        log["pi"],
        tier_names=["cheap", "mid", "capable"],
        confidence=log["conf"],
        reference=ref["conf"],
        reference_tiers=ref["tiers"],
        level=level,
    )
    df = pd.DataFrame({"tier": log["tiers"], "y": log["y"], "pi": log["pi"], "conf": log["conf"]})
    rdf = pd.DataFrame({"tier": ref["tiers"], "conf": ref["conf"]})
    rev = df[df["y"].notna()]
    for code, name in enumerate(["cheap", "mid", "capable"]):
        row = s.tiers[name]
        g = rev[rev["tier"] == code]
        assert (row.rows, row.reviewed) == (int((df["tier"] == code).sum()), len(g))
        assert_estimate(row, reference_estimate(g["y"].to_numpy(), g["pi"].to_numpy(), level))
        assert close(row.estimate.ht_mean, float((g["y"] / g["pi"]).sum()) / row.rows)
        prod = df.loc[df["tier"] == code, "conf"].dropna().to_numpy()
        refc = rdf.loc[rdf["tier"] == code, "conf"].dropna().to_numpy()
        assert_ks(row.drift, sps.ks_2samp(refc, prod))
        assert row.drift is not None and (row.drift.n, row.drift.n_reference) == (len(prod), len(refc))
    assert_estimate(s.all_traffic, reference_estimate(rev["y"].to_numpy(), rev["pi"].to_numpy(), level))
    assert_ks(s.all_traffic.drift, sps.ks_2samp(rdf["conf"].dropna(), df["conf"].dropna()))
    lo, hi = proportion_confint(rev["y"].sum(), len(rev), alpha=1 - level, method="wilson")
    b = s.blended
    assert b.n == len(rev) and close(b.mean, rev["y"].mean()) and close(b.lower, lo) and close(b.upper, hi)
    assert s.ks_path == "exact_counts"


def test_small_samples_use_the_exact_ks_distribution() -> None:
    log = make_log(3_000, seed=3, f32=False)
    ref = make_log(500, seed=4, f32=False)
    for method in ("auto", "exact", "asymp"):
        s = stats.tier_summary(
            log["tiers"],
            log["y"],
            log["pi"],
            confidence=log["conf"],
            reference=ref["conf"],
            ks_method=method,
        )
        for code, row in s.tiers.items():
            prod = log["conf"][(log["tiers"] == code) & np.isfinite(log["conf"])]
            expected = sps.ks_2samp(ref["conf"][np.isfinite(ref["conf"])], prod, method=method)
            assert_ks(row.drift, expected)
            assert row.drift is not None and row.drift.method == ("exact" if method != "asymp" else "asymp")


def test_ties_and_reference_window_match_scipy() -> None:
    log = make_log(20_000, seed=5)
    log["conf"] = np.round(log["conf"] * 20) / 20  # heavy ties
    window = np.arange(20_000) < 6_000
    s = stats.tier_summary(log["tiers"], log["y"], log["pi"], confidence=log["conf"], reference_window=window)
    ok = np.isfinite(log["conf"])
    for code, row in s.tiers.items():
        m = (log["tiers"] == code) & ok
        assert_ks(row.drift, sps.ks_2samp(log["conf"][m & window], log["conf"][m & ~window]))
        assert row.with_confidence == int((m & ~window).sum())
    assert_ks(s.all_traffic.drift, sps.ks_2samp(log["conf"][ok & window], log["conf"][ok & ~window]))
    # Estimates still cover every row.
    assert s.all_traffic.rows == 20_000


def test_histogram_reference_is_the_audits_binned_ks() -> None:
    log = make_log(20_000, seed=6)
    edges = np.linspace(0, 1, 21)
    counts = np.random.default_rng(7).integers(50, 500, 20).astype(float)
    s = stats.tier_summary(
        log["tiers"],
        log["y"],
        log["pi"],
        confidence=log["conf"],
        reference_histogram={"confidence_edges": edges, "confidence_counts": counts},
    )
    for code, row in s.tiers.items():
        r = _binned_drift(counts, _hist(log["conf"][log["tiers"] == code], edges))
        assert row.drift is not None
        assert close(row.drift.statistic, r["ks"]) and close(row.drift.pvalue, r["ks_pvalue"])
    r = _binned_drift(counts, _hist(log["conf"], edges))
    assert s.all_traffic.drift is not None and close(s.all_traffic.drift.pvalue, r["ks_pvalue"])
    assert s.ks_path == "binned"


def test_estimates_equal_the_audits_estimator() -> None:
    log = make_log(20_000, k=4, seed=8)
    s = stats.tier_summary(log["tiers"], log["y"], log["pi"], tier_names=["a", "b", "c", "d"])
    rev = ~np.isnan(log["y"])
    names = np.array(["a", "b", "c", "d"])[log["tiers"][rev]]
    est = stats.estimate(log["y"][rev], log["pi"][rev], names, names, design="poisson")
    for name, e in est.domains.items():
        row = s.tiers[name]
        for f in ("mean", "se", "lower", "upper", "n_eff", "wald_lower", "wald_upper"):
            assert close(getattr(row.estimate, f), getattr(e, f)), f
        assert row.estimate.interval == e.interval
    assert close(s.all_traffic.estimate.upper, est.population.upper)
    table = s.to_pandas()
    assert list(table["tier"])[-2:] == ["blended (all reviews, unweighted)", "all traffic (design-based)"]
    assert {"answers", "reviews", "mean", "lower", "upper", "se", "n_eff", "ks", "ks_pvalue"} <= set(table)


def test_tier_without_reviews_is_undefined_and_scores_outside_unit_use_t() -> None:
    tiers = np.array([0, 0, 0, 1, 1, 2], dtype=np.int64)
    y = np.array([3.0, 5.0, np.nan, 4.0, 2.0, np.nan])
    pi = np.full(6, 0.5)
    s = stats.tier_summary(tiers, y, pi, tier_names=["x", "y", "z"])
    z = s.tiers["z"]
    assert z.rows == 1 and z.reviewed == 0 and not z.estimate.defined
    assert z.estimate.reason is not None and "'z'" in z.estimate.reason
    assert s.tiers["x"].estimate.interval == "wald"
    iv = DescrStatsW(np.array([3.0, 5.0, 4.0, 2.0])).tconfint_mean(alpha=0.05)
    assert s.blended.method == "t" and close(s.blended.lower, iv[0]) and close(s.blended.upper, iv[1])


def _summary(log: dict[str, Any], ref: dict[str, Any], k: int) -> TierSummary:
    return stats.tier_summary(
        log["tiers"],
        log["y"],
        log["pi"],
        tier_names=list(range(k)),
        confidence=log["conf"],
        reference=ref["conf"],
        reference_tiers=ref["tiers"],
    )


def _same_row(a: Any, b: Any) -> None:
    assert (a.rows, a.reviewed, a.with_confidence) == (b.rows, b.reviewed, b.with_confidence)
    for f in ("mean", "se", "lower", "upper", "n_eff", "total"):
        assert close(getattr(a.estimate, f), getattr(b.estimate, f)), f
    assert a.drift == b.drift


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 600), k=st.integers(1, 4), seed=st.integers(0, 10_000), f32=st.booleans())
def test_permuting_rows_changes_nothing(n: int, k: int, seed: int, f32: bool) -> None:
    log = make_log(n, k=k, seed=seed, f32=f32)
    ref = make_log(80, k=k, seed=seed + 1, f32=f32)
    perm = np.random.default_rng(seed).permutation(n)
    shuffled = {name: v[perm] for name, v in log.items()}
    a, b = _summary(log, ref, k), _summary(shuffled, ref, k)
    for t in range(k):
        _same_row(a.tiers[t], b.tiers[t])
    _same_row(a.all_traffic, b.all_traffic)
    assert a.blended.n == b.blended.n and close(a.blended.mean, b.blended.mean)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 600), seed=st.integers(0, 10_000))
def test_a_tiers_numbers_do_not_depend_on_other_tiers_rows(n: int, seed: int) -> None:
    k = 3
    log = make_log(n, k=k, seed=seed)
    ref = make_log(80, k=k, seed=seed + 1)
    rng = np.random.default_rng(seed)
    other = log["tiers"] != 0
    changed = {name: v.copy() for name, v in log.items()}
    changed["y"][other] = np.where(rng.random(int(other.sum())) < 0.5, np.nan, rng.random(int(other.sum())))
    changed["conf"][other] = rng.random(int(other.sum()))
    keep = ~other | (rng.random(n) < 0.5)
    dropped = {name: v[keep] for name, v in changed.items()}
    base = _summary(log, ref, k).tiers[0]
    _same_row(base, _summary(changed, ref, k).tiers[0])
    _same_row(base, _summary(dropped, ref, k).tiers[0])


def test_dtypes_views_and_categoricals_give_the_same_numbers() -> None:
    log = make_log(5_000, seed=9)
    ref = make_log(700, seed=10)
    base = _summary(log, ref, 3)
    for dtype in (np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64):
        alt = dict(log, tiers=log["tiers"].astype(dtype))
        assert _summary(alt, dict(ref, tiers=ref["tiers"].astype(dtype)), 3) == base
    # float32 confidences hold the same values as the f32-exact float64 ones.
    f32 = dict(log, conf=log["conf"].astype(np.float32))
    assert _summary(f32, dict(ref, conf=ref["conf"].astype(np.float32)), 3) == base
    # Strided (non-contiguous) and read-only inputs.
    wide = {name: np.repeat(v, 2)[::2] for name, v in log.items()}
    assert not wide["y"].flags.c_contiguous
    for v in log.values():
        v.flags.writeable = False
    assert _summary(wide, ref, 3) == base == _summary(log, ref, 3)
    # A pandas Categorical carries its names.
    cat = pd.Categorical.from_codes(log["tiers"], ["cheap", "mid", "capable"])
    s = stats.tier_summary(cat, log["y"], log["pi"])
    assert list(s.tiers) == ["cheap", "mid", "capable"]
    assert s.tiers["mid"].estimate.mean == base.tiers[1].estimate.mean


def test_empty_log_and_no_confidence() -> None:
    e = np.array([], dtype=np.int64)
    s = stats.tier_summary(e, np.array([]), np.array([]), tier_names=["a"])
    assert s.tiers["a"].rows == 0 and not s.all_traffic.estimate.defined and s.blended.method == "none"
    assert s.all_traffic.drift is None and s.ks_path == "none"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"outcome": np.zeros(3)}, "outcome"),
        ({"pi": np.array([0.5, 0.0, 0.5, 0.5])}, "pi[1]"),
        ({"pi": np.array([0.5, 1.5, 0.5, 0.5])}, "pi[1]"),
        ({"tiers": np.array([0, 1, 3, 0])}, "tiers[2]"),
        ({"tiers": np.array([0, -1, 0, 0])}, "tiers[1]"),
        ({"tiers": np.array([0.0, 1.0, 0.0, 1.0])}, "tiers"),
        ({"level": 1.0}, "level"),
        ({"level": 0.0}, "level"),
        ({"outcome": np.array([1.0, np.inf, np.nan, 0.0])}, "outcome[1]"),
        ({"confidence": np.zeros(3), "reference": np.zeros(2)}, "confidence"),
        ({"reference": np.zeros(2)}, "confidence"),
        (
            {"confidence": np.zeros(4), "reference": np.zeros(2), "reference_window": np.ones(4, bool)},
            "reference",
        ),
        ({"confidence": np.zeros(4), "reference_tiers": np.zeros(2, dtype=int)}, "reference_tiers"),
        (
            {"confidence": np.zeros(4), "reference": np.zeros(2), "reference_tiers": np.array([0, 7])},
            "reference_tiers[1]",
        ),
        ({"confidence": np.zeros(4), "reference_window": np.ones(3, bool)}, "reference_window"),
        ({"confidence": np.zeros(4), "reference_window": np.ones(4)}, "reference_window"),
        (
            {"confidence": np.zeros(4), "reference_histogram": ([0.0, 1.0, 0.5], [1.0, 1.0])},
            "reference_edges[2]",
        ),
        ({"confidence": np.zeros(4), "reference_histogram": ([0.0, 1.0], [1.0, 1.0])}, "reference_counts"),
        ({"ks_method": "fast"}, "ks_method"),
        ({"tier_names": []}, "tier_names"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    args: dict[str, Any] = {
        "tiers": np.array([0, 1, 0, 1]),
        "outcome": np.array([1.0, 0.0, np.nan, 1.0]),
        "pi": np.array([0.5, 0.5, 0.5, 0.5]),
        "tier_names": ["a", "b"],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=re.escape(f"`{argument}`")):
        stats.tier_summary(args.pop("tiers"), args.pop("outcome"), args.pop("pi"), **args)


def test_threads_and_concurrent_callers_agree() -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = make_log(300_000, seed=11)
    ref = make_log(20_000, seed=12)

    def run(threads: int) -> TierSummary:
        return stats.tier_summary(
            log["tiers"],
            log["y"],
            log["pi"],
            confidence=log["conf"],
            reference=ref["conf"],
            reference_tiers=ref["tiers"],
            threads=threads,
        )

    base = run(1)
    assert run(2) == base  # chunks merge in order: bit-identical whatever the thread count
    with ThreadPoolExecutor(4) as pool:
        assert all(r == base for r in pool.map(run, [0, 1, 2, 0]))


@pytest.mark.parametrize("case", ["outlier", "ties"])
def test_outliers_and_heavy_ties_stay_exact(case: str) -> None:
    # An outlier squeezes the data into one bucket (which is then split); heavy ties fill
    # buckets with one value (never refined). Both must still give scipy's numbers.
    log = make_log(120_000, seed=13)
    ref = make_log(40_000, seed=14)
    conf, rconf = log["conf"].copy(), ref["conf"].copy()
    if case == "outlier":
        conf[7] = 1e300
        rconf[3] = -1e300
    else:
        conf[conf > 0.8] = 1.0
        rconf[rconf > 0.85] = 1.0
        conf[conf < 0.3] = 0.0
    s = stats.tier_summary(log["tiers"], log["y"], log["pi"], confidence=conf, reference=rconf)
    finite = np.isfinite(conf)
    for code, row in s.tiers.items():
        prod = conf[(log["tiers"] == code) & finite]
        assert_ks(row.drift, sps.ks_2samp(rconf[np.isfinite(rconf)], prod))
    assert_ks(s.all_traffic.drift, sps.ks_2samp(rconf[np.isfinite(rconf)], conf[finite]))
