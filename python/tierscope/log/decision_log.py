"""A crash-safe, multi-process log of routing decisions and their later outcomes (Parquet segments).

Layout of a log directory (hive-style day partitions; see :mod:`tierscope.log.layout`)::

    <dir>/decisions/date=YYYY-MM-DD/decisions-<utc time>-<pid>-<random>-<seq>.parquet   routed calls
    <dir>/outcomes/date=YYYY-MM-DD/outcomes-<utc time>-<pid>-<random>-<seq>.parquet     reviews, feedback, ...

The partition is the UTC day of each event's ``timestamp``: a flush whose events span midnight
writes one segment per day. Logs written before partitions (segments directly in
``<dir>/decisions/``) are still read, and ``tierscope log migrate`` moves them into partitions.
Compacted files (``...-c<seq>.parquet``, :func:`tierscope.log.compact`) replace a day's
segments; reads skip the inputs a visible compacted file lists, so they see each event once.

Writing: each :class:`DecisionLog` buffers events in memory and writes a segment when the buffer
holds ``flush_every`` events (default 1000), when ``flush_interval_s`` has passed (checked on each
event and by a background thread), on :meth:`DecisionLog.flush`/:meth:`DecisionLog.close`, and at
interpreter exit (``atexit`` and a ``weakref.finalize``). A segment is written to a dot-prefixed
temporary file in the same directory, ``fsync``'d, then committed with ``os.replace`` (atomic), and
the directory is ``fsync``'d. So a reader sees whole segments or nothing; a crash (even SIGKILL)
loses at most the unflushed buffer. Segment names carry the pid and a random token, so any number
of processes (and several logs in one process) can write into the same directory. After
``fork()`` the child discards the buffer it inherited (the parent still owns and flushes it).
A fork never happens mid-write: an ``os.register_at_fork`` hook takes every writer's lock before
the fork (so no thread is inside pyarrow, whose internal locks a child would inherit held) and
the child starts with fresh locks; a fork while another thread writes cannot hang the child.

Checking: every field is checked and normalised at ``log_*`` time, and a bad value raises
:class:`~tierscope.exceptions.InvalidInputError` naming the field, with nothing buffered (so
one bad event can never fail later flushes and lose the events around it). Text must encode as
UTF-8: a lone surrogate is *refused*, not escaped (an escaped request id would no longer match
its outcomes; text the :class:`~tierscope.routing.Cascade` records itself, such as exception
messages, is escaped by the cascade). Booleans are ``True``/``False`` only; numbers are finite
and in range (scores, confidences, thresholds in [0, 1]; an outcome's ``inclusion_prob`` in
(0, 1]; costs, latencies, token counts and ``days_after`` ``>= 0``); numpy scalars are accepted
like Python ones; extra fields must be JSON with string keys. In a decision *mapping* (often a
pandas record) a top-level NaN, ``pd.NA`` or ``pd.NaT`` means a missing value and is stored as
null, never as NaN; the explicit arguments of :meth:`DecisionLog.log_outcome` and friends refuse
NaN. As defence in depth, a row that
Arrow still cannot store is dropped at flush with a ``RuntimeWarning`` naming the field, and
the other rows are written (``stats["decisions_dropped"]``/``["outcomes_dropped"]``).

Redaction: the free-text fields (``escalation_detail``, ``fallback_reason``, ``error``, outcome
``detail`` and extra fields) are truncated to ``max_text_chars`` (1000) by default, or kept,
keyed-hashed or omitted (``DecisionLog(..., redact=...)``, see :class:`DecisionLog`).

Reading: :meth:`DecisionLog.read` / :meth:`decisions` / :meth:`outcomes` return a
``pyarrow.Table`` (``.to_pandas()``; :func:`to_polars` if polars is installed). Unreadable
segments, leftover temporary files and foreign ``.parquet`` files (not named like a segment, or
without ``tierscope.schema_version`` metadata) are skipped with a :class:`SegmentWarning` naming
the file, once per file and process. A temporary file whose writer process is gone and that is
older than :data:`ORPHAN_TEMP_AGE_S` (10 minutes) is removed, by a read or by a writer opening the
log, with one warning. :func:`join_outcomes` joins outcomes to decisions by ``request_id`` and counts (never
drops) orphan outcomes whose request id has no decision.

DuckDB, polars or Spark can query a log directly (``date=YYYY-MM-DD`` directories prune by day).
Weight reviews by ``1 / inclusion_prob``: the review plan oversamples some strata, so a plain
``avg(score)`` over reviews is biased. :mod:`tierscope.quality.queries` holds the tested
π-weighted per-tier query (``PER_TIER_QUALITY_SQL``, ``per_tier_quality_duckdb``,
``per_tier_quality_polars``), equal to :func:`tierscope.audit`'s estimates to 1e-12.

(Temporary files never match ``*.parquet``; a corrupt segment would make DuckDB fail where
:meth:`DecisionLog.read` skips it with a warning; for the milliseconds between a compacted
file's rename and its inputs' deletion, or after a compactor crashed there until the next
compaction, DuckDB counts that day twice where :meth:`DecisionLog.read` does not.) Every row
has a ``schema_version`` column and every file records it in its Parquet metadata
(``tierscope.schema_version``).

Buffered events are flushed at interpreter exit, but not on ``os._exit`` (which
``multiprocessing`` workers use) nor on SIGKILL: in worker processes call
:meth:`DecisionLog.close` (or :meth:`DecisionLog.flush`) before the worker returns. Writes
(and their ``fsync``) happen on the calling thread when a flush is due, including inside
``Cascade.arun``; use a larger ``flush_every`` or ``fsync=False`` if that latency matters.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError as _err:  # pragma: no cover - depends on the environment
    # pyarrow is a core dependency (the decision log is part of the core): a missing one is a broken install.
    raise ImportError("tierscope.log needs pyarrow, a core dependency: pip install pyarrow") from _err

from .. import _validate as _v
from .._logging import logger as _logger
from .._optional import require
from ..exceptions import (
    DecisionLogError,
    InvalidInputError,
    LogDirectoryError,
    SegmentWarning,
    TierscopeFileNotFoundError,
)
from ..routing.records import CascadeDecision
from . import _fields, layout
from .quality import UNANSWERED, quality_by, review_units

__all__ = [
    "SCHEMA_VERSION",
    "DECISION_SCHEMA",
    "OUTCOME_SCHEMA",
    "OUTCOME_KINDS",
    "DecisionLog",
    "JoinedLog",
    "join_outcomes",
    "to_polars",
]

SCHEMA_VERSION = 1
OUTCOME_KINDS = ("review", "feedback", "shadow", "support_contact", "judge")
"""Outcome kinds: a human review label, user feedback (thumbs), a shadow judgment (cheap vs
capable), a contact with human support ``days_after`` the answer, an LLM judge's score (its id in
``reviewer``, its sampling probability in ``inclusion_prob``; added without a schema change, so
older logs read as before and older readers skip the kind)."""

_SCHEMA_KEY = b"tierscope.schema_version"
_META = {_SCHEMA_KEY: str(SCHEMA_VERSION).encode()}
_TS = pa.timestamp("us", tz="UTC")


def _arrow_type(annotation: str) -> pa.DataType:
    a = str(annotation)
    if "datetime" in a:
        return _TS
    if "dict" in a:
        return pa.string()  # JSON text
    if a.startswith("bool"):
        return pa.bool_()
    if a.startswith("int"):
        return pa.int64()
    if a.startswith("float"):
        return pa.float64()
    return pa.string()


_COMMON = [
    pa.field("schema_version", pa.int32(), nullable=False),
    pa.field("writer_pid", pa.int64()),
    pa.field("extra", pa.string()),
]
DECISION_SCHEMA = pa.schema(
    [pa.field(f.name, _arrow_type(str(f.type))) for f in fields(CascadeDecision)]
    # Context columns (trace/span/session, see _fields.CONTEXT_COLUMNS): additive, null in old logs.
    + [pa.field(name, pa.type_for_alias(typ)) for name, typ in _fields.CONTEXT_COLUMNS]
    + _COMMON,
    metadata=_META,
)
"""One row per routed call: the :class:`~tierscope.routing.CascadeDecision` fields (router
probabilities as a JSON string), plus ``schema_version``, ``writer_pid`` and ``extra`` (JSON of
any other fields given)."""

OUTCOME_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("timestamp", _TS),
        pa.field("tier", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("label", pa.bool_()),
        pa.field("reviewer", pa.string()),
        pa.field("inclusion_prob", pa.float64()),
        pa.field("cheap_score", pa.float64()),
        pa.field("capable_score", pa.float64()),
        pa.field("days_after", pa.float64()),
        pa.field("detail", pa.string()),
    ]
    + _COMMON,
    metadata=_META,
)
"""One row per outcome event, keyed by ``request_id``: ``score`` in [0, 1] (review score, thumbs
up = 1, shadow agreement), ``label`` (bool), ``reviewer``, ``inclusion_prob`` (the sampling
probability used to pick this request, for inverse-probability weighting), ``cheap_score`` /
``capable_score`` (shadow verdicts), ``days_after`` (support contacts), ``detail`` (JSON)."""

_KINDS = {"decisions": DECISION_SCHEMA, "outcomes": OUTCOME_SCHEMA}


# -- checking an event at log time (see _fields) ------------------------------------------------
_BOOKKEEPING = frozenset({"schema_version", "writer_pid", "extra"})


@functools.cache
def _specs(schema: pa.Schema, prefix: str) -> tuple[frozenset[str], tuple[tuple[str, str, Any], ...]]:
    """Column names and the per-column checkers of the fields a caller fills, once per schema."""
    names = frozenset(schema.names)
    columns = tuple((f.name, str(f.type)) for f in schema if f.name not in _BOOKKEEPING)
    return names, _fields.checkers(columns, prefix)


def _row(
    record: Mapping[str, Any], schema: pa.Schema, pid: int, redactor: _fields.Redactor, prefix: str = ""
) -> dict[str, Any]:
    """One checked, normalised, redacted row; raises InvalidInputError naming a bad field."""
    names, specs = _specs(schema, prefix)
    # Decisions come as records (often pandas rows, where NaN/NaT means missing); outcomes as
    # explicit arguments, where a NaN is a caller's bug.
    out, extra = _fields.row(record, specs, names, prefix, redactor, nan_is_missing=schema is DECISION_SCHEMA)
    redactor.apply(out, extra)
    if out.get("timestamp") is None:
        out["timestamp"] = datetime.now(timezone.utc)
    out["schema_version"] = SCHEMA_VERSION
    out["writer_pid"] = pid
    return out


def _bad_field(row: Mapping[str, Any], schema: pa.Schema) -> str | None:
    """The first column of ``row`` Arrow cannot store (None when the row as a whole converts)."""
    for f in schema:
        try:
            pa.array([row.get(f.name)], type=f.type)
        except Exception:  # noqa: BLE001 - any conversion failure marks the field
            return str(f.name)
    return None


def _salvage(rows: list[dict[str, Any]], schema: pa.Schema) -> tuple[pa.Table, dict[str, int]]:
    """The table of the rows Arrow can store, and field -> count of the rows dropped."""
    good: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for r in rows:
        try:
            pa.Table.from_pylist([r], schema=schema)
        except Exception:  # noqa: BLE001
            name = _bad_field(r, schema) or "<row>"
            dropped[name] = dropped.get(name, 0) + 1
            continue
        good.append(r)
    return pa.Table.from_pylist(good, schema=schema), dropped


_AUTO_COMPACT: Callable[..., Any] | None = None
""":func:`tierscope.log.maintenance.compact`, registered by that module (which imports this one)."""


# -- the writer (separate from DecisionLog so the finalizer does not keep the log alive) ---------
_WRITERS: weakref.WeakSet[_Writer] = weakref.WeakSet()


class _Writer:
    def __init__(
        self,
        root: Path,
        flush_every: int,
        flush_interval_s: float | None,
        fsync: bool,
        redactor: _fields.Redactor,
    ) -> None:
        self.root = root
        self.dirs = {k: root / k for k in _KINDS}
        self.flush_every = flush_every
        self.interval = flush_interval_s
        self.fsync = fsync
        self.redactor = redactor
        self._init_process_state()
        self.closed = False
        self.committed = {k: 0 for k in _KINDS}
        self.dropped = {k: 0 for k in _KINDS}
        self.segments = 0
        self.auto_compact = False
        self.compacted_day: Any = None
        _WRITERS.add(self)

    def _init_process_state(self) -> None:
        self.pid = os.getpid()
        self.token = secrets.token_hex(4)
        self.seq = 0
        self.lock = threading.RLock()
        self.buffers: dict[str, list[dict[str, Any]]] = {k: [] for k in _KINDS}
        self.last_flush = time.monotonic()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def after_fork(self) -> None:
        """In a forked child: drop the parent's buffer (the parent flushes it), new segment names."""
        if os.getpid() != self.pid:
            self._init_process_state()

    def append(self, kind: str, record: Mapping[str, Any], prefix: str = "") -> None:
        self.after_fork()
        # Checked before taking the lock: a bad event raises here and never reaches the buffer.
        row = _row(record, _KINDS[kind], self.pid, self.redactor, prefix)
        with self.lock:
            if self.closed:
                raise DecisionLogError(f"DecisionLog({self.root}): the log is closed")
            row["writer_pid"] = self.pid  # the pid of this process even if it forked meanwhile
            self.buffers[kind].append(row)
            if len(self.buffers[kind]) >= self.flush_every:
                self._flush_kind(kind)
            if self.interval is not None:
                if time.monotonic() - self.last_flush >= self.interval:
                    self._flush_all()
                self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            ref = weakref.ref(self)
            stop, interval = self.stop, float(self.interval or 1.0)
            self.thread = threading.Thread(
                target=_timer_loop, args=(ref, stop, interval), name="tierscope-log-flush", daemon=True
            )
            self.thread.start()

    def flush(self) -> None:
        self.after_fork()
        with self.lock:
            self._flush_all()

    def _flush_all(self) -> None:
        for kind in _KINDS:
            if self.buffers[kind]:
                self._flush_kind(kind)
        self.last_flush = time.monotonic()

    def _flush_kind(self, kind: str) -> None:
        rows = self.buffers[kind]
        if not rows:
            return
        written = self._write_segment(kind, rows)
        self.committed[kind] += written
        self.dropped[kind] += len(rows) - written
        self.buffers[kind] = []
        self.last_flush = time.monotonic()
        if self.auto_compact and written:
            self._compact_past_days()

    def _compact_past_days(self) -> None:
        """Once per UTC day and process (at its first flush): compact the past days' partitions.

        Runs on the flushing thread under the writer's lock (so a fork never lands inside it);
        several processes share the work through the partitions' compaction locks. A failure is a
        warning: the events just flushed are already committed.
        """
        today = datetime.now(timezone.utc).date()
        if self.compacted_day == today:
            return
        self.compacted_day = today
        compact = _AUTO_COMPACT
        if compact is None:  # pragma: no cover - tierscope.log always imports maintenance
            return
        try:
            compact(self.root, older_than_days=0.0, fsync=self.fsync)
        except Exception as err:  # noqa: BLE001 - compaction is an optimisation, never a lost event
            _logger.warning("tierscope: DecisionLog(%s) auto-compaction failed: %s", self.root, err)

    def _table(self, kind: str, rows: list[dict[str, Any]]) -> pa.Table:
        """The rows as a table; rows Arrow refuses are dropped with a warning, never the rest.

        Every field is checked at log time, so this is defence in depth: one bad row (a bug, or
        a buffer edited by hand) must not fail every flush and lose every event around it.
        """
        schema = _KINDS[kind]
        try:
            return pa.Table.from_pylist(rows, schema=schema)
        except Exception:  # noqa: BLE001 - salvaged below, row by row
            table, dropped = _salvage(rows, schema)
        fields_ = ", ".join(f"`{name}` ({n})" for name, n in sorted(dropped.items()))
        warnings.warn(
            f"tierscope: DecisionLog({self.root}) dropped {sum(dropped.values())} {kind} event(s) "
            f"that cannot be stored; bad field(s): {fields_}",
            RuntimeWarning,
            stacklevel=5,
        )
        return table

    def _write_segment(self, kind: str, rows: list[dict[str, Any]]) -> int:
        """Write ``rows`` as one segment per UTC day of their timestamps; the rows written."""
        by_day: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:  # a buffer spanning midnight is split: each partition holds its day only
            by_day.setdefault(layout.day_of(r["timestamp"]), []).append(r)
        written, done = 0, 0
        days = sorted(by_day)
        try:
            for day in days:
                table = self._table(kind, by_day[day])
                if table.num_rows:
                    self._commit(kind, day, table)
                    written += int(table.num_rows)
                    self.segments += 1
                done += 1
        except BaseException:
            if done:  # the days already committed leave the buffer: a retry must not repeat them
                self.buffers[kind] = [r for d in days[done:] for r in by_day[d]]
                self.committed[kind] += written
            raise
        return written

    def _commit(self, kind: str, day: Any, table: pa.Table) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.seq += 1
        name = f"{kind}-{stamp}-{self.pid}-{self.token}-{self.seq:06d}.parquet"
        directory = self.dirs[kind] / layout.day_dir(day)
        final = directory / name
        try:
            write_atomic(table, final, fsync=self.fsync)
        except OSError as err:
            raise DecisionLogError(f"DecisionLog: could not write segment {final}: {err}") from err

    def close(self) -> None:
        if os.getpid() != self.pid:  # a forked child never flushes the parent's buffer
            self._init_process_state()
            self.closed = True
            return
        with self.lock:
            if self.closed:
                return
            try:
                self._flush_all()
            finally:
                self.closed = True
                self.stop.set()

    def close_quietly(self) -> None:
        try:
            self.close()
        except Exception as err:  # noqa: BLE001 - at exit there is nobody to raise to
            _logger.error("tierscope: DecisionLog(%s) lost its buffer at exit: %s", self.root, err)


