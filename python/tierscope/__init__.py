"""tierscope: LLM cost-routing layers that do not break the product."""

from __future__ import annotations

from . import _core
from .exceptions import (
    InferenceError,
    InternalError,
    InvalidInputError,
    ModelLoadError,
    RuntimeUnavailableError,
    TierscopeError,
    TierscopeFileNotFoundError,
)
from .router import Decision, RouteBatch, Router, default_router_dir

__version__: str = _core.__version__

__all__ = [
    "Decision",
    "RouteBatch",
    "Router",
    "default_router_dir",
    "InferenceError",
    "InternalError",
    "InvalidInputError",
    "ModelLoadError",
    "RuntimeUnavailableError",
    "TierscopeError",
    "TierscopeFileNotFoundError",
    "__version__",
]
