"""Keeping a decision log fast and small: compaction, migration of flat logs, retention, redaction.

Every operation is safe while writers keep writing and readers keep reading, and a crash (even
SIGKILL) at any point loses and duplicates nothing (see :mod:`tierscope.log.layout` for the
rule that makes a derived file and its inputs one atomic change for readers):

- :func:`compact`: per day partition, merge the visible files (each one complete: a writer renames
  a segment into place only once it is written) into one derived file sorted by (tier, timestamp)
  with row-group statistics, rename it into place, then delete its inputs. A later compaction (or
  the next read) treats inputs left by a crash as replaced. One compactor per partition at a time
  (an advisory ``flock`` on ``.compact.lock``; a busy partition is skipped, not waited for).
- :func:`migrate`: move a flat (pre-partition) log into day partitions, one file at a time: a
  single-day segment is renamed into its partition (atomic), a segment spanning days is split into
  one derived file per day (each replacing that day's rows of the original), then removed.
  Running it again finishes what a crash left; a migrated log is left as it is.
- :func:`retain`: hide whole partitions older than N days with one atomic rename
  (``.date=...retain-<token>``, invisible to readers), archive or delete them, and finish any
  hidden partition a crash left behind.
- :func:`redact_partitions`: rewrite the files of past partitions with a stricter redaction
  (the :class:`~tierscope.log.DecisionLog` ``redact=`` options), each file atomically replaced.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, run one compactor at a time
    fcntl = None  # type: ignore[assignment]

from .. import _validate as _v
from ..exceptions import InvalidInputError, TierscopeFileNotFoundError
from . import _fields, decision_log, layout
from .decision_log import _KINDS, _META, _fsync_dir, _Part, _read_listing, _shadow, _Vanished, write_atomic

__all__ = [
    "CompactionReport",
    "MigrationReport",
    "RetentionReport",
    "compact",
    "migrate",
    "redact_partitions",
    "retain",
]

ROW_GROUP_ROWS = 50_000
"""Rows per row group of a compacted file: small enough for min/max statistics to skip tiers."""

_LOCK_NAME = ".compact.lock"
_ATTEMPTS = 20


def _root(path: Any) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise _v.fail("log", "a decision-log directory (str or os.PathLike)", path)
    root = Path(path)
    if not root.is_dir():
        raise TierscopeFileNotFoundError(f"invalid `log`: a decision-log directory, {root} does not exist")
    return root


def _kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return tuple(_KINDS)
    if isinstance(kinds, str):
        kinds = [kinds]
    return tuple(_v.choice("kinds", k, tuple(_KINDS)) for k in kinds)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _days_arg(name: str, value: Any) -> list[date] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, (str, date)) else list(value)
    out = []
    for item in values:
        if isinstance(item, datetime):
            out.append(layout.day_of(item))
        elif isinstance(item, date):
            out.append(item)
        elif isinstance(item, str):
            try:
                out.append(date.fromisoformat(item))
            except ValueError:
                raise _v.fail(name, "dates or ISO dates YYYY-MM-DD", item) from None
        else:
            raise _v.fail(name, "dates or ISO dates YYYY-MM-DD", item)
    return out


@contextmanager
def _partition_lock(directory: Path) -> Iterator[bool]:
    """An exclusive advisory lock on a partition (True when held; False when another holds it)."""
    if fcntl is None:  # pragma: no cover
        yield True
        return
    try:
        fd = os.open(directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        yield False  # the partition is gone (retention)
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _derived_name(kind: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{kind}-{stamp}-{os.getpid()}-{secrets.token_hex(4)}-c{secrets.randbelow(10**6):06d}.parquet"


# -- compaction ----------------------------------------------------------------------------------
@dataclass
class CompactionReport:
    """What :func:`compact` did: partitions compacted, files merged and removed, rows written."""

    partitions: list[str] = field(default_factory=list)
    """``<kind>/date=...`` of each partition compacted."""
    files_in: int = 0
    rows: int = 0
    leftovers_removed: int = 0
    """Inputs of an earlier compaction that a crash left behind (already replaced), removed."""
    busy: list[str] = field(default_factory=list)
    """Partitions another compactor held (skipped)."""

    def __str__(self) -> str:
        return (
            f"compacted {len(self.partitions)} partition(s): {self.files_in} file(s) -> "
            f"{len(self.partitions)}, {self.rows} row(s); {self.leftovers_removed} leftover(s) removed"
            + (f"; busy, skipped: {', '.join(self.busy)}" if self.busy else "")
        )


def _tier_key(table: pa.Table) -> pa.Array:
    if "answered_by" in table.column_names:
        return pc.coalesce(table.column("answered_by"), table.column("route_tier"))
    return table.column("tier")


def _merge(parts: list[_Part]) -> pa.Table:
    """The parts' rows as one table sorted by (tier, timestamp), with the ``_source`` column."""
    sources: list[str] = []
    index_of: dict[str, int] = {}
    tables = []
    for p in parts:
        codes = []
        for s in p.sources:
            if s not in index_of:
                index_of[s] = len(sources)
                sources.append(s)
            codes.append(index_of[s])
        mapping = pa.array(codes, pa.int32())
        local = p.source_index if p.source_index is not None else pa.array([0] * p.table.num_rows, pa.int32())
        tables.append(p.table.append_column(layout.SOURCE_COLUMN, pc.take(mapping, local)))
    table = pa.concat_tables(tables)
    table = table.append_column("_tier", _tier_key(table))
    order = pc.sort_indices(table, sort_keys=[("_tier", "ascending"), ("timestamp", "ascending")])
    table = table.take(order).drop_columns(["_tier"])
    meta = {**_META, layout.SOURCES_KEY: layout.encode(sources)}
    return table.replace_schema_metadata(meta)


