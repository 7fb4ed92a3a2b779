"""Drift between a reference and production: PSI, Jensen–Shannon and two-sample KS, overall and
per group (mirrors ``src/stats/drift.rs``)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
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
    "MixDriftResult",
    "mix_drift",
    "region_counts",
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


# -- traffic-mix drift ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MixDriftResult:
    """Per-day traffic-mix drift of one tier against its reference mix (see :func:`mix_drift`).

    Per monitored day: ``n`` queries counted, ``chi_square`` and ``chi_square_p`` (Pearson's
    test of *exact* equality to the reference shares, K − 1 df: descriptive, it rejects on harmless
    differences at tens of thousands of queries a day), ``psi`` and ``tv`` (total variation) of the
    day's shares against the reference's, ``log_e`` (ln of the day's e-value against the
    tolerance null) and ``log_detector`` (ln of the e-CUSUM after the day). ``alarm_day`` is the
    first monitored day (0-based) with ``log_detector >= threshold``; ``reference`` holds the
    reference shares and ``floor`` the widened null's per-region floor."""

    n: FloatArray
    chi_square: FloatArray
    chi_square_p: FloatArray
    psi: FloatArray
    tv: FloatArray
    log_e: FloatArray
    log_detector: FloatArray
    alarm_day: int | None
    threshold: float
    reference: FloatArray
    floor: FloatArray
    tolerance: float
    alpha: float
    reference_alpha: float
    horizon: int
    daily: FloatArray = field(repr=False, compare=False)
    """The day counts tested, ``(days, K)``."""

    @property
    def effective_tolerance(self) -> float:
        """``1 − Σ floor``: the share of a day's traffic the widened null lets move, i.e. the
        tolerance plus what the reference's estimation error costs (it shrinks as the launch
        window grows, about as sqrt(K log K / launch queries))."""
        return float(1.0 - self.floor.sum())

    def moved(self, day: int, top: int = 5) -> list[tuple[int, float, float]]:
        """The ``top`` regions whose share moved most on monitored day ``day``, as ``(region,
        reference share, day share)``, largest absolute change first (ties: lower region)."""
        d = _count("day", day, minimum=0, maximum=max(self.daily.shape[0] - 1, 0))
        t = _count("top", top, minimum=1)
        row = self.daily[d]
        share = row / row.sum() if row.sum() > 0 else row
        change = np.abs(share - self.reference)
        order = np.lexsort((np.arange(change.size), -change))[:t]
        return [(int(j), float(self.reference[j]), float(share[j])) for j in order]


def region_counts(region: npt.ArrayLike, regions: int, mask: npt.ArrayLike | None = None) -> FloatArray:
    """Counts of each region ``0 .. regions-1`` among ``region`` (e.g. :attr:`RouteBatch.region`),
    only where ``mask`` is true when given; ``-1`` (no region) is not counted."""
    k = _count("regions", regions, minimum=2)
    r = np.asarray(region)
    if r.ndim != 1 or not np.issubdtype(r.dtype, np.integer):
        raise _validate.fail("region", "a one-dimensional array of integer region ids", region)
    if r.size and (r.max() >= k or r.min() < -1):
        raise _validate.fail("region", f"region ids in -1 .. {k - 1}", f"ids from {r.min()} to {r.max()}")
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != np.bool_ or m.shape != r.shape:
            raise _validate.fail("mask", f"a boolean array of length {r.shape[0]}", mask)
        r = r[m]
    r = r[r >= 0]
    return np.bincount(r, minlength=k).astype(np.float64)


def mix_drift(
    reference_counts: npt.ArrayLike,
    daily_counts: npt.ArrayLike,
    *,
    tolerance: float = 0.02,
    alpha: float = 0.05,
    reference_alpha: float = 0.01,
    horizon: int = 365,
    window: int = 3,
    shrink: float = 0.1,
) -> MixDriftResult:
    """Sequential traffic-mix drift test of one tier's daily region counts against a reference.

    ``reference_counts``: the tier's region counts over the launch window (length K);
    ``daily_counts``: one row of K counts per monitored day, in order (:func:`region_counts`).

    **Null (a tolerance, not exact equality).** H0(ε), ε = ``tolerance``: each day's region mix
    ``p`` is the launch mix ``p0`` up to a share ε of the traffic, ``p = (1 − ε)·p0 + ε·s`` for
    some distribution ``s`` (so TV(p, p0) ≤ ε). Each day's e-value is the likelihood ratio of a
    predictable alternative (the previous ``window`` days' mix, shrunk by ``shrink`` toward the
    reference) against its reverse information projection onto the null set, which has mean ≤ 1
    under every mix of the null. The launch mix is estimated: the null is widened with
    simultaneous Chernoff lower bounds on ``p0`` (level ``reference_alpha``, Bonferroni over K).

    **Alarm and guarantee.** e-CUSUM: ``log M_t = max(log M_{t-1}, 0) + log E_t``, alarm at
    ``log M_t >= ln(horizon / alpha)``. If H0(ε) holds on every day,
    **P(any alarm within ``horizon`` days) ≤ alpha + reference_alpha** (Ville's inequality on
    each run of days, a union over the ≤ ``horizon`` start days, and the reference bounds' failure
    probability). Assumptions: given the past, a day's queries are independent draws from that
    day's mix; the launch window is independent of the monitored days and shares one mix; the
    router (its regions) does not change. Monitoring several tiers: split ``alpha`` between them.
    """
    ref = _f64("reference_counts", reference_counts)
    try:
        daily = None if isinstance(daily_counts, (str, bytes)) else np.asarray(daily_counts, dtype=np.float64)
    except (TypeError, ValueError):
        daily = None
    if daily is None or daily.ndim != 2 or daily.shape[1] != ref.shape[0]:
        raise _validate.fail("daily_counts", f"a (days, {ref.shape[0]}) array of region counts", daily_counts)
    tol = _validate.real("tolerance", tolerance, minimum=0.0, maximum=1.0, max_open=True)
    a = _validate.unit("alpha", alpha, open_interval=True)
    ra = _validate.unit("reference_alpha", reference_alpha, open_interval=True)
    h = _count("horizon", horizon, minimum=1)
    w = _count("window", window, minimum=1)
    sh = _validate.real("shrink", shrink, minimum=0.0, maximum=1.0, min_open=True)
    raw = _core.stats_mix_drift(
        ref, np.ascontiguousarray(daily), tolerance=tol, alpha=a, reference_alpha=ra, horizon=h,
        window=w, shrink=sh,
    )  # fmt: skip
    return MixDriftResult(
        **{k: raw[k] for k in ("n", "chi_square", "chi_square_p", "psi", "tv", "log_e", "log_detector")},
        alarm_day=raw["alarm_day"], threshold=float(raw["threshold"]), reference=raw["reference"],
        floor=raw["floor"], tolerance=tol, alpha=a, reference_alpha=ra, horizon=h, daily=daily,
    )  # fmt: skip
