"""Binary logistic regression by Newton's method (IRLS), in numpy.

:func:`fit_logistic` maximises the (optionally L2-penalised) likelihood of
``P(y = 1 | x) = sigmoid(intercept + z @ coef)``, where ``z`` is ``x`` or, with
``standardize=True``, ``x`` centred and scaled per feature. It is the one logistic fit behind
:class:`~tierscope.routing.calibration.PlattCalibrator` and the RouteLLM evaluation's
cheap-answer confidence model. (The Rust router head is a different model: multinomial.)

Each iteration takes a Newton step on the penalised negative log-likelihood, halved until the
objective does not increase (so the fit cannot diverge on separable data), and stops when

- the step actually taken is below ``step_tol`` in every coordinate, or
- the objective fell by at most ``tol`` relative to ``max(1, objective)``, or
- no step along the Newton direction lowers the objective (a numerical optimum);

all three count as converged. Without a penalty, perfectly separable data has no finite
maximum: the objective then approaches 0 and the relative criterion stops the fit at large
but finite coefficients. Soft targets (``y`` anywhere in [0, 1]) are allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate
from ..exceptions import InvalidInputError

__all__ = ["LogisticFit", "fit_logistic", "sigmoid"]

FloatArray = npt.NDArray[np.float64]

_HESSIAN_JITTER = 1e-12
"""Added to the Hessian's diagonal so a flat direction (a constant feature) stays solvable."""
_OBJECTIVE_SLACK = 1e-12
"""A line-search step is taken if it raises the objective by at most this (rounding noise)."""
MAX_ITER = 1_000_000
"""The most Newton iterations :func:`fit_logistic` runs."""
_MIN_STEP_SCALE = 1e-10
"""The line search gives up (a numerical optimum) once the step is halved below this fraction."""


def sigmoid(z: npt.ArrayLike) -> FloatArray:
    """``1 / (1 + exp(-z))`` without overflow for large ``|z|``."""
    z = np.asarray(z, dtype=np.float64)
    out: FloatArray = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass(frozen=True, eq=False)  # array fields: compare the arrays, not the fits
class LogisticFit:
    """A fitted binary logistic model: ``P(y = 1) = sigmoid(intercept + ((x - mean) / scale) @ coef)``."""

    intercept: float
    coef: FloatArray
    """One coefficient per feature, on the standardised scale when ``standardize=True``."""
    mean: FloatArray
    """Per-feature centre subtracted before the fit (zeros without standardisation)."""
    scale: FloatArray
    """Per-feature divisor (the SD, 1 for a constant feature; ones without standardisation)."""
    n_iter: int
    """Newton iterations run."""
    converged: bool
    objective: float
    """The penalised negative log-likelihood at the fit."""

    def decision_function(self, x: npt.ArrayLike) -> FloatArray:
        """The log-odds ``intercept + ((x - mean) / scale) @ coef`` for each row of ``x``."""
        features = _features(x)
        if features.shape[1] != self.coef.shape[0]:
            raise InvalidInputError(f"x: expected {self.coef.shape[0]} feature(s), got {features.shape[1]}")
        out: FloatArray = self.intercept + ((features - self.mean) / self.scale) @ self.coef
        return out

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """``P(y = 1)`` for each row of ``x`` (a 1-d ``x`` is one feature)."""
        return sigmoid(self.decision_function(x))


