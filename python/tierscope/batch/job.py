"""A batch scoring job: read an input in chunks, route each chunk, write each as a part.

:func:`route_job` is what ``tierscope route`` runs. The input is cut into chunks of
``rows_per_part`` rows (across file boundaries); chunk ``k`` holds input rows
``[k * rows_per_part, (k + 1) * rows_per_part)`` and becomes part ``k``. With ``resume=True`` a
part already in the output directory is kept when it reads back with the same router hash,
thresholds, input fingerprint, row range, row count and checksum of its input rows (text and
id); any other part is routed again. So a job killed at any point and resumed writes the same
dataset as one that was never interrupted.

Output columns, in order: the id column (``id_col``, under its own name) if given, ``row`` (the
row's 0-based position in the input), the kept columns, then the decision columns of
:meth:`~tierscope.routing.records.RouteBatch.arrow_schema`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _validate as v
from ..exceptions import InvalidInputError
from .dedup import DecisionCache, route_deduplicated
from .inputs import STDIN, Batch, Source, open_source
from .outputs import FileSink, PartSink, provenance
from .progress import Progress

__all__ = ["DEDUP_CAPACITY", "OUTPUT_FORMATS", "decision_table", "route_file", "route_job"]

DEDUP_CAPACITY = 1_000_000
"""Default size of the dedup cache (distinct texts; about 100 bytes of decision each, plus the text)."""
DEDUP_KEY = "exact-text-v1"
"""The dedup normalisation recorded in each part (see :mod:`tierscope.batch.dedup`)."""


@dataclass
class _Chunk:
    index: int
    start: int
    pieces: list[Batch]

    @property
    def rows(self) -> int:
        return sum(p.table.num_rows for p in self.pieces)

    def locate(self, i: int) -> str:
        """``file, part k, line n`` of the chunk's row ``i``."""
        for piece in self.pieces:
            if i < piece.table.num_rows:
                return f"{piece.file}, part {self.index}, {piece.locator} {int(piece.lines[i])}"
            i -= piece.table.num_rows
        return f"part {self.index}"  # pragma: no cover - i is always inside the chunk


def _chunks(src: Source, rows_per_part: int) -> Iterator[_Chunk]:
    pieces: list[Batch] = []
    held = 0
    index = start = 0
    for batch in src.batches():
        while batch.table.num_rows:
            take = min(rows_per_part - held, batch.table.num_rows)
            pieces.append(Batch(batch.file, batch.table.slice(0, take), batch.lines[:take], batch.locator))
            batch = Batch(batch.file, batch.table.slice(take), batch.lines[take:], batch.locator)
            held += take
            if held == rows_per_part:
                yield _Chunk(index, start, pieces)
                index, start, pieces, held = index + 1, start + held, [], 0
    if pieces:
        yield _Chunk(index, start, pieces)


def _table(chunk: _Chunk) -> Any:
    import pyarrow as pa

    tables = [p.table for p in chunk.pieces]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise InvalidInputError(
            f"{chunk.locate(0)}: the files' columns have different types ({err})"
        ) from None


def _checksum(texts: Sequence[str], ids: Sequence[Any] | None) -> str:
    digest = hashlib.sha256()
    for i, text in enumerate(texts):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00" if ids is None else f"\x00{ids[i]!r}\x00".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _check_ids(chunk: _Chunk, ids: list[Any], seen: set[Any], id_col: str) -> None:
    for i, ident in enumerate(ids):
        if ident is None:
            raise InvalidInputError(f"{chunk.locate(i)}: the id column {id_col!r} is empty (null)")
        if ident in seen:
            raise InvalidInputError(
                f"{chunk.locate(i)}: duplicate id {ident!r} in the id column {id_col!r} "
                "(ids must be unique to join decisions back)"
            )
        seen.add(ident)


def decision_table(
    inputs: Any, decisions: Any, *, start: int, text_col: str, id_col: str | None, keep_cols: Sequence[str]
) -> Any:
    """The output table of a chunk: id, ``row``, kept columns, decision columns (in that order)."""
    import pyarrow as pa

    cols: dict[str, Any] = {}
    if id_col is not None:
        cols[id_col] = inputs.column(id_col)
    cols["row"] = pa.array(range(start, start + inputs.num_rows), type=pa.int64())
    for name in keep_cols:
        cols[name] = inputs.column(name)
    for name in decisions.column_names:
        cols[name] = decisions.column(name)
    return pa.table(cols)


