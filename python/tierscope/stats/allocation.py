"""Review-budget allocation across strata (mirrors ``src/stats/allocation.rs``)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import _core, _validate
from ..exceptions import InvalidInputError
from ._convert import IntArray, _f64, _level, _method, _positive

__all__ = ["ALLOCATION_METHODS", "Allocation", "StratumSpec", "TargetReport", "allocate"]


@dataclass(frozen=True)
class StratumSpec:
    """A stratum for :func:`allocate`.

    ``sd`` is the prior-period SD of the quality score (NaN = unknown, the floor is used),
    ``cost`` the cost of a review, ``minimum``/``maximum`` per-stratum bounds (``maximum`` None =
    the population) and ``domain`` the tier the stratum belongs to.
    """

    population: float
    sd: float = math.nan
    cost: float = 1.0
    minimum: int = 0
    maximum: int | None = None
    domain: Hashable = 0

    def __post_init__(self) -> None:
        _validate.real("population", self.population, minimum=0.0)
        if not (isinstance(self.sd, (float, np.floating)) and math.isnan(self.sd)):
            _validate.real("sd", self.sd, minimum=0.0)
        _positive("cost", self.cost)
        _validate.integer("minimum", self.minimum, minimum=0)
        _validate.optional(_validate.integer, "maximum", self.maximum, minimum=0)
        if not isinstance(self.domain, Hashable):
            raise _validate.fail("domain", "a hashable tier label", self.domain)


ALLOCATION_METHODS = ("proportional", "neyman", "optimal", "cost_optimal", "precision", "precision_targets")
"""The ``method`` names :func:`allocate` takes."""


@dataclass(frozen=True)
class TargetReport:
    """Whether a domain's precision target is reached by the allocation."""

    domain: Hashable
    target: float
    achieved: float
    required: int
    reached: bool


@dataclass(frozen=True)
class Allocation:
    """Integer reviews per stratum (summing exactly to the budget)."""

    sizes: IntArray
    method: str
    total_cost: float
    targets: list[TargetReport] = field(default_factory=list)


def allocate(
    strata: Sequence[StratumSpec],
    budget: int,
    method: str = "neyman",
    sd_floor: float = 0.05,
    level: float = 0.95,
    targets: Mapping[Hashable, float] | None = None,
) -> Allocation:
    """Allocate ``budget`` reviews over ``strata``.

    Methods: ``"proportional"`` (∝ N_h), ``"neyman"`` (∝ N_h·max(S_h, floor)), ``"optimal"``
    (∝ N_h·S_h/√c_h, the cost-optimal shape) and ``"precision"`` (each domain in ``targets``
    reaches its half-width at ``level`` if the budget allows; leftover is spread Neyman-style;
    the report says which targets are unreachable). Minimums and caps are respected and rounding
    is largest-remainder, so the sizes sum exactly to ``budget``.
    """
    if isinstance(strata, (str, bytes, Mapping)) or not isinstance(strata, Sequence):
        raise _validate.fail("strata", "a sequence of StratumSpec", strata)
    if len(strata) == 0:
        raise InvalidInputError("invalid `strata`: at least one stratum")
    for i, spec in enumerate(strata):
        if not isinstance(spec, StratumSpec):
            raise _validate.fail(f"strata[{i}]", "a StratumSpec", spec)
    budget = _validate.integer("budget", budget, minimum=1)
    method = _method("method", method, ALLOCATION_METHODS)
    sd_floor = _validate.real("sd_floor", sd_floor, minimum=0.0)
    level = _level(level)
    if targets is not None and not isinstance(targets, Mapping):
        raise _validate.fail("targets", "a mapping of domain -> half-width", targets)
    domain_labels = sorted({s.domain for s in strata}, key=repr)
    code_of = {lab: i for i, lab in enumerate(domain_labels)}
    target_list: list[tuple[int, float]] = []
    for dom, half in (targets or {}).items():
        if dom not in code_of:
            raise InvalidInputError(f"invalid `targets`: domains that have strata, got {dom!r}")
        target_list.append((code_of[dom], _positive(f"targets[{dom!r}]", half)))
    out = _core.stats_allocate(
        _f64("population", [s.population for s in strata]),
        _f64("sd", [s.sd for s in strata]),
        _f64("cost", [s.cost for s in strata]),
        np.array([s.minimum for s in strata], dtype=np.int64),
        np.array([-1 if s.maximum is None else s.maximum for s in strata], dtype=np.int64),
        np.array([code_of[s.domain] for s in strata], dtype=np.int64),
        budget,
        method,
        sd_floor,
        level,
        target_list,
    )
    reports = [
        TargetReport(domain_labels[t.domain], t.target, t.achieved, t.required, t.reached)
        for t in out.targets
    ]
    return Allocation(np.asarray(out.sizes, dtype=np.int64), out.method, out.total_cost, reports)