def _features(x: npt.ArrayLike) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"x: expected an array of numbers ({err})") from err
    if arr.ndim == 1:
        arr = arr[:, None]  # one feature
    if arr.ndim != 2:
        raise InvalidInputError(f"x: expected a 1-d or 2-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("x: expected finite values, found NaN or infinity")
    return arr


def _targets(y: npt.ArrayLike, n: int) -> FloatArray:
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"y: expected an array of numbers in [0, 1] ({err})") from err
    if arr.shape != (n,):
        raise InvalidInputError(f"y: expected {n} values (one per row of x), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or np.any(arr > 1.0):
        raise InvalidInputError("y: expected values in [0, 1]")
    return arr


def _setting(check: Any, name: str, value: Any, **options: Any) -> None:
    """``check(name, value, **options)`` (a :mod:`tierscope._validate` check), its message in this
    module's ``name: expected …`` form."""
    try:
        check(name, value, **options)
    except InvalidInputError as err:
        raise InvalidInputError(f"{name}: {str(err).split(': ', 1)[-1]}") from None


def _check_settings(l2: float, max_iter: int, tol: float, step_tol: float, standardize: bool) -> None:
    _setting(_validate.real, "l2", l2, minimum=0.0)
    _setting(_validate.integer, "max_iter", max_iter, minimum=0, maximum=MAX_ITER)
    _setting(_validate.real, "tol", tol, minimum=0.0, finite=False)
    _setting(_validate.real, "step_tol", step_tol, minimum=0.0, finite=False)
    _setting(_validate.boolean, "standardize", standardize)


def _standardisation(features: FloatArray, standardize: bool) -> tuple[FloatArray, FloatArray]:
    d = features.shape[1]
    if not standardize:
        return np.zeros(d), np.ones(d)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature is centred to zero, not divided by zero
    return mean, scale


class _Objective:
    """The penalised negative log-likelihood of ``sigmoid(design @ theta)`` and its Newton step."""

    def __init__(self, design: FloatArray, y: FloatArray, penalty: FloatArray) -> None:
        self.design, self.y, self.penalty = design, y, penalty

    def __call__(self, theta: FloatArray) -> float:
        z = self.design @ theta
        # log(1 + e^z) - y z, stably
        return float(np.sum(np.logaddexp(0.0, z) - self.y * z) + 0.5 * float(self.penalty @ (theta * theta)))

    def newton_step(self, theta: FloatArray) -> FloatArray:
        p = sigmoid(self.design @ theta)
        grad = self.design.T @ (p - self.y) + self.penalty * theta
        hess = (self.design * (p * (1 - p))[:, None]).T @ self.design + np.diag(
            self.penalty + _HESSIAN_JITTER
        )
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:  # singular even with the jitter: the least-squares step
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        return np.asarray(step, dtype=np.float64)


def _line_search(
    objective: _Objective, theta: FloatArray, step: FloatArray, current: float
) -> tuple[FloatArray, float, float] | None:
    """``(theta - s * step, its objective, s)`` for the largest ``s = 2^-k`` that does not raise the
    objective; None when no such ``s`` above :data:`_MIN_STEP_SCALE` exists."""
    scale = 1.0
    while scale > _MIN_STEP_SCALE:
        candidate = theta - scale * step
        value = objective(candidate)
        if value <= current + _OBJECTIVE_SLACK:
            return candidate, value, scale
        scale *= 0.5
    return None


def fit_logistic(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    l2: float = 0.0,
    standardize: bool = False,
    max_iter: int = 100,
    tol: float = 1e-10,
    step_tol: float = 1e-9,
) -> LogisticFit:
    """Fit ``P(y = 1 | x) = sigmoid(intercept + z @ coef)`` by damped Newton's method (IRLS).

    ``x``: an ``(n, d)`` array, or ``(n,)`` for one feature; ``y``: ``n`` targets in [0, 1] (bools
    or soft labels). ``l2``: ridge strength per example: the penalty is ``0.5 * l2 * n * |coef|^2``
    (the intercept is not penalised), so its weight against the log-likelihood does not change with
    ``n``; any ``l2 > 0`` gives a finite fit on separable data. ``standardize``: fit on features
    centred and divided by their SD (a constant feature is only centred); ``coef`` is then on that
    scale, and :meth:`LogisticFit.predict_proba` applies the same transform. The fit starts at
    ``coef = 0`` and the intercept at the log-odds of the mean target; see the module docstring for
    the stopping rule (``tol``, ``step_tol``, ``max_iter``; ``max_iter=0`` returns the starting
    point). Bad input raises :class:`~tierscope.exceptions.InvalidInputError` naming the argument.
    """
    _check_settings(l2, max_iter, tol, step_tol, standardize)
    features = _features(x)
    n, d = features.shape
    if n == 0:
        raise InvalidInputError("x: expected at least one example")
    targets = _targets(y, n)
    mean, scale = _standardisation(features, standardize)
    # Parameters are [coef..., intercept]: the order PlattCalibrator always used, so its fits stay
    # identical to the bit (the solves round the same way).
    design = np.hstack([(features - mean) / scale, np.ones((n, 1))])
    objective = _Objective(design, targets, np.concatenate([np.full(d, l2 * n), [0.0]]))

    ybar = float(np.clip(targets.mean(), 1e-6, 1 - 1e-6))
    theta = np.concatenate([np.zeros(d), [math.log(ybar / (1.0 - ybar))]])
    current = objective(theta)
    converged, n_iter = False, 0
    while n_iter < max_iter:
        n_iter += 1
        step = objective.newton_step(theta)
        taken = _line_search(objective, theta, step, current)
        if taken is None:  # no descent left along the Newton direction
            converged = True
            break
        theta, value, step_scale = taken
        previous, current = current, value
        if (
            abs(previous - current) <= tol * max(1.0, abs(current))
            or float(np.max(np.abs(step_scale * step))) < step_tol
        ):
            converged = True
            break
    return LogisticFit(
        intercept=float(theta[-1]),
        coef=theta[:-1].copy(),
        mean=mean,
        scale=scale,
        n_iter=n_iter,
        converged=converged,
        objective=current,
    )
