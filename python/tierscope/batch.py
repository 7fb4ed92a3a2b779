"""Streaming batch scoring: CSV / JSONL / Parquet in, Parquet out, bounded memory."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import _validate as v
from .exceptions import InvalidInputError

__all__ = ["iter_text_chunks", "read_table_columns", "route_file"]


_MIN_BLOCK = 1 << 22
"""The CSV reader's usual block size (4 MiB): rows are parsed a block at a time."""
_MAX_BLOCK = 1 << 30
"""The largest block (1 GiB; pyarrow's limit is 2 GiB): a longer CSV row is refused."""


def _scan_lines(path: Path) -> tuple[int | None, int]:
    """(first line that is not UTF-8 or None, length in bytes of the longest line)."""
    longest = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            longest = max(longest, len(line))
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, longest
    return None, longest


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidInputError(f"input: expected a .csv, .jsonl or .parquet file, got {path.name!r}")


def iter_text_chunks(
    path: str | os.PathLike[str], column: str, chunk_size: int = 20_000, *, name: str = "path"
) -> Iterator[list[str]]:
    """Yield lists of at most ``chunk_size`` texts from ``column`` of a CSV/JSONL/Parquet file.

    The arguments, the file's existence and (for CSV and Parquet) its header are checked when
    this is called, not at the first ``next()``. Errors name the file and, where it applies, the
    line: missing column, empty file, non-UTF-8 bytes, non-text values. ``name`` is the argument
    a missing file is reported under.

    Nulls are one policy in every format: a CSV null, a JSON ``null`` and a Parquet null become
    ``""``, which the router sends to the fallback tier with ``reason="empty_text"`` (as it does
    an empty or whitespace-only text); a JSONL line without the field is still an error.
    """
    p = v.existing_file(name, path, what="input file")
    v.text("column", column, allow_empty=False)
    chunk_size = v.integer("chunk_size", chunk_size, minimum=1)
    if p.stat().st_size == 0:
        raise InvalidInputError(f"{p}: the file is empty (expected a header row and data)")
    fmt = _format(p)
    if fmt == "csv":
        return _csv_chunks(p, column, chunk_size)
    if fmt == "jsonl":
        return _jsonl_chunks(p, column, chunk_size)
    return _parquet_chunks(p, column, chunk_size)


def _straddles(err: BaseException) -> bool:
    """pyarrow's error for a row longer than the block ("straddling object ... block size")."""
    return "straddl" in str(err)


