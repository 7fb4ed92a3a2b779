"""Judge-assisted (prediction-powered, PPI / PPI++) per-tier means with design weights (mirrors
``src/stats/ppi.rs``).

Per tier, a *judged* sample (an LLM judge's score ``f`` on answers drawn with known π, possibly
all answers, π = 1) and a *human* sample (labels ``y`` with the judge's score ``f`` on the same
answers, drawn with their own π) give the PPI++ estimate θ̂ = λ·m_J(f) + m_H(y − λf) (Hájek
means; unbiased for the human mean for any fixed λ), its linearised variance λ²V_J(f) + V_H(y −
λf) and a normal interval. ``lam=None`` tunes λ to minimise that variance and clips it to [0, 1]
(as ``ppi_py`` does). ``variance="poisson"`` (default) is the design-based Poisson-sampling
variance (a census judged sample adds none); ``"with_replacement"`` is the i.i.d. form, equal to
``ppi_py.ppi_mean_ci``'s when every π is 1. The two samples are assumed drawn independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core, _validate
from ._convert import _encode, _f64, _i64, _level, _method, _same_len

__all__ = ["PPI_VARIANCES", "PpiAggregate", "PpiEstimate", "interval_width", "ppi_mean"]

PPI_VARIANCES = ("poisson", "with_replacement")


@dataclass(frozen=True)
class PpiEstimate:
    """One tier's judge-assisted estimate and the human-only estimate beside it."""

    domain: Any
    n_judged: int
    n_human: int
    lam: float
    """The λ used (tuned and clipped to [0, 1], or as given); NaN when undefined."""
    tuned: bool
    estimate: float
    se: float
    lower: float
    upper: float
    judge_mean: float
    """Hájek mean of the judge's scores on the judged sample."""
    human_mean: float
    """Hájek mean of the human labels (the human-only estimate)."""
    human_se: float
    judge_variance: float
    level: float
    defined: bool
    """False when the tier has no review or no judged answer."""

    @property
    def human_lower(self) -> float:
        """Lower end of the human-only normal interval at the same level."""
        return self.human_mean - _z(self.level) * self.human_se

    @property
    def human_upper(self) -> float:
        """Upper end of the human-only normal interval at the same level."""
        return self.human_mean + _z(self.level) * self.human_se


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _estimate(core: _core.StatsPpiEstimate, label: Any) -> PpiEstimate:
    return PpiEstimate(
        label,
        core.n_judged,
        core.n_human,
        core.lam,
        core.tuned,
        core.estimate,
        core.se,
        core.lower,
        core.upper,
        core.judge_mean,
        core.human_mean,
        core.human_se,
        core.judge_variance,
        core.level,
        core.defined,
    )


def _lam(lam: float | None) -> float | None:
    return None if lam is None else _validate.real("lam", lam)