def _compact_partition(
    kind_dir: Path, kind: str, directory: Path, min_files: int, fsync: bool
) -> tuple[int, int, int]:
    """(files merged, rows written, leftovers removed) for one partition; the lock is held."""
    day = layout.parse_day_dir(directory.name)
    assert day is not None
    for _ in range(_ATTEMPTS):
        try:
            listing = layout.list_partition(kind_dir, kind, day)
            listing.temps = []  # writers' segments in flight: not ours to judge (readers reclaim orphans)
            if len(listing.segments) < min_files:
                return 0, 0, 0  # already compact: not even opened (a leftover needs two files)
            raw = _read_listing(kind_dir, kind, listing, None)
            break
        except _Vanished:
            continue
    else:  # pragma: no cover - only a storm of concurrent retention passes
        return 0, 0, 0
    parts = _shadow(raw)
    kept = {p.name for p in parts}
    # Inputs of an earlier compaction that a crash left visible: already replaced, so removed.
    removed = _remove(kind_dir, sorted({p.name for p in raw} - kept), fsync)
    if len(parts) < min_files:
        return 0, 0, removed
    table = _merge(parts)
    # A migrated input replaces that day's rows of a flat segment: the new file inherits the claim,
    # or a flat leftover of a crashed migration would reappear once the input is deleted.
    replaces = {p.name for p in parts} | {r for p in parts for r in p.replaces if "/" not in r}
    meta = {**(table.schema.metadata or {}), layout.REPLACES_KEY: layout.encode(sorted(replaces))}
    write_atomic(
        table.replace_schema_metadata(meta),
        directory / _derived_name(kind),
        fsync=fsync,
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
    )
    removed += _remove(kind_dir, [p.name for p in parts], fsync, count=False)
    return len(parts), int(table.num_rows), removed


def _visible(directory: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(directory) if layout.SEGMENT_NAME.match(e.name)]
    except FileNotFoundError:
        return []


def _remove(kind_dir: Path, names: Sequence[str], fsync: bool, *, count: bool = True) -> int:
    dirs = set()
    n = 0
    for name in names:
        path = kind_dir / name
        try:
            path.unlink()
            n += 1
        except FileNotFoundError:
            pass
        dirs.add(path.parent)
    if fsync:
        for d in dirs:
            _fsync_dir(d)
    return n if count else 0


