"""An uncertainty-routed cascade: cheap tier first, escalate when calibrated confidence is low.

tierscope never calls an LLM API itself: you pass the tiers' callables. The flow for one query:

1. **Hard rules** (never eligible for the cheap tier): the optional :class:`~tierscope.Router`'s
   pre-route tier (by default every router tier except the cheap one), categories/intents,
   regular expressions and predicates. A hit goes straight to the capable tier.
2. **Cheap tier**: its answer, then the user's confidence function (self-evaluation score,
   log-prob, verifier) gives a raw score in [0, 1], optionally calibrated into P(acceptable)
   by a :class:`~tierscope.routing.Calibrator`.
3. **Accept** when the calibrated confidence is ``>= threshold`` (a float or a
   :class:`~tierscope.routing.ThresholdReport`; an infeasible report escalates everything),
   or by a :class:`~tierscope.routing.CostAwareRule`; else **escalate** to the capable tier.
4. **Shadow scoring**: with probability ``shadow_rate`` (seeded) an accepted query is also sent
   to the capable tier, without delaying the answer (async: a background task, awaited by
   :meth:`Cascade.drain`; sync: a background thread pool, or inline if configured).

Any failure of the router, the confidence function (exception, NaN, outside [0, 1]), the
calibrator or the cheap tier sends the query to the capable tier with ``fallback=True`` and the
reason. If the capable tier fails, :class:`CascadeError` carries the partial decision. Every
call returns ``CascadeResult(answer, decision)``; with a :class:`~tierscope.log.DecisionLog`
every decision and shadow outcome is logged, with the tier label on every event.

Example::

    from tierscope import Cascade, DecisionLog, TierAnswer, choose_threshold, fit_calibrator

    calibrator = fit_calibrator(raw_scores_fit, acceptable_fit, "isotonic")
    report = choose_threshold(calibrator.predict(raw_scores_cal), acceptable_cal, epsilon=0.05, delta=0.1)
    cascade = Cascade(
        call_mini, call_frontier,                       # your LLM calls -> TierAnswer(text, model_id, ...)
        confidence=lambda q, a: a.self_eval,            # raw signal in [0, 1]
        calibrator=calibrator, threshold=report,
        router=tierscope.Router.default(),              # optional: router tier "capable" = hard rule
        never_cheap_categories={"fraud", "refund_dispute"},
        shadow_rate=0.02, review_rate={"cheap": 0.01, "capable": 0.002}, seed=0,
        decision_log=DecisionLog("logs/routing"),
    )
    answer, decision = cascade("where is this charge from", category=intent)
"""

from __future__ import annotations

import asyncio
import inspect
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

from .._logging import logger as _logger
from .._validate import text
from ..exceptions import CascadeError, InvalidInputError, TierscopeError
from .calibration import Calibrator, CostAwareRule, ThresholdReport
from .cascade_config import (
    CascadeConfig,
    ExceptionText,
    Step,
    Tier,
    TieredDecision,
    build_cascade_config,
    build_tiered_config,
)
from .cascade_config import _clean as _clean_text
from .cascade_config import format_exception as _fmt_exc
from .messages import Messages, is_messages, router_text
from .records import (
    FALLBACK_REASONS,
    A,
    CascadeDecision,
    CascadeResult,
    DecisionSink,
)

if TYPE_CHECKING:  # pragma: no cover - the typed overloads' keyword options
    from collections.abc import Awaitable, Coroutine

    from typing_extensions import Unpack

    from .cascade_config import CascadeOptions

__all__ = ["Cascade"]


# -- the flow, written once as a generator; sync and async drivers run its calls ------------------
@dataclass
class _Call:
    stage: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass
class _Done:
    ok: bool
    value: Any
    elapsed: float


@dataclass
class _Plan:
    answer: Any
    decision: CascadeDecision
    shadow: bool
    cheap_answer: Any = None
    query: str = ""
    context: Any = None
    capable_exception: BaseException | None = None
    """The capable tier's exception, chained to the caller's :class:`CascadeError` (the log keeps
    only its redacted text; the caller's process sees the original)."""


@dataclass
class _Trace:
    """One call's decision as it is being made: its inputs, the record's fields, the first escalation."""

    query: str
    context: Any
    category: str | None
    started: float
    u_shadow: float
    u_review: float
    fields: dict[str, Any]
    reason: str | None = None
    detail: str | None = None
    cheap_answer: Any = None
    accepted: bool = False
    capable_exception: BaseException | None = None

    def escalate(self, code: str, why: str) -> None:
        """Record why the query goes to the capable tier; only the first reason counts."""
        if self.reason is None:
            self.reason, self.detail = code, why


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _meta(answer: Any) -> tuple[str | None, int | None, int | None, float | None]:
    """An answer's model id, tokens and cost, as the decision log stores them: a value that is
    not storable (a negative count, a NaN or infinite cost, an unprintable id) is recorded as
    None rather than losing the whole decision at log time."""

    def get(name: str, kind: type) -> Any:
        v = getattr(answer, name, None)
        if v is None or isinstance(v, bool):
            return None
        try:
            out = kind(v)
        except (TypeError, ValueError, OverflowError):
            return None
        if kind is str:
            return _clean_text(out)
        if kind is int:
            return out if 0 <= out <= 2**63 - 1 else None
        return out if math.isfinite(out) and out >= 0 else None

    return get("model_id", str), get("input_tokens", int), get("output_tokens", int), get("cost", float)


