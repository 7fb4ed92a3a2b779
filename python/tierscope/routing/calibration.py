"""Calibrating a cheap model's confidence, and choosing a cascade threshold with a guarantee.

A cascade accepts the cheap tier's answer when its *calibrated* confidence, an estimate of
P(answer acceptable), is high enough. This module turns a raw confidence signal (a self-evaluation
score, a log-prob, a verifier's output) into that probability from labelled reviews, and picks the
acceptance threshold:

- :class:`IsotonicCalibrator` (pool-adjacent-violators, numpy) and :class:`PlattCalibrator`
  (a logistic fit by Newton's method, :func:`tierscope.stats.logistic.fit_logistic`);
  :func:`fit_calibrator` picks one by name.
- :func:`reliability_diagram` (data) and :func:`plot_reliability_diagram` (matplotlib, optional).
- :func:`choose_threshold`: the lowest threshold (largest cheap-acceptance region) whose failure
  rate among accepted queries is at most ``epsilon`` with probability at least ``1 - delta``,
  by learn-then-test fixed-sequence testing with exact binomial p-values.
- :class:`CostAwareRule`: accept when ``price_cheap + P(fail) * error_cost(category) < price_capable``
  (an infinite error cost makes a category never eligible for the cheap tier).

Only numpy and the standard library are used at runtime (no scipy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .. import _core
from .._optional import require
from ..exceptions import InvalidInputError
from ..stats.logistic import fit_logistic, sigmoid

__all__ = [
    "Calibrator",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "fit_calibrator",
    "ReliabilityDiagram",
    "reliability_diagram",
    "plot_reliability_diagram",
    "binom_logcdf",
    "binom_cdf",
    "clopper_pearson_upper",
    "ThresholdReport",
    "choose_threshold",
    "choose_thresholds",
    "CostAwareRule",
]

FloatArray = npt.NDArray[np.float64]


# -- input checking ----------------------------------------------------------------------------
def _as_1d(name: str, values: npt.ArrayLike, *, unit: bool = False) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{name}: expected a 1-d array of numbers ({err})") from err
    if arr.ndim != 1:
        raise InvalidInputError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name}: expected finite values, found NaN or infinity")
    if unit and arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise InvalidInputError(f"{name}: expected values in [0, 1], got range [{arr.min()}, {arr.max()}]")
    return arr


def _pair(
    conf: npt.ArrayLike, ok: npt.ArrayLike, *, unit_conf: bool = False
) -> tuple[FloatArray, FloatArray]:
    x = _as_1d("confidence", conf, unit=unit_conf)
    y = _as_1d("acceptable", ok, unit=True)
    if x.shape != y.shape:
        raise InvalidInputError(
            f"confidence/acceptable: expected the same length, got {x.shape[0]} and {y.shape[0]}"
        )
    if x.size == 0:
        raise InvalidInputError("confidence/acceptable: expected at least one labelled example")
    return x, y


def _check_prob(name: str, value: float, *, open_interval: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{name}: expected a number in (0, 1), got {value!r}") from err
    ok = 0.0 < v < 1.0 if open_interval else 0.0 <= v <= 1.0
    if not ok:
        raise InvalidInputError(
            f"{name}: expected a number in {'(0, 1)' if open_interval else '[0, 1]'}, got {v}"
        )
    return v


# -- calibrators -------------------------------------------------------------------------------
@runtime_checkable
class Calibrator(Protocol):
    """Maps a raw confidence score to P(answer acceptable)."""

    def __call__(self, raw: float) -> float: ...

    def predict(self, raw: npt.ArrayLike) -> FloatArray: ...


def _pava(y: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted pool-adjacent-violators: the non-decreasing fit of ``y`` (already sorted by x)."""
    n = y.shape[0]
    values = np.empty(n)
    weights = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    top = -1
    for i in range(n):
        top += 1
        values[top], weights[top], counts[top] = y[i], w[i], 1
        while top > 0 and values[top - 1] > values[top]:
            wsum = weights[top - 1] + weights[top]
            values[top - 1] = (values[top - 1] * weights[top - 1] + values[top] * weights[top]) / wsum
            weights[top - 1] = wsum
            counts[top - 1] += counts[top]
            top -= 1
    return np.repeat(values[: top + 1], counts[: top + 1])


