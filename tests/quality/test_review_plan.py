"""The daily review plan: stratified by tier x confidence band x tail band, oversampled tail, π logged."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import tierscope.stats as ts
from tierscope.exceptions import InvalidInputError, ReviewPlanWarning, TierscopeFileNotFoundError
from tierscope.log.decision_log import DecisionLog
from tierscope.quality.review_plan import plan_reviews

from tests.factories import REVIEW_DAY, routed_day


def test_allocation_sums_exactly_to_the_budget_and_pi_is_recorded() -> None:
    df = routed_day()
    for method in ("neyman", "proportional"):
        for budget in (200, 57, 999):
            plan = plan_reviews(df, budget=budget, method=method, seed=1)
            assert int(plan.allocation["allocated"].sum()) == budget
            assert plan.allocation["expected"].sum() == pytest.approx(budget, rel=1e-9)
            assert np.all((plan.table["pi"] > 0) & (plan.table["pi"] <= 1))
            assert len(plan.request_ids) == len(plan.table) == int(plan.frame["selected"].sum())
            assert set(plan.table.columns) >= {"request_id", "tier", "stratum", "pi"}
            # every tier gets reviews; every stratum has a positive inclusion probability
            assert set(plan.table["tier"]) == {"cheap", "capable"}
            assert (plan.frame["pi"] > 0).all()
    # the realised size is Poisson around the budget
    sizes = [len(plan_reviews(df, budget=200, seed=s)) for s in range(20)]
    assert abs(np.mean(sizes) - 200) < 3 * np.sqrt(200 / 20)


def test_low_confidence_and_tail_strata_are_oversampled() -> None:
    plan = plan_reviews(routed_day(), budget=200, seed=0)
    f = plan.frame
    cheap = f[f["tier"] == "cheap"]
    centre = cheap[(cheap["route_confidence"] >= 0.85) & (cheap["route_tail_score"] < 0.9)]
    low = cheap[cheap["route_confidence"] < 0.7]
    tail = cheap[cheap["route_tail_score"] >= 0.9]
    both = cheap[(cheap["route_confidence"] < 0.7) & (cheap["route_tail_score"] >= 0.9)]
    assert low["pi"].mean() > 2.5 * centre["pi"].mean()
    assert tail["pi"].mean() > 2.5 * centre["pi"].mean()
    assert both["pi"].mean() > low["pi"].mean()
    # turning oversampling off flattens π within the tier
    flat = plan_reviews(routed_day(), budget=200, oversample={"low_confidence": 1.0, "tail": 1.0}).frame
    fc = flat[flat["tier"] == "cheap"]
    q05, q95 = np.quantile(fc["pi"], [0.05, 0.95])
    assert q95 / q05 < 1.2  # (tiny strata filled to min_per_stratum are the exception)
    # a custom score function: π follows it inside each stratum
    scored = plan_reviews(
        routed_day(), budget=200, oversample=lambda d: 1.0 + 10.0 * (1 - d["route_confidence"])
    )
    s = scored.frame
    one = s[s["stratum"] == s["stratum"].value_counts().index[0]]
    assert np.corrcoef(one["pi"], -one["route_confidence"])[0, 1] > 0.99


def test_weighted_estimates_are_design_unbiased_with_the_plan_pi() -> None:
    """Hájek intervals with the plan's π cover each tier's true mean (Rust coverage simulation)."""
    df = routed_day(3000, seed=3)
    plan = plan_reviews(df, budget=200, seed=0)
    rng = np.random.default_rng(5)
    hard = plan.frame["route_confidence"].to_numpy() < 0.7
    y = (rng.random(len(df)) >= np.where(hard, 0.4, 0.05)).astype(float)
    domains = (plan.frame["tier"] == "cheap").to_numpy().astype(np.int64)
    strata = pd.factorize(plan.frame["stratum"])[0].astype(np.int64)
    cov = ts.simulate_coverage(
        y, strata, domains, "poisson", pi=plan.frame["pi"].to_numpy(), runs=1500, seed=1
    )
    assert all(0.9 <= c <= 0.975 for c in cov.coverage), cov.coverage
    # the unweighted mean of the sample is biased towards the oversampled (bad) tail
    sel = plan.frame["selected"].to_numpy()
    cheap = domains == 1
    assert y[sel & cheap].mean() < y[cheap].mean() - 0.03


def test_reproducible_with_a_seed_and_different_with_another() -> None:
    df = routed_day()
    a = plan_reviews(df, budget=200, seed=11)
    b = plan_reviews(df, budget=200, seed=11)
    c = plan_reviews(df, budget=200, seed=12)
    assert a.request_ids == b.request_ids and np.array_equal(a.table["pi"], b.table["pi"])
    assert a.request_ids != c.request_ids
    assert np.array_equal(a.frame["pi"], c.frame["pi"])  # the design does not depend on the seed


def test_budget_above_traffic_reviews_everything_with_a_warning() -> None:
    df = routed_day(150)
    with pytest.warns(ReviewPlanWarning, match="every answer is reviewed"):
        plan = plan_reviews(df, budget=200)
    assert len(plan) == 150 and (plan.table["pi"] == 1.0).all()
    assert any("pi = 1" in w for w in plan.warnings)


def test_precision_targets_report_unreachable() -> None:
    df = routed_day()
    with pytest.warns(ReviewPlanWarning, match="unreachable"):
        plan = plan_reviews(df, budget=60, method="precision", targets={"cheap": 0.01, "capable": 0.2})
    rep = {t.domain: t for t in plan.targets}
    assert not rep["cheap"].reached and rep["cheap"].required > 60 and rep["cheap"].achieved > 0.01
    assert rep["capable"].reached
    assert int(plan.allocation["allocated"].sum()) == 60
    ok = plan_reviews(df, budget=1500, method="precision", targets={"cheap": 0.05})
    assert all(t.reached for t in ok.targets) and not ok.warnings


def test_previous_sds_shift_the_neyman_allocation() -> None:
    df = routed_day()
    base = plan_reviews(df, budget=200, oversample={"low_confidence": 1, "tail": 1})
    prev = {"cheap": 0.1, "capable": 0.45}
    shifted = plan_reviews(df, budget=200, previous=prev, oversample={"low_confidence": 1, "tail": 1})
    per = shifted.per_tier().set_index("tier")["allocated"]
    assert per["capable"] > base.per_tier().set_index("tier")["allocated"]["capable"]
    # previous reviews as a table
    reviews = pd.DataFrame({"tier": ["cheap"] * 4 + ["capable"] * 4, "score": [1, 1, 1, 1, 0, 1, 0, 1]})
    from_table = plan_reviews(df, budget=200, previous=reviews)
    sd = from_table.allocation.groupby("tier")["sd"].first()
    assert sd["cheap"] == 0.0 and sd["capable"] == pytest.approx(np.std([0, 1, 0, 1], ddof=1))
    alloc = from_table.per_tier().set_index("tier")["allocated"]
    assert int(alloc.sum()) == 200 and alloc["capable"] > alloc["cheap"]


def test_log_sources_and_logging_reviews(tmp_path: Path) -> None:
    df = routed_day(800)
    with DecisionLog(tmp_path / "log", fsync=False) as log:
        for rec in df.to_dict("records"):
            log.log_decision(rec)
        log.log_decision(
            {
                **df.iloc[0].to_dict(),
                "request_id": "next-day",
                "timestamp": df.timestamp[0] + timedelta(days=1),
            }
        )
        from_log = plan_reviews(log, budget=50, day=REVIEW_DAY, seed=2)
        from_dir = plan_reviews(tmp_path / "log", budget=50, day=REVIEW_DAY, seed=2)
        from_arrow = plan_reviews(pa.Table.from_pandas(df), budget=50, day=REVIEW_DAY.isoformat(), seed=2)
        assert from_log.request_ids == from_dir.request_ids == from_arrow.request_ids
        assert "next-day" not in set(from_log.frame["request_id"])
        n = from_log.log_reviews(log, {rid: True for rid in from_log.request_ids}, reviewer="amy")
        with pytest.raises(InvalidInputError, match="scores"):
            from_log.log_reviews(log, {"not-planned": True})
        out = log.outcomes(format="pandas")
    assert n == len(out) == len(from_log)
    pis = from_log.pi
    assert all(out["inclusion_prob"].to_numpy() == [pis[r] for r in out["request_id"]])
    assert json.loads(out["detail"].iloc[0])["oversample"] >= 1.0
    csv = from_log.write(tmp_path / "plan.csv")
    pq = from_log.write(tmp_path / "plan.parquet")
    assert len(pd.read_csv(csv)) == len(pd.read_parquet(pq)) == len(from_log)
    assert "review plan" in from_log.summary()


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"budget": 0}, "budget"),
        ({"budget": 2.5}, "budget"),
        ({"method": "stratified"}, "method"),
        ({"confidence_bands": (0.9, 0.5)}, "confidence_bands"),
        ({"confidence_bands": (1.2,)}, "confidence_bands"),
        ({"tail_bands": ("x",)}, "tail_bands"),
        ({"targets": {"gold": 0.05}, "method": "precision"}, "targets"),
        ({"method": "precision"}, "targets"),
        ({"previous": {"gold": 0.3}}, "previous"),
        ({"oversample": {"vip": 2.0}}, "oversample"),
        ({"oversample": {"tail": 0.5}}, "oversample"),
        ({"tiers": ["cheap"]}, "tiers"),
        ({"since": datetime(2026, 6, 1), "until": datetime(2026, 5, 1)}, "since"),
        ({"day": REVIEW_DAY, "since": REVIEW_DAY}, "day"),
        ({"day": date(2027, 1, 1)}, "log"),
        ({"seed": -1}, "seed"),
        ({"min_per_stratum": -2}, "min_per_stratum"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, object], arg: str) -> None:
    with pytest.raises(InvalidInputError, match=f"`{arg}`"):
        plan_reviews(routed_day(300), **kwargs)  # type: ignore[arg-type]


def test_bad_log_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="`log`"):
        plan_reviews(42)
    with pytest.raises(TierscopeFileNotFoundError, match="`log`"):
        plan_reviews(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="`log`"):
        plan_reviews(pd.DataFrame({"request_id": ["a"]}))


def test_cli_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tierscope.cli import main

    df = routed_day(600)
    with DecisionLog(tmp_path / "log", fsync=False) as log:
        for rec in df.to_dict("records"):
            log.log_decision(rec)
    out = tmp_path / "plan.parquet"
    assert main(["plan", str(tmp_path / "log"), "--budget", "40", "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "latest day in the log: 2026-05-04" in printed and "cheap" in printed
    table = pd.read_parquet(out)
    assert len(table) > 0 and table["pi"].between(0, 1, inclusive="right").all()
    assert main(["plan", str(tmp_path / "log"), "--out", str(tmp_path / "p.txt")]) == 2
    assert "`--out`" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert main(["plan", str(tmp_path / "log"), "--budget", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--budget" in err and "Traceback" not in err
    assert main(["plan", "--help"]) == 0
    assert "--budget" in capsys.readouterr().out


def test_plan_steps() -> None:
    """The named steps of plan_reviews: option checks, strata, per-method allocation inputs, selection."""
    from tierscope.quality import review_plan as rp

    opts = rp._check_options(np.int64(40), "neyman", 2, 0, 0.95, (0.7,), [0.9], None)
    budget, conf_cuts, tail_cuts = opts.budget, opts.conf_cuts, opts.tail_cuts
    assert (budget, conf_cuts, tail_cuts) == (40, (0.7,), (0.9,)) and type(budget) is int
    df = routed_day(500)
    tier = rp.tier_column(df)
    frame = rp._decisions_frame(df, tier, conf_cuts, tail_cuts, {"low_confidence": 2.0, "tail": 1.0})
    strata = rp._strata(frame, {"cheap": 0.2}, {"cheap", "capable"})
    assert strata.labels == sorted(set(frame["stratum"])) and int(strata.population.sum()) == 500
    assert set(strata.domains()) == {"cheap", "capable"}
    assert all(
        sd == (0.2 if t == "cheap" else 0.5) for sd, t in zip(strata.sd, strata.domains(), strict=True)
    )
    # the lowest confidence band is scored 2, the rest 1 (the tail factor is 1 here)
    low_band = np.array(["conf[0.00,0.70)" in lab for lab in strata.labels])
    assert np.all(strata.mean_score[low_band] == 2.0) and np.all(strata.mean_score[~low_band] == 1.0)
    specs = {m: rp._stratum_specs(strata, m, floor=3) for m in ("neyman", "proportional", "precision")}
    for h in range(len(strata.labels)):
        assert specs["precision"][h].sd == strata.sd[h]
        assert specs["proportional"][h].sd == strata.mean_score[h]
        assert specs["neyman"][h].sd == pytest.approx(strata.sd[h] * strata.mean_score[h])
        assert specs["neyman"][h].minimum == min(3, strata.population[h])
    design = rp._allocate_budget(strata, 40, "neyman", 2, None, 0.95)
    assert int(design.sizes.sum()) == 40 and not design.pi.any()
    rp._poisson_design(strata, design, frame["oversample_score"].to_numpy())
    assert design.pi.sum() == pytest.approx(40)
    assert np.array_equal(rp._select(design.pi, 4), rp._select(design.pi, 4))
    assert not rp._select(np.zeros(10), 4).any()


def test_tier_names_with_pipes_keep_their_own_strata() -> None:
    """Strata are (tier, band, band) tuples: a ``|`` in a tier name (even one that looks like a
    band) or in a category never mixes tiers or shifts the band columns."""
    df = routed_day(900, seed=4)
    names = np.array(["a|b", "a", "a|conf[0.85,1.00]"], dtype=object)
    df["answered_by"] = names[np.arange(len(df)) % 3]
    df["category"] = "card|arrival"
    plan = plan_reviews(df, budget=90, seed=2)
    alloc = plan.allocation
    assert set(alloc["tier"]) == set(names)
    assert alloc.groupby("tier")["population"].sum().to_dict() == {n: 300 for n in names}
    assert alloc["confidence_band"].str.fullmatch(r"conf\[[^|]*").all()
    assert alloc["tail_band"].str.fullmatch(r"tail\[[^|]*").all()
    assert plan.per_tier().set_index("tier")["population"].to_dict() == {n: 300 for n in names}
    # every answer's stratum belongs to its own tier
    tier_of = dict(zip(alloc["stratum"], alloc["tier"], strict=True))
    assert (plan.frame["stratum"].map(tier_of) == plan.frame["tier"]).all()
    # previous SDs keyed by such a tier reach that tier's strata only
    prev = plan_reviews(df, budget=90, seed=2, previous={"a|b": 0.1}).allocation
    assert set(prev.loc[prev["sd"] == 0.1, "tier"]) == {"a|b"}


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"budget": float("nan")}, "budget"),
        ({"budget": True}, "budget"),
        ({"level": float("nan")}, "level"),
        ({"confidence_bands": (float("nan"),)}, "confidence_bands"),
        ({"oversample": {"tail": float("inf")}}, "oversample"),
        ({"previous": {"cheap": float("nan")}}, "previous"),
        ({"method": "precision", "targets": {"cheap": float("nan")}}, "targets"),
        ({"tiers": "cheap"}, "tiers"),
    ],
)
def test_arguments_are_checked_before_the_log_is_read(
    tmp_path: Path, kwargs: dict[str, object], arg: str
) -> None:
    with pytest.raises(InvalidInputError, match=f"`{arg}`"):
        plan_reviews(tmp_path / "missing", **kwargs)  # type: ignore[arg-type]


def test_write_checks_the_path_first(tmp_path: Path) -> None:
    plan = plan_reviews(routed_day(300), budget=30)
    with pytest.raises(TierscopeFileNotFoundError, match="`path`"):
        plan.write(tmp_path / "missing" / "plan.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InvalidInputError, match="`path`.*directory"):
        plan.write(tmp_path / "d.csv")
    assert plan.write(tmp_path / "ok.pq").is_file()