def _check_call(query: str, category: str | None, request_id: str | None) -> None:
    """Checked before anything runs: ``category`` and ``request_id`` are logged on the caller's
    behalf, so a value the log cannot store (a lone surrogate) is refused here, at the call,
    instead of silently losing the decision later."""
    if not isinstance(query, str):
        raise InvalidInputError(f"query: expected a str, got {type(query).__name__}")
    if category is not None:
        text("category", category)
    if request_id is not None:
        text("request_id", request_id, allow_empty=False)


def _unit_or_raise(what: str, value: Any) -> float:
    f = float(value)
    if not 0.0 <= f <= 1.0:  # NaN too: the log refuses it, so it is a router failure here
        raise ValueError(f"router {what} {f!r} outside [0, 1]")
    return f


def _read_route(fields: dict[str, Any], rd: Any) -> None:
    """Copy the router decision's fields; may raise midway (earlier fields then stay recorded).
    A value the decision log could not store (a probability outside [0, 1], a NaN) raises
    before it is recorded, so the decision is still logged (as a router error)."""
    fields["route_tier"] = _clean_text(str(rd.tier))
    probabilities = {
        _clean_text(str(k)): _unit_or_raise(f"probability of {k!r}", v)
        for k, v in dict(rd.probabilities).items()
    }
    fields["route_probabilities"] = probabilities
    fields["route_confidence"] = _unit_or_raise("confidence", rd.confidence)
    tail = float(rd.tail_score)
    if not math.isfinite(tail):
        raise ValueError(f"router tail_score {tail!r} is not finite")
    fields["route_tail_score"] = tail
    fields["route_fallback"] = bool(rd.fallback)
    fields["route_guarded"] = bool(getattr(rd, "guarded", False))
    fields["route_content_discarded"] = bool(getattr(rd, "content_discarded", False))
    region = int(getattr(rd, "region", -1))
    fields["route_region"] = region if region >= 0 else None