@dataclass
class IsotonicCalibrator:
    """A non-decreasing map from raw confidence to P(acceptable), fitted by PAVA.

    Between fitted points the map is linearly interpolated; outside the fitted range it is
    constant. Monotone by construction, so accepting ``calibrated >= t`` is a raw-score threshold.
    """

    x_: FloatArray = field(default_factory=lambda: np.zeros(0))
    y_: FloatArray = field(default_factory=lambda: np.zeros(0))

    def fit(
        self, confidence: npt.ArrayLike, acceptable: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
    ) -> IsotonicCalibrator:
        x, y = _pair(confidence, acceptable)
        w = np.ones_like(x) if sample_weight is None else _as_1d("sample_weight", sample_weight)
        if w.shape != x.shape or np.any(w <= 0):
            raise InvalidInputError("sample_weight: expected positive weights, one per example")
        order = np.argsort(x, kind="mergesort")
        x, y, w = x[order], y[order], w[order]
        # Aggregate ties so equal raw scores get one calibrated value.
        ux, start = np.unique(x, return_index=True)
        wsum = np.add.reduceat(w, start)
        ymean = np.add.reduceat(y * w, start) / wsum
        self.x_ = ux
        self.y_ = np.clip(_pava(ymean, wsum), 0.0, 1.0)
        return self

    def predict(self, raw: npt.ArrayLike) -> FloatArray:
        if self.x_.size == 0:
            raise InvalidInputError("IsotonicCalibrator: call fit() before predict()")
        r = np.asarray(raw, dtype=np.float64)
        return np.asarray(np.interp(r, self.x_, self.y_), dtype=np.float64)

    def __call__(self, raw: float) -> float:
        return float(self.predict(np.array([raw]))[0])


