"""Confidence from an explicit self-evaluation step: a prompt template and a robust parser.

The model (the cheap one, or another) is asked how confident it is that an answer is correct,
and :func:`parse_confidence` reads the stated confidence from its reply, in any of the forms
models actually write:

- labelled: ``"Confidence: 85%"``, ``"confidence level = 0.85"``, ``"My confidence is 8/10"``
  (when several are labelled, the last one counts: models revise);
- a bare value as the whole reply: ``"85%"``, ``"0.85"``, ``"8/10"``, ``"8 out of 10"``, ``"85"``;
- a word: :data:`VERBAL_CONFIDENCE` (``"very high"`` 0.95, ``"high"`` 0.8, ``"medium"`` 0.5,
  ``"low"`` 0.2, ``"very low"`` 0.05, ...), labelled or alone.

A percentage is divided by 100, ``a/b`` and ``a out of b`` give ``a / b``; a plain number is a
probability when in [0, 1] and a percentage when in (1, 100]. A reply with no readable
confidence, or a value outside those ranges (``"120%"``, ``"11/10"``), raises
:class:`~tierscope.exceptions.SelfEvalParseError` (a ``ValueError``); inside a
:class:`~tierscope.Cascade` that exception escalates the query, logged with
``escalation_reason="confidence_error"`` and ``fallback=True``.

A stated confidence is a raw signal (models are overconfident): calibrate it with
:func:`tierscope.fit_calibrator` against reviewed outcomes before choosing a threshold.

Example::

    def ask_mini(prompt: str) -> str: ...             # your LLM call, returns the reply text
    cascade = Cascade(call_mini, call_frontier, confidence=self_eval_confidence_fn(ask_mini),
                      calibrator=calibrator, threshold=report)
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from .._validate import text as check_text
from ..exceptions import InvalidInputError, SelfEvalParseError
from ._answers import answer_text

__all__ = [
    "SELF_EVAL_TEMPLATE",
    "VERBAL_CONFIDENCE",
    "self_eval_prompt",
    "parse_confidence",
    "parse_confidence_fn",
    "self_eval_confidence_fn",
]

SELF_EVAL_TEMPLATE = (
    "You are checking an answer to a question.\n\n"
    "Question:\n{query}\n\n"
    "Proposed answer:\n{answer}\n\n"
    "How likely is it that the proposed answer is correct and complete? Think briefly, then end "
    "your reply with one line of the form\n"
    "Confidence: <a number from 0 to 100>%"
)
"""The default self-evaluation prompt: ``{query}`` and ``{answer}`` are filled in."""

#: Words a model may state instead of a number, and the score each stands for.
VERBAL_CONFIDENCE: dict[str, float] = {
    "certain": 0.99,
    "very high": 0.95,
    "high": 0.8,
    "fairly high": 0.7,
    "moderate": 0.5,
    "medium": 0.5,
    "fairly low": 0.3,
    "low": 0.2,
    "very low": 0.05,
    "none": 0.0,
}

_NUM = r"(\d+(?:\.\d+)?|\.\d+)"
_VALUE = (
    rf"{_NUM}\s*(?:/|out\s+of)\s*{_NUM}"  # groups 1, 2: a fraction
    rf"|{_NUM}\s*(%|percent\b)"  # groups 3, 4: a percentage
    rf"|{_NUM}"  # group 5: a plain number
    r"|(" + "|".join(sorted((re.escape(w) for w in VERBAL_CONFIDENCE), key=len, reverse=True)) + r")\b"
)
_LABELLED = re.compile(
    r"(?i)\bconfidence(?:\s+(?:level|score|rating))?\s*(?:is|of|:|=|-)?\s*(?:about|around|~)?\s*(?:"
    + _VALUE
    + ")"
)
_ALONE = re.compile(r"(?i)^\s*(?:" + _VALUE + r")\s*[.!]?\s*$")
_MAX_CHARS = 100_000  # longer replies are cut to their end: the stated confidence comes last


def _value(m: re.Match[str], reply: str) -> float:
    frac_a, frac_b, pct, _unit, plain, word = m.groups()
    if word is not None:
        return VERBAL_CONFIDENCE[word.lower()]
    if frac_a is not None:
        a, b = float(frac_a), float(frac_b)
        if b <= 0 or a > b:
            raise SelfEvalParseError(
                f"reply: stated confidence {m.group(0).strip()!r} is not a fraction in [0, 1]"
            )
        return a / b
    if pct is not None:
        v = float(pct)
        if v > 100:
            raise SelfEvalParseError(f"reply: stated confidence {m.group(0).strip()!r} exceeds 100%")
        return v / 100.0
    v = float(plain)
    if v <= 1.0:
        return v
    if v <= 100.0:
        return v / 100.0
    raise SelfEvalParseError(f"reply: stated confidence {plain!r} is neither in [0, 1] nor a percentage")


def parse_confidence(reply: str) -> float:
    """The confidence stated in ``reply``, in [0, 1] (see the module docstring for the forms read).

    Raises :class:`~tierscope.exceptions.SelfEvalParseError` when none is found or it is out of range.
    """
    check_text("reply", reply)
    tail = reply[-_MAX_CHARS:]
    labelled = list(_LABELLED.finditer(tail))
    if labelled:
        return _value(labelled[-1], tail)
    alone = _ALONE.match(tail)
    if alone:
        return _value(alone, tail)
    shown = tail.strip()
    shown = shown if len(shown) <= 80 else "..." + shown[-77:]
    raise SelfEvalParseError(
        f"reply: no stated confidence found (expected e.g. 'Confidence: 85%', '0.85', '8/10' or 'high'); "
        f"the reply ends {shown!r}"
    )


def self_eval_prompt(query: str, answer: Any, template: str = SELF_EVAL_TEMPLATE) -> str:
    """The self-evaluation prompt for ``query`` and ``answer`` (a str or an answer object)."""
    check_text("query", query)
    check_text("template", template)
    if "{query}" not in template or "{answer}" not in template:
        raise InvalidInputError("template: expected a format string with {query} and {answer} fields")
    return template.replace("{query}", query).replace("{answer}", answer_text(answer))


def parse_confidence_fn() -> Callable[[str, Any], float]:
    """A ``Cascade(confidence=...)`` callable reading a confidence the cheap answer states itself
    (when the cheap tier's own prompt asks for a ``Confidence:`` line)."""

    def confidence(query: str, answer: Any) -> float:
        return parse_confidence(answer_text(answer))

    return confidence


def self_eval_confidence_fn(
    ask: Callable[[str], str] | Callable[[str], Awaitable[str]],
    *,
    template: str = SELF_EVAL_TEMPLATE,
) -> Callable[[str, Any], Any]:
    """A ``Cascade(confidence=...)`` callable that asks a model to rate the cheap answer.

    ``ask(prompt) -> reply`` is your LLM call (sync or ``async``; the returned callable is the
    same kind); the reply may be a str or an answer object with a ``text``. The prompt is
    :func:`self_eval_prompt` with ``template``; the score is :func:`parse_confidence` of the reply.
    """
    if not callable(ask):
        raise InvalidInputError(f"ask: expected a callable prompt -> reply, got {type(ask).__name__}")
    self_eval_prompt("q", "a", template)  # checks the template now, not at the first query

    if inspect.iscoroutinefunction(ask):

        async def aconfidence(query: str, answer: Any) -> float:
            reply = await ask(self_eval_prompt(query, answer, template))
            return parse_confidence(answer_text(reply, "reply"))

        return aconfidence

    def confidence(query: str, answer: Any) -> float:
        reply = ask(self_eval_prompt(query, answer, template))
        return parse_confidence(answer_text(reply, "reply"))

    return confidence