class Cascade(Generic[A]):
    """Cheap tier first; escalate to the capable tier when calibrated confidence is low.

    Generic in the answer type ``A`` (what both tiers return, sync or ``async``): type checkers
    infer it from the tiers, and ``cascade(q)`` / ``await cascade.arun(q)`` are
    :class:`CascadeResult[A] <tierscope.routing.CascadeResult>`, so ``answer, decision =
    cascade(q)`` types ``answer`` as ``A``.

    Parameters
    ----------
    cheap, capable:
        The tiers' callables: ``fn(query)`` or ``fn(query, context)``, sync or ``async``, returning
        a :class:`TierAnswer` or any answer object.
    confidence:
        ``fn(query, cheap_answer) -> float`` in [0, 1] (sync or async): the raw confidence signal.
    threshold:
        Accept when the calibrated confidence is ``>= threshold``: a float in [0, 1] or a
        :class:`ThresholdReport` (an infeasible report escalates every query without calling the
        cheap tier). Required unless ``cost_rule`` is given.
    calibrator:
        Maps the raw confidence to P(acceptable) (:mod:`tierscope.routing.calibration`); identity if None.
    cost_rule:
        A :class:`CostAwareRule`; when given, a cheap answer is accepted only if the rule accepts
        ``P(fail) = 1 - calibrated`` for the call's category (and the threshold, if also given).
    router:
        A :class:`~tierscope.Router` for pre-routing (anything with ``route(text)`` and ``tiers``).
    router_escalate_tiers:
        Router tiers never eligible for the cheap tier. Default: every router tier except
        ``cheap_name`` (so for the default router, ``("capable",)``). Unknown names raise.
    never_cheap_categories, never_cheap_patterns, never_cheap_predicates:
        More hard rules: categories (e.g. intents), regexes searched in the query, and
        ``fn(query, category) -> bool`` predicates (a mapping name -> fn, or an iterable of fns).
    shadow_rate:
        Probability ``r`` of also calling the capable tier on an accepted query (recorded as
        ``shadow_inclusion_prob``). ``shadow_judge(query, cheap_answer, capable_answer)`` may
        return a score in [0, 1] (or a ``(cheap_score, capable_score)`` pair) for the outcome.
    shadow_mode:
        Sync calls only: ``"thread"`` (default; a background pool of ``shadow_workers``) or
        ``"inline"`` (the shadow call runs before returning: simpler, but delays the answer).
        Async calls always use a background task.
    review_rate:
        Human-review sampling probability: one float, or a mapping tier name -> probability (to
        oversample the cheap tier). Recorded as ``review_sampled`` / ``review_inclusion_prob``.
    seed:
        Seeds the shadow and review draws (two uniforms per call, drawn at the start of the call,
        so sync and async runs with the same seed make the same draws).
    decision_log:
        A :class:`~tierscope.log.DecisionLog`: every decision, and every shadow outcome.
    exception_text, exception_max_chars:
        How the text of an exception raised by a tier, rule, confidence function, calibrator or
        judge is recorded (``escalation_detail``, ``fallback_reason``, ``error``, shadow
        ``detail``). Such messages often quote the query (and whatever personal data it
        holds), so the default ``"hash"`` records the exception type and a keyed hash of the
        message (``ValueError (message hmac-sha256:…, 57 chars)``; keyed with the decision
        log's :meth:`~tierscope.log.DecisionLog.hash_text`, so equal messages group). ``"type"``:
        the type only; ``"truncate"``: type and the first ``exception_max_chars`` (200)
        characters; ``"full"``: type and the whole message. The log's own ``redact`` options
        apply on top.
    """

    # Typed overloads: async and sync tiers resolve ``A`` to what they return (awaited).
    @overload
    def __init__(
        self,
        cheap: Callable[..., Coroutine[Any, Any, A]],
        capable: Callable[..., Coroutine[Any, Any, A]],
        *,
        confidence: Callable[..., Any],
        **options: Unpack[CascadeOptions],
    ) -> None: ...
    @overload
    def __init__(
        self,
        cheap: Callable[..., Coroutine[Any, Any, A]],
        capable: Callable[..., A],
        *,
        confidence: Callable[..., Any],
        **options: Unpack[CascadeOptions],
    ) -> None: ...
    @overload
    def __init__(
        self,
        cheap: Callable[..., A],
        capable: Callable[..., Coroutine[Any, Any, A]],
        *,
        confidence: Callable[..., Any],
        **options: Unpack[CascadeOptions],
    ) -> None: ...
    @overload
    def __init__(
        self,
        cheap: Callable[..., A],
        capable: Callable[..., A],
        *,
        confidence: Callable[..., Any],
        **options: Unpack[CascadeOptions],
    ) -> None: ...
    def __init__(
        self,
        cheap: Callable[..., A] | Callable[..., Awaitable[A]],
        capable: Callable[..., A] | Callable[..., Awaitable[A]],
        *,
        confidence: Callable[..., Any],
        threshold: float | ThresholdReport | None = None,
        calibrator: Calibrator | Callable[[float], float] | None = None,
        cost_rule: CostAwareRule | None = None,
        router: Any = None,
        router_escalate_tiers: Collection[str] | None = None,
        never_cheap_categories: Iterable[str] = (),
        never_cheap_patterns: Iterable[str | re.Pattern[str]] = (),
        never_cheap_predicates: Mapping[str, Callable[..., bool]] | Iterable[Callable[..., bool]] = (),
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
    ) -> None:
        self._config: CascadeConfig = build_cascade_config(
            cheap,
            capable,
            confidence=confidence,
            threshold=threshold,
            calibrator=calibrator,
            cost_rule=cost_rule,
            router=router,
            router_escalate_tiers=router_escalate_tiers,
            never_cheap_categories=never_cheap_categories,
            never_cheap_patterns=never_cheap_patterns,
            never_cheap_predicates=never_cheap_predicates,
            cheap_name=cheap_name,
            capable_name=capable_name,
            shadow_rate=shadow_rate,
            shadow_judge=shadow_judge,
            shadow_mode=shadow_mode,
            shadow_workers=shadow_workers,
            review_rate=review_rate,
            seed=seed,
            decision_log=decision_log,
            exception_text=exception_text,
            exception_max_chars=exception_max_chars,
        )
        self._setup()

    @classmethod
    def tiered(
        cls,
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
        never_cheap_predicates: Mapping[str, Callable[..., bool]] | Iterable[Callable[..., bool]] = (),
        shadow_rate: float = 0.0,
        shadow_judge: Callable[..., Any] | None = None,
        shadow_mode: Literal["thread", "inline"] = "thread",
        shadow_workers: int = 2,
        review_rate: float | Mapping[str, float] = 0.0,
        seed: int | None = None,
        decision_log: DecisionSink | None = None,
        exception_text: ExceptionText = "hash",
        exception_max_chars: int = 200,
    ) -> Cascade[Any]:
        """An N-tier cascade: tiers cheapest to most capable, one confidence and threshold per step.

        A query starts at the first tier (or where a hard rule sends it) and climbs one step at
        a time: tier ``i`` answers, ``confidence[i](query, answer)`` (then ``calibrators[i]``)
        scores it, and the answer is accepted when the calibrated score is ``>= thresholds[i]``
        (a float or a :class:`ThresholdReport`, e.g. from :func:`choose_thresholds
        <tierscope.routing.choose_thresholds>`, which certifies every step with a family-wise
        guarantee). A failure of a tier, its confidence or calibrator escalates to the next
        tier; an infeasible step report skips its tier. The last tier answers whatever reaches it.

        ``tiers``: callables (named by ``names``, default ``tier0``, ``tier1``, … or ``cheap`` /
        ``capable`` for two) or a mapping name -> callable, in order. ``confidence``,
        ``thresholds``, ``calibrators``: one per step (``len(tiers) - 1``) or one for all.
        Hard rules may name any tier as the start: ``tier_categories`` maps a category to a
        tier; a ``router`` whose decided tier is one of the cascade's tiers starts there (a
        router failure or fallback starts at the last tier); ``never_cheap_*`` rules start at
        the last tier. ``review_rate`` may be a mapping over all tier names; shadow calls go to
        the last tier. Other options are as in :class:`Cascade`.

        Decisions are :class:`~tierscope.routing.cascade_config.TieredDecision` (with ``path``,
        the tiers called, and ``steps``, each step's scores and reason); the decision log keeps
        both in the ``extra`` column.
        """
        config = build_tiered_config(
            tiers,
            confidence=confidence,
            thresholds=thresholds,
            calibrators=calibrators,
            names=names,
            router=router,
            tier_categories=tier_categories,
            never_cheap_categories=never_cheap_categories,
            never_cheap_patterns=never_cheap_patterns,
            never_cheap_predicates=never_cheap_predicates,
            shadow_rate=shadow_rate,
            shadow_judge=shadow_judge,
            shadow_mode=shadow_mode,
            shadow_workers=shadow_workers,
            review_rate=review_rate,
            seed=seed,
            decision_log=decision_log,
            exception_text=exception_text,
            exception_max_chars=exception_max_chars,
        )
        self: Cascade[Any] = cls.__new__(cls)
        self._config = config
        self._setup()
        return self

    def _setup(self) -> None:
        """The state every cascade keeps besides its (validated) config."""
        self._err = self._config.error_text
        # Public attributes, as before the settings moved into the config; the flow reads them.
        self.cheap_name, self.capable_name = self._config.cheap.name, self._config.capable.name
        self.shadow_rate = self._config.sampling.shadow_rate
        self._rng = random.Random(self._config.sampling.seed)
        self._rng_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._futures: set[Future[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = self._config.decision_log
        self.log_errors = 0
        """Events the decision log failed to write (each also logged to the ``tierscope`` logger)."""

    # -- public API ------------------------------------------------------------------------
    @property
    def tier_names(self) -> tuple[str, ...]:
        """Every tier's name, cheapest first."""
        if self._config.steps is None:
            return (self.cheap_name, self.capable_name)
        return tuple(t.name for t in self._config.tiers)

    @property
    def thresholds(self) -> tuple[float | None, ...]:
        """Each step's acceptance threshold (None: cost rule only, or an infeasible report)."""
        if self._config.steps is None:
            return (self.threshold,)
        return tuple(step.acceptance.threshold for step in self._config.steps)

    @property
    def threshold(self) -> float | None:
        """The acceptance threshold on calibrated confidence (None: cost rule only, or infeasible)."""
        return self._config.acceptance.threshold

    def __call__(
        self, query: str, context: Any = None, *, category: str | None = None, request_id: str | None = None
    ) -> CascadeResult[A]:
        return self.run(query, context, category=category, request_id=request_id)

    def run(
        self, query: str, context: Any = None, *, category: str | None = None, request_id: str | None = None
    ) -> CascadeResult[A]:
        """Answer one query (blocking). Raises :class:`CascadeError` if the capable tier fails."""
        gen = self._flow(query, context, category, request_id)
        done: _Done | None = None
        while True:
            try:
                call = gen.send(done) if done is not None else next(gen)
            except StopIteration as stop:
                plan: _Plan = stop.value
                break
            t0 = time.perf_counter()
            try:
                value = call.fn(*call.args)
                if inspect.isawaitable(value):
                    value = _run_coro(value)
                done = _Done(True, value, time.perf_counter() - t0)
            except Exception as err:  # noqa: BLE001 - every failure is routed, never raised
                done = _Done(False, err, time.perf_counter() - t0)
        return self._finish_sync(plan)

    async def arun(
        self, query: str, context: Any = None, *, category: str | None = None, request_id: str | None = None
    ) -> CascadeResult[A]:
        """Answer one query (async). Sync callables run in a worker thread; the shadow call runs
        as a background task (see :meth:`drain`)."""
        gen = self._flow(query, context, category, request_id)
        done: _Done | None = None
        while True:
            try:
                call = gen.send(done) if done is not None else next(gen)
            except StopIteration as stop:
                plan: _Plan = stop.value
                break
            t0 = time.perf_counter()
            try:
                if _is_async(call.fn):
                    value = await call.fn(*call.args)
                else:
                    value = await asyncio.to_thread(call.fn, *call.args)
                    if inspect.isawaitable(value):
                        value = await value
                done = _Done(True, value, time.perf_counter() - t0)
            except Exception as err:  # noqa: BLE001
                done = _Done(False, err, time.perf_counter() - t0)
        task: asyncio.Task[Any] | None = None
        if plan.shadow:
            task = asyncio.create_task(self._ashadow(plan))
            self._tasks.add(task)
            self._prune(self._tasks)
        return self._result(plan, task)

    async def drain(self) -> list[dict[str, Any]]:
        """Wait for pending async shadow tasks (and sync shadow futures); returns their outcomes."""
        out: list[dict[str, Any]] = []
        while self._tasks:
            pending = list(self._tasks)
            for res in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(res, dict):
                    out.append(res)
            self._tasks.difference_update(pending)
        if self._futures:
            out.extend(await asyncio.to_thread(self.join))
        return out

    def join(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Wait for pending shadow calls run in the background thread pool; returns their outcomes."""
        pending = list(self._futures)
        done, _ = wait_futures(pending, timeout=timeout)
        self._futures.difference_update(done)
        return [f.result() for f in done if f.exception() is None]

    def close(self) -> None:
        """Wait for pending shadow calls and stop the thread pool."""
        self.join()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> Cascade[A]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flow: stages of one call, each a generator yielding the tier calls it needs ---------
    def _flow(
        self, query: str | Messages, context: Any, category: str | None, request_id: str | None
    ) -> Generator[_Call, _Done, _Plan]:
        if not isinstance(query, str) and is_messages(query):  # a conversation: tiers get it as context
            query, context = router_text(query), query if context is None else context
        _check_call(query, category, request_id)  # type: ignore[arg-type]  # a str, or it raises
        trace = self._start(query, context, category, request_id)  # type: ignore[arg-type]
        if self._config.steps is not None:
            return (yield from self._tiered_flow(trace))
        if self._config.hard_rules.router is not None:
            yield from self._route(trace)
        if trace.reason is None:
            self._check_hard_rules(trace)
        if trace.reason is None and (yield from self._call_cheap(trace)):
            calibrated = yield from self._score_confidence(trace)
            if calibrated is not None:
                trace.fields["confidence_calibrated"] = calibrated
                trace.accepted = self._accept(calibrated, category, trace.escalate)
        answer = trace.cheap_answer
        if not trace.accepted:
            answer = yield from self._call_capable(trace)
        return self._finish(trace, answer)

    def _start(self, query: str, context: Any, category: str | None, request_id: str | None) -> _Trace:
        started = time.perf_counter()
        with self._rng_lock:  # drawn first, so draws follow call order in sync and async runs alike
            u_shadow, u_review = self._rng.random(), self._rng.random()
        fields: dict[str, Any] = {
            "request_id": request_id or uuid.uuid4().hex,
            "timestamp": datetime.now(timezone.utc),
            "cheap_tier": self.cheap_name,
            "capable_tier": self.capable_name,
            "category": category,
            "hard_rule": None,
            "threshold": self._config.acceptance.threshold,
        }
        return _Trace(query, context, category, started, u_shadow, u_review, fields)

    def _route(self, trace: _Trace) -> Generator[_Call, _Done, None]:
        """1. Pre-routing: a router failure or fallback, or a never-cheap router tier, escalates."""
        rules = self._config.hard_rules
        done = yield _Call("router", rules.router.route, (trace.query,))
        fields = trace.fields
        fields["latency_router_s"] = done.elapsed
        if not done.ok:
            trace.escalate("router_error", self._err(done.value))
            return
        decision = done.value
        try:
            _read_route(fields, decision)
        except Exception as err:  # noqa: BLE001
            trace.escalate("router_error", f"unreadable router decision: {self._err(err)}")
            return
        if decision.fallback:
            trace.escalate("router_fallback", f"router fell back to {decision.tier!r}: {decision.reason}")
        elif fields["route_tier"] in rules.router_escalate:
            fields["hard_rule"] = f"router_tier:{fields['route_tier']}"
            trace.escalate(
                "hard_rule", f"router tier {fields['route_tier']!r} is never eligible for the cheap tier"
            )

    def _check_hard_rules(self, trace: _Trace) -> None:
        """2. Categories, patterns and predicates; then an infeasible threshold report escalates all."""
        started = time.perf_counter()
        rule, err_text = self._config.hard_rules.match(trace.query, trace.category, self._err)
        trace.fields["latency_rules_s"] = time.perf_counter() - started
        if err_text is not None:
            trace.fields["hard_rule"] = rule
            trace.escalate("hard_rule_error", err_text)
        elif rule is not None:
            trace.fields["hard_rule"] = rule
            trace.escalate("hard_rule", f"{rule} is never eligible for the cheap tier")
        report = self._config.acceptance.report
        if trace.reason is None and report is not None and not report.feasible:
            trace.escalate("threshold_infeasible", report.message)

    def _call_cheap(self, trace: _Trace) -> Generator[_Call, _Done, bool]:
        """3. The cheap tier's answer (its failure escalates); True when it answered."""
        cheap = self._config.cheap
        done = yield _Call("cheap", cheap.fn, cheap.args(trace.query, trace.context))
        trace.fields["latency_cheap_s"] = done.elapsed
        if not done.ok:
            trace.escalate("cheap_error", self._err(done.value))
            return False
        trace.cheap_answer = done.value
        mid, tin, tout, cost = _meta(done.value)
        trace.fields.update(
            cheap_model_id=mid, cheap_input_tokens=tin, cheap_output_tokens=tout, cheap_cost=cost
        )
        return True

    def _score_confidence(self, trace: _Trace) -> Generator[_Call, _Done, float | None]:
        """4. Raw confidence in [0, 1], then calibrated; None (escalated) when either step fails."""
        acceptance = self._config.acceptance
        done = yield _Call("confidence", acceptance.confidence, (trace.query, trace.cheap_answer))
        trace.fields["latency_confidence_s"] = done.elapsed
        raw = self._valid_unit(done, "confidence", trace.escalate)
        if raw is None:
            return None
        trace.fields["confidence_raw"] = raw
        if acceptance.calibrator is None:
            return raw
        try:
            value = acceptance.calibrator(raw)
        except Exception as err:  # noqa: BLE001
            trace.escalate("calibration_error", self._err(err))
            return None
        return self._valid_unit(_Done(True, value, 0.0), "calibration", trace.escalate)

    def _call_capable(self, trace: _Trace) -> Generator[_Call, _Done, Any]:
        """6. The capable tier answers an escalated query; its failure leaves no answer (and an error)."""
        capable = self._config.capable
        done = yield _Call("capable", capable.fn, capable.args(trace.query, trace.context))
        fields = trace.fields
        fields["latency_capable_s"] = done.elapsed
        if not done.ok:
            fields["answered_by"] = None
            fields["error"] = f"capable tier failed: {self._err(done.value)}"
            trace.capable_exception = done.value
            return None
        fields["answered_by"] = self.capable_name
        mid, tin, tout, cost = _meta(done.value)
        fields.update(
            capable_model_id=mid, capable_input_tokens=tin, capable_output_tokens=tout, capable_cost=cost
        )
        return done.value

    def _finish(self, trace: _Trace, answer: Any) -> _Plan:
        """7. Bookkeeping: reasons, shadow and review sampling, cost, latency; the final decision."""
        fields, accepted = trace.fields, trace.accepted
        fields["escalated"] = not accepted
        if accepted:
            fields["answered_by"] = self.cheap_name
        fields["escalation_reason"], fields["escalation_detail"] = trace.reason, trace.detail
        fields["fallback"] = trace.reason in FALLBACK_REASONS
        fields["fallback_reason"] = trace.detail if fields["fallback"] else None
        shadow = accepted and trace.u_shadow < self.shadow_rate
        fields["shadowed"] = shadow
        fields["shadow_inclusion_prob"] = self.shadow_rate if accepted else None
        if fields["answered_by"] is not None:
            pi = self._config.sampling.review.get(fields["answered_by"], 0.0)
            fields["review_inclusion_prob"] = pi
            fields["review_sampled"] = trace.u_review < pi
        costs = [c for c in (fields.get("cheap_cost"), fields.get("capable_cost")) if c is not None]
        fields["cost"] = float(sum(costs)) if costs else None
        fields["latency_total_s"] = time.perf_counter() - trace.started
        decision = CascadeDecision(**fields)
        return _Plan(
            answer, decision, shadow, trace.cheap_answer, trace.query, trace.context, trace.capable_exception
        )

    def _valid_unit(self, done: _Done, what: str, escalate: Callable[[str, str], None]) -> float | None:
        if not done.ok:
            escalate(f"{what}_error", self._err(done.value))
            return None
        v = done.value
        code = "confidence_invalid" if what == "confidence" else "calibration_error"
        # Only the type of a non-number is recorded: the value may be text quoting the query.
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            escalate(code, f"{what} returned {type(v).__name__}, expected a float in [0, 1]")
            return None
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError) as err:
            escalate(code, f"{what} returned {type(v).__name__} that float() refused: {self._err(err)}")
            return None
        if math.isnan(f) or not 0.0 <= f <= 1.0:
            escalate(code, f"{what} returned {f!r}, outside [0, 1]")
            return None
        return f

    def _accept(self, cal: float, category: str | None, escalate: Callable[[str, str], None]) -> bool:
        """5. Decide: accept the cheap answer unless below the threshold or refused by the cost rule."""
        threshold, rule = self._config.acceptance.threshold, self._config.acceptance.cost_rule
        if threshold is not None and cal < threshold:
            escalate("low_confidence", f"calibrated confidence {cal:.4g} < threshold {threshold:.4g}")
            return False
        if rule is not None and not rule.accept(1.0 - cal, category):
            escalate(
                "cost_rule",
                f"price_cheap + P(fail)*error_cost = "
                f"{rule.expected_cost_if_accepted(1.0 - cal, category):.4g} "
                f">= price_capable {rule.price_capable:.4g} (category {category!r})",
            )
            return False
        return True

    # -- the N-tier flow (Cascade.tiered): step by step, cheapest first ------------------------
    def _tiered_start(self, trace: _Trace) -> Generator[_Call, _Done, int]:
        """Where the query starts: a router tier or category may name any tier; a never-cheap
        rule, or a router failure or fallback, starts at the last tier."""
        config, last = self._config, len(self._config.tiers) - 1
        index = {t.name: i for i, t in enumerate(config.tiers)}
        start = 0
        if config.hard_rules.router is not None:
            yield from self._route(trace)
            if trace.reason is not None:
                return last
            tier = trace.fields.get("route_tier")
            if tier in index and index[tier] > 0:
                start = index[tier]
                trace.fields["hard_rule"] = f"router_tier:{tier}"
        category = trace.category
        if category is not None and category in config.tier_categories:
            if config.tier_categories[category] > start:
                start = config.tier_categories[category]
                trace.fields["hard_rule"] = f"category:{category}"
        started = time.perf_counter()
        rule, err_text = config.hard_rules.match(trace.query, category, self._err)
        trace.fields["latency_rules_s"] = time.perf_counter() - started
        if err_text is not None:
            trace.fields["hard_rule"] = rule
            trace.escalate("hard_rule_error", err_text)
            return last
        if rule is not None:
            trace.fields["hard_rule"] = rule
            trace.escalate("hard_rule", f"{rule} starts at the last tier")
            return last
        if start > 0:
            trace.escalate(
                "hard_rule", f"{trace.fields['hard_rule']} starts at tier {config.tiers[start].name!r}"
            )
        return start

    def _tiered_step(
        self, trace: _Trace, step: Step, record: dict[str, Any], costs: list[float]
    ) -> Generator[_Call, _Done, tuple[bool, Any]]:
        """One step: its tier answers, its confidence scores; ``(accepted, answer)``."""

        def escalate(code: str, why: str) -> None:
            record["reason"] = code
            trace.escalate(code, why)

        acceptance = step.acceptance
        if acceptance.report is not None and not acceptance.report.feasible:
            escalate("threshold_infeasible", acceptance.report.message)
            return False, None
        done = yield _Call(f"tier:{step.tier.name}", step.tier.fn, step.tier.args(trace.query, trace.context))
        record["called"] = True
        self._tiered_meta(trace, step.tier, done, costs)
        if not done.ok:
            escalate("cheap_error", f"tier {step.tier.name!r} failed: {self._err(done.value)}")
            return False, None
        answer = done.value
        scored = yield _Call("confidence", acceptance.confidence, (trace.query, answer))
        raw = self._valid_unit(scored, "confidence", escalate)
        if raw is None:
            return False, None
        record["confidence_raw"] = trace.fields["confidence_raw"] = raw
        cal = raw
        if acceptance.calibrator is not None:
            try:
                value = acceptance.calibrator(raw)
            except Exception as err:  # noqa: BLE001
                escalate("calibration_error", self._err(err))
                return False, None
            calibrated = self._valid_unit(_Done(True, value, 0.0), "calibration", escalate)
            if calibrated is None:
                return False, None
            cal = calibrated
        record["confidence_calibrated"] = trace.fields["confidence_calibrated"] = cal
        # A feasible report's or a float's threshold (infeasible steps returned above).
        threshold = acceptance.threshold if acceptance.threshold is not None else math.inf
        trace.fields["threshold"] = acceptance.threshold
        if cal < threshold:
            escalate(
                "low_confidence",
                f"tier {step.tier.name!r}: calibrated confidence {cal:.4g} < threshold {threshold:.4g}",
            )
            return False, None
        record["accepted"] = True
        return True, answer

    def _tiered_meta(self, trace: _Trace, tier: Tier, done: _Done, costs: list[float]) -> None:
        """The first tier called fills the ``cheap_*`` fields, the last tier the ``capable_*`` ones."""
        fields = trace.fields
        first = "latency_cheap_s" not in fields
        is_last = tier.name == self.capable_name
        prefix = "cheap" if first and not is_last else "capable" if is_last else None
        if prefix is not None:
            fields[f"latency_{prefix}_s"] = done.elapsed
        if not done.ok:
            return
        mid, tin, tout, cost = _meta(done.value)
        if cost is not None:
            costs.append(cost)
        if prefix is not None:
            fields.update(
                {
                    f"{prefix}_model_id": mid,
                    f"{prefix}_input_tokens": tin,
                    f"{prefix}_output_tokens": tout,
                    f"{prefix}_cost": cost,
                }
            )

    def _tiered_flow(self, trace: _Trace) -> Generator[_Call, _Done, _Plan]:
        config = self._config
        assert config.steps is not None
        start = yield from self._tiered_start(trace)
        trace.fields["threshold"] = None
        path: list[str] = []
        records: list[dict[str, Any]] = []
        costs: list[float] = []
        answer: Any = None
        answered_by: str | None = None
        for step in config.steps[start:]:
            record: dict[str, Any] = {
                "tier": step.tier.name,
                "called": False,
                "confidence_raw": None,
                "confidence_calibrated": None,
                "threshold": step.acceptance.threshold,
                "accepted": False,
                "reason": None,
            }
            records.append(record)
            accepted, value = yield from self._tiered_step(trace, step, record, costs)
            if record["called"]:
                path.append(step.tier.name)
            if accepted:
                answer, answered_by = value, step.tier.name
                break
        if answered_by is None:
            last = config.capable
            done = yield _Call("capable", last.fn, last.args(trace.query, trace.context))
            path.append(last.name)
            self._tiered_meta(trace, last, done, costs)
            if done.ok:
                answer, answered_by = done.value, last.name
            else:
                trace.fields["error"] = f"capable tier failed: {self._err(done.value)}"
                trace.capable_exception = done.value
        return self._tiered_finish(trace, answer, answered_by, path, records, costs)

    def _tiered_finish(
        self,
        trace: _Trace,
        answer: Any,
        answered_by: str | None,
        path: list[str],
        records: list[dict[str, Any]],
        costs: list[float],
    ) -> _Plan:
        fields = trace.fields
        accepted = answered_by is not None and answered_by != self.capable_name
        fields["answered_by"] = answered_by
        fields["escalated"] = answered_by != self._config.tiers[0].name
        fields["escalation_reason"], fields["escalation_detail"] = trace.reason, trace.detail
        fields["fallback"] = trace.reason in FALLBACK_REASONS
        fields["fallback_reason"] = trace.detail if fields["fallback"] else None
        shadow = accepted and trace.u_shadow < self.shadow_rate
        fields["shadowed"] = shadow
        fields["shadow_inclusion_prob"] = self.shadow_rate if accepted else None
        if answered_by is not None:
            pi = self._config.sampling.review.get(answered_by, 0.0)
            fields["review_inclusion_prob"] = pi
            fields["review_sampled"] = trace.u_review < pi
        fields["cost"] = float(sum(costs)) if costs else None
        fields["latency_total_s"] = time.perf_counter() - trace.started
        decision = TieredDecision(**fields, path=tuple(path), steps=tuple(records))
        return _Plan(answer, decision, shadow, answer, trace.query, trace.context, trace.capable_exception)

    # -- finishing: log, raise, shadow -------------------------------------------------------
    def _log_event(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Log, but never let a logging failure (disk full, closed log) break the user's answer."""
        if self._log is None:
            return
        try:
            getattr(self._log, method)(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            self.log_errors += 1
            # Operational (disk full, closed log): the tierscope logger, not a warning.
            _logger.error("tierscope: Cascade could not log an event: %s", _fmt_exc(err, "truncate"))

    def _result(self, plan: _Plan, shadow: Future[Any] | asyncio.Task[Any] | None) -> CascadeResult[A]:
        self._log_event("log_decision", plan.decision)
        if plan.decision.answered_by is None:
            raise CascadeError(
                f"{plan.decision.error} (request {plan.decision.request_id}; escalation reason "
                f"{plan.decision.escalation_reason}: {plan.decision.escalation_detail})",
                plan.decision,
            ) from plan.capable_exception
        return CascadeResult(plan.answer, plan.decision, shadow)

    def _finish_sync(self, plan: _Plan) -> CascadeResult[A]:
        if not plan.shadow:
            return self._result(plan, None)
        if self._config.shadow.mode == "inline":
            fut: Future[Any] = Future()
            fut.set_result(self._shadow_sync(plan))
            return self._result(plan, fut)
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._config.shadow.workers, thread_name_prefix="tierscope-shadow"
                )
            fut = self._pool.submit(self._shadow_sync, plan)
        self._futures.add(fut)
        self._prune(self._futures)
        return self._result(plan, fut)

    _KEEP_DONE = 10_000

    @classmethod
    def _prune(cls, pending: set[Any]) -> None:
        """Completed shadow calls are kept until :meth:`join`/:meth:`drain` collects them; past
        ``_KEEP_DONE`` uncollected ones are dropped (their outcomes are in the decision log)."""
        if len(pending) > cls._KEEP_DONE:
            pending.difference_update([f for f in list(pending) if f.done()])

    def _shadow_sync(self, plan: _Plan) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            capable = self._config.capable
            value = capable.fn(*capable.args(plan.query, plan.context))
            if inspect.isawaitable(value):
                value = _run_coro(value)
            ok, err = True, None
        except Exception as e:  # noqa: BLE001
            value, ok, err = None, False, e
        elapsed = time.perf_counter() - t0
        judged: Any = None
        judge = self._config.shadow.judge
        if ok and judge is not None:
            try:
                judged = judge(plan.query, plan.cheap_answer, value)
                if inspect.isawaitable(judged):
                    judged = _run_coro(judged)
            except Exception as e:  # noqa: BLE001
                judged = e
        return self._shadow_outcome(plan, value, err, elapsed, judged)

    async def _ashadow(self, plan: _Plan) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            capable = self._config.capable
            args = capable.args(plan.query, plan.context)
            if _is_async(capable.fn):
                value = await capable.fn(*args)
            else:
                value = await asyncio.to_thread(capable.fn, *args)
                if inspect.isawaitable(value):
                    value = await value
            ok, err = True, None
        except Exception as e:  # noqa: BLE001
            value, ok, err = None, False, e
        elapsed = time.perf_counter() - t0
        judged: Any = None
        judge = self._config.shadow.judge
        if ok and judge is not None:
            try:
                judged = judge(plan.query, plan.cheap_answer, value)
                if inspect.isawaitable(judged):
                    judged = await judged
            except Exception as e:  # noqa: BLE001
                judged = e
        return self._shadow_outcome(plan, value, err, elapsed, judged)

    def _shadow_outcome(
        self, plan: _Plan, value: Any, err: BaseException | None, elapsed: float, judged: Any
    ) -> dict[str, Any]:
        mid, tin, tout, cost = _meta(value)
        cheap_score = capable_score = score = None
        judge_error = None
        if isinstance(judged, BaseException):
            judge_error = self._err(judged)
        elif isinstance(judged, tuple) and len(judged) == 2:
            cheap_score, capable_score = _float_or_none(judged[0]), _float_or_none(judged[1])
            score = cheap_score
        elif judged is not None:
            score = _float_or_none(judged)
        scores = (("score", score), ("cheap_score", cheap_score), ("capable_score", capable_score))
        bad = [f"{name} {v!r}" for name, v in scores if v is not None and not 0.0 <= v <= 1.0]
        if bad:  # the log refuses scores outside [0, 1]: record why instead of losing the outcome
            judge_error = f"shadow_judge returned {', '.join(bad)}, outside [0, 1]"
            cheap_score = capable_score = score = None
        outcome: dict[str, Any] = {
            "request_id": plan.decision.request_id,
            "kind": "shadow",
            "tier": plan.decision.answered_by,
            "score": score,
            "cheap_score": cheap_score,
            "capable_score": capable_score,
            "inclusion_prob": plan.decision.shadow_inclusion_prob,
            "detail": {
                "capable_model_id": mid,
                "capable_input_tokens": tin,
                "capable_output_tokens": tout,
                "capable_cost": cost,
                "latency_s": elapsed,
                "error": None if err is None else self._err(err),
                "judge_error": judge_error,
            },
            "answer": value,
        }
        self._log_event("log_outcome", **{k: v for k, v in outcome.items() if k != "answer"})
        return outcome


def _float_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _run_coro(aw: Any) -> Any:
    async def wrap() -> Any:
        return await aw

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrap())
    if inspect.iscoroutine(aw):
        aw.close()
    raise TierscopeError(
        "an async tier callable was called from Cascade.run() inside an event loop; use arun()"
    )
