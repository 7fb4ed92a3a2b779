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
    for command in ["route", "fit", "demo", "build-default-router"]:
        proc = _run(command, "--help")
        assert proc.returncode == 0 and "usage" in proc.stdout


def test_parser_lists_every_command_in_order() -> None:
    """``build_parser`` assembles the sub-commands in ``--help`` order; the demo keeps its
    routing-only options."""
    import argparse

    from tierscope.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = ["demo", "route-demo", "route", "fit", "build-default-router", "plan", "audit"]
    assert list(sub.choices) == commands
    args = parser.parse_args(["demo", "--routing-only", "--top", "3"])
    assert args.routing_only and args.top == 3 and args.latency_samples == 500
    assert args.html == "demo_report.html" and args.days is None and not args.no_shift
    assert parser.parse_args(["audit", "LOG"]).monitor_method == "e_detector"
