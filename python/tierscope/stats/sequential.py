"""Anytime-valid monitoring: the e-detector / confidence-sequence :class:`Monitor` and the
:class:`Cusum` chart (mirrors ``src/stats/sequential.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import _core, _validate
from ._convert import U32_MAX, _count, _f64, _method, _opt_f64, _positive

__all__ = [
    "MONITOR_BOUNDARIES",
    "MONITOR_METHODS",
    "Cusum",
    "DayStatus",
    "Monitor",
    "PpiMonitor",
    "ppi_stream",
]


@dataclass(frozen=True)
class DayStatus:
    """A monitor's status after a day: full-history bounds, tightest upper bound, alarm."""

    day: int
    lower: float
    upper: float
    min_upper: float
    alarm: bool
    alarm_day: int | None
    log_evidence: float | None = None
    """ln of the e-detector statistic (``method="e_detector"``; 0 before the first day with
    reviews; alarm at ln ``arl``), else None."""


def _day(core: _core.StatsDayStatus) -> DayStatus:
    return DayStatus(
        core.day, core.lower, core.upper, core.min_upper, core.alarm, core.alarm_day, core.log_evidence
    )


MONITOR_METHODS = ("confidence_sequence", "e_detector")
MONITOR_BOUNDARIES = ("eb", "beta_binomial")


def _arl(method: str, arl: float) -> float | None:
    """The core's ``arl`` argument for a monitor method (None: confidence sequences)."""
    method = _method("method", method, MONITOR_METHODS)
    if method != "e_detector":
        return None  # ``arl`` is not read by confidence sequences
    return _validate.real("arl", arl, minimum=1.0, min_open=True)


def _restart_every(value: int) -> int:
    return _validate.integer("restart_every", value, minimum=0, maximum=U32_MAX)


def _text(name: str, value: str) -> str:
    return _validate.text(name, value)


