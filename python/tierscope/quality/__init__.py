"""Quality measurement over a decision log: stratified review plans, the per-tier audit and its
report. Depends on :mod:`tierscope.log` and :mod:`tierscope.stats`; nothing depends on it but the
CLI and the demo."""

from __future__ import annotations

from .audit import audit
from .report import AuditReport
from .review_plan import DEFAULT_CONFIDENCE_BANDS, DEFAULT_TAIL_BANDS, ReviewPlan, band_labels, plan_reviews

__all__ = [
    "DEFAULT_CONFIDENCE_BANDS",
    "DEFAULT_TAIL_BANDS",
    "AuditReport",
    "ReviewPlan",
    "audit",
    "band_labels",
    "plan_reviews",
]
