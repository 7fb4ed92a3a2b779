"""``evals.judge_monitor``: one quick-size demo run through the eval (its counted alarms, daily
PPI/human widths and detection limit), and the judge sensitivity run."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pandas")

from tierscope.demo import DemoConfig, JudgeModel  # noqa: E402

from evals.judge_monitor import run as jm  # noqa: E402

QUICK = DemoConfig(days=28, per_day=5_000, onset=14, ramp_days=7, suite_size=2_000, quick=True)


@pytest.fixture(scope="module")
def quick_corpus() -> Any:
    from tierscope.demo.simulation import build_corpus
    from tierscope.routing.router import Router

    try:
        router = Router.default(build_if_missing=False)
    except Exception as err:  # pragma: no cover - depends on the environment
        pytest.skip(f"default router not available: {err}")
    return build_corpus(router, True, log=lambda m: None)


def test_one_quick_demo_run_through_the_eval(quick_corpus: Any) -> None:
    row = jm.run_one(quick_corpus, QUICK)
    assert row["quality_day"] is not None and row["quality_day"] >= QUICK.onset
    alarms = row["counted_alarms"]
    assert "b: cheap (judge-assisted) review monitor" in alarms and "a: blended monitor" in alarms
    assert row["cheap_judge_assisted_day"] == alarms["b: cheap (judge-assisted) review monitor"]
    w = row["widths"]
    # every day has reviews and judged answers; the judge narrows the daily interval, not by much
    assert w["days"] == QUICK.days and w["judged_per_day"] > w["reviews_per_day"] > 50
    assert 0.6 < w["width_ratio"] < 1.0 and 0.0 < w["lam"] < 1.0 and 0.0 < w["rho2_launch"] < 1.0
    lim = row["limit"]
    assert lim["by_day"] == row["quality_day"] + 2
    for target in ("traffic", "tail_weighted"):
        b = lim[target]
        assert b["crossing_day"] is not None and b["crossing_day"] >= QUICK.onset
        # the judge cuts the variance, so it never needs more reviews, and its oracle is never later
        assert b["reviews_needed_judge_assisted"] == pytest.approx(
            b["reviews_needed"] * w["width_ratio"] ** 2
        )
        if b["oracle_day"] is not None:
            assert b["oracle_day_judge_assisted"] <= b["oracle_day"]
        # this design is far from alarming within 2 days, even for the oracle
        assert b["reviews_needed"] > 2 * w["reviews_per_day"]
    assert "| 20260627 | yes |" in jm.table([row])


def test_a_better_judge_narrows_the_daily_interval(quick_corpus: Any) -> None:
    """The sensitivity run's judges: the closer the judge is to the reviewers, the narrower the
    judge-assisted daily interval (same traffic, same reviews)."""
    judges = {
        "demo": JudgeModel(),
        "near-human": JudgeModel(accept_good=0.99, accept_bad=0.03, accept_fluent_bad=0.03),
    }
    rows = jm.sensitivity(quick_corpus, QUICK.seed, budgets=(200,), judges=judges, config=QUICK)
    by = {r["judge"]: r for r in rows}
    assert by["near-human"]["width_ratio"] < by["demo"]["width_ratio"] < 1.0
    # the human reviews (and so the review monitor) do not depend on the judge
    assert by["near-human"]["cheap_review_day"] == by["demo"]["cheap_review_day"]
    assert "| near-human |" in jm.sensitivity_table(rows)
