"""Seeded Monte-Carlo checks run in Rust: monitor alarm days and design-based interval coverage
(mirrors ``src/stats/simulate.rs``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy.typing as npt

from .. import _core
from ..exceptions import InvalidInputError
from ._convert import _f64, _i64
from .estimators import _check_design
from .sequential import _arl

__all__ = ["CoverageReport", "simulate_coverage", "simulate_monitor"]


def simulate_monitor(
    baseline: float,
    tolerance: float,
    days: int,
    reviews_per_day: int,
    p_before: float,
    p_after: float,
    change_day: int,
    runs: int,
    alpha: float = 0.05,
    restart_every: int = 7,
    seed: int = 0,
    threads: int = 0,
    method: str = "confidence_sequence",
    arl: float = 1000.0,
) -> list[int | None]:
    """Alarm day of each of ``runs`` simulated Bernoulli streams (None = no alarm).

    Quality is ``p_before`` until ``change_day - 1`` and ``p_after`` from ``change_day`` (0 = no
    change). ``method``/``arl`` as in :class:`Monitor`. Runs in Rust, seeded, thread-count
    independent.
    """
    core_arl = _arl(method, arl)
    for name, v in (
        ("days", days),
        ("reviews_per_day", reviews_per_day),
        ("runs", runs),
        ("change_day", change_day),
    ):
        if v < 0:
            raise InvalidInputError(f"invalid `{name}`: a non-negative integer, got {v}")
    return _core.stats_simulate_monitor(
        baseline,
        tolerance,
        alpha,
        restart_every,
        days,
        reviews_per_day,
        p_before,
        p_after,
        change_day,
        runs,
        seed,
        threads,
        core_arl,
    )


@dataclass(frozen=True)
class CoverageReport:
    """Coverage of the design-based intervals over simulated audits (first target = all traffic)."""

    targets: list[int | None]
    truth: list[float]
    defined: list[int]
    covered: list[int]
    covered_wald: list[int]
    mean_width: list[float]
    runs: int

    @property
    def coverage(self) -> list[float]:
        """Covered / defined per target (headline interval)."""
        return [c / d if d else math.nan for c, d in zip(self.covered, self.defined, strict=True)]

    @property
    def coverage_wald(self) -> list[float]:
        """Covered / defined per target for the plain Wald interval."""
        return [c / d if d else math.nan for c, d in zip(self.covered_wald, self.defined, strict=True)]


def simulate_coverage(
    y: npt.ArrayLike,
    strata: npt.ArrayLike,
    domains: npt.ArrayLike,
    design: str,
    sizes: Sequence[int] | None = None,
    pi: npt.ArrayLike | None = None,
    runs: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    threads: int = 0,
) -> CoverageReport:
    """Repeatedly sample a fixed population (integer stratum/domain codes) under ``design``
    (``"srswor"`` with per-stratum ``sizes``, or ``"poisson"`` with ``pi``) and count interval
    coverage of the all-traffic and per-domain means."""
    if runs < 1:
        raise InvalidInputError(f"invalid `runs`: at least one run, got {runs}")
    r = _core.stats_simulate_coverage(
        _f64("y", y),
        _i64("strata", strata),
        _i64("domains", domains),
        _check_design(design),
        None if sizes is None else [int(s) for s in sizes],
        None if pi is None else _f64("pi", pi),
        runs,
        level,
        seed,
        threads,
    )
    return CoverageReport(r.targets, r.truth, r.defined, r.covered, r.covered_wald, r.mean_width, r.runs)
