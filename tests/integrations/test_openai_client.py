"""RoutedOpenAI / AsyncRoutedOpenAI end to end: the real `openai` client against the local server;
every call lands in the DecisionLog with model, tokens, cost, tier and trace id, and audit() has
the cost view."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tierscope import DecisionLog, Router, audit
from tierscope.exceptions import InvalidInputError
from tierscope.integrations.openai import AsyncRoutedOpenAI, RoutedOpenAI
from tierscope.integrations.testing import FakeOpenAIServer
from tierscope.routing.prices import Prices

CHEAP_Q = "what is the PIN of my card"
CAPABLE_Q = "my card was stolen and someone used it, I want to dispute the charges"
PRICES = Prices.default()


def _client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)


def _tiers(client: Any) -> dict[str, Any]:
    return {"cheap": (client, "gpt-4o-mini"), "capable": (client, "gpt-4o")}


def _rows(log: DecisionLog) -> Any:
    log.flush()
    return log.decisions(format="pandas")


def logprob_confidence(query: str, answer: Any) -> float:
    """The mean token probability of the cheap answer (from the provider's own logprobs)."""
    values = [t.logprob for t in answer.logprobs.content]
    return math.exp(sum(values) / len(values))


@pytest.mark.timeout(120)
def test_routed_calls_land_in_the_log_with_cost_and_trace(
    server: FakeOpenAIServer, router: Router, log: DecisionLog, spans: Any
) -> None:
    routed = RoutedOpenAI(_tiers(_client(server)), router=router, log=log)
    expected = {CHEAP_Q: router.route(CHEAP_Q).tier, CAPABLE_Q: router.route(CAPABLE_Q).tier}
    assert expected == {CHEAP_Q: "cheap", CAPABLE_Q: "capable"}  # the router really decides
    replies = {
        q: routed.chat.completions.create(model="auto", messages=[{"role": "user", "content": q}])
        for q in expected
    }
    for q, reply in replies.items():
        assert isinstance(reply, ChatCompletion)  # the provider's own type
        assert reply.model == ("gpt-4o-mini" if expected[q] == "cheap" else "gpt-4o")
    assert [r["model"] for r in server.requests[-2:]] == ["gpt-4o-mini", "gpt-4o"]

    rows = _rows(log)
    assert list(rows["answered_by"]) == ["cheap", "capable"]
    cheap, capable = rows.iloc[0], rows.iloc[1]
    usage = replies[CHEAP_Q].usage
    assert usage is not None
    assert cheap["cheap_model_id"] == "gpt-4o-mini" and cheap["cheap_input_tokens"] == usage.prompt_tokens
    assert cheap["cost"] == pytest.approx(
        PRICES.cost("gpt-4o-mini", usage.prompt_tokens, usage.completion_tokens)
    )
    assert capable["capable_model_id"] == "gpt-4o" and capable["cost"] > cheap["cost"] > 0
    assert capable["hard_rule"] == "router_tier:capable" and capable["route_confidence"] > 0.5

    finished = {
        s.attributes["tierscope.request_id"]: s
        for s in spans.get_finished_spans()
        if s.name == "chat tierscope"
    }
    for _, row in rows.iterrows():
        span = finished[row["request_id"]]
        assert (
            row["trace_id"] == f"{span.context.trace_id:032x}"
            and row["span_id"] == f"{span.context.span_id:016x}"
        )
        assert (
            span.attributes["gen_ai.request.model"]
            == row[f"{'cheap' if row['answered_by'] == 'cheap' else 'capable'}_model_id"]
        )
        assert (
            span.attributes["gen_ai.usage.input_tokens"] > 0
            and span.attributes["tierscope.tier"] == row["answered_by"]
        )
    route_spans = [s for s in spans.get_finished_spans() if s.name == "tierscope.route"]
    assert len(route_spans) == 2 and all("tierscope.confidence" in s.attributes for s in route_spans)

    costs = audit(log).costs.set_index("component")["estimate"]
    assert costs["inference cheap"] == pytest.approx(cheap["cost"])
    assert costs["inference capable"] == pytest.approx(capable["cost"])
    assert costs["inference (all capable)"] > costs["inference (routed)"]


@pytest.mark.timeout(120)
def test_stream_is_routed_before_it_starts_and_logged_at_its_end(
    server: FakeOpenAIServer, router: Router, log: DecisionLog
) -> None:
    routed = RoutedOpenAI(
        _tiers(_client(server)), router=router, log=log, confidence=logprob_confidence, threshold=0.5
    )
    stream = routed.chat.completions.create(messages=[{"role": "user", "content": CAPABLE_Q}], stream=True)
    chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"[gpt-4o] {CAPABLE_Q}"
    assert server.requests[-1]["stream_options"] == {"include_usage": True}
    row = _rows(log).iloc[-1]
    assert row["answered_by"] == "capable" and row["capable_output_tokens"] == len(text.split(" "))
    assert row["escalation_detail"] == "stream: route only" and row["cost"] > 0


@pytest.mark.timeout(120)
def test_cascade_escalates_on_low_logprob_confidence(
    server: FakeOpenAIServer, log: DecisionLog, spans: Any
) -> None:
    routed = RoutedOpenAI(_tiers(_client(server)), log=log, confidence=logprob_confidence, threshold=0.5)
    easy = routed.chat.completions.create(messages=[{"role": "user", "content": "easy"}], logprobs=True)
    hard = routed.chat.completions.create(
        messages=[{"role": "user", "content": "a [hard] one"}], logprobs=True
    )
    assert easy.model == "gpt-4o-mini" and hard.model == "gpt-4o"
    rows = _rows(log)
    assert list(rows["escalation_reason"].fillna("")) == ["", "low_confidence"]
    # Both calls of the escalated query are costed: cheap + capable on the user's path.
    assert rows.iloc[1]["cost"] == pytest.approx(rows.iloc[1]["cheap_cost"] + rows.iloc[1]["capable_cost"])
    assert rows.iloc[1]["confidence_calibrated"] == pytest.approx(math.exp(-3.0))
    # Each decision is a tierscope.cascade span (with its steps) under the request's chat span.
    finished = spans.get_finished_spans()
    cascade_spans = {f"{s.context.span_id:016x}": s for s in finished if s.name == "tierscope.cascade"}
    chat_ids = {s.context.span_id for s in finished if s.name == "chat tierscope"}
    for _, row in rows.iterrows():
        span = cascade_spans[row["span_id"]]
        assert f"{span.context.trace_id:032x}" == row["trace_id"] and span.parent.span_id in chat_ids
    assert cascade_spans[rows.iloc[1]["span_id"]].attributes["tierscope.reason"] == "low_confidence"


@pytest.mark.timeout(120)
def test_session_stays_on_the_capable_tier_after_an_escalation(
    server: FakeOpenAIServer, router: Router, log: DecisionLog
) -> None:
    routed = RoutedOpenAI(_tiers(_client(server)), router=router, log=log, sessions=1)
    history: list[dict[str, str]] = []
    for q in (CHEAP_Q, CAPABLE_Q, CHEAP_Q, CHEAP_Q):
        history.append({"role": "user", "content": q})
        reply = routed.chat.completions.create(messages=list(history), session_id="conv-1")
        history.append({"role": "assistant", "content": reply.choices[0].message.content or ""})
    rows = _rows(log)
    assert list(rows["answered_by"]) == ["cheap", "capable", "capable", "cheap"]
    assert list(rows["session_turn"]) == [1, 2, 3, 4] and list(rows["session_sticky"]) == [
        False,
        False,
        True,
        False,
    ]
    assert rows.iloc[2]["hard_rule"] == "session:sticky"


@pytest.mark.timeout(120)
def test_async_client_and_async_stream(server: FakeOpenAIServer, router: Router, log: DecisionLog) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)
    routed = AsyncRoutedOpenAI(_tiers(client), router=router, log=log)

    async def go() -> tuple[Any, str]:
        reply = await routed.chat.completions.create(messages=[{"role": "user", "content": CHEAP_Q}])
        stream = await routed.chat.completions.create(
            messages=[{"role": "user", "content": CAPABLE_Q}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await client.close()
        return reply, text

    reply, text = asyncio.run(asyncio.wait_for(go(), timeout=60))
    assert isinstance(reply, ChatCompletion) and reply.model == "gpt-4o-mini" and text.startswith("[gpt-4o]")
    rows = _rows(log)
    assert list(rows["answered_by"]) == ["cheap", "capable"] and rows["cost"].notna().all()


@pytest.mark.timeout(60)
def test_a_failing_log_never_breaks_the_answer(
    server: FakeOpenAIServer, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenLog:
        def log_decision(self, decision: Any) -> None:
            raise OSError("No space left on device")

        def log_outcome(self, request_id: str, kind: str, **fields: Any) -> None:
            raise OSError("No space left on device")

    routed = RoutedOpenAI(_tiers(_client(server)), router=router, log=BrokenLog())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="tierscope"):
        reply = routed.chat.completions.create(messages=[{"role": "user", "content": CHEAP_Q}])
    assert reply.choices[0].message.content and routed.log_errors == 1
    assert any("No space left" in r.getMessage() for r in caplog.records)


def test_bad_arguments_name_themselves(server: FakeOpenAIServer, router: Router) -> None:
    client = _client(server)
    with pytest.raises(InvalidInputError, match="`tiers`"):
        RoutedOpenAI({"cheap": (client, "m")}, router=router)
    with pytest.raises(InvalidInputError, match=r"`tiers\['capable'\]`"):
        RoutedOpenAI({"cheap": (client, "m"), "capable": client}, router=router)
    with pytest.raises(InvalidInputError, match="`router`"):
        RoutedOpenAI({"small": (client, "a"), "big": (client, "b")}, router=router)
    routed = RoutedOpenAI(_tiers(client), router=router)
    with pytest.raises(InvalidInputError, match="`messages`"):
        routed.chat.completions.create(messages=[{"role": "system", "content": "only a system prompt"}])
    with pytest.raises(InvalidInputError, match="`messages`"):
        routed.chat.completions.create()


@pytest.mark.timeout(120)
def test_async_cascade_mode(server: FakeOpenAIServer, log: DecisionLog) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)
    routed = AsyncRoutedOpenAI(_tiers(client), log=log, confidence=logprob_confidence, threshold=0.5)

    async def go() -> list[Any]:
        replies = await asyncio.gather(
            *(
                routed.chat.completions.create(messages=[{"role": "user", "content": q}], logprobs=True)
                for q in ("easy", "a [hard] one", "also easy")
            )
        )
        await routed.aclose()
        await client.close()
        return list(replies)

    replies = asyncio.run(asyncio.wait_for(go(), timeout=60))
    assert [r.model for r in replies] == ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"]
    rows = _rows(log).set_index("escalated")
    assert rows.loc[True, "escalation_reason"] == "low_confidence" and rows["cost"].gt(0).all()
