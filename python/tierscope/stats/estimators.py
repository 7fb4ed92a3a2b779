"""Design-based estimators on mergeable sufficient statistics: :class:`Aggregate` and
:func:`estimate` (mirrors ``src/stats/aggregate.rs`` and ``src/stats/estimators.rs``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core, _validate
from ..exceptions import InternalError, InvalidInputError, LonelyStratumWarning
from ._convert import LABELS, U32_MAX, _asarray, _encode, _f64, _i64, _level, _nonneg, _same_len
from .gaps import DomainGap, _domain_gap

__all__ = [
    "DESIGNS",
    "ESTIMATE_DESIGNS",
    "INTERVALS",
    "LONELY",
    "Aggregate",
    "DomainEstimate",
    "Estimates",
    "estimate",
]

INTERVALS = ("wilson", "logit", "beta", "asin", "mean", "xlogit")
"""The ``interval`` methods for estimates of scores in [0, 1]: ``"wilson"`` (default) is the Wilson
interval at the effective sample size n* = min(n, m(1 − m)/se²) (the design effect floored at 1);
the others are R ``survey::svyciprop``'s methods of the same names (normal quantile, R's
``df = Inf``; ``"likelihood"`` is not implemented). ``"beta"`` is Korn–Graubard with R's uncapped
effective n. Scores outside [0, 1] always get the Wald interval."""


def _check_interval(interval: str) -> str:
    return _validate.choice("interval", interval, INTERVALS)


@dataclass(frozen=True)
class DomainEstimate:
    """A design-based estimate for one domain (``domain`` None = all traffic).

    ``mean``/``se`` are the Hájek (ratio) mean and its linearised SE; ``lower``/``upper`` the
    headline interval (``interval`` names the method: by default ``"wilson"``, the Wilson interval
    at the effective sample size n* = min(n, m(1 − m)/se²), when every score is in [0, 1]
    (``bounded``); one of :data:`INTERVALS` when asked for; ``"wald"`` for unbounded scores; at
    m = 0 or 1 every method falls back to ``"wilson"`` at min(n, ``n_eff``));
    ``wald_lower``/``wald_upper`` the plain Wald interval; ``total``/``total_se`` the
    Horvitz–Thompson total; ``ht_mean`` the HT total over the known population size.
    ``defined`` is False (numbers NaN) when the domain has no sampled units; ``reason`` says why.
    ``df`` is the design degrees of freedom (units − strata; used by ``"beta"``).
    """

    domain: Hashable | None
    n: int
    population: float
    population_hat: float
    total: float
    total_se: float
    ht_mean: float
    ht_mean_se: float
    mean: float
    se: float
    lower: float
    upper: float
    interval: str
    wald_lower: float
    wald_upper: float
    level: float
    n_eff: float
    defined: bool
    reason: str | None
    df: float = math.nan
    bounded: bool = True


def _estimate_from(
    core: _core.StatsDomainEstimate,
    label: Hashable | None,
    *,
    noun: str = "domain",
    interval: str = "wilson",
) -> DomainEstimate:
    """The façade's estimate of a core result, ``domain`` set to the caller's ``label``, with the
    headline interval of method ``interval`` (checked by :func:`_check_interval`)."""
    if interval != "wilson":
        core = core.with_interval(interval)
    reason = core.reason
    if reason is not None and core.domain is not None and (label != core.domain or noun != "domain"):
        # The core names integer codes; say the caller's label (and noun: "tier") instead.
        reason = reason.replace(f"domain {core.domain}", f"{noun} {label!r}")
    return DomainEstimate(
        domain=label,
        n=core.n,
        population=core.population,
        population_hat=core.population_hat,
        total=core.total,
        total_se=core.total_se,
        ht_mean=core.ht_mean,
        ht_mean_se=core.ht_mean_se,
        mean=core.mean,
        se=core.se,
        lower=core.lower,
        upper=core.upper,
        interval=core.interval,
        wald_lower=core.wald_lower,
        wald_upper=core.wald_upper,
        level=core.level,
        n_eff=core.n_eff,
        defined=core.defined,
        reason=reason,
        df=core.df,
        bounded=core.bounded,
    )


DESIGNS = ("srswor", "stratified", "poisson")
"""The ``design`` names the estimators take (``stratified`` aliases ``srswor``)."""


ESTIMATE_DESIGNS = (*DESIGNS, "pps_brewer")
"""The ``design`` names :func:`estimate` takes: :data:`DESIGNS` and ``pps_brewer`` (a fixed-size
πps without-replacement sample, Brewer's variance approximation; unit-level, so not on
:class:`Aggregate`)."""

LONELY = ("adjust", "average", "certainty", "remove", "fail")
"""The ``lonely`` rules for strata with one sampled unit, as R ``survey``'s
``options(survey.lonely.psu=...)``:

