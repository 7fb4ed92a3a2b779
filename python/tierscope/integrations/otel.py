"""Optional OpenTelemetry spans for routing and cascade steps, joined to the decision log.

No-op unless ``opentelemetry`` is importable (``pip install 'tierscope[otel]'``): then spans go
to whatever tracer provider the application configured (none configured: the API's no-op
tracer, and no ids are logged). Attributes follow the OpenTelemetry gen_ai semantic conventions
(``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``) plus
``tierscope.tier``, ``tierscope.confidence``, ``tierscope.tail_score``, ``tierscope.escalated``
and ``tierscope.reason``. The span's trace and span ids (hex) go into the decision log's
``trace_id`` / ``span_id`` columns, so a trace backend and the log join on them.

Spans made by the integrations (:mod:`tierscope.integrations.openai` and the others):
``tierscope.route`` (the router's decision, a child of) ``chat <model>`` (the whole call,
``gen_ai.*`` attributes). For a plain :class:`~tierscope.routing.Cascade`, wrap its log in
:class:`TracingSink`: each decision becomes a ``tierscope.cascade`` span (timed from the
decision's timestamp and total latency) with one child span per step that ran (router, cheap,
confidence, capable), and the decision is logged with that span's ids.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from ..routing.records import CascadeDecision, DecisionSink

__all__ = [
    "span",
    "start_span",
    "child_span",
    "end_span",
    "span_ids",
    "enabled",
    "TracingSink",
    "INSTRUMENTATION",
]

INSTRUMENTATION = "tierscope"


def enabled() -> bool:
    """True when the OpenTelemetry API is importable (spans are then made)."""
    return importlib.util.find_spec("opentelemetry") is not None


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer(INSTRUMENTATION)


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OTel accepts str/bool/int/float values only: drop None and NaN, stringify the rest."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None or (isinstance(value, float) and value != value):
            continue
        out[key] = value if isinstance(value, (str, bool, int, float)) else str(value)
    return out


class _NoSpan:
    """What :func:`span` yields without OpenTelemetry: accepts attributes, records nothing."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Ignored."""

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Ignored."""

    def end(self) -> None:
        """Ignored."""


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None, **options: Any) -> Iterator[Any]:
    """A span named ``name`` (current span as parent), or a no-op stand-in without OpenTelemetry."""
    if not enabled():
        yield _NoSpan()
        return
    with _tracer().start_as_current_span(name, attributes=_clean(attributes or {}), **options) as current:
        yield current


def start_span(name: str, attributes: Mapping[str, Any] | None = None) -> Any:
    """Start (not enter) a span, child of the current one; end it with :func:`end_span`."""
    if not enabled():
        return _NoSpan()
    return _tracer().start_span(name, attributes=_clean(attributes or {}))


@contextlib.contextmanager
def child_span(parent: Any, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span named ``name`` under ``parent`` (a span from :func:`start_span`), ended on exit."""
    if not enabled() or isinstance(parent, _NoSpan):
        yield _NoSpan()
        return
    from opentelemetry import trace

    ctx = trace.set_span_in_context(parent)
    with _tracer().start_as_current_span(name, context=ctx, attributes=_clean(attributes or {})) as current:
        yield current


@contextlib.contextmanager
def use(current: Any) -> Iterator[None]:
    """Make ``current`` the current span inside the block (the provider call's spans nest under it)."""
    if isinstance(current, _NoSpan):
        yield
        return
    from opentelemetry import trace

    with trace.use_span(current, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield


def end_span(current: Any, error: BaseException | None = None) -> None:
    """End ``current``, marked as an error when ``error`` is given."""
    if isinstance(current, _NoSpan):
        return
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        current.record_exception(error)
        current.set_status(Status(StatusCode.ERROR, type(error).__name__))
    current.end()


def set_attributes(current: Any, attributes: Mapping[str, Any]) -> None:
    """Set ``attributes`` (None and NaN values skipped) on ``current``."""
    current.set_attributes(_clean(attributes))


def span_ids(current: Any) -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` as 32 / 16 hex digits, or ``(None, None)`` for a no-op span."""
    get = getattr(current, "get_span_context", None)
    if get is None:
        return None, None
    ctx = get()
    if not getattr(ctx, "is_valid", False):
        return None, None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def current_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` of the current span, or ``(None, None)``."""
    if not enabled():
        return None, None
    from opentelemetry import trace

    return span_ids(trace.get_current_span())


def decision_attributes(decision: CascadeDecision) -> dict[str, Any]:
    """The ``tierscope.*`` and ``gen_ai.*`` attributes of a cascade decision."""
    tier = decision.answered_by
    on_capable = tier == decision.capable_tier
    model = decision.capable_model_id if on_capable else decision.cheap_model_id
    n_in = decision.capable_input_tokens if on_capable else decision.cheap_input_tokens
    n_out = decision.capable_output_tokens if on_capable else decision.cheap_output_tokens
    confidence = decision.confidence_calibrated
    if confidence is None:
        confidence = decision.route_confidence
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": n_in,
        "gen_ai.usage.output_tokens": n_out,
        "tierscope.tier": tier,
        "tierscope.confidence": confidence,
        "tierscope.tail_score": decision.route_tail_score,
        "tierscope.escalated": decision.escalated,
        "tierscope.reason": decision.escalation_reason,
        "tierscope.request_id": decision.request_id,
    }


_STEPS = (
    ("router", "latency_router_s"),
    ("rules", "latency_rules_s"),
    ("cheap", "latency_cheap_s"),
    ("confidence", "latency_confidence_s"),
    ("capable", "latency_capable_s"),
)


class TracingSink:
    """A :class:`~tierscope.routing.DecisionSink` that turns each cascade decision into spans and
    logs it, with the span's trace and span ids, to ``sink`` (a :class:`~tierscope.log.DecisionLog`).

    The spans are made when the decision is logged (the cascade's timing is in the decision), as
    children of the span current at that moment, so a cascade called inside the application's
    request span shows up under it. Without OpenTelemetry it only forwards."""

    def __init__(self, sink: DecisionSink) -> None:
        self.sink = sink

    def log_decision(self, decision: CascadeDecision | Mapping[str, Any]) -> None:
        """Span the decision, then log it with ``trace_id`` / ``span_id``."""
        if not isinstance(decision, CascadeDecision) or not enabled():
            self.sink.log_decision(decision)  # type: ignore[arg-type]
            return
        record = asdict(decision)
        start = int(decision.timestamp.timestamp() * 1e9)
        end = start + int(decision.latency_total_s * 1e9)
        tracer = _tracer()
        root = tracer.start_span(
            "tierscope.cascade", start_time=start, attributes=_clean(decision_attributes(decision))
        )
        try:
            from opentelemetry import trace

            ctx = trace.set_span_in_context(root)
            t = start
            for step, column in _STEPS:
                seconds = getattr(decision, column)
                if seconds is None:
                    continue
                child = tracer.start_span(f"tierscope.{step}", context=ctx, start_time=t)
                t += int(seconds * 1e9)
                child.end(end_time=t)
            record["trace_id"], record["span_id"] = span_ids(root)
        finally:
            root.end(end_time=max(end, start))
        self.sink.log_decision(record)  # type: ignore[arg-type]

    def log_outcome(self, request_id: str, kind: str, **fields: Any) -> None:
        """Forwarded unchanged."""
        self.sink.log_outcome(request_id, kind, **fields)
