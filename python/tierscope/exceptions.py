"""The tierscope exception hierarchy.

Every error raised by tierscope derives from :class:`TierscopeError`, so one ``except`` clause
catches them all, and each also derives from the built-in exception a caller would expect:

- :class:`InvalidInputError` (also a :class:`ValueError`): a bad argument. The message names the
  argument and says what was expected.
- :class:`TierscopeFileNotFoundError` (also a :class:`FileNotFoundError`): a path that does not exist.
- :class:`ModelLoadError`: a model, tokenizer or ``router.json`` that cannot be loaded; the message
  names the file and field.
- :class:`RuntimeUnavailableError` (a :class:`ModelLoadError`): the ONNX Runtime library is missing
  or too old; the message says what to install.
- :class:`InferenceError`: inference ran but failed or produced invalid output.
- :class:`MissingDependencyError` (also an :class:`ImportError`): an optional dependency is missing;
  the message names the extra that installs it (``pip install 'tierscope[audit]'``).

A Rust panic never reaches Python: it surfaces as :class:`InternalError`.

Component errors, all :class:`TierscopeError` subclasses: :class:`CascadeError` (the capable tier
failed, no answer), :class:`DecisionLogError` and its :class:`LogDirectoryError` (the log cannot be
written). Warnings: :class:`SegmentWarning` (a log segment was skipped while reading),
:class:`ReviewPlanWarning` (a review plan deserves attention) and :class:`LonelyStratumWarning`
(a stratum with one sampled unit was given a variance by the default rule). Model-side confidence
(:mod:`tierscope.confidence`): :class:`LogprobsMissingError` and :class:`SelfEvalParseError`, both
:class:`InvalidInputError` subclasses. Every tierscope
error and warning is defined here, and the Rust extension raises these very classes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TierscopeError",
    "InvalidInputError",
    "TierscopeFileNotFoundError",
    "ModelLoadError",
    "RuntimeUnavailableError",
    "InferenceError",
    "InternalError",
    "CascadeError",
    "DecisionLogError",
    "LogDirectoryError",
    "SegmentWarning",
    "ReviewPlanWarning",
    "LonelyStratumWarning",
    "MissingDependencyError",
    "LogprobsMissingError",
    "SelfEvalParseError",
]


class TierscopeError(Exception):
    """Base class of every error raised by tierscope."""


class InvalidInputError(TierscopeError, ValueError):
    """A bad argument: the message names the argument and what was expected."""


class TierscopeFileNotFoundError(TierscopeError, FileNotFoundError):
    """A path named by the caller does not exist."""


class ModelLoadError(TierscopeError):
    """A model directory, ONNX file, tokenizer or router.json could not be loaded."""


class RuntimeUnavailableError(ModelLoadError):
    """The ONNX Runtime shared library is missing or incompatible."""


class MissingDependencyError(TierscopeError, ImportError):
    """An optional dependency is not installed; the message names the ``tierscope[extra]`` that
    provides it (raised by :func:`tierscope._optional.require`)."""


class InferenceError(TierscopeError):
    """Inference failed or produced invalid output."""


class InternalError(TierscopeError):
    """A bug inside tierscope (a caught Rust panic). Please report it."""


class CascadeError(TierscopeError):
    """The capable tier failed, so no answer can be returned. ``decision`` is the partial
    :class:`~tierscope.routing.CascadeDecision`."""

    def __init__(self, message: str, decision: Any) -> None:
        super().__init__(message)
        self.decision = decision


class LogprobsMissingError(InvalidInputError):
    """A response given to :func:`tierscope.confidence.logprob_confidence` has no token
    log-probabilities (request them with ``logprobs=True``); the message says where it looked."""


class SelfEvalParseError(InvalidInputError):
    """A model's self-evaluation states no confidence that
    :func:`tierscope.confidence.parse_confidence` can read. As a cascade's confidence function's
    exception it escalates the query (``escalation_reason="confidence_error"``, logged)."""


class DecisionLogError(TierscopeError):
    """A decision log could not be written."""


class LogDirectoryError(DecisionLogError, PermissionError):
    """The log directory cannot be created or written; the message names the path."""


class SegmentWarning(UserWarning):
    """A segment file was skipped while reading (corrupt, partial or an uncommitted temporary file)."""


class ReviewPlanWarning(UserWarning):
    """A review plan was built but something about it deserves attention (e.g. budget > traffic)."""


class LonelyStratumWarning(UserWarning):
    """A stratified estimate met strata with a single sampled unit ("lonely" strata, whose
    within-stratum variance cannot be estimated) and, as no ``lonely`` rule was chosen, gave
    them R ``survey``'s conservative "adjust" contribution. The message names the strata and
    their count; pass ``lonely=`` explicitly to choose the rule (and silence the warning)."""
