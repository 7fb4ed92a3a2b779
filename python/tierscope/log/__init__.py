"""The decision log: crash-safe Parquet segments of routing decisions and their outcomes
(reviews, feedback, shadow verdicts, support contacts) in day partitions, reading them back
(whole, by window with partition pruning, or incrementally with a :class:`LogCursor`), and
keeping the log fast and small (:func:`compact`, :func:`migrate`, :func:`retain`,
:func:`redact_partitions`). Depends on
:mod:`tierscope.routing` (the decision records) only."""

from __future__ import annotations

from .cursor import LogCursor
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
from .maintenance import (
    CompactionReport,
    MigrationReport,
    RetentionReport,
    compact,
    migrate,
    redact_partitions,
    retain,
)
from .reader import load_decisions, load_outcomes, tier_column, window

__all__ = [
    "DECISION_SCHEMA",
    "OUTCOME_KINDS",
    "OUTCOME_SCHEMA",
    "SCHEMA_VERSION",
    "CompactionReport",
    "DecisionLog",
    "JoinedLog",
    "LogCursor",
    "MigrationReport",
    "RetentionReport",
    "compact",
    "join_outcomes",
    "load_decisions",
    "load_outcomes",
    "migrate",
    "redact_partitions",
    "retain",
    "tier_column",
    "to_polars",
    "window",
]
