"""RouteLLM outcome data: pre-routing / cascade / random cost-quality curves on a small seeded subset.

Needs ``../shared/data/routellm_outcomes`` beside the repository (or ``$TIERSCOPE_SHARED_DATA``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evals.routellm import routellm

REPO = Path(__file__).resolve().parents[2]
N_MMLU, N_GSM8K = 600, 300


@pytest.fixture(scope="module")
def shared() -> Path:
    try:
        return routellm.find_shared_data(REPO)
    except FileNotFoundError as err:
        pytest.fail(f"RouteLLM data missing: {err}")


@pytest.fixture(scope="module")
def results(shared: Path) -> dict[str, routellm.DatasetResult]:
    out = {}
    for ds, n in (("mmlu", N_MMLU), ("gsm8k", N_GSM8K)):
        out[ds] = routellm.evaluate(
            ds,
            data_dir=shared / "routellm_outcomes",
            max_prompts=n,
            seed=0,
            replicates=200,
            cache_dir=False,
        )
    return out


def test_contaminated_prompts_excluded(shared: Path) -> None:
    for ds in routellm.DATASETS:
        o = routellm.load_outcomes(ds, shared / "routellm_outcomes")
        path = shared / "routellm_outcomes" / f"{ds}_contaminated_prompts.jsonl"
        bad = {
            json.loads(line)["eval_prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line
        }
        assert bad and not bad & set(o.prompts)
        assert o.n_contaminated_removed == len(bad)
        assert o.cheap_ok.dtype == np.bool_ and o.capable_ok.dtype == np.bool_
        assert np.all(o.capable_cost > o.cheap_cost) and np.all(o.cheap_cost > 0)


def test_split_is_stratified_disjoint_and_keeps_duplicates_together(shared: Path) -> None:
    o = routellm.load_outcomes("mmlu", shared / "routellm_outcomes")
    tr, te = routellm.split_prompts(o, seed=0)
    assert len(tr) + len(te) == len(o) and not set(tr.tolist()) & set(te.tolist())
    assert not {o.prompts[i] for i in tr} & {o.prompts[i] for i in te}
    for s in set(o.strata):
        n_s = int((o.strata == s).sum())
        assert abs(int((o.strata[tr] == s).sum()) - n_s / 2) <= 0.1 * n_s + 3
    tr2, _ = routellm.split_prompts(o, seed=0)
    assert np.array_equal(tr, tr2)


def test_labels_capable_only_when_it_changes_the_outcome(shared: Path) -> None:
    o = routellm.load_outcomes("gsm8k", shared / "routellm_outcomes", max_prompts=200)
    lab = np.array(routellm.routing_labels(o))
    assert np.array_equal(lab == "capable", o.capable_ok & ~o.cheap_ok)


def test_curves_monotone_in_cost_and_endpoints(results: dict[str, routellm.DatasetResult]) -> None:
    for r in results.values():
        for c in r.curves.values():
            assert np.all(np.diff(c.cost) >= -1e-15), c.name
            assert np.all(np.diff(c.capable_share) >= 0), c.name
            assert c.capable_share[0] == 0 and c.capable_share[-1] == pytest.approx(1.0)
        pre = r.curves["pre-routing"]
        # 100% capable: exactly the capable model's accuracy and cost; 0%: the cheap model's.
        assert pre.accuracy[-1] == pytest.approx(r.capable_accuracy, abs=1e-12)
        assert pre.cost[-1] == pytest.approx(r.all_capable_cost, rel=1e-12)
        assert pre.accuracy[0] == pytest.approx(r.cheap_accuracy, abs=1e-12)
        assert pre.cost[0] == pytest.approx(r.all_cheap_cost, rel=1e-12)
        if "cascade" in r.curves:
            cas = r.curves["cascade"]
            assert cas.accuracy[-1] == pytest.approx(r.capable_accuracy, abs=1e-12)
            # the cheap call is always paid
            assert cas.cost[-1] == pytest.approx(r.all_capable_cost + r.all_cheap_cost, rel=1e-12)
            assert cas.cost[0] == pytest.approx(r.all_cheap_cost, rel=1e-12)


def test_random_routing_is_linear_in_cost_share(shared: Path) -> None:
    """The analytic random curve matches simulated random routing within sampling error."""
    o = routellm.load_outcomes("mmlu", shared / "routellm_outcomes", max_prompts=N_MMLU)
    rc = routellm.random_curve(o)
    rng = np.random.default_rng(1)
    for share in (0.25, 0.5, 0.75):
        accs, costs = [], []
        for _ in range(200):
            cap = rng.random(len(o)) < share
            accs.append(np.where(cap, o.capable_ok, o.cheap_ok).mean())
            costs.append(np.where(cap, o.capable_cost, o.cheap_cost).mean())
        i = int(np.argmin(np.abs(rc.capable_share - share)))
        assert np.mean(accs) == pytest.approx(rc.accuracy[i], abs=0.005)
        assert np.mean(costs) == pytest.approx(rc.cost[i], rel=0.02)
    # linear: constant slope of accuracy against cost
    slope = np.diff(rc.accuracy) / np.diff(rc.cost)
    assert np.allclose(slope, slope[0], rtol=1e-9)


def test_savings_table(results: dict[str, routellm.DatasetResult]) -> None:
    for r in results.values():
        by = {(s.method, s.fraction): s for s in r.savings}
        for (method, f), s in by.items():
            assert s.saved_lo <= s.saved + 1e-12 and s.saved <= s.saved_hi + 1e-12, (r.dataset, method, f)
            assert 0.0 <= s.capable_share <= 1.0
        for method in {m for m, _ in by}:
            saved = [by[(method, f)].saved for f in routellm.FRACTIONS]
            assert all(a >= b - 1e-12 for a, b in zip(saved, saved[1:], strict=False)), (r.dataset, method)
        # Pre-routing picks the best threshold in hindsight, and its curve passes through both random
        # endpoints, so at 90% it saves at least what random routing saves only up to sampling noise;
        # assert the robust version: not worse than random by more than 5 points.
        assert by[("pre-routing", 0.9)].saved >= by[("random", 0.9)].saved - 0.05, r.dataset
    # On GSM8K the signals are strong (AUC well above 0.5): both beat random clearly at 90%.
    g = {(s.method, s.fraction): s for s in results["gsm8k"].savings}
    assert g[("pre-routing", 0.9)].saved > g[("random", 0.9)].saved
    assert g[("cascade", 0.9)].saved > g[("random", 0.9)].saved
    assert "cascade" not in results["mmlu"].curves and results["mmlu"].notes


def test_markdown_table(results: dict[str, routellm.DatasetResult]) -> None:
    md = routellm.markdown_table(list(results.values()))
    assert "| gsm8k | cascade | 95% |" in md and "| mmlu | pre-routing | 99% |" in md


def test_response_features_arithmetic_check() -> None:
    x = routellm.response_features(
        ["3 + 4 = 7 and <<7*2=14>>14\n#### 14", "3 + 4 = 8, I assume\n#### 8.5", "no answer here"]
    )
    names = routellm.FEATURE_NAMES
    col = {n: x[:, i] for i, n in enumerate(names)}
    assert col["states_final_number"].tolist() == [1, 1, 0]
    assert col["arithmetic_all_correct"].tolist() == [1, 0, 1]
    assert col["final_is_integer"].tolist() == [1, 0, 0]
    assert col["hedging"].tolist() == [0, 1, 0]
    assert all(math.isfinite(v) for v in col["log_chars"])


def _newton_reference(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 50) -> np.ndarray:
    """The evaluation's former L2 Newton fit (intercept first), kept as a reference."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w, reg = np.zeros(z.shape[1]), np.r_[0.0, np.full(x.shape[1], l2 * len(x))]
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -35, 35)))
        step = np.linalg.solve(
            (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w)), z.T @ (p - y) + reg * w
        )
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return np.concatenate([mu, sd, w])


def test_cascade_confidence_model_is_the_shared_logistic_fit() -> None:
    """routellm.fit_logistic packs tierscope.stats.logistic.fit_logistic; same fit as before."""
    from tierscope.stats.logistic import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)) * [1.0, 10.0, 0.1, 1.0]
    x[:, 3] = 2.0  # a constant feature
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(x[:, 0] - 0.1 * x[:, 1])))).astype(float)
    for l2 in (1e-2, 1e-4):
        params = routellm.fit_logistic(x, y, l2=l2)
        fit = fit_logistic(x, y, l2=l2, standardize=True, max_iter=50, tol=0.0, step_tol=1e-10)
        np.testing.assert_array_equal(params, np.r_[fit.mean, fit.scale, fit.intercept, fit.coef])
        np.testing.assert_allclose(params, _newton_reference(x, y, l2), rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            routellm.predict_logistic(params, x), fit.predict_proba(x), rtol=0, atol=1e-15
        )
