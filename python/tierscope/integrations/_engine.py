"""What every integration shares: pick a tier for a chat request, call it, log the decision.

One :class:`Engine` per integration object. For a request it reads the conversation
(:func:`~tierscope.routing.messages.router_text`), applies the session policy, routes, opens the
OpenTelemetry spans, and, once the provider answered, writes one decision row (tier, model,
tokens, cost, router fields, trace/span/session ids) to the decision log. With a ``confidence``
function it runs a real :class:`~tierscope.routing.Cascade` instead (cheapest tier first,
escalation by calibrated confidence), whose decisions get the same context columns.
"""

from __future__ import annotations

import contextvars
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .._logging import logger
from .._validate import fail, text
from ..routing.messages import SessionPolicy, SessionState, router_text
from ..routing.prices import Prices, PricesLike
from ..routing.records import CascadeDecision, Decision, DecisionSink, TierAnswer
from . import otel

__all__ = ["Engine", "Pick", "Tier"]


@dataclass(frozen=True)
class Tier:
    """One tier: its name, the client that serves it and the model id to ask for."""

    name: str
    client: Any
    model: str


@dataclass
class Pick:
    """The routing half of one request: which tier, and why (filled before the provider call)."""

    request_id: str
    started: float
    timestamp: datetime
    text: str
    tier: Tier
    decision: Decision | None = None
    session: SessionState | None = None
    latency_router_s: float | None = None
    span: Any = None
    route_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "tierscope_context", default=None
)


class _ContextSink:
    """A decision sink adding the current request's trace/span/session columns (cascade mode)."""

    def __init__(self, sink: DecisionSink) -> None:
        self.sink = sink

    def log_decision(self, decision: CascadeDecision | Mapping[str, Any]) -> None:
        record = asdict(decision) if isinstance(decision, CascadeDecision) else dict(decision)
        # The cascade's own span ids (TracingSink, inside) win over the request's.
        record.update({k: v for k, v in (_CONTEXT.get() or {}).items() if record.get(k) is None})
        self.sink.log_decision(record)  # type: ignore[arg-type]

    def log_outcome(self, request_id: str, kind: str, **fields: Any) -> None:
        self.sink.log_outcome(request_id, kind, **fields)


def _tiers(tiers: Any) -> tuple[Tier, ...]:
    if not isinstance(tiers, Mapping) or len(tiers) < 2:
        raise fail(
            "tiers", "a mapping of at least two tier names -> (client, model id), cheapest first", tiers
        )
    out = []
    for name, spec in tiers.items():
        text("tiers key", name, allow_empty=False)
        if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], str) and spec[1]):
            raise fail(f"tiers[{name!r}]", "a (client, model id) pair", spec)
        out.append(Tier(name, spec[0], spec[1]))
    return tuple(out)


