"""Agreement of the design-based estimators with R's ``survey`` package (4.1.1 on R 4.2.2) on
stored fixtures: lonely strata under each ``lonely`` rule (``options(survey.lonely.psu=...)``),
for stratified SRSWOR with fpc and for Poisson designs, and fixed-size πps samples with Brewer's
variance (``svydesign(..., fpc=~pi, pps="brewer")``). Totals and means overall (svytotal /
svymean), by domain and by stratum (svyby). The fixtures were generated once by the R scripts
beside them (tests/stats/fixtures/r/*.R); the tests never need R.

Plus a simulation: on a fixed-size πps design (randomised systematic πps sampling) the Brewer SE
of the HT total tracks the empirical SD, while the Poisson formula overstates it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tierscope import stats as ts
from tierscope.exceptions import InvalidInputError, LonelyStratumWarning

FIXTURES = Path(__file__).parent / "fixtures" / "r"
RTOL = 1e-9
ATOL = 1e-12
OPTIONS = ("adjust", "average", "certainty", "remove", "fail")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


LONELY = load("lonely.json")
BREWER = load("pps_brewer.json")


def run(case: dict[str, Any], lonely: str | None) -> ts.Estimates:
    h = np.asarray(case["h"], dtype=np.int64)
    sizes = None
    if case["design"] == "srswor":
        sizes = {int(k): float(n) for k, n in zip(case["h"], case["N"], strict=True)}
    return ts.estimate(
        np.asarray(case["y"], dtype=float),
        np.asarray(case["pi"], dtype=float),
        h,
        np.asarray(case["d"], dtype=np.int64),
        design=case["design"],
        population_sizes=sizes,
        lonely=lonely,
    )


def pairs(est: ts.Estimates, ref: dict[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    """(ours, R's) per quantity; R's NA/NaN is None in the JSON."""
    p = est.population
    out: dict[str, tuple[list[float], list[float]]] = {
        "total": ([p.total], [ref["total"]]),
        "total_se": ([p.total_se], [ref["total_se"]]),
        "mean": ([p.mean], [ref["mean"]]),
        "mean_se": ([p.se], [ref["mean_se"]]),
    }
    doms = [est.domains[d] for d in ref["domain"]]
    out["domain_total"] = ([e.total for e in doms], ref["domain_total"])
    out["domain_total_se"] = ([e.total_se for e in doms], ref["domain_total_se"])
    out["domain_mean"] = ([e.mean for e in doms], ref["domain_mean"])
    out["domain_mean_se"] = ([e.se for e in doms], ref["domain_mean_se"])
    strs = [est.strata[h] for h in ref["stratum"]]
    out["stratum_total"] = ([e.total for e in strs], ref["stratum_total"])
    out["stratum_total_se"] = ([e.total_se for e in strs], ref["stratum_total_se"])
    out["stratum_mean"] = ([e.mean for e in strs], ref["stratum_mean"])
    out["stratum_mean_se"] = ([e.se for e in strs], ref["stratum_mean_se"])
    return out


def check_against_r(est: ts.Estimates, ref: dict[str, Any], what: str) -> dict[str, float]:
    """Assert agreement (NaN where R says NA) and return the max abs difference per quantity."""
    diffs = {}
    for q, (ours, theirs) in pairs(est, ref).items():
        o = np.asarray(ours, dtype=float)
        r = np.asarray([np.nan if v is None else v for v in theirs], dtype=float)
        assert np.array_equal(np.isnan(o), np.isnan(r)), f"{what} {q}: ours={o} R={r}"
        ok = ~np.isnan(r)
        bad = ~(np.abs(o[ok] - r[ok]) <= RTOL * np.abs(r[ok]) + ATOL)
        assert not bad.any(), f"{what} {q}: ours={o[ok][bad]} R={r[ok][bad]}"
        diffs[q] = float(np.max(np.abs(o[ok] - r[ok]), initial=0.0))
    return diffs


def lonely_labels(case: dict[str, Any]) -> list[int]:
    h = np.asarray(case["h"])
    pi = np.asarray(case["pi"])
    n = np.asarray(case.get("N", np.full(h.shape, np.inf)))
    out = []
    for s in np.unique(h):
        m = h == s
        # One sampled unit and not a certainty stratum (N_h = 1 or π = 1).
        if m.sum() == 1 and (n[m][0] > 1 if case["design"] == "srswor" else pi[m][0] < 1):
            out.append(int(s))
    return out


CASES = [
    (f, name, opt) for f, data in (("lonely", LONELY), ("brewer", BREWER)) for name in data for opt in OPTIONS
]


@pytest.mark.parametrize(("fixture", "name", "option"), CASES)
def test_matches_r_survey(fixture: str, name: str, option: str) -> None:
    case = (LONELY if fixture == "lonely" else BREWER)[name]
    ref = case["r"][option]
    lonely = lonely_labels(case)
    if case["design"] != "poisson":
        assert ("error" in ref) == (option == "fail" and bool(lonely)), ref
    if "error" in ref:
        # R: "Stratum (h) has only one PSU at stage 1" for the first lonely stratum.
        with pytest.raises(InvalidInputError, match=r"`strata`") as err:
            run(case, option)
        assert f"({', '.join(map(repr, lonely))})" in str(err.value)
        assert f"Stratum ({lonely[0]})" in ref["error"]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit rule never warns
        est = run(case, option)
    check_against_r(est, ref, f"{name}/{option}")


@pytest.mark.parametrize("name", [n for n in (*LONELY, *BREWER) if not n.startswith("poisson")])
def test_default_is_adjust_with_a_warning_naming_the_strata(name: str) -> None:
    case = {**LONELY, **BREWER}[name]
    lonely = lonely_labels(case)
    if not lonely:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = run(case, None)
    else:
        with pytest.warns(LonelyStratumWarning) as rec:
            est = run(case, None)
        assert len(rec) == 1
        msg = str(rec[0].message)
        assert msg.startswith(f"{len(lonely)} lonely strat")
        assert ", ".join(map(repr, lonely)) in msg and "adjust" in msg
    check_against_r(est, case["r"]["adjust"], f"{name}/default")


def test_poisson_designs_have_no_lonely_strata() -> None:
    for name in ("poisson_1", "poisson_3"):
        case = LONELY[name]
        # R's poisson_sampling design ignores survey.lonely.psu: the same numbers for every option.
        ref = case["r"]
        assert all(ref[o] == ref["adjust"] for o in OPTIONS)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = run(case, None)
        check_against_r(est, ref["adjust"], name)


def test_aggregate_methods_take_lonely() -> None:
    case = LONELY["srswor_3"]
    h = np.asarray(case["h"], dtype=np.int64)
    d = np.asarray(case["d"], dtype=np.int64)
    agg = ts.Aggregate.from_sample(np.asarray(case["y"]), np.asarray(case["pi"]), h, d)
    for s, n in sorted({int(a): float(b) for a, b in zip(case["h"], case["N"], strict=True)}.items()):
        agg.add_population_count(s, 0, n)
    assert agg.lonely_strata("srswor") == lonely_labels(case) == [1, 3, 5]
    assert agg.lonely_strata("poisson") == []
    ref = case["r"]
    for option in ("adjust", "average", "certainty", "remove"):
        p = agg.estimate_population("srswor", lonely=option)
        assert abs(p.total_se - ref[option]["total_se"]) <= RTOL * ref[option]["total_se"]
        doms = agg.estimate_domains("srswor", domains=ref[option]["domain"], lonely=option)
        got = np.array([e.se for e in doms])
        np.testing.assert_allclose(got, ref[option]["domain_mean_se"], rtol=RTOL)
        strata = agg.estimate_strata("srswor", lonely=option)
        got = np.array([e.total_se for e in strata])
        want = np.array([np.nan if v is None else v for v in ref[option]["stratum_total_se"]])
        np.testing.assert_allclose(got, want, rtol=RTOL)
    with pytest.raises(InvalidInputError, match=r"`strata`.*\(1, 3, 5\)"):
        agg.estimate_population("srswor", lonely="fail")
    with pytest.raises(InvalidInputError, match="`lonely`"):
        agg.estimate_population("srswor", lonely="ignore")
    with pytest.warns(LonelyStratumWarning, match=r"3 lonely strata .*1, 3, 5"):
        agg.post_stratified({0: 100.0, 1: 50.0, 2: 70.0}, design="srswor")
    with pytest.raises(InvalidInputError, match="`design`"):
        agg.estimate_population("pps_brewer")
    # The domain gap takes the same rule: never a silent zero for the lonely strata.
    a, b = ref["adjust"]["domain"][:2]
    with pytest.warns(LonelyStratumWarning, match="lonely strata"):
        default_gap = agg.domain_gap(a, b, design="srswor")
    adjusted = agg.domain_gap(a, b, design="srswor", lonely="adjust")
    assert default_gap.se == adjusted.se
    assert agg.domain_gap(a, b, design="srswor", lonely="certainty").se <= adjusted.se
    with pytest.raises(InvalidInputError, match="`strata`"):
        agg.domain_gap(a, b, design="srswor", lonely="fail")


def test_estimate_rejects_a_bad_lonely_rule() -> None:
    with pytest.raises(InvalidInputError, match="`lonely`"):
        ts.estimate([1.0], [0.5], [0], [0], lonely="drop")


def systematic_pips(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomised systematic πps: a random order, then a systematic draw on the cumulated π
    (a fixed-size sample, every unit with inclusion probability π)."""
    order = rng.permutation(pi.shape[0])
    cum = np.cumsum(pi[order])
    points = rng.uniform() + np.arange(int(round(cum[-1])))
    return order[np.searchsorted(cum, points)]


def test_brewer_se_tracks_the_empirical_sd_of_a_fixed_size_pips_design() -> None:
    rng = np.random.default_rng(20261203)
    big_n, n = 300, 30
    size = rng.gamma(4.0, 1.0, big_n)
    pi = n * size / size.sum()
    assert pi.max() < 1
    # Scores related to the size measure but not proportional to it (a quality score in [0, 1]).
    y = np.clip(0.35 + 0.06 * size + rng.normal(0, 0.15, big_n), 0, 1)
    strata = np.zeros(n, dtype=np.int64)
    totals, se_brewer, se_poisson = [], [], []
    for _ in range(2000):
        s = systematic_pips(pi, rng)
        assert np.unique(s).size == n
        args = (y[s], pi[s], strata, strata)
        b = ts.estimate(*args, design="pps_brewer").population
        p = ts.estimate(*args, design="poisson").population
        assert b.total == p.total
        totals.append(b.total)
        se_brewer.append(b.total_se)
        se_poisson.append(p.total_se)
    sd = float(np.std(totals))
    assert abs(np.mean(totals) - y.sum()) < 3 * sd / np.sqrt(2000)
    brewer_ratio = float(np.sqrt(np.mean(np.square(se_brewer)))) / sd
    poisson_ratio = float(np.sqrt(np.mean(np.square(se_poisson)))) / sd
    assert 0.9 < brewer_ratio < 1.1, brewer_ratio
    assert poisson_ratio > 1.5, poisson_ratio


def test_brewer_fixture_poisson_se_is_larger() -> None:
    # On the R fixtures too, the Poisson formula gives a larger SE than Brewer's.
    for case in BREWER.values():
        assert case["poisson_total_se"] > case["r"]["certainty"]["total_se"]
