"""Agreement of tierscope.stats with scipy/statsmodels to 1e-9 relative on random cases.

Each test generates its cases from a seeded numpy generator (>= 200 per quantity) plus hypothesis
examples, and asserts |ours - ref| <= 1e-9 * |ref| + ATOL, where ATOL (1e-12) only matters for
reference values at or within rounding of 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import DescrStatsW
from tierscope import _core
from tierscope import stats as ts

RTOL = 1e-9
ATOL = 1e-12
N_CASES = 250


def assert_close(ours: np.ndarray | float, ref: np.ndarray | float, what: str) -> None:
    o = np.asarray(ours, dtype=float)
    r = np.asarray(ref, dtype=float)
    bad = ~(np.abs(o - r) <= RTOL * np.abs(r) + ATOL)
    bad &= ~(np.isnan(o) & np.isnan(r))
    assert not bad.any(), f"{what}: {int(bad.sum())} mismatches, first ours={o[bad][:3]} ref={r[bad][:3]}"


def random_counts(rng: np.random.Generator, n_cases: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.concatenate(
        [
            rng.integers(1, 30, n_cases // 3),
            rng.integers(30, 2000, n_cases // 3),
            rng.integers(2000, 200_000, n_cases),
        ]
    )[:n_cases]
    x = np.floor(rng.random(n_cases) * (n + 1))
    # Include the edges 0 and n explicitly.
    x[:5] = 0
    x[5:10] = n[5:10]
    return x.astype(float), n.astype(float)


@pytest.mark.parametrize("method", ["wilson", "beta", "agresti_coull", "jeffreys"])
def test_proportion_intervals_match_statsmodels(method: str) -> None:
    rng = np.random.default_rng(11)
    x, n = random_counts(rng, N_CASES)
    for level in (0.9, 0.95, 0.99):
        lo, hi = ts.proportion_intervals(x, n, level=level, method=method)
        ref_lo, ref_hi = proportion_confint(x.astype(int), n.astype(int), alpha=1 - level, method=method)
        assert_close(lo, ref_lo, f"{method} lower @ {level}")
        assert_close(hi, ref_hi, f"{method} upper @ {level}")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), level=st.floats(0.5, 0.999))
def test_proportion_interval_hypothesis(n: int, frac: float, level: float) -> None:
    x = int(round(frac * n))
    for method in ("wilson", "beta", "agresti_coull", "jeffreys"):
        iv = ts.proportion_interval(x, n, level=level, method=method)
        ref = proportion_confint(x, n, alpha=1 - level, method=method)
        assert_close([iv.lower, iv.upper], ref, f"{method} n={n} x={x} level={level}")


def test_beta_quantile_matches_scipy() -> None:
    rng = np.random.default_rng(12)
    a = np.exp(rng.uniform(np.log(0.2), np.log(5e4), N_CASES * 2))
    b = np.exp(rng.uniform(np.log(0.2), np.log(5e4), N_CASES * 2))
    p = np.concatenate([rng.uniform(0, 1, N_CASES), 10 ** rng.uniform(-12, -1, N_CASES)])
    assert_close(_core.stats_beta_ppf(p, a, b), sps.beta.ppf(p, a, b), "beta.ppf")


def test_t_and_normal_quantiles_match_scipy() -> None:
    rng = np.random.default_rng(13)
    p = np.concatenate([rng.uniform(0.0005, 0.9995, N_CASES), 10 ** rng.uniform(-10, -2, N_CASES)])
    df = np.exp(rng.uniform(0, np.log(1e5), 2 * N_CASES))
    assert_close(_core.stats_t_ppf(p, df), sps.t.ppf(p, df), "t.ppf")
    assert_close(_core.stats_norm_ppf(p), sps.norm.ppf(p), "norm.ppf")


def test_t_interval_matches_descrstatsw() -> None:
    rng = np.random.default_rng(14)
    for case in range(N_CASES):
        n = int(rng.integers(2, 400))
        ratings = rng.integers(1, 6, n)
        values = (ratings - 1) / 4.0 if case % 2 else rng.beta(2, 5, n)
        level = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        iv = ts.t_interval(values, level=level)
        ref = sps.t.interval(level, n - 1, loc=values.mean(), scale=sps.sem(values))
        assert_close([iv.lower, iv.upper], ref, "t interval (unweighted)")
        weights = rng.integers(1, 5, n).astype(float)
        ivw = ts.t_interval(values, weights, level=level)
        d = DescrStatsW(values, weights=weights)
        assert_close([ivw.lower, ivw.upper], d.tconfint_mean(alpha=1 - level), "t interval (weighted)")
        assert_close(ivw.estimate, d.mean, "weighted mean")


def test_newcombe_difference_matches_statsmodels() -> None:
    rng = np.random.default_rng(15)
    for _ in range(N_CASES):
        n1, n2 = (int(v) for v in rng.integers(1, 3000, 2))
        x1, x2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        level = float(rng.choice([0.9, 0.95, 0.99]))
        iv = ts.newcombe_difference(x1, n1, x2, n2, level)
        ref = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=1 - level)
        assert_close([iv.lower, iv.upper], ref, f"newcombe {x1}/{n1} vs {x2}/{n2}")


def test_mcnemar_matches_statsmodels_and_midp_matches_scipy() -> None:
    rng = np.random.default_rng(16)
    for _ in range(N_CASES):
        b, c = (int(v) for v in rng.integers(0, 400, 2))
        exact, mid = ts.mcnemar(b, c)
        ref = sm_mcnemar([[10, b], [c, 10]], exact=True).pvalue
        assert_close(exact, ref, f"mcnemar exact b={b} c={c}")
        k, n = min(b, c), b + c
        ref_mid = min(1.0, 2 * sps.binom.cdf(k, n, 0.5) - sps.binom.pmf(k, n, 0.5))
        assert_close(mid, ref_mid, f"mcnemar mid-p b={b} c={c}")


def test_paired_comparison_counts_and_wald() -> None:
    rng = np.random.default_rng(17)
    for _ in range(N_CASES):
        n = int(rng.integers(5, 500))
        a = (rng.random(n) < rng.uniform(0.5, 0.95)).astype(float)
        b = np.where(rng.random(n) < 0.8, a, 1 - a)
        r = ts.paired_comparison(a, b, level=0.95)
        d = a - b
        ref = DescrStatsW(d).zconfint_mean(alpha=0.05)
        assert_close([r.wald.lower, r.wald.upper], ref, "paired wald")
        assert r.a_only == int(((a == 1) & (b == 0)).sum()) and r.b_only == int(((a == 0) & (b == 1)).sum())
        # Newcombe method 10 recomputed from statsmodels' Wilson limits.
        e, f, g, h = r.both, r.a_only, r.b_only, r.neither
        p1, p2 = (e + f) / n, (e + g) / n
        l1, u1 = proportion_confint(e + f, n, alpha=0.05, method="wilson")
        l2, u2 = proportion_confint(e + g, n, alpha=0.05, method="wilson")
        den = np.sqrt(float((e + f) * (g + h) * (e + g) * (f + h)))
        phi = (e * h - f * g) / den if den > 0 else 0.0
        dl = np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
        du = np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
        assert_close(
            [r.newcombe.lower, r.newcombe.upper],
            [max(p1 - p2 - dl, -1), min(p1 - p2 + du, 1)],
            "newcombe paired",
        )


def test_ks_2samp_matches_scipy_auto_exact_asymp() -> None:
    rng = np.random.default_rng(18)
    count = 0
    for case in range(N_CASES):
        n1 = int(rng.integers(1, 300))
        n2 = n1 if case % 5 == 0 else int(rng.integers(1, 300))
        shift = rng.uniform(0, 0.8)
        x = rng.normal(0, 1, n1)
        y = rng.normal(shift, 1, n2)
        if case % 3 == 0:  # ties
            x, y = np.round(x, 1), np.round(y, 1)
        for method in ("auto", "exact", "asymp"):
            ours = ts.ks_2samp(x, y, method=method)
            ref = sps.ks_2samp(x, y, method=method)
            assert_close(ours.statistic, ref.statistic, f"ks stat {method} n1={n1} n2={n2}")
            assert_close(ours.pvalue, ref.pvalue, f"ks p {method} n1={n1} n2={n2}")
            count += 1
    assert count >= 3 * N_CASES


def test_ks_2samp_large_samples_asymptotic() -> None:
    rng = np.random.default_rng(19)
    for _ in range(40):
        n1 = int(rng.integers(10_001, 60_000))
        n2 = int(rng.integers(50, 60_000))
        x = rng.normal(0, 1, n1)
        y = rng.normal(rng.uniform(0, 0.05), 1, n2)
        ours = ts.ks_2samp(x, y)
        ref = sps.ks_2samp(x, y)
        assert ours.method == "asymp"
        assert_close(ours.statistic, ref.statistic, "ks stat large")
        assert_close(ours.pvalue, ref.pvalue, f"ks p large n1={n1} n2={n2}")


def test_kolmogorov_sf_matches_kstwo() -> None:
    rng = np.random.default_rng(20)
    ns = np.concatenate(
        [rng.integers(1, 141, 120), rng.integers(141, 100_000, 120), rng.integers(1e5, 2e6, 30)]
    )
    for n in ns:
        n = int(n)
        # Sample x across the regimes: around 1/sqrt(n) mostly, some large.
        for x in (rng.uniform(0.2, 3.0) / np.sqrt(n), rng.uniform(0, 1)):
            assert_close(ts.kolmogorov_sf(n, float(x)), sps.kstwo.sf(x, n), f"kstwo.sf n={n} x={x}")


def test_jensen_shannon_matches_scipy() -> None:
    rng = np.random.default_rng(21)
    for case in range(N_CASES):
        k = int(rng.integers(2, 40))
        p = rng.random(k) * (rng.random(k) > 0.2)
        q = rng.random(k) * (rng.random(k) > 0.2)
        p[0] += 0.1
        q[-1] += 0.1
        base = [None, 2.0, 10.0][case % 3]
        assert_close(ts.jensen_shannon(p, q, base=base), jensenshannon(p, q, base=base), f"js base={base}")


def test_psi_matches_numpy_formula() -> None:
    rng = np.random.default_rng(22)
    for _ in range(N_CASES):
        k = int(rng.integers(2, 20))
        e = rng.random(k) * (rng.random(k) > 0.1) + 1e-9
        a = rng.random(k) * (rng.random(k) > 0.1)
        ep = np.maximum(e / e.sum(), 1e-4)
        ap = np.maximum(a / max(a.sum(), 1e-300), 1e-4) if a.sum() > 0 else None
        if ap is None:
            continue
        ref = float(np.sum((ap - ep) * np.log(ap / ep)))
        assert_close(ts.psi(e, a), ref, "psi")


def test_weighted_mean_matches_descrstatsw() -> None:
    rng = np.random.default_rng(23)
    for _ in range(N_CASES):
        n = int(rng.integers(2, 300))
        y = rng.random(n)
        pi = rng.uniform(0.05, 1, n)
        agg = ts.Aggregate.from_sample(y, pi, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        est = agg.estimate_population("poisson")
        assert_close(est.mean, DescrStatsW(y, weights=1 / pi).mean, "hajek mean")
        assert_close(est.total, np.sum(y / pi), "HT total")
        assert_close(est.n_eff, (1 / pi).sum() ** 2 / (1 / pi**2).sum(), "kish n_eff")


def _numpy_quantile_hist(ref: np.ndarray, prod: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    cuts = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    hr = np.bincount(np.searchsorted(cuts, ref, side="right"), minlength=cuts.size + 1)
    hp = np.bincount(np.searchsorted(cuts, prod, side="right"), minlength=cuts.size + 1)
    return hr.astype(float), hp.astype(float)


def test_drift_by_group_matches_scipy_and_numpy() -> None:
    rng = np.random.default_rng(24)
    for case in range(60):
        n_ref, n_prod = (int(v) for v in rng.integers(50, 3000, 2))
        ref = rng.beta(5, 2, n_ref)
        prod = rng.beta(5 - rng.uniform(0, 2), 2, n_prod)
        if case % 4 == 0:
            ref, prod = np.round(ref, 2), np.round(prod, 2)
        rg = rng.choice(["cheap", "capable", "mid"], n_ref)
        pg = rng.choice(["cheap", "capable", "mid"], n_prod)
        bins = int(rng.integers(2, 20))
        res = ts.drift_by_group(ref, rg, prod, pg, bins=bins, base=2.0)
        for g in ("cheap", "capable", "mid"):
            r = res[g]
            assert r is not None
            a, b = ref[rg == g], prod[pg == g]
            ks = sps.ks_2samp(a, b)
            assert_close([r.ks.statistic, r.ks.pvalue], [ks.statistic, ks.pvalue], f"group ks {g}")
            hr, hp = _numpy_quantile_hist(a, b, bins)
            assert_close(r.js, jensenshannon(hr, hp, base=2.0), f"group js {g}")
            e = np.maximum(hr / hr.sum(), 1e-4)
            q = np.maximum(hp / hp.sum(), 1e-4)
            assert_close(r.psi, float(np.sum((q - e) * np.log(q / e))), f"group psi {g}")
            assert_close(ts.psi_samples(a, b, bins=bins), r.psi, "psi_samples")
