"""Where the files of a decision log live, what they are named, and which ones a read opens.

Layout (hive-style day partitions, readable by DuckDB, polars, Spark and ``pyarrow.dataset``)::

    <dir>/<kind>/date=YYYY-MM-DD/<kind>-<utc time>-<pid>-<token>-<seq>.parquet    a writer's segment
    <dir>/<kind>/date=YYYY-MM-DD/<kind>-<utc time>-<pid>-<token>-c<seq>.parquet   a derived file
    <dir>/<kind>/<kind>-<utc time>-<pid>-<token>-<seq>.parquet                    a flat (legacy) segment

``<kind>`` is ``decisions`` or ``outcomes``; the partition is the UTC day of each event's
``timestamp``. A writer splits a buffer whose events span midnight into one segment per day at
flush, so every row of a partitioned file belongs to its partition's day (flat segments, written
before partitions existed, may hold several days: they are read whatever the window, then filtered,
until ``tierscope log migrate`` moves them).

*Derived* files (``-c<seq>``) are written by compaction and by migration. Their Parquet metadata
lists the files they replace (``tierscope.replaces``: names relative to ``<dir>/<kind>``) and the
writer segments their rows come from (``tierscope.sources``, indexed by the int32 ``_source``
column). A reader skips every file that a visible derived file replaces, so between the moment a
derived file is renamed into place and the moment its inputs are deleted (or forever, after a
crash there) a read sees each event once. Only tierscope's reader knows this rule: an external
engine globbing ``*/*.parquet`` can count a compacted day twice for that moment (milliseconds;
after a crash, until the next ``tierscope log compact`` deletes the leftovers).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

__all__ = [
    "PARTITION",
    "REPLACES_KEY",
    "SOURCES_KEY",
    "SOURCE_COLUMN",
    "Listing",
    "day_dir",
    "day_of",
    "days_in",
    "list_kind",
    "relative",
]

PARTITION = "date"
"""The hive partition key of the day directories (``date=YYYY-MM-DD``)."""

REPLACES_KEY = b"tierscope.replaces"
SOURCES_KEY = b"tierscope.sources"
SOURCE_COLUMN = "_source"

_STAMP = r"\d{8}T\d{12}Z"
SEGMENT = rf"(decisions|outcomes)-{_STAMP}-(\d+)-[0-9a-f]+-(c?)\d+\.parquet"
SEGMENT_NAME = re.compile(f"^{SEGMENT}$")
TEMP_NAME = re.compile(rf"^\.{SEGMENT}\.[0-9a-f]+\.tmp$")
_DAY_DIR = re.compile(rf"^{PARTITION}=(\d{{4}}-\d{{2}}-\d{{2}})$")


def day_dir(day: date) -> str:
    """The partition directory name of ``day``."""
    return f"{PARTITION}={day.isoformat()}"


def parse_day_dir(name: str) -> date | None:
    """The day of a partition directory name, None for any other name."""
    m = _DAY_DIR.match(name)
    if m is None:
        return None
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        return None


def day_of(ts: datetime) -> date:
    """The UTC day of ``ts`` (naive datetimes are UTC)."""
    return (ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts).date()


def days_in(day: date, since: datetime | None, until: datetime | None) -> bool:
    """Whether the UTC day ``day`` overlaps ``[since, until)`` (both UTC-aware or None)."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    if since is not None and start + timedelta(days=1) <= since:
        return False
    return until is None or start < until


def day_within(day: date, since: datetime | None, until: datetime | None) -> bool:
    """Whether the whole UTC day ``day`` lies inside ``[since, until)``."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return (since is None or since <= start) and (until is None or start + timedelta(days=1) <= until)


def relative(path: Path, kind_dir: Path) -> str:
    """``path`` relative to its kind directory, with ``/`` separators (a manifest entry)."""
    return path.relative_to(kind_dir).as_posix()


@dataclass
class Listing:
    """The files of one kind that a read of a window considers."""

    segments: list[Path] = field(default_factory=list)
    """Named like a segment (writer or derived), oldest name first within each directory."""
    temps: list[os.DirEntry[str]] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    """The partitions listed (those overlapping the window)."""


def _scan(directory: Path, kind: str, out: Listing) -> list[os.DirEntry[str]]:
    """Add ``directory``'s files to ``out``; return its sub-directories."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []  # a partition removed by retention while we listed: nothing there any more
    subdirs = []
    for entry in entries:
        if entry.is_dir():
            subdirs.append(entry)
            continue
        if not entry.is_file():
            continue
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            out.temps.append(entry)
        elif entry.name.endswith(".parquet") and not entry.name.startswith("."):
            m = SEGMENT_NAME.match(entry.name)
            if m is None or m.group(1) != kind:
                out.foreign.append(Path(entry.path))
            else:
                out.segments.append(Path(entry.path))
    return subdirs


def list_kind(kind_dir: Path, kind: str, since: datetime | None, until: datetime | None) -> Listing:
    """The flat segments of ``kind_dir`` and those of the partitions overlapping ``[since, until)``.

    Partitions outside the window are not even listed (partition pruning); dot-directories (a
    partition being deleted or archived) and other directories are ignored.
    """
    out = Listing()
    for sub in _scan(kind_dir, kind, out):
        day = parse_day_dir(sub.name)
        if day is not None and days_in(day, since, until):
            out.days.append(day)
            _scan(Path(sub.path), kind, out)
    return out


def list_partition(kind_dir: Path, kind: str, day: date) -> Listing:
    """The files of one day partition only."""
    out = Listing(days=[day])
    _scan(kind_dir / day_dir(day), kind, out)
    return out


def list_flat(kind_dir: Path, kind: str) -> Listing:
    """The flat (pre-partition) files of ``kind_dir`` only."""
    out = Listing()
    _scan(kind_dir, kind, out)
    return out


def partitions(kind_dir: Path) -> list[date]:
    """Every day partition of ``kind_dir``, oldest first."""
    try:
        names = [e.name for e in os.scandir(kind_dir) if e.is_dir()]
    except FileNotFoundError:
        return []
    return sorted(d for d in (parse_day_dir(n) for n in names) if d is not None)


def is_derived(path: Path) -> bool:
    """Whether ``path`` is a derived (compacted or migrated) file."""
    m = SEGMENT_NAME.match(path.name)
    return m is not None and m.group(3) == "c"


def manifest(metadata: dict[bytes, bytes] | None, key: bytes) -> list[str]:
    """A JSON list of names from Parquet key-value metadata (empty when absent or malformed)."""
    raw = (metadata or {}).get(key)
    if raw is None:
        return []
    try:
        value = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def encode(names: Iterable[str]) -> bytes:
    """A manifest value for Parquet metadata."""
    return json.dumps(list(names), separators=(",", ":")).encode()


def shadowed(replaces: dict[str, Sequence[str]]) -> set[str]:
    """The files replaced by a visible derived file (``replaces``: derived file -> its inputs)."""
    out: set[str] = set()
    for inputs in replaces.values():
        out.update(inputs)
    return out
