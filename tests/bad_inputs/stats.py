"""Bad inputs of :mod:`tierscope.stats` (issue 11): for every public function and class
constructor, the wrong types, NaN/infinity, negative and huge values, bools and strings given
as numbers, empty and mismatched arrays, 2-D and text arrays of each argument. Each must raise
:class:`~tierscope.exceptions.InvalidInputError` naming the argument; a few cases check the
correct behaviour at the edges instead (extreme histograms, numpy integer counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tierscope import stats
from tierscope.exceptions import InvalidInputError

from tests.bad_inputs import Case, Context, behaves, expect

NAN = math.nan
INF = math.inf

# Bad values of a real scalar argument, and of an integer one.
REAL = [
    ("nan", NAN),
    ("inf", INF),
    ("neg-inf", -INF),
    ("str", "0.5"),
    ("bool", True),
    ("none", None),
    ("list", [0.5]),
    ("complex", 0.5j),
]
INT = [
    ("float", 1.5),
    ("bool", True),
    ("str", "3"),
    ("negative", -1),
    ("huge", 2**70),
    ("none", None),
    ("nan", NAN),
]
# Bad values of a one-dimensional numeric array argument.
ARRAY = [
    ("text", "0.1 0.2"),
    ("2d", [[0.1, 0.2], [0.3, 0.4]]),
    ("strings", ["0.1", "0.2"]),
    ("objects", np.array([0.1, "x"], dtype=object)),
    ("complex", np.array([0.1 + 1j, 0.2])),
    ("none", None),
    ("scalar", 0.5),
    ("dates", np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")),
]
NONFINITE = [("nan-item", [0.1, NAN]), ("inf-item", [0.1, INF])]

CASES: list[Case] = []


def _cases(
    fn_name: str,
    fn: Callable[..., Any],
    base: dict[str, Any],
    arg: str,
    values: list[tuple[str, Any]],
    *,
    skip: tuple[str, ...] = (),
    names: tuple[str, ...] | None = None,
) -> None:
    """One case per bad value of ``arg``: ``fn(**base, arg=value)`` raises naming ``arg``."""
    for tag, value in values:
        if tag in skip:
            continue

        def call(ctx: Context, value: Any = value) -> Any:
            return fn(**{**base, arg: value})

        CASES.append(expect(f"stats-{fn_name}-{arg}-{tag}", call, InvalidInputError, *(names or (arg,))))


def _one(id: str, call: Callable[[Context], Any], *names: str) -> None:
    CASES.append(expect(f"stats-{id}", call, InvalidInputError, *names))


def _ok(id: str, call: Callable[[Context], Any], check: Callable[[Any, Context], Any] | None = None) -> None:
    CASES.append(behaves(f"stats-{id}", call, check))


VALUES = [0.2, 0.4, 0.9, 0.5, 0.7, 0.1]

# ----------------------------------------------------------------------------- intervals

base = {"successes": 3, "n": 10}
_cases("proportion_interval", stats.proportion_interval, base, "successes", REAL + [("negative", -1)])
_cases("proportion_interval", stats.proportion_interval, base, "n", REAL + [("negative", -5)])
_cases("proportion_interval", stats.proportion_interval, base, "level", REAL + [("zero", 0.0), ("one", 1.0)])
_cases(
    "proportion_interval",
    stats.proportion_interval,
    base,
    "method",
    [("unknown", "wald"), ("none", None), ("int", 1), ("bytes", b"wilson")],
)
_one("proportion_interval-successes-above-n", lambda ctx: stats.proportion_interval(11, 10), "successes")

base = {"successes": [1, 2], "n": [10, 10]}
_cases("proportion_intervals", stats.proportion_intervals, base, "successes", ARRAY + NONFINITE)
_cases("proportion_intervals", stats.proportion_intervals, base, "n", ARRAY + NONFINITE, skip=("scalar",))
_cases("proportion_intervals", stats.proportion_intervals, base, "level", REAL[:5])
_one("proportion_intervals-length", lambda ctx: stats.proportion_intervals([1, 2], [10]), "n")

base = {"values": VALUES}
_cases("t_interval", stats.t_interval, base, "values", ARRAY + NONFINITE)
_cases("t_interval", stats.t_interval, base, "weights", ARRAY + NONFINITE, skip=("none",))
_cases("t_interval", stats.t_interval, base, "level", REAL + [("two", 2.0)])
_one("t_interval-values-empty", lambda ctx: stats.t_interval([]), "values")
_one("t_interval-weights-length", lambda ctx: stats.t_interval(VALUES, weights=[1.0, 2.0]), "weights")

base = {"values": VALUES, "replicates": 50}
_cases("bootstrap_interval", stats.bootstrap_interval, base, "values", ARRAY + NONFINITE)
_cases("bootstrap_interval", stats.bootstrap_interval, base, "replicates", INT + [("too-few", 3)])
_cases("bootstrap_interval", stats.bootstrap_interval, base, "seed", INT)
_cases("bootstrap_interval", stats.bootstrap_interval, base, "threads", INT + [("too-many", 10**6)])
_cases("bootstrap_interval", stats.bootstrap_interval, base, "level", REAL[:5])
_one("bootstrap_interval-weights-length", lambda ctx: stats.bootstrap_interval(VALUES, [1.0]), "weights")

# ----------------------------------------------------------------------------- design

base = {"strata": [0, 0, 1, 1], "sizes": {0: 1, 1: 1}}
_cases("stratified_srswor", stats.stratified_srswor, base, "seed", INT)
_cases(
    "stratified_srswor",
    stats.stratified_srswor,
    base,
    "sizes",
    [("list", [1, 1]), ("none", None), ("unknown-label", {7: 1})],
)
for tag, size in INT:
    _one(
        f"stratified_srswor-sizes-value-{tag}",
        lambda ctx, size=size: stats.stratified_srswor([0, 0, 1], {0: size}),
        "sizes",
    )
_cases(
    "stratified_srswor", stats.stratified_srswor, base, "strata", [("2d", [[0, 1], [1, 0]]), ("text", "0011")]
)
_one("stratified_srswor-sizes-above-population", lambda ctx: stats.stratified_srswor([0, 0], {0: 5}), "sizes")

base = {"scores": [1.0, 2.0, 3.0], "expected_size": 1.5}
_cases(
    "poisson_inclusion_probabilities",
    stats.poisson_inclusion_probabilities,
    base,
    "scores",
    ARRAY + NONFINITE,
)
_cases(
    "poisson_inclusion_probabilities",
    stats.poisson_inclusion_probabilities,
    base,
    "expected_size",
    REAL + [("zero", 0.0), ("negative", -1.0)],
)

base = {"pi": [0.5, 0.2, 1.0]}
_cases(
    "poisson_sample",
    stats.poisson_sample,
    base,
    "pi",
    ARRAY + NONFINITE + [("negative", [-0.5, 0.5]), ("above-one", [1.5])],
)
_cases("poisson_sample", stats.poisson_sample, base, "seed", INT)

# ----------------------------------------------------------------------------- allocation

SPECS = [stats.StratumSpec(100, 0.3), stats.StratumSpec(50, 0.1, domain=1)]
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "population", REAL + [("negative", -1.0)])
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "sd", REAL[1:] + [("negative", -0.1)])
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "cost", REAL + [("zero", 0.0)])
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "minimum", INT[:5])
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "maximum", INT[:5])
_cases("StratumSpec", stats.StratumSpec, {"population": 100}, "domain", [("unhashable", [1])])
_ok("StratumSpec-sd-nan-is-unknown", lambda ctx: stats.StratumSpec(100, NAN))

base = {"strata": SPECS, "budget": 20}
_one(
    "allocate-stratum-without-population",
    lambda ctx: stats.allocate([stats.StratumSpec(100), stats.StratumSpec(0)], 10),
    "strata[1].population",
)
_cases("allocate", stats.allocate, base, "budget", INT + [("zero", 0), ("above-population", 1000)])
_cases("allocate", stats.allocate, base, "method", [("unknown", "greedy"), ("none", None), ("int", 2)])
_cases("allocate", stats.allocate, base, "sd_floor", REAL[:5] + [("negative", -1.0)])
_cases("allocate", stats.allocate, base, "level", REAL[:5])
_cases(
    "allocate",
    stats.allocate,
    base,
    "strata",
    [("empty", []), ("dicts", [{"population": 10}]), ("text", "abc"), ("none", None)],
)
_cases(
    "allocate",
    {"f": stats.allocate}["f"],
    {**base, "method": "precision"},
    "targets",
    [
        ("list", [0.1]),
        ("unknown-domain", {9: 0.1}),
        ("nan", {0: NAN}),
        ("negative", {0: -0.1}),
        ("str", {0: "x"}),
    ],
)

# ----------------------------------------------------------------------------- estimators

Y, PI, H, D = [1.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.25, 0.25], [0, 0, 1, 1], [0, 1, 0, 1]
base = {"y": Y, "pi": PI, "strata": H, "domains": D}
_cases("estimate", stats.estimate, base, "y", ARRAY + NONFINITE)
_cases(
    "estimate",
    stats.estimate,
    base,
    "pi",
    ARRAY + [("zero", [0.0, 0.5, 0.5, 0.5]), ("nan-item", [NAN, 0.5, 0.5, 0.5])],
)
_cases(
    "estimate",
    stats.estimate,
    base,
    "strata",
    [("length", [0, 1]), ("2d", [[0, 1], [0, 1]]), ("text", "0011")],
)
_cases("estimate", stats.estimate, base, "domains", [("length", [0]), ("2d", [[0, 1], [0, 1]])])
_cases("estimate", stats.estimate, base, "design", [("unknown", "cluster"), ("none", None), ("int", 0)])
_cases("estimate", stats.estimate, base, "level", REAL[:5])
_cases(
    "estimate",
    stats.estimate,
    {**base, "design": "srswor"},
    "population_sizes",
    [("list", [10, 10]), ("nan", {0: NAN, 1: 10}), ("negative", {0: -1, 1: 10}), ("str", {0: "10", 1: 10})],
)
_cases("estimate", stats.estimate, base, "expected_domains", [("int", 3), ("text", "ab")])
_one("estimate-pi-length", lambda ctx: stats.estimate(Y, [0.5], H, D), "pi")


def _agg() -> stats.Aggregate:
    return stats.Aggregate.from_sample(Y, PI, H, D)


_cases("Aggregate.from_sample", stats.Aggregate.from_sample, base, "y", ARRAY[:5] + NONFINITE)
_cases(
    "Aggregate.from_sample",
    stats.Aggregate.from_sample,
    base,
    "pi",
    [("length", [0.5]), ("above-one", [2.0] * 4)],
)
_cases(
    "Aggregate.from_sample",
    stats.Aggregate.from_sample,
    base,
    "strata",
    [
        ("floats", [0.5, 0, 1, 1]),
        ("negative", [-1, 0, 1, 1]),
        ("bools", [True, False, True, False]),
        ("length", [0]),
        ("uint64-huge", np.array([2**63, 0, 1, 1], dtype=np.uint64)),
        ("huge", [2**40, 0, 1, 1]),
    ],
)
_cases(
    "Aggregate.from_sample", stats.Aggregate.from_sample, base, "domains", [("strings", ["a", "b", "a", "b"])]
)
_cases(
    "Aggregate.add_population_count",
    lambda **kw: _agg().add_population_count(**kw),
    {"stratum": 0, "domain": 0, "count": 10.0},
    "stratum",
    INT,
)
_cases(
    "Aggregate.add_population_count",
    lambda **kw: _agg().add_population_count(**kw),
    {"stratum": 0, "domain": 0, "count": 10.0},
    "domain",
    INT[:5] + [("u32-overflow", 2**32)],
)
_cases(
    "Aggregate.add_population_count",
    lambda **kw: _agg().add_population_count(**kw),
    {"stratum": 0, "domain": 0, "count": 10.0},
    "count",
    REAL + [("negative", -1.0)],
)
_cases(
    "Aggregate.add_population",
    lambda **kw: _agg().add_population(**kw),
    {"strata": [0, 1], "domains": [0, 1]},
    "domains",
    [("length", [0]), ("floats", [0.5, 1.5]), ("negative", [-1, 0])],
)
_cases(
    "Aggregate.estimate_population",
    lambda **kw: _agg().estimate_population(**kw),
    {},
    "design",
    [("unknown", "x"), ("none", None)],
)
_cases("Aggregate.estimate_population", lambda **kw: _agg().estimate_population(**kw), {}, "level", REAL[:5])
_cases(
    "Aggregate.estimate_domains",
    lambda **kw: _agg().estimate_domains(**kw),
    {},
    "domains",
    [("text", "01"), ("negative", [-1]), ("float", [0.5]), ("int", 3)],
)
_cases("Aggregate.estimate_strata", lambda **kw: _agg().estimate_strata(**kw), {}, "level", REAL[:5])
_cases(
    "Aggregate.post_stratified",
    lambda **kw: _agg().post_stratified(**kw),
    {"totals": {0: 10.0, 1: 10.0}},
    "totals",
    [("list", [10, 10]), ("nan", {0: NAN}), ("negative-key", {-1: 10.0}), ("str-value", {0: "10"})],
)
_cases(
    "Aggregate.domain_gap",
    lambda **kw: _agg().domain_gap(**kw),
    {"domain_a": 0, "domain_b": 1},
    "domain_a",
    INT[:5],
)
_cases(
    "Aggregate.domain_gap",
    lambda **kw: _agg().domain_gap(**kw),
    {"domain_a": 0, "domain_b": 1},
    "domain_b",
    INT[:5],
)
_cases(
    "Aggregate.domain_gap",
    lambda **kw: _agg().domain_gap(**kw),
    {"domain_a": 0, "domain_b": 1},
    "level",
    REAL[:5],
)
_cases("Aggregate.merge", lambda **kw: _agg().merge(**kw), {}, "other", [("none", None), ("dict", {})])
_cases(
    "Aggregate.from_json",
    stats.Aggregate.from_json,
    {},
    "text",
    [("none", None), ("bytes", b"{}"), ("surrogate", "\ud800")],
)
_one("Aggregate.from_json-garbage", lambda ctx: stats.Aggregate.from_json("not json"), "json")
_one("Aggregate-constructor-inner", lambda ctx: stats.Aggregate(_inner="x"), "_inner")  # type: ignore[arg-type]

# ----------------------------------------------------------------------------- gaps

base = {"successes_a": 3, "n_a": 10, "successes_b": 5, "n_b": 10}
for arg in ("successes_a", "n_a", "successes_b", "n_b"):
    _cases("newcombe_difference", stats.newcombe_difference, base, arg, REAL[:5] + [("negative", -1)])
_cases("newcombe_difference", stats.newcombe_difference, base, "level", REAL[:5])

A, B = [1, 0, 1, 1, 0], [1, 1, 0, 1, 0]
for name, fn in (("paired_comparison", stats.paired_comparison), ("paired_wald", stats.paired_wald)):
    _cases(name, fn, {"a": A, "b": B}, "a", ARRAY[:5] + NONFINITE[:1])
    _cases(name, fn, {"a": A, "b": B}, "b", ARRAY[:5] + NONFINITE[1:] + [("length", [1, 0])])
    _cases(name, fn, {"a": A, "b": B}, "level", REAL[:5])

_cases("mcnemar", stats.mcnemar, {"b": 1, "c": 6}, "b", INT)
_cases("mcnemar", stats.mcnemar, {"b": 1, "c": 6}, "c", INT + [("numpy-float", np.float64(2.0))])
_one("mcnemar-sum-overflows", lambda ctx: stats.mcnemar(2**63, 2**63), "c")
_ok(
    "mcnemar-numpy-integers",
    lambda ctx: stats.mcnemar(np.int64(1), np.uint8(6)),
    lambda r, ctx: r == stats.mcnemar(1, 6),
)

# ----------------------------------------------------------------------------- sequential

base = {"baseline": 0.9, "tolerance": 0.02}
for arg in ("baseline", "tolerance", "alpha", "lo", "hi", "max_weight", "arl"):
    _cases("Monitor", stats.Monitor, {**base, "method": "e_detector"}, arg, REAL[:5])
_cases("Monitor", stats.Monitor, base, "restart_every", INT[:5] + [("u32-overflow", 2**40)])
_cases("Monitor", stats.Monitor, base, "method", [("unknown", "cusum"), ("none", None)])
_cases("Monitor", stats.Monitor, base, "alpha", [("one", 1.0), ("zero", 0.0)])
_cases("Monitor", stats.Monitor, base, "hi", [("below-lo", -1.0)])
_cases(
    "Monitor.update",
    lambda **kw: stats.Monitor(0.9, 0.02).update(**kw),
    {"y": [1, 0, 1]},
    "y",
    ARRAY[:5] + NONFINITE + [("above-hi", [2.0])],
)
_cases(
    "Monitor.update",
    lambda **kw: stats.Monitor(0.9, 0.02).update(**kw),
    {"y": [1, 0, 1], "population": 10},
    "pi",
    [("length", [0.5]), ("zero", [0.0, 0.5, 0.5])],
)
_cases(
    "Monitor.update",
    lambda **kw: stats.Monitor(0.9, 0.02).update(**kw),
    {"y": [1, 0, 1]},
    "population",
    INT[:5],
)
_cases("Monitor.from_json", stats.Monitor.from_json, {}, "text", [("none", None), ("int", 3)])
_one("Monitor.from_json-garbage", lambda ctx: stats.Monitor.from_json("[]"), "json")

_cases(
    "Cusum.bernoulli",
    stats.Cusum.bernoulli,
    {"p0": 0.9, "p1": 0.8, "threshold": 3.0},
    "p0",
    REAL[:5] + [("one", 1.0)],
)
_cases(
    "Cusum.bernoulli",
    stats.Cusum.bernoulli,
    {"p0": 0.9, "p1": 0.8, "threshold": 3.0},
    "p1",
    REAL[:5] + [("above-p0", 0.95)],
)
_cases(
    "Cusum.bernoulli",
    stats.Cusum.bernoulli,
    {"p0": 0.9, "p1": 0.8, "threshold": 3.0},
    "threshold",
    REAL[:5] + [("zero", 0.0)],
)
for arg in ("mean0", "sd", "shift", "threshold"):
    _cases(
        "Cusum.normal",
        stats.Cusum.normal,
        {"mean0": 0.5, "sd": 0.1, "shift": 1.0, "threshold": 4.0},
        arg,
        REAL[:5],
    )
_cases(
    "Cusum.update",
    lambda **kw: stats.Cusum.bernoulli(0.9, 0.8, 3.0).update(**kw),
    {},
    "x",
    ARRAY[:5] + NONFINITE + [("not-binary", [0.5, 2.0])],
)
_cases("Cusum.from_json", stats.Cusum.from_json, {}, "text", [("none", None)])
_one("Cusum-constructor-inner", lambda ctx: stats.Cusum("x"), "_inner")  # type: ignore[arg-type]

# ----------------------------------------------------------------------------- simulate

base = {
    "baseline": 0.9,
    "tolerance": 0.0,
    "days": 5,
    "reviews_per_day": 10,
    "p_before": 0.9,
    "p_after": 0.8,
    "change_day": 2,
    "runs": 3,
}
for arg in ("days", "reviews_per_day", "change_day", "runs", "restart_every", "seed", "threads"):
    _cases("simulate_monitor", stats.simulate_monitor, base, arg, INT[:5])
for arg in ("baseline", "tolerance", "p_before", "p_after", "alpha"):
    _cases("simulate_monitor", stats.simulate_monitor, base, arg, REAL[:5])
_cases("simulate_monitor", stats.simulate_monitor, base, "p_after", [("above-one", 1.5)])
_cases("simulate_monitor", stats.simulate_monitor, base, "method", [("unknown", "x")])
_cases(
    "simulate_monitor",
    stats.simulate_monitor,
    {**base, "method": "e_detector"},
    "arl",
    REAL[:5] + [("one", 1.0)],
)

base = {
    "y": [1.0, 0.0, 1.0, 1.0],
    "strata": [0, 0, 1, 1],
    "domains": [0, 1, 0, 1],
    "design": "srswor",
    "sizes": [1, 1],
    "runs": 5,
}
_cases("simulate_coverage", stats.simulate_coverage, base, "y", ARRAY[:5] + NONFINITE)
_cases(
    "simulate_coverage",
    stats.simulate_coverage,
    base,
    "strata",
    [("floats", [0.5, 0, 1, 1]), ("length", [0])],
)
_cases("simulate_coverage", stats.simulate_coverage, base, "domains", [("negative", [-1, 0, 1, 0])])
_cases("simulate_coverage", stats.simulate_coverage, base, "design", [("unknown", "x"), ("none", None)])
_cases(
    "simulate_coverage",
    stats.simulate_coverage,
    base,
    "sizes",
    [("float", [1.5, 1]), ("negative", [-1, 1]), ("text", "11"), ("above-population", [5, 5])],
)
_cases(
    "simulate_coverage",
    stats.simulate_coverage,
    {**base, "design": "poisson", "sizes": None, "pi": [0.5] * 4},
    "pi",
    [("length", [0.5]), ("above-one", [1.5] * 4), ("2d", [[0.5, 0.5], [0.5, 0.5]])],
)
_cases("simulate_coverage", stats.simulate_coverage, base, "runs", INT + [("zero", 0)])
_cases("simulate_coverage", stats.simulate_coverage, base, "level", REAL[:5])
_cases("simulate_coverage", stats.simulate_coverage, base, "seed", INT[:5])
_cases("simulate_coverage", stats.simulate_coverage, base, "threads", INT[:5])

# ----------------------------------------------------------------------------- drift

base = {"expected": [10, 20, 30], "actual": [12, 18, 30]}
_cases(
    "psi",
    stats.psi,
    base,
    "expected",
    ARRAY + NONFINITE + [("negative", [-1, 2, 3]), ("all-zero", [0, 0, 0])],
)
_cases("psi", stats.psi, base, "actual", [("length", [1, 2])] + NONFINITE)
_cases("psi", stats.psi, base, "eps", REAL[:5] + [("zero", 0.0), ("negative", -1e-4)])
_ok(
    "psi-huge-counts-finite",
    lambda ctx: stats.psi([1e308, 1e308], [1e308, 1.0]),
    lambda r, ctx: math.isfinite(r) and r >= 0,
)

R, P = list(np.linspace(0, 1, 40)), list(np.linspace(0.2, 1.2, 30))
base = {"reference": R, "production": P}
_cases("psi_samples", stats.psi_samples, base, "reference", ARRAY[:5] + NONFINITE)
_cases("psi_samples", stats.psi_samples, base, "production", ARRAY[:5] + NONFINITE)
_cases("psi_samples", stats.psi_samples, base, "bins", INT + [("one", 1), ("billion", 10**9)])
_cases("psi_samples", stats.psi_samples, base, "eps", REAL[:5])
_one("psi_samples-empty", lambda ctx: stats.psi_samples([], P), "reference")

base = {"x": R, "y": P}
_cases("ks_2samp", stats.ks_2samp, base, "x", ARRAY[:5] + NONFINITE)
_cases("ks_2samp", stats.ks_2samp, base, "y", ARRAY[:5] + NONFINITE)
_cases("ks_2samp", stats.ks_2samp, base, "method", [("unknown", "two-sided"), ("none", None), ("int", 1)])
_one("ks_2samp-empty", lambda ctx: stats.ks_2samp([], P), "x")

_cases("kolmogorov_sf", stats.kolmogorov_sf, {"n": 10, "x": 0.3}, "n", INT + [("zero", 0)])
_cases("kolmogorov_sf", stats.kolmogorov_sf, {"n": 10, "x": 0.3}, "x", REAL)
_ok(
    "kolmogorov_sf-numpy-n",
    lambda ctx: stats.kolmogorov_sf(np.int32(10), np.float32(0.3)),
    lambda r, ctx: 0 <= r <= 1,
)

RG, PG = [0] * 20 + [1] * 20, [0] * 15 + [1] * 15
base = {"reference": R, "reference_groups": RG, "production": P, "production_groups": PG}
for name, fn in (("ks_by_group", stats.ks_by_group), ("drift_by_group", stats.drift_by_group)):
    _cases(name, fn, base, "reference", ARRAY[:5] + NONFINITE[:1])
    _cases(name, fn, base, "production", NONFINITE[1:])
    _cases(
        name, fn, base, "reference_groups", [("length", [0, 1]), ("2d", [[0] * 20, [1] * 20]), ("text", "ab")]
    )
    _cases(name, fn, base, "production_groups", [("length", [0]), ("2d", [[0] * 15, [1] * 15])])
    _cases(name, fn, base, "method", [("unknown", "x"), ("none", None)])
_cases("drift_by_group", stats.drift_by_group, base, "bins", INT + [("one", 1)])
_cases("drift_by_group", stats.drift_by_group, base, "eps", REAL[:5] + [("zero", 0.0)])
_cases(
    "drift_by_group",
    stats.drift_by_group,
    base,
    "base",
    REAL[:5] + [("one", 1.0), ("below-one", 0.5), ("zero", 0.0)],
    skip=("none",),
)

base = {"p": [1, 2, 3], "q": [3, 2, 1]}
_cases(
    "jensen_shannon",
    stats.jensen_shannon,
    base,
    "p",
    ARRAY + NONFINITE + [("negative", [-1, 2, 3]), ("all-zero", [0, 0, 0]), ("empty", [])],
)
_cases("jensen_shannon", stats.jensen_shannon, base, "q", [("length", [1, 2])] + NONFINITE)
_cases(
    "jensen_shannon",
    stats.jensen_shannon,
    base,
    "base",
    REAL + [("one", 1.0), ("below-one", 0.5), ("negative", -2.0)],
    skip=("none",),
)


def _js_range(top: float) -> Callable[[Any, Context], bool]:
    return lambda r, ctx: math.isfinite(r) and 0.0 <= r <= top + 1e-15


SQRT_LN2 = math.sqrt(math.log(2))
for tag, p, q in (
    ("disjoint", [1, 0], [0, 1]),
    ("zeros", [0, 0, 5], [0, 5, 0]),
    ("huge", [1e308, 1e308], [1e308, 1.0]),
    ("max", [np.finfo(float).max] * 2, [np.finfo(float).max, 0.0]),
    ("subnormal", [5e-324, 0.0], [0.0, 5e-324]),
    ("subnormal-vs-huge", [5e-324, 5e-324], [1e308, 1e-308]),
    ("near-equal", [0.1, 0.2, 0.7], [0.1, 0.2, 0.7000000000000001]),
):
    _ok(f"jensen_shannon-{tag}-finite", lambda ctx, p=p, q=q: stats.jensen_shannon(p, q), _js_range(SQRT_LN2))
    _ok(
        f"jensen_shannon-{tag}-base2-in-unit",
        lambda ctx, p=p, q=q: stats.jensen_shannon(p, q, base=2),
        _js_range(1.0),
    )
_ok(
    "jensen_shannon-disjoint-is-one-in-base2",
    lambda ctx: stats.jensen_shannon([1, 0], [0, 1], base=2),
    lambda r, ctx: r == 1.0,
)

# ----------------------------------------------------------------------------- planning

base = {"p0": 0.9, "delta": 0.05, "days": 7}
for arg in ("p0", "delta", "alpha", "power"):
    _cases("fixed_sample_plan", stats.fixed_sample_plan, base, arg, REAL[:5] + [("one", 1.0)])
_cases(
    "fixed_sample_plan", stats.fixed_sample_plan, base, "days", INT + [("zero", 0), ("u32-overflow", 2**32)]
)
_one("fixed_sample_plan-delta-above-p0", lambda ctx: stats.fixed_sample_plan(0.03, 0.05, 7), "delta")

base = {"p0": 0.9, "delta": 0.1, "days": 3, "sims": 20, "max_per_day": 50}
for arg in ("days", "restart_every", "sims", "seed", "threads", "max_per_day"):
    _cases("sequential_plan", stats.sequential_plan, base, arg, INT[:5])
for arg in ("p0", "delta", "alpha", "power", "tolerance"):
    _cases(
        "sequential_plan",
        stats.sequential_plan,
        base,
        arg,
        REAL[:5],
        skip=("none",) if arg == "tolerance" else (),
    )
_cases("sequential_plan", stats.sequential_plan, base, "tolerance", [("above-delta", 0.2)])
_cases("sequential_plan", stats.sequential_plan, base, "sims", [("too-few", 5)])

Q = [0.9] * 5 + [0.85] * 10
base = {"quality": Q, "threshold": 0.87, "per_day": 100}
bad_q = ARRAY + NONFINITE + [("above-one", [0.5, 1.5]), ("empty", [])]
_cases("oracle_alarm_day", stats.oracle_alarm_day, base, "quality", bad_q)
for arg in ("threshold", "variance", "arl"):
    skip = ("none",) if arg == "variance" else ()
    _cases("oracle_alarm_day", stats.oracle_alarm_day, base, arg, REAL, skip=skip)
bad_n = REAL[:5] + [("negative", -1.0), ("wrong-length", [100, 100]), ("2d", [[100] * 15])]
_cases("oracle_alarm_day", stats.oracle_alarm_day, base, "per_day", bad_n)
_cases("oracle_alarm_day", stats.oracle_alarm_day, base, "start", INT + [("past-the-end", 15)])
_cases("oracle_alarm_day", stats.oracle_alarm_day, base, "threshold", [("zero", 0.0), ("one", 1.0)])
_cases("oracle_alarm_day", stats.oracle_alarm_day, base, "variance", [("zero", 0.0), ("negative", -0.1)])
base = {"quality": Q, "threshold": 0.87, "by_day": 10, "start": 5}
bad_by = INT + [("before-start", 4), ("past-the-end", 15)]
_cases("oracle_daily_reviews", stats.oracle_daily_reviews, base, "by_day", bad_by)
_ok(
    "oracle_daily_reviews-no-drop-is-inf",
    lambda ctx: stats.oracle_daily_reviews([0.9] * 10, 0.8, 9),
    lambda r, ctx: r == math.inf,
)

# ----------------------------------------------------------------------------- summary

T, OUT, PIS = np.array([0, 0, 1, 1]), np.array([1.0, NAN, 0.0, 1.0]), np.array([0.5, 1.0, 0.5, 0.5])
base = {"tiers": T, "outcome": OUT, "pi": PIS}
_cases(
    "tier_summary",
    stats.tier_summary,
    base,
    "tiers",
    [("floats", [0.5, 0, 1, 1]), ("strings", ["a", "b", "a", "b"]), ("2d", [[0, 1], [0, 1]])],
)
_cases(
    "tier_summary",
    stats.tier_summary,
    base,
    "outcome",
    [("strings", ["1", "0", "1", "1"]), ("length", [1.0]), ("2d", [[1.0, 0.0], [1.0, 0.0]])],
)
_cases(
    "tier_summary", stats.tier_summary, base, "pi", [("zero", [0.0, 1.0, 0.5, 0.5]), ("strings", ["a"] * 4)]
)
_cases("tier_summary", stats.tier_summary, base, "level", REAL[:5])
_cases("tier_summary", stats.tier_summary, base, "ks_method", [("unknown", "x"), ("none", None)])
_cases("tier_summary", stats.tier_summary, base, "threads", INT[:5] + [("too-many", 10**6)])
_cases("tier_summary", stats.tier_summary, base, "tier_names", [("empty", []), ("text", "ab")])
_cases(
    "tier_summary",
    stats.tier_summary,
    {**base, "confidence": [0.5] * 4},
    "reference_window",
    [("ints", [1, 0, 1, 0])],
)

# ----------------------------------------------------------------------------- logistic

X, YL = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
base = {"x": X, "y": YL}
_cases(
    "fit_logistic",
    stats.fit_logistic,
    base,
    "x",
    [("strings", [["a"], ["b"], ["c"], ["d"]]), ("nan", [[NAN], [1.0], [2.0], [3.0]]), ("3d", [[[0.0]]] * 4)],
)
_cases(
    "fit_logistic",
    stats.fit_logistic,
    base,
    "y",
    [("length", [0, 1]), ("above-one", [0, 0, 2, 1]), ("nan", [0, NAN, 1, 1])],
)
_cases("fit_logistic", stats.fit_logistic, base, "l2", REAL[:5] + [("negative", -1.0)])
_cases("fit_logistic", stats.fit_logistic, base, "max_iter", INT[:5])
_cases("fit_logistic", stats.fit_logistic, base, "tol", [("nan", NAN), ("str", "1e-9"), ("negative", -1.0)])
_cases("fit_logistic", stats.fit_logistic, base, "standardize", [("str", "no"), ("int", 1), ("none", None)])
