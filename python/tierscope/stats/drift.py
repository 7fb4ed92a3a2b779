"""Drift between a reference and production: PSI, Jensen–Shannon and two-sample KS, overall and
per group (mirrors ``src/stats/drift.rs``)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core, _validate
from ._convert import FloatArray, IntArray, _count, _encode, _f64, _method, _positive, _same_len

KS_METHODS = ("auto", "exact", "asymp")
"""The ``method`` names of the KS functions (as scipy's ``ks_2samp``)."""
MAX_BINS = 1_000_000
"""The most histogram bins :func:`psi_samples` and :func:`drift_by_group` take."""


def _base(base: float | None) -> float | None:
    """A logarithm base: None (natural log) or a finite number > 1."""
    checked: float | None = _validate.optional(_validate.real, "base", base, minimum=1.0, min_open=True)
    return checked


def _bins(bins: int) -> int:
    return _count("bins", bins, minimum=2, maximum=MAX_BINS)


__all__ = [
    "KS_METHODS",
    "MAX_BINS",
    "DriftReport",
    "KsResult",
    "drift_by_group",
    "jensen_shannon",
    "kolmogorov_sf",
    "ks_2samp",
    "ks_by_group",
    "psi",
    "psi_samples",
]


@dataclass(frozen=True)
class KsResult:
    """Two-sided two-sample Kolmogorov–Smirnov result."""

    statistic: float
    pvalue: float
    method: str


def _ks(core: _core.StatsKsResult) -> KsResult:
    return KsResult(core.statistic, core.pvalue, core.method)


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, eps: float = 1e-4) -> float:
    """Population stability index between two histograms (counts or proportions; finite,
    non-negative masses with a positive total). Always finite and non-negative."""
    e = _f64("expected", expected)
    a = _f64("actual", actual)
    _same_len("actual", a, "expected", e.shape[0])
    return _core.stats_psi(e, a, _positive("eps", eps))


def psi_samples(
    reference: npt.ArrayLike, production: npt.ArrayLike, bins: int = 10, eps: float = 1e-4
) -> float:
    """PSI between two samples, bins cut at the reference quantiles."""
    r = _f64("reference", reference)
    p = _f64("production", production)
    return _core.stats_psi_samples(r, p, _bins(bins), _positive("eps", eps))


def ks_2samp(x: npt.ArrayLike, y: npt.ArrayLike, method: str = "auto") -> KsResult:
    """Two-sided two-sample KS test matching ``scipy.stats.ks_2samp(x, y, method=method)``."""
    xs = _f64("x", x)
    ys = _f64("y", y)
    return _ks(_core.stats_ks_2samp(xs, ys, _method("method", method, KS_METHODS)))


def kolmogorov_sf(n: int, x: float) -> float:
    """Survival function of the one-sample two-sided Kolmogorov statistic (``scipy.stats.kstwo.sf``):
    ``n`` a positive integer sample size, ``x`` a finite statistic; the result is in [0, 1]."""
    return _core.stats_kolmogorov_sf(_count("n", n, minimum=1), _validate.real("x", x))


def _labels(name: str, values: npt.ArrayLike) -> np.ndarray[Any, Any]:
    if isinstance(values, (str, bytes)):
        raise _validate.fail(name, "a one-dimensional array of group labels", values)
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as err:
        raise _validate.fail(name, f"a one-dimensional array of group labels ({err})") from None


def _grouped_samples(
    reference: npt.ArrayLike,
    production: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production_groups: npt.ArrayLike,
) -> tuple[FloatArray, IntArray, FloatArray, IntArray, list[Any]]:
    """Validated samples and group codes for the per-group drift functions."""
    r = _f64("reference", reference)
    p = _f64("production", production)
    rg = _labels("reference_groups", reference_groups)
    pg = _labels("production_groups", production_groups)
    _same_len("reference_groups", rg, "reference", r.shape[0])
    _same_len("production_groups", pg, "production", p.shape[0])
    # One vectorised encoding over both sides keeps the codes consistent.
    try:
        joined = np.concatenate([rg, pg])
    except (TypeError, ValueError) as err:
        raise _validate.fail(
            "production_groups", f"labels of the same kind as `reference_groups` ({err})"
        ) from None
    both, labels = _encode("production_groups", joined)
    rc = np.ascontiguousarray(both[: rg.shape[0]])
    pc = np.ascontiguousarray(both[rg.shape[0] :])
    return r, rc, p, pc, labels


def ks_by_group(
    reference: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production: npt.ArrayLike,
    production_groups: npt.ArrayLike,
    method: str = "auto",
) -> dict[Hashable, KsResult | None]:
    """KS drift per group label (e.g. tier); groups present on one side only map to None."""
    method = _method("method", method, KS_METHODS)
    r, rc, p, pc, labels = _grouped_samples(reference, production, reference_groups, production_groups)
    out: dict[Hashable, KsResult | None] = {}
    for k, res in _core.stats_ks_by_group(r, rc, p, pc, method):
        out[labels[k]] = None if res is None else _ks(res)
    return out


@dataclass(frozen=True)
class DriftReport:
    """Drift of one group: KS test, PSI and Jensen–Shannon distance (reference-quantile bins)."""

    ks: KsResult
    psi: float
    js: float


def drift_by_group(
    reference: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production: npt.ArrayLike,
    production_groups: npt.ArrayLike,
    bins: int = 10,
    eps: float = 1e-4,
    base: float | None = None,
    method: str = "auto",
) -> dict[Hashable, DriftReport | None]:
    """KS, PSI and JS drift per group label (e.g. tier) between a reference sample (e.g. the
    router's training confidences) and production. PSI/JS use ``bins`` bins cut at each group's
    reference quantiles; groups present on one side only map to None."""
    bins, eps, base = _bins(bins), _positive("eps", eps), _base(base)
    method = _method("method", method, KS_METHODS)
    r, rc, p, pc, labels = _grouped_samples(reference, production, reference_groups, production_groups)
    out: dict[Hashable, DriftReport | None] = {}
    for k, res in _core.stats_drift_by_group(r, rc, p, pc, bins, eps, base, method):
        out[labels[k]] = None if res is None else DriftReport(_ks(res.ks), res.psi, res.js)
    return out


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike, base: float | None = None) -> float:
    """Jensen–Shannon distance between two histograms (``scipy.spatial.distance.jensenshannon``).

    ``p`` and ``q`` are finite, non-negative masses (counts or proportions, each with a positive
    total) of equal length; ``base`` is None (natural log) or a finite base > 1. The result is
    always finite: in [0, √ln 2] for the natural log, [0, 1] for ``base=2`` (0·log 0 = 0, so
    disjoint supports, zeros, huge counts and subnormal masses are all fine)."""
    pa = _f64("p", p)
    qa = _f64("q", q)
    _same_len("q", qa, "p", pa.shape[0])
    return _core.stats_jensen_shannon(pa, qa, _base(base))
