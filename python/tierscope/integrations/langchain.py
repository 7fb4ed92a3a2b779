"""LangChain: :class:`RoutedChatModel`, a chat model that routes (or cascades) between chat models.

It subclasses langchain-core's ``BaseChatModel``, so it is a ``Runnable`` with everything
langchain-core gives one (``invoke`` / ``ainvoke`` / ``batch`` / ``abatch`` / ``stream`` /
``astream``, callbacks, LCEL composition: ``prompt | routed | StrOutputParser()``)::

    from langchain_openai import ChatOpenAI
    from tierscope.integrations.langchain import RoutedChatModel

    routed = RoutedChatModel(
        tiers={"cheap": ChatOpenAI(model="gpt-4o-mini"), "capable": ChatOpenAI(model="gpt-4o")},
        router=Router.default(), decision_log=DecisionLog("logs/routing"),
    )
    chain = prompt | routed | StrOutputParser()

The router reads the conversation's user turns (:mod:`tierscope.routing.messages`); the chosen
tier's model answers and its ``AIMessage`` is returned as is. With ``confidence=`` (and
``threshold=``) a :class:`~tierscope.routing.Cascade` runs over the first and last tiers:
``confidence(query, tier_answer)`` scores the cheap answer (``tier_answer.response`` is the
``AIMessage``; ``tier_answer.logprobs`` its ``response_metadata["logprobs"]`` when the model was
asked for them). Streaming is route-only (the cascade cannot judge a stream before it ends).
Pass ``session_id`` in the run's ``configurable`` (``config={"configurable": {"session_id": ...}}``)
or as a keyword for the session policy. Each call writes one decision row (model, tokens from
``usage_metadata``, cost from ``prices``, tier, trace/span ids, session). For token usage while
streaming, build ``ChatOpenAI(..., stream_usage=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._optional import require
from ..routing.cascade import Cascade
from ..routing.messages import SessionPolicy
from ..routing.records import TierAnswer
from . import otel
from ._engine import Engine, Pick, context_sink, reset_context, set_context

require("langchain_core", purpose="tierscope.integrations.langchain")
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun  # noqa: E402
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult  # noqa: E402
from langchain_core.runnables.config import ensure_config  # noqa: E402
from pydantic import ConfigDict, PrivateAttr  # noqa: E402

__all__ = ["RoutedChatModel"]


def _model_name(model: Any, fallback: str) -> str:
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return fallback


def _answer(engine: Engine, message: Any) -> TierAnswer:
    """An ``AIMessage`` as a :class:`TierAnswer`: its model, ``usage_metadata`` tokens, cost, logprobs."""
    meta = getattr(message, "response_metadata", None) or {}
    usage = getattr(message, "usage_metadata", None) or {}
    model = meta.get("model_name") or meta.get("model")
    n_in, n_out = usage.get("input_tokens"), usage.get("output_tokens")
    content = getattr(message, "content", "")
    return TierAnswer(
        text=content if isinstance(content, str) else str(content),
        model_id=model if isinstance(model, str) else None,
        input_tokens=n_in,
        output_tokens=n_out,
        cost=engine.prices.cost(model if isinstance(model, str) else None, n_in, n_out),
        logprobs=meta.get("logprobs"),
        response=message,
    )


class RoutedChatModel(BaseChatModel):
    """Routes each call between chat models (see the module docstring).

    ``tiers``: tier name -> chat model, cheapest first; ``router``: a tierscope router whose tier
    names are among them; ``decision_log``: where rows go; ``prices``: a price table (None: the
    shipped one); ``sessions``: sticky turns after an escalation (or a SessionPolicy);
    ``confidence`` / ``threshold`` / ``calibrator`` / ``cascade_options``: cascade mode."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tiers: dict[str, Any]
    router: Any = None
    decision_log: Any = None
    prices: Any = None
    sessions: Any = None
    confidence: Any = None
    threshold: Any = None
    calibrator: Any = None
    cascade_options: dict[str, Any] | None = None
    max_words: int = 96

    _engine: Engine = PrivateAttr()
    _cascade: Cascade[Any] | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        specs = {name: (model, _model_name(model, name)) for name, model in self.tiers.items()}
        sessions = self.sessions
        if isinstance(sessions, int) and not isinstance(sessions, bool):
            sessions = SessionPolicy(sessions)
        self._engine = Engine(
            specs,
            router=self.router,
            log=self.decision_log,
            prices=self.prices,
            sessions=sessions,
            max_words=self.max_words,
            system="langchain",
        )
        if self.confidence is not None:
            self._cascade = Cascade(
                self._tier_call(self._engine.cheap.client),
                self._tier_call(self._engine.capable.client),
                confidence=self.confidence,
                threshold=self.threshold,
                calibrator=self.calibrator,
                router=self.router,
                cheap_name=self._engine.cheap.name,
                capable_name=self._engine.capable.name,
                decision_log=None if self.decision_log is None else context_sink(self.decision_log),
                **dict(self.cascade_options or {}),
            )

    @property
    def _llm_type(self) -> str:
        return "tierscope-routed"

    @property
    def log_errors(self) -> int:
        """Decision rows the log failed to write."""
        return self._engine.log_errors + (0 if self._cascade is None else self._cascade.log_errors)

    def _tier_call(self, model: Any) -> Any:
        engine = self._engine

        # One sync callable: Cascade.arun runs it in a worker thread (the chat model's own sync path).
        def call(query: str, context: dict[str, Any]) -> TierAnswer:
            return _answer(
                engine, model.invoke(context["messages"], stop=context["stop"], **context["kwargs"])
            )

        return call

    def _begin(self, messages: list[BaseMessage], kwargs: dict[str, Any], *, stream: bool) -> Pick:
        session_id = kwargs.pop("session_id", None)
        if session_id is None:
            session_id = (ensure_config().get("configurable") or {}).get("session_id")
        use_cascade = self._cascade is not None and not stream
        chat = convert_to_openai_messages(messages)
        p = self._engine.pick(chat, session_id=session_id, route=not use_cascade)
        p.route_only = stream and self._cascade is not None
        return p

    def _cascade_on(self, p: Pick) -> bool:
        return (
            self._cascade is not None
            and not p.route_only
            and not (p.session is not None and p.session.sticky)
        )

    def _cascade_done(self, p: Pick, decision: Any) -> None:
        otel.set_attributes(p.span, otel.decision_attributes(decision))
        otel.end_span(p.span)
        sessions = self._engine.sessions
        if decision.escalated and p.session is not None and sessions is not None:
            sessions.escalated(p.session.session_id)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        p = self._begin(messages, kwargs, stream=False)
        if self._cascade_on(p):
            assert self._cascade is not None
            token = set_context(self._engine.context(p))
            try:
                with otel.use(p.span):
                    answer, decision = self._cascade.run(
                        p.text, {"messages": messages, "stop": stop, "kwargs": kwargs}
                    )
            except Exception as err:
                otel.end_span(p.span, err)
                raise
            finally:
                reset_context(token)
            self._cascade_done(p, decision)
            return ChatResult(generations=[ChatGeneration(message=answer.response)])
        try:
            with otel.use(p.span):
                message = p.tier.client.invoke(messages, stop=stop, **kwargs)
        except Exception as err:
            self._engine.finish(p, None, error=err)
            raise
        self._engine.finish(p, _answer(self._engine, message))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        import asyncio

        p = await asyncio.to_thread(self._begin, messages, kwargs, stream=False)
        if self._cascade_on(p):
            assert self._cascade is not None
            token = set_context(self._engine.context(p))
            try:
                with otel.use(p.span):
                    answer, decision = await self._cascade.arun(
                        p.text, {"messages": messages, "stop": stop, "kwargs": kwargs}
                    )
            except Exception as err:
                otel.end_span(p.span, err)
                raise
            finally:
                reset_context(token)
            self._cascade_done(p, decision)
            return ChatResult(generations=[ChatGeneration(message=answer.response)])
        try:
            with otel.use(p.span):
                message = await p.tier.client.ainvoke(messages, stop=stop, **kwargs)
        except Exception as err:
            self._engine.finish(p, None, error=err)
            raise
        self._engine.finish(p, _answer(self._engine, message))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        p = self._begin(messages, kwargs, stream=True)
        total: AIMessageChunk | None = None
        try:
            for chunk in p.tier.client.stream(messages, stop=stop, **kwargs):
                total = chunk if total is None else total + chunk
                if run_manager is not None and isinstance(chunk.content, str):
                    run_manager.on_llm_new_token(chunk.content)
                yield ChatGenerationChunk(message=chunk)
        except Exception as err:
            self._engine.finish(p, None, error=err)
            raise
        self._engine.finish(p, _answer(self._engine, total or AIMessage(content="")))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        p = self._begin(messages, kwargs, stream=True)
        total: AIMessageChunk | None = None
        try:
            async for chunk in p.tier.client.astream(messages, stop=stop, **kwargs):
                total = chunk if total is None else total + chunk
                if run_manager is not None and isinstance(chunk.content, str):
                    await run_manager.on_llm_new_token(chunk.content)
                yield ChatGenerationChunk(message=chunk)
        except Exception as err:
            self._engine.finish(p, None, error=err)
            raise
        self._engine.finish(p, _answer(self._engine, total or AIMessage(content="")))
