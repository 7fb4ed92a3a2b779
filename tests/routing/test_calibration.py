"""Calibration (isotonic, Platt), reliability diagrams, guaranteed thresholds and the cost-of-error rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.optimize import isotonic_regression
from tierscope.exceptions import InvalidInputError
from tierscope.routing.calibration import (
    CostAwareRule,
    IsotonicCalibrator,
    PlattCalibrator,
    binom_cdf,
    binom_logcdf,
    choose_threshold,
    clopper_pearson_upper,
    fit_calibrator,
    plot_reliability_diagram,
    reliability_diagram,
)
from tierscope.stats.logistic import fit_logistic, sigmoid

# Simulation with a known failure curve: confidence c ~ U(0, 1), P(fail | c) = 0.4 (1 - c)^1.5, so the
# failure rate among accepted queries at threshold t is R(t) = E[q(c) | c >= t] = 0.16 (1 - t)^1.5.
EPS, DELTA = 0.05, 0.1


def risk(t: float) -> float:
    return 0.0 if t >= 1 else 0.16 * (1 - t) ** 1.5


T_STAR = 1 - (EPS / 0.16) ** (1 / 1.5)  # the lowest threshold with R(t) <= EPS


def simulate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    c = rng.uniform(size=n)
    ok = rng.uniform(size=n) >= 0.4 * (1 - c) ** 1.5
    return c, ok


def test_guaranteed_threshold_controls_the_failure_rate_across_resamples() -> None:
    rng = np.random.default_rng(20261128)
    n_resamples, n_cal = 500, 1000
    violations = naive_violations = infeasible = 0
    accept_rates = []
    for _ in range(n_resamples):
        c, ok = simulate(rng, n_cal)
        report = choose_threshold(c, ok, EPS, DELTA, price_cheap=1.0, price_capable=4.0)
        if not report.feasible:
            infeasible += 1  # escalating everything never violates
            continue
        assert report.upper_bound <= EPS + 1e-9 and report.p_value <= DELTA
        violations += risk(report.threshold) > EPS  # realised failure rate, analytically
        accept_rates.append(1 - report.threshold)
        # a naive plug-in threshold (empirical failure rate <= EPS) has no guarantee
        order = np.argsort(-c)
        rate = np.cumsum(~ok[order]) / np.arange(1, n_cal + 1)
        good = np.nonzero(rate <= EPS)[0]
        naive_violations += risk(float(c[order][good[-1]])) > EPS
    slack = 3 * math.sqrt(DELTA * (1 - DELTA) / n_resamples)
    rate = violations / n_resamples
    print(
        f"\nLTT violation rate {rate:.3f} (bound {DELTA + slack:.3f}); "
        f"naive {naive_violations / n_resamples:.3f}; "
        f"infeasible {infeasible}; mean acceptance {np.mean(accept_rates):.3f} (oracle {1 - T_STAR:.3f})"
    )
    assert rate <= DELTA + slack
    assert naive_violations / n_resamples > 0.3  # the check has power: without the guarantee it fails
    assert np.mean(accept_rates) > 0.5 * (1 - T_STAR)  # and the guarantee is not bought by accepting nothing


def test_threshold_report_fields_and_cost() -> None:
    c, ok = simulate(np.random.default_rng(1), 5000)
    r = choose_threshold(c, ok, EPS, DELTA, price_cheap=1.0, price_capable=4.0, shadow_rate=0.02)
    assert r.feasible and 0 < r.threshold < 1 and r.n_calibration == 5000
    assert r.n_accepted == int((c >= r.threshold).sum()) and r.failures == int((~ok[c >= r.threshold]).sum())
    assert r.acceptance_rate + r.escalation_rate == pytest.approx(1.0)
    assert r.expected_cost_per_query == pytest.approx(1 + 4 * (r.escalation_rate + 0.02 * r.acceptance_rate))
    assert r.upper_bound == pytest.approx(clopper_pearson_upper(r.failures, r.n_accepted, DELTA))
    assert r.accepts(r.threshold) and not r.accepts(r.threshold - 1e-9)
    assert "Clopper-Pearson" in r.message and r.n_tested >= 1
    # a user-supplied fixed grid works too
    g = choose_threshold(c, ok, EPS, DELTA, thresholds=np.linspace(0, 1, 101))
    assert g.feasible and round(g.threshold * 100) == pytest.approx(g.threshold * 100)


def test_infeasible_target_reports_infeasible() -> None:
    rng = np.random.default_rng(2)
    c = rng.uniform(size=400)
    ok = rng.uniform(size=400) > 0.3  # 30% failures everywhere: no region has <= 5%
    r = choose_threshold(c, ok, EPS, DELTA, price_cheap=1.0, price_capable=4.0)
    assert not r.feasible and math.isinf(r.threshold) and "infeasible" in r.message
    assert r.acceptance_rate == 0.0 and r.escalation_rate == 1.0 and r.expected_cost_per_query == 5.0
    assert not r.accepts(1.0)
    tiny = choose_threshold([0.99] * 10, [True] * 10, 0.01, 0.05)  # too few samples to certify 1%
    assert not tiny.feasible


def test_choose_threshold_validates_arguments() -> None:
    with pytest.raises(InvalidInputError, match="epsilon"):
        choose_threshold([0.5], [True], 0.0, 0.1)
    with pytest.raises(InvalidInputError, match="delta"):
        choose_threshold([0.5], [True], 0.1, 1.5)
    with pytest.raises(InvalidInputError, match="same length"):
        choose_threshold([0.5, 0.6], [True], 0.1, 0.1)
    with pytest.raises(InvalidInputError, match="finite"):
        choose_threshold([math.nan], [True], 0.1, 0.1)


@pytest.mark.parametrize(
    ("k", "n", "p"), [(0, 10, 0.1), (3, 50, 0.1), (17, 200, 0.05), (50, 2000, 0.05), (400, 100_000, 0.01)]
)
def test_binomial_cdf_and_clopper_pearson_match_scipy(k: int, n: int, p: float) -> None:
    assert binom_logcdf(k, n, p) == pytest.approx(stats.binom.logcdf(k, n, p), rel=1e-9, abs=1e-12)
    assert binom_cdf(k, n, p) == pytest.approx(stats.binom.cdf(k, n, p), rel=1e-9, abs=1e-300)
    assert clopper_pearson_upper(k, n, 0.1) == pytest.approx(stats.beta.ppf(0.9, k + 1, n - k), rel=1e-8)
    assert binom_cdf(n, n, p) == 1.0 and binom_cdf(-1, n, p) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60),
    st.lists(st.floats(-0.5, 1.5), min_size=2, max_size=20),
)
def test_isotonic_is_monotone_and_matches_the_reference(
    pairs: list[tuple[float, bool]], grid: list[float]
) -> None:
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs], dtype=float)
    iso = IsotonicCalibrator().fit(x, y)
    g = np.sort(np.array(grid))
    pred = iso.predict(g)
    assert np.all(np.diff(pred) >= -1e-12) and np.all((pred >= 0) & (pred <= 1))
    ux, inv = np.unique(x, return_inverse=True)
    counts = np.bincount(inv)
    ref = isotonic_regression(np.bincount(inv, weights=y) / counts, weights=counts).x
    np.testing.assert_allclose(iso.predict(ux), ref, atol=1e-9)


def test_platt_recovers_known_parameters() -> None:
    rng = np.random.default_rng(3)
    a, b, n = 6.0, -4.0, 40_000
    x = rng.uniform(size=n)
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-(a * x + b)))
    cal = PlattCalibrator().fit(x, y)
    assert cal.converged_
    assert cal.a == pytest.approx(a, abs=0.35) and cal.b == pytest.approx(b, abs=0.2)
    assert cal(0.5) == pytest.approx(1 / (1 + math.exp(-(a * 0.5 + b))), abs=0.02)
    # separable data still converges to a finite, steep fit
    sep = PlattCalibrator().fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert math.isfinite(sep.a) and sep.a > 5 and sep(0.9) > 0.9 > 0.1 > sep(0.1)
    assert isinstance(fit_calibrator(x, y, "platt"), PlattCalibrator)
    with pytest.raises(InvalidInputError, match="method"):
        fit_calibrator(x, y, "beta")  # type: ignore[arg-type]


def test_reliability_diagram_shows_miscalibration_and_its_fix() -> None:
    rng = np.random.default_rng(4)
    raw = rng.uniform(size=20_000)
    ok = rng.uniform(size=raw.size) < raw**3  # the raw score is overconfident
    before = reliability_diagram(raw, ok, bins=10)
    assert before.count.sum() == raw.size and before.bin_edges[0] == 0 and before.bin_edges[-1] == 1
    assert before.ece > 0.15
    fit_x, fit_y, test_x, test_y = raw[:10_000], ok[:10_000], raw[10_000:], ok[10_000:]
    for method in ("isotonic", "platt"):
        cal = fit_calibrator(fit_x, fit_y, method)  # type: ignore[arg-type]
        after = reliability_diagram(cal.predict(test_x), test_y, bins=10)
        assert after.ece < 0.05, (method, after.ece)
    with pytest.raises(InvalidInputError, match="bins"):
        reliability_diagram(raw, ok, bins=0)


def test_cost_rule_infinite_error_cost_never_accepts() -> None:
    rule = CostAwareRule(
        price_cheap=1.0, price_capable=4.0, default_error_cost=30.0, error_costs={"kyc": math.inf}
    )
    assert not any(rule.accept(p, "kyc") for p in (0.0, 1e-12, 0.01, 0.5))
    assert rule.max_p_fail("kyc") == 0.0
    assert rule.accept(0.09, "balance") and not rule.accept(0.1, "balance") and rule.accept(0.05, None)
    assert rule.max_p_fail("balance") == pytest.approx(0.1)
    assert not rule.accept(math.nan, "balance")
    with pytest.raises(InvalidInputError, match="error cost"):
        CostAwareRule(1.0, 4.0, default_error_cost=-1.0)
    with pytest.raises(InvalidInputError, match="price_cheap"):
        CostAwareRule(math.inf, 4.0, default_error_cost=1.0)


def test_plot_reliability_diagram_is_optional() -> None:
    diagram = reliability_diagram([0.1, 0.5, 0.9, 0.95], [False, True, True, True], bins=5)
    try:
        import matplotlib
    except ImportError:
        with pytest.raises(ImportError, match="pip install matplotlib"):
            plot_reliability_diagram(diagram)
        return
    matplotlib.use("Agg")
    ax = plot_reliability_diagram(diagram)
    assert ax.get_xlabel() == "calibrated confidence"


# -- the shared logistic fit (tierscope.stats.logistic) ----------------------------------------
def _logistic_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, d) + rng.normal(0, 5, d)
    beta = rng.normal(size=d) / x.std(axis=0)
    logit = 0.3 + (x - x.mean(axis=0)) @ beta
    return x, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float), beta


def test_logistic_fit_matches_statsmodels_without_penalty() -> None:
    import statsmodels.api as sm

    x, y, _ = _logistic_data(3000, 3, seed=1)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12, maxiter=100).params
    for standardize in (False, True):
        fit = fit_logistic(x, y, standardize=standardize)
        assert fit.converged and 1 <= fit.n_iter < 20
        raw_coef = fit.coef / fit.scale
        raw_intercept = fit.intercept - float(raw_coef @ fit.mean)
        np.testing.assert_allclose(np.r_[raw_intercept, raw_coef], ref, rtol=1e-6, atol=1e-8)
        p = sigmoid(sm.add_constant(x) @ ref)
        np.testing.assert_allclose(fit.predict_proba(x), p, atol=1e-8)
    # standardisation changes the parameterisation, not the unpenalised fit
    np.testing.assert_allclose(
        fit_logistic(x, y).predict_proba(x), fit_logistic(x, y, standardize=True).predict_proba(x), atol=1e-9
    )


def test_logistic_fit_l2_is_the_penalised_optimum() -> None:
    from scipy.optimize import minimize

    x, y, _ = _logistic_data(400, 4, seed=2)
    x[:, 2] = 7.0  # a constant feature: centred to 0, scale 1, coefficient 0
    n, norms = len(y), []
    for l2 in (1e-4, 1e-2, 1.0):
        fit = fit_logistic(x, y, l2=l2, standardize=True)
        assert fit.converged and fit.scale[2] == 1.0 and fit.mean[2] == 7.0 and fit.coef[2] == 0.0
        z = (x - fit.mean) / fit.scale

        def objective(theta: np.ndarray, z: np.ndarray = z, l2: float = l2) -> float:
            eta = theta[0] + z @ theta[1:]
            return float(np.sum(np.logaddexp(0, eta) - y * eta) + 0.5 * l2 * n * theta[1:] @ theta[1:])

        ref = minimize(objective, np.zeros(5), method="BFGS", options={"gtol": 1e-10}).x
        np.testing.assert_allclose(np.r_[fit.intercept, fit.coef], ref, atol=1e-5)
        assert fit.objective == pytest.approx(objective(np.r_[fit.intercept, fit.coef]), rel=1e-12)
        # the gradient of the penalised objective vanishes at the fit
        p = fit.predict_proba(x)
        grad = np.r_[np.sum(p - y), z.T @ (p - y) + l2 * n * fit.coef]
        assert np.max(np.abs(grad)) < 1e-6
        norms.append(float(np.linalg.norm(fit.coef)))
    assert norms[0] > norms[1] > norms[2]  # a stronger penalty shrinks the coefficients


def test_logistic_fit_separable_soft_and_edge_cases() -> None:
    x = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    free = fit_logistic(x, y)  # no finite maximum: stops at a steep, finite fit
    ridge = fit_logistic(x, y, l2=1e-3)
    for fit in (free, ridge):
        assert fit.converged and np.all(np.isfinite(fit.coef)) and math.isfinite(fit.intercept)
        assert np.all(fit.predict_proba(x[:3]) < 0.5) and np.all(fit.predict_proba(x[3:]) > 0.5)
    assert free.objective < 1e-6 and abs(free.coef[0]) > abs(ridge.coef[0]) > 5
    # soft targets: a constant target is its own log-odds, with no slope
    soft = fit_logistic(np.linspace(0, 1, 50), np.full(50, 0.3), l2=1e-6)
    assert soft.intercept == pytest.approx(math.log(0.3 / 0.7), abs=1e-9) and abs(soft.coef[0]) < 1e-9
    # one class only: finite, and predicts that class
    ones = fit_logistic(x, np.ones(6))
    assert np.all(np.isfinite(ones.coef)) and np.all(ones.predict_proba(x) > 0.99)
    # max_iter bounds the work; 0 returns the starting point
    start = fit_logistic(x, y, max_iter=0)
    assert start.n_iter == 0 and not start.converged and start.coef[0] == 0.0 and start.intercept == 0.0
    capped = fit_logistic(x, y, max_iter=2)
    assert capped.n_iter == 2 and not capped.converged
    with np.errstate(over="raise"):
        np.testing.assert_array_equal(sigmoid([-1e6, 0.0, 1e6]), [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"x": np.zeros((2, 2, 2)), "y": [0, 1]}, "x"),
        ({"x": [0.0, np.nan], "y": [0, 1]}, "x"),
        ({"x": ["a", "b"], "y": [0, 1]}, "x"),
        ({"x": np.zeros((0, 1)), "y": []}, "x"),
        ({"x": [0.0, 1.0], "y": [0, 1, 1]}, "y"),
        ({"x": [0.0, 1.0], "y": [0, 2]}, "y"),
        ({"x": [0.0, 1.0], "y": [0, 1], "l2": -1.0}, "l2"),
        ({"x": [0.0, 1.0], "y": [0, 1], "max_iter": -1}, "max_iter"),
        ({"x": [0.0, 1.0], "y": [0, 1], "tol": -1e-3}, "tol"),
        ({"x": [0.0, 1.0], "y": [0, 1], "step_tol": math.nan}, "step_tol"),
    ],
)
def test_logistic_fit_bad_input_names_the_argument(kwargs: dict[str, object], arg: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{arg}:"):
        fit_logistic(**kwargs)  # type: ignore[arg-type]


def test_platt_calibrator_is_the_shared_logistic_fit() -> None:
    x, y, _ = _logistic_data(500, 1, seed=5)
    x = (x[:, 0] - x.min()) / (x.max() - x.min())
    cal = PlattCalibrator().fit(x, y)
    fit = fit_logistic(x, y, l2=1e-6)
    assert (cal.a, cal.b, cal.n_iter_, cal.converged_) == (
        fit.coef[0],
        fit.intercept,
        fit.n_iter,
        fit.converged,
    )
    np.testing.assert_array_equal(cal.predict(x), fit.predict_proba(x))
    with pytest.raises(InvalidInputError, match="x: expected 1 feature"):
        fit.predict_proba(np.zeros((3, 2)))