def write_atomic(table: pa.Table, final: Path, *, fsync: bool = True, **options: Any) -> None:
    """Write ``table`` to ``final`` via a dot-prefixed temporary file and ``os.replace``.

    The directory is created when missing (and its parent ``fsync``'d then, so the new partition
    survives a power cut). A retention pass removing the directory between ``mkdir`` and the write
    is retried once. ``options`` go to :func:`pyarrow.parquet.write_table`.
    """
    directory = final.parent
    options.setdefault("compression", "zstd")
    for attempt in (0, 1):
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            if fsync:
                _fsync_dir(directory.parent)
        tmp = directory / f".{final.name}.{secrets.token_hex(3)}.tmp"
        try:
            with open(tmp, "wb") as f:
                pq.write_table(table, f, **options)
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, final)
            if fsync:
                _fsync_dir(directory)
            return
        except FileNotFoundError:
            _unlink_quietly(tmp)
            if attempt:
                raise
        except BaseException:
            _unlink_quietly(tmp)
            raise


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _timer_loop(ref: weakref.ref[_Writer], stop: threading.Event, interval: float) -> None:
    while not stop.wait(max(0.05, interval / 2)):
        w = ref()
        if w is None or w.closed or os.getpid() != w.pid:
            return
        try:
            with w.lock:
                if time.monotonic() - w.last_flush >= interval and any(w.buffers.values()):
                    w._flush_all()
        except Exception as err:  # noqa: BLE001
            _logger.error("tierscope: DecisionLog(%s) background flush failed: %s", w.root, err)
        del w


