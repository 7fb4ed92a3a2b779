"""Streaming batch scoring: CSV / JSONL / Parquet in, Parquet out, bounded memory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .exceptions import InvalidInputError, TierscopeFileNotFoundError

__all__ = ["iter_text_chunks", "read_table_columns", "route_file"]


def _first_bad_utf8_line(path: Path) -> int | None:
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


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
    path: str | os.PathLike[str], column: str, chunk_size: int = 20_000
) -> Iterator[list[str]]:
    """Yield lists of at most ``chunk_size`` texts from ``column`` of a CSV/JSONL/Parquet file.

    Errors name the file and, where it applies, the line: missing column, empty file, non-UTF-8
    bytes, non-text values.
    """
    p = Path(path)
    if not p.is_file():
        raise TierscopeFileNotFoundError(f"input file not found: {p}")
    if p.stat().st_size == 0:
        raise InvalidInputError(f"{p}: the file is empty (expected a header row and data)")
    if chunk_size < 1:
        raise InvalidInputError(f"chunk_size: expected a positive integer, got {chunk_size}")
    fmt = _format(p)
    if fmt == "csv":
        yield from _csv_chunks(p, column, chunk_size)
    elif fmt == "jsonl":
        yield from _jsonl_chunks(p, column, chunk_size)
    else:
        yield from _parquet_chunks(p, column, chunk_size)


def _csv_chunks(p: Path, column: str, chunk_size: int) -> Iterator[list[str]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad = _first_bad_utf8_line(p)
    if bad is not None:
        raise InvalidInputError(f"{p}, line {bad}: not valid UTF-8 text (re-encode the file as UTF-8)")
    try:
        reader = pacsv.open_csv(
            p,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(
                column_types={column: pa.string()}, include_columns=[column]
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError) as err:
        if "include_columns" in str(err) or column in str(err):
            raise InvalidInputError(f"{p}: no column {column!r} in the header") from err
        raise InvalidInputError(f"{p}: cannot parse as CSV: {err}") from err
    except StopIteration as err:
        raise InvalidInputError(f"{p}: the file has no rows") from err
    buffer: list[str] = []
    for batch in reader:
        values = batch.column(0).to_pylist()
        buffer.extend("" if v is None else v for v in values)
        while len(buffer) >= chunk_size:
            yield buffer[:chunk_size]
            buffer = buffer[chunk_size:]
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
    except pa.ArrowInvalid as err:
        raise InvalidInputError(f"{p}: not a readable Parquet file ({err})") from err
    if column not in pf.schema_arrow.names:
        raise InvalidInputError(f"{p}: no column {column!r} (columns: {pf.schema_arrow.names})")
    for batch in pf.iter_batches(batch_size=chunk_size, columns=[column]):
        arr = batch.column(0)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise InvalidInputError(f"{p}: column {column!r} has type {arr.type}, expected text")
        yield ["" if v is None else v for v in arr.to_pylist()]


def read_table_columns(path: str | os.PathLike[str], columns: list[str]) -> list[list[str]]:
    """Read whole text columns (for training files, which fit in memory)."""
    out: list[list[str]] = [[] for _ in columns]
    for i, column in enumerate(columns):
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
    output is written to a temporary file and renamed when complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .routing.router import Router

    router = Router.load(model_dir)
    out = Path(output_path)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    writer: pq.ParquetWriter | None = None
    rows = 0
    bar = _progress(progress)
    try:
        for chunk in iter_text_chunks(input_path, text_col, chunk_size):
            batch = router.route_batch(chunk)
            table = batch.to_arrow()
            table = table.add_column(0, "row", pa.array(range(rows, rows + len(chunk)), type=pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += len(chunk)
            bar(len(chunk))
        if writer is None:
            raise InvalidInputError(f"{input_path}: no rows to route")
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
