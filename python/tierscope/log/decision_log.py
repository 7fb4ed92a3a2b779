"""A crash-safe, multi-process log of routing decisions and their later outcomes (Parquet segments).

Layout of a log directory::

    <dir>/decisions/decisions-<utc time>-<pid>-<random>-<seq>.parquet   one row per routed call
    <dir>/outcomes/outcomes-<utc time>-<pid>-<random>-<seq>.parquet     reviews, feedback, shadow, contacts

Writing: each :class:`DecisionLog` buffers events in memory and writes a segment when the buffer
holds ``flush_every`` events (default 1000), when ``flush_interval_s`` has passed (checked on each
event and by a background thread), on :meth:`DecisionLog.flush`/:meth:`DecisionLog.close`, and at
interpreter exit (``atexit`` and a ``weakref.finalize``). A segment is written to a dot-prefixed
temporary file in the same directory, ``fsync``'d, then committed with ``os.replace`` (atomic), and
the directory is ``fsync``'d. So a reader sees whole segments or nothing; a crash (even SIGKILL)
loses at most the unflushed buffer. Segment names carry the pid and a random token, so any number
of processes (and several logs in one process) can write into the same directory. After
``fork()`` the child discards the buffer it inherited (the parent still owns and flushes it).

Reading: :meth:`DecisionLog.read` / :meth:`decisions` / :meth:`outcomes` return a
``pyarrow.Table`` (``.to_pandas()``; :func:`to_polars` if polars is installed). Unreadable
``.parquet`` files and leftover temporary files are skipped with a :class:`SegmentWarning` naming
the file. :func:`join_outcomes` joins outcomes to decisions by ``request_id`` and counts (never
drops) orphan outcomes whose request id has no decision.

DuckDB can query a log directly::

    SELECT answered_by, avg(score) FROM 'logdir/outcomes/*.parquet' o
    JOIN 'logdir/decisions/*.parquet' d USING (request_id) WHERE o.kind = 'review' GROUP BY 1

(Temporary files never match ``*.parquet``; a corrupt segment would make DuckDB fail where
:meth:`DecisionLog.read` skips it with a warning.) Every row has a ``schema_version`` column and
every file records it in its Parquet metadata (``tierscope.schema_version``).

Buffered events are flushed at interpreter exit, but not on ``os._exit`` (which
``multiprocessing`` workers use) nor on SIGKILL: in worker processes call
:meth:`DecisionLog.close` (or :meth:`DecisionLog.flush`) before the worker returns. Writes
(and their ``fsync``) happen on the calling thread when a flush is due, including inside
``Cascade.arun``; use a larger ``flush_every`` or ``fsync=False`` if that latency matters.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError("tierscope.log needs pyarrow: pip install 'tierscope[io]' (or pyarrow)") from _err

from ..exceptions import (
    DecisionLogError,
    InvalidInputError,
    LogDirectoryError,
    SegmentWarning,
    TierscopeFileNotFoundError,
)
from ..routing.records import CascadeDecision
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
OUTCOME_KINDS = ("review", "feedback", "shadow", "support_contact")
"""Outcome kinds: a human review label, user feedback (thumbs), a shadow judgment (cheap vs
capable), a contact with human support ``days_after`` the answer."""

_META = {b"tierscope.schema_version": str(SCHEMA_VERSION).encode()}
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
    [pa.field(f.name, _arrow_type(str(f.type))) for f in fields(CascadeDecision)] + _COMMON, metadata=_META
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


# -- row coercion ------------------------------------------------------------------------------
def _coerce(value: Any, typ: pa.DataType, name: str) -> Any:
    if value is None:
        return None
    try:
        if pa.types.is_string(typ):
            if isinstance(value, (dict, list)):
                return json.dumps(value, sort_keys=True, default=str)
            return str(value)
        if pa.types.is_boolean(typ):
            return bool(value)
        if pa.types.is_integer(typ):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not an integer")
            return int(value)
        if pa.types.is_floating(typ):
            return float(value)
        if pa.types.is_timestamp(typ):
            if isinstance(value, (int, float)):
                return datetime.fromtimestamp(float(value), timezone.utc)
            if isinstance(value, str):
                value = datetime.fromisoformat(value)  # ISO 8601; naive means UTC
            if not isinstance(value, datetime):
                raise TypeError(f"expected a datetime, got {type(value).__name__}")
            return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, OverflowError) as err:
        raise InvalidInputError(f"{name}: cannot store {value!r} as {typ} ({err})") from err
    return value


_BOOKKEEPING = frozenset({"schema_version", "writer_pid", "extra"})


@functools.cache
def _fields(schema: pa.Schema) -> tuple[frozenset[str], tuple[tuple[str, pa.DataType], ...]]:
    """Column names and the (name, type) pairs a caller fills, computed once per schema."""
    names = frozenset(schema.names)
    return names, tuple((f.name, f.type) for f in schema if f.name not in _BOOKKEEPING)


def _row(record: Mapping[str, Any], schema: pa.Schema, pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names, filled = _fields(schema)
    extra = {k: v for k, v in record.items() if k not in names}
    for name, type_ in filled:
        out[name] = _coerce(record.get(name), type_, name)
    if out.get("timestamp") is None:
        out["timestamp"] = datetime.now(timezone.utc)
    out["schema_version"] = SCHEMA_VERSION
    out["writer_pid"] = pid
    out["extra"] = json.dumps(extra, sort_keys=True, default=str) if extra else None
    return out


# -- the writer (separate from DecisionLog so the finalizer does not keep the log alive) ---------
_WRITERS: weakref.WeakSet[_Writer] = weakref.WeakSet()


class _Writer:
    def __init__(self, root: Path, flush_every: int, flush_interval_s: float | None, fsync: bool) -> None:
        self.root = root
        self.dirs = {k: root / k for k in _KINDS}
        self.flush_every = flush_every
        self.interval = flush_interval_s
        self.fsync = fsync
        self._init_process_state()
        self.closed = False
        self.committed = {k: 0 for k in _KINDS}
        self.segments = 0
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

    def append(self, kind: str, record: Mapping[str, Any]) -> None:
        self.after_fork()
        row = _row(record, _KINDS[kind], self.pid)
        with self.lock:
            if self.closed:
                raise DecisionLogError(f"DecisionLog({self.root}): the log is closed")
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
        self._write_segment(kind, rows)
        self.committed[kind] += len(rows)
        self.segments += 1
        self.buffers[kind] = []
        self.last_flush = time.monotonic()

    def _write_segment(self, kind: str, rows: list[dict[str, Any]]) -> None:
        schema = _KINDS[kind]
        table = pa.Table.from_pylist(rows, schema=schema)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.seq += 1
        name = f"{kind}-{stamp}-{self.pid}-{self.token}-{self.seq:06d}.parquet"
        directory = self.dirs[kind]
        final = directory / name
        tmp = directory / f".{name}.{secrets.token_hex(3)}.tmp"
        try:
            with open(tmp, "wb") as f:
                pq.write_table(table, f, compression="zstd")
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, final)
            if self.fsync:
                _fsync_dir(directory)
        except BaseException as err:
            try:
                tmp.unlink()
            except OSError:
                pass
            if isinstance(err, OSError):
                raise DecisionLogError(f"DecisionLog: could not write segment {final}: {err}") from err
            raise

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
            warnings.warn(f"tierscope: DecisionLog({self.root}) lost its buffer at exit: {err}", stacklevel=1)


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
            warnings.warn(f"tierscope: DecisionLog({w.root}) background flush failed: {err}", stacklevel=1)
        del w


def _flush_all_at_exit() -> None:
    for w in list(_WRITERS):
        w.close_quietly()


def _after_fork_in_child() -> None:
    for w in list(_WRITERS):
        w._init_process_state()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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


def _read_kind(root: Path, kind: str, since: datetime | None, until: datetime | None) -> pa.Table:
    if kind not in _KINDS:
        raise InvalidInputError(f"kind: expected 'decisions' or 'outcomes', got {kind!r}")
    root = Path(root)
    if not root.is_dir():
        raise TierscopeFileNotFoundError(f"DecisionLog: log directory {root} does not exist")
    schema = _KINDS[kind]
    directory = root / kind
    tables: list[pa.Table] = []
    if directory.is_dir():
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.is_file():
                continue
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                warnings.warn(
                    f"tierscope: skipping uncommitted temporary segment {entry.path} "
                    "(a writer crashed mid-write or is still writing)",
                    SegmentWarning,
                    stacklevel=3,
                )
                continue
            if not entry.name.endswith(".parquet") or entry.name.startswith("."):
                continue
            try:
                t = pq.read_table(entry.path)
                tables.append(_conform(t, schema))
            except Exception as err:  # noqa: BLE001 - a bad file never breaks a read
                warnings.warn(
                    f"tierscope: skipping unreadable segment {entry.path}: {type(err).__name__}: {err}",
                    SegmentWarning,
                    stacklevel=3,
                )
    if not tables:
        return schema.empty_table()
    return _window(pa.concat_tables(tables), since, until)


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
        if not isinstance(within_days, (int, float)) or within_days < 0:
            raise InvalidInputError(f"within_days: expected a non-negative number, got {within_days!r}")
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
    when it cannot be created or written. Thread-safe. Use as a context manager or call
    :meth:`close`; buffered events are also flushed at interpreter exit (not on SIGKILL: then at
    most the unflushed buffer, fewer than ``flush_every`` events per kind, is lost).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_every: int = 1000,
        flush_interval_s: float | None = 60.0,
        fsync: bool = True,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInputError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
        if not isinstance(flush_every, int) or isinstance(flush_every, bool) or flush_every < 1:
            raise InvalidInputError(f"flush_every: expected a positive int, got {flush_every!r}")
        if flush_interval_s is not None and (
            not isinstance(flush_interval_s, (int, float))
            or not math.isfinite(flush_interval_s)
            or flush_interval_s <= 0
        ):
            raise InvalidInputError(
                f"flush_interval_s: expected a positive number or None, got {flush_interval_s!r}"
            )
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
        self._writer = _Writer(
            root, flush_every, None if flush_interval_s is None else float(flush_interval_s), fsync
        )
        self._finalizer = weakref.finalize(self, self._writer.close_quietly)

    # writing
    def log_decision(self, decision: CascadeDecision | Mapping[str, Any]) -> None:
        """Append one decision: a :class:`~tierscope.routing.CascadeDecision`, or a mapping with at
        least ``request_id`` (missing fields are null, unknown ones go to ``extra``)."""
        if isinstance(decision, CascadeDecision):
            record = decision.to_record()
        elif isinstance(decision, Mapping):
            record = dict(decision)
            probs = record.get("route_probabilities")
            if isinstance(probs, Mapping):
                record["route_probabilities"] = json.dumps(
                    {str(k): float(v) for k, v in probs.items()}, sort_keys=True
                )
        else:
            raise InvalidInputError(
                f"decision: expected a CascadeDecision or a mapping, got {type(decision).__name__}"
            )
        rid = record.get("request_id")
        if not isinstance(rid, str) or not rid:
            raise InvalidInputError(f"decision.request_id: expected a non-empty str, got {rid!r}")
        self._writer.append("decisions", record)

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
        """Append one outcome event for ``request_id`` (kinds: :data:`OUTCOME_KINDS`)."""
        if not isinstance(request_id, str) or not request_id:
            raise InvalidInputError(f"request_id: expected a non-empty str, got {request_id!r}")
        if kind not in OUTCOME_KINDS:
            raise InvalidInputError(f"kind: expected one of {OUTCOME_KINDS}, got {kind!r}")
        if isinstance(score, bool):
            label = score if label is None else label
            score = float(score)
        for name, v in (("score", score), ("cheap_score", cheap_score), ("capable_score", capable_score)):
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0
            ):
                raise InvalidInputError(f"{name}: expected a number in [0, 1] or a bool, got {v!r}")
        if inclusion_prob is not None and (
            not isinstance(inclusion_prob, (int, float)) or not 0.0 < inclusion_prob <= 1.0
        ):
            raise InvalidInputError(f"inclusion_prob: expected a number in (0, 1], got {inclusion_prob!r}")
        if days_after is not None and (not isinstance(days_after, (int, float)) or days_after < 0):
            raise InvalidInputError(f"days_after: expected a non-negative number, got {days_after!r}")
        if score is not None and label is None and kind != "shadow":
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

    def log_feedback(self, request_id: str, thumbs_up: bool, *, tier: str | None = None) -> None:
        """User feedback (thumbs up/down)."""
        if not isinstance(thumbs_up, bool):
            raise InvalidInputError(f"thumbs_up: expected a bool, got {thumbs_up!r}")
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
        """Events committed and buffered per kind, and segments committed, by this process."""
        w = self._writer
        return {
            "decisions_committed": w.committed["decisions"],
            "outcomes_committed": w.committed["outcomes"],
            "decisions_buffered": len(w.buffers["decisions"]) if w.pid == os.getpid() else 0,
            "outcomes_buffered": len(w.buffers["outcomes"]) if w.pid == os.getpid() else 0,
            "segments_committed": w.segments,
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
    ) -> Any:
        """Committed events of ``kind`` in ``[since, until)`` (UTC; naive datetimes are UTC)."""
        return _to(_read_kind(Path(path), kind, since, until), format)

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
        everything = _read_kind(self.path, "decisions", None, None)
        return join_outcomes(
            _window(everything, since, until),
            _read_kind(self.path, "outcomes", None, None),
            known_request_ids=everything.column("request_id"),
        )

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"