def _flush_all_at_exit() -> None:
    for w in list(_WRITERS):
        w.close_quietly()


# -- fork safety ---------------------------------------------------------------------------------
# A fork while another thread is inside pyarrow (building or writing a segment) can leave the
# child with a pyarrow/allocator mutex held by a thread that does not exist there: the child's
# first segment write then hangs forever. So the fork waits until no writer is mid-write: every
# writer's lock is taken before the fork (all our pyarrow writes run under it) and released after
# it in the parent; the child gets fresh locks and an empty buffer, and calls into pyarrow only
# after that.
_FORK_HELD: list[_Writer] = []


def _before_fork() -> None:
    held = sorted(_WRITERS, key=id)  # one global order: two threads forking at once cannot deadlock
    for w in held:
        w.lock.acquire()
    _FORK_HELD[:] = held


def _after_fork_in_parent() -> None:
    held, _FORK_HELD[:] = list(_FORK_HELD), []
    for w in reversed(held):
        w.lock.release()


def _after_fork_in_child() -> None:
    held, _FORK_HELD[:] = list(_FORK_HELD), []
    for w in {*held, *_WRITERS}:
        w._init_process_state()  # new, unheld lock: the parent's was held by the forking thread
    _WARNED.clear()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


# -- reading -----------------------------------------------------------------------------------
def _as_utc(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name}: expected a datetime, got {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema.remove_metadata().with_metadata(_META))


