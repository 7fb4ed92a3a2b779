"""Per-tier quality straight from a decision log's Parquet files, with DuckDB or polars.

Reviews are drawn with unequal inclusion probabilities π (the review plan oversamples the long
tail and small tiers), so the plain ``avg(score)`` of the reviews is biased: on the README's
example it says 0.951 for the capable tier where the design-based estimate is 0.971. The
queries here compute what :func:`tierscope.audit` reports as ``quality["mean"]``: the Hájek mean
Σ(y/π) / Σ(1/π) per answering tier, over one verdict per reviewed request (the mean of its
scored reviews, with its first review's π; a review without π is a census draw, π = 1), the tier
being the decision's ``answered_by``, else its ``route_tier``. They agree with ``audit()`` to
1e-12 (``tests/quality/test_log_queries.py``). The interval needs the design-based variance:
use ``audit()`` (or :func:`tierscope.stats.estimate`) for it.

Both read ``<log>/<kind>/**/<kind>-*.parquet``: the recursive glob matches the flat layout
(segments directly under ``decisions/`` and ``outcomes/``) and the day-partitioned one
(``decisions/date=YYYY-MM-DD/...``) alike, and the name pattern skips temporary files and
foreign Parquet files, as tierscope's own reader does. Not handled: while a compaction is
replacing files (or after a crash in the middle of one, until the next ``tierscope log
compact``), a glob can see a day's events twice; tierscope's reader cannot. ``hive_partitioning``
is off because the day is already in each event's timestamp (and a mixed flat/partitioned
directory would otherwise be refused).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import _validate as v

__all__ = ["PER_TIER_QUALITY_SQL", "per_tier_quality_duckdb", "per_tier_quality_polars"]

PER_TIER_QUALITY_SQL = """\
WITH decisions AS (
    SELECT request_id, coalesce(answered_by, route_tier, '<none>') AS tier
    FROM read_parquet('LOG/decisions/**/decisions-*.parquet', hive_partitioning = false,
                      union_by_name = true)
),
verdicts AS (  -- one verdict per reviewed request: the mean of its scored reviews
    SELECT request_id, avg(score) AS score, first(coalesce(inclusion_prob, 1.0)) AS pi
    FROM read_parquet('LOG/outcomes/**/outcomes-*.parquet', hive_partitioning = false,
                      union_by_name = true)
    WHERE kind = 'review' AND score IS NOT NULL
    GROUP BY request_id
)
SELECT d.tier,
       count(*) AS reviews,
       sum(v.score / v.pi) / sum(1.0 / v.pi) AS quality  -- Hájek mean, weights 1/π
FROM verdicts v JOIN decisions d USING (request_id)
GROUP BY d.tier
ORDER BY d.tier
"""
"""The π-weighted per-tier quality in DuckDB SQL; replace ``LOG`` with the log directory."""


def _log_dir(log: str | os.PathLike[str]) -> Path:
    return v.existing_dir("log", log, what="decision-log directory")


def per_tier_quality_duckdb(log: str | os.PathLike[str]) -> Any:
    """Run :data:`PER_TIER_QUALITY_SQL` on ``log`` with DuckDB (a pandas DataFrame: ``tier``,
    ``reviews``, ``quality``). Needs ``duckdb``."""
    path = _log_dir(log)
    try:
        import duckdb
    except ImportError as err:
        raise ImportError("per_tier_quality_duckdb() needs duckdb: pip install duckdb") from err
    sql = PER_TIER_QUALITY_SQL.replace("'LOG/", "'" + path.as_posix().replace("'", "''") + "/")
    with duckdb.connect() as con:
        return con.sql(sql).df()


def per_tier_quality_polars(log: str | os.PathLike[str]) -> Any:
    """The same per-tier quality with polars (a polars DataFrame: ``tier``, ``reviews``,
    ``quality``). Needs ``polars``."""
    path = _log_dir(log)
    try:
        import polars as pl
    except ImportError as err:
        raise ImportError("per_tier_quality_polars() needs polars: pip install polars") from err
    # --- the polars query (the README shows this part)
    decisions = pl.scan_parquet(
        f"{path}/decisions/**/decisions-*.parquet", hive_partitioning=False, missing_columns="insert"
    ).select("request_id", pl.coalesce("answered_by", "route_tier", pl.lit("<none>")).alias("tier"))
    verdicts = (
        pl.scan_parquet(
            f"{path}/outcomes/**/outcomes-*.parquet", hive_partitioning=False, missing_columns="insert"
        )
        .filter((pl.col("kind") == "review") & pl.col("score").is_not_null())
        .group_by("request_id", maintain_order=True)
        .agg(pl.col("score").mean(), pl.col("inclusion_prob").fill_null(1.0).first().alias("pi"))
    )
    return (
        verdicts.join(decisions, on="request_id")
        .group_by("tier")
        .agg(
            pl.len().alias("reviews"),
            ((pl.col("score") / pl.col("pi")).sum() / (1.0 / pl.col("pi")).sum()).alias("quality"),
        )
        .sort("tier")
        .collect()
    )