def _check_names(src: Source, tiers: Sequence[str]) -> None:
    from ..routing.records import RouteBatch

    taken = set(RouteBatch.arrow_schema(tiers).names) | {"row"}
    for name in [*([src.id_col] if src.id_col else []), *src.keep_cols]:
        if name in taken:
            raise v.fail("keep_cols", f"column names other than the output's own ({sorted(taken)})", name)


OUTPUT_FORMATS = ("parts", "parquet", "csv")
"""``output_format`` values: a directory of Parquet parts, one Parquet file, one CSV file."""


def _sink(output: Path, output_format: str | None) -> PartSink | FileSink:
    if output_format is not None:
        kind = v.choice("output_format", output_format, OUTPUT_FORMATS)
        if kind == "parts":
            return PartSink(output)
        return FileSink(v.output_file("output_path", output), kind)
    suffix = output.suffix.lower()
    if suffix == ".parquet":
        return FileSink(v.output_file("output_path", output), "parquet")
    if suffix == ".csv":
        return FileSink(v.output_file("output_path", output), "csv")
    if suffix:
        raise v.fail(
            "output_path",
            "a directory (partitioned Parquet, one part per chunk), a .parquet file or a .csv file",
            os.fspath(output),
        )
    return PartSink(output)


def _total(src: Source) -> int | None:
    """Rows to route, for the progress bar: exact for Parquet, the line count for plain text
    files (an estimate for CSV with multi-line cells), unknown for compressed files and stdin."""
    import pyarrow.parquet as pq

    if src.files == [STDIN]:
        return None
    total = 0
    for name in src.files:
        if src.fmt == "parquet":
            total += pq.read_metadata(name).num_rows
        elif name.lower().endswith((".gz", ".zst", ".zstd")):
            return None
        else:
            with open(name, "rb") as f:
                lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
            total += lines - (1 if src.fmt in ("csv", "tsv") else 0)
    return total


def _summary(
    counts: dict[str, int], out: Path, cache: DecisionCache | None, job: dict[str, Any]
) -> dict[str, Any]:
    return {
        **counts,
        "output": os.fspath(out),
        "dedup": cache is not None,
        "dedup_hit_rate": None if cache is None else cache.hit_rate,
        "input_fingerprint": job["input_fingerprint"],
        "router_sha256": job["router_sha256"],
    }


def _read_error(err: InvalidInputError, index: int) -> InvalidInputError:
    text = str(err)
    return err if ", part " in text else InvalidInputError(f"{text} (part {index})")