- ``"adjust"`` (the default; with a :class:`~tierscope.exceptions.LonelyStratumWarning` when
  not chosen explicitly): the unit's contribution f·x² is centred at zero, the population mean
  of the linearised variable, instead of at its (undefined) stratum mean; x is its weighted
  linearised value (N_h·y for an SRSWOR total), f its finite population correction. Conservative.
- ``"average"``: each lonely stratum gets the average contribution of the other strata (the sum
  over them times strata / non-lonely strata).
- ``"certainty"``: the stratum is taken as sampled with certainty, zero variance (what tierscope
  did, silently, before this option existed).
- ``"remove"``: the stratum is left out of the variance (the same numbers as ``"certainty"``
  for these single-stage designs, as in R).
- ``"fail"``: raise :class:`~tierscope.exceptions.InvalidInputError` naming the stratum.

A stratum sampled completely (n_h = N_h) is a certainty stratum, never lonely. Poisson designs
have no lonely strata (each unit is its own independent term), so the rule does not change them.
"""


def _check_design(design: str) -> str:
    return _validate.choice("design", design, DESIGNS)


def _check_lonely(lonely: str | None) -> str | None:
    return None if lonely is None else _validate.choice("lonely", lonely, LONELY)


def _lonely_rule(lonely: str | None, found: Sequence[Hashable], noun: str = "stratum") -> str:
    """The rule to run with: ``lonely``, or "adjust" with a warning naming the lonely strata
    ``found``; ``"fail"`` raises here, naming the caller's stratum label."""
    if not found:
        return lonely or "adjust"
    names = ", ".join(repr(h) for h in found)
    if lonely == "fail":
        raise InvalidInputError(
            f"invalid `strata`: at least two sampled units per stratum; {len(found)} "
            f"{noun if len(found) == 1 else 'strata'} ({names}) {'has' if len(found) == 1 else 'have'} "
            "one, so the within-stratum variance is not estimable (pass lonely='adjust', 'average', "
            "'certainty' or 'remove')"
        )
    if lonely is None:
        warnings.warn(
            f"{len(found)} lonely {'stratum' if len(found) == 1 else 'strata'} (one sampled unit): "
            f"{names}; their variance uses lonely='adjust' (R survey's rule, conservative); pass "
            "lonely= to choose the rule",
            LonelyStratumWarning,
            stacklevel=3,
        )
        return "adjust"
    return lonely


def _code_arg(name: str, value: int) -> int:
    """A stratum or domain code (``u32`` in the core)."""
    return _validate.integer(name, value, minimum=0, maximum=U32_MAX)


def _codes_list(name: str, values: Sequence[int]) -> list[int]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise _validate.fail(name, "a sequence of integer codes", values)
    return [_code_arg(f"{name}[{i}]", v) for i, v in enumerate(values)]


