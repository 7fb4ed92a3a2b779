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
    "AuditReport",
    "DecisionLog",
    "ReviewPlan",
    "audit",
    "plan_reviews",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "ThresholdReport",
    "TierAnswer",
    "choose_threshold",
    "reliability_diagram",
    "stats",
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


_LAZY = {
    # These need pyarrow; import them only when asked for, so routing works without it.
    "DecisionLog": ("decision_log", "DecisionLog"),
    "plan_reviews": ("review_plan", "plan_reviews"),
    "ReviewPlan": ("review_plan", "ReviewPlan"),
    "audit": ("audit", "audit"),
    "AuditReport": ("audit", "AuditReport"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'tierscope' has no attribute {name!r}")
