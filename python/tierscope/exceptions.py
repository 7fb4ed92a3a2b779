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

A Rust panic never reaches Python: it surfaces as :class:`InternalError`.
"""

from __future__ import annotations

__all__ = [
    "TierscopeError",
    "InvalidInputError",
    "TierscopeFileNotFoundError",
    "ModelLoadError",
    "RuntimeUnavailableError",
    "InferenceError",
    "InternalError",
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


class InferenceError(TierscopeError):
    """Inference failed or produced invalid output."""


class InternalError(TierscopeError):
    """A bug inside tierscope (a caught Rust panic). Please report it."""
