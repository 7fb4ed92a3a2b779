"""An uncertainty-routed cascade: cheap tier first, escalate when calibrated confidence is low.

tierscope never calls an LLM API itself: you pass the tiers' callables. The flow for one query:

1. **Hard rules** (never eligible for the cheap tier): the optional :class:`~tierscope.Router`'s
   pre-route tier (by default every router tier except the cheap one), categories/intents,
   regular expressions and predicates. A hit goes straight to the capable tier.
2. **Cheap tier**: its answer, then the user's confidence function (self-evaluation score,
   log-prob, verifier) gives a raw score in [0, 1], optionally calibrated into P(acceptable)
   by a :class:`~tierscope.calibration.Calibrator`.
3. **Accept** when the calibrated confidence is ``>= threshold`` (a float or a
   :class:`~tierscope.calibration.ThresholdReport`; an infeasible report escalates everything),
   or by a :class:`~tierscope.calibration.CostAwareRule`; else **escalate** to the capable tier.
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
import warnings
from collections.abc import Callable, Collection, Generator, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ..exceptions import CascadeError, InvalidInputError, TierscopeError
from .calibration import Calibrator, CostAwareRule, ThresholdReport
from .records import (
    FALLBACK_REASONS,
    CascadeDecision,
    CascadeResult,
    DecisionSink,
)

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


def _fmt_exc(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _accepts_context(fn: Callable[..., Any]) -> bool:
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


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _meta(answer: Any) -> tuple[str | None, int | None, int | None, float | None]:
    def get(name: str, kind: type) -> Any:
        v = getattr(answer, name, None)
        if v is None:
            return None
        try:
            return kind(v)
        except (TypeError, ValueError):
            return None

    return get("model_id", str), get("input_tokens", int), get("output_tokens", int), get("cost", float)


def _check_unit(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InvalidInputError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


class Cascade:
    """Cheap tier first; escalate to the capable tier when calibrated confidence is low.

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
        Maps the raw confidence to P(acceptable) (:mod:`tierscope.calibration`); identity if None.
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
    """

    def __init__(
        self,
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
    ) -> None:
        for name, fn in (("cheap", cheap), ("capable", capable), ("confidence", confidence)):
            if not callable(fn):
                raise InvalidInputError(f"{name}: expected a callable, got {type(fn).__name__}")
        if not isinstance(cheap_name, str) or not isinstance(capable_name, str) or cheap_name == capable_name:
            raise InvalidInputError(
                f"cheap_name/capable_name: expected two different names, got {cheap_name!r}, {capable_name!r}"
            )
        self.cheap_name, self.capable_name = cheap_name, capable_name
        self._cheap, self._capable, self._confidence = cheap, capable, confidence
        self._cheap_ctx, self._capable_ctx = _accepts_context(cheap), _accepts_context(capable)

        if threshold is None and cost_rule is None:
            raise InvalidInputError(
                "threshold: required unless cost_rule is given (a float in [0, 1] or a ThresholdReport)"
            )
        self._report: ThresholdReport | None = None
        if isinstance(threshold, ThresholdReport):
            self._report = threshold
            self._threshold: float | None = threshold.threshold if threshold.feasible else None
        elif threshold is not None:
            self._threshold = _check_unit("threshold", threshold)
        else:
            self._threshold = None
        if cost_rule is not None and not isinstance(cost_rule, CostAwareRule):
            raise InvalidInputError(f"cost_rule: expected a CostAwareRule, got {type(cost_rule).__name__}")
        self._cost_rule = cost_rule
        if calibrator is not None and not callable(calibrator):
            raise InvalidInputError(
                f"calibrator: expected a Calibrator (callable raw -> P), got {type(calibrator).__name__}"
            )
        self._calibrator = calibrator

        # pre-routing and hard rules
        self._router = router
        self._router_escalate: frozenset[str] = frozenset()
        if router is not None:
            if not hasattr(router, "route") or not hasattr(router, "tiers"):
                raise InvalidInputError(f"router: expected a tierscope.Router, got {type(router).__name__}")
            rtiers = tuple(router.tiers)
            if router_escalate_tiers is None:
                if cheap_name not in rtiers:
                    raise InvalidInputError(
                        f"router_escalate_tiers: required because the router's tiers {rtiers} do not include "
                        f"the cascade's cheap tier {cheap_name!r}"
                    )
                self._router_escalate = frozenset(t for t in rtiers if t != cheap_name)
            else:
                if isinstance(router_escalate_tiers, str):
                    raise InvalidInputError(
                        "router_escalate_tiers: expected a collection of tier names, not a str"
                    )
                unknown = sorted(set(router_escalate_tiers) - set(rtiers))
                if unknown:
                    raise InvalidInputError(
                        f"router_escalate_tiers: unknown tier(s) {unknown}; router tiers: {list(rtiers)}"
                    )
                self._router_escalate = frozenset(router_escalate_tiers)
        elif router_escalate_tiers:
            raise InvalidInputError("router_escalate_tiers: given without a router")
        if isinstance(never_cheap_categories, str):
            raise InvalidInputError("never_cheap_categories: expected a collection of str, not a str")
        self._never_categories = frozenset(never_cheap_categories)
        if isinstance(never_cheap_patterns, (str, re.Pattern)):
            never_cheap_patterns = [never_cheap_patterns]
        patterns: list[re.Pattern[str]] = []
        for p in never_cheap_patterns:
            try:
                patterns.append(p if isinstance(p, re.Pattern) else re.compile(p))
            except (re.error, TypeError) as err:
                raise InvalidInputError(
                    f"never_cheap_patterns: invalid regular expression {p!r} ({err})"
                ) from err
        self._patterns = patterns
        if isinstance(never_cheap_predicates, Mapping):
            preds = list(never_cheap_predicates.items())
        else:
            preds = [
                (getattr(f, "__name__", f"predicate{i}"), f) for i, f in enumerate(never_cheap_predicates)
            ]
        for name, f in preds:
            if not callable(f):
                raise InvalidInputError(f"never_cheap_predicates[{name!r}]: expected a callable")
        self._predicates = preds

        # sampling
        self.shadow_rate = _check_unit("shadow_rate", shadow_rate)
        if isinstance(review_rate, Mapping):
            unknown = sorted(set(review_rate) - {cheap_name, capable_name})
            if unknown:
                raise InvalidInputError(
                    f"review_rate: unknown tier(s) {unknown}; expected {cheap_name!r} and/or {capable_name!r}"
                )
            self._review = {t: _check_unit(f"review_rate[{t!r}]", float(v)) for t, v in review_rate.items()}
        else:
            r = _check_unit("review_rate", review_rate)
            self._review = {cheap_name: r, capable_name: r}
        if shadow_mode not in ("thread", "inline"):
            raise InvalidInputError(f"shadow_mode: expected 'thread' or 'inline', got {shadow_mode!r}")
        if not isinstance(shadow_workers, int) or shadow_workers < 1:
            raise InvalidInputError(f"shadow_workers: expected a positive int, got {shadow_workers!r}")
        if shadow_judge is not None and not callable(shadow_judge):
            raise InvalidInputError(
                "shadow_judge: expected a callable (query, cheap_answer, capable_answer) -> score"
            )
        self._judge = shadow_judge
        self._shadow_mode = shadow_mode
        self._shadow_workers = shadow_workers
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._futures: set[Future[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        if decision_log is not None and not isinstance(decision_log, DecisionSink):
            raise InvalidInputError(
                "decision_log: expected a DecisionLog (log_decision and log_outcome methods), "
                f"got {type(decision_log).__name__}"
            )
        self._log = decision_log
        self.log_errors = 0
        """Events the decision log failed to write (each also raised a ``RuntimeWarning``)."""

    # -- public API ------------------------------------------------------------------------
    @property
    def threshold(self) -> float | None:
        """The acceptance threshold on calibrated confidence (None: cost rule only, or infeasible)."""
        return self._threshold

    def __call__(
        self, query: str, context: Any = None, *, category: str | None = None, request_id: str | None = None
    ) -> CascadeResult:
        return self.run(query, context, category=category, request_id=request_id)

    def run(
        self, query: str, context: Any = None, *, category: str | None = None, request_id: str | None = None
    ) -> CascadeResult:
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
    ) -> CascadeResult:
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

    def __enter__(self) -> Cascade:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flow --------------------------------------------------------------------------
    def _flow(
        self, query: str, context: Any, category: str | None, request_id: str | None
    ) -> Generator[_Call, _Done, _Plan]:
        if not isinstance(query, str):
            raise InvalidInputError(f"query: expected a str, got {type(query).__name__}")
        if category is not None and not isinstance(category, str):
            raise InvalidInputError(f"category: expected a str or None, got {type(category).__name__}")
        if request_id is not None and (not isinstance(request_id, str) or not request_id):
            raise InvalidInputError(f"request_id: expected a non-empty str, got {request_id!r}")
        t_start = time.perf_counter()
        with self._rng_lock:  # drawn first, so draws follow call order in sync and async runs alike
            u_shadow, u_review = self._rng.random(), self._rng.random()
        d: dict[str, Any] = {
            "request_id": request_id or uuid.uuid4().hex,
            "timestamp": datetime.now(timezone.utc),
            "cheap_tier": self.cheap_name,
            "capable_tier": self.capable_name,
            "category": category,
            "hard_rule": None,
            "threshold": self._threshold,
        }
        reason: str | None = None
        detail: str | None = None

        def escalate(code: str, why: str) -> None:
            nonlocal reason, detail
            if reason is None:
                reason, detail = code, why

        # 1. pre-routing
        if self._router is not None:
            done = yield _Call("router", self._router.route, (query,))
            d["latency_router_s"] = done.elapsed
            if not done.ok:
                escalate("router_error", _fmt_exc(done.value))
            else:
                rd = done.value
                try:
                    d["route_tier"] = str(rd.tier)
                    d["route_probabilities"] = {str(k): float(v) for k, v in dict(rd.probabilities).items()}
                    d["route_confidence"] = float(rd.confidence)
                    d["route_tail_score"] = float(rd.tail_score)
                    d["route_fallback"] = bool(rd.fallback)
                    d["route_guarded"] = bool(getattr(rd, "guarded", False))
                except Exception as err:  # noqa: BLE001
                    escalate("router_error", f"unreadable router decision: {_fmt_exc(err)}")
                else:
                    if rd.fallback:
                        escalate("router_fallback", f"router fell back to {rd.tier!r}: {rd.reason}")
                    elif d["route_tier"] in self._router_escalate:
                        d["hard_rule"] = f"router_tier:{d['route_tier']}"
                        escalate(
                            "hard_rule",
                            f"router tier {d['route_tier']!r} is never eligible for the cheap tier",
                        )

        # 2. hard rules
        if reason is None:
            t0 = time.perf_counter()
            rule, err_text = self._hard_rule(query, category)
            d["latency_rules_s"] = time.perf_counter() - t0
            if err_text is not None:
                d["hard_rule"] = rule
                escalate("hard_rule_error", err_text)
            elif rule is not None:
                d["hard_rule"] = rule
                escalate("hard_rule", f"{rule} is never eligible for the cheap tier")
        if reason is None and self._report is not None and not self._report.feasible:
            escalate("threshold_infeasible", self._report.message)

        # 3. cheap tier, confidence, calibration, acceptance
        cheap_answer: Any = None
        accepted = False
        if reason is None:
            args = (query, context) if self._cheap_ctx else (query,)
            done = yield _Call("cheap", self._cheap, args)
            d["latency_cheap_s"] = done.elapsed
            if not done.ok:
                escalate("cheap_error", _fmt_exc(done.value))
            else:
                cheap_answer = done.value
                mid, tin, tout, cost = _meta(cheap_answer)
                d.update(
                    cheap_model_id=mid, cheap_input_tokens=tin, cheap_output_tokens=tout, cheap_cost=cost
                )
                done = yield _Call("confidence", self._confidence, (query, cheap_answer))
                d["latency_confidence_s"] = done.elapsed
                raw = self._valid_unit(done, "confidence", escalate)
                if raw is not None:
                    d["confidence_raw"] = raw
                    cal: float | None = raw
                    if self._calibrator is not None:
                        try:
                            value = self._calibrator(raw)
                        except Exception as err:  # noqa: BLE001
                            escalate("calibration_error", _fmt_exc(err))
                            cal = None
                        else:
                            cal = self._valid_unit(_Done(True, value, 0.0), "calibration", escalate)
                    if cal is not None:
                        d["confidence_calibrated"] = cal
                        accepted = self._accept(cal, category, escalate)

        # 4. capable tier when escalated
        answer: Any = cheap_answer
        d["escalated"] = not accepted
        if accepted:
            d["answered_by"] = self.cheap_name
        else:
            args = (query, context) if self._capable_ctx else (query,)
            done = yield _Call("capable", self._capable, args)
            d["latency_capable_s"] = done.elapsed
            if done.ok:
                answer = done.value
                d["answered_by"] = self.capable_name
                mid, tin, tout, cost = _meta(answer)
                d.update(
                    capable_model_id=mid,
                    capable_input_tokens=tin,
                    capable_output_tokens=tout,
                    capable_cost=cost,
                )
            else:
                answer = None
                d["answered_by"] = None
                d["error"] = f"capable tier failed: {_fmt_exc(done.value)}"

        # 5. bookkeeping: reasons, sampling, cost, latency
        d["escalation_reason"], d["escalation_detail"] = reason, detail
        d["fallback"] = reason in FALLBACK_REASONS
        d["fallback_reason"] = detail if d["fallback"] else None
        shadow = accepted and u_shadow < self.shadow_rate
        d["shadowed"] = shadow
        d["shadow_inclusion_prob"] = self.shadow_rate if accepted else None
        if d["answered_by"] is not None:
            pi = self._review.get(d["answered_by"], 0.0)
            d["review_inclusion_prob"] = pi
            d["review_sampled"] = u_review < pi
        costs = [c for c in (d.get("cheap_cost"), d.get("capable_cost")) if c is not None]
        d["cost"] = float(sum(costs)) if costs else None
        d["latency_total_s"] = time.perf_counter() - t_start
        decision = CascadeDecision(**d)
        return _Plan(answer, decision, shadow, cheap_answer, query, context)

    def _hard_rule(self, query: str, category: str | None) -> tuple[str | None, str | None]:
        if category is not None and category in self._never_categories:
            return f"category:{category}", None
        for pat in self._patterns:
            if pat.search(query):
                return f"pattern:{pat.pattern}", None
        for name, pred in self._predicates:
            try:
                hit = pred(query, category)
            except Exception as err:  # noqa: BLE001
                return f"predicate:{name}", f"predicate {name!r} raised {_fmt_exc(err)}"
            if hit:
                return f"predicate:{name}", None
        return None, None

    @staticmethod
    def _valid_unit(done: _Done, what: str, escalate: Callable[[str, str], None]) -> float | None:
        if not done.ok:
            escalate(f"{what}_error", _fmt_exc(done.value))
            return None
        v = done.value
        code = "confidence_invalid" if what == "confidence" else "calibration_error"
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            escalate(code, f"{what} returned {type(v).__name__} {v!r}, expected a float in [0, 1]")
            return None
        try:
            f = float(v)
        except (TypeError, ValueError) as err:
            escalate(code, f"{what} returned {v!r}: {err}")
            return None
        if math.isnan(f) or not 0.0 <= f <= 1.0:
            escalate(code, f"{what} returned {f!r}, outside [0, 1]")
            return None
        return f

    def _accept(self, cal: float, category: str | None, escalate: Callable[[str, str], None]) -> bool:
        if self._threshold is not None and cal < self._threshold:
            escalate("low_confidence", f"calibrated confidence {cal:.4g} < threshold {self._threshold:.4g}")
            return False
        if self._cost_rule is not None and not self._cost_rule.accept(1.0 - cal, category):
            rule = self._cost_rule
            escalate(
                "cost_rule",
                f"price_cheap + P(fail)*error_cost = "
                f"{rule.expected_cost_if_accepted(1.0 - cal, category):.4g} "
                f">= price_capable {rule.price_capable:.4g} (category {category!r})",
            )
            return False
        return True

    # -- finishing: log, raise, shadow -------------------------------------------------------
    def _log_event(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Log, but never let a logging failure (disk full, closed log) break the user's answer."""
        if self._log is None:
            return
        try:
            getattr(self._log, method)(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            self.log_errors += 1
            warnings.warn(
                f"tierscope: Cascade could not log an event: {_fmt_exc(err)}", RuntimeWarning, stacklevel=3
            )

    def _result(self, plan: _Plan, shadow: Future[Any] | asyncio.Task[Any] | None) -> CascadeResult:
        self._log_event("log_decision", plan.decision)
        if plan.decision.answered_by is None:
            raise CascadeError(
                f"{plan.decision.error} (request {plan.decision.request_id}; escalation reason "
                f"{plan.decision.escalation_reason}: {plan.decision.escalation_detail})",
                plan.decision,
            )
        return CascadeResult(plan.answer, plan.decision, shadow)

    def _finish_sync(self, plan: _Plan) -> CascadeResult:
        if not plan.shadow:
            return self._result(plan, None)
        if self._shadow_mode == "inline":
            fut: Future[Any] = Future()
            fut.set_result(self._shadow_sync(plan))
            return self._result(plan, fut)
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._shadow_workers, thread_name_prefix="tierscope-shadow")
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
            args = (plan.query, plan.context) if self._capable_ctx else (plan.query,)
            value = self._capable(*args)
            if inspect.isawaitable(value):
                value = _run_coro(value)
            ok, err = True, None
        except Exception as e:  # noqa: BLE001
            value, ok, err = None, False, e
        elapsed = time.perf_counter() - t0
        judged: Any = None
        if ok and self._judge is not None:
            try:
                judged = self._judge(plan.query, plan.cheap_answer, value)
                if inspect.isawaitable(judged):
                    judged = _run_coro(judged)
            except Exception as e:  # noqa: BLE001
                judged = e
        return self._shadow_outcome(plan, value, err, elapsed, judged)

    async def _ashadow(self, plan: _Plan) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            args = (plan.query, plan.context) if self._capable_ctx else (plan.query,)
            if _is_async(self._capable):
                value = await self._capable(*args)
            else:
                value = await asyncio.to_thread(self._capable, *args)
                if inspect.isawaitable(value):
                    value = await value
            ok, err = True, None
        except Exception as e:  # noqa: BLE001
            value, ok, err = None, False, e
        elapsed = time.perf_counter() - t0
        judged: Any = None
        if ok and self._judge is not None:
            try:
                judged = self._judge(plan.query, plan.cheap_answer, value)
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
            judge_error = _fmt_exc(judged)
        elif isinstance(judged, tuple) and len(judged) == 2:
            cheap_score, capable_score = _float_or_none(judged[0]), _float_or_none(judged[1])
            score = cheap_score
        elif judged is not None:
            score = _float_or_none(judged)
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
                "error": None if err is None else _fmt_exc(err),
                "judge_error": judge_error,
            },
            "answer": value,
        }
        self._log_event("log_outcome", **{k: v for k, v in outcome.items() if k != "answer"})
        return outcome


def _float_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


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
