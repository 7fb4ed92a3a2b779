"""tierscope: LLM cost-routing layers that do not break the product.

The package is layered, and imports run one way::

    _core (Rust)  exceptions
      └─ stats            statistics core (mirrors src/stats)
      └─ routing          Router, Cascade, calibration, decision records
           └─ log         DecisionLog: crash-safe Parquet decisions + outcomes, readers
                └─ quality   review plans, the per-tier audit, its report
      models   (routing →) building the default router, ONNX export   [default-model] extra
      batch, cli, demo    entry points on top

Everything below is exported lazily: ``import tierscope`` loads the Rust extension and nothing
else (no pyarrow, pandas or matplotlib) until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _core
from .exceptions import (
    CascadeError,
    DecisionLogError,
    InferenceError,
    InternalError,
    InvalidInputError,
    LogDirectoryError,
    MissingDependencyError,
    ModelLoadError,
    ReviewPlanWarning,
    RuntimeUnavailableError,
    SegmentWarning,
    TierscopeError,
    TierscopeFileNotFoundError,
)

__version__: str = _core.__version__

#: Public name → the module that defines it (imported on first use).
_LAZY: dict[str, str] = {
    "stats": "tierscope.stats",
    "Router": "tierscope.routing.router",
    "default_router_dir": "tierscope.routing.router",
    "Decision": "tierscope.routing.records",
    "RouteBatch": "tierscope.routing.records",
    "CascadeDecision": "tierscope.routing.records",
    "CascadeResult": "tierscope.routing.records",
    "TierAnswer": "tierscope.routing.records",
    "Cascade": "tierscope.routing.cascade",
    "CostAwareRule": "tierscope.routing.calibration",
    "IsotonicCalibrator": "tierscope.routing.calibration",
    "PlattCalibrator": "tierscope.routing.calibration",
    "ThresholdReport": "tierscope.routing.calibration",
    "choose_threshold": "tierscope.routing.calibration",
    "choose_thresholds": "tierscope.routing.calibration",
    "fit_calibrator": "tierscope.routing.calibration",
    "reliability_diagram": "tierscope.routing.calibration",
    "DecisionLog": "tierscope.log.decision_log",
    "load_decisions": "tierscope.log.reader",
    "load_outcomes": "tierscope.log.reader",
    "AuditReport": "tierscope.quality.report",
    "audit": "tierscope.quality.audit",
    "ReviewPlan": "tierscope.quality.review_plan",
    "plan_reviews": "tierscope.quality.review_plan",
    # issue 14: the cascade's confidence signals
    "Verifier": "tierscope.confidence.verifier",
    "logprob_confidence": "tierscope.confidence.logprobs",
    "parse_confidence": "tierscope.confidence.self_eval",
    "self_eval_confidence_fn": "tierscope.confidence.self_eval",
}

if TYPE_CHECKING:  # pragma: no cover - what type checkers and IDEs see
    from . import stats
    from .confidence.logprobs import logprob_confidence
    from .confidence.self_eval import parse_confidence, self_eval_confidence_fn
    from .confidence.verifier import Verifier
    from .log.decision_log import DecisionLog
    from .log.reader import load_decisions, load_outcomes
    from .quality.audit import audit
    from .quality.report import AuditReport
    from .quality.review_plan import ReviewPlan, plan_reviews
    from .routing.calibration import (
        CostAwareRule,
        IsotonicCalibrator,
        PlattCalibrator,
        ThresholdReport,
        choose_threshold,
        choose_thresholds,
        fit_calibrator,
        reliability_diagram,
    )
    from .routing.cascade import Cascade
    from .routing.records import CascadeDecision, CascadeResult, Decision, RouteBatch, TierAnswer
    from .routing.router import Router, default_router_dir


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tierscope' has no attribute {name!r}")
    value = importlib.import_module(module)
    if name != "stats":  # the one module-valued export
        value = getattr(value, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AuditReport",
    "Cascade",
    "CascadeDecision",
    "CascadeError",
    "CascadeResult",
    "CostAwareRule",
    "Decision",
    "DecisionLog",
    "DecisionLogError",
    "InferenceError",
    "InternalError",
    "InvalidInputError",
    "IsotonicCalibrator",
    "LogDirectoryError",
    "MissingDependencyError",
    "ModelLoadError",
    "PlattCalibrator",
    "ReviewPlan",
    "ReviewPlanWarning",
    "RouteBatch",
    "Router",
    "RuntimeUnavailableError",
    "SegmentWarning",
    "ThresholdReport",
    "TierAnswer",
    "TierscopeError",
    "TierscopeFileNotFoundError",
    "Verifier",
    "__version__",
    "audit",
    "choose_threshold",
    "choose_thresholds",
    "default_router_dir",
    "fit_calibrator",
    "load_decisions",
    "load_outcomes",
    "logprob_confidence",
    "parse_confidence",
    "plan_reviews",
    "reliability_diagram",
    "self_eval_confidence_fn",
    "stats",
]
