"""Confidence from the model's own token log-probabilities (OpenAI-compatible chat completions).

Request them with ``logprobs=True`` (``top_logprobs`` is not needed). :func:`logprob_confidence`
reads the sampled tokens' log-probabilities from

- an ``openai`` SDK ``ChatCompletion`` (or any object of the same shape: LiteLLM's
  ``ModelResponse``), or its JSON as a plain ``dict``: ``choices[0].logprobs.content[i].logprob``
  (the legacy completions field ``choices[0].logprobs.token_logprobs`` is read too);
- a choice's ``logprobs`` object or dict (``{"content": [...]}``);
- an answer object that carries one of those as ``logprobs``, ``response`` or ``answer`` (e.g. a
  :class:`~tierscope.routing.TierAnswer` built from a response): read by attribute, never by type;
- a list of token log-probabilities: numbers, or dicts/objects with a ``logprob`` (and optionally
  a ``token``).

and reduces them to one score in [0, 1]:

- ``"mean"``: the geometric-mean token probability, ``exp(mean(logprob))`` (length-normalised
  sequence likelihood; the usual choice for free-text answers);
- ``"min"``: the least likely token's probability, ``exp(min(logprob))`` (one unsure token, e.g.
  a digit of the final number, pulls the whole answer down);
- ``"first"``: the probability of the first answer token, skipping tokens that are only
  whitespace or punctuation when token texts are known (classification-like answers: a letter, a
  label, yes/no).

These are *raw* signals, not probabilities of being right: calibrate them against reviewed
outcomes with :func:`tierscope.fit_calibrator` (isotonic or Platt) before choosing a threshold.
A response without log-probabilities raises
:class:`~tierscope.exceptions.LogprobsMissingError` (a ``ValueError``); inside a
:class:`~tierscope.Cascade` that exception escalates the query (``confidence_error``).

Example::

    cascade = Cascade(call_mini, call_frontier,
                      confidence=logprob_confidence_fn("mean"),  # fn(query, answer) -> float
                      calibrator=fit_calibrator(raw_fit, ok_fit, "isotonic"), threshold=report)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..exceptions import InvalidInputError, LogprobsMissingError
from ._answers import get

__all__ = ["Reduction", "REDUCTIONS", "token_logprobs", "logprob_confidence", "logprob_confidence_fn"]

Reduction = Literal["mean", "min", "first"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

_MAX_DEPTH = 4  # answer -> response -> choice -> logprobs: the deepest nesting read


def _is_token_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _find_tokens(obj: Any, depth: int = 0) -> Any:
    """The list of token entries inside ``obj``, or None when there is none."""
    if obj is None or depth > _MAX_DEPTH:
        return None
    if _is_token_list(obj):
        return obj
    choices = get(obj, "choices")
    if isinstance(choices, (list, tuple)):
        return _find_tokens(get(choices[0], "logprobs"), depth + 1) if choices else None
    for name in ("content", "token_logprobs"):  # a choice's logprobs object (chat, then legacy)
        value = get(obj, name)
        if _is_token_list(value):
            return value
    for name in ("logprobs", "response", "answer"):  # an answer object carrying a response
        found = _find_tokens(get(obj, name), depth + 1)
        if found is not None:
            return found
    return None


def _entry(item: Any, i: int) -> tuple[float, str | None]:
    if isinstance(item, numbers.Real) and not isinstance(item, bool):
        return float(item), None
    value = get(item, "logprob")
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        token = get(item, "token")
        return float(value), token if isinstance(token, str) else None
    raise InvalidInputError(
        f"response: token {i}: expected a log-probability (a number, or an entry with a numeric "
        f"`logprob`), got {type(item).__name__}"
    )


def token_logprobs(response: Any) -> tuple[npt.NDArray[np.float64], list[str | None]]:
    """The sampled tokens' log-probabilities and texts (None where unknown), in order.

    Raises :class:`~tierscope.exceptions.LogprobsMissingError` when ``response`` holds none (no
    ``logprobs`` requested, or an empty answer), :class:`~tierscope.exceptions.InvalidInputError`
    for a value that is not a log-probability (NaN, positive, not a number).
    """
    found = _find_tokens(response)
    if found is None:
        raise LogprobsMissingError(
            f"response: no token log-probabilities found in {type(response).__name__} (looked for "
            "choices[0].logprobs.content, logprobs, response and answer); request them with "
            "logprobs=True"
        )
    entries = [_entry(item, i) for i, item in enumerate(found)]
    if not entries:
        raise LogprobsMissingError("response: the log-probability list is empty (an empty answer?)")
    values = np.array([e[0] for e in entries], dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) | (values > 0.0))
    if bad.size:
        i = int(bad[0])
        raise InvalidInputError(f"response: token {i}: expected a log-probability <= 0, got {values[i]!r}")
    return values, [e[1] for e in entries]


def _first_answer_token(tokens: Sequence[str | None]) -> int:
    for i, tok in enumerate(tokens):
        if tok is None or any(ch.isalnum() for ch in tok):
            return i
    return 0


def logprob_confidence(response: Any, reduction: Reduction = "mean") -> float:
    """One confidence score in [0, 1] from a response's token log-probabilities.

    ``reduction``: ``"mean"`` (``exp(mean logprob)``, the geometric-mean token probability),
    ``"min"`` (the least likely token's probability) or ``"first"`` (the first answer token's
    probability, skipping whitespace/punctuation-only tokens). See the module docstring for what
    ``response`` may be.
    """
    if reduction not in REDUCTIONS:
        raise InvalidInputError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    values, tokens = token_logprobs(response)
    if reduction == "mean":
        lp = float(values.mean())
    elif reduction == "min":
        lp = float(values.min())
    else:
        lp = float(values[_first_answer_token(tokens)])
    return math.exp(lp)


def logprob_confidence_fn(reduction: Reduction = "mean") -> Callable[[str, Any], float]:
    """A ``Cascade(confidence=...)`` callable: ``fn(query, answer) -> logprob_confidence(answer)``.

    ``answer`` is what the cheap tier returned (a response, or an answer object carrying one).
    """
    if reduction not in REDUCTIONS:
        raise InvalidInputError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")

    def confidence(query: str, answer: Any) -> float:
        return logprob_confidence(answer, reduction)

    confidence.__qualname__ = f"logprob_confidence_fn({reduction!r})"
    return confidence
