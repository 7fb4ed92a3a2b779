"""The ``tierscope`` command line on small fixtures, including bad inputs (clear errors, no tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tierscope.cli import main

QUERIES = [
    "my card was stolen",
    "how do I top up",
    "",
    "why was I charged twice?",
    "what's the exchange rate",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tierscope.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_route_writes_parquet_in_input_order(default_dir: Path, tmp_path: Path, fmt: str) -> None:
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(pa.table({"id": list(range(5)), "query": QUERIES}), src)
    elif fmt == "jsonl":
        src.write_text("".join(json.dumps({"query": q, "id": i}) + "\n" for i, q in enumerate(QUERIES)))
    else:
        pq.write_table(pa.table({"query": QUERIES}), src)
    out = tmp_path / "out.parquet"
    assert (
        main(["route", str(default_dir), str(src), str(out), "--text-col", "query", "--chunk-size", "2"]) == 0
    )
    table = pq.read_table(out)
    assert table.column("row").to_pylist() == [0, 1, 2, 3, 4]
    assert set(table.column_names) >= {"tier", "p_cheap", "p_capable", "confidence", "tail_score", "fallback"}
    assert table.column("tier").to_pylist()[0] == "capable"


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (b"", [], "is empty"),
        (b"text\nhello\n", ["--text-col", "query"], "no column 'query'"),
        (b"text\nfine\nbad \xff\xfe bytes\n", [], "line 3: not valid UTF-8"),
    ],
)
def test_route_bad_inputs_name_file_and_line(
    default_dir: Path, tmp_path: Path, content: bytes, args: list[str], needle: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    proc = _run("route", str(default_dir), str(src), str(tmp_path / "o.parquet"), *args)
    assert proc.returncode == 2
    assert needle in proc.stderr and str(src) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_route_missing_input_and_bad_jsonl(default_dir: Path, tmp_path: Path) -> None:
    proc = _run("route", str(default_dir), str(tmp_path / "missing.csv"), str(tmp_path / "o.parquet"))
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": 5}\n')
    proc = _run("route", str(default_dir), str(bad), str(tmp_path / "o.parquet"))
    assert proc.returncode == 2 and "line 2" in proc.stderr


def test_fit_trains_and_reports(default_dir: Path, tmp_path: Path) -> None:
    from tierscope.data import banking77, tier_map

    texts, intents = banking77("train")
    mapping = tier_map()
    rows = [(texts[i], mapping[intents[i]]) for i in range(0, len(texts), 40)]
    src = tmp_path / "train.csv"
    pacsv.write_csv(pa.table({"q": [r[0] for r in rows], "t": [r[1] for r in rows]}), src)
    out = tmp_path / "router"
    proc = _run(
        "fit", str(src), str(out), "--text-col", "q", "--tier-col", "t", "--encoder", str(default_dir)
    )
    assert proc.returncode == 0, proc.stderr
    assert "held-out accuracy" in proc.stdout
    assert (out / "router.json").is_file() and (out / "model.onnx").is_file()


def test_every_command_has_help() -> None:
    for command in ["route", "fit", "demo", "route-demo", "build-default-router", "plan", "audit"]:
        proc = _run(command, "--help")
        assert proc.returncode == 0 and "usage" in proc.stdout


def test_parser_lists_every_command_in_order() -> None:
    """``build_parser`` assembles the sub-commands in ``--help`` order; the demo keeps its
    routing-only options."""
    import argparse

    from tierscope.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = ["demo", "route-demo", "route", "fit", "build-default-router", "plan", "audit", "log"]
    assert list(sub.choices) == commands
    args = parser.parse_args(["demo", "--routing-only", "--top", "3"])
    assert args.routing_only and args.top == 3 and args.latency_samples == 500
    assert args.html == "demo_report.html" and args.days is None and not args.no_shift
    assert parser.parse_args(["audit", "LOG"]).monitor_method == "e_detector"


def test_route_reads_and_routes_a_5_mib_csv_cell(default_dir: Path, tmp_path: Path) -> None:
    """A cell over pyarrow's 4 MiB block used to fail the whole file ("straddling object")."""
    big = "my card has not arrived " * (5 * 1024 * 1024 // 24 + 1)
    src = tmp_path / "big.csv"
    pacsv.write_csv(pa.table({"text": ["top up", big, "exchange rate"]}), src)
    out = tmp_path / "out.parquet"
    assert main(["route", str(default_dir), str(src), str(out)]) == 0
    table = pq.read_table(out)
    assert table.column("row").to_pylist() == [0, 1, 2] and table.num_rows == 3


@pytest.mark.parametrize("mib", [9, 20])
def test_csv_cells_over_twice_the_default_block_are_read(tmp_path: Path, mib: int) -> None:
    """pyarrow tolerates a row up to about twice its block (8 MiB at the old fixed 4 MiB), then
    raised a raw ArrowInvalid for the whole file; the block now follows the longest line."""
    from tierscope.batch import iter_text_chunks

    big = "x" * (mib * 1024 * 1024)
    src = tmp_path / "big.csv"
    pacsv.write_csv(pa.table({"text": [*(["short"] * 1000), big, "last"]}), src)
    chunks = list(iter_text_chunks(src, "text", 600))
    assert [len(c) for c in chunks] == [600, 402] and chunks[1][-2] == big and chunks[1][-1] == "last"


def test_csv_reader_retries_with_a_larger_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a row outgrow the block anyway, the reader reopens with a larger one after the rows
    already read: no row is lost or repeated."""
    import tierscope.batch.inputs as batch

    rows = [f"row {i}" for i in range(2000)] + ["x" * 300_000] + [f"tail {i}" for i in range(50)]
    src = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"text": rows}), src)
    monkeypatch.setattr(batch, "_MIN_BLOCK", 1 << 12)
    monkeypatch.setattr(batch, "_scan_lines", lambda path: (None, 0))  # pretend every line is short
    read = [text for chunk in batch.iter_text_chunks(src, "text", 7) for text in chunk]
    assert read == rows


def test_route_checks_everything_before_loading_the_router(tmp_path: Path) -> None:
    """A missing model is reported only after the input, output and column are known to be fine."""
    from tierscope.batch import route_file
    from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError

    src = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"q": ["a"]}), src)
    with pytest.raises(TierscopeFileNotFoundError, match="`input_path`"):
        route_file(tmp_path, tmp_path / "none.csv", tmp_path / "o.parquet")
    with pytest.raises(InvalidInputError, match="`output_path`"):
        route_file(tmp_path, src, tmp_path)
    with pytest.raises(InvalidInputError, match="no column 'text'"):
        route_file(tmp_path, src, tmp_path / "o.parquet")  # tmp_path is no router: never loaded


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "out.parquet").mkdir()
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n")
    proc = _run("route", str(tmp_path), str(src), str(tmp_path / "out.parquet"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("tierscope: error: route: ")
    assert "`OUTPUT`" in proc.stderr and "directory" in proc.stderr


def test_python_dash_m_tierscope_runs_the_cli() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "tierscope", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: tierscope" in done.stdout