class Engine:
    """Routing, session, spans and logging for one integration (see the module docstring)."""

    def __init__(
        self,
        tiers: Mapping[str, Any],
        *,
        router: Any = None,
        log: DecisionSink | None = None,
        prices: PricesLike = None,
        sessions: SessionPolicy | int | None = None,
        max_words: int = 96,
        include_system: bool = False,
        system: str = "openai",
    ) -> None:
        self.tiers = _tiers(tiers)
        self.by_name = {t.name: t for t in self.tiers}
        if router is not None:
            unknown = [t for t in getattr(router, "tiers", ()) if t not in self.by_name]
            if unknown:
                raise fail(
                    "router", f"a router whose tiers are all in `tiers` ({list(self.by_name)})", unknown
                )
        self.router = router
        self.log = log
        self.prices = Prices.coerce(prices)
        if isinstance(sessions, int) and not isinstance(sessions, bool):
            sessions = SessionPolicy(sessions)
        if sessions is not None and not isinstance(sessions, SessionPolicy):
            raise fail("sessions", "a SessionPolicy, a number of sticky turns, or None", sessions)
        self.sessions = sessions
        self.max_words = max_words
        self.include_system = include_system
        self.system = system
        self.log_errors = 0

    @property
    def cheap(self) -> Tier:
        return self.tiers[0]

    @property
    def capable(self) -> Tier:
        return self.tiers[-1]

    # -- before the call ------------------------------------------------------------------------
    def query_text(self, messages: Any) -> str:
        """The text the router reads (a str is used as is)."""
        if isinstance(messages, str):
            return text("messages", messages)
        return router_text(messages, max_words=self.max_words, include_system=self.include_system)

    def pick(self, messages: Any, *, session_id: str | None = None, route: bool = True) -> Pick:
        """Route one request (the router, then the session policy) and open its span."""
        started = time.perf_counter()
        query = self.query_text(messages)
        p = Pick(uuid.uuid4().hex, started, datetime.now(timezone.utc), query, self.cheap)
        p.session = None if self.sessions is None or session_id is None else self.sessions.begin(session_id)
        p.span = otel.start_span(
            "chat tierscope", {"gen_ai.operation.name": "chat", "gen_ai.system": self.system}
        )
        if route and self.router is not None:
            with otel.child_span(p.span, "tierscope.route") as route_span:
                t0 = time.perf_counter()
                p.decision = self.router.route(query)
                p.latency_router_s = time.perf_counter() - t0
                otel.set_attributes(route_span, _route_attributes(p.decision))
            p.tier = self.by_name[p.decision.tier]
        if p.session is not None and p.session.sticky:
            p.tier = self.capable
        otel.set_attributes(p.span, {"gen_ai.request.model": p.tier.model, "tierscope.tier": p.tier.name})
        return p

    def context(self, p: Pick) -> dict[str, Any]:
        """The context columns of ``p``'s decision row."""
        trace_id, span_id = otel.span_ids(p.span)
        s = p.session
        return {
            "trace_id": trace_id,
            "span_id": span_id,
            "session_id": None if s is None else s.session_id,
            "session_turn": None if s is None else s.turn,
            "session_sticky": None if s is None else s.sticky,
        }

    # -- after the call -------------------------------------------------------------------------
    def answer(self, response: Any) -> TierAnswer:
        """The provider's response as a :class:`TierAnswer` (model, tokens, cost, logprobs)."""
        return TierAnswer.from_openai(response, prices=self.prices)

    def finish(
        self, p: Pick, answer: TierAnswer | None, *, error: BaseException | None = None
    ) -> dict[str, Any]:
        """Log ``p``'s decision (``answer`` None: the provider call failed) and end its span."""
        record = self.record(p, answer, error)
        escalated = p.tier is not self.cheap
        otel.set_attributes(
            p.span,
            {
                "gen_ai.response.model": None if answer is None else answer.model_id,
                "gen_ai.usage.input_tokens": None if answer is None else answer.input_tokens,
                "gen_ai.usage.output_tokens": None if answer is None else answer.output_tokens,
                "tierscope.escalated": escalated,
                "tierscope.reason": record["escalation_reason"],
                "tierscope.request_id": p.request_id,
            },
        )
        otel.end_span(p.span, error)
        if escalated and p.session is not None and not p.session.sticky and self.sessions is not None:
            self.sessions.escalated(p.session.session_id)
        self.write(record)
        return record

    def write(self, record: Mapping[str, Any]) -> None:
        """Log one row; a failing log never breaks the user's answer (the logger says why)."""
        if self.log is None:
            return
        try:
            self.log.log_decision(record)  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - operational: logged, counted
            self.log_errors += 1
            logger.error("tierscope: could not log a decision: %s: %s", type(err).__name__, err)

    def record(self, p: Pick, answer: TierAnswer | None, error: BaseException | None) -> dict[str, Any]:
        """One decision row, in the :class:`~tierscope.routing.CascadeDecision` columns.

        With more than two tiers, a call answered by any tier but the cheapest fills the
        ``capable_*`` columns (``answered_by`` names the tier)."""
        on_cheap = p.tier is self.cheap
        side = "cheap" if on_cheap else "capable"
        sticky = p.session is not None and p.session.sticky
        hard_rule = None if on_cheap else ("session:sticky" if sticky else f"router_tier:{p.tier.name}")
        d = p.decision
        latency = time.perf_counter() - p.started
        rec: dict[str, Any] = {
            "request_id": p.request_id,
            "timestamp": p.timestamp,
            "cheap_tier": self.cheap.name,
            "capable_tier": self.capable.name,
            "answered_by": None if answer is None else p.tier.name,
            "escalated": not on_cheap,
            "escalation_reason": None if on_cheap else "hard_rule",
            "escalation_detail": "stream: route only" if p.route_only else None,
            "hard_rule": hard_rule,
            "fallback": bool(d.fallback) if d is not None else False,
            "fallback_reason": d.reason if d is not None and d.fallback else None,
            "latency_router_s": p.latency_router_s,
            f"latency_{side}_s": latency - (p.latency_router_s or 0.0),
            "latency_total_s": latency,
            "error": None if error is None else f"{type(error).__name__}: {error}",
            **self.context(p),
            **p.extra,
        }
        if d is not None:
            rec.update(_route_fields(d))
        if answer is not None:
            rec.update(
                {
                    f"{side}_model_id": answer.model_id,
                    f"{side}_input_tokens": answer.input_tokens,
                    f"{side}_output_tokens": answer.output_tokens,
                    f"{side}_cost": answer.cost,
                    "cost": answer.cost,
                }
            )
        return rec


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _route_fields(d: Decision) -> dict[str, Any]:
    probs = {t: p for t, p in d.probabilities.items() if math.isfinite(p)}
    return {
        "route_tier": d.tier,
        "route_probabilities": probs or None,
        "route_confidence": _finite(d.confidence),
        "route_tail_score": _finite(d.tail_score),
        "route_fallback": d.fallback,
        "route_guarded": d.guarded,
        "route_content_discarded": d.content_discarded,
    }


def _route_attributes(d: Decision) -> dict[str, Any]:
    return {
        "tierscope.tier": d.tier,
        "tierscope.confidence": d.confidence,
        "tierscope.tail_score": d.tail_score,
        "tierscope.reason": d.reason,
    }


def context_sink(log: DecisionSink) -> DecisionSink:
    """``log`` behind sinks that span each cascade decision (:class:`~.otel.TracingSink`, under
    the request's span) and add the request's session columns (cascade mode)."""
    return otel.TracingSink(_ContextSink(log))


def with_context(columns: dict[str, Any], fn: Callable[[], Any]) -> Any:
    """Run ``fn()`` with ``columns`` as the context columns of the decisions it logs."""
    token = _CONTEXT.set(columns)
    try:
        return fn()
    finally:
        _CONTEXT.reset(token)


def set_context(columns: dict[str, Any]) -> contextvars.Token[dict[str, Any] | None]:
    """Set the context columns (async callers reset the token after awaiting)."""
    return _CONTEXT.set(columns)


def reset_context(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _CONTEXT.reset(token)


def messages_of(kwargs: Mapping[str, Any]) -> Sequence[Any]:
    """``kwargs["messages"]``, required."""
    if "messages" not in kwargs:
        raise fail("messages", "a chat messages list (keyword argument `messages`)")
    return kwargs["messages"]  # type: ignore[no-any-return]