def _open_csv(p: Path, column: str, block_size: int, skip_rows: int = 0) -> tuple[Any, int]:
    """A streaming CSV reader of ``column`` and its block size (opening reads the header and the
    first block; a first block too small for its rows is grown, up to ``_MAX_BLOCK``)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    while True:
        try:
            reader = pacsv.open_csv(
                p,
                read_options=pacsv.ReadOptions(block_size=block_size, skip_rows_after_names=skip_rows),
                convert_options=pacsv.ConvertOptions(
                    column_types={column: pa.string()}, include_columns=[column]
                ),
            )
            return reader, block_size
        except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError) as err:
            if _straddles(err) and block_size < _MAX_BLOCK:
                block_size = min(_MAX_BLOCK, 4 * block_size)
                continue
            if "include_columns" in str(err) or column in str(err):
                raise InvalidInputError(f"{p}: no column {column!r} in the header") from err
            raise InvalidInputError(f"{p}: cannot parse as CSV: {err}") from err
        except StopIteration as err:
            raise InvalidInputError(f"{p}: the file has no rows") from err


def _csv_chunks(p: Path, column: str, chunk_size: int) -> Iterator[list[str]]:
    bad, longest = _scan_lines(p)
    if bad is not None:
        raise InvalidInputError(f"{p}, line {bad}: not valid UTF-8 text (re-encode the file as UTF-8)")
    if longest >= _MAX_BLOCK:
        raise InvalidInputError(f"{p}: a row of {longest} bytes; rows of at most {_MAX_BLOCK - 1} bytes")
    # A block must hold a whole row: size it from the longest line (a 5 MiB cell needs > 5 MiB).
    reader, block = _open_csv(p, column, min(_MAX_BLOCK, max(_MIN_BLOCK, 2 * longest)))
    return _csv_rows(p, column, chunk_size, reader, block)


def _csv_rows(p: Path, column: str, chunk_size: int, reader: Any, block: int) -> Iterator[list[str]]:
    import pyarrow as pa

    buffer: list[str] = []
    done = 0
    while True:
        try:
            for batch in reader:
                values = batch.column(0).to_pylist()
                done += len(values)
                buffer.extend("" if x is None else x for x in values)
                while len(buffer) >= chunk_size:
                    yield buffer[:chunk_size]
                    buffer = buffer[chunk_size:]
            break
        except pa.ArrowInvalid as err:
            # A row longer than the block: reopen with a larger block after the rows already
            # read, rather than fail the file.
            if not _straddles(err) or block >= _MAX_BLOCK:
                raise InvalidInputError(f"{p}, after row {done}: cannot parse as CSV: {err}") from err
            reader, block = _open_csv(p, column, min(_MAX_BLOCK, 4 * block), skip_rows=done)
    if buffer:
        yield buffer


def _jsonl_chunks(p: Path, column: str, chunk_size: int) -> Iterator[list[str]]:
    buffer: list[str] = []
    with open(p, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                raise InvalidInputError(f"{p}, line {number}: not valid UTF-8 text") from err
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InvalidInputError(f"{p}, line {number}: not valid JSON ({err.msg})") from err
            if not isinstance(record, dict) or column not in record:
                raise InvalidInputError(f"{p}, line {number}: no field {column!r}")
            value = record[column]
            if value is None:
                value = ""  # the null policy every format shares (see iter_text_chunks)
            if not isinstance(value, str):
                raise InvalidInputError(
                    f"{p}, line {number}: field {column!r} is {type(value).__name__}, not text"
                )
            buffer.append(value)
            if len(buffer) >= chunk_size:
                yield buffer
                buffer = []
    if buffer:
        yield buffer


def _parquet_chunks(p: Path, column: str, chunk_size: int) -> Iterator[list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowInvalid, OSError) as err:
        raise InvalidInputError(f"{p}: not a readable Parquet file ({err})") from err
    if column not in pf.schema_arrow.names:
        raise InvalidInputError(f"{p}: no column {column!r} (columns: {pf.schema_arrow.names})")
    return _parquet_rows(p, pf, column, chunk_size)


def _parquet_rows(p: Path, pf: Any, column: str, chunk_size: int) -> Iterator[list[str]]:
    import pyarrow as pa

    for batch in pf.iter_batches(batch_size=chunk_size, columns=[column]):
        arr = batch.column(0)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise InvalidInputError(f"{p}: column {column!r} has type {arr.type}, expected text")
        yield ["" if x is None else x for x in arr.to_pylist()]


def read_table_columns(path: str | os.PathLike[str], columns: list[str]) -> list[list[str]]:
    """Read whole text columns (for training files, which fit in memory)."""
    names = v.string_list("columns", columns, allow_empty=False)
    out: list[list[str]] = [[] for _ in names]
    for i, column in enumerate(names):
        for chunk in iter_text_chunks(path, column):
            out[i].extend(chunk)
    return out


def route_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    text_col: str = "text",
    chunk_size: int = 20_000,
    progress: bool = True,
) -> dict[str, Any]:
    """Route every text of ``input_path`` and write the decisions to ``output_path`` (Parquet).

    Streams ``chunk_size`` rows at a time, so memory stays bounded whatever the file size. The
    output is written to a temporary file and renamed when complete. Every argument, the input's
    header and its first chunk are checked before the router is loaded: a missing input raises
    :class:`~tierscope.exceptions.TierscopeFileNotFoundError`, an output that is a directory, a
    missing ``text_col`` or a bad ``chunk_size`` :class:`~tierscope.exceptions.InvalidInputError`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .routing.router import Router

    v.text("text_col", text_col, allow_empty=False)
    v.integer("chunk_size", chunk_size, minimum=1)
    model = v.existing_dir("model_dir", model_dir, what="router directory")
    source = v.existing_file("input_path", input_path, what="input file")
    out = v.output_file("output_path", output_path)
    if out.exists() and out.resolve() == source.resolve():
        raise v.fail("output_path", "a file other than the input", str(out))
    show = v.boolean("progress", progress)
    chunks = iter_text_chunks(source, text_col, chunk_size, name="input_path")
    first = next(chunks, None)
    if first is None:
        raise InvalidInputError(f"{input_path}: no rows to route")
    router = Router.load(model)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    writer: pq.ParquetWriter | None = None
    rows = 0
    bar = _progress(show)
    try:
        for chunk in itertools.chain([first], chunks):
            batch = router.route_batch(chunk)
            table = batch.to_arrow()
            table = table.add_column(0, "row", pa.array(range(rows, rows + len(chunk)), type=pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += len(chunk)
            bar(len(chunk))
        assert writer is not None  # the first chunk was written
        writer.close()
        writer = None
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()
        bar(None)
    return {"rows": rows, "output": str(out)}


def _progress(enabled: bool) -> Any:
    if not enabled:
        return lambda n: None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return lambda n: None
    bar = tqdm(unit=" queries", desc="routing", disable=None)

    def update(n: int | None) -> None:
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return update
