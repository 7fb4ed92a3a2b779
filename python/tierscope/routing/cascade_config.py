"""The validated settings of a :class:`~tierscope.routing.cascade.Cascade`, built once per cascade.

:func:`build_cascade_config` checks and normalises the cascade's constructor arguments with one
small validator per concern (tiers, acceptance, router rules, hard rules, sampling, shadow
execution, decision log) and returns frozen dataclasses the flow reads. The validators run in a
fixed order, so that with several bad arguments the first one reported never changes.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypedDict

from .._validate import choice, fail, integer, optional, text, unit
from ..exceptions import InvalidInputError
from .calibration import Calibrator, CostAwareRule, ThresholdReport
from .records import CascadeDecision, DecisionSink

__all__ = [
    "AcceptanceRule",
    "CascadeConfig",
    "ErrorText",
    "EXCEPTION_TEXT_MODES",
    "HardRules",
    "Sampling",
    "ShadowExecution",
    "Step",
    "Tier",
    "TieredDecision",
    "build_cascade_config",
    "build_tiered_config",
    "format_exception",
]

Predicate = Callable[..., bool]


ExceptionText = Literal["hash", "type", "truncate", "full"]
EXCEPTION_TEXT_MODES: tuple[ExceptionText, ...] = ("hash", "type", "truncate", "full")


def _clean(text: str) -> str:
    """``text`` with lone surrogates escaped, so it always encodes (and logs) as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def format_exception(
    err: BaseException,
    mode: ExceptionText = "full",
    *,
    max_chars: int = 200,
    hasher: Callable[[str], str] | None = None,
) -> str:
    """An exception as recorded in decisions (``escalation_detail``, ``fallback_reason``, ``error``).

    ``"full"``: ``Type: message``; ``"truncate"``: the message cut to ``max_chars`` characters;
    ``"type"``: ``Type`` only; ``"hash"``: ``Type (message hmac-sha256:…, N chars)``, the
    message keyed-hashed by ``hasher`` (equal messages, equal hashes; the text is not recoverable).
    Just ``Type`` when the message is empty. Lone surrogates are escaped in every mode.
    """
    name = type(err).__name__
    try:
        message = str(err)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the cascade
        message = "<unprintable message>"
    if not message or mode == "type":
        return name
    message = _clean(message)
    if mode == "hash" and hasher is not None:
        return f"{name} (message {hasher(message)}, {len(message)} chars)"
    if mode == "hash":
        return name
    if mode == "truncate" and len(message) > max_chars:
        return f"{name}: {message[:max_chars]}…[{len(message) - max_chars} more chars]"
    return f"{name}: {message}"


@dataclass(frozen=True)
class ErrorText:
    """How a cascade records the text of exceptions raised by tiers, rules and callbacks."""

    mode: ExceptionText
    max_chars: int
    hasher: Callable[[str], str] | None

    def __call__(self, err: BaseException) -> str:
        return format_exception(err, self.mode, max_chars=self.max_chars, hasher=self.hasher)


_PROCESS_KEY = secrets.token_bytes(32)
"""The default key of exception-message hashes: random per process, so equal messages hash equal
across the cascades of one process (and sync and async runs agree) but not across processes."""