class Monitor:
    """Sequential alarm for one tier's quality (or one paired gap, with ``lo=-1``).

    Runs confidence sequences restarted every ``restart_every`` days with error budgets
    α·6/(π²j²). ``boundary`` picks them:

    * ``"eb"`` (default): predictable plug-in empirical-Bernstein (Waudby-Smith & Ramdas 2023),
      the first bet centred and sized from ``baseline`` (fixed before the data, so still valid);
      adapts to the variance, the only choice for weighted reviews (``max_weight > 1``).
    * ``"beta_binomial"``: the conjugate beta-binomial mixture of Howard et al. (2021) (confseq's
      two-sided ``beta_binomial_log_mixture``, tuned at 500 observations): tighter for 0/1
      outcomes; valid for any outcomes in [lo, hi]; unweighted only.

    ``method`` picks the alarm:

    * ``"confidence_sequence"`` (default): the first day any upper bound falls below
      ``baseline - tolerance``; P(any false alarm, ever) <= ``alpha``.
    * ``"e_detector"``: a CUSUM-type e-detector (Shin, Ramdas & Rinaldo 2024) of betting e-values
      against "mean >= baseline - tolerance", averaged over 8 bets (λ_max·2^-k, k = 1..8): on
      each day *with reviews* each bet's statistic becomes max(C, 1)·E (E the day's e-value); a
      day without reviews changes nothing, so a tier without reviews never alarms. Under the null
      (every review's mean >= ``baseline - tolerance``) the mean number of *days with reviews* before a false
      alarm is at least ``arl`` (so at least ``arl`` days), and P(a false alarm within the first
      m days with reviews) <= m / ``arl``. Under a safe null (quality above the line) false alarms
      are far rarer than that. It is not diluted by data from before a change, so it detects a
      drop sooner; ``alpha`` then only sets the reported bounds. The alarm is sticky.

    Weighted reviews: give ``max_weight`` = the largest possible 1/π and pass each day's ``pi``
    and the tier's traffic ``population``; the day then contributes a Horvitz–Thompson stream
    (reviewed units (y − lo)/π, unreviewed zeros) bounded by (hi − lo)·max_weight.

    State from :meth:`to_json` written before version 2 still loads; its e-detector evidence
    restarts on the first day after loading (an alarm already raised stays raised).
    """

    def __init__(
        self,
        baseline: float,
        tolerance: float,
        alpha: float = 0.05,
        lo: float = 0.0,
        hi: float = 1.0,
        max_weight: float = 1.0,
        restart_every: int = 7,
        method: str = "confidence_sequence",
        arl: float = 1000.0,
        boundary: str = "eb",
        _inner: _core.StatsMonitor | None = None,
    ) -> None:
        if _inner is not None:
            if not isinstance(_inner, _core.StatsMonitor):
                raise _validate.fail("_inner", "a tierscope._core.StatsMonitor", _inner)
            self._inner = _inner
            return
        baseline = _validate.real("baseline", baseline)
        tolerance = _validate.real("tolerance", tolerance, minimum=0.0)
        alpha = _validate.unit("alpha", alpha, open_interval=True)
        lo = _validate.real("lo", lo)
        hi = _validate.real("hi", hi)
        max_weight = _validate.real("max_weight", max_weight, minimum=1.0)
        restart_every = _restart_every(restart_every)
        core_arl = _arl(method, arl)
        boundary = _method("boundary", boundary, MONITOR_BOUNDARIES)
        self._inner = _core.StatsMonitor(
            baseline, tolerance, alpha, lo, hi, max_weight, restart_every, core_arl, boundary
        )

    def update(
        self, y: npt.ArrayLike, pi: npt.ArrayLike | None = None, population: int | None = None
    ) -> DayStatus:
        """Absorb one day's reviews and return the day's status."""
        population = _validate.optional(_count, "population", population)
        values = _f64("y", y)
        p = _opt_f64("pi", pi)
        return _day(self._inner.update(values, p, population))

    @property
    def day(self) -> int:
        """Days absorbed."""
        return self._inner.day

    @property
    def alarm_day(self) -> int | None:
        """Day the alarm first fired, or None."""
        return self._inner.alarm_day

    @property
    def history(self) -> list[DayStatus]:
        """Status of every day so far."""
        return [_day(d) for d in self._inner.history]

    def to_json(self) -> str:
        """JSON state (persist between days)."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Monitor:
        """Restore from :meth:`to_json` text."""
        return cls(0.0, 0.0, _inner=_core.StatsMonitor.from_json(_text("text", text)))


class Cusum:
    """One-sided (downward) CUSUM chart, Bernoulli or normal, for comparison with :class:`Monitor`.

    Controls the average run length, not the probability of any false alarm.
    """

    def __init__(self, _inner: _core.StatsCusum) -> None:
        if not isinstance(_inner, _core.StatsCusum):
            raise _validate.fail(
                "_inner", "a chart from Cusum.bernoulli, Cusum.normal or Cusum.from_json", _inner
            )
        self._inner = _inner

    @classmethod
    def bernoulli(cls, p0: float, p1: float, threshold: float) -> Cusum:
        """Log-likelihood-ratio CUSUM from rate ``p0`` to ``p1 < p0``; signal when S > threshold."""
        p0 = _validate.unit("p0", p0, open_interval=True)
        p1 = _validate.unit("p1", p1, open_interval=True)
        return cls(_core.StatsCusum.bernoulli(p0, p1, _positive("threshold", threshold)))

    @classmethod
    def normal(cls, mean0: float, sd: float, shift: float, threshold: float) -> Cusum:
        """Normal CUSUM for a downward shift of ``shift`` SDs."""
        mean0 = _validate.real("mean0", mean0)
        sd, shift = _positive("sd", sd), _positive("shift", shift)
        return cls(_core.StatsCusum.normal(mean0, sd, shift, _positive("threshold", threshold)))

    def update(self, x: npt.ArrayLike) -> bool:
        """Absorb one day's observations; True once the chart has signalled."""
        return self._inner.update(_f64("x", x))

    @property
    def statistic(self) -> float:
        """Current CUSUM statistic."""
        return self._inner.statistic

    @property
    def alarm_day(self) -> int | None:
        """Day the chart first signalled, or None."""
        return self._inner.alarm_day

    def to_json(self) -> str:
        """JSON state."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Cusum:
        """Restore from JSON state."""
        return cls(_core.StatsCusum.from_json(_text("text", text)))


# ----------------------------------------------------------------------------- judge-assisted stream


def ppi_stream(y: npt.ArrayLike, f: npt.ArrayLike, judge_mean: float, lam: float) -> npt.NDArray[np.float64]:
    """One day's PPI-corrected review stream for a :class:`Monitor` built with ``lo=-lam``,
    ``hi=1+lam``: z_i = λ·m_J + (y_i − λ f_i), labels ``y`` and judge scores ``f`` in [0, 1] on the
    day's reviews, ``judge_mean`` the day's (Hájek) mean judge score m_J on the judged sample.

    For a fixed λ (set before the data, e.g. from the launch window) the stream's mean is the human
    mean and its variance is var(y − λf) instead of var(y): a judge that agrees with the humans
    makes the monitor's bounds tighter. m_J is plugged in as known; its sampling error (about
    sd(f)/√(judged answers), small next to the reviews' with thousands of judged answers a day) is
    not in the guarantee, which :class:`PpiMonitor`'s tests check by simulation under no change.
    """
    yv, fv = _f64("y", y, finite=True), _f64("f", f, finite=True)
    if fv.shape[0] != yv.shape[0]:
        raise _validate.fail("f", f"the same length as `y` ({yv.shape[0]})", f"length {fv.shape[0]}")
    lam = _validate.real("lam", lam, minimum=0.0, maximum=1.0)
    judge_mean = _validate.real("judge_mean", judge_mean, minimum=0.0, maximum=1.0)
    for name, arr in (("y", yv), ("f", fv)):
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise _validate.fail(name, "scores in [0, 1]", f"range [{arr.min()}, {arr.max()}]")
    return lam * judge_mean + (yv - lam * fv)


class PpiMonitor:
    """A per-tier :class:`Monitor` fed the judge-assisted (PPI) stream of :func:`ppi_stream`.

    ``lam`` is fixed when the monitor is built (e.g. the tuned λ of the launch window's
    :class:`~tierscope.stats.PpiAggregate`), so the stream is predictable; every other argument is
    :class:`Monitor`'s. A day's :meth:`update` takes its reviews (labels and judge scores) and
    the day's judged sample (judge scores and their inclusion probabilities).

    The stream's mean is the human mean only when the reviews are a simple random sample of what
    the judged sample (Hájek-weighted by its π) represents: with oversampled reviews it mixes the
    two weightings by λ. The audit's judge-assisted monitors weight both parts to the same target
    (the review monitor's two-phase stream, :func:`tierscope.quality.audit.monitors.judge_monitors`).
    """

    def __init__(
        self,
        baseline: float,
        tolerance: float,
        lam: float,
        alpha: float = 0.05,
        restart_every: int = 7,
        method: str = "e_detector",
        arl: float = 1000.0,
    ) -> None:
        self.lam = _validate.real("lam", lam, minimum=0.0, maximum=1.0)
        self.monitor = Monitor(
            baseline,
            tolerance,
            alpha=alpha,
            lo=-self.lam,
            hi=1.0 + self.lam,
            restart_every=restart_every,
            method=method,
            arl=arl,
        )

    def update(
        self,
        y: npt.ArrayLike,
        f: npt.ArrayLike,
        judged_f: npt.ArrayLike,
        judged_pi: npt.ArrayLike | None = None,
    ) -> DayStatus:
        """Absorb one day: reviews (``y``, ``f``) and the judged sample (``judged_f``, π)."""
        jf = _f64("judged_f", judged_f, finite=True)
        w = np.ones(jf.shape[0]) if judged_pi is None else 1.0 / _f64("judged_pi", judged_pi, finite=True)
        if w.shape[0] != jf.shape[0]:
            raise _validate.fail("judged_pi", f"the same length as `judged_f` ({jf.shape[0]})")
        if jf.size == 0:
            # No judged answers today: the human stream alone (λ = 0 for the day, still unbiased).
            return self.monitor.update(_f64("y", y, finite=True))
        m_j = float(np.clip(np.sum(w * jf) / np.sum(w), 0.0, 1.0))
        return self.monitor.update(ppi_stream(y, f, m_j, self.lam))

    @property
    def alarm_day(self) -> int | None:
        """Day the alarm first fired (1-based), or None."""
        return self.monitor.alarm_day
