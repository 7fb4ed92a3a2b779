"""The decision log: crash-safe Parquet segments of routing decisions and their outcomes
(reviews, feedback, shadow verdicts, support contacts), and reading them back. Depends on
:mod:`tierscope.routing` (the decision records) only."""

from __future__ import annotations

from .decision_log import (
    DECISION_SCHEMA,
    OUTCOME_KINDS,
    OUTCOME_SCHEMA,
    SCHEMA_VERSION,
    DecisionLog,
    JoinedLog,
    join_outcomes,
    to_polars,
)
from .reader import load_decisions, load_outcomes, tier_column, window

__all__ = [
    "DECISION_SCHEMA",
    "OUTCOME_KINDS",
    "OUTCOME_SCHEMA",
    "SCHEMA_VERSION",
    "DecisionLog",
    "JoinedLog",
    "join_outcomes",
    "load_decisions",
    "load_outcomes",
    "tier_column",
    "to_polars",
    "window",
]