ORPHAN_TEMP_AGE_S = 600.0
"""A temporary segment older than this (by mtime) whose writer process no longer exists is an
orphan of a killed writer: a writer opening the log, or a read, removes it."""

_TEMP_NAME = layout.TEMP_NAME
_READ_ATTEMPTS = 20
"""A read restarts when a listed file vanished under it (compaction or retention got there first)."""

_WARNED: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


def _warn_once(reason: str, path: str, message: str, stacklevel: int = 4) -> None:
    """One :class:`SegmentWarning` per (reason, file) and process, not one per read forever."""
    with _WARNED_LOCK:
        if (reason, path) in _WARNED:
            return
        _WARNED.add((reason, path))
    warnings.warn(message, SegmentWarning, stacklevel=stacklevel)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or not ours to judge): assume alive
    return True


def _orphan_pid(name: str, mtime: float) -> int | None:
    """The dead writer's pid when temporary file ``name`` is an orphan, else None."""
    m = _TEMP_NAME.match(name)
    if m is None:
        return None
    pid = int(m.group(2))
    if time.time() - mtime < ORPHAN_TEMP_AGE_S or _pid_alive(pid):
        return None
    return pid


def _reclaim_temp(entry: os.DirEntry[str]) -> bool:
    """Remove ``entry`` when it is an orphaned temporary segment; True when it was removed."""
    try:
        pid = _orphan_pid(entry.name, entry.stat().st_mtime)
    except OSError:
        return False
    if pid is None:
        return False
    try:
        os.unlink(entry.path)
    except FileNotFoundError:
        return True  # another process reclaimed it first
    except OSError:
        return False  # e.g. a read-only reader: only warned about
    # Not deduplicated: the file is gone, so this is said once per orphan anyway.
    warnings.warn(
        f"tierscope: removed orphaned temporary segment {entry.path} (its writer, pid {pid}, is gone)",
        SegmentWarning,
        stacklevel=4,
    )
    return True


def _reclaim_orphans(root: Path) -> None:
    """At open: remove the temporary segments of dead writers (best effort), flat and per day."""
    for kind in _KINDS:
        listing = layout.list_kind(root / kind, kind, None, None)
        for entry in listing.temps:
            _reclaim_temp(entry)


class _Vanished(Exception):
    """A listed file disappeared before it was read: the read starts again."""


@dataclass
class _Part:
    """One file as read: its conformed rows, and which writer segments they come from."""

    name: str
    """The path relative to the kind directory."""
    table: pa.Table
    sources: list[str]
    """The writer segments (file names) of the rows: the file itself, or a derived file's list."""
    source_index: Any
    """Per row, the index into ``sources`` (an Arrow int32 array), or None: all rows are sources[0]."""
    replaces: list[str]
    day: Any
    """The partition day (a date), None for a flat segment."""


