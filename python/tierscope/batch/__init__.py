"""Batch scoring: files, directories, globs and stdin in; partitioned, resumable Parquet out.

- :mod:`~tierscope.batch.inputs`: what is read (files, directories, globs, stdin; CSV/TSV/JSONL/Parquet,
  gzip/zstd).
- :mod:`~tierscope.batch.outputs`: what is written (atomic parts with provenance metadata).
- :mod:`~tierscope.batch.job`: chunking, ``resume``, ids and pass-through columns
  (:func:`route_job`, what ``tierscope route`` runs; :func:`route_file`, the single-file form).
- :mod:`~tierscope.batch.dedup`: each distinct text routed once per job (bounded LRU).
- :mod:`~tierscope.batch.progress`: totals, rate and ETA, or one log line per part.
- :mod:`~tierscope.batch.ray`: the same on a Ray Data cluster (``tierscope[ray]``), imported on use.
"""

from __future__ import annotations

from .dedup import DecisionCache, route_deduplicated
from .inputs import FORMATS, Batch, Source, iter_text_chunks, open_source, read_table_columns
from .job import DEDUP_CAPACITY, OUTPUT_FORMATS, decision_table, route_file, route_job
from .outputs import read_provenance

__all__ = [
    "DEDUP_CAPACITY",
    "FORMATS",
    "OUTPUT_FORMATS",
    "Batch",
    "DecisionCache",
    "Source",
    "decision_table",
    "iter_text_chunks",
    "open_source",
    "read_provenance",
    "read_table_columns",
    "route_deduplicated",
    "route_file",
    "route_job",
]
