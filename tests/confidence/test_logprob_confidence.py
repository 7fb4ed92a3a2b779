"""logprob_confidence: OpenAI SDK objects, dicts, token lists, answer objects; reductions; calibration.

No real model log-probabilities are available here: the calibration test draws them from a seeded
synthetic generator (correct answers have more confident tokens), which is stated, not faked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion
from tierscope import Cascade, IsotonicCalibrator, PlattCalibrator, TierAnswer
from tierscope.confidence import logprob_confidence, logprob_confidence_fn, token_logprobs
from tierscope.confidence.verifier import auroc, ece
from tierscope.exceptions import InvalidInputError, LogprobsMissingError


def completion(tokens: list[tuple[str, float]], *, with_logprobs: bool = True) -> dict[str, Any]:
    """An OpenAI chat-completion JSON body with ``logprobs=True``."""
    content = [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []} for t, lp in tokens]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "".join(t for t, _ in tokens)},
                "logprobs": {"content": content, "refusal": None} if with_logprobs else None,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": len(tokens), "total_tokens": 5 + len(tokens)},
    }


TOKENS = [(" ", -0.01), ("B", -0.4), (".", -0.05), (" Done", -1.2)]


def test_reductions_on_a_dict() -> None:
    body = completion(TOKENS)
    lps = [lp for _, lp in TOKENS]
    assert logprob_confidence(body, "mean") == pytest.approx(math.exp(sum(lps) / len(lps)))
    assert logprob_confidence(body, "min") == pytest.approx(math.exp(-1.2))
    # "first" skips the whitespace token: the answer letter's probability
    assert logprob_confidence(body, "first") == pytest.approx(math.exp(-0.4))


def test_the_openai_sdk_object_reads_like_its_json() -> None:
    body = completion(TOKENS)
    sdk = ChatCompletion.model_validate(body)
    for reduction in ("mean", "min", "first"):
        assert logprob_confidence(sdk, reduction) == logprob_confidence(body, reduction)  # type: ignore[arg-type]


def test_token_lists_and_legacy_field() -> None:
    assert logprob_confidence([-0.1, -0.3], "mean") == pytest.approx(math.exp(-0.2))
    assert logprob_confidence([{"token": "A", "logprob": -0.5}], "first") == pytest.approx(math.exp(-0.5))
    legacy = {"choices": [{"text": "A", "logprobs": {"tokens": ["A"], "token_logprobs": [-0.7]}}]}
    assert logprob_confidence(legacy) == pytest.approx(math.exp(-0.7))


@dataclass
class _AnswerWithResponse:
    """Like TierAnswer.from_openai's result: text plus the response (duck-typed, no import)."""

    text: str
    response: Any
    logprobs: Any = None


def test_answer_objects_carrying_a_response() -> None:
    body = completion(TOKENS)
    by_response = _AnswerWithResponse("B. Done", ChatCompletion.model_validate(body))
    by_logprobs = _AnswerWithResponse("B. Done", None, body["choices"][0]["logprobs"])
    assert logprob_confidence(by_response) == pytest.approx(logprob_confidence(body))
    assert logprob_confidence(by_logprobs) == pytest.approx(logprob_confidence(body))


def test_missing_logprobs_raise_a_typed_value_error() -> None:
    for response in (
        completion(TOKENS, with_logprobs=False),
        TierAnswer("plain text"),
        "text",
        {"choices": []},
    ):
        with pytest.raises(LogprobsMissingError, match="logprobs=True"):
            logprob_confidence(response)
    with pytest.raises(ValueError, match="empty"):
        logprob_confidence([])


def test_bad_values_and_arguments_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="token 1"):
        logprob_confidence([-0.1, 0.5])
    with pytest.raises(InvalidInputError, match="token 0"):
        logprob_confidence([float("nan")])
    with pytest.raises(InvalidInputError, match="token 0"):
        logprob_confidence(["x"])
    with pytest.raises(InvalidInputError, match="reduction"):
        logprob_confidence([-0.1], "median")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="reduction"):
        logprob_confidence_fn("max")  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-30.0, max_value=0.0), min_size=1, max_size=50))
def test_reductions_are_ordered_probabilities(lps: list[float]) -> None:
    lo = logprob_confidence(lps, "min")
    mean = logprob_confidence(lps, "mean")
    first = logprob_confidence(lps, "first")
    assert 0.0 <= lo <= mean * (1 + 1e-12) and mean <= 1.0
    assert lo <= first * (1 + 1e-12) and first <= 1.0
    values, tokens = token_logprobs(lps)
    assert values.tolist() == lps and tokens == [None] * len(lps)


def synthetic_outcomes(n: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Seeded synthetic responses: correct answers' tokens have smaller surprisal on average.

    Stands in for real model log-probabilities (which this repository does not have)."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.6
    bodies = []
    for ok in correct:
        k = int(rng.integers(3, 30))
        scale = 0.15 if ok else 0.45
        lps = -rng.exponential(scale, size=k)
        bodies.append(completion([(f" t{i}", float(lp)) for i, lp in enumerate(lps)]))
    return bodies, correct


@pytest.mark.parametrize("calibrator", [IsotonicCalibrator, PlattCalibrator])
def test_logprob_confidence_calibrates_against_reviewed_outcomes(calibrator: type) -> None:
    fit_bodies, fit_ok = synthetic_outcomes(600, seed=1)
    test_bodies, test_ok = synthetic_outcomes(600, seed=2)
    conf = logprob_confidence_fn("mean")
    raw_fit = np.array([conf("q", b) for b in fit_bodies])
    raw_test = np.array([conf("q", b) for b in test_bodies])
    cal = calibrator().fit(raw_fit, fit_ok)
    calibrated = cal.predict(raw_test)
    assert auroc(raw_test, test_ok) > 0.8  # the signal exists in the generator
    assert ece(calibrated, test_ok) < 0.06
    assert ece(calibrated, test_ok) < ece(raw_test, test_ok)  # raw mean probability is overconfident


def test_in_a_cascade_missing_logprobs_escalate() -> None:
    """The cheap tier returns the raw response; one without logprobs escalates (confidence_error)."""
    with_lp = ChatCompletion.model_validate(completion([("4", -0.01)]))
    without = ChatCompletion.model_validate(completion([("4", -0.01)], with_logprobs=False))
    responses = {"with": with_lp, "without": without}
    cascade = Cascade(
        lambda q: responses[q],
        lambda q: TierAnswer("capable"),
        confidence=logprob_confidence_fn("min"),
        threshold=0.9,
    )
    assert cascade("with").decision.answered_by == "cheap"
    d = cascade("without").decision
    assert d.answered_by == "capable" and d.escalation_reason == "confidence_error" and d.fallback
    assert "LogprobsMissingError" in (d.escalation_detail or "")