def _read_part(path: Path, kind_dir: Path, schema: pa.Schema, columns: list[str] | None) -> _Part | None:
    """Read one file; None (with one warning) when it is unreadable or not tierscope's."""
    derived = layout.is_derived(path)
    try:
        want = None if columns is None else [*columns, layout.SOURCE_COLUMN] if derived else columns
        t = pq.read_table(path, columns=want) if want is None else _read_columns(path, want)
    except Exception as err:  # noqa: BLE001 - a bad file never breaks a read
        if not path.exists():
            raise _Vanished(str(path)) from err
        _warn_once(
            "unreadable",
            str(path),
            f"tierscope: skipping unreadable segment {path}: {type(err).__name__}: {err}",
        )
        return None
    meta = t.schema.metadata or {}
    if _SCHEMA_KEY not in meta:
        _warn_once(
            "foreign",
            str(path),
            f"tierscope: ignoring {path}: not a tierscope segment "
            "(no tierscope.schema_version in its Parquet metadata)",
        )
        return None
    source_index = None
    sources = [path.name]
    if derived and layout.SOURCE_COLUMN in t.column_names:
        source_index = t.column(layout.SOURCE_COLUMN).combine_chunks()
        sources = layout.manifest(meta, layout.SOURCES_KEY) or sources
    try:
        table = _conform(t, schema if columns is None else _project(schema, columns))
    except Exception as err:  # noqa: BLE001
        _warn_once(
            "unreadable",
            str(path),
            f"tierscope: skipping unreadable segment {path}: {type(err).__name__}: {err}",
        )
        return None
    day = layout.parse_day_dir(path.parent.name) if path.parent != kind_dir else None
    replaces = layout.manifest(meta, layout.REPLACES_KEY) if derived else []
    return _Part(layout.relative(path, kind_dir), table, sources, source_index, replaces, day)


def _read_columns(path: Path, columns: list[str]) -> pa.Table:
    """The given columns of one file (those it has; metadata kept)."""
    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    t = pf.read(columns=[c for c in columns if c in names])
    return t.replace_schema_metadata(pf.schema_arrow.metadata)


def _project(schema: pa.Schema, columns: list[str]) -> pa.Schema:
    return pa.schema([schema.field(c) for c in columns if c in schema.names], metadata=schema.metadata)


def _shadow(parts: list[_Part]) -> list[_Part]:
    """Drop what a visible derived file replaces: in partition D, the rows of day D of each input."""
    by_day: dict[str, set[Any]] = {}
    for p in parts:
        for name in p.replaces:
            by_day.setdefault(name, set()).add(p.day)
    out = []
    for p in parts:
        days = by_day.get(p.name)
        if not days:
            out.append(p)
        elif p.day is None and None not in days and "timestamp" in p.table.column_names:
            keep = _not_on_days(p.table.column("timestamp"), days)  # a flat segment, partly migrated
            out.append(_Part(p.name, p.table.filter(keep), p.sources, _take(p.source_index, keep), [], None))
    return out


def _not_on_days(ts: Any, days: set[Any]) -> Any:
    day_values = pc.cast(pc.floor_temporal(ts, unit="day"), pa.timestamp("us", tz="UTC"))
    starts = pa.array([datetime(d.year, d.month, d.day, tzinfo=timezone.utc) for d in days], _TS)
    return pc.invert(pc.fill_null(pc.is_in(day_values, value_set=starts), False))


def _take(index: Any, mask: Any) -> Any:
    return None if index is None else index.filter(mask)


def _load_once(kind_dir: Path, kind: str, since: Any, until: Any, columns: list[str] | None) -> list[_Part]:
    return _shadow(_read_listing(kind_dir, kind, layout.list_kind(kind_dir, kind, since, until), columns))


def _read_listing(
    kind_dir: Path, kind: str, listing: layout.Listing, columns: list[str] | None
) -> list[_Part]:
    """The readable tierscope files of ``listing`` (warning once about the others), unshadowed."""
    schema = _KINDS[kind]
    for entry in listing.temps:
        if not _reclaim_temp(entry):
            _warn_once(
                "temp",
                entry.path,
                f"tierscope: skipping uncommitted temporary segment {entry.path} "
                "(a writer crashed mid-write or is still writing)",
            )
    for path in listing.foreign:
        _warn_once(
            "foreign",
            str(path),
            f"tierscope: ignoring {path}: not named like a {kind} segment "
            f"({kind}-<utc time>-<pid>-<token>-<seq>.parquet)",
        )
    with ThreadPoolExecutor(max_workers=_READ_THREADS) as pool:
        read = list(pool.map(lambda p: _read_part(p, kind_dir, schema, columns), listing.segments))
    return [p for p in read if p is not None]


_READ_THREADS = max(2, min(8, 2 * (os.cpu_count() or 1)))


def _load_parts(
    root: Path, kind: str, since: Any, until: Any, columns: list[str] | None = None
) -> list[_Part]:
    """Every visible file of ``kind`` whose partition overlaps ``[since, until)``, read."""
    _v.choice("kind", kind, tuple(_KINDS))
    root = Path(root)
    if not root.is_dir():
        raise TierscopeFileNotFoundError(f"DecisionLog: log directory {root} does not exist")
    since, until = _as_utc("since", since), _as_utc("until", until)
    kind_dir = root / kind
    if not kind_dir.is_dir():
        return []
    for _ in range(_READ_ATTEMPTS):
        try:
            return _load_once(kind_dir, kind, since, until, columns)
        except _Vanished:
            continue  # compaction or retention moved files meanwhile: list again
    raise DecisionLogError(
        f"DecisionLog: the files of {kind_dir} kept changing during {_READ_ATTEMPTS} read attempts"
    )


def _read_kind(
    root: Path, kind: str, since: datetime | None, until: datetime | None, columns: list[str] | None = None
) -> pa.Table:
    schema = _KINDS[kind] if kind in _KINDS else None
    parts = _load_parts(root, kind, since, until, columns)
    if schema is not None and columns is not None:
        schema = _project(schema, columns)
    if not parts:
        return (schema or DECISION_SCHEMA).empty_table()
    since, until = _as_utc("since", since), _as_utc("until", until)
    tables = []
    for p in parts:  # a partition inside the window needs no row filter (its rows are its day's)
        inside = p.day is not None and layout.day_within(p.day, since, until)
        has_ts = "timestamp" in p.table.column_names
        tables.append(p.table if inside or not has_ts else _window(p.table, since, until))
    return pa.concat_tables(tables)


