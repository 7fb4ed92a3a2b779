"""Drift between a reference and production: PSI, Jensen–Shannon and two-sample KS, overall and
per group (mirrors ``src/stats/drift.rs``)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..exceptions import InvalidInputError
from ._convert import FloatArray, IntArray, _encode, _f64, _same_len

__all__ = [
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
    """Population stability index between two histograms (counts or proportions)."""
    return _core.stats_psi(_f64("expected", expected), _f64("actual", actual), eps)


def psi_samples(
    reference: npt.ArrayLike, production: npt.ArrayLike, bins: int = 10, eps: float = 1e-4
) -> float:
    """PSI between two samples, bins cut at the reference quantiles."""
    if bins < 2:
        raise InvalidInputError(f"invalid `bins`: at least 2 bins, got {bins}")
    return _core.stats_psi_samples(_f64("reference", reference), _f64("production", production), bins, eps)


def ks_2samp(x: npt.ArrayLike, y: npt.ArrayLike, method: str = "auto") -> KsResult:
    """Two-sided two-sample KS test matching ``scipy.stats.ks_2samp(x, y, method=method)``."""
    return _ks(_core.stats_ks_2samp(_f64("x", x), _f64("y", y), method))


def kolmogorov_sf(n: int, x: float) -> float:
    """Survival function of the one-sample two-sided Kolmogorov statistic (``scipy.stats.kstwo.sf``)."""
    if n < 1:
        raise InvalidInputError(f"invalid `n`: a positive sample size, got {n}")
    return _core.stats_kolmogorov_sf(int(n), float(x))


def _grouped_samples(
    reference: npt.ArrayLike,
    production: npt.ArrayLike,
    reference_groups: npt.ArrayLike,
    production_groups: npt.ArrayLike,
) -> tuple[FloatArray, IntArray, FloatArray, IntArray, list[Any]]:
    """Validated samples and group codes for the per-group drift functions."""
    r = _f64("reference", reference)
    p = _f64("production", production)
    rg = np.asarray(reference_groups)
    pg = np.asarray(production_groups)
    _same_len("reference_groups", rg, "reference", r.shape[0])
    _same_len("production_groups", pg, "production", p.shape[0])
    # One vectorised encoding over both sides keeps the codes consistent.
    both, labels = _encode("groups", np.concatenate([rg, pg]))
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
    r, rc, p, pc, labels = _grouped_samples(reference, production, reference_groups, production_groups)
    out: dict[Hashable, DriftReport | None] = {}
    for k, res in _core.stats_drift_by_group(r, rc, p, pc, bins, eps, base, method):
        out[labels[k]] = None if res is None else DriftReport(_ks(res.ks), res.psi, res.js)
    return out


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike, base: float | None = None) -> float:
    """Jensen–Shannon distance between two histograms (``scipy.spatial.distance.jensenshannon``)."""
    return _core.stats_jensen_shannon(_f64("p", p), _f64("q", q), base)
