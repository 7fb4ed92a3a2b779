"""tierscope: LLM cost-routing layers that do not break the product."""

from __future__ import annotations

from . import _core, stats
from .calibration import (
    CostAwareRule,
    IsotonicCalibrator,
    PlattCalibrator,
    ThresholdReport,
    choose_threshold,
    reliability_diagram,
)
from .cascade import Cascade, CascadeDecision, CascadeError, CascadeResult, TierAnswer
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
    "Cascade",
    "CascadeDecision",
    "CascadeError",
    "CascadeResult",
    "CostAwareRule",
    "DecisionLog",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "ThresholdReport",
    "TierAnswer",
    "choose_threshold",
    "reliability_diagram",
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


def __getattr__(name: str) -> object:
    # The decision log needs pyarrow; import it only when asked for, so routing works without it.
    if name == "DecisionLog":
        from .decision_log import DecisionLog

        return DecisionLog
    raise AttributeError(f"module 'tierscope' has no attribute {name!r}")
