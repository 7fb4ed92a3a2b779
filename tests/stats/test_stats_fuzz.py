"""Property tests of the :mod:`tierscope.stats` boundary (issue 11).

For random valid inputs every output is finite and in its range (intervals ordered and holding
their estimate, probabilities in [0, 1], distances within their bounds); for random invalid
inputs the error is always :class:`~tierscope.exceptions.InvalidInputError` naming the argument,
never a raw ``TypeError``/``OverflowError``, a numpy ``ValueError`` or a panic. Example counts are
kept moderate so the file runs in well under a minute on one core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tierscope import _core, stats
from tierscope.exceptions import InvalidInputError, TierscopeError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SQRT_LN2 = math.sqrt(math.log(2.0))
EPS = 1e-12

levels = st.floats(0.5, 0.999)
unit_scores = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40)
binary = st.lists(st.integers(0, 1), min_size=2, max_size=60)


def _ordered(
    lower: float, estimate: float, upper: float, lo: float = -math.inf, hi: float = math.inf
) -> None:
    assert all(math.isfinite(v) for v in (lower, estimate, upper)), (lower, estimate, upper)
    assert lo - EPS <= lower <= estimate + EPS, (lower, estimate)
    assert estimate - EPS <= upper <= hi + EPS, (estimate, upper)


# ----------------------------------------------------------------------------- valid inputs


@FUZZ
@given(
    n=st.integers(1, 10**6),
    frac=st.floats(0.0, 1.0),
    level=levels,
    method=st.sampled_from(["wilson", "clopper_pearson", "agresti_coull", "jeffreys"]),
)
def test_proportion_intervals_are_ordered_probabilities(
    n: int, frac: float, level: float, method: str
) -> None:
    successes = round(frac * n)
    iv = stats.proportion_interval(successes, n, level=level, method=method)
    if method == "jeffreys":
        # As statsmodels: the equal-tailed beta interval, which excludes 0 (n) at 0 (n) successes.
        assert 0.0 <= iv.lower <= iv.upper <= 1.0 and math.isfinite(iv.estimate)
    else:
        _ordered(iv.lower, iv.estimate, iv.upper, 0.0, 1.0)
    lower, upper = stats.proportion_intervals([successes, 0], [n, n], level=level, method=method)
    assert np.all(lower <= upper) and np.all(lower >= 0) and np.all(upper <= 1)


@FUZZ
@given(values=unit_scores, level=levels)
def test_t_and_bootstrap_intervals_are_finite_and_ordered(values: list[float], level: float) -> None:
    iv = stats.t_interval(values, level=level)
    _ordered(iv.lower, iv.estimate, iv.upper)
    boot = stats.bootstrap_interval(values, level=level, replicates=40, seed=3, threads=1)
    assert math.isfinite(boot.lower) and math.isfinite(boot.upper)
    assert min(values) - EPS <= boot.lower <= boot.upper <= max(values) + EPS


@FUZZ
@given(
    na=st.integers(1, 10**5),
    nb=st.integers(1, 10**5),
    fa=st.floats(0, 1),
    fb=st.floats(0, 1),
    level=levels,
)
def test_newcombe_difference_is_within_minus_one_one(
    na: int, nb: int, fa: float, fb: float, level: float
) -> None:
    iv = stats.newcombe_difference(round(fa * na), na, round(fb * nb), nb, level=level)
    _ordered(iv.lower, iv.estimate, iv.upper, -1.0, 1.0)


@FUZZ
@given(data=st.data(), level=levels)
def test_paired_comparison_intervals_and_pvalues(data: st.DataObject, level: float) -> None:
    a = data.draw(binary)
    b = data.draw(st.lists(st.integers(0, 1), min_size=len(a), max_size=len(a)))
    pc = stats.paired_comparison(a, b, level=level)
    assert pc.both + pc.a_only + pc.b_only + pc.neither == pc.n == len(a)
    _ordered(pc.newcombe.lower, pc.newcombe.estimate, pc.newcombe.upper, -1.0, 1.0)
    assert 0.0 <= pc.mcnemar_midp <= pc.mcnemar_exact_p <= 1.0


@FUZZ
@given(b=st.integers(0, 10**6), c=st.integers(0, 10**6))
def test_mcnemar_pvalues_are_probabilities(b: int, c: int) -> None:
    exact, mid = stats.mcnemar(np.int64(b), c)
    assert 0.0 <= mid <= exact <= 1.0
    assert (exact, mid) == stats.mcnemar(c, b)


@FUZZ
@given(n=st.integers(1, 10**5), x=st.floats(-1.0, 2.0))
def test_kolmogorov_sf_is_a_probability(n: int, x: float) -> None:
    assert 0.0 <= stats.kolmogorov_sf(n, x) <= 1.0


masses = st.one_of(
    st.just(0.0),
    st.just(5e-324),
    st.just(float(np.finfo(float).max)),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1e300),
    st.integers(0, 10**9).map(float),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_jensen_shannon_and_psi_are_finite_on_any_valid_histograms(data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 10))
    p = data.draw(st.lists(masses, min_size=k, max_size=k).filter(lambda v: any(x > 0 for x in v)))
    q = data.draw(st.lists(masses, min_size=k, max_size=k).filter(lambda v: any(x > 0 for x in v)))
    d = stats.jensen_shannon(p, q)
    assert math.isfinite(d) and 0.0 <= d <= SQRT_LN2 + EPS, (p, q, d)
    d2 = stats.jensen_shannon(p, q, base=2)
    assert 0.0 <= d2 <= 1.0, (p, q, d2)
    assert stats.jensen_shannon(p, p) == 0.0
    v = stats.psi(p, q)
    assert math.isfinite(v) and v >= 0.0, (p, q, v)


@FUZZ
@given(
    x=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50),
    y=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50),
    method=st.sampled_from(["auto", "exact", "asymp"]),
)
def test_ks_2samp_is_a_distance_and_a_pvalue(x: list[float], y: list[float], method: str) -> None:
    r = stats.ks_2samp(x, y, method=method)
    assert 0.0 <= r.statistic <= 1.0 and 0.0 <= r.pvalue <= 1.0


@FUZZ
@given(data=st.data(), level=levels)
def test_design_based_estimates_are_ordered(data: st.DataObject, level: float) -> None:
    n = data.draw(st.integers(1, 30))
    y = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    pi = data.draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))
    strata = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    domains = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    est = stats.estimate(y, pi, strata, domains, level=level, expected_domains=["a", "b", "c"])
    for e in [est.population, *est.domains.values(), *est.strata.values()]:
        if not e.defined:
            assert e.reason
            continue
        assert math.isfinite(e.mean) and -EPS <= e.mean <= 1 + EPS
        assert e.lower <= e.upper and e.wald_lower <= e.mean + EPS <= e.wald_upper + 2 * EPS


@FUZZ
@given(p0=st.floats(0.2, 0.99), frac=st.floats(0.05, 0.9), days=st.integers(1, 60))
def test_fixed_sample_plan_is_a_positive_integer_plan(p0: float, frac: float, days: int) -> None:
    plan = stats.fixed_sample_plan(p0, p0 * frac, days)
    assert plan.per_day >= 1 and plan.total == plan.per_day * days


# ----------------------------------------------------------------------------- invalid inputs

# Values no real-valued argument accepts, and values no integer-count argument accepts.
bad_reals = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, 1j, b"1", [0.5], (0.5,), {}]),
    st.text(max_size=5),
    st.just(np.float64("nan")),
    st.just(np.bool_(True)),
)
bad_ints = st.one_of(
    st.sampled_from([True, False, None, math.nan, math.inf, b"1", [1], 1j]),
    st.floats(allow_nan=True).filter(lambda f: not (isinstance(f, float) and f.is_integer())),
    st.floats(-1e6, 1e6).filter(lambda f: f.is_integer()),  # 2.0 is a float, not a count
    st.integers(max_value=-1),
    st.integers(min_value=2**64),
    st.text(max_size=5),
    st.just(np.bool_(False)),
)
bad_levels = st.one_of(bad_reals, st.floats(max_value=0.0), st.floats(min_value=1.0))
bad_arrays = st.one_of(
    st.text(min_size=1, max_size=5),
    st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=4),
    st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), min_size=2, max_size=3),
    st.lists(
        st.complex_numbers(allow_nan=False, allow_infinity=False).filter(lambda z: z.imag != 0),
        min_size=1,
        max_size=3,
    ),
    st.just(None),
    st.just(np.array([0.5, "x"], dtype=object)),
    st.just(np.array(["2024-01-01"], dtype="datetime64[D]")),
)

V = [0.2, 0.4, 0.9, 0.5]
SCALARS: list[tuple[str, Callable[..., Any], dict[str, Any], str, Any]] = [
    ("proportion_interval", stats.proportion_interval, {"successes": 3, "n": 10}, "successes", bad_reals),
    ("proportion_interval", stats.proportion_interval, {"successes": 3, "n": 10}, "n", bad_reals),
    ("proportion_interval", stats.proportion_interval, {"successes": 3, "n": 10}, "level", bad_levels),
    ("t_interval", stats.t_interval, {"values": V}, "level", bad_levels),
    ("bootstrap_interval", stats.bootstrap_interval, {"values": V}, "replicates", bad_ints),
    ("bootstrap_interval", stats.bootstrap_interval, {"values": V}, "seed", bad_ints),
    ("bootstrap_interval", stats.bootstrap_interval, {"values": V}, "threads", bad_ints),
    (
        "newcombe_difference",
        stats.newcombe_difference,
        {"successes_a": 1, "n_a": 5, "successes_b": 2, "n_b": 5},
        "n_b",
        bad_reals,
    ),
    ("mcnemar", stats.mcnemar, {"b": 1, "c": 2}, "b", bad_ints),
    ("mcnemar", stats.mcnemar, {"b": 1, "c": 2}, "c", bad_ints),
    ("kolmogorov_sf", stats.kolmogorov_sf, {"n": 10, "x": 0.3}, "n", bad_ints),
    ("kolmogorov_sf", stats.kolmogorov_sf, {"n": 10, "x": 0.3}, "x", bad_reals),
    ("psi", stats.psi, {"expected": [1, 2], "actual": [2, 1]}, "eps", bad_reals),
    ("psi_samples", stats.psi_samples, {"reference": V, "production": V}, "bins", bad_ints),
    (
        "jensen_shannon",
        stats.jensen_shannon,
        {"p": [1, 2], "q": [2, 1]},
        "base",
        bad_reals.filter(lambda v: v is not None),
    ),
    (
        "poisson_inclusion_probabilities",
        stats.poisson_inclusion_probabilities,
        {"scores": V},
        "expected_size",
        bad_reals,
    ),
    ("poisson_sample", stats.poisson_sample, {"pi": V}, "seed", bad_ints),
    ("fixed_sample_plan", stats.fixed_sample_plan, {"p0": 0.9, "delta": 0.05, "days": 7}, "days", bad_ints),
    ("fixed_sample_plan", stats.fixed_sample_plan, {"p0": 0.9, "delta": 0.05, "days": 7}, "p0", bad_levels),
    ("sequential_plan", stats.sequential_plan, {"p0": 0.9, "delta": 0.1, "days": 3}, "sims", bad_ints),
    (
        "simulate_monitor",
        stats.simulate_monitor,
        {
            "baseline": 0.9,
            "tolerance": 0.0,
            "days": 3,
            "reviews_per_day": 5,
            "p_before": 0.9,
            "p_after": 0.8,
            "change_day": 1,
            "runs": 2,
        },
        "reviews_per_day",
        bad_ints,
    ),
    ("Monitor", stats.Monitor, {"baseline": 0.9, "tolerance": 0.0}, "alpha", bad_levels),
    ("Monitor", stats.Monitor, {"baseline": 0.9, "tolerance": 0.0}, "restart_every", bad_ints),
    (
        "Cusum.normal",
        stats.Cusum.normal,
        {"mean0": 0.5, "sd": 0.1, "shift": 1.0, "threshold": 4.0},
        "sd",
        bad_reals,
    ),
    ("allocate", stats.allocate, {"strata": [stats.StratumSpec(100, 0.2)], "budget": 10}, "budget", bad_ints),
    ("StratumSpec", stats.StratumSpec, {"population": 100}, "cost", bad_reals),
    (
        "tier_summary",
        stats.tier_summary,
        {"tiers": np.array([0, 1]), "outcome": [1.0, 0.0], "pi": [1.0, 1.0]},
        "threads",
        bad_ints,
    ),
]
ARRAYS: list[tuple[str, Callable[..., Any], dict[str, Any], str]] = [
    ("proportion_intervals", stats.proportion_intervals, {"successes": [1], "n": [2]}, "successes"),
    ("t_interval", stats.t_interval, {"values": V}, "values"),
    ("t_interval", stats.t_interval, {"values": V}, "weights"),
    ("bootstrap_interval", stats.bootstrap_interval, {"values": V}, "values"),
    ("paired_wald", stats.paired_wald, {"a": V, "b": V}, "b"),
    ("psi", stats.psi, {"expected": [1, 2], "actual": [2, 1]}, "expected"),
    ("jensen_shannon", stats.jensen_shannon, {"p": [1, 2], "q": [2, 1]}, "q"),
    ("ks_2samp", stats.ks_2samp, {"x": V, "y": V}, "x"),
    ("poisson_sample", stats.poisson_sample, {"pi": V}, "pi"),
    ("estimate", stats.estimate, {"y": V, "pi": V, "strata": [0] * 4, "domains": [0] * 4}, "y"),
    ("Monitor.update", lambda **kw: stats.Monitor(0.9, 0.0).update(**kw), {"y": [1.0]}, "y"),
]


def _raises_named(fn: Callable[..., Any], kwargs: dict[str, Any], arg: str) -> None:
    with pytest.raises(Exception) as info:  # noqa: PT011 - the class is checked below
        fn(**kwargs)
    err = info.value
    assert isinstance(err, InvalidInputError) and isinstance(err, TierscopeError), (
        f"{type(err).__name__}: {err}"
    )
    assert arg in str(err), str(err)


@pytest.mark.parametrize(
    ("name", "fn", "base", "arg", "values"), SCALARS, ids=[f"{s[0]}-{s[3]}" for s in SCALARS]
)
def test_bad_scalars_raise_invalid_input_naming_the_argument(
    name: str, fn: Callable[..., Any], base: dict[str, Any], arg: str, values: Any
) -> None:
    @settings(max_examples=25, deadline=None)
    @given(value=values)
    def check(value: Any) -> None:
        _raises_named(fn, {**base, arg: value}, arg)

    check()


@pytest.mark.parametrize(("name", "fn", "base", "arg"), ARRAYS, ids=[f"{a[0]}-{a[3]}" for a in ARRAYS])
def test_bad_arrays_raise_invalid_input_naming_the_argument(
    name: str, fn: Callable[..., Any], base: dict[str, Any], arg: str
) -> None:
    @settings(max_examples=20, deadline=None)
    @given(value=bad_arrays.filter(lambda v: not (arg == "weights" and v is None)))
    def check(value: Any) -> None:
        _raises_named(fn, {**base, arg: value}, arg)

    check()


@FUZZ
@given(
    values=st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([math.nan, math.inf, -math.inf])), min_size=1, max_size=20
    ).filter(lambda v: not all(math.isfinite(x) for x in v))
)
def test_non_finite_items_are_refused_with_their_index(values: list[float]) -> None:
    i = next(j for j, x in enumerate(values) if not math.isfinite(x))
    for fn in (
        stats.t_interval,
        lambda v: stats.ks_2samp(v, [0.5]),
        lambda v: stats.jensen_shannon(v, [1.0] * len(v)),
    ):
        with pytest.raises(InvalidInputError) as info:
            fn(values)
        assert f"[{i}]" in str(info.value), str(info.value)


# ----------------------------------------------------------------------------- the core itself

_A = np.array([0.2, 0.4, 0.9])
_I = np.zeros(3, dtype=np.int64)
# (call, the argument its error must name): bad scalars that reach `_core` directly (defence in
# depth) must come back as InvalidInputError from Rust, never OverflowError/TypeError.
CORE_CALLS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "bootstrap-replicates-negative",
        lambda: _core.stats_bootstrap_interval(_A, None, 0.95, -1),
        "replicates",
    ),
    ("bootstrap-seed-huge", lambda: _core.stats_bootstrap_interval(_A, seed=2**70), "seed"),
    ("bootstrap-threads-float", lambda: _core.stats_bootstrap_interval(_A, threads=1.5), "threads"),
    ("proportion-level-str", lambda: _core.stats_proportion_intervals(_A, _A, "0.9"), "level"),
    ("proportion-method-int", lambda: _core.stats_proportion_intervals(_A, _A, 0.9, 3), "method"),
    ("t-level-bool", lambda: _core.stats_t_interval(_A, None, True), "level"),
    ("mcnemar-bool", lambda: _core.stats_mcnemar(True, 2), "b"),
    ("mcnemar-float", lambda: _core.stats_mcnemar(1.5, 2), "b"),
    ("mcnemar-overflow", lambda: _core.stats_mcnemar(2**63, 2**63), "c"),
    ("kolmogorov-nan", lambda: _core.stats_kolmogorov_sf(10, math.nan), "x"),
    ("kolmogorov-n-negative", lambda: _core.stats_kolmogorov_sf(-1, 0.5), "n"),
    ("kolmogorov-n-zero", lambda: _core.stats_kolmogorov_sf(0, 0.5), "n"),
    ("jensen-base-below-one", lambda: _core.stats_jensen_shannon(_A, _A, 0.5), "base"),
    ("jensen-base-str", lambda: _core.stats_jensen_shannon(_A, _A, "2"), "base"),
    ("psi-eps-none", lambda: _core.stats_psi(_A, _A, None), "eps"),
    ("psi-samples-bins-negative", lambda: _core.stats_psi_samples(_A, _A, -3), "bins"),
    ("ks-method-int", lambda: _core.stats_ks_2samp(_A, _A, 0), "method"),
    ("drift-base-nan", lambda: _core.stats_drift_by_group(_A, _I, _A, _I, base=math.nan), "base"),
    ("monitor-restart-huge", lambda: _core.StatsMonitor(0.9, 0.0, restart_every=2**40), "restart_every"),
    ("monitor-alpha-str", lambda: _core.StatsMonitor(0.9, 0.0, alpha="0.05"), "alpha"),
    ("monitor-population-negative", lambda: _core.StatsMonitor(0.9, 0.0).update(_A, None, -1), "population"),
    ("cusum-threshold-none", lambda: _core.StatsCusum.bernoulli(0.9, 0.8, None), "threshold"),
    ("cusum-json-bytes", lambda: _core.StatsCusum.from_json(b"{}"), "text"),
    (
        "aggregate-count-stratum-negative",
        lambda: _core.StatsAggregate().add_population_count(-1, 0, 1.0),
        "stratum",
    ),
    (
        "aggregate-totals-negative-code",
        lambda: _core.StatsAggregate().post_stratified("poisson", [(-1, 2.0)]),
        "totals",
    ),
    ("aggregate-design-int", lambda: _core.StatsAggregate().estimate_population(1), "design"),
    (
        "aggregate-domains-str",
        lambda: _core.StatsAggregate().estimate_domains("poisson", 0.95, ["a"]),
        "domains",
    ),
    ("srswor-sizes-negative", lambda: _core.stats_stratified_srswor(_I, [-1]), "sizes"),
    ("poisson-seed-negative", lambda: _core.stats_poisson_sample(_A, -1), "seed"),
    ("allocate-budget-huge", lambda: _core.stats_allocate(_A, _A, _A, _I, _I, _I, 2**70, "neyman"), "budget"),
    (
        "allocate-targets-bad",
        lambda: _core.stats_allocate(_A, _A, _A, _I, _I, _I, 5, "neyman", targets=[(1, "x")]),
        "targets",
    ),
    ("fixed-plan-days-negative", lambda: _core.stats_fixed_sample_plan(0.9, 0.05, -7), "days"),
    ("sequential-plan-sims-float", lambda: _core.stats_sequential_plan(0.9, 0.05, 7, sims=1.5), "sims"),
    (
        "simulate-monitor-runs-negative",
        lambda: _core.stats_simulate_monitor(0.9, 0.0, 0.05, 7, 3, 5, 0.9, 0.8, 1, -1),
        "runs",
    ),
    (
        "simulate-coverage-sizes-float",
        lambda: _core.stats_simulate_coverage(_A, _I, _I, "srswor", [1.5]),
        "sizes",
    ),
    ("binom-cdf-k-huge", lambda: _core.stats_binom_cdf(2**70, 3, 0.5), "k"),
    ("clopper-delta-str", lambda: _core.stats_clopper_pearson_upper(1, 3, "0.1"), "delta"),
    ("tier-summary-threads-negative", lambda: _core.stats_tier_summary(_I, _A, _A, threads=-1), "threads"),
]


@pytest.mark.parametrize(("call", "arg"), [c[1:] for c in CORE_CALLS], ids=[c[0] for c in CORE_CALLS])
def test_the_core_refuses_bad_scalars_itself(call: Callable[[], Any], arg: str) -> None:
    _raises_named(lambda: call(), {}, arg)
