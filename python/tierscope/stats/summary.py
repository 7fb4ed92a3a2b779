"""Per-tier summary of a decision log in one native sweep: traffic and review counts, the Hájek
quality estimate with its design-based interval, and KS drift of the router's confidence — per
tier, over all traffic, and the blended (unweighted, all reviews) mean.

The numbers are the audit's (:mod:`tierscope.quality.audit`): the per-tier estimate is
:func:`tierscope.stats.estimate`'s Poisson-design Hájek mean (weights 1/π) with its headline
interval (Wilson at the effective sample size for scores in [0, 1], else Wald), and the KS test is
:func:`tierscope.stats.ks_2samp` (scipy's ``ks_2samp``) against a reference sample, or the audit's
binned KS against a reference histogram.

Inputs are read in place: numpy arrays of a supported dtype (integer tier codes of any width,
``float64`` outcome and π, ``float32``/``float64`` confidence) cross into the Rust core without a
copy and are read with the GIL released. Other dtypes are converted (copied) first. Mutating an
input array from another thread while :func:`tier_summary` runs is undefined behaviour.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import _core, _validate
from .._optional import require
from ..exceptions import InvalidInputError
from ._convert import _level, _method, _threads
from .drift import KS_METHODS
from .estimators import DomainEstimate, _check_interval, _estimate_from

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BlendedMean", "ConfidenceDrift", "TierRow", "TierSummary", "tier_summary"]

BLENDED = "blended (all reviews, unweighted)"
ALL_TRAFFIC = "all traffic (design-based)"

_CODE_DTYPES = {np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64)} | {
    np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64)
}
_VALUE_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}


@dataclass(frozen=True)
class ConfidenceDrift:
    """Two-sample KS of a tier's confidence against the reference.

    ``method`` is ``"exact"``/``"asymp"`` (scipy ``ks_2samp``) for a reference sample or window,
    ``"binned_asymp"`` for a reference histogram. ``n`` is the tier's sample size (rows with a
    finite confidence, outside the reference window), ``n_reference`` the reference's.
    """

    statistic: float
    pvalue: float
    method: str
    n: int
    n_reference: int


@dataclass(frozen=True)
class TierRow:
    """One tier (``tier`` None: all traffic): traffic, reviews, Hájek estimate, drift.

    ``estimate`` is the design-based estimate of :func:`tierscope.stats.estimate` (Poisson design),
    with the tier's traffic as its known ``population`` (so ``ht_mean`` is the Horvitz–Thompson mean
    over the tier's rows); it is undefined (NaN, with a ``reason``) for a tier without reviews.
    """

    tier: Hashable | None
    rows: int
    reviewed: int
    with_confidence: int
    estimate: DomainEstimate
    drift: ConfidenceDrift | None


@dataclass(frozen=True)
class BlendedMean:
    """Unweighted mean of all reviews (Wilson interval for outcomes in [0, 1], else t)."""

    n: int
    mean: float
    se: float
    lower: float
    upper: float
    method: str
    level: float


@dataclass(frozen=True)
class TierSummary:
    """Result of :func:`tier_summary`."""

    tiers: dict[Hashable, TierRow]
    all_traffic: TierRow
    blended: BlendedMean
    level: float
    ks_path: str
    """How KS ran: ``"f32_radix"`` (exact 32-bit keys), ``"f64_sort"``, ``"binned"`` or ``"none"``."""

    def to_pandas(self) -> pd.DataFrame:
        """The audit's quality-table columns, one row per tier, then blended and all traffic."""
        require("pandas", purpose="TierSummary.to_pandas()")
        import pandas as pd

        def row(label: Hashable, r: TierRow) -> dict[str, Any]:
            e = r.estimate
            d = r.drift
            return {
                "tier": label,
                "answers": r.rows,
                "reviews": r.reviewed,
                "mean": e.mean,
                "lower": e.lower,
                "upper": e.upper,
                "se": e.se,
                "n_eff": e.n_eff,
                "interval": e.interval,
                "ks": np.nan if d is None else d.statistic,
                "ks_pvalue": np.nan if d is None else d.pvalue,
            }

        rows = [row(t, r) for t, r in self.tiers.items()]
        b = self.blended
        rows.append(
            {
                "tier": BLENDED,
                "answers": self.all_traffic.rows,
                "reviews": b.n,
                "mean": b.mean,
                "lower": b.lower,
                "upper": b.upper,
                "se": b.se,
                "n_eff": float(b.n),
                "interval": b.method,
                "ks": np.nan,
                "ks_pvalue": np.nan,
            }
        )
        rows.append(row(ALL_TRAFFIC, self.all_traffic))
        return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- conversion