def compact(
    log: Any,
    *,
    days: Any = None,
    older_than_days: float | None = None,
    kinds: Sequence[str] | None = None,
    min_files: int = 2,
    fsync: bool = True,
) -> CompactionReport:
    """Compact the day partitions of ``log`` (a directory; see the module docstring).

    ``days``: only these UTC days (dates or ``YYYY-MM-DD``); ``older_than_days``: only partitions
    whose day ended at least this many days ago (0: every past day, never today). A partition is
    rewritten when it holds at least ``min_files`` files. Writers may keep writing meanwhile: a
    segment committed after the partition was listed is left for the next compaction.
    """
    root = _root(log)
    wanted = _days_arg("days", days)
    older = _v.optional(_v.real, "older_than_days", older_than_days, minimum=0.0)
    min_files = _v.integer("min_files", min_files, minimum=1)
    fsync = _v.boolean("fsync", fsync)
    report = CompactionReport()
    for kind in _kinds(kinds):
        kind_dir = root / kind
        for day in layout.partitions(kind_dir):
            if wanted is not None and day not in wanted:
                continue
            if older is not None and datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(
                days=1 + older
            ) > datetime.now(timezone.utc):
                continue
            directory = kind_dir / layout.day_dir(day)
            label = f"{kind}/{directory.name}"
            with _partition_lock(directory) as held:
                if not held:
                    report.busy.append(label)
                    continue
                files, rows, removed = _compact_partition(kind_dir, kind, directory, min_files, fsync)
            report.leftovers_removed += removed
            if files:
                report.partitions.append(label)
                report.files_in += files
                report.rows += rows
    return report


# -- migration of flat logs ----------------------------------------------------------------------
@dataclass
class MigrationReport:
    """What :func:`migrate` did."""

    moved: int = 0
    """Single-day flat segments renamed into their partition."""
    split: int = 0
    """Flat segments spanning several days, split into one derived file per day."""
    removed_empty: int = 0
    skipped: list[str] = field(default_factory=list)
    """Flat files left in place (unreadable or not tierscope's), with the reason."""

    def __str__(self) -> str:
        text = f"migrated {self.moved + self.split} flat segment(s) ({self.moved} moved, {self.split} split)"
        if self.removed_empty:
            text += f", removed {self.removed_empty} empty one(s)"
        return text + (f"; left in place: {'; '.join(self.skipped)}" if self.skipped else "")


def _day_starts(ts: Any) -> list[date]:
    floor = pc.floor_temporal(ts, unit="day")
    return sorted({layout.day_of(v) for v in pc.unique(floor).to_pylist() if v is not None})


def _already_split(kind_dir: Path, day: date, name: str) -> bool:
    """Whether a derived file in ``day``'s partition already replaces flat segment ``name``."""
    for path in _visible(kind_dir / layout.day_dir(day)):
        if layout.is_derived(path):
            try:
                meta = pq.read_schema(path).metadata
            except Exception:  # noqa: BLE001 - an unreadable file replaces nothing
                continue
            if name in layout.manifest(meta, layout.REPLACES_KEY):
                return True
    return False


def _migrate_file(kind_dir: Path, path: Path, fsync: bool, report: MigrationReport) -> None:
    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - left in place, reported
        report.skipped.append(f"{path.name} (unreadable: {type(err).__name__})")
        return
    meta = table.schema.metadata or {}
    if b"tierscope.schema_version" not in meta or "timestamp" not in table.column_names:
        report.skipped.append(f"{path.name} (not a tierscope segment)")
        return
    ts = table.column("timestamp").cast(pa.timestamp("us", tz="UTC"))
    days = _day_starts(ts)
    if not days:
        path.unlink()
        report.removed_empty += 1
        return
    if len(days) == 1:
        target = kind_dir / layout.day_dir(days[0])
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)  # atomic: the segment keeps its name (and identity)
        if fsync:
            _fsync_dir(target)
            _fsync_dir(kind_dir)
        report.moved += 1
        return
    day_of_row = pc.floor_temporal(ts, unit="day")
    for day in days:
        if _already_split(kind_dir, day, path.name):
            continue
        start = pa.scalar(datetime(day.year, day.month, day.day, tzinfo=timezone.utc), ts.type)
        rows = table.filter(pc.equal(day_of_row, start))
        rows = rows.append_column(layout.SOURCE_COLUMN, pa.array([0] * rows.num_rows, pa.int32()))
        extra = {
            layout.SOURCES_KEY: layout.encode([path.name]),
            layout.REPLACES_KEY: layout.encode([path.name]),
        }
        part_meta = {**meta, **extra}
        write_atomic(
            rows.replace_schema_metadata(part_meta),
            kind_dir / layout.day_dir(day) / _derived_name(kind_dir.name),
            fsync=fsync,
        )
    path.unlink()
    if fsync:
        _fsync_dir(kind_dir)
    report.split += 1