class Aggregate:
    """Mergeable per-(stratum, domain) sufficient statistics (integer codes).

    Build one per partition of the traffic (population counts *and* sampled units of that
    partition), :meth:`merge` them in any order, and estimate: the result equals the estimate
    over the whole. Serialisable with :meth:`to_json` / :meth:`from_json`.
    """

    def __init__(self, _inner: _core.StatsAggregate | None = None) -> None:
        if _inner is not None and not isinstance(_inner, _core.StatsAggregate):
            raise _validate.fail("_inner", "None or a tierscope._core.StatsAggregate", _inner)
        self._inner = _inner if _inner is not None else _core.StatsAggregate()

    @classmethod
    def from_sample(
        cls, y: npt.ArrayLike, pi: npt.ArrayLike, strata: npt.ArrayLike, domains: npt.ArrayLike
    ) -> Aggregate:
        """Sufficient statistics of a sample (scores, inclusion probabilities, integer codes)."""
        agg = cls()
        agg.add_sample(y, pi, strata, domains)
        return agg

    def add_sample(
        self, y: npt.ArrayLike, pi: npt.ArrayLike, strata: npt.ArrayLike, domains: npt.ArrayLike
    ) -> None:
        """Add sampled units (finite scores ``y``, ``pi`` in (0, 1], integer codes; equal lengths)."""
        yv = _f64("y", y)
        pv = _f64("pi", pi)
        h = _i64("strata", strata)
        d = _i64("domains", domains)
        _same_len("pi", pv, "y", yv.shape[0])
        _same_len("strata", h, "y", yv.shape[0])
        _same_len("domains", d, "y", yv.shape[0])
        self._inner.add_sample(yv, pv, h, d)

    def add_population(self, strata: npt.ArrayLike, domains: npt.ArrayLike) -> None:
        """Count population units (one per entry) into their (stratum, domain) cells."""
        h = _i64("strata", strata)
        d = _i64("domains", domains)
        _same_len("domains", d, "strata", h.shape[0])
        self._inner.add_population(h, d)

    def add_population_count(self, stratum: int, domain: int, count: float) -> None:
        """Add ``count`` population units to the (stratum, domain) cell."""
        self._inner.add_population_count(
            _code_arg("stratum", stratum), _code_arg("domain", domain), _nonneg("count", count)
        )

    def merge(self, other: Aggregate) -> Aggregate:
        """A new aggregate: the cell-wise sum of ``self`` and ``other`` (neither changes)."""
        if not isinstance(other, Aggregate):
            raise _validate.fail("other", "an Aggregate", other)
        return Aggregate(self._inner.merged(other._inner))

    def to_json(self) -> str:
        """JSON text of the state."""
        return self._inner.to_json()

    @classmethod
    def from_json(cls, text: str) -> Aggregate:
        """Restore from :meth:`to_json` text."""
        return cls(_core.StatsAggregate.from_json(_validate.text("text", text)))

    def __len__(self) -> int:
        return len(self._inner)

    def lonely_strata(self, design: str = "srswor") -> list[int]:
        """Codes of the strata with one sampled unit (not sampled completely) under ``design``;
        always empty for ``"poisson"``."""
        return self._inner.lonely_strata(_check_design(design))

    def _rule(self, design: str, lonely: str | None) -> str:
        return _lonely_rule(_check_lonely(lonely), self._inner.lonely_strata(design))

    def estimate_domains(
        self,
        design: str = "poisson",
        level: float = 0.95,
        domains: Sequence[int] | None = None,
        lonely: str | None = None,
        interval: str = "wilson",
    ) -> list[DomainEstimate]:
        """Per-domain estimates; requested domains without sampled units are undefined.
        ``lonely``: the rule for strata with one sampled unit (:data:`LONELY`; None = "adjust"
        with a :class:`~tierscope.exceptions.LonelyStratumWarning` when there are any).
        ``interval``: one of :data:`INTERVALS`."""
        d = _check_design(design)
        ds = None if domains is None else _codes_list("domains", domains)
        lv, iv = _level(level), _check_interval(interval)
        raw = self._inner.estimate_domains(d, lv, ds, self._rule(d, lonely))
        return [_estimate_from(e, e.domain, interval=iv) for e in raw]

    def estimate_population(
        self,
        design: str = "poisson",
        level: float = 0.95,
        lonely: str | None = None,
        interval: str = "wilson",
    ) -> DomainEstimate:
        """Estimate over all traffic (``lonely`` and ``interval`` as in :meth:`estimate_domains`)."""
        d, lv, iv = _check_design(design), _level(level), _check_interval(interval)
        return _estimate_from(
            self._inner.estimate_population(d, lv, self._rule(d, lonely)), None, interval=iv
        )

    def estimate_strata(
        self,
        design: str = "poisson",
        level: float = 0.95,
        lonely: str | None = None,
        interval: str = "wilson",
    ) -> list[DomainEstimate]:
        """Per-stratum estimates (``domain`` holds the stratum code; ``lonely`` and ``interval``
        as in :meth:`estimate_domains`)."""
        d, lv, iv = _check_design(design), _level(level), _check_interval(interval)
        raw = self._inner.estimate_strata(d, lv, self._rule(d, lonely))
        return [_estimate_from(e, e.domain, interval=iv) for e in raw]

    def post_stratified(
        self,
        totals: Mapping[int, float],
        design: str = "poisson",
        level: float = 0.95,
        lonely: str | None = None,
        interval: str = "wilson",
    ) -> DomainEstimate:
        """Post-stratified mean over domains (post-strata) with known sizes ``totals``
        (``lonely`` as in :meth:`estimate_domains`)."""
        if not isinstance(totals, Mapping):
            raise _validate.fail("totals", "a mapping of domain code -> population size", totals)
        pairs = [(_code_arg("totals", k), _nonneg(f"totals[{k!r}]", v)) for k, v in totals.items()]
        d, lv, iv = _check_design(design), _level(level), _check_interval(interval)
        return _estimate_from(
            self._inner.post_stratified(d, pairs, lv, self._rule(d, lonely)), None, interval=iv
        )

    def domain_gap(
        self,
        domain_a: int,
        domain_b: int,
        design: str = "poisson",
        level: float = 0.95,
        lonely: str | None = None,
    ) -> DomainGap:
        """Design-based Wald interval for mean(domain_a) − mean(domain_b) (``lonely`` as in
        :meth:`estimate_domains`)."""
        a, b = _code_arg("domain_a", domain_a), _code_arg("domain_b", domain_b)
        d, lv = _check_design(design), _level(level)
        return _domain_gap(self._inner.domain_gap(d, a, b, lv, self._rule(d, lonely)))


