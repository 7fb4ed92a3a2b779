"""LangChain end to end: RoutedChatModel over two real `langchain-openai` ChatOpenAI models
against the local server, in an LCEL chain (invoke, batch, stream, ainvoke, astream)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from tierscope import DecisionLog, Router, audit
from tierscope.integrations.langchain import RoutedChatModel
from tierscope.integrations.testing import FakeOpenAIServer

CHEAP_Q = "what is the PIN of my card"
CAPABLE_Q = "my card was stolen and someone used it, I want to dispute the charges"


def _chat(server: FakeOpenAIServer, model: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=server.base_url,
        api_key="test",
        max_retries=0,
        timeout=10,
        stream_usage=True,
        **options,
    )  # type: ignore[call-arg]


def _rows(log: DecisionLog) -> Any:
    log.flush()
    return log.decisions(format="pandas")


@pytest.mark.timeout(120)
def test_lcel_chain_routes_and_logs_every_call(
    server: FakeOpenAIServer, router: Router, log: DecisionLog, spans: Any
) -> None:
    routed = RoutedChatModel(
        tiers={"cheap": _chat(server, "gpt-4o-mini"), "capable": _chat(server, "gpt-4o")},
        router=router,
        decision_log=log,
    )
    assert isinstance(routed, Runnable)
    chain = (
        ChatPromptTemplate.from_messages([("system", "You are a bank assistant."), ("user", "{q}")])
        | routed
        | StrOutputParser()
    )
    assert chain.invoke({"q": CHEAP_Q}) == f"[gpt-4o-mini] {CHEAP_Q}"
    assert chain.batch([{"q": CAPABLE_Q}, {"q": CHEAP_Q}]) == [
        f"[gpt-4o] {CAPABLE_Q}",
        f"[gpt-4o-mini] {CHEAP_Q}",
    ]
    assert "".join(chain.stream({"q": CAPABLE_Q})) == f"[gpt-4o] {CAPABLE_Q}"

    async def go() -> tuple[str, str]:
        one = await chain.ainvoke({"q": CHEAP_Q})
        streamed = "".join([piece async for piece in chain.astream({"q": CAPABLE_Q})])
        return one, streamed

    assert asyncio.run(asyncio.wait_for(go(), timeout=60)) == (
        f"[gpt-4o-mini] {CHEAP_Q}",
        f"[gpt-4o] {CAPABLE_Q}",
    )
    rows = _rows(log)
    assert len(rows) == 6 and rows["cost"].gt(0).all() and rows["trace_id"].notna().all()
    assert sorted(rows["answered_by"]) == ["capable"] * 3 + ["cheap"] * 3
    streamed = rows[rows["route_tier"] == "capable"]
    assert streamed["capable_output_tokens"].gt(0).all() and (streamed["capable_model_id"] == "gpt-4o").all()
    assert {s.name for s in spans.get_finished_spans()} >= {"chat tierscope", "tierscope.route"}
    costs = audit(log).costs.set_index("component")["estimate"]
    assert costs["inference (routed)"] == pytest.approx(rows["cost"].sum())


@pytest.mark.timeout(120)
def test_cascade_mode_scores_the_cheap_answer_with_its_logprobs(
    server: FakeOpenAIServer, log: DecisionLog
) -> None:
    def confidence(query: str, answer: Any) -> float:
        assert isinstance(answer.response, AIMessage)
        values = [t["logprob"] for t in answer.logprobs["content"]]
        return math.exp(sum(values) / len(values))

    routed = RoutedChatModel(
        tiers={"cheap": _chat(server, "gpt-4o-mini", logprobs=True), "capable": _chat(server, "gpt-4o")},
        decision_log=log,
        confidence=confidence,
        threshold=0.5,
    )
    assert routed.invoke("easy").content == "[gpt-4o-mini] easy"
    assert routed.invoke("a [hard] one").content == "[gpt-4o] a [hard] one"
    rows = _rows(log)
    assert list(rows["escalation_reason"].fillna("")) == ["", "low_confidence"]
    assert rows.iloc[1]["cost"] == pytest.approx(rows.iloc[1]["cheap_cost"] + rows.iloc[1]["capable_cost"])
