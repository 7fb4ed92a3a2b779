"""The cascade's confidence signals: a trained answer verifier and the model's own confidence.

- :class:`Verifier` (:mod:`.verifier`): a calibrated P(answer acceptable | query, answer) trained on
  the router's MiniLM encoder, saved and loaded as a directory; ``Cascade(confidence=verifier)``.
- :func:`logprob_confidence` (:mod:`.logprobs`): mean / min / first-token probability from an
  OpenAI-compatible response's ``logprobs``.
- :func:`parse_confidence` and :func:`self_eval_confidence_fn` (:mod:`.self_eval`): a
  self-evaluation prompt and a robust parser of the stated confidence.

Each gives a raw score; calibrate it with :mod:`tierscope.routing.calibration` against reviewed
outcomes. Imports :mod:`tierscope.routing` and :mod:`tierscope.stats` only.
"""

from __future__ import annotations

from .logprobs import REDUCTIONS, Reduction, logprob_confidence, logprob_confidence_fn, token_logprobs
from .self_eval import (
    SELF_EVAL_TEMPLATE,
    VERBAL_CONFIDENCE,
    parse_confidence,
    parse_confidence_fn,
    self_eval_confidence_fn,
    self_eval_prompt,
)
from .verifier import Verifier

__all__ = [
    "Verifier",
    "Reduction",
    "REDUCTIONS",
    "logprob_confidence",
    "logprob_confidence_fn",
    "token_logprobs",
    "SELF_EVAL_TEMPLATE",
    "VERBAL_CONFIDENCE",
    "parse_confidence",
    "parse_confidence_fn",
    "self_eval_confidence_fn",
    "self_eval_prompt",
]