def route_job(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    text_col: str = "text",
    id_col: str | None = None,
    keep_cols: Sequence[str] = (),
    fmt: str | None = None,
    delimiter: str | None = None,
    rows_per_part: int = 100_000,
    resume: bool = False,
    dedup: bool = True,
    dedup_capacity: int = DEDUP_CAPACITY,
    progress: bool = True,
    router: Any = None,
    output_format: str | None = None,
) -> dict[str, Any]:
    """Route every row of ``input_path`` (file, directory, glob or ``"-"``) to ``output_path``.

    ``output_path`` is a directory of parts (resumable), or one ``.parquet`` or ``.csv`` file.
    Arguments, the output, the input's header and its first chunk are checked before the router
    is loaded. Returns a summary: rows, parts written and kept, dedup hit rate, output.
    ``router`` (a loaded :class:`~tierscope.routing.router.Router` of ``model_dir``) skips loading.
    ``output_format`` (one of :data:`OUTPUT_FORMATS`) overrides what the output's name says.
    """
    from ..routing.router import Router

    rows_per_part = v.integer("rows_per_part", rows_per_part, minimum=1, maximum=100_000_000)
    resume, dedup, show = (
        v.boolean("resume", resume),
        v.boolean("dedup", dedup),
        v.boolean("progress", progress),
    )
    dedup_capacity = v.integer("dedup_capacity", dedup_capacity, minimum=0)
    model = v.existing_dir("model_dir", model_dir, what="router directory")
    out = Path(os.fspath(output_path))
    sink = _sink(out, output_format)
    if os.fspath(input_path) != STDIN and out.exists() and out.resolve() == Path(input_path).resolve():
        raise v.fail("output_path", "a path other than the input", os.fspath(out))
    try:
        src = open_source(
            input_path, text_col=text_col, id_col=id_col, keep_cols=keep_cols, fmt=fmt, delimiter=delimiter
        )
    except InvalidInputError as err:
        raise _read_error(err, 0) from None
    if resume and src.fingerprint is None:
        raise v.fail("resume", "a file, directory or glob input (stdin cannot be resumed)", resume)
    chunks = _chunks(src, rows_per_part)
    try:
        first = next(chunks, None)
    except InvalidInputError as err:
        raise _read_error(err, 0) from None
    if first is None:
        raise InvalidInputError(f"{input_path}: no rows to route")
    if router is None:
        router = Router.load(model)
    _check_names(src, router.tiers)
    sink.prepare(resume)
    job = provenance(router, model, src.fingerprint)
    job.update(text_col=src.text_col, id_col=src.id_col, keep_cols=src.keep_cols, rows_per_part=rows_per_part)
    job["dedup_key"] = DEDUP_KEY if dedup else None
    cache = DecisionCache(dedup_capacity, router.tiers) if dedup else None
    bar = Progress(_total(src) if show else None, enabled=show)
    counts = {"rows": 0, "parts": 0, "written": 0, "kept": 0}
    seen: set[Any] = set()
    chunk: _Chunk | None = first
    try:
        while chunk is not None:
            _run_chunk(chunk, src, router, sink, job, cache, seen, resume, bar, counts)
            try:
                chunk = next(chunks, None)
            except InvalidInputError as err:
                raise _read_error(err, counts["parts"]) from None
        summary = _summary(counts, out, cache, job)
        sink.finish(summary)
        return summary
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()


def _run_chunk(
    chunk: _Chunk,
    src: Source,
    router: Any,
    sink: PartSink | FileSink,
    job: dict[str, Any],
    cache: DecisionCache | None,
    seen: set[Any],
    resume: bool,
    bar: Progress,
    counts: dict[str, int],
) -> None:
    table = _table(chunk)
    texts: list[str] = table.column(src.text_col).to_pylist()
    ids = table.column(src.id_col).to_pylist() if src.id_col else None
    if ids is not None and src.id_col is not None:
        _check_ids(chunk, ids, seen, src.id_col)
    meta = dict(job, part=chunk.index, row_start=chunk.start, row_end=chunk.start + len(texts))
    meta["input_sha256"] = _checksum(texts, ids)
    counts["rows"] += len(texts)
    counts["parts"] += 1
    if resume and sink.verify_part(chunk.index, meta):
        counts["kept"] += 1
        bar.update(chunk.index, len(texts), skipped=True)
        return
    batch = router.route_batch(texts) if cache is None else route_deduplicated(router, texts, cache)
    out = decision_table(
        table,
        batch.to_arrow(),
        start=chunk.start,
        text_col=src.text_col,
        id_col=src.id_col,
        keep_cols=src.keep_cols,
    )
    sink.write(chunk.index, out, meta)
    counts["written"] += 1
    bar.update(chunk.index, len(texts), hit_rate=None if cache is None else cache.hit_rate)


def route_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    text_col: str = "text",
    chunk_size: int = 20_000,
    progress: bool = True,
) -> dict[str, Any]:
    """Route every text of one CSV/JSONL/Parquet file and write the decisions to one Parquet file.

    The single-file form of :func:`route_job` (no dedup, no ids): streams ``chunk_size`` rows at a
    time, writes to a temporary file renamed when complete. A missing input raises
    :class:`~tierscope.exceptions.TierscopeFileNotFoundError`, an output that is a directory, a
    missing ``text_col`` or a bad ``chunk_size`` :class:`~tierscope.exceptions.InvalidInputError`,
    all before the router is loaded.
    """
    v.text("text_col", text_col, allow_empty=False)
    chunk_size = v.integer("chunk_size", chunk_size, minimum=1)
    v.existing_file("input_path", input_path, what="input file")
    v.output_file("output_path", output_path)
    summary = route_job(
        model_dir,
        input_path,
        output_path,
        text_col=text_col,
        rows_per_part=chunk_size,
        dedup=False,
        progress=progress,
        output_format="parquet",
    )
    return {"rows": summary["rows"], "output": summary["output"]}
