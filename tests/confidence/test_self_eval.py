"""Self-evaluation: the prompt, the parser of stated confidence, and escalation on a parse failure."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope import Cascade, IsotonicCalibrator, TierAnswer
from tierscope.confidence import (
    SELF_EVAL_TEMPLATE,
    VERBAL_CONFIDENCE,
    parse_confidence,
    parse_confidence_fn,
    self_eval_confidence_fn,
    self_eval_prompt,
)
from tierscope.confidence.verifier import ece
from tierscope.exceptions import InvalidInputError, SelfEvalParseError


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Confidence: 85%", 0.85),
        ("0.85", 0.85),
        ("8/10", 0.8),
        ("8 out of 10", 0.8),
        ("high", 0.8),
        ("Very high.", 0.95),
        ("85", 0.85),
        ("1", 1.0),
        ("The sum is 12 + 30 = 42, so 42.\nConfidence: 90%", 0.9),
        ("confidence level = 0.3", 0.3),
        ("My confidence is 7/10", 0.7),
        ("Confidence: 60 percent", 0.6),
        ("Confidence: medium", 0.5),
        ("First guess, confidence: 40%. On reflection... Confidence: 75%", 0.75),
    ],
)
def test_stated_confidence_forms(reply: str, expected: float) -> None:
    assert parse_confidence(reply) == pytest.approx(expected)


@pytest.mark.parametrize(
    "reply", ["I cannot tell.", "", "Confidence: 120%", "11/10", "Confidence: 500", "3/0"]
)
def test_unreadable_or_out_of_range_confidence_is_a_typed_failure(reply: str) -> None:
    with pytest.raises(SelfEvalParseError) as info:
        parse_confidence(reply)
    assert isinstance(info.value, ValueError)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="reply"):
        parse_confidence(0.9)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="template"):
        self_eval_prompt("q", "a", template="no fields")
    with pytest.raises(InvalidInputError, match="ask"):
        self_eval_confidence_fn("not callable")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_returns_outside_unit_interval(reply: str) -> None:
    try:
        value = parse_confidence(reply)
    except SelfEvalParseError:
        return
    except InvalidInputError:  # lone surrogates
        return
    assert 0.0 <= value <= 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=100), st.sampled_from(["Confidence: {}%", "{}%", "confidence = {}%"])
)
def test_percentages_round_trip(pct: int, form: str) -> None:
    assert parse_confidence(form.format(pct)) == pytest.approx(pct / 100)


def test_prompt_template_fills_query_and_answer_text() -> None:
    prompt = self_eval_prompt("What is 2+2?", TierAnswer("4"))
    assert "What is 2+2?" in prompt and "\n4\n" in prompt and prompt.endswith("%")
    assert SELF_EVAL_TEMPLATE.count("{query}") == 1
    assert set(VERBAL_CONFIDENCE.values()) <= {x / 100 for x in range(101)}


def test_self_eval_fn_sync_and_async() -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "Looks right. Confidence: 70%"

    async def aask(prompt: str) -> TierAnswer:
        return TierAnswer("Confidence: 0.4")

    assert self_eval_confidence_fn(ask)("q1", "a1") == pytest.approx(0.7)
    assert "q1" in prompts[0] and "a1" in prompts[0]
    assert asyncio.run(self_eval_confidence_fn(aask)("q", "a")) == pytest.approx(0.4)  # type: ignore[arg-type]


class ListSink:
    def __init__(self) -> None:
        self.decisions: list[Any] = []

    def log_decision(self, decision: Any) -> None:
        self.decisions.append(decision)

    def log_outcome(self, request_id: str, kind: str, **fields: Any) -> None:
        pass


def test_a_parse_failure_escalates_and_is_logged() -> None:
    sink = ListSink()
    replies = {"alpha q": "Confidence: 95%", "beta q": "hmm, hard to say"}
    cascade = Cascade(
        lambda q: TierAnswer(f"cheap:{q}", cost=0.001),
        lambda q: TierAnswer(f"capable:{q}", cost=0.03),
        confidence=self_eval_confidence_fn(lambda prompt: next(v for k, v in replies.items() if k in prompt)),
        threshold=0.8,
        decision_log=sink,
    )
    accepted = cascade("alpha q")
    escalated = cascade("beta q")
    assert accepted.decision.answered_by == "cheap" and accepted.answer.text == "cheap:alpha q"
    d = escalated.decision
    assert d.answered_by == "capable" and d.escalated and d.fallback
    assert d.escalation_reason == "confidence_error"
    assert "SelfEvalParseError" in (d.escalation_detail or "")
    assert [x.escalation_reason for x in sink.decisions] == [None, "confidence_error"]


def test_inline_stated_confidence_and_calibration_on_reviewed_outcomes() -> None:
    """A stated confidence (parsed from the answer itself) calibrates with IsotonicCalibrator.

    The replies are synthetic (seeded): an overconfident model whose stated confidence rises with
    the true chance of being right, standing in for reviewed production outcomes."""
    rng = np.random.default_rng(3)
    conf = parse_confidence_fn()

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        p_true = rng.uniform(0.2, 0.95, n)
        stated = np.clip(np.round(100 * (0.5 + 0.5 * p_true) + rng.normal(0, 3, n)), 0, 100)
        raw = np.array([conf("q", TierAnswer(f"42.\nConfidence: {int(s)}%")) for s in stated])
        return raw, rng.random(n) < p_true

    raw_fit, ok_fit = draw(1500)
    raw_test, ok_test = draw(1500)
    calibrated = IsotonicCalibrator().fit(raw_fit, ok_fit).predict(raw_test)
    assert ece(raw_test, ok_test) > 0.15  # stated confidence is overconfident
    assert ece(calibrated, ok_test) < 0.05
