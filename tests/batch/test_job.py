"""Batch jobs on real files with the real default router: every input kind, ids and kept columns,
provenance, dedup equality, resume after a kill, and one-line errors naming file, part and line."""

from __future__ import annotations

import gzip
import json
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tierscope import Router
from tierscope.batch import DecisionCache, read_provenance, route_deduplicated, route_job
from tierscope.cli import main
from tierscope.exceptions import InvalidInputError

N = 240


@pytest.fixture(scope="module")
def texts(queries: list[str]) -> list[str]:
    # Repeats (as in a real log) and an empty text (the fallback path).
    return [*queries[: N // 2], *queries[: N // 2 - 1], ""]


@pytest.fixture(scope="module")
def reference(router: Router, texts: list[str]) -> pa.Table:
    """The decisions of one in-process route_batch over all rows: what every job must equal."""
    return router.route_batch(texts).to_arrow()


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal columns, floats bit for bit (NaN included: a failed routing's NaN equals itself)."""
    if a.column_names != b.column_names or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type):
            if x.type != y.type or not np.array_equal(
                x.to_numpy().view(np.uint32 if x.type == pa.float32() else np.uint64),
                y.to_numpy().view(np.uint32 if y.type == pa.float32() else np.uint64),
            ):
                return False
        elif x.to_pylist() != y.to_pylist():
            return False
    return True


def _table(texts: list[str]) -> pa.Table:
    return pa.table(
        {"qid": [f"q{i:04d}" for i in range(len(texts))], "text": texts, "user": ["u"] * len(texts)}
    )


def _write_inputs(tmp: Path, table: pa.Table) -> dict[str, str]:
    """The same rows as every input kind the job reads."""
    out: dict[str, str] = {}
    pacsv.write_csv(table, tmp / "in.csv")
    out["csv"] = str(tmp / "in.csv")
    pacsv.write_csv(table, tmp / "in.tsv", pacsv.WriteOptions(delimiter="\t"))
    out["tsv"] = str(tmp / "in.tsv")
    lines = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
    (tmp / "in.jsonl").write_text(lines, encoding="utf-8")
    out["jsonl"] = str(tmp / "in.jsonl")
    pq.write_table(table, tmp / "in.parquet")
    out["parquet"] = str(tmp / "in.parquet")
    (tmp / "in.csv.gz").write_bytes(gzip.compress((tmp / "in.csv").read_bytes()))
    out["csv.gz"] = str(tmp / "in.csv.gz")
    with pa.CompressedOutputStream(str(tmp / "in.jsonl.zst"), "zstd") as f:
        f.write(lines.encode("utf-8"))
    out["jsonl.zst"] = str(tmp / "in.jsonl.zst")
    half = table.num_rows // 2
    (tmp / "dir").mkdir()
    pacsv.write_csv(table.slice(0, half), tmp / "dir" / "a.csv")
    pacsv.write_csv(table.slice(half), tmp / "dir" / "b.csv")
    out["directory"] = str(tmp / "dir")
    out["glob"] = str(tmp / "dir" / "*.csv")
    for day, part in (("2026-05-01", table.slice(0, half)), ("2026-05-02", table.slice(half))):
        (tmp / "hive" / f"day={day}").mkdir(parents=True)
        pq.write_table(part, tmp / "hive" / f"day={day}" / "part.parquet")
    out["hive"] = str(tmp / "hive")
    return out


def test_every_input_kind_gives_the_in_process_decisions(
    default_dir: Path, router: Router, texts: list[str], reference: pa.Table, tmp_path: Path
) -> None:
    table = _table(texts)
    for kind, source in _write_inputs(tmp_path, table).items():
        out = tmp_path / f"out-{kind.replace('.', '-')}"
        keep = ["user", "day"] if kind == "hive" else ["user"]
        summary = route_job(
            default_dir,
            source,
            out,
            id_col="qid",
            keep_cols=keep,
            rows_per_part=100,
            progress=False,
            router=router,
        )
        assert summary["rows"] == N and summary["parts"] == 3, kind
        got = pq.read_table(out).sort_by("row")
        assert got.column("qid").to_pylist() == table.column("qid").to_pylist(), kind
        assert got.column("row").to_pylist() == list(range(N)), kind
        assert got.column("user").to_pylist() == ["u"] * N, kind
        assert same(got.select(reference.column_names), reference), kind
        if kind == "hive":
            assert set(got.column("day").to_pylist()) == {"2026-05-01", "2026-05-02"}


def test_stdin_jsonl_through_the_cli(
    default_dir: Path, texts: list[str], reference: pa.Table, tmp_path: Path
) -> None:
    lines = "".join(json.dumps({"text": t, "qid": i}) + "\n" for i, t in enumerate(texts))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tierscope.cli", "route", str(default_dir), "-", str(out), "--id-col", "qid"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "part 0 written" in proc.stderr  # not a TTY: one log line per part
    got = pq.read_table(out).sort_by("row")
    assert got.column("qid").to_pylist() == list(range(N))
    assert same(got.select(reference.column_names), reference)


def test_parts_carry_provenance_and_csv_output_is_csv(
    default_dir: Path, router: Router, texts: list[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    pacsv.write_csv(_table(texts), src)
    route_job(default_dir, src, tmp_path / "parts", rows_per_part=100, progress=False, router=router)
    meta = read_provenance(tmp_path / "parts" / "part-00001.parquet")
    assert meta["part"] == 1 and (meta["row_start"], meta["row_end"]) == (100, 200)
    assert meta["tierscope_version"] and len(meta["router_sha256"]) == 64 and meta["cpu"]["isa"]
    assert meta["thresholds"] == router.config["thresholds"] and len(meta["input_sha256"]) == 64
    job = json.loads((tmp_path / "parts" / "_tierscope_job.json").read_text())
    assert job["rows"] == N and job["dedup_hit_rate"] > 0.4
    route_job(default_dir, src, tmp_path / "out.csv", id_col="qid", progress=False, router=router)
    back = pacsv.read_csv(tmp_path / "out.csv")
    assert back.num_rows == N and back.column_names[:2] == ["qid", "row"]
    with pytest.raises(InvalidInputError, match="a .parquet file or a .csv file"):
        route_job(default_dir, src, tmp_path / "out.json", progress=False, router=router)


def test_dedup_equals_no_dedup_and_the_router_is_batch_invariant(router: Router, queries: list[str]) -> None:
    rng = np.random.default_rng(0)
    log = [queries[i] for i in rng.integers(0, 200, size=600)]
    plain = router.route_batch(log).to_arrow()
    cache = DecisionCache(80, router.tiers)  # smaller than the distinct texts: evictions happen
    parts = [route_deduplicated(router, log[i : i + 150], cache).to_arrow() for i in range(0, len(log), 150)]
    assert same(pa.concat_tables(parts), plain)
    assert 0.3 < cache.hit_rate < 1.0 and len(cache) == 80
    # Batch invariance itself: the same texts routed in other batches give the same bits.
    alone = pa.concat_tables([router.route_batch(log[i : i + 7]).to_arrow() for i in range(0, 210, 7)])
    assert same(alone, plain.slice(0, 210))


def _route_cmd(default_dir: Path, src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tierscope.cli",
        "route",
        str(default_dir),
        str(src),
        str(out),
        "--id-col",
        "qid",
        "--rows-per-part",
        "40",
        "--no-dedup",
        *extra,
    ]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_resume_after_a_kill_gives_the_uninterrupted_dataset(
    default_dir: Path, router: Router, texts: list[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    pacsv.write_csv(_table(texts * 4), src)  # 960 rows, 24 parts
    whole = tmp_path / "whole"
    route_job(
        default_dir, src, whole, id_col="qid", rows_per_part=40, dedup=False, progress=False, router=router
    )
    out = tmp_path / "killed"
    proc = subprocess.Popen(_route_cmd(default_dir, src, out), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(out.glob("part-*.parquet"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done = len(list(out.glob("part-*.parquet")))
    assert 3 <= done < 24, "the job must be killed mid-way"
    (out / "part-00001.parquet").write_bytes(b"not parquet")  # a damaged part is routed again
    res = subprocess.run(
        _route_cmd(default_dir, src, out, "--resume"), capture_output=True, text=True, timeout=240
    )
    assert res.returncode == 0, res.stderr
    assert f"{done - 1} kept by --resume" in res.stderr
    a, b = pq.read_table(out), pq.read_table(whole)
    assert same(a, b)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in whole.iterdir()
    )


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tierscope: error: route: "), err
    return err


def test_bad_inputs_name_file_part_and_line(
    default_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(default_dir)
    src = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"qid": ["a", "b", "c", "b"], "text": ["x", "y", "z", "w"]}), src)
    err = _error(["route", d, str(src), str(tmp_path / "o1"), "--id-col", "id", "--quiet"], capsys)
    assert f"{src}, line 1: no column 'id' (the id column)" in err and "(part 0)" in err
    err = _error(
        ["route", d, str(src), str(tmp_path / "o2"), "--id-col", "qid", "--rows-per-part", "2", "--quiet"],
        capsys,
    )
    assert f"{src}, part 1, line 5: duplicate id 'b'" in err
    tsv = tmp_path / "in.tsv"
    tsv.write_text("qid\ttext\na\thello\n")
    err = _error(["route", d, str(tsv), str(tmp_path / "o3"), "--delimiter", ",", "--quiet"], capsys)
    assert str(tsv) in err and "line 1" in err and "wrong delimiter? pass --delimiter '\\t'" in err
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("qid,text\na,hello\nb,hi,extra\n")
    err = _error(["route", d, str(ragged), str(tmp_path / "o4"), "--quiet"], capsys)
    assert str(ragged) in err and f"{ragged}, line 3: cannot parse as CSV" in err and "(part 0)" in err
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(pa.table({"text": ["a", "b"]}), parts / "a.parquet")
    (parts / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    err = _error(["route", d, str(parts), str(tmp_path / "o5"), "--rows-per-part", "1", "--quiet"], capsys)
    assert f"{parts / 'b.parquet'}: unreadable Parquet part" in err and "(part 2)" in err
    err = _error(["route", d, str(src), str(tmp_path / "o.parquet"), "--resume", "--quiet"], capsys)
    assert "--resume" in err and "directory OUTPUT" in err


def test_old_flat_route_file_contract(default_dir: Path, tmp_path: Path) -> None:
    from tierscope.batch import route_file

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "top up"}\n\n{"text": null}\n', encoding="utf-8")
    out = tmp_path / "o.parquet"
    assert route_file(default_dir, src, out, progress=False) == {"rows": 2, "output": str(out)}
    assert pq.read_table(out).column("row").to_pylist() == [0, 1]
    assert "tierscope" in {k.decode() for k in pq.read_schema(out).metadata}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_router_pickles_by_path(
    default_dir: Path, router: Router, queries: list[str], tmp_path: Path
) -> None:
    back = pickle.loads(pickle.dumps(router))
    assert back.path == router.path and back.threads == router.threads
    assert (
        back.route_batch(queries[:20]).probabilities.tobytes()
        == router.route_batch(queries[:20]).probabilities.tobytes()
    )
    two = Router.load(default_dir, sessions=1, intra_threads=1)
    assert pickle.loads(pickle.dumps(two)).threads == (1, 1)
    fitted = Router.fit(
        queries[:60] * 2, ["cheap", "capable"] * 60, encoder=router, tier_order=["cheap", "capable"]
    )
    assert fitted.path is None
    with pytest.raises(InvalidInputError, match="without a directory"):
        pickle.dumps(fitted)


def test_the_readme_cli_examples_run(default_dir: Path, texts: list[str], tmp_path: Path) -> None:
    """The `bash` block of README's "Batch scoring at scale", line by line (tierscope = this CLI)."""
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Batch scoring at scale") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block is not None
    table = _table(texts[:50]).rename_columns(["id", "text", "user"])
    pacsv.write_csv(table, tmp_path / "queries.csv")
    (tmp_path / "logs").mkdir()
    lines = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
    (tmp_path / "logs" / "day1.jsonl.gz").write_bytes(gzip.compress(lines.encode("utf-8")))
    cli = f"{shlex.quote(sys.executable)} -m tierscope.cli"
    for line in block.group(1).strip().splitlines():
        cmd = line.replace("models/default-minilm-int8-v1", shlex.quote(str(default_dir)))
        cmd = re.sub(r"(^|\| )tierscope ", lambda m: f"{m.group(1)}{cli} ", cmd)
        proc = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (line, proc.stderr)
    assert (
        pq.read_table(tmp_path / "decisions").num_rows
        == pq.read_table(tmp_path / "log-decisions").num_rows
        == 50
    )
    assert pacsv.read_csv(tmp_path / "stdin-decisions.csv").num_rows == 50