def _window(table: pa.Table, since: datetime | None, until: datetime | None) -> pa.Table:
    since, until = _as_utc("since", since), _as_utc("until", until)
    if since is not None:
        table = table.filter(pc.greater_equal(table.column("timestamp"), pa.scalar(since, _TS)))
    if until is not None:
        table = table.filter(pc.less(table.column("timestamp"), pa.scalar(until, _TS)))
    return table


Format = Literal["arrow", "pandas", "polars"]


def _to(table: pa.Table, format: Format) -> Any:
    if format == "arrow":
        return table
    if format == "pandas":
        return table.to_pandas()
    if format == "polars":
        return to_polars(table)
    raise InvalidInputError(f"format: expected 'arrow', 'pandas' or 'polars', got {format!r}")


def to_polars(table: pa.Table) -> Any:
    """A polars DataFrame from an Arrow table (needs polars: ``pip install polars``)."""
    try:
        import polars as pl
    except ImportError as err:
        raise ImportError("to_polars() needs polars: pip install polars") from err
    return pl.from_arrow(table)


@dataclass(frozen=True)
class JoinedLog:
    """Decisions left-joined with their outcomes (one row per decision-outcome pair; decisions
    without outcomes appear once with null outcome columns, prefixed ``outcome_``)."""

    table: pa.Table
    orphans: pa.Table
    """Outcome events whose ``request_id`` has no decision (kept, not dropped)."""
    n_decisions: int
    n_outcomes: int
    """Outcome events joined to a decision of ``table``."""

    @property
    def n_orphans(self) -> int:
        return int(self.orphans.num_rows)

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def per_tier(self, within_days: float = 7.0) -> Any:
        """The per-tier quality view (a pandas DataFrame, one row per ``answered_by`` tier).

        Columns: ``decisions``; ``reviews`` and ``acceptable_rate`` (Hajek estimate weighting each
        review by ``1 / inclusion_prob``, so oversampled tiers or bands are not over-counted;
        ``inclusion_prob`` defaults to 1); ``feedback`` and ``thumbs_down_rate``; ``shadowed`` and
        ``shadow_cheap_score`` (mean shadow verdict on the cheap answer); ``support_contact_rate``
        (share of decisions followed by a human-support contact within ``within_days`` days).
        Decisions with no answer (capable-tier failure) are grouped under ``"<none>"``.

        ``acceptable_rate`` is :func:`tierscope.log.quality.quality_by` (the audit's per-tier
        quality) with every review a unit and a review logged without a score counted as
        unacceptable.
        """
        require("pandas", purpose="per_tier()")
        within_days = _v.real("within_days", within_days, minimum=0.0, finite=False)
        import pandas as pd

        df = self.table.to_pandas()
        tier = df["answered_by"].fillna(UNANSWERED)
        quality = self._review_quality(df, tier)
        nan = float("nan")
        rows = []
        for name, g in df.groupby(tier, sort=True):
            n = int(g["request_id"].nunique())
            estimate = quality.get(name)
            fb = g[g["outcome_kind"] == "feedback"]
            sh = g[g["outcome_kind"] == "shadow"]
            sc = g[(g["outcome_kind"] == "support_contact") & (g["outcome_days_after"] <= within_days)]
            rows.append(
                {
                    "tier": name,
                    "decisions": n,
                    "reviews": 0 if estimate is None else estimate.n,
                    "acceptable_rate": nan if estimate is None or not estimate.n else estimate.mean,
                    "feedback": len(fb),
                    "thumbs_down_rate": float(1.0 - fb["outcome_score"].mean()) if len(fb) else nan,
                    "shadowed": len(sh),
                    "shadow_cheap_score": float(sh["outcome_score"].mean()) if len(sh) else nan,
                    "support_contact_rate": sc["request_id"].nunique() / n if n else nan,
                }
            )
        return pd.DataFrame(rows)

    @staticmethod
    def _review_quality(df: Any, tier: Any) -> dict[Any, Any]:
        """Per-tier review quality of the joined rows ``df`` (``tier``: each row's tier)."""
        import pandas as pd

        is_review = df["outcome_kind"] == "review"
        reviews = pd.DataFrame(
            {
                "request_id": df["request_id"][is_review],
                "tier": tier[is_review],
                "score": df["outcome_score"][is_review],
                "inclusion_prob": df["outcome_inclusion_prob"][is_review],
            }
        )
        units = review_units(reviews, unit="review", unscored="unacceptable")
        return quality_by(units, units["tier"], sorted(set(tier.tolist())))


def join_outcomes(decisions: pa.Table, outcomes: pa.Table, *, known_request_ids: Any = None) -> JoinedLog:
    """Join outcome events to decisions by ``request_id``; orphans are returned and counted.

    Outcomes whose request id is not in ``decisions`` (or in ``known_request_ids``, when given:
    e.g. every logged decision while ``decisions`` is a time window) are orphans. Outcomes of
    known decisions outside the window are neither joined nor orphans.
    """
    in_window = pc.is_in(outcomes.column("request_id"), value_set=decisions.column("request_id").unique())
    keep = [c for c in outcomes.column_names if c != "request_id"]
    renamed = outcomes.select(["request_id", *keep]).rename_columns(
        ["request_id", *[f"outcome_{c}" for c in keep]]
    )
    if decisions.num_rows and renamed.num_rows:
        joined = decisions.join(renamed, keys="request_id", join_type="left outer")
    else:
        joined = pa.Table.from_arrays(
            list(decisions.columns) + [pa.nulls(decisions.num_rows, f.type) for f in renamed.schema][1:],
            names=decisions.column_names + renamed.column_names[1:],
        )
    known: Any = decisions.column("request_id") if known_request_ids is None else known_request_ids
    if isinstance(known, pa.ChunkedArray):
        known = known.combine_chunks()
    elif not isinstance(known, pa.Array):
        known = pa.array(list(known), pa.string())
    orphans = outcomes.filter(pc.invert(pc.is_in(outcomes.column("request_id"), value_set=known.unique())))
    return JoinedLog(joined, orphans, decisions.num_rows, int(pc.sum(in_window).as_py() or 0))


