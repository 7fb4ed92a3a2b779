"""Batch inputs: single files (:func:`iter_text_chunks`) and datasets (:func:`open_source`).

:func:`open_source` reads one file, a directory (hive-partitioned Parquet included: ``key=value``
folders become columns), a glob, or ``-`` for JSONL on stdin; CSV, TSV, JSONL and Parquet, each
text format optionally gzip (``.gz``) or zstd (``.zst``/``.zstd``) compressed. Directories are
discovered as :mod:`pyarrow.dataset` does (hidden and ``_``-prefixed entries skipped); files are
streamed with pyarrow's CSV and Parquet readers over its codec streams, file by file, so every
row keeps its file and line. It yields
:class:`Batch` objects that know the file and line of every row, so an error names them.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _validate as v
from ..exceptions import InvalidInputError

__all__ = ["Batch", "Source", "iter_text_chunks", "open_source", "read_table_columns"]


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


# -- datasets: files, directories, globs, stdin ---------------------------------------------------

FORMATS = ("csv", "tsv", "jsonl", "parquet")
"""Input formats :func:`open_source` reads (``--format``)."""
_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
STDIN = "-"


@dataclass
class Batch:
    """Rows of one input file: ``table`` holds the text column (string, nulls as ``""``), the id
    column and the kept columns; ``lines[i]`` is row ``i``'s line in ``file`` (a 1-based row
    number for Parquet, where ``locator`` is ``"row"``)."""

    file: str
    table: Any
    lines: Any
    locator: str = "line"


@dataclass
class Source:
    """An opened input: its files (in reading order), format and a fingerprint of their names,
    sizes and modification times (what ``--resume`` checks; ``None`` for stdin)."""

    files: list[str]
    fmt: str
    text_col: str
    id_col: str | None
    keep_cols: list[str]
    delimiter: str
    fingerprint: str | None
    partitioning: Any = None

    @property
    def columns(self) -> list[str]:
        """The input columns read: text, id, then the kept ones (no repeats)."""
        return list(dict.fromkeys([self.text_col, *([self.id_col] if self.id_col else []), *self.keep_cols]))

    def batches(self) -> Iterator[Batch]:
        """Every row, file by file, in order."""
        for name in self.files:
            if self.fmt == "parquet":
                yield from _parquet_batches(self, name)
            elif self.fmt == "jsonl":
                yield from _jsonl_batches(self, name)
            else:
                yield from _csv_batches(self, name)


def _strip_compression(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    for suffix, codec in _COMPRESSION.items():
        if lower.endswith(suffix):
            return name[: -len(suffix)], codec
    return name, None


def infer_format(name: str) -> str | None:
    """The format a file name says (``a.tsv.gz`` → ``tsv``), or ``None``."""
    base, _ = _strip_compression(name)
    return _SUFFIX_FORMAT.get(Path(base).suffix.lower())


def _expand(source: str) -> tuple[list[str], bool]:
    """(the files of ``source``, whether it is a directory): a file, a directory (walked, hidden
    and ``_``-prefixed entries skipped as pyarrow.dataset does) or a glob."""
    if any(ch in source for ch in "*?["):
        files = sorted(p for p in _glob.glob(source, recursive=True) if os.path.isfile(p))
        if not files:
            raise InvalidInputError(f"invalid `input_path`: the glob {source!r} matches no files")
        return files, False
    path = Path(source)
    if path.is_dir():
        # Walked as pyarrow.dataset discovers files: hidden and `_`-prefixed entries skipped.
        found = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            found += [os.path.join(root, n) for n in names if not n.startswith((".", "_"))]
        files = sorted(f for f in found if infer_format(f) is not None)
        if not files:
            raise InvalidInputError(
                f"invalid `input_path`: the directory {path} holds no .csv/.tsv/.jsonl/.parquet files"
            )
        return files, True
    return [os.fspath(v.existing_file("input_path", source, what="input file"))], False


def _fingerprint(files: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        st = os.stat(name)
        digest.update(f"{os.path.abspath(name)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def open_source(
    source: str | os.PathLike[str],
    *,
    text_col: str = "text",
    id_col: str | None = None,
    keep_cols: Sequence[str] = (),
    fmt: str | None = None,
    delimiter: str | None = None,
) -> Source:
    """Open ``source`` (a file, directory, glob or ``"-"`` for JSONL on stdin) and check its header.

    ``fmt`` defaults to what the file names say (one format per source); ``delimiter`` to a tab
    for TSV and a comma for CSV. The first file's columns are checked here, before any routing:
    a missing text, id or kept column is an error naming the file.
    """
    text_col = v.text("text_col", text_col, allow_empty=False)
    id_col = v.optional(v.text, "id_col", id_col, allow_empty=False)
    keep = v.string_list("keep_cols", list(keep_cols))
    name = os.fspath(source)
    if fmt is not None:
        fmt = v.choice("fmt", fmt, FORMATS)
    if name == STDIN:
        if fmt not in (None, "jsonl"):
            raise v.fail("--format", "jsonl for stdin (`-`)", fmt)
        src = Source([STDIN], "jsonl", text_col, id_col, keep, "", None)
        return src
    files, is_dir = _expand(name)
    formats = {infer_format(f) for f in files}
    if fmt is None:
        if len(formats) != 1 or None in formats:
            raise InvalidInputError(
                f"{name}: cannot tell the format from the file names ({sorted(map(str, formats))}); "
                f"pass --format, one of {', '.join(FORMATS)}"
            )
        fmt = formats.pop()
    assert fmt is not None
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else ","
    elif len(delimiter) != 1:
        raise v.fail("delimiter", "one character (e.g. ',' or '\\t')", delimiter)
    part = "hive" if (is_dir and fmt == "parquet") else None
    src = Source(files, fmt, text_col, id_col, keep, delimiter, _fingerprint(files), part)
    _check_header(src, files[0])
    return src


def _missing(src: Source, names: Sequence[str], file: str, extra: str = "") -> None:
    for col in src.columns:
        if col not in names:
            what = "text" if col == src.text_col else "id" if col == src.id_col else "kept"
            raise InvalidInputError(
                f"{file}, line 1: no column {col!r} (the {what} column) in the header {list(names)}{extra}"
            )


def _check_header(src: Source, file: str) -> None:
    if src.fmt == "parquet":
        names = _parquet_schema(src, file).names
        _missing(src, names, file)
    elif src.fmt in ("csv", "tsv"):
        if os.path.getsize(file) == 0:
            raise InvalidInputError(f"{file}: the file is empty (expected a header row and data)")
        names = _csv_header(src, file)
        hint = ""
        for other in ("\t", ",", ";", "|"):
            if other != src.delimiter and any(other in n for n in names):
                hint = f" (the header contains {other!r}: wrong delimiter? pass --delimiter {other!r})"
                break
        _missing(src, names, file, hint)


def _parquet_schema(src: Source, file: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(file)
    except (pa.ArrowInvalid, OSError) as err:
        raise InvalidInputError(f"{file}: unreadable Parquet part ({_first_line(err)})") from err
    for key in _hive_keys(src, file):
        if key not in schema.names:
            schema = schema.append(pa.field(key, pa.string()))
    return schema


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _open_stream(file: str) -> Any:
    import pyarrow as pa

    _, codec = _strip_compression(file)
    return pa.input_stream(file, compression=codec)


def _csv_options(src: Source, block_size: int, skip: int = 0, columns: bool = True) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # Every column read as text: an id "007" stays "007" (no silent coercion).
    types = {c: pa.string() for c in src.columns}
    return dict(
        read_options=pacsv.ReadOptions(block_size=block_size, skip_rows_after_names=skip),
        parse_options=pacsv.ParseOptions(delimiter=src.delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=types if columns else {}, include_columns=src.columns if columns else None
        ),
    )


def _parse_error_line(file: str, err: BaseException) -> int | None:
    """The line of the row pyarrow quotes in a parse error (``Expected 2 columns, got 3: a,b,c``)."""
    import re

    match = re.search(r"got \d+: (.*)$", _first_line(err))
    if match is None:
        return None
    row = match.group(1).encode("utf-8", "surrogateescape")
    try:
        with io.BufferedReader(_open_stream(file)) as f:
            for number, line in enumerate(f, start=1):
                if line.rstrip(b"\r\n") == row:
                    return number
    except OSError:
        return None
    return None


def _parse_error(src: Source, file: str, err: BaseException, after: int) -> InvalidInputError:
    line = _parse_error_line(file, err)
    where = f"line {line}" if line is not None else f"line {after} or after"
    kind = "TSV" if src.delimiter == "\t" else "CSV"
    return InvalidInputError(
        f"{file}, {where}: cannot parse as {kind} with delimiter {src.delimiter!r} ({_first_line(err)})"
    )


def _csv_header(src: Source, file: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(_open_stream(file), **_csv_options(src, _MIN_BLOCK, columns=False))
    except (pa.ArrowInvalid, OSError) as err:
        raise _parse_error(src, file, err, 1) from err
    except StopIteration as err:
        raise InvalidInputError(f"{file}: the file has no rows") from err
    return list(reader.schema.names)


def _csv_batches(src: Source, file: str) -> Iterator[Batch]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    _check_header(src, file)  # each file of a directory or glob has its own header
    block = _MIN_BLOCK
    if infer_format(file) and _strip_compression(file)[1] is None:
        bad, longest = _scan_lines(Path(file))
        if bad is not None:
            raise InvalidInputError(f"{file}, line {bad}: not valid UTF-8 text (re-encode the file as UTF-8)")
        block = min(_MAX_BLOCK, max(_MIN_BLOCK, 2 * longest))
    else:
        block = 1 << 24  # compressed: lines unknown before decompression; 16 MiB blocks
    done = 0
    while True:
        try:
            reader = pacsv.open_csv(_open_stream(file), **_csv_options(src, block, skip=done))
            for rb in reader:
                n = rb.num_rows
                yield Batch(file, _standard(src, pa.Table.from_batches([rb])), np.arange(done, done + n) + 2)
                done += n
            return
        except StopIteration:
            return
        except (pa.ArrowInvalid, OSError) as err:
            if _straddles(err) and block < _MAX_BLOCK:
                block = min(_MAX_BLOCK, 4 * block)
                continue
            raise _parse_error(src, file, err, done + 2) from err


def _standard(src: Source, table: Any) -> Any:
    """The text column as a non-null string, then the id and kept columns as read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = table.column(src.text_col)
    if not (
        pa.types.is_string(text.type) or pa.types.is_large_string(text.type) or pa.types.is_null(text.type)
    ):
        raise InvalidInputError(f"column {src.text_col!r} has type {text.type}, expected text")
    text = pc.fill_null(text.cast(pa.string()), "")
    cols = {src.text_col: text}
    for c in src.columns[1:]:
        cols[c] = table.column(c)
    return pa.table(cols)