def _process_hash(text: str) -> str:
    return "hmac-sha256:" + hmac.new(_PROCESS_KEY, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _error_text(mode: Any, max_chars: Any, decision_log: Any) -> ErrorText:
    mode = choice("exception_text", mode, EXCEPTION_TEXT_MODES)
    chars = integer("exception_max_chars", max_chars, minimum=1, maximum=1_000_000)
    log_hash = getattr(decision_log, "hash_text", None)  # the log's key, so its hashes group with ours
    return ErrorText(mode, chars, log_hash if callable(log_hash) else _process_hash)


def check_unit(name: str, value: float) -> float:
    """``value`` as a float in [0, 1]; bools, strings and NaN are rejected (numpy reals accepted)."""
    return unit(name, value)


def accepts_context(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called as ``fn(query, context)`` (two positional parameters or ``*args``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    positional = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class CascadeOptions(TypedDict, total=False):
    """The keyword options of :class:`~tierscope.routing.Cascade` (besides ``confidence``), as
    its typed overloads see them: each as in the class docs."""

    threshold: float | ThresholdReport | None
    calibrator: Calibrator | Callable[[float], float] | None
    cost_rule: CostAwareRule | None
    router: Any
    router_escalate_tiers: Collection[str] | None
    never_cheap_categories: Iterable[str]
    never_cheap_patterns: Iterable[str | re.Pattern[str]]
    never_cheap_predicates: Mapping[str, Callable[..., bool]] | Iterable[Callable[..., bool]]
    cheap_name: str
    capable_name: str
    shadow_rate: float
    shadow_judge: Callable[..., Any] | None
    shadow_mode: Literal["thread", "inline"]
    shadow_workers: int
    review_rate: float | Mapping[str, float]
    seed: int | None
    decision_log: DecisionSink | None
    exception_text: ExceptionText
    exception_max_chars: int


# -- the settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tier:
    """One tier: its name and callable, and whether the callable takes the call's context."""

    name: str
    fn: Callable[..., Any]
    takes_context: bool

    def args(self, query: str, context: Any) -> tuple[Any, ...]:
        """The positional arguments of a call to this tier."""
        return (query, context) if self.takes_context else (query,)


@dataclass(frozen=True)
class AcceptanceRule:
    """When a cheap answer is accepted: the confidence signal, its calibration, threshold and cost rule."""

    confidence: Callable[..., Any]
    threshold: float | None
    """None: no threshold (cost rule only), or an infeasible report."""
    report: ThresholdReport | None
    cost_rule: CostAwareRule | None
    calibrator: Calibrator | Callable[[float], float] | None


@dataclass(frozen=True)
class HardRules:
    """What is never eligible for the cheap tier: router tiers, categories, patterns, predicates."""

    router: Any
    router_escalate: frozenset[str]
    categories: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    predicates: tuple[tuple[str, Predicate], ...]

    def match(
        self,
        query: str,
        category: str | None,
        describe: Callable[[BaseException], str] = format_exception,
    ) -> tuple[str | None, str | None]:
        """``(rule, error)``: the first rule that keeps ``query`` off the cheap tier (None if none),
        and the error text (``describe(exception)``) when a predicate raised (the query then
        escalates as a fallback)."""
        if category is not None and category in self.categories:
            return f"category:{category}", None
        for pat in self.patterns:
            if pat.search(query):
                return f"pattern:{pat.pattern}", None
        for name, pred in self.predicates:
            try:
                hit = pred(query, category)
            except Exception as err:  # noqa: BLE001 - a failing rule escalates, never raises
                return f"predicate:{name}", f"predicate {name!r} raised {describe(err)}"
            if hit:
                return f"predicate:{name}", None
        return None, None


@dataclass(frozen=True)
class Sampling:
    """Shadow and human-review inclusion probabilities."""

    shadow_rate: float
    review: Mapping[str, float]
    """Tier name -> review inclusion probability (read-only)."""
    seed: int | None


@dataclass(frozen=True)
class ShadowExecution:
    """How shadow calls run: where (sync calls), with how many workers, and who judges them."""

    mode: Literal["thread", "inline"]
    workers: int
    judge: Callable[..., Any] | None


@dataclass(frozen=True)
class CascadeConfig:
    """Every validated setting of a cascade (see :class:`~tierscope.routing.cascade.Cascade`)."""

    cheap: Tier
    capable: Tier
    acceptance: AcceptanceRule
    hard_rules: HardRules
    sampling: Sampling
    shadow: ShadowExecution
    decision_log: DecisionSink | None
    error_text: ErrorText = ErrorText("hash", 200, None)
    """How exception text is recorded (see :func:`format_exception`)."""
    steps: tuple[Step, ...] | None = None
    """N-tier cascades (:meth:`Cascade.tiered <tierscope.routing.Cascade.tiered>`): one step per
    tier but the last, cheapest first; None for the two-tier form."""
    tiers: tuple[Tier, ...] = ()
    """N-tier cascades: every tier, cheapest first (``cheap`` is the first, ``capable`` the last)."""
    tier_categories: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """N-tier cascades: category -> index of the tier its queries start at."""


@dataclass(frozen=True)
class Step:
    """One escalation step of an N-tier cascade: the tier that answers and when its answer is accepted."""

    tier: Tier
    acceptance: AcceptanceRule


@dataclass(frozen=True)
class TieredDecision(CascadeDecision):
    """A :class:`~tierscope.routing.CascadeDecision` of an N-tier cascade, with the path taken.

    ``cheap_tier``/``capable_tier`` are the first and last tiers; ``cheap_*`` fields describe the
    first tier called, ``capable_*`` the last tier when it was called, ``confidence_*`` and
    ``threshold`` the last step scored, ``cost`` the sum over every tier called. The decision
    log stores ``path`` and ``steps`` in the decisions' ``extra`` JSON column (no schema change:
    older readers and logs stay compatible).
    """

    path: tuple[str, ...] = ()
    """The tiers called, in order (the last one answered, unless it failed)."""
    steps: tuple[dict[str, Any], ...] = ()
    """Per step reached: ``tier``, ``called``, ``confidence_raw``, ``confidence_calibrated``,
    ``threshold``, ``accepted`` and ``reason`` (why it escalated; None when accepted)."""


# -- one validator per concern -----------------------------------------------------------------
def _tiers(
    cheap: Callable[..., Any],
    capable: Callable[..., Any],
    confidence: Callable[..., Any],
    cheap_name: str,
    capable_name: str,
) -> tuple[Tier, Tier]:
    for name, fn in (("cheap", cheap), ("capable", capable), ("confidence", confidence)):
        if not callable(fn):
            raise InvalidInputError(f"{name}: expected a callable, got {type(fn).__name__}")
    for name, value in (("cheap_name", cheap_name), ("capable_name", capable_name)):
        if isinstance(value, str):
            text(name, value, allow_empty=False)  # tier names are logged on every event
    if not isinstance(cheap_name, str) or not isinstance(capable_name, str) or cheap_name == capable_name:
        raise InvalidInputError(
            f"cheap_name/capable_name: expected two different names, got {cheap_name!r}, {capable_name!r}"
        )
    return (
        Tier(cheap_name, cheap, accepts_context(cheap)),
        Tier(capable_name, capable, accepts_context(capable)),
    )


def _threshold(
    threshold: float | ThresholdReport | None, cost_rule: CostAwareRule | None
) -> tuple[float | None, ThresholdReport | None]:
    if threshold is None and cost_rule is None:
        raise InvalidInputError(
            "threshold: required unless cost_rule is given (a float in [0, 1] or a ThresholdReport)"
        )
    if isinstance(threshold, ThresholdReport):
        return (threshold.threshold if threshold.feasible else None), threshold
    if threshold is not None:
        return check_unit("threshold", threshold), None
    return None, None


def _cost_rule(cost_rule: CostAwareRule | None) -> CostAwareRule | None:
    if cost_rule is not None and not isinstance(cost_rule, CostAwareRule):
        raise InvalidInputError(f"cost_rule: expected a CostAwareRule, got {type(cost_rule).__name__}")
    return cost_rule


def _calibrator(
    calibrator: Calibrator | Callable[[float], float] | None,
) -> Calibrator | Callable[[float], float] | None:
    if calibrator is not None and not callable(calibrator):
        raise InvalidInputError(
            f"calibrator: expected a Calibrator (callable raw -> P), got {type(calibrator).__name__}"
        )
    return calibrator


def _router_escalate(router: Any, escalate_tiers: Collection[str] | None, cheap_name: str) -> frozenset[str]:
    """Router tiers that are hard rules; by default every router tier but the cheap one."""
    if router is None:
        if escalate_tiers:
            raise InvalidInputError("router_escalate_tiers: given without a router")
        return frozenset()
    if not hasattr(router, "route") or not hasattr(router, "tiers"):
        raise InvalidInputError(f"router: expected a tierscope.Router, got {type(router).__name__}")
    router_tiers = tuple(router.tiers)
    if escalate_tiers is None:
        if cheap_name not in router_tiers:
            raise InvalidInputError(
                f"router_escalate_tiers: required because the router's tiers {router_tiers} do not include "
                f"the cascade's cheap tier {cheap_name!r}"
            )
        return frozenset(t for t in router_tiers if t != cheap_name)
    if isinstance(escalate_tiers, str):
        raise InvalidInputError("router_escalate_tiers: expected a collection of tier names, not a str")
    unknown = sorted(set(escalate_tiers) - set(router_tiers))
    if unknown:
        raise InvalidInputError(
            f"router_escalate_tiers: unknown tier(s) {unknown}; router tiers: {list(router_tiers)}"
        )
    return frozenset(escalate_tiers)


def _categories(categories: Iterable[str]) -> frozenset[str]:
    if isinstance(categories, str):
        raise InvalidInputError("never_cheap_categories: expected a collection of str, not a str")
    if isinstance(categories, Mapping) or not isinstance(categories, Iterable):
        raise fail("never_cheap_categories", "a collection of str", categories)
    items = list(categories)
    for i, c in enumerate(items):
        text(f"never_cheap_categories[{i}]", c)
    return frozenset(items)


def _patterns(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]  # one pattern, not an iterable of characters
    compiled: list[re.Pattern[str]] = []
    for i, p in enumerate(patterns):
        source = p.pattern if isinstance(p, re.Pattern) else p
        if isinstance(source, str):
            text(f"never_cheap_patterns[{i}]", source)  # logged as the decision's hard_rule
        try:
            compiled.append(p if isinstance(p, re.Pattern) else re.compile(p))
        except (re.error, TypeError) as err:
            raise InvalidInputError(
                f"never_cheap_patterns: invalid regular expression {p!r} ({err})"
            ) from err
    return tuple(compiled)


def _predicates(
    predicates: Mapping[str, Predicate] | Iterable[Predicate],
) -> tuple[tuple[str, Predicate], ...]:
    if isinstance(predicates, Mapping):
        named = list(predicates.items())
    else:
        named = [(getattr(f, "__name__", f"predicate{i}"), f) for i, f in enumerate(predicates)]
    for name, f in named:
        text("never_cheap_predicates key", name)  # logged as the decision's hard_rule
        if not callable(f):
            raise InvalidInputError(f"never_cheap_predicates[{name!r}]: expected a callable")
    return tuple(named)


def _review_rates(
    review_rate: float | Mapping[str, float], cheap_name: str, capable_name: str
) -> dict[str, float]:
    if not isinstance(review_rate, Mapping):
        rate = check_unit("review_rate", review_rate)
        return {cheap_name: rate, capable_name: rate}
    unknown = sorted(set(review_rate) - {cheap_name, capable_name})
    if unknown:
        raise InvalidInputError(
            f"review_rate: unknown tier(s) {unknown}; expected {cheap_name!r} and/or {capable_name!r}"
        )
    return {t: check_unit(f"review_rate[{t!r}]", v) for t, v in review_rate.items()}


def _shadow_execution(
    mode: Literal["thread", "inline"], workers: int, judge: Callable[..., Any] | None
) -> ShadowExecution:
    mode = choice("shadow_mode", mode, ("thread", "inline"))
    workers = integer("shadow_workers", workers, minimum=1, maximum=1024)
    if judge is not None and not callable(judge):
        raise InvalidInputError(
            "shadow_judge: expected a callable (query, cheap_answer, capable_answer) -> score"
        )
    return ShadowExecution(mode, workers, judge)


def _decision_log(decision_log: DecisionSink | None) -> DecisionSink | None:
    if decision_log is not None and not isinstance(decision_log, DecisionSink):
        raise InvalidInputError(
            "decision_log: expected a DecisionLog (log_decision and log_outcome methods), "
            f"got {type(decision_log).__name__}"
        )
    return decision_log


def build_cascade_config(
    cheap: Callable[..., Any],
    capable: Callable[..., Any],
    *,
    confidence: Callable[..., Any],
    threshold: float | ThresholdReport | None = None,
    calibrator: Calibrator | Callable[[float], float] | None = None,
    cost_rule: CostAwareRule | None = None,
    router: Any = None,
    router_escalate_tiers: Collection[str] | None = None,
    never_cheap_categories: Iterable[str] = (),
    never_cheap_patterns: Iterable[str | re.Pattern[str]] = (),
    never_cheap_predicates: Mapping[str, Predicate] | Iterable[Predicate] = (),
    cheap_name: str = "cheap",
    capable_name: str = "capable",
    shadow_rate: float = 0.0,
    shadow_judge: Callable[..., Any] | None = None,
    shadow_mode: Literal["thread", "inline"] = "thread",
    shadow_workers: int = 2,
    review_rate: float | Mapping[str, float] = 0.0,
    seed: int | None = None,
    decision_log: DecisionSink | None = None,
    exception_text: ExceptionText = "hash",
    exception_max_chars: int = 200,
) -> CascadeConfig:
    """Validate a cascade's arguments (those of :class:`~tierscope.routing.cascade.Cascade`).

    Raises :class:`InvalidInputError` naming the first bad argument, in this order: the tier
    callables and names, the threshold, the cost rule, the calibrator, the router, the hard rules,
    the shadow and review rates, the seed, the shadow execution, the decision log, the
    exception text.
    """
    cheap_tier, capable_tier = _tiers(cheap, capable, confidence, cheap_name, capable_name)
    threshold_value, report = _threshold(threshold, cost_rule)
    acceptance = AcceptanceRule(
        confidence=confidence,
        threshold=threshold_value,
        report=report,
        cost_rule=_cost_rule(cost_rule),
        calibrator=_calibrator(calibrator),
    )
    hard_rules = HardRules(
        router=router,
        router_escalate=_router_escalate(router, router_escalate_tiers, cheap_name),
        categories=_categories(never_cheap_categories),
        patterns=_patterns(never_cheap_patterns),
        predicates=_predicates(never_cheap_predicates),
    )
    sampling = Sampling(
        shadow_rate=check_unit("shadow_rate", shadow_rate),
        review=MappingProxyType(_review_rates(review_rate, cheap_name, capable_name)),
        seed=optional(integer, "seed", seed, minimum=None, maximum=None),
    )
    return CascadeConfig(
        cheap=cheap_tier,
        capable=capable_tier,
        acceptance=acceptance,
        hard_rules=hard_rules,
        sampling=sampling,
        shadow=_shadow_execution(shadow_mode, shadow_workers, shadow_judge),
        decision_log=_decision_log(decision_log),
        error_text=_error_text(exception_text, exception_max_chars, decision_log),
    )


def _tier_list(
    tiers: Sequence[Callable[..., Any]] | Mapping[str, Callable[..., Any]],
    names: Sequence[str] | None,
) -> tuple[Tier, ...]:
    if isinstance(tiers, Mapping):
        if names is not None:
            raise InvalidInputError("names: give tier names either as the tiers mapping's keys or as names")
        names, fns = list(tiers.keys()), list(tiers.values())
    elif isinstance(tiers, Sequence) and not isinstance(tiers, str):
        fns = list(tiers)
    else:
        raise fail(
            "tiers", "a sequence of tier callables (cheapest first) or a mapping name -> callable", tiers
        )
    if len(fns) < 2:
        raise InvalidInputError(f"tiers: expected at least 2 tiers, cheapest first, got {len(fns)}")
    if names is None:
        names = ["cheap", "capable"] if len(fns) == 2 else [f"tier{i}" for i in range(len(fns))]
    names = list(names)
    if len(names) != len(fns):
        raise InvalidInputError(f"names: expected one name per tier ({len(fns)}), got {len(names)}")
    for i, (name, fn) in enumerate(zip(names, fns, strict=True)):
        text(f"names[{i}]", name, allow_empty=False)
        if not callable(fn):
            raise InvalidInputError(f"tiers[{i}]: expected a callable, got {type(fn).__name__}")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"names: expected distinct tier names, got {names}")
    return tuple(Tier(n, f, accepts_context(f)) for n, f in zip(names, fns, strict=True))


def _per_step(name: str, values: Any, n_steps: int) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        return [values] * n_steps
    out: list[Any] = list(values)
    if len(out) != n_steps:
        raise InvalidInputError(f"{name}: expected one per step ({n_steps} = tiers - 1), got {len(out)}")
    return out


def _tier_categories(tier_categories: Mapping[str, str] | None, index: Mapping[str, int]) -> dict[str, int]:
    if tier_categories is None:
        return {}
    if not isinstance(tier_categories, Mapping):
        raise fail("tier_categories", "a mapping category -> tier name", tier_categories)
    out: dict[str, int] = {}
    for category, tier in tier_categories.items():
        text("tier_categories key", category)
        if tier not in index:
            raise InvalidInputError(
                f"tier_categories[{category!r}]: expected one of the tiers {list(index)}, got {tier!r}"
            )
        out[category] = index[tier]
    return out


def build_tiered_config(
    tiers: Sequence[Callable[..., Any]] | Mapping[str, Callable[..., Any]],
    *,
    confidence: Callable[..., Any] | Sequence[Callable[..., Any]],
    thresholds: float | ThresholdReport | Sequence[float | ThresholdReport],
    calibrators: Calibrator | Callable[[float], float] | Sequence[Any] | None = None,
    names: Sequence[str] | None = None,
    router: Any = None,
    tier_categories: Mapping[str, str] | None = None,
    never_cheap_categories: Iterable[str] = (),
    never_cheap_patterns: Iterable[str | re.Pattern[str]] = (),
    never_cheap_predicates: Mapping[str, Predicate] | Iterable[Predicate] = (),
    shadow_rate: float = 0.0,
    shadow_judge: Callable[..., Any] | None = None,
    shadow_mode: Literal["thread", "inline"] = "thread",
    shadow_workers: int = 2,
    review_rate: float | Mapping[str, float] = 0.0,
    seed: int | None = None,
    decision_log: DecisionSink | None = None,
    exception_text: ExceptionText = "hash",
    exception_max_chars: int = 200,
) -> CascadeConfig:
    """Validate an N-tier cascade's arguments (those of :meth:`Cascade.tiered
    <tierscope.routing.Cascade.tiered>`); raises :class:`InvalidInputError` naming the first bad one."""
    tier_list = _tier_list(tiers, names)
    n_steps = len(tier_list) - 1
    confidences = _per_step("confidence", confidence, n_steps)
    threshold_list = _per_step("thresholds", thresholds, n_steps)
    calibrator_list = _per_step("calibrators", calibrators, n_steps)
    steps = []
    for i in range(n_steps):
        if not callable(confidences[i]):
            raise InvalidInputError(
                f"confidence[{i}]: expected a callable (query, answer) -> float in [0, 1]"
            )
        if threshold_list[i] is None:
            raise InvalidInputError(f"thresholds[{i}]: expected a float in [0, 1] or a ThresholdReport")
        try:
            value, report = _threshold(threshold_list[i], None)
        except InvalidInputError as err:
            raise InvalidInputError(f"thresholds[{i}]: {err}") from err
        acceptance = AcceptanceRule(confidences[i], value, report, None, _calibrator(calibrator_list[i]))
        steps.append(Step(tier_list[i], acceptance))
    index = {t.name: i for i, t in enumerate(tier_list)}
    if router is not None and (not hasattr(router, "route") or not hasattr(router, "tiers")):
        raise InvalidInputError(f"router: expected a tierscope.Router, got {type(router).__name__}")
    hard_rules = HardRules(
        router=router,
        router_escalate=frozenset(),
        categories=_categories(never_cheap_categories),
        patterns=_patterns(never_cheap_patterns),
        predicates=_predicates(never_cheap_predicates),
    )
    all_names = [t.name for t in tier_list]
    if isinstance(review_rate, Mapping):
        unknown = sorted(set(review_rate) - set(all_names))
        if unknown:
            raise InvalidInputError(f"review_rate: unknown tier(s) {unknown}; tiers: {all_names}")
        review = {t: check_unit(f"review_rate[{t!r}]", v) for t, v in review_rate.items()}
    else:
        rate = check_unit("review_rate", review_rate)
        review = dict.fromkeys(all_names, rate)
    sampling = Sampling(
        shadow_rate=check_unit("shadow_rate", shadow_rate),
        review=MappingProxyType(review),
        seed=optional(integer, "seed", seed, minimum=None, maximum=None),
    )
    return CascadeConfig(
        cheap=tier_list[0],
        capable=tier_list[-1],
        acceptance=steps[0].acceptance,
        hard_rules=hard_rules,
        sampling=sampling,
        shadow=_shadow_execution(shadow_mode, shadow_workers, shadow_judge),
        decision_log=_decision_log(decision_log),
        error_text=_error_text(exception_text, exception_max_chars, decision_log),
        steps=tuple(steps),
        tiers=tier_list,
        tier_categories=MappingProxyType(_tier_categories(tier_categories, index)),
    )
