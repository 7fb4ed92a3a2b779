"""Routing: the encoder router, the uncertainty-routed cascade, calibration, and the decision
records they produce. The lowest layer above the Rust core: it imports nothing from
:mod:`tierscope.log`, :mod:`tierscope.quality` or :mod:`tierscope.models`."""

from __future__ import annotations

from .calibration import (
    Calibrator,
    CostAwareRule,
    IsotonicCalibrator,
    PlattCalibrator,
    ReliabilityDiagram,
    ThresholdReport,
    choose_threshold,
    choose_thresholds,
    fit_calibrator,
    reliability_diagram,
)
from .cascade import Cascade
from .estimator import TierClassifier
from .records import (
    ESCALATION_REASONS,
    FALLBACK_REASONS,
    CascadeDecision,
    CascadeResult,
    Decision,
    DecisionSink,
    RouteBatch,
    TierAnswer,
)
from .router import Router, default_router_dir

__all__ = [
    "Calibrator",
    "Cascade",
    "CascadeDecision",
    "CascadeResult",
    "CostAwareRule",
    "Decision",
    "DecisionSink",
    "ESCALATION_REASONS",
    "FALLBACK_REASONS",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "ReliabilityDiagram",
    "RouteBatch",
    "Router",
    "ThresholdReport",
    "TierAnswer",
    "TierClassifier",
    "choose_threshold",
    "choose_thresholds",
    "default_router_dir",
    "fit_calibrator",
    "reliability_diagram",
]
