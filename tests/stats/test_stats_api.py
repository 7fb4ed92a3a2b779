"""API behaviour of tierscope.stats: typed errors, determinism, invariants, serialisation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope import stats as ts
from tierscope.exceptions import InvalidInputError, TierscopeError

# ----------------------------------------------------------------------------- bad inputs


def test_nan_and_inf_scores_are_rejected_naming_the_argument() -> None:
    with pytest.raises(InvalidInputError, match=r"values\[1\]"):
        ts.t_interval([0.1, math.nan, 0.3])
    with pytest.raises(InvalidInputError, match=r"y\[0\]"):
        ts.Aggregate.from_sample([math.inf], [0.5], [0], [0])
    with pytest.raises(InvalidInputError, match=r"scores\[2\]"):
        ts.poisson_inclusion_probabilities([1.0, 2.0, math.nan], 1.0)
    with pytest.raises(InvalidInputError, match=r"values\[0\]"):
        ts.bootstrap_interval([math.nan] * 20)
    with pytest.raises(InvalidInputError, match=r"y\[0\]"):
        ts.Monitor(0.8, 0.05).update([math.nan])


def test_errors_are_value_errors_and_tierscope_errors() -> None:
    with pytest.raises(ValueError):
        ts.proportion_interval(11, 10)
    with pytest.raises(TierscopeError):
        ts.proportion_interval(1, 0)


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.7, math.nan])
def test_pi_outside_unit_interval(bad: float) -> None:
    with pytest.raises(InvalidInputError, match=r"pi\[1\].*\(0, 1\]"):
        ts.Aggregate.from_sample([1.0, 0.0], [0.5, bad], [0, 0], [0, 0])


@pytest.mark.parametrize("budget", [0, -10])
def test_non_positive_budget(budget: int) -> None:
    with pytest.raises(InvalidInputError, match="budget"):
        ts.allocate([ts.StratumSpec(100, 0.3)], budget)


def test_stratum_with_no_population() -> None:
    with pytest.raises(InvalidInputError, match=r"strata\[1\]\.population"):
        ts.allocate([ts.StratumSpec(100, 0.3), ts.StratumSpec(0, 0.3)], 10)
    # SRSWOR estimation needs N_h for every sampled stratum.
    with pytest.raises(InvalidInputError, match="population"):
        ts.estimate(
            [1.0, 0.0], [0.5, 0.5], ["a", "a"], ["cheap", "cheap"], design="srswor", population_sizes={}
        )
    # Sampling from a stratum that has no units.
    with pytest.raises(InvalidInputError, match="sizes"):
        ts.stratified_srswor(["a", "a", "b"], {"c": 1})


def test_mismatched_lengths() -> None:
    with pytest.raises(InvalidInputError, match="pi"):
        ts.estimate([1.0, 0.0, 1.0], [0.5, 0.5], [0, 0, 0], [0, 0, 0])
    with pytest.raises(InvalidInputError, match="weights"):
        ts.t_interval([0.1, 0.2, 0.3], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="n"):
        ts.proportion_intervals([1, 2, 3], [10, 10])
    with pytest.raises(InvalidInputError, match="b"):
        ts.paired_comparison([1, 0, 1], [1, 0])


def test_unknown_methods() -> None:
    with pytest.raises(InvalidInputError, match="method.*'magic'"):
        ts.allocate([ts.StratumSpec(100, 0.3)], 10, method="magic")
    with pytest.raises(InvalidInputError, match="method"):
        ts.proportion_interval(1, 10, method="wald-ish")
    with pytest.raises(InvalidInputError, match="method"):
        ts.ks_2samp([1.0, 2.0], [3.0], method="fast")
    with pytest.raises(InvalidInputError, match="design"):
        ts.Aggregate().estimate_population(design="cluster")


def test_domain_without_sampled_units_is_undefined_not_an_error() -> None:
    est = ts.estimate(
        [1.0, 0.0, 1.0],
        [0.2, 0.2, 0.5],
        ["s1", "s1", "s2"],
        ["cheap", "cheap", "cheap"],
        expected_domains=["cheap", "capable"],
    )
    cap = est.domains["capable"]
    assert not cap.defined and math.isnan(cap.mean) and math.isnan(cap.lower)
    assert cap.reason is not None and "no sampled units" in cap.reason
    assert est.domains["cheap"].defined
    gap = ts.Aggregate.from_sample([1.0, 0.0], [0.5, 0.5], [0, 0], [0, 0]).domain_gap(0, 1)
    assert not gap.defined and gap.reason is not None


def test_other_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="level"):
        ts.proportion_interval(1, 10, level=1.0)
    with pytest.raises(InvalidInputError, match=r"a\[0\]"):
        ts.paired_comparison([0.5, 1.0], [1.0, 1.0])
    with pytest.raises(InvalidInputError, match="expected_size"):
        ts.poisson_inclusion_probabilities([1.0, 0.0], 2.0)
    with pytest.raises(InvalidInputError, match="targets"):
        ts.allocate(
            [ts.StratumSpec(100, 0.3, domain="cheap")], 10, method="precision", targets={"other": 0.03}
        )
    with pytest.raises(InvalidInputError, match="population"):
        ts.Monitor(0.8, 0.05, max_weight=20).update([1.0], pi=[0.1])
    with pytest.raises(InvalidInputError, match="json"):
        ts.Monitor.from_json("{not json")
    with pytest.raises(InvalidInputError, match="strata"):
        ts.Aggregate.from_sample([1.0], [0.5], [-1], [0])


# ----------------------------------------------------------------------------- designs


def test_samplers_are_deterministic_given_seed() -> None:
    strata = np.repeat(["tail", "head", "mid"], [30, 500, 200])
    a = ts.stratified_srswor(strata, {"tail": 10, "head": 25, "mid": 5}, seed=3)
    b = ts.stratified_srswor(strata, {"tail": 10, "head": 25, "mid": 5}, seed=3)
    c = ts.stratified_srswor(strata, {"tail": 10, "head": 25, "mid": 5}, seed=4)
    assert np.array_equal(a.indices, b.indices) and not np.array_equal(a.indices, c.indices)
    assert len(a.indices) == 40 and len(set(a.indices.tolist())) == 40
    assert np.allclose(a.pi[strata[a.indices] == "tail"], 10 / 30)
    pi = ts.poisson_inclusion_probabilities(np.linspace(0.1, 5, 1000), 100)
    s1 = ts.poisson_sample(pi, seed=9)
    s2 = ts.poisson_sample(pi, seed=9)
    assert np.array_equal(s1.indices, s2.indices) and np.array_equal(s1.pi, pi[s1.indices])


@settings(max_examples=50, deadline=None)
@given(
    scores=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 100.0)), min_size=1, max_size=60),
    frac=st.floats(0.01, 1.0),
)
def test_pps_probabilities_capped_and_sum_to_target(scores: list[float], frac: float) -> None:
    positive = sum(s > 0 for s in scores)
    if positive == 0:
        return
    target = frac * positive
    pi = ts.poisson_inclusion_probabilities(scores, target)
    assert np.all(pi <= 1.0) and np.all(pi >= 0.0)
    assert abs(pi.sum() - target) <= 1e-9 * max(1.0, target)
    s = np.asarray(scores)
    free = (pi < 1.0) & (s > 0)
    if free.sum() >= 2:
        ratio = pi[free] / s[free]
        assert np.allclose(ratio, ratio[0])


# ----------------------------------------------------------------------------- allocation


@settings(max_examples=80, deadline=None)
@given(
    pops=st.lists(st.integers(1, 2000), min_size=1, max_size=10),
    method=st.sampled_from(["proportional", "neyman", "optimal", "precision"]),
    frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 1000),
)
def test_allocation_sums_exactly_and_respects_bounds(
    pops: list[int], method: str, frac: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    specs = [
        ts.StratumSpec(
            population=p,
            sd=float(rng.uniform(0, 0.5)),
            cost=float(rng.uniform(0.5, 3)),
            minimum=int(rng.integers(0, 5)),
            maximum=None if rng.random() < 0.7 else int(rng.integers(1, p + 1)),
            domain=("cheap", "capable")[i % 2],
        )
        for i, p in enumerate(pops)
    ]
    caps = [min(s.maximum if s.maximum is not None else s.population, s.population) for s in specs]
    mins = [min(s.minimum, c) for s, c in zip(specs, caps, strict=True)]
    lo, hi = max(sum(mins), 1), sum(caps)
    if lo > hi:
        return
    budget = lo + int(frac * (hi - lo))
    targets = {d: 0.05 for d in {s.domain for s in specs}}
    a = ts.allocate(specs, budget, method=method, targets=targets if method == "precision" else None)
    assert int(a.sizes.sum()) == budget
    assert all(m <= n <= c for m, n, c in zip(mins, a.sizes.tolist(), caps, strict=True))


def test_precision_targets_report_unreachable() -> None:
    specs = [
        ts.StratumSpec(5000, 0.4, domain="cheap"),
        ts.StratumSpec(3000, 0.2, domain="cheap"),
        ts.StratumSpec(8000, 0.45, domain="capable"),
    ]
    rich = ts.allocate(specs, 3000, method="precision", targets={"cheap": 0.03, "capable": 0.03})
    assert all(t.reached for t in rich.targets)
    poor = ts.allocate(specs, 800, method="precision", targets={"cheap": 0.03, "capable": 0.03})
    assert int(poor.sizes.sum()) == 800
    reached = {t.domain: t.reached for t in poor.targets}
    assert reached["cheap"] and not reached["capable"]
    missed = next(t for t in poor.targets if not t.reached)
    assert missed.achieved > missed.target and missed.required > 0


# ----------------------------------------------------------------------------- estimators and aggregates


def test_estimate_flow_with_labels_and_post_stratification() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    tier = np.where(rng.random(n) < 0.5, "cheap", "capable")
    band = rng.integers(0, 3, n)
    y = (rng.random(n) < np.where(tier == "cheap", 0.8, 0.9)).astype(float)
    pi = np.where(band == 0, 0.5, 0.1)
    est = ts.estimate(y, pi, [f"{t}-{b}" for t, b in zip(tier, band, strict=True)], tier)
    assert set(est.domains) == {"cheap", "capable"}
    for e in est.domains.values():
        assert e.defined and e.lower < e.mean < e.upper and e.n_eff <= e.n
    assert est.population.domain is None and len(est.strata) == 6
    agg = ts.Aggregate.from_sample(y, pi, band, (tier == "cheap").astype(np.int64))
    ps = agg.post_stratified({0: 5000.0, 1: 5000.0})
    doms = agg.estimate_domains()
    assert abs(ps.mean - 0.5 * (doms[0].mean + doms[1].mean)) < 1e-12
    gap = agg.domain_gap(0, 1)
    assert gap.defined and gap.lower < gap.estimate < gap.upper


def test_aggregate_merge_is_partition_invariant_and_serialisable() -> None:
    rng = np.random.default_rng(6)
    n = 5000
    y = rng.random(n)
    pi = rng.uniform(0.05, 1, n)
    h = rng.integers(0, 4, n)
    d = rng.integers(0, 2, n)
    whole = ts.Aggregate.from_sample(y, pi, h, d)
    parts = [ts.Aggregate.from_sample(y[i::3], pi[i::3], h[i::3], d[i::3]) for i in range(3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    other = parts[2].merge(parts[0].merge(parts[1]))
    for a, b in ((whole, merged), (merged, other)):
        ea, eb = a.estimate_domains(), b.estimate_domains()
        for x, z in zip(ea, eb, strict=True):
            assert x.mean == pytest.approx(z.mean, rel=1e-12) and x.se == pytest.approx(z.se, rel=1e-10)
    restored = ts.Aggregate.from_json(merged.to_json())
    assert restored.to_json() == merged.to_json()
    assert isinstance(json.loads(merged.to_json())["cells"], list)


def test_bootstrap_seeded_thread_independent_and_sensible() -> None:
    rng = np.random.default_rng(7)
    y = rng.beta(5, 2, 50_000)
    a = ts.bootstrap_interval(y, replicates=300, seed=1, threads=1)
    b = ts.bootstrap_interval(y, replicates=300, seed=1, threads=2)
    assert a == b
    t = ts.t_interval(y)
    assert abs(a.lower - t.lower) < 0.15 * (t.upper - t.lower) and abs(a.upper - t.upper) < 0.15 * (
        t.upper - t.lower
    )
    ratings = (rng.integers(1, 6, 20_000) - 1) / 4.0  # few distinct values: multinomial-count path
    r = ts.bootstrap_interval(ratings, replicates=400, seed=2)
    tr = ts.t_interval(ratings)
    assert abs(r.lower - tr.lower) < 0.15 * (tr.upper - tr.lower)
    w = rng.uniform(1, 5, 20_000)
    rw = ts.bootstrap_interval(y[:20_000], weights=w, replicates=200, seed=3)
    assert rw.lower < rw.estimate < rw.upper


# ----------------------------------------------------------------------------- monitors, drift, planning


def test_monitor_state_round_trips_between_days() -> None:
    rng = np.random.default_rng(8)
    m = ts.Monitor(baseline=0.85, tolerance=0.03)
    for _ in range(10):
        state = m.to_json()
        m = ts.Monitor.from_json(state)
        status = m.update((rng.random(70) < 0.85).astype(float))
    assert m.day == 10 and status.day == 10 and not status.alarm
    assert len(m.history) == 10 and status.lower <= 0.85 <= status.upper


def test_weighted_monitor_and_gap_monitor() -> None:
    rng = np.random.default_rng(9)
    m = ts.Monitor(baseline=0.8, tolerance=0.05, max_weight=20.0)
    for _ in range(60):
        traffic = 1000
        pi = np.where(rng.random(traffic) < 0.3, 0.2, 0.05)
        sampled = rng.random(traffic) < pi
        y = (rng.random(int(sampled.sum())) < 0.8).astype(float)
        s = m.update(y, pi=pi[sampled], population=traffic)
    assert s.lower <= 0.8 <= s.upper and m.alarm_day is None
    gap = ts.Monitor(baseline=0.0, tolerance=0.05, lo=-1.0, hi=1.0)
    for _ in range(40):
        cheap = (rng.random(70) < 0.7).astype(float)
        capable = (rng.random(70) < 0.85).astype(float)
        gap.update(cheap - capable)
    assert gap.alarm_day is not None  # a 15-point paired gap exceeds the 5-point tolerance


def test_cusum_round_trip() -> None:
    c = ts.Cusum.normal(0.8, 0.1, 1.0, threshold=5.0)
    c.update([0.8] * 10)
    c2 = ts.Cusum.from_json(c.to_json())
    assert c2.statistic == c.statistic
    assert c2.update([0.5] * 5)


def test_integer_labels_with_gaps_report_only_present_or_expected_domains() -> None:
    est = ts.estimate([1.0, 0.0, 1.0], [0.5, 0.5, 0.5], [0, 0, 4], [1, 3, 3], expected_domains=[7])
    assert set(est.domains) == {1, 3, 7}
    assert est.domains[1].defined and est.domains[3].n == 2 and not est.domains[7].defined
    assert set(est.strata) == {0, 4}


def test_drift_per_group() -> None:
    rng = np.random.default_rng(10)
    ref = rng.beta(5, 2, 4000)
    prod = np.concatenate([rng.beta(5, 2, 2000), rng.beta(3, 3, 2000)])
    rg = np.where(np.arange(4000) < 2000, "cheap", "capable")
    pg = np.where(np.arange(4000) < 2000, "cheap", "capable")
    res = ts.ks_by_group(ref, rg, prod, pg)
    same, shifted = res["cheap"], res["capable"]
    assert same is not None and shifted is not None and shifted.pvalue < 1e-6 < same.pvalue
    assert ts.psi_samples(ref, prod[2000:]) > ts.psi_samples(ref, prod[:2000])
    assert ts.jensen_shannon([1, 2, 3], [1, 2, 3], base=2) == 0.0
    full = ts.drift_by_group(ref, rg, prod, np.where(pg == "cheap", "cheap", "new"))
    assert full["capable"] is None and full["new"] is None
    cheap = full["cheap"]
    assert cheap is not None and cheap.psi < 0.05 and cheap.js < 0.1


def test_planning() -> None:
    fixed = ts.fixed_sample_plan(0.85, 0.1, days=7)
    seq = ts.sequential_plan(0.85, 0.1, days=7, sims=100, seed=1, max_per_day=500)
    assert fixed.per_day > 0 and seq.per_day >= fixed.per_day and seq.power >= 0.8
    with pytest.raises(InvalidInputError, match="delta"):
        ts.fixed_sample_plan(0.85, 0.9, days=7)


def test_undefined_reason_names_the_label() -> None:
    est = ts.estimate([1.0], [0.5], ["s"], ["cheap"], expected_domains=["premium"])
    reason = est.domains["premium"].reason
    assert reason is not None and "'premium'" in reason