def migrate(log: Any, *, fsync: bool = True) -> MigrationReport:
    """Move the flat segments of ``log`` (written before day partitions) into day partitions.

    Idempotent, and safe to run while writers write (they write into partitions already) and
    readers read. See the module docstring.
    """
    root = _root(log)
    fsync = _v.boolean("fsync", fsync)
    report = MigrationReport()
    for kind in _KINDS:
        kind_dir = root / kind
        for path in layout.list_flat(kind_dir, kind).segments:
            _migrate_file(kind_dir, path, fsync, report)
    return report


# -- retention -----------------------------------------------------------------------------------
@dataclass
class RetentionReport:
    """What :func:`retain` did."""

    deleted: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    kept: int = 0
    flat_segments: int = 0
    """Flat (pre-partition) segments, which retention does not touch: run ``migrate`` first."""

    def __str__(self) -> str:
        text = (
            f"retention: {len(self.archived)} partition(s) archived, {len(self.deleted)} deleted, "
            f"{self.kept} kept"
        )
        if self.flat_segments:
            text += f"; {self.flat_segments} flat segment(s) untouched (run `tierscope log migrate` first)"
        return text


_HIDDEN = re.compile(rf"^\.({layout.PARTITION}=\d{{4}}-\d{{2}}-\d{{2}})\.retain-[0-9a-f]+$")