@dataclass
class PlattCalibrator:
    """``P(acceptable) = sigmoid(a * raw + b)``, the maximum-likelihood logistic fit (Newton's method).

    ``l2`` adds a tiny ridge penalty on ``a`` so perfectly separable data still converges.
    ``platt_targets=True`` uses Platt's smoothed targets ((n+ + 1)/(n+ + 2), 1/(n- + 2)).
    """

    a: float = 1.0
    b: float = 0.0
    l2: float = 1e-6
    platt_targets: bool = False
    n_iter_: int = 0
    converged_: bool = False

    def fit(
        self, confidence: npt.ArrayLike, acceptable: npt.ArrayLike, *, max_iter: int = 100, tol: float = 1e-10
    ) -> PlattCalibrator:
        x, y = _pair(confidence, acceptable)
        if self.platt_targets:
            n_pos = float((y > 0.5).sum())
            n_neg = float(y.size - n_pos)
            y = np.where(y > 0.5, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
        fit = fit_logistic(x, y, l2=self.l2, max_iter=max_iter, tol=tol)
        self.a, self.b = float(fit.coef[0]), fit.intercept
        self.n_iter_, self.converged_ = fit.n_iter, fit.converged
        return self

    def predict(self, raw: npt.ArrayLike) -> FloatArray:
        r = np.asarray(raw, dtype=np.float64)
        return sigmoid(np.atleast_1d(self.a * r + self.b)).reshape(r.shape)

    def __call__(self, raw: float) -> float:
        return float(self.predict(np.array([raw]))[0])


def fit_calibrator(
    confidence: npt.ArrayLike, acceptable: npt.ArrayLike, method: Literal["isotonic", "platt"] = "isotonic"
) -> IsotonicCalibrator | PlattCalibrator:
    """Fit a calibrator on labelled reviews: raw ``confidence``, ``acceptable`` (bool or score in [0, 1])."""
    if method == "isotonic":
        return IsotonicCalibrator().fit(confidence, acceptable)
    if method == "platt":
        return PlattCalibrator().fit(confidence, acceptable)
    raise InvalidInputError(f"method: expected 'isotonic' or 'platt', got {method!r}")


# -- reliability diagram -----------------------------------------------------------------------
@dataclass(frozen=True)
class ReliabilityDiagram:
    """Equal-width bins over [0, 1]: mean predicted confidence vs observed acceptable rate."""

    bin_edges: FloatArray
    count: npt.NDArray[np.int64]
    mean_confidence: FloatArray
    """NaN for empty bins."""
    observed_rate: FloatArray
    """NaN for empty bins."""
    ece: float
    """Expected calibration error: count-weighted mean |mean_confidence - observed_rate|."""
    max_gap: float
    """Largest |mean_confidence - observed_rate| over non-empty bins."""


def reliability_diagram(
    confidence: npt.ArrayLike, acceptable: npt.ArrayLike, bins: int = 10
) -> ReliabilityDiagram:
    """Reliability-diagram data for calibrated ``confidence`` (in [0, 1]) against ``acceptable``."""
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise InvalidInputError(f"bins: expected a positive int, got {bins!r}")
    x, y = _pair(confidence, acceptable, unit_conf=True)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.minimum((x * bins).astype(np.int64), bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=x, minlength=bins) / count
        rate = np.bincount(idx, weights=y, minlength=bins) / count
    gaps = np.abs(mean_conf - rate)
    nonempty = count > 0
    ece = float(np.sum(gaps[nonempty] * count[nonempty]) / x.size)
    return ReliabilityDiagram(edges, count, mean_conf, rate, ece, float(np.max(gaps[nonempty])))


def plot_reliability_diagram(diagram: ReliabilityDiagram, ax: Any = None, label: str | None = None) -> Any:
    """Plot a :class:`ReliabilityDiagram` with matplotlib (optional dependency). Returns the axes."""
    require("matplotlib", purpose="plot_reliability_diagram()")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ok = diagram.count > 0
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.plot(
        diagram.mean_confidence[ok],
        diagram.observed_rate[ok],
        marker="o",
        label=label or f"ECE {diagram.ece:.3f}",
    )
    ax.set_xlabel("calibrated confidence")
    ax.set_ylabel("observed acceptable rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return ax


# -- exact binomial tail -----------------------------------------------------------------------
def binom_logcdf(k: int, n: int, p: float) -> float:
    """``log P(Bin(n, p) <= k)`` (of :func:`binom_cdf`; ``-inf`` where the tail underflows)."""
    value = binom_cdf(k, n, p)
    return math.log(value) if value > 0.0 else -math.inf


def binom_cdf(k: int, n: int, p: float) -> float:
    """``P(Bin(n, p) <= k)``, exact: the Rust core's regularised incomplete beta, which keeps relative
    accuracy deep into the tail (tested against scipy)."""
    return float(_core.stats_binom_cdf(int(k), int(n), float(p)))


def clopper_pearson_upper(k: int, n: int, delta: float) -> float:
    """The one-sided ``1 - delta`` Clopper-Pearson upper bound on a rate with ``k`` events in ``n`` trials.

    The ``p`` solving ``P(Bin(n, p) <= k) = delta``: the beta quantile ``B(1 - delta; k + 1, n - k)``
    from the Rust core; 1 when ``k >= n``.
    """
    delta = _check_prob("delta", delta)
    if n <= 0 or k >= n:
        return 1.0
    return float(_core.stats_clopper_pearson_upper(int(k), int(n), delta))


# -- thresholds --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdReport:
    """The outcome of :func:`choose_threshold`.

    When ``feasible`` is False no threshold meets the target: ``threshold`` is ``inf`` and a
    :class:`~tierscope.routing.Cascade` built with this report escalates every query.
    """

    threshold: float
    feasible: bool
    message: str
    epsilon: float
    delta: float
    n_calibration: int
    n_accepted: int
    failures: int
    empirical_failure_rate: float
    """Failures / accepted at the threshold on the calibration data (NaN when none accepted)."""
    upper_bound: float
    """Clopper-Pearson ``1 - delta`` upper bound on the failure rate at the threshold (1 if infeasible)."""
    p_value: float
    """``P(Bin(n_accepted, epsilon) <= failures)`` at the threshold (NaN if infeasible)."""
    acceptance_rate: float
    """Share of calibration queries the cheap tier answers (its answer is accepted)."""
    escalation_rate: float
    expected_cost_per_query: float | None
    """``price_cheap + escalation_rate * price_capable (+ shadow cost)`` when prices are given."""
    n_tested: int
    """How many thresholds the fixed sequence tested (rejected ones plus the stopping one)."""

    def accepts(self, calibrated_confidence: float) -> bool:
        """Would this report accept a cheap answer with this calibrated confidence?"""
        return self.feasible and calibrated_confidence >= self.threshold


def choose_threshold(
    confidence: npt.ArrayLike,
    acceptable: npt.ArrayLike,
    epsilon: float,
    delta: float,
    *,
    thresholds: Sequence[float] | npt.ArrayLike | None = None,
    min_accepted: int | None = None,
    price_cheap: float | None = None,
    price_capable: float | None = None,
    shadow_rate: float = 0.0,
) -> ThresholdReport:
    """The lowest threshold whose cheap-tier failure rate is ``<= epsilon`` with probability ``>= 1 - delta``.

    ``confidence``: calibrated confidence of the cheap answers on held-out labelled queries (use
    data not used to fit the calibrator); ``acceptable``: bool (or a score, counted as acceptable
    when >= 0.5). A query is *accepted* (answered by the cheap tier) when ``confidence >= t``.

    Learn-then-test fixed-sequence testing: for thresholds from the most conservative (highest)
    downward, test H0(t): "failure rate among accepted > epsilon" with the exact p-value
    ``P(Bin(n_accepted(t), epsilon) <= failures(t))`` (equivalently: the Clopper-Pearson upper
    bound is <= epsilon). Reject while ``p <= delta``; stop at the first non-rejection and return
    the last rejected threshold. This controls the family-wise error at ``delta`` with no
    Bonferroni penalty because the order is fixed before looking at the labels.

    ``thresholds``: the candidate sequence (any order; scanned from the highest). By default the
    distinct calibration confidences, starting at the highest one that accepts at least
    ``min_accepted`` queries (by default the fewest that could reject with zero failures,
    ``ceil(log(delta) / log(1 - epsilon))``); thresholds accepting nothing are skipped.

    ``price_cheap``/``price_capable`` (per query) give ``expected_cost_per_query`` for the
    cascade: every query pays the cheap tier, escalated (and ``shadow_rate`` of accepted) ones
    also the capable tier.
    """
    epsilon = _check_prob("epsilon", epsilon)
    delta = _check_prob("delta", delta)
    shadow_rate = _check_prob("shadow_rate", shadow_rate, open_interval=False)
    x, y = _pair(confidence, acceptable)
    fail = y < 0.5
    n = x.size
    n_min = math.ceil(math.log(delta) / math.log1p(-epsilon))
    if min_accepted is not None:
        if not isinstance(min_accepted, int) or min_accepted < 1:
            raise InvalidInputError(f"min_accepted: expected a positive int, got {min_accepted!r}")
        n_min = min_accepted
    for name, price in (("price_cheap", price_cheap), ("price_capable", price_capable)):
        if price is not None and (not math.isfinite(price) or price < 0):
            raise InvalidInputError(f"{name}: expected a finite non-negative price, got {price}")

    order = np.argsort(-x, kind="mergesort")
    xs, fs = x[order], fail[order]
    cum_fail = np.concatenate([[0], np.cumsum(fs)])

    def counts(t: float) -> tuple[int, int]:
        # number with x >= t in a descending array
        m = int(np.searchsorted(-xs, -t, side="right"))
        return m, int(cum_fail[m])

    if thresholds is None:
        grid = np.unique(xs)[::-1]
        m_at = np.searchsorted(-xs, -grid, side="right")
        grid = grid[m_at >= min(n_min, n)]
    else:
        grid = np.unique(_as_1d("thresholds", thresholds))[::-1]
        if grid.size == 0:
            raise InvalidInputError("thresholds: expected at least one candidate threshold")

    best: tuple[float, int, int, float] | None = None
    n_tested = 0
    stop_note = "every candidate threshold was rejected"
    for t in grid:
        m, k = counts(float(t))
        if m == 0:
            continue
        n_tested += 1
        p_value = binom_cdf(k, m, epsilon)
        if p_value <= delta:
            best = (float(t), m, k, p_value)
        else:
            stop_note = f"stopped at t={float(t):.6g}: {k} failures in {m} accepted, p={p_value:.3g} > delta"
            break

    def cost(esc_rate: float, acc_rate: float) -> float | None:
        if price_cheap is None or price_capable is None:
            return None
        return price_cheap + (esc_rate + shadow_rate * acc_rate) * price_capable

    if best is None:
        msg = (
            f"infeasible: no threshold keeps the cheap-tier failure rate <= {epsilon} with probability "
            f">= {1 - delta} on {n} calibration queries ({stop_note}); the cascade escalates every query"
        )
        return ThresholdReport(
            threshold=math.inf,
            feasible=False,
            message=msg,
            epsilon=epsilon,
            delta=delta,
            n_calibration=n,
            n_accepted=0,
            failures=0,
            empirical_failure_rate=math.nan,
            upper_bound=1.0,
            p_value=math.nan,
            acceptance_rate=0.0,
            escalation_rate=1.0,
            expected_cost_per_query=cost(1.0, 0.0),
            n_tested=n_tested,
        )
    t, m, k, p = best
    acc = m / n
    ub = clopper_pearson_upper(k, m, delta)
    return ThresholdReport(
        threshold=t,
        feasible=True,
        message=(
            f"threshold {t:.6g}: accepts {m}/{n} ({acc:.1%}) with {k} failures; failure rate <= {epsilon} "
            f"with probability >= {1 - delta} (Clopper-Pearson upper bound {ub:.4f}); {stop_note}"
        ),
        epsilon=epsilon,
        delta=delta,
        n_calibration=n,
        n_accepted=m,
        failures=k,
        empirical_failure_rate=k / m,
        upper_bound=ub,
        p_value=p,
        acceptance_rate=acc,
        escalation_rate=1.0 - acc,
        expected_cost_per_query=cost(1.0 - acc, acc),
        n_tested=n_tested,
    )


def choose_thresholds(
    steps: Sequence[
        tuple[npt.ArrayLike, npt.ArrayLike]
        | Callable[[tuple[ThresholdReport, ...]], tuple[npt.ArrayLike, npt.ArrayLike]]
    ],
    epsilon: float | Sequence[float],
    delta: float,
    *,
    min_accepted: int | None = None,
) -> tuple[ThresholdReport, ...]:
    """One certified threshold per escalation step of an N-tier cascade, with a family-wise guarantee.

    ``steps[i] = (confidence, acceptable)``: step ``i``'s calibrated confidence in tier ``i``'s
    answer and whether that answer was acceptable, on held-out labelled queries like those
    that reach step ``i`` (for the first step, all traffic; for later steps, queries the earlier
    steps escalate: calibrate the steps in order, each on what the thresholds before it
    escalate). ``epsilon``: the target failure rate among the answers each step accepts (one
    float for every step, or one per step).

    **Guarantee (Bonferroni over steps)**: with probability ``>= 1 - delta``, *every* step's
    failure rate among the answers it accepts is ``<= epsilon`` (of that step). Each step runs
    :func:`choose_threshold`'s fixed-sequence test at ``delta / S`` for ``S`` steps; the union
    bound makes the probability that *any* step's certificate is wrong ``<= S · delta/S``.
    Bonferroni rather than a fixed sequence over steps, because the steps are not nested
    hypotheses of one ordering: a fixed sequence would stop certifying at the first infeasible
    step and leave every later step uncertified (escalating all of it to the top tier), while
    the union bound needs no independence between the steps' calibration sets (later steps'
    sets depend on earlier thresholds) and costs only a ``log(S)``-sized increase of the
    samples each step needs. Within a step the fixed-sequence scan over thresholds keeps its
    full ``delta / S`` (no further penalty). An infeasible step's report escalates every query
    that reaches it.
    """
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise InvalidInputError(
            "steps: expected a non-empty sequence of (confidence, acceptable) pairs, "
            f"got {type(steps).__name__}"
        )
    n_steps = len(steps)
    if isinstance(epsilon, Sequence) and not isinstance(epsilon, str):
        if len(epsilon) != n_steps:
            raise InvalidInputError(
                f"epsilon: expected one float or one per step ({n_steps}), got {len(epsilon)} values"
            )
        epsilons = [float(_check_prob(f"epsilon[{i}]", e)) for i, e in enumerate(epsilon)]
    else:
        epsilons = [_check_prob("epsilon", epsilon)] * n_steps
    delta = _check_prob("delta", delta)
    reports: list[ThresholdReport] = []
    for i, step in enumerate(steps):
        if callable(step):
            step = step(tuple(reports))
        if not isinstance(step, (tuple, list)) or len(step) != 2:
            raise InvalidInputError(f"steps[{i}]: expected a (confidence, acceptable) pair")
        try:
            reports.append(
                choose_threshold(step[0], step[1], epsilons[i], delta / n_steps, min_accepted=min_accepted)
            )
        except InvalidInputError as err:
            raise InvalidInputError(f"steps[{i}]: {err}") from err
    return tuple(reports)


# -- cost of error -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CostAwareRule:
    """Accept the cheap answer when ``price_cheap + P(fail) * error_cost(category) < price_capable``.

    ``error_costs`` maps a category (e.g. an intent) to the cost of a wrong cheap answer, in the
    same unit as the prices; other categories (and ``None``) use ``default_error_cost``. An
    infinite error cost means the category is never accepted (a regulated intent), whatever the
    confidence. A NaN ``P(fail)`` is never accepted.
    """

    price_cheap: float
    price_capable: float
    default_error_cost: float
    error_costs: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("price_cheap", "price_capable"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InvalidInputError(f"{name}: expected a finite non-negative price, got {v!r}")
        costs = {"default_error_cost": self.default_error_cost, **dict(self.error_costs)}
        for name, v in costs.items():
            if not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
                raise InvalidInputError(
                    f"error cost for {name!r}: expected a non-negative number or inf, got {v!r}"
                )
        object.__setattr__(self, "error_costs", dict(self.error_costs))

    def error_cost(self, category: str | None) -> float:
        if category is None:
            return float(self.default_error_cost)
        return float(self.error_costs.get(category, self.default_error_cost))

    def expected_cost_if_accepted(self, p_fail: float, category: str | None = None) -> float:
        cost = self.error_cost(category)
        if math.isinf(cost):
            return math.inf
        return self.price_cheap + p_fail * cost

    def accept(self, p_fail: float, category: str | None = None) -> bool:
        if not isinstance(p_fail, (int, float)) or math.isnan(p_fail):
            return False
        if math.isinf(self.error_cost(category)):
            return False
        return self.expected_cost_if_accepted(float(p_fail), category) < self.price_capable

    def max_p_fail(self, category: str | None = None) -> float:
        """The largest P(fail) accepted for ``category`` (exclusive bound); 0 when never accepted."""
        cost = self.error_cost(category)
        if math.isinf(cost):
            return 0.0
        if cost == 0:
            return math.inf if self.price_cheap < self.price_capable else 0.0
        return max(0.0, (self.price_capable - self.price_cheap) / cost)
