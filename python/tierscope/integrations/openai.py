"""A drop-in OpenAI client that routes each chat completion to a tier: ``RoutedOpenAI``.

Like RouteLLM's ``Controller``, it mimics the OpenAI client: ``client.chat.completions.create(
messages=..., ...)`` returns the provider's own ``ChatCompletion`` (or, with ``stream=True``, its
chunks). Behind it, two or more OpenAI-compatible clients/models, cheapest first::

    import openai
    from tierscope import DecisionLog, Router
    from tierscope.integrations.openai import RoutedOpenAI

    provider = openai.OpenAI(base_url=..., api_key=...)
    client = RoutedOpenAI(
        {"cheap": (provider, "gpt-4o-mini"), "capable": (provider, "gpt-4o")},
        router=Router.default(), log=DecisionLog("logs/routing"),
    )
    reply = client.chat.completions.create(messages=[{"role": "user", "content": "hi"}])

How a request is answered:

- **Router only** (``router=``): the router reads the conversation (the user turns, see
  :mod:`tierscope.routing.messages`) and its tier answers. ``model=`` given to ``create`` is
  ignored (each tier asks for its own model id); every other argument goes to the provider.
- **Cascade** (``confidence=``, with ``threshold=`` and optionally ``calibrator=`` and the
  router as a pre-route): a :class:`~tierscope.routing.Cascade` over the first (cheap) and last
  (capable) tiers; ``confidence(query, tier_answer)`` scores the cheap answer (a
  :class:`~tierscope.routing.TierAnswer` whose ``response`` and ``logprobs`` are the provider's),
  and a low score escalates. ``cascade_options`` go to the Cascade (``shadow_rate``, ...).
- **Streaming** (``stream=True``): the tier is decided before the stream starts, by the router
  (and the session policy) only: a cascade cannot judge an answer it has not seen, so a
  streamed request is **route-only** even when a confidence function is set (its log row says
  ``escalation_detail="stream: route only"``). Usage is requested
  (``stream_options.include_usage``) so the row has tokens and cost; it is written when the
  stream ends or is closed.
- **Sessions** (``sessions=N`` or a :class:`~tierscope.routing.messages.SessionPolicy`): pass
  ``session_id=`` to ``create``; once a conversation escalates it stays on the capable tier for
  ``N`` turns.

Each call writes one row to ``log`` (model, tokens, cost from ``prices``, tier, router fields,
trace/span ids when OpenTelemetry is configured, session columns). :class:`AsyncRoutedOpenAI` is
the same over ``openai.AsyncOpenAI`` clients, with ``await client.chat.completions.create(...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from .._optional import require
from ..routing.cascade import Cascade
from ..routing.messages import SessionPolicy
from ..routing.prices import PricesLike
from ..routing.records import DecisionSink, TierAnswer
from . import otel
from ._engine import Engine, Pick, context_sink, messages_of, reset_context, set_context

__all__ = ["RoutedOpenAI", "AsyncRoutedOpenAI"]

_ROUTER_MODELS = frozenset({None, "auto", "tierscope"})


def _request(kwargs: dict[str, Any], tier_model: str) -> dict[str, Any]:
    out = {**kwargs, "model": tier_model}
    if out.get("stream"):
        out["stream_options"] = {"include_usage": True, **(out.get("stream_options") or {})}
    return out


class _Base:
    def __init__(
        self,
        tiers: Mapping[str, Any],
        *,
        router: Any = None,
        log: DecisionSink | None = None,
        prices: PricesLike = None,
        sessions: SessionPolicy | int | None = None,
        confidence: Any = None,
        threshold: Any = None,
        calibrator: Any = None,
        cascade_options: Mapping[str, Any] | None = None,
        max_words: int = 96,
        include_system: bool = False,
    ) -> None:
        require("openai", purpose="tierscope.integrations.openai")
        self.engine = Engine(
            tiers,
            router=router,
            log=log,
            prices=prices,
            sessions=sessions,
            max_words=max_words,
            include_system=include_system,
        )
        self.cascade: Cascade[Any] | None = None
        if confidence is not None:
            self.cascade = Cascade(
                self._tier_call(self.engine.cheap),
                self._tier_call(self.engine.capable),
                confidence=confidence,
                threshold=threshold,
                calibrator=calibrator,
                router=router,
                cheap_name=self.engine.cheap.name,
                capable_name=self.engine.capable.name,
                decision_log=None if log is None else context_sink(log),
                **dict(cascade_options or {}),
            )

    def _tier_call(self, tier: Any) -> Any:
        raise NotImplementedError

    @property
    def log_errors(self) -> int:
        """Decisions the log failed to write (each logged to the ``tierscope`` logger)."""
        return self.engine.log_errors + (0 if self.cascade is None else self.cascade.log_errors)

    def _pick(self, kwargs: dict[str, Any]) -> tuple[Pick, str | None]:
        session_id = kwargs.pop("session_id", None)
        kwargs.pop("model", None)
        stream = bool(kwargs.get("stream"))
        use_cascade = self.cascade is not None and not stream
        p = self.engine.pick(messages_of(kwargs), session_id=session_id, route=not use_cascade)
        p.route_only = stream and self.cascade is not None
        return p, session_id

    def _cascade_done(self, p: Pick, decision: Any) -> None:
        otel.set_attributes(p.span, otel.decision_attributes(decision))
        otel.end_span(p.span)
        sessions = self.engine.sessions
        if decision.escalated and p.session is not None and sessions is not None:
            sessions.escalated(p.session.session_id)


class _SyncCompletions:
    def __init__(self, owner: RoutedOpenAI) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> Any:
        """Route and answer one chat completion (OpenAI's arguments; plus ``session_id``)."""
        return self._owner._create(kwargs)


class _SyncChat:
    def __init__(self, owner: RoutedOpenAI) -> None:
        self.completions = _SyncCompletions(owner)


class RoutedOpenAI(_Base):
    """Routes ``chat.completions.create`` over OpenAI-compatible ``openai.OpenAI`` clients
    (see the module docstring). ``tiers``: tier name -> ``(client, model id)``, cheapest first;
    the router's tier names must be among them."""

    def __init__(self, tiers: Mapping[str, Any], **options: Any) -> None:
        super().__init__(tiers, **options)
        self.chat = _SyncChat(self)

    def _tier_call(self, tier: Any) -> Any:
        engine = self.engine

        def call(query: str, context: dict[str, Any]) -> TierAnswer:
            return engine.answer(tier.client.chat.completions.create(**_request(context, tier.model)))

        return call

    def _create(self, kwargs: dict[str, Any]) -> Any:
        p, _ = self._pick(kwargs)
        if self.cascade is not None and not p.route_only and not (p.session and p.session.sticky):
            token = set_context(self.engine.context(p))
            try:
                with otel.use(p.span):
                    answer, decision = self.cascade.run(p.text, kwargs)
            except Exception as err:
                otel.end_span(p.span, err)
                raise
            finally:
                reset_context(token)
            self._cascade_done(p, decision)
            return answer.response
        try:
            with otel.use(p.span):
                response = p.tier.client.chat.completions.create(**_request(kwargs, p.tier.model))
        except Exception as err:
            self.engine.finish(p, None, error=err)
            raise
        if kwargs.get("stream"):
            return _Stream(response, self.engine, p)
        self.engine.finish(p, self.engine.answer(response))
        return response

    def close(self) -> None:
        """Stop the cascade's shadow workers (the clients are the caller's)."""
        if self.cascade is not None:
            self.cascade.close()


class _Collector:
    """What a stream's chunks say about the answer (model, usage, text)."""

    def __init__(self, engine: Engine, p: Pick) -> None:
        self.engine, self.p = engine, p
        self.model: str | None = None
        self.usage: Any = None
        self.parts: list[str] = []
        self.done = False

    def see(self, chunk: Any) -> None:
        self.model = getattr(chunk, "model", None) or self.model
        self.usage = getattr(chunk, "usage", None) or self.usage
        for choice in getattr(chunk, "choices", None) or ():
            piece = getattr(getattr(choice, "delta", None), "content", None)
            if piece:
                self.parts.append(piece)

    def finish(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        n_in = getattr(self.usage, "prompt_tokens", None)
        n_out = getattr(self.usage, "completion_tokens", None)
        answer = TierAnswer(
            text="".join(self.parts),
            model_id=self.model,
            input_tokens=n_in,
            output_tokens=n_out,
            cost=self.engine.prices.cost(self.model, n_in, n_out),
        )
        self.engine.finish(self.p, answer, error=error)


class _Stream:
    """The provider's stream, chunk for chunk; logs the decision when it ends or is closed."""

    def __init__(self, inner: Any, engine: Engine, p: Pick) -> None:
        self._inner = inner
        self._seen = _Collector(engine, p)

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self._inner:
                self._seen.see(chunk)
                yield chunk
        except Exception as err:
            self._seen.finish(err)
            raise
        self._seen.finish()

    def close(self) -> None:
        """Close the provider stream and log what was received."""
        try:
            self._inner.close()
        finally:
            self._seen.finish()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncStream:
    """The async twin of :class:`_Stream`."""

    def __init__(self, inner: Any, engine: Engine, p: Pick) -> None:
        self._inner = inner
        self._seen = _Collector(engine, p)

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._inner:
                self._seen.see(chunk)
                yield chunk
        except Exception as err:
            self._seen.finish(err)
            raise
        self._seen.finish()

    async def close(self) -> None:
        """Close the provider stream and log what was received."""
        try:
            await self._inner.close()
        finally:
            self._seen.finish()

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncCompletions:
    def __init__(self, owner: AsyncRoutedOpenAI) -> None:
        self._owner = owner

    async def create(self, **kwargs: Any) -> Any:
        """Route and answer one chat completion (OpenAI's arguments; plus ``session_id``)."""
        return await self._owner._create(kwargs)


class _AsyncChat:
    def __init__(self, owner: AsyncRoutedOpenAI) -> None:
        self.completions = _AsyncCompletions(owner)


class AsyncRoutedOpenAI(_Base):
    """:class:`RoutedOpenAI` over ``openai.AsyncOpenAI`` clients: ``await
    client.chat.completions.create(...)``; ``stream=True`` gives an async iterator of chunks.
    The router runs in a worker thread, so the event loop is not blocked by the encoder."""

    def __init__(self, tiers: Mapping[str, Any], **options: Any) -> None:
        super().__init__(tiers, **options)
        self.chat = _AsyncChat(self)

    def _tier_call(self, tier: Any) -> Any:
        engine = self.engine

        async def call(query: str, context: dict[str, Any]) -> TierAnswer:
            return engine.answer(await tier.client.chat.completions.create(**_request(context, tier.model)))

        return call

    async def _create(self, kwargs: dict[str, Any]) -> Any:
        import asyncio

        p, _ = await asyncio.to_thread(self._pick, kwargs)
        if self.cascade is not None and not p.route_only and not (p.session and p.session.sticky):
            token = set_context(self.engine.context(p))
            try:
                with otel.use(p.span):
                    answer, decision = await self.cascade.arun(p.text, kwargs)
            except Exception as err:
                otel.end_span(p.span, err)
                raise
            finally:
                reset_context(token)
            self._cascade_done(p, decision)
            return answer.response
        try:
            with otel.use(p.span):
                response = await p.tier.client.chat.completions.create(**_request(kwargs, p.tier.model))
        except Exception as err:
            self.engine.finish(p, None, error=err)
            raise
        if kwargs.get("stream"):
            return _AsyncStream(response, self.engine, p)
        self.engine.finish(p, self.engine.answer(response))
        return response

    async def aclose(self) -> None:
        """Wait for the cascade's pending shadow tasks."""
        if self.cascade is not None:
            await self.cascade.drain()
