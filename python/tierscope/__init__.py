"""tierscope: LLM cost-routing layers that do not break the product."""

from __future__ import annotations

from . import _core, stats
from .audit import AuditReport, audit
from .calibration import (
    CostAwareRule,
    IsotonicCalibrator,
    PlattCalibrator,
    ThresholdReport,
    choose_threshold,
    reliability_diagram,
)
from .cascade import Cascade, CascadeDecision, CascadeError, CascadeResult, TierAnswer
from .decision_log import DecisionLog
from .exceptions import (
    InferenceError,
    InternalError,
    InvalidInputError,
    ModelLoadError,
    RuntimeUnavailableError,
    TierscopeError,
    TierscopeFileNotFoundError,
)
from .review_plan import ReviewPlan, plan_reviews
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