class PpiAggregate:
    """Mergeable per-tier PPI sums (integer tier codes): add per-day or per-worker partials,
    :meth:`merge` them in any order, then :meth:`estimates`; serialisable with :meth:`to_json`."""

    def __init__(self, _inner: _core.StatsPpiAggregate | None = None) -> None:
        if _inner is not None and not isinstance(_inner, _core.StatsPpiAggregate):
            raise _validate.fail("_inner", "None or a tierscope._core.StatsPpiAggregate", _inner)
        self._inner = _inner if _inner is not None else _core.StatsPpiAggregate()

    def add_judged(self, f: npt.ArrayLike, pi: npt.ArrayLike, domains: npt.ArrayLike) -> None:
        """Add judged answers: finite judge scores ``f``, ``pi`` in (0, 1], integer tier codes."""
        fv, pv, d = _f64("f", f), _f64("pi", pi), _i64("domains", domains)
        _same_len("pi", pv, "f", fv.shape[0])
        _same_len("domains", d, "f", fv.shape[0])
        self._inner.add_judged(fv, pv, d)

    def add_reviews(
        self, y: npt.ArrayLike, f: npt.ArrayLike, pi: npt.ArrayLike, domains: npt.ArrayLike
    ) -> None:
        """Add human-reviewed answers: labels ``y``, the judge's scores ``f`` on them, ``pi`` in
        (0, 1], integer tier codes (equal lengths)."""
        yv, fv, pv, d = _f64("y", y), _f64("f", f), _f64("pi", pi), _i64("domains", domains)
        _same_len("f", fv, "y", yv.shape[0])
        _same_len("pi", pv, "y", yv.shape[0])
        _same_len("domains", d, "y", yv.shape[0])
        self._inner.add_reviews(yv, fv, pv, d)

    def merge(self, other: PpiAggregate) -> PpiAggregate:
        """A new aggregate: the tier-wise sum of ``self`` and ``other`` (neither changes)."""
        if not isinstance(other, PpiAggregate):
            raise _validate.fail("other", "a PpiAggregate", other)
        out = PpiAggregate.from_json(self.to_json())
        out._inner.merge(other._inner)
        return out

    def estimates(
        self, level: float = 0.95, lam: float | None = None, variance: str = "poisson"
    ) -> list[PpiEstimate]:
        """Per-tier estimates (``domain`` = the integer code), in code order."""
        level = _level(level)
        lam_v = _lam(lam)
        variance = _method("variance", variance, PPI_VARIANCES)
        return [_estimate(e, e.domain) for e in self._inner.estimates(level, lam_v, variance)]

    def to_json(self) -> str:
        """JSON text of the state."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> PpiAggregate:
        """Restore from :meth:`to_json` text."""
        return cls(_core.StatsPpiAggregate.from_json(_validate.text("text", text)))


def _ones_or(name: str, pi: npt.ArrayLike | None, n: int) -> npt.NDArray[np.float64]:
    if pi is None:
        return np.ones(n)
    out = _f64(name, pi)
    _same_len(name, out, "the scores", n)
    return out


def ppi_mean(
    y: npt.ArrayLike,
    f_reviewed: npt.ArrayLike,
    f_judged: npt.ArrayLike,
    *,
    pi_reviewed: npt.ArrayLike | None = None,
    pi_judged: npt.ArrayLike | None = None,
    tiers_reviewed: npt.ArrayLike | None = None,
    tiers_judged: npt.ArrayLike | None = None,
    level: float = 0.95,
    lam: float | None = None,
    variance: str = "poisson",
) -> dict[Any, PpiEstimate]:
    """Judge-assisted per-tier means: {tier label: :class:`PpiEstimate`}.

    ``y``/``f_reviewed``/``pi_reviewed``/``tiers_reviewed``: the human sample (labels, judge
    scores on the same answers, inclusion probabilities, tier labels); ``f_judged``/
    ``pi_judged``/``tiers_judged``: the judged sample. Missing π are 1; missing tiers put every
    unit in one tier labelled 0.
    """
    yv, fr, fj = _f64("y", y), _f64("f_reviewed", f_reviewed), _f64("f_judged", f_judged)
    _same_len("f_reviewed", fr, "y", yv.shape[0])
    pr = _ones_or("pi_reviewed", pi_reviewed, yv.shape[0])
    pj = _ones_or("pi_judged", pi_judged, fj.shape[0])
    tr = np.zeros(yv.shape[0], np.int64) if tiers_reviewed is None else np.asarray(tiers_reviewed)
    tj = np.zeros(fj.shape[0], np.int64) if tiers_judged is None else np.asarray(tiers_judged)
    _same_len("tiers_reviewed", tr, "y", yv.shape[0])
    _same_len("tiers_judged", tj, "f_judged", fj.shape[0])
    codes, labels = _encode("tiers", np.concatenate([tr, tj]) if tr.size or tj.size else tr)
    agg = PpiAggregate()
    agg.add_reviews(yv, fr, pr, codes[: yv.shape[0]])
    agg.add_judged(fj, pj, codes[yv.shape[0] :])
    return {labels[e.domain]: _relabel(e, labels[e.domain]) for e in agg.estimates(level, lam, variance)}


def _relabel(e: PpiEstimate, label: Any) -> PpiEstimate:
    from dataclasses import replace

    return replace(e, domain=label)


def interval_width(e: PpiEstimate) -> tuple[float, float]:
    """(judge-assisted, human-only) interval widths of one estimate (NaN when undefined)."""
    z = 2.0 * _z(e.level)
    return (z * e.se if e.defined else math.nan, z * e.human_se)