def _one_d(name: str, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.dtype.kind in "USOcMmV":
        raise InvalidInputError(f"invalid `{name}`: an array of numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _codes(name: str, values: npt.ArrayLike) -> tuple[npt.NDArray[Any], list[Hashable] | None]:
    """Integer codes read in place, and the category names when ``values`` is categorical."""
    cat = getattr(values, "cat", None)  # a pandas Series of category dtype
    if cat is not None and hasattr(cat, "codes"):
        return _one_d(name, np.asarray(cat.codes)), list(cat.categories)
    if hasattr(values, "codes") and hasattr(values, "categories"):  # a pandas Categorical
        return _one_d(name, np.asarray(values.codes)), list(values.categories)
    arr = _one_d(name, np.asarray(values))
    if arr.size and arr.dtype not in _CODE_DTYPES:
        raise InvalidInputError(
            f"invalid `{name}`: integer tier codes 0..k-1 (or a pandas Categorical), got dtype {arr.dtype}"
        )
    if arr.dtype not in _CODE_DTYPES:
        arr = arr.astype(np.int64)
    return arr, None


def _floats(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    if isinstance(values, (str, bytes)):
        raise _validate.fail(name, "an array of numbers", values)
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "USOcMmV":
            raise InvalidInputError(f"invalid `{name}`: an array of numbers, got dtype {raw.dtype}")
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"invalid `{name}`: an array of numbers ({err})") from None
    return _one_d(name, arr)


def _values(name: str, values: npt.ArrayLike) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.dtype not in _VALUE_DTYPES and not (arr.dtype.kind == "f" and arr.dtype.itemsize in (4, 8)):
        return _floats(name, arr)
    return _one_d(name, arr)


def _histogram(reference: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(edges, counts) from a tuple, a Router, or its reference dict."""
    ref = getattr(reference, "reference", reference)
    if isinstance(ref, Mapping):
        if "confidence_edges" not in ref or "confidence_counts" not in ref:
            raise InvalidInputError(
                "invalid `reference_histogram`: (edges, counts), a Router, or its reference dict "
                "with `confidence_edges` and `confidence_counts`"
            )
        return _floats("reference_edges", ref["confidence_edges"]), _floats(
            "reference_counts", ref["confidence_counts"]
        )
    if isinstance(ref, Sequence) and len(ref) == 2:
        return _floats("reference_edges", ref[0]), _floats("reference_counts", ref[1])
    raise InvalidInputError("invalid `reference_histogram`: (edges, counts), a Router, or its reference dict")


def _drift(core: _core.StatsKsResult | None) -> ConfidenceDrift | None:
    if core is None:
        return None
    # The core's n1 is the reference's size, n2 the tier sample's.
    return ConfidenceDrift(core.statistic, core.pvalue, core.method, core.n2, core.n1)


def _row(core: _core.StatsTierRow, label: Hashable | None, interval: str = "wilson") -> TierRow:
    return TierRow(
        tier=label,
        rows=core.rows,
        reviewed=core.reviewed,
        with_confidence=core.with_confidence,
        estimate=_estimate_from(core.estimate, label, noun="tier", interval=interval),
        drift=_drift(core.drift),
    )


# ----------------------------------------------------------------------------- the summary


def tier_summary(
    tiers: npt.ArrayLike,
    outcome: npt.ArrayLike,
    pi: npt.ArrayLike,
    *,
    tier_names: Sequence[Hashable] | None = None,
    confidence: npt.ArrayLike | None = None,
    reference: npt.ArrayLike | None = None,
    reference_tiers: npt.ArrayLike | None = None,
    reference_histogram: Any = None,
    reference_window: npt.ArrayLike | None = None,
    level: float = 0.95,
    ks_method: str = "auto",
    threads: int = 0,
    interval: str = "wilson",
) -> TierSummary:
    """Per-tier traffic, reviews, Hájek quality with its design-based interval and KS confidence
    drift of a decision log (one row per logged decision), plus all traffic and the blended mean.

    ``tiers`` are integer codes 0..k-1 (any integer dtype, read in place) or a pandas Categorical;
    ``tier_names`` names codes 0..k-1 (default: the categories, else the codes themselves; k is
    then one more than the largest code). ``outcome`` is the quality outcome (0/1 verdict or a
    score; NaN = not reviewed), ``pi`` each row's inclusion probability in the review sample (in
    (0, 1] for every reviewed row; unreviewed rows' π is not read).

    Drift (needs ``confidence``, the router's confidence per row; non-finite = missing) against at
    most one of:

    * ``reference``: a reference sample (e.g. launch or training confidences), with
      ``reference_tiers`` (codes) to compare each tier with the same tier's reference rows,
      otherwise with all of it. Exact ``scipy.stats.ks_2samp(reference, sample, method=ks_method)``.
    * ``reference_histogram``: ``(edges, counts)``, a Router or its ``reference`` dict: the
      audit's binned KS (asymptotic Kolmogorov p-value).
    * ``reference_window``: a boolean mask of rows forming the reference window (e.g. the launch
      days); each tier's other rows are compared with its window rows. Estimates cover all rows.

    ``interval``: the per-tier interval method, one of
    :data:`~tierscope.stats.estimators.INTERVALS` (default ``"wilson"``: Wilson at
    n* = min(n, m(1 − m)/se²)).

    Bad input raises :class:`~tierscope.exceptions.InvalidInputError` naming the argument and the
    first bad row.
    """
    level = _level(level)
    interval = _check_interval(interval)
    ks_method = _method("ks_method", ks_method, KS_METHODS)
    threads = _threads(threads)
    codes, categories = _codes("tiers", tiers)
    if tier_names is not None and (
        isinstance(tier_names, (str, bytes)) or not isinstance(tier_names, Sequence)
    ):
        raise _validate.fail("tier_names", "a sequence of tier names", tier_names)
    names: list[Hashable] | None = list(tier_names) if tier_names is not None else categories
    y = _floats("outcome", outcome)
    p = _floats("pi", pi)
    conf = None if confidence is None else _values("confidence", confidence)
    ref = None if reference is None else _values("reference", reference)
    ref_codes = None if reference_tiers is None else _codes("reference_tiers", reference_tiers)[0]
    edges = counts = None
    if reference_histogram is not None:
        edges, counts = _histogram(reference_histogram)
    window = None
    if reference_window is not None:
        window = _one_d("reference_window", np.asarray(reference_window))
        if window.dtype != np.bool_:
            raise InvalidInputError(f"invalid `reference_window`: a boolean mask, got dtype {window.dtype}")
    if names is not None and len(names) == 0:
        raise InvalidInputError("invalid `tier_names`: at least one tier")
    r = _core.stats_tier_summary(
        codes,
        y,
        p,
        conf,
        ref,
        ref_codes,
        edges,
        counts,
        window,
        None if names is None else len(names),
        level,
        ks_method,
        threads,
    )
    labels: list[Hashable] = list(names) if names is not None else list(range(len(r.tiers)))
    b = r.blended
    return TierSummary(
        tiers={labels[i]: _row(row, labels[i], interval) for i, row in enumerate(r.tiers)},
        all_traffic=_row(r.all, None, interval),
        blended=BlendedMean(b.n, b.mean, b.se, b.lower, b.upper, b.method, level),
        level=r.level,
        ks_path=r.ks_path,
    )
