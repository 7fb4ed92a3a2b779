"""Incremental reads of a decision log: only the events not read by an earlier run.

A :class:`LogCursor` remembers which *writer segments* (file names, unique per writer process
and flush) an incremental job has consumed, in a small JSON file. Segment names survive
migration (a single-day flat segment keeps its name) and compaction (a compacted file lists the
segments its rows come from, row by row: the ``_source`` column), so a job that read some
segments of a day before compaction merged them reads exactly the rest afterwards: nothing
twice, nothing skipped. Files whose segments were all consumed are not opened (a compacted
file's footer is read to learn its sources); a new day is a new partition directory.

Use::

    cursor = LogCursor("state/audit-cursor.json")
    new = cursor.read_new("logdir", kind="outcomes")     # a pyarrow.Table of unseen events
    ...aggregate new (e.g. into mergeable tierscope.stats.Aggregate partial sums)...
    cursor.commit()                                     # only now are they marked consumed

A crash between ``read_new`` and ``commit`` re-reads the same events next time (at-least-once
into the aggregation; commit the aggregate and the cursor together for exactly-once).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import _validate as _v
from ..exceptions import DecisionLogError, InvalidInputError, TierscopeFileNotFoundError
from . import layout
from .decision_log import _KINDS, _project, _read_listing, _shadow, _Vanished

__all__ = ["LogCursor"]

_VERSION = 1


class LogCursor:
    """The writer segments already consumed, per kind; persisted at ``path`` by :meth:`commit`.

    ``path=None`` keeps the cursor in memory only. A missing file is an empty cursor; a file that
    is not a cursor raises :class:`~tierscope.exceptions.InvalidInputError` naming it.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None and (isinstance(path, bytes) or not isinstance(path, (str, os.PathLike))):
            raise _v.fail("path", "a str or os.PathLike (the cursor's JSON file), or None", path)
        self.path = None if path is None else Path(path)
        self.seen: dict[str, set[str]] = {k: set() for k in _KINDS}
        self._pending: dict[str, set[str]] = {k: set() for k in _KINDS}
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("version") != _VERSION:
                raise ValueError(f"version {state.get('version')!r}")
            for kind in _KINDS:
                self.seen[kind] = {str(n) for n in state["seen"].get(kind, [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InvalidInputError(f"invalid `path`: {path} is not a LogCursor state file ({err})") from None

    def read_new(
        self, log: str | os.PathLike[str], *, kind: str = "decisions", columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The committed events of ``kind`` in ``log`` that this cursor has not consumed.

        They count as consumed once :meth:`commit` is called (a second ``read_new`` before that
        returns them again, plus anything newer).
        """
        kind = _v.choice("kind", kind, tuple(_KINDS))
        root = Path(log)
        if not root.is_dir():
            raise TierscopeFileNotFoundError(
                f"invalid `log`: a decision-log directory, {root} does not exist"
            )
        cols = None
        if columns is not None:
            cols = [_v.choice("columns", c, tuple(_KINDS[kind].names)) for c in columns]
        seen = self.seen[kind]
        for _ in range(20):
            try:
                table, sources = _read_unseen(root / kind, kind, seen, cols)
                break
            except _Vanished:
                continue
        else:  # pragma: no cover - files moving under 20 consecutive listings
            raise DecisionLogError(f"LogCursor: the files of {root / kind} kept changing while read")
        self._pending[kind] = sources
        return table

    def commit(self) -> None:
        """Mark what :meth:`read_new` returned as consumed, and persist (atomic replace)."""
        for kind in _KINDS:
            self.seen[kind] |= self._pending[kind]
            self._pending[kind] = set()
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"version": _VERSION, "seen": {k: sorted(v) for k, v in self.seen.items()}}
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(3)}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}: {len(v)} segments" for k, v in self.seen.items())
        return f"LogCursor({str(self.path) if self.path else None!r}; {counts})"


def _all_seen(path: Path, seen: set[str]) -> bool:
    """Whether every source segment of ``path`` was consumed (a writer segment: its own name)."""
    if not layout.is_derived(path):
        return path.name in seen
    try:
        meta = pq.read_schema(path).metadata
    except FileNotFoundError:
        raise _Vanished(str(path)) from None
    except Exception:  # noqa: BLE001 - the read below reports it
        return False
    sources = layout.manifest(meta, layout.SOURCES_KEY)
    return bool(sources) and all(s in seen for s in sources)


def _read_unseen(
    kind_dir: Path, kind: str, seen: set[str], columns: list[str] | None
) -> tuple[pa.Table, set[str]]:
    schema = _KINDS[kind] if columns is None else _project(_KINDS[kind], columns)
    if not kind_dir.is_dir():
        return schema.empty_table(), set()
    listing = layout.list_kind(kind_dir, kind, None, None)
    listing.segments = [p for p in listing.segments if not _all_seen(p, seen)]
    tables: list[pa.Table] = []
    sources: set[str] = set()
    for part in _shadow(_read_listing(kind_dir, kind, listing, columns)):
        table = part.table
        if part.source_index is not None:
            names = pa.array(part.sources, pa.string())
            unseen = pc.invert(
                pc.is_in(pc.take(names, part.source_index), value_set=pa.array(sorted(seen), pa.string()))
            )
            table = table.filter(unseen)
        tables.append(table)
        sources.update(part.sources)
    if not tables:
        return schema.empty_table(), sources
    return pa.concat_tables(tables), sources
