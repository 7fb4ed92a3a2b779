"""Batch outputs: partitioned Parquet written part by part, or one Parquet / CSV file.

A directory output holds ``part-00000.parquet``, ``part-00001.parquet``, ... (one per chunk of
``rows_per_part`` input rows), each written to a hidden temporary file and renamed into place, so
a part either exists whole or not at all. Every part's Parquet key-value metadata carries, under
the key ``tierscope``, a JSON object: the tierscope version, the router's hash (sha256 of its
``router.json``, which itself lists the sha256 of every model file), the CPU's instruction-set
class and features, the router's thresholds, the input's fingerprint, the part index, its row
range and a checksum of the input rows it holds. ``--resume`` reads that back to decide which parts
are already done (:func:`verify_part`). ``_tierscope_job.json`` (ignored by pyarrow.dataset, like
every ``_`` file) records the finished job.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import InvalidInputError

__all__ = ["JOB_FILE", "META_KEY", "FileSink", "PartSink", "part_name", "provenance", "read_provenance"]

META_KEY = b"tierscope"
"""The Parquet key-value metadata key holding the provenance JSON."""
JOB_FILE = "_tierscope_job.json"
"""The summary a finished directory job writes (rows, parts, dedup hit rate)."""


def part_name(index: int) -> str:
    """``part-00042.parquet``."""
    return f"part-{index:05d}.parquet"


def router_hash(router_dir: str | os.PathLike[str]) -> str:
    """sha256 of ``router.json`` (which records the sha256 of every other file of the router)."""
    return hashlib.sha256((Path(router_dir) / "router.json").read_bytes()).hexdigest()


def provenance(router: Any, router_dir: str | os.PathLike[str], fingerprint: str | None) -> dict[str, Any]:
    """What produced a job's output: version, router hash, CPU, thresholds, input fingerprint."""
    from .. import _core
    from .._runtime import cpu_info

    return {
        "tierscope_version": _core.__version__,
        "router_sha256": router_hash(router_dir),
        "router_dir": os.fspath(Path(router_dir).resolve()),
        "cpu": cpu_info(),
        "thresholds": router.config.get("thresholds"),
        "input_fingerprint": fingerprint,
    }


def _with_meta(table: Any, meta: dict[str, Any]) -> Any:
    merged = dict(table.schema.metadata or {})
    merged[META_KEY] = json.dumps(meta, sort_keys=True).encode("utf-8")
    return table.replace_schema_metadata(merged)


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance JSON of a Parquet file written by a batch job."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if META_KEY not in meta:
        raise InvalidInputError(f"{path}: no tierscope provenance in the Parquet metadata")
    value: dict[str, Any] = json.loads(meta[META_KEY])
    return value


class PartSink:
    """A directory of parts, one file per chunk, each renamed into place when complete."""

    resumable = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def prepare(self, resume: bool) -> None:
        """Create the directory; without ``resume`` it must hold no parts yet."""
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidInputError(f"invalid `output_path`: {self.directory} exists and is not a directory")
        self.directory.mkdir(parents=True, exist_ok=True)
        if not resume and any(self.directory.glob("part-*.parquet")):
            raise InvalidInputError(
                f"invalid `output_path`: {self.directory} already holds parts; pass --resume to continue "
                "that job, or choose an empty directory"
            )

    def verify_part(self, index: int, expected: dict[str, Any]) -> bool:
        """Whether part ``index`` exists, reads, has the expected row count and the same
        provenance (router hash, thresholds, input fingerprint, row range, input checksum)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.directory / part_name(index)
        if not path.is_file():
            return False
        try:
            meta = pq.read_metadata(path)
            got = read_provenance(path)
        except (pa.ArrowInvalid, OSError, InvalidInputError, ValueError):
            return False
        keys = ["router_sha256", "thresholds", "input_fingerprint", "part", "row_start", "row_end"]
        keys += ["input_sha256", "dedup_key"]
        same = all(got.get(k) == expected.get(k) for k in keys)
        return same and meta.num_rows == expected["row_end"] - expected["row_start"]

    def write(self, index: int, table: Any, meta: dict[str, Any]) -> None:
        """Write part ``index`` atomically (a temporary file, fsync'd, renamed over the name)."""
        import pyarrow.parquet as pq

        path = self.directory / part_name(index)
        tmp = self.directory / f".{path.name}.tmp-{os.getpid()}"
        try:
            pq.write_table(_with_meta(table, meta), tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def finish(self, summary: dict[str, Any]) -> None:
        """Write the job summary and drop parts beyond the last (from an earlier, longer job)."""
        last = int(summary["parts"])
        for stale in self.directory.glob("part-*.parquet"):
            if stale.name[5:10].isdigit() and int(stale.name[5:10]) >= last:
                stale.unlink()
        tmp = self.directory / f".{JOB_FILE}.tmp"
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.directory / JOB_FILE)

    def abort(self) -> None:
        """Nothing to undo: finished parts stay for ``--resume``."""


class FileSink:
    """One Parquet or CSV file, written incrementally to a temporary file renamed at the end."""

    resumable = False

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self._writer: Any = None

    def prepare(self, resume: bool) -> None:
        """Refuse ``resume`` (a single file has no parts to keep)."""
        if resume:
            raise InvalidInputError(
                f"invalid `--resume`: {self.path.name} is a single {self.fmt} file; --resume needs "
                "a directory OUTPUT (partitioned Parquet)"
            )

    def verify_part(self, index: int, expected: dict[str, Any]) -> bool:
        """A single file keeps no finished parts."""
        return False

    def write(self, index: int, table: Any, meta: dict[str, Any]) -> None:
        """Append a chunk (the schema, with the provenance, comes from the first one)."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if self._writer is None:
            if self.fmt == "csv":
                self._writer = pacsv.CSVWriter(self._tmp, table.schema)
            else:
                job = {k: val for k, val in meta.items() if k not in ("part", "row_start", "row_end")}
                self._writer = pq.ParquetWriter(self._tmp, _with_meta(table, job).schema)
        if self.fmt == "parquet":
            table = table.replace_schema_metadata(self._writer.schema.metadata)
        self._writer.write_table(table)

    def finish(self, summary: dict[str, Any]) -> None:
        """Close and rename into place."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Close and remove the temporary file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._tmp.exists():
            self._tmp.unlink()