def _parquet_batches(src: Source, file: str) -> Iterator[Batch]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(file)
        names = pf.schema_arrow.names
        _missing(src, [*names, *_hive_keys(src, file)], file)
        done = 0
        for rb in pf.iter_batches(batch_size=65_536, columns=[c for c in src.columns if c in names]):
            table = pa.Table.from_batches([rb])
            for key, value in _hive_keys(src, file).items():
                if key in src.columns and key not in names:
                    table = table.append_column(key, pa.array([value] * rb.num_rows, type=pa.string()))
            try:
                std = _standard(src, table)
            except InvalidInputError as err:
                raise InvalidInputError(f"{file}: {err}") from None
            yield Batch(file, std, np.arange(done, done + rb.num_rows) + 1, "row")
            done += rb.num_rows
    except (pa.ArrowInvalid, OSError) as err:
        raise InvalidInputError(f"{file}: unreadable Parquet part ({_first_line(err)})") from err


def _hive_keys(src: Source, file: str) -> dict[str, str]:
    if src.partitioning != "hive":
        return {}
    out = {}
    for part in Path(file).parent.parts:
        key, sep, value = part.partition("=")
        if sep and key:
            out[key] = value
    return out


def _jsonl_batches(src: Source, file: str, size: int = 8192) -> Iterator[Batch]:
    import numpy as np

    stream: Any
    if file == STDIN:
        stream = sys.stdin.buffer
    else:
        stream = io.BufferedReader(_open_stream(file))
    rows: dict[str, list[Any]] = {c: [] for c in src.columns}
    lines: list[int] = []
    shown = "<stdin>" if file == STDIN else file
    for number, raw in enumerate(stream, start=1):
        record = _json_record(shown, number, raw, src)
        if record is None:
            continue
        for c in src.columns:
            rows[c].append(record.get(c))
        lines.append(number)
        if len(lines) >= size:
            yield Batch(shown, _json_table(src, rows), np.array(lines))
            rows, lines = {c: [] for c in src.columns}, []
    if lines:
        yield Batch(shown, _json_table(src, rows), np.array(lines))


def _json_record(file: str, number: int, raw: bytes, src: Source) -> dict[str, Any] | None:
    try:
        line = raw.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"{file}, line {number}: not valid UTF-8 text") from err
    if not line:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{file}, line {number}: not valid JSON ({err.msg})") from err
    if not isinstance(record, dict):
        raise InvalidInputError(f"{file}, line {number}: expected a JSON object")
    for c in src.columns:
        if c not in record:
            raise InvalidInputError(f"{file}, line {number}: no field {c!r}")
    text = record[src.text_col]
    if text is None:
        record[src.text_col] = ""  # the null policy every format shares
    elif not isinstance(text, str):
        raise InvalidInputError(
            f"{file}, line {number}: field {src.text_col!r} is {type(text).__name__}, not text"
        )
    return record


def _json_table(src: Source, rows: dict[str, list[Any]]) -> Any:
    import pyarrow as pa

    cols = {src.text_col: pa.array(rows[src.text_col], type=pa.string())}
    for c in src.columns[1:]:
        try:
            cols[c] = pa.array(rows[c])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise InvalidInputError(f"column {c!r} mixes value types ({_first_line(err)})") from err
    return pa.table(cols)