def _archive_dir(hidden: Path, dest: Path, fsync: bool) -> None:
    """Move the hidden partition ``hidden`` to ``dest`` (merging into an existing one)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        try:
            os.rename(hidden, dest)
            if fsync:
                _fsync_dir(dest.parent)
            return
        except OSError:  # another filesystem: copy below
            pass
    dest.mkdir(exist_ok=True)
    for entry in sorted(os.scandir(hidden), key=lambda e: e.name):
        if not entry.is_file() or not layout.SEGMENT_NAME.match(entry.name):
            continue
        tmp = dest / f".{entry.name}.{secrets.token_hex(3)}.tmp"
        shutil.copyfile(entry.path, tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, dest / entry.name)
    if fsync:
        _fsync_dir(dest)
    shutil.rmtree(hidden)


def retain(
    log: Any, *, days: int, archive: str | os.PathLike[str] | None = None, fsync: bool = True
) -> RetentionReport:
    """Delete (or move to ``archive``) the partitions of ``log`` older than ``days`` days.

    A partition is kept while its UTC day is within the last ``days`` days (today included):
    ``days=30`` on 2026-12-31 keeps 2026-12-02 onward. ``archive``: a directory that receives
    ``<kind>/date=.../`` (itself a readable log). Flat segments are not touched.
    """
    root = _root(log)
    keep = _v.integer("days", days, minimum=1)
    fsync = _v.boolean("fsync", fsync)
    target = None
    if archive is not None:
        if isinstance(archive, bytes) or not isinstance(archive, (str, os.PathLike)):
            raise _v.fail("archive", "a directory path", archive)
        target = Path(archive)
        if target.resolve() == root.resolve():
            raise InvalidInputError("invalid `archive`: a directory other than the log itself")
    cutoff = _today() - timedelta(days=keep - 1)
    report = RetentionReport()
    for kind in _KINDS:
        kind_dir = root / kind
        if not kind_dir.is_dir():
            continue
        report.flat_segments += len(layout.list_flat(kind_dir, kind).segments)
        for day in layout.partitions(kind_dir):
            if day >= cutoff:
                report.kept += 1
                continue
            src = kind_dir / layout.day_dir(day)
            hidden = kind_dir / f".{src.name}.retain-{secrets.token_hex(4)}"
            try:
                os.rename(src, hidden)  # one atomic step: readers see the whole day or none of it
            except FileNotFoundError:
                continue  # another retention pass got there first
            if fsync:
                _fsync_dir(kind_dir)
        for entry in sorted(os.scandir(kind_dir), key=lambda e: e.name):
            m = _HIDDEN.match(entry.name)
            if m is None or not entry.is_dir():
                continue  # finishes the partitions hidden above and any a crash left hidden
            label = f"{kind}/{m.group(1)}"
            if target is not None:
                _archive_dir(Path(entry.path), target / kind / m.group(1), fsync)
                report.archived.append(label)
            else:
                shutil.rmtree(entry.path)
                report.deleted.append(label)
    return report


# -- redaction of past partitions ----------------------------------------------------------------
_TRUNCATED = re.compile(r"…\[\d+ more chars\]$", re.S)


def _redact_text(redactor: _fields.Redactor, mode: Any, value: str) -> str | None:
    if value.startswith(_fields.HASH_PREFIX):
        return value  # already hashed: hashing a hash would break equal-value grouping
    if (
        mode == "truncate"
        and _TRUNCATED.search(value)
        and len(_TRUNCATED.sub("", value)) <= redactor.max_chars
    ):
        return value  # already truncated at this limit
    return redactor.text(mode, value)


def _redact_json(redactor: _fields.Redactor, mode: Any, value: str) -> str | None:
    import json

    try:
        parsed = json.loads(value)
    except ValueError:
        return _redact_text(redactor, mode, value)
    if isinstance(parsed, dict):  # as the writer does: each top-level string; nested values as JSON text
        out: dict[str, Any] = {}
        for k, v in parsed.items():
            if isinstance(v, (list, dict)):
                encoded = _fields._dumps(v)
                if mode == "truncate" and len(encoded) <= redactor.max_chars:
                    out[k] = v
                    continue
                v = encoded
            out[k] = _redact_text(redactor, mode, v) if isinstance(v, str) else v
        return _fields._dumps(out)
    if isinstance(parsed, str):
        redacted = _redact_text(redactor, mode, parsed)
        return None if redacted is None else _fields._dumps(redacted)
    return value


def _redact_table(table: pa.Table, redactor: _fields.Redactor) -> pa.Table | None:
    """``table`` with its free-text columns redacted, or None when nothing changes."""
    changed = False
    for name in _fields.REDACTABLE:
        if name not in table.column_names:
            continue
        mode = redactor.modes[name]
        if mode == "keep":
            continue
        is_json = name in ("detail", "extra")
        old = table.column(name).to_pylist()
        new = [
            v if v is None else (_redact_json if is_json else _redact_text)(redactor, mode, v) for v in old
        ]
        if new != old:
            changed = True
            i = table.column_names.index(name)
            table = table.set_column(i, table.schema.field(i), pa.array(new, pa.string()))
    return table if changed else None


def redact_partitions(
    log: Any,
    *,
    redact: Any,
    max_text_chars: int = 1000,
    redact_key: bytes | None = None,
    older_than_days: float = 0.0,
    fsync: bool = True,
) -> int:
    """Re-redact the free-text fields of past partitions; returns the number of files rewritten.

    ``redact``/``max_text_chars``/``redact_key``: as for :class:`~tierscope.log.DecisionLog`
    (a stricter mode than the log was written with: ``"hash"`` or ``"omit"``; ``"truncate"``
    with a smaller limit). Partitions whose day ended at least ``older_than_days`` days ago (0:
    every past day, never today). Already-hashed values are kept as they are. Each file is
    replaced atomically, under the partition's compaction lock.
    """
    root = _root(log)
    redactor = _fields.redact_options(redact, max_text_chars, redact_key)
    older = _v.real("older_than_days", older_than_days, minimum=0.0)
    fsync = _v.boolean("fsync", fsync)
    now = datetime.now(timezone.utc)
    rewritten = 0
    for kind in _KINDS:
        kind_dir = root / kind
        for day in layout.partitions(kind_dir):
            if datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1 + older) > now:
                continue
            directory = kind_dir / layout.day_dir(day)
            with _partition_lock(directory) as held:
                if not held:
                    raise InvalidInputError(
                        f"invalid `log`: partition {directory} is being compacted; run the redaction again"
                    )
                rewritten += _redact_dir(directory, redactor, fsync)
    return rewritten


def _redact_dir(directory: Path, redactor: _fields.Redactor, fsync: bool) -> int:
    n = 0
    for path in sorted(_visible(directory)):
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            continue
        if b"tierscope.schema_version" not in (table.schema.metadata or {}):
            continue
        new = _redact_table(table, redactor)
        if new is None:
            continue
        options: Mapping[str, Any] = {"row_group_size": ROW_GROUP_ROWS} if layout.is_derived(path) else {}
        write_atomic(new, path, fsync=fsync, **options)
        n += 1
    return n


decision_log._AUTO_COMPACT = compact  # DecisionLog(auto_compact=True) calls it without importing us