@dataclass(frozen=True)
class Estimates:
    """All-traffic, per-domain and per-stratum estimates from one sample."""

    population: DomainEstimate
    domains: dict[Hashable, DomainEstimate]
    strata: dict[Hashable, DomainEstimate]


def _code(core: _core.StatsDomainEstimate) -> int:
    """The domain (or stratum) code of a per-domain or per-stratum estimate."""
    if core.domain is None:
        raise InternalError("a per-domain estimate without a domain code")
    return core.domain


def estimate(
    y: npt.ArrayLike,
    pi: npt.ArrayLike,
    strata: npt.ArrayLike,
    domains: npt.ArrayLike,
    design: str = "poisson",
    population_sizes: Mapping[Hashable, float] | None = None,
    expected_domains: Sequence[Hashable] | None = None,
    level: float = 0.95,
    lonely: str | None = None,
    interval: str = "wilson",
) -> Estimates:
    """Design-based estimates from a reviewed sample.

    ``y`` are the review scores, ``pi`` the inclusion probabilities, ``strata``/``domains`` the
    labels of each reviewed unit. For ``design="srswor"`` the stratum population sizes
    ``population_sizes`` (stratum label -> N_h) are required (weights N_h/n_h, FPC); for
    ``"poisson"`` weights are 1/π (variance Σ (1 − π)/π² z², right for independent Poisson
    draws); for ``"pps_brewer"`` — a fixed-size πps sample without replacement in each stratum
    (Σπ = n_h), e.g. systematic or Sampford πps — weights are 1/π and the variance is Brewer's
    approximation n_h/(n_h − 1) Σ (1 − π)(z/π − mean)² as R ``svydesign(..., fpc=~pi,
    pps="brewer")`` (``population_sizes`` then only feeds the HT means). Domains listed in
    ``expected_domains`` but absent from the sample are reported undefined with a reason.
    ``lonely`` is the rule for strata with one sampled unit (:data:`LONELY`; None = "adjust"
    with a :class:`~tierscope.exceptions.LonelyStratumWarning` naming them, when there are any).
    ``interval``: the headline interval method for scores in [0, 1], one of :data:`INTERVALS`
    (default ``"wilson"``, the Wilson interval at n* = min(n, m(1 − m)/se²)).
    """
    d_design = _validate.choice("design", design, ESTIMATE_DESIGNS)
    lonely = _check_lonely(lonely)
    level = _level(level)
    iv = _check_interval(interval)
    if population_sizes is not None and not isinstance(population_sizes, Mapping):
        raise _validate.fail(
            "population_sizes", "a mapping of stratum label -> population size", population_sizes
        )
    if expected_domains is not None and (
        isinstance(expected_domains, (str, bytes, Mapping)) or not isinstance(expected_domains, Iterable)
    ):
        raise _validate.fail("expected_domains", "a sequence of domain labels", expected_domains)
    sizes = {lab: _nonneg(f"population_sizes[{lab!r}]", v) for lab, v in (population_sizes or {}).items()}
    yv = _f64("y", y)
    pv = _f64("pi", pi)
    n = yv.shape[0]
    _same_len("pi", pv, "y", n)
    s_arr = _asarray("strata", strata, LABELS)
    d_arr = _asarray("domains", domains, LABELS)
    _same_len("strata", s_arr, "y", n)
    _same_len("domains", d_arr, "y", n)
    s_codes, s_labels = _encode("strata", s_arr)
    d_codes, d_labels = _encode("domains", d_arr)
    # Labels known only from population sizes / expected domains get codes after the sampled ones.
    s_labels += [lab for lab in sizes if lab not in set(s_labels)]
    d_labels += [lab for lab in (expected_domains or []) if lab not in set(d_labels)]
    s_code = {lab: i for i, lab in enumerate(s_labels)}
    if d_design == "pps_brewer":
        return _pps_estimates(
            yv, pv, s_codes, s_labels, d_codes, d_labels, sizes, expected_domains, level, lonely, iv
        )
    agg = Aggregate.from_sample(yv, pv, s_codes, d_codes)
    for lab, size in sizes.items():
        # Population counts per stratum; the domain code only matters for HT means.
        agg.add_population_count(s_code[lab], len(d_labels), size)
    inner = agg._inner
    rule = _lonely_rule(lonely, [s_labels[h] for h in inner.lonely_strata(d_design)])
    pop = _estimate_from(inner.estimate_population(d_design, level, rule), None, interval=iv)
    present = set(np.flatnonzero(np.bincount(d_codes, minlength=1)).tolist()) if d_codes.size else set()
    wanted = sorted(present | {d_labels.index(lab) for lab in (expected_domains or [])})
    doms = inner.estimate_domains(d_design, level, wanted, rule)
    strs = inner.estimate_strata(d_design, level, rule)
    return Estimates(
        population=pop,
        domains={d_labels[_code(d)]: _estimate_from(d, d_labels[_code(d)], interval=iv) for d in doms},
        strata={
            s_labels[_code(d)]: _estimate_from(d, s_labels[_code(d)], interval=iv) for d in strs if d.defined
        },
    )


