"""LiteLLM: tierscope as the routing decision of a ``litellm.Router``, and a logger for every call.

Set ``LITELLM_LOCAL_MODEL_COST_MAP=True`` before importing litellm, so it reads its bundled cost
map instead of fetching one from GitHub at import (tierscope's tests do, and check that no call
leaves 127.0.0.1). Two pieces, usable together or apart:

- :class:`TierscopeRoutingStrategy` (a LiteLLM ``CustomRoutingStrategyBase``, registered with
  ``Router.register_plugin``): a request for the model group ``"tierscope"`` is routed by a
  tierscope :class:`~tierscope.Router` over the conversation's user turns; the deployment whose
  ``model_name`` is the chosen tier (or ``tiers[tier]``) answers. Other model groups keep
  LiteLLM's first deployment of that group. The decision (tier, confidence, tail score, router
  fields, trace/span ids, session) rides in the request's ``metadata["tierscope"]``. A session
  policy applies when the call passes ``metadata={"session_id": ...}``.
- :class:`TierscopeLogger` (a LiteLLM ``CustomLogger``): every call, sync or async, success or
  failure, becomes a decision row: tier (from the strategy's decision, else the model group),
  confidence, model, tokens, cost (LiteLLM's ``response_cost``, else tierscope's price table),
  trace and span ids. ``logger.install()`` registers it as a success and failure callback.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .._logging import logger as _logger
from .._optional import require
from .._validate import fail
from ..routing.messages import SessionPolicy, router_text
from ..routing.prices import Prices, PricesLike
from ..routing.records import DecisionSink, TierAnswer
from . import otel

__all__ = ["TierscopeRoutingStrategy", "TierscopeLogger", "ROUTED_MODEL"]

ROUTED_MODEL = "tierscope"
"""The model group name that asks for a tierscope routing decision."""

require("litellm", purpose="tierscope.integrations.litellm")
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402 - after the require() hint
from litellm.types.router import CustomRoutingStrategyBase  # noqa: E402


def _deployments(litellm_router: Any) -> list[Any]:
    return list(litellm_router.registry().all())


def _metadata(request_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    if request_kwargs is None:
        return {}
    meta = request_kwargs.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        request_kwargs["metadata"] = meta
    return meta


class TierscopeRoutingStrategy(CustomRoutingStrategyBase):
    """Route LiteLLM requests for ``model`` (default ``"tierscope"``) with a tierscope router.

    ``tiers``: router tier -> LiteLLM ``model_name`` (default: the tier's own name); the cheapest
    first. ``sessions``: a :class:`~tierscope.routing.messages.SessionPolicy` (or a number of
    sticky turns). :meth:`install` registers the strategy with the LiteLLM router."""

    def __init__(
        self,
        router: Any,
        *,
        tiers: Mapping[str, str] | None = None,
        model: str = ROUTED_MODEL,
        sessions: SessionPolicy | int | None = None,
        max_words: int = 96,
    ) -> None:
        self.router = router
        names = tuple(router.tiers)
        self.tiers = dict(tiers) if tiers is not None else {t: t for t in names}
        missing = [t for t in names if t not in self.tiers]
        if missing:
            raise fail("tiers", f"a model_name for every router tier {list(names)}", missing)
        self.model = model
        self.sessions = SessionPolicy(sessions) if isinstance(sessions, int) else sessions
        self.max_words = max_words
        self.litellm_router: Any = None

    def install(self, litellm_router: Any) -> TierscopeRoutingStrategy:
        """Make this strategy pick every deployment of ``litellm_router``."""
        have = {d["model_name"] for d in _deployments(litellm_router)}
        absent = sorted(set(self.tiers.values()) - have)
        if absent:
            raise fail("tiers", f"model names the LiteLLM router serves ({sorted(have)})", absent)
        self.litellm_router = litellm_router
        litellm_router.register_plugin(self)
        return self

    def _first(self, model_name: str) -> Any:
        for d in _deployments(self.litellm_router):
            if d["model_name"] == model_name:
                return d
        raise fail("model", f"a model group of the LiteLLM router or {self.model!r}", model_name)

    def get_available_deployment(
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[Any] | None = None,  # noqa: A002 - LiteLLM's name
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """The deployment that answers: the routed tier's for ``model == "tierscope"``."""
        if model != self.model:
            return self._first(model)
        meta = _metadata(request_kwargs)
        session_id = meta.get("session_id")
        state = None if self.sessions is None or session_id is None else self.sessions.begin(str(session_id))
        query = router_text(messages or [], max_words=self.max_words)
        with otel.span("tierscope.route") as current:
            t0 = time.perf_counter()
            decision = self.router.route(query)
            latency = time.perf_counter() - t0
            tier = decision.tier
            sticky = state is not None and state.sticky
            if sticky:
                tier = tuple(self.tiers)[-1]
            otel.set_attributes(
                current,
                {
                    "tierscope.tier": tier,
                    "tierscope.confidence": decision.confidence,
                    "tierscope.tail_score": decision.tail_score,
                    "tierscope.reason": decision.reason,
                },
            )
            trace_id, span_id = otel.span_ids(current)
        if state is not None and not sticky and tier != tuple(self.tiers)[0] and self.sessions is not None:
            self.sessions.escalated(state.session_id)
        meta["tierscope"] = {
            "request_id": uuid.uuid4().hex,
            "tier": tier,
            "cheap_tier": tuple(self.tiers)[0],
            "capable_tier": tuple(self.tiers)[-1],
            "decision": decision.to_dict() | {"embedding": None},
            "latency_router_s": latency,
            "trace_id": trace_id,
            "span_id": span_id,
            "session_id": None if state is None else state.session_id,
            "session_turn": None if state is None else state.turn,
            "session_sticky": None if state is None else sticky,
        }
        return self._first(self.tiers[tier])

    async def async_get_available_deployment(
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[Any] | None = None,  # noqa: A002
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """:meth:`get_available_deployment` in a worker thread (the encoder never blocks the loop)."""
        return await asyncio.to_thread(
            self.get_available_deployment, model, messages, input, specific_deployment, request_kwargs
        )


class TierscopeLogger(CustomLogger):
    """Write every LiteLLM call to ``log`` as a decision row (see the module docstring).

    ``tiers``: LiteLLM model group -> tier, for calls the strategy did not route (default: the
    group name); ``cheap_tier`` / ``capable_tier`` name the two ends."""

    def __init__(
        self,
        log: DecisionSink,
        *,
        prices: PricesLike = None,
        tiers: Mapping[str, str] | None = None,
        cheap_tier: str = "cheap",
        capable_tier: str = "capable",
    ) -> None:
        super().__init__()
        self.decision_log = log
        self.prices = Prices.coerce(prices)
        self.tiers = dict(tiers or {})
        self.cheap_tier, self.capable_tier = cheap_tier, capable_tier
        self.log_errors = 0
        self.events = 0
        """Calls seen (LiteLLM delivers them from a background pool or task, after the call returns)."""

    def install(self) -> TierscopeLogger:
        """Register as a LiteLLM success and failure callback (sync and async calls)."""
        import litellm

        manager = litellm.logging_callback_manager
        manager.add_litellm_success_callback(self)
        manager.add_litellm_async_success_callback(self)
        manager.add_litellm_failure_callback(self)
        manager.add_litellm_async_failure_callback(self)
        return self

    def uninstall(self) -> None:
        """Remove this logger from LiteLLM's callback lists."""
        import litellm

        for name in (
            "success_callback",
            "_async_success_callback",
            "failure_callback",
            "_async_failure_callback",
        ):
            callbacks = getattr(litellm, name, None)
            if isinstance(callbacks, list) and self in callbacks:
                callbacks.remove(self)

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._write(kwargs, response_obj, start_time, end_time, None)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(kwargs, response_obj, start_time, end_time, None)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._write(kwargs, None, start_time, end_time, kwargs.get("exception") or "call failed")

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(kwargs, None, start_time, end_time, kwargs.get("exception") or "call failed")

    def _write(self, kwargs: Any, response: Any, start: Any, end: Any, error: Any) -> None:
        self.events += 1
        try:
            record = self.record(kwargs, response, start, end, error)
            self.decision_log.log_decision(record)  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - a logger callback must never break the call
            self.log_errors += 1
            _logger.log(
                logging.ERROR, "tierscope: could not log a LiteLLM call: %s: %s", type(err).__name__, err
            )

    def record(self, kwargs: Any, response: Any, start: Any, end: Any, error: Any) -> dict[str, Any]:
        """The decision row of one LiteLLM call."""
        params = kwargs.get("litellm_params") or {}
        meta = params.get("metadata") or {}
        routed = meta.get("tierscope") or {}
        group = meta.get("model_group") or kwargs.get("model")
        tier = routed.get("tier") or self.tiers.get(group, group)
        cheap, capable = (
            routed.get("cheap_tier", self.cheap_tier),
            routed.get("capable_tier", self.capable_tier),
        )
        answer = None if response is None else TierAnswer.from_openai(response, prices=self.prices)
        cost = kwargs.get("response_cost")
        if answer is not None and not isinstance(cost, (int, float)):
            cost = answer.cost
        side = "cheap" if tier == cheap else "capable"
        started = start if isinstance(start, datetime) else datetime.now(timezone.utc)
        total = (
            (end - start).total_seconds()
            if isinstance(start, datetime) and isinstance(end, datetime)
            else 0.0
        )
        trace_id, span_id = routed.get("trace_id"), routed.get("span_id")
        if trace_id is None:
            trace_id, span_id = otel.current_ids()
        d = routed.get("decision") or {}
        rec: dict[str, Any] = {
            "request_id": routed.get("request_id") or kwargs.get("litellm_call_id") or uuid.uuid4().hex,
            "timestamp": started if started.tzinfo else started.astimezone(timezone.utc),
            "cheap_tier": cheap,
            "capable_tier": capable,
            "answered_by": None if answer is None else tier,
            "escalated": tier != cheap,
            "escalation_reason": None if tier == cheap else "hard_rule",
            "hard_rule": None
            if tier == cheap
            else ("session:sticky" if routed.get("session_sticky") else f"router_tier:{tier}"),
            "fallback": bool(d.get("fallback", False)),
            "fallback_reason": d.get("reason") if d.get("fallback") else None,
            "route_tier": d.get("tier"),
            "route_probabilities": {k: v for k, v in (d.get("probabilities") or {}).items() if v is not None}
            or None,
            "route_confidence": d.get("confidence"),
            "route_tail_score": d.get("tail_score"),
            "route_fallback": d.get("fallback"),
            "route_guarded": d.get("guarded"),
            "route_content_discarded": d.get("content_discarded"),
            "latency_router_s": routed.get("latency_router_s"),
            "latency_total_s": max(total, 0.0),
            "error": None
            if error is None
            else (f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)),
            "trace_id": trace_id,
            "span_id": span_id,
            "session_id": routed.get("session_id"),
            "session_turn": routed.get("session_turn"),
            "session_sticky": routed.get("session_sticky"),
        }
        if answer is not None:
            rec.update(
                {
                    f"{side}_model_id": answer.model_id,
                    f"{side}_input_tokens": answer.input_tokens,
                    f"{side}_output_tokens": answer.output_tokens,
                    f"{side}_cost": cost,
                    "cost": cost,
                }
            )
        return rec
