"""OpenTelemetry spans joined to the log (TracingSink over a plain Cascade), the no-op path,
the price table, TierAnswer.from_openai and the additive log columns."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from tierscope import Cascade, DecisionLog, TierAnswer
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError
from tierscope.integrations import otel
from tierscope.log.decision_log import DECISION_SCHEMA
from tierscope.routing.prices import Prices


def _tier(name: str, model: str) -> Any:
    def call(query: str) -> TierAnswer:
        return TierAnswer(f"{name}:{query}", model_id=model, input_tokens=10, output_tokens=5, cost=0.001)

    return call


def test_tracing_sink_spans_a_plain_cascade_and_logs_its_ids(log: DecisionLog, spans: Any) -> None:
    cascade = Cascade(
        _tier("cheap", "mini"),
        _tier("capable", "big"),
        confidence=lambda q, a: 0.9 if "easy" in q else 0.1,
        threshold=0.5,
        decision_log=otel.TracingSink(log),
    )
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request") as parent:
        cascade("easy one")
        cascade("hard one")
    log.flush()
    rows = log.decisions(format="pandas")
    by_request = {
        s.attributes["tierscope.request_id"]: s
        for s in spans.get_finished_spans()
        if s.name == "tierscope.cascade"
    }
    assert len(by_request) == 2
    for _, row in rows.iterrows():
        span = by_request[row["request_id"]]
        assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
        assert (
            row["trace_id"] == f"{span.context.trace_id:032x}"
            and row["span_id"] == f"{span.context.span_id:016x}"
        )
        a = span.attributes
        assert a["tierscope.tier"] == row["answered_by"] and a["tierscope.escalated"] == row["escalated"]
        assert a["gen_ai.response.model"] == ("big" if row["escalated"] else "mini")
        assert a["gen_ai.usage.input_tokens"] == 10 and a["gen_ai.operation.name"] == "chat"
    hard = rows[rows["escalated"]].iloc[0]
    assert by_request[hard["request_id"]].attributes["tierscope.reason"] == "low_confidence"
    steps = {
        s.name
        for s in spans.get_finished_spans()
        if s.parent and s.parent.span_id in {x.context.span_id for x in by_request.values()}
    }
    assert steps >= {"tierscope.cheap", "tierscope.confidence", "tierscope.capable"}


def test_without_opentelemetry_spans_are_no_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otel, "enabled", lambda: False)
    with otel.span("x", {"a": 1}) as s:
        s.set_attribute("b", 2)
    started = otel.start_span("y")
    otel.end_span(started, ValueError("boom"))
    assert otel.span_ids(started) == (None, None) and otel.current_ids() == (None, None)


def test_context_columns_are_additive_and_old_logs_read(tmp_path: Path) -> None:
    names = DECISION_SCHEMA.names
    assert names[-8:] == [
        "trace_id",
        "span_id",
        "session_id",
        "session_turn",
        "session_sticky",
        "schema_version",
        "writer_pid",
        "extra",
    ]
    with DecisionLog(tmp_path / "log") as log:
        log.log_decision(
            {"request_id": "new", "answered_by": "cheap", "trace_id": "ab" * 16, "session_turn": 2}
        )
        log.log_decision({"request_id": "old", "answered_by": "cheap"})
        log.flush()
        files = sorted((tmp_path / "log").rglob("*.parquet"))
        # Rewrite a segment without the new columns: a log written before they existed.
        table = pq.read_table(files[0])
        old = table.drop(
            [
                c
                for c in ("trace_id", "span_id", "session_id", "session_turn", "session_sticky")
                if c in table.column_names
            ]
        )
        pq.write_table(
            pa.Table.from_arrays(old.columns, schema=old.schema.with_metadata(table.schema.metadata)),
            files[0],
        )
        rows = log.decisions(format="pandas")
    assert set(rows["request_id"]) == {"new", "old"} and rows["trace_id"].isna().all()
    with pytest.raises(InvalidInputError, match="session_turn"):
        DecisionLog(tmp_path / "log2").log_decision({"request_id": "x", "session_turn": "two"})


def test_prices_default_table_overrides_and_unknown_models(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prices = Prices.default()
    assert len(prices) == 45 and prices.lookup("gpt-4o-mini") == (0.15, 0.6)
    assert prices.cost("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    mine = prices.with_overrides(
        {
            "gpt-4o-mini": (1.0, 2.0),
            "local": {"input_token_price_per_million": 0, "output_token_price_per_million": 0},
        }
    )
    assert (
        mine.cost("gpt-4o-mini", 500_000, 250_000) == pytest.approx(1.0) and mine.cost("local", 9, 9) == 0.0
    )
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"m": {"input_token_price_per_million": 3, "output_token_price_per_million": 4}})
    )
    assert Prices.coerce(path).cost("m", 1_000_000, 0) == 3.0
    with caplog.at_level(logging.WARNING, logger="tierscope"):
        assert prices.cost("no-such-model-xyz", 10, 10) is None
        assert prices.cost("no-such-model-xyz", 10, 10) is None
    assert sum("no-such-model-xyz" in r.getMessage() for r in caplog.records) == 1  # logged once
    with pytest.raises(InvalidInputError, match=r"`prices\['bad'\]\[input\]`"):
        Prices({"bad": (-1.0, 2.0)})
    with pytest.raises(TierscopeFileNotFoundError, match="no price file"):
        Prices.coerce(tmp_path / "missing.json")


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7))
def test_cost_is_linear_in_tokens(a: int, b: int, out: int) -> None:
    prices = Prices({"m": (0.4, 1.6)})
    total = prices.cost("m", a + b, out)
    assert total is not None and total >= 0
    assert total == pytest.approx(
        (prices.cost("m", a, out) or 0) + (prices.cost("m", b, 0) or 0), rel=1e-9, abs=1e-12
    )


def test_tier_answer_from_an_openai_dict_keeps_the_response() -> None:
    response = {
        "model": "gpt-4o",
        "choices": [
            {"message": {"content": "hi"}, "logprobs": {"content": [{"token": "hi", "logprob": -0.1}]}}
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
    }
    answer = TierAnswer.from_openai(response, prices={"gpt-4o": (2.5, 10.0)})
    assert (answer.text, answer.model_id, answer.input_tokens, answer.output_tokens) == (
        "hi",
        "gpt-4o",
        1000,
        100,
    )
    assert answer.cost == pytest.approx(0.0035) and answer.response is response
    assert answer.logprobs["content"][0]["logprob"] == -0.1
    with pytest.raises(InvalidInputError, match="`response`"):
        TierAnswer.from_openai("not a response")