def _pps_estimates(
    yv: np.ndarray[Any, Any],
    pv: np.ndarray[Any, Any],
    s_codes: np.ndarray[Any, Any],
    s_labels: list[Hashable],
    d_codes: np.ndarray[Any, Any],
    d_labels: list[Hashable],
    sizes: dict[Hashable, float],
    expected_domains: Sequence[Hashable] | None,
    level: float,
    lonely: str | None,
    interval: str,
) -> Estimates:
    """:func:`estimate` for ``design="pps_brewer"`` (unit-level: Brewer's variance needs Σπ per
    stratum, which :class:`Aggregate` cells do not keep)."""
    s_code = {lab: i for i, lab in enumerate(s_labels)}
    pairs = [(s_code[lab], size) for lab, size in sizes.items()]
    present = set(np.unique(d_codes).tolist())
    wanted = sorted(present | {d_labels.index(lab) for lab in (expected_domains or [])})
    # Lonely strata (one sampled unit with π < 1, as the core counts them), to warn or fail by label.
    counts = np.bincount(s_codes, minlength=len(s_labels))
    uncertain = np.bincount(s_codes, weights=(1.0 - pv >= 1e-7).astype(float), minlength=len(s_labels))
    rule = _lonely_rule(lonely, [s_labels[h] for h in np.flatnonzero((counts == 1) & (uncertain > 0))])
    raw = _core.stats_pps_brewer_estimates(yv, pv, s_codes, d_codes, pairs, wanted, level, rule)
    return Estimates(
        population=_estimate_from(raw.population, None, interval=interval),
        domains={
            d_labels[_code(d)]: _estimate_from(d, d_labels[_code(d)], interval=interval) for d in raw.domains
        },
        strata={
            s_labels[_code(d)]: _estimate_from(d, s_labels[_code(d)], interval=interval)
            for d in raw.strata
            if d.defined
        },
    )