# -- the public log ----------------------------------------------------------------------------
class DecisionLog:
    """Append-only, crash-safe, multi-process log of routing decisions and outcomes.

    ``DecisionLog(path, flush_every=1000, flush_interval_s=60.0, fsync=True)`` creates the
    directory; it raises :class:`LogDirectoryError` (a :class:`PermissionError`) naming the path
    when it cannot be created or written. Thread-safe and fork-safe. Use as a context manager or
    call :meth:`close`; buffered events are also flushed at interpreter exit (not on SIGKILL: then
    at most the unflushed buffer, fewer than ``flush_every`` events per kind, is lost).

    Every field is checked at ``log_*`` time (see the module docstring): a bad value raises
    :class:`InvalidInputError` naming the field and nothing is buffered.

    Redaction of the free-text fields (``escalation_detail``, ``fallback_reason``, ``error``,
    outcome ``detail`` and unknown ``extra`` fields):

    - ``redact``: one mode for all of them, or a mapping field -> mode (``"*"``: the others);
      modes ``"keep"``, ``"truncate"`` (the default: at most ``max_text_chars`` characters),
      ``"hash"`` (``hmac-sha256:<32 hex>``, keyed HMAC-SHA256) and ``"omit"`` (null). For the
      JSON fields the mode applies to each string value; numbers and booleans are kept.
    - ``max_text_chars``: the ``"truncate"`` limit (default 1000).
    - ``redact_key``: the HMAC key (bytes, at least 16). Default: 32 random bytes per log, so
      equal texts hash equal within this log object only and nobody can reverse a hash by
      hashing guesses (an unkeyed hash of an SSN falls to a 10⁹-guess search). Pass a stable
      secret key (never stored in the log) to group equal values across processes and days;
      whoever holds that key can test guesses.

    A :class:`~tierscope.routing.Cascade` logging here hashes its tier-exception messages with
    this log's key (:meth:`hash_text`).

    ``auto_compact=True``: at this process's first flush of each UTC day, compact the past days'
    partitions (:func:`tierscope.log.compact` with ``older_than_days=0``) on the flushing thread.
    Off by default: that flush then takes as long as the compaction (about a second per 100,000
    events of a day); a cron job running ``tierscope log compact LOG_DIR --older-than 0`` does
    the same off the serving path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_every: int = 1000,
        flush_interval_s: float | None = 60.0,
        fsync: bool = True,
        redact: _fields.RedactMode | Mapping[str, _fields.RedactMode] | None = None,
        max_text_chars: int = 1000,
        redact_key: bytes | None = None,
        auto_compact: bool = False,
    ) -> None:
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise _v.fail("path", "a str or os.PathLike", path)
        flush_every = _v.integer("flush_every", flush_every, minimum=1)
        interval = _v.optional(_v.real, "flush_interval_s", flush_interval_s, minimum=0.0, min_open=True)
        fsync = _v.boolean("fsync", fsync)
        auto_compact = _v.boolean("auto_compact", auto_compact)
        redactor = _fields.redact_options(redact, max_text_chars, redact_key)
        root = Path(path).absolute()  # a later chdir must not move the log
        self.path = root
        try:
            for kind in _KINDS:
                d = root / kind
                d.mkdir(parents=True, exist_ok=True)
                probe = d / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
                with open(probe, "wb") as f:
                    f.write(b"x")
                probe.unlink()
        except OSError as err:
            raise LogDirectoryError(
                f"DecisionLog: log directory {root} is not writable ({type(err).__name__}: {err})"
            ) from err
        _reclaim_orphans(root)
        self._writer = _Writer(root, flush_every, interval, fsync, redactor)
        self._writer.auto_compact = auto_compact
        self._finalizer = weakref.finalize(self, self._writer.close_quietly)

    def hash_text(self, value: str) -> str:
        """The keyed hash this log stores for ``value`` under ``"hash"`` redaction."""
        return self._writer.redactor.hash_text(_v.text("value", value))

    # writing
    def log_decision(self, decision: CascadeDecision | Mapping[str, Any]) -> None:
        """Append one decision: a :class:`~tierscope.routing.CascadeDecision`, or a mapping with at
        least ``request_id`` (missing fields are null, unknown ones go to ``extra``; a NaN, NA or
        NaT value, as in a pandas record, is missing too)."""
        if isinstance(decision, CascadeDecision):
            record = dict(decision.__dict__)  # to_record() without asdict's deep copy
        elif isinstance(decision, Mapping):
            record = dict(decision)
        else:
            raise _v.fail("decision", "a CascadeDecision or a mapping", decision)
        _v.text("decision.request_id", record.get("request_id"), allow_empty=False)
        self._writer.append("decisions", record, "decision.")

    def log_outcome(
        self,
        request_id: str,
        kind: str,
        *,
        score: float | bool | None = None,
        label: bool | None = None,
        reviewer: str | None = None,
        inclusion_prob: float | None = None,
        tier: str | None = None,
        cheap_score: float | None = None,
        capable_score: float | None = None,
        days_after: float | None = None,
        timestamp: datetime | None = None,
        detail: Mapping[str, Any] | str | None = None,
    ) -> None:
        """Append one outcome event for ``request_id`` (kinds: :data:`OUTCOME_KINDS`).

        ``score`` is a number in [0, 1] or a bool (then also the ``label``); ``inclusion_prob``
        in (0, 1]; ``days_after`` finite and ``>= 0``."""
        _v.text("request_id", request_id, allow_empty=False)
        _v.choice("kind", kind, OUTCOME_KINDS)
        if score is not None and _v.is_bool(score):
            label = bool(score) if label is None else label
            score = float(score)
        if score is not None:
            score = _v.unit("score", score)
        label = None if label is None else _fields.check_bool("label", label)
        if score is not None and label is None and kind not in ("shadow", "judge"):
            label = score >= 0.5
        self._writer.append(
            "outcomes",
            {
                "request_id": request_id,
                "kind": kind,
                "timestamp": timestamp,
                "tier": tier,
                "score": score,
                "label": label,
                "reviewer": reviewer,
                "inclusion_prob": inclusion_prob,
                "cheap_score": cheap_score,
                "capable_score": capable_score,
                "days_after": days_after,
                "detail": detail,
            },
        )

    def log_review(
        self,
        request_id: str,
        acceptable: bool | float,
        *,
        reviewer: str | None = None,
        inclusion_prob: float | None = None,
        tier: str | None = None,
    ) -> None:
        """A human review label: ``acceptable`` as a bool or a score in [0, 1]; ``inclusion_prob``
        is the review-sampling probability used to pick this request."""
        self.log_outcome(
            request_id,
            "review",
            score=acceptable,
            reviewer=reviewer,
            inclusion_prob=inclusion_prob,
            tier=tier,
        )

    def log_judgement(
        self,
        request_id: str,
        score: float,
        judge_id: str,
        pi: float,
        *,
        tier: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """An LLM judge's score in [0, 1] on this answer (kind ``"judge"``): ``judge_id`` names the
        judge (model and prompt version), ``pi`` in (0, 1] is the probability that this answer
        was sent to the judge (1 when every answer is judged). Judge scores are never labels:
        :func:`tierscope.stats.ppi_mean` corrects them with the human reviews."""
        _v.text("judge_id", judge_id, allow_empty=False)
        pi = _v.real("pi", pi, minimum=0.0, maximum=1.0, min_open=True)
        if _v.is_bool(score):
            raise _v.fail("score", "a judge score in [0, 1] (a number, not a bool)", score)
        self.log_outcome(
            request_id, "judge", score=score, reviewer=judge_id, inclusion_prob=pi, tier=tier, detail=detail
        )

    def log_feedback(self, request_id: str, thumbs_up: bool, *, tier: str | None = None) -> None:
        """User feedback (thumbs up/down)."""
        _fields.check_bool("thumbs_up", thumbs_up)
        self.log_outcome(request_id, "feedback", score=thumbs_up, tier=tier)

    def log_shadow(
        self,
        request_id: str,
        cheap_score: float | None,
        capable_score: float | None = None,
        *,
        score: float | None = None,
        inclusion_prob: float | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """A shadow judgment: verdicts on the cheap and the capable answer to the same request."""
        self.log_outcome(
            request_id,
            "shadow",
            score=cheap_score if score is None else score,
            cheap_score=cheap_score,
            capable_score=capable_score,
            inclusion_prob=inclusion_prob,
            detail=detail,
        )

    def log_support_contact(
        self, request_id: str, days_after: float, *, detail: Mapping[str, Any] | None = None
    ) -> None:
        """The user contacted human support ``days_after`` days after this answer."""
        self.log_outcome(request_id, "support_contact", days_after=days_after, detail=detail)

    def flush(self) -> None:
        """Write buffered events now (one segment per non-empty kind)."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close; later writes raise :class:`DecisionLogError`."""
        self._writer.close()
        self._finalizer.detach()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """Events committed, buffered and dropped (unstorable at flush) per kind, and segments
        committed, by this process."""
        w = self._writer
        return {
            "decisions_committed": w.committed["decisions"],
            "outcomes_committed": w.committed["outcomes"],
            "decisions_buffered": len(w.buffers["decisions"]) if w.pid == os.getpid() else 0,
            "outcomes_buffered": len(w.buffers["outcomes"]) if w.pid == os.getpid() else 0,
            "segments_committed": w.segments,
            "decisions_dropped": w.dropped["decisions"],
            "outcomes_dropped": w.dropped["outcomes"],
        }

    # reading
    @staticmethod
    def read(
        path: str | os.PathLike[str],
        *,
        kind: Literal["decisions", "outcomes"] = "decisions",
        since: datetime | None = None,
        until: datetime | None = None,
        format: Format = "arrow",
        columns: Sequence[str] | None = None,
    ) -> Any:
        """Committed events of ``kind`` in ``[since, until)`` (UTC; naive datetimes are UTC).

        Only the day partitions overlapping the window are opened (plus flat segments of a log
        written before partitions, which are read whatever the window). ``columns``: read only
        these columns (names of the kind's schema; ``timestamp`` is added when a window is given).
        """
        cols = None
        if columns is not None:
            if isinstance(columns, str):
                raise _v.fail("columns", "a sequence of column names", columns)
            names = _KINDS[_v.choice("kind", kind, tuple(_KINDS))].names
            cols = [_v.choice("columns", c, tuple(names)) for c in columns]
            if (since is not None or until is not None) and "timestamp" not in cols:
                cols.append("timestamp")
        return _to(_read_kind(Path(path), kind, since, until, cols), format)

    def decisions(
        self, *, since: datetime | None = None, until: datetime | None = None, format: Format = "arrow"
    ) -> Any:
        """This directory's decisions (flushes this log's buffer first)."""
        self.flush()
        return self.read(self.path, kind="decisions", since=since, until=until, format=format)

    def outcomes(
        self, *, since: datetime | None = None, until: datetime | None = None, format: Format = "arrow"
    ) -> Any:
        """This directory's outcome events (flushes this log's buffer first)."""
        self.flush()
        return self.read(self.path, kind="outcomes", since=since, until=until, format=format)

    def joined(self, *, since: datetime | None = None, until: datetime | None = None) -> JoinedLog:
        """Decisions joined with their outcomes, plus the orphan outcomes (see :func:`join_outcomes`)."""
        self.flush()
        decisions = _read_kind(self.path, "decisions", since, until)  # the window's partitions
        known = decisions.column("request_id")
        if since is not None or until is not None:  # orphans are judged against every decision
            known = _read_kind(self.path, "decisions", None, None, ["request_id"]).column("request_id")
        return join_outcomes(
            decisions, _read_kind(self.path, "outcomes", None, None), known_request_ids=known
        )

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"
