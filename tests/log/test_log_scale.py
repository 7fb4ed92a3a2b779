"""The decision log at scale: day partitions, pruned reads, compaction under concurrent writers and
SIGKILL, migration of flat logs, retention and redaction of past partitions."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from tierscope.cli import main as cli_main
from tierscope.exceptions import InvalidInputError, SegmentWarning, TierscopeFileNotFoundError
from tierscope.log import DecisionLog, layout, maintenance
from tierscope.log import decision_log as dl
from tierscope.log.maintenance import compact, migrate, redact_partitions, retain
from tierscope.log.reader import latest_day
from tierscope.quality.review_plan import plan_reviews

UTC = timezone.utc
DAY = datetime(2026, 11, 2, tzinfo=UTC)


def _ids(root: Path, **kw: Any) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SegmentWarning)
        return list(DecisionLog.read(root, **kw).column("request_id").to_pylist())


def _write(
    root: Path, n: int, start: datetime, step: timedelta, prefix: str = "r", flush: int = 10
) -> list[str]:
    ids = []
    with DecisionLog(root, flush_every=flush, flush_interval_s=None, fsync=False) as log:
        for i in range(n):
            rid = f"{prefix}{i:05d}"
            tier = "cheap" if i % 3 else "capable"
            log.log_decision(
                {
                    "request_id": rid,
                    "timestamp": start + i * step,
                    "answered_by": tier,
                    "route_confidence": 0.8,
                }
            )
            ids.append(rid)
    return ids


def _data_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.parquet") if not p.name.startswith("."))


# -- partitions ----------------------------------------------------------------------------------
def test_a_flush_spanning_midnight_is_split_into_one_segment_per_utc_day(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ids = _write(root, 8, DAY - timedelta(seconds=4), timedelta(seconds=1), flush=8)  # one flush
    d = root / "decisions"
    first, second = d / "date=2026-11-01", d / "date=2026-11-02"
    assert [len(_data_files(first)), len(_data_files(second))] == [1, 1]
    assert pq.read_table(_data_files(first)[0]).num_rows == 4
    for path in _data_files(d):  # every row of a partition belongs to its day
        day = date.fromisoformat(path.parent.name.split("=")[1])
        assert {layout.day_of(t) for t in pq.read_table(path).column("timestamp").to_pylist()} == {day}
    assert sorted(_ids(root)) == ids
    assert _ids(root, since=DAY) == ids[4:] and latest_day(root) == date(2026, 11, 2)


def test_a_day_query_opens_only_that_days_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "log"
    _write(root, 300, DAY, timedelta(minutes=30))  # 300 half-hours: 7 days, 10 events a segment
    opened: list[Path] = []
    listed: list[Path] = []
    real_read, real_file, real_scan = pq.read_table, pq.ParquetFile, layout._scan

    def read_table(path: Any, *a: Any, **k: Any) -> Any:
        opened.append(Path(path))
        return real_read(path, *a, **k)

    def parquet_file(path: Any, *a: Any, **k: Any) -> Any:
        opened.append(Path(path))
        return real_file(path, *a, **k)

    def scan(directory: Path, *a: Any) -> Any:
        listed.append(Path(directory))
        return real_scan(directory, *a)

    monkeypatch.setattr(dl.pq, "read_table", read_table)
    monkeypatch.setattr(dl.pq, "ParquetFile", parquet_file)
    monkeypatch.setattr(layout, "_scan", scan)
    day = DAY + timedelta(days=3)
    day_dir = root / "decisions" / "date=2026-11-05"
    plan = plan_reviews(root, budget=10, day=day.date())
    assert len(plan.frame) == 48 and opened and {p.parent for p in opened} == {day_dir}
    assert set(opened) == set(_data_files(day_dir))
    assert set(listed) == {root / "decisions", day_dir}  # the other partitions are not even listed
    opened.clear()
    got = DecisionLog.read(root, since=day + timedelta(hours=12), until=day + timedelta(days=1, hours=1))
    assert got.num_rows == 24 + 2 and {p.parent.name for p in opened} == {
        "date=2026-11-05",
        "date=2026-11-06",
    }


def test_flat_logs_still_read_and_migrate_atomically_and_idempotently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "log"
    ids = _write(root, 60, DAY - timedelta(hours=5), timedelta(minutes=7), flush=25)  # segments span midnight
    d = root / "decisions"
    table = DecisionLog.read(root).sort_by("request_id")
    shutil.rmtree(d)
    d.mkdir()  # a flat, pre-partition log: one segment spans midnight, one holds one day
    pq.write_table(table.slice(0, 50), d / "decisions-20261101T235000000000Z-1-abcd1234-000001.parquet")
    pq.write_table(table.slice(50), d / "decisions-20261102T020000000000Z-1-abcd1234-000002.parquet")
    assert sorted(_ids(root)) == ids and sorted(_ids(root, since=DAY)) == [
        i for i in ids if int(i[1:]) * 7 >= 300
    ]
    real_write = maintenance.write_atomic
    calls = {"n": 0}

    def crash_after_first(*a: Any, **k: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated crash mid-split")
        real_write(*a, **k)

    monkeypatch.setattr(maintenance, "write_atomic", crash_after_first)
    with pytest.raises(OSError, match="simulated"):
        migrate(root, fsync=False)
    assert sorted(_ids(root)) == ids  # half-migrated: each event exactly once
    assert sorted(_ids(root, since=DAY)) == [i for i in ids if int(i[1:]) * 7 >= 300]
    monkeypatch.setattr(maintenance, "write_atomic", real_write)
    report = migrate(root, fsync=False)
    assert (report.moved, report.split) == (1, 1) and not [p for p in d.iterdir() if p.is_file()]
    assert sorted(_ids(root)) == ids
    again = migrate(root, fsync=False)
    assert again.moved == again.split == 0 and sorted(_ids(root)) == ids
    compact(root, fsync=False)  # compacting a migrated part keeps its claim on the flat file
    assert sorted(_ids(root)) == ids


# -- compaction ----------------------------------------------------------------------------------
def test_compaction_merges_a_day_into_one_sorted_file_with_row_group_statistics(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ids = _write(root, 400, DAY, timedelta(minutes=9))  # ~2.5 days, 40 segments
    with DecisionLog(root, flush_every=5, fsync=False) as log:
        for i in range(0, 400, 20):
            log.log_review(f"r{i:05d}", i % 40 == 0, inclusion_prob=0.25, tier="cheap")
    before = DecisionLog.read(root).sort_by("request_id")
    report = compact(root, fsync=False)
    assert report.files_in > 10 and report.rows == 420
    for part in (root / "decisions").iterdir():
        files = _data_files(part)
        assert len(files) == 1 and layout.is_derived(files[0])
        t = pq.read_table(files[0])
        keys = list(zip(t.column("answered_by").to_pylist(), t.column("timestamp").to_pylist(), strict=True))
        assert keys == sorted(keys)  # sorted by (tier, timestamp)
        meta = pq.ParquetFile(files[0]).metadata
        stats = meta.row_group(0).column(t.schema.get_field_index("timestamp")).statistics
        assert stats is not None and stats.has_min_max
        assert layout.manifest(t.schema.metadata, layout.REPLACES_KEY)  # the inputs it replaced
    after = DecisionLog.read(root).sort_by("request_id")
    assert after.equals(before) and sorted(_ids(root)) == ids
    assert compact(root, fsync=False).files_in == 0  # nothing left to merge
    assert DecisionLog.read(root, kind="outcomes").num_rows == 20


def test_a_crash_between_rename_and_delete_shows_each_event_once_and_is_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "log"
    ids = _write(root, 200, DAY, timedelta(minutes=2))
    n_files = len(_data_files(root / "decisions"))

    def crash(kind_dir: Path, names: Any, *a: Any, **k: Any) -> int:
        if not names:
            return 0  # no leftovers of an earlier run to remove
        raise KeyboardInterrupt  # killed right after the compacted file was renamed into place

    monkeypatch.setattr(maintenance, "_remove", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(root, fsync=False)
    assert len(_data_files(root / "decisions")) == n_files + 1  # inputs and output both visible
    assert sorted(_ids(root)) == ids  # ... yet every event is read once
    monkeypatch.undo()
    report = compact(root, fsync=False)
    assert report.leftovers_removed == n_files and report.files_in == 0  # only the cleanup was left
    assert sorted(_ids(root)) == ids and len(_data_files(root / "decisions")) == 1


COMPACTOR = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tierscope.log.maintenance import compact
    root, stop = sys.argv[1], Path(sys.argv[2])
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stop.exists():
        compact(root)
        if stop.name == "once":
            break
    """
)


def test_sigkill_of_the_compactor_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ids = _write(root, 900, DAY, timedelta(minutes=5), flush=15)  # 3+ days, 60 segments
    script = tmp_path / "compactor.py"
    script.write_text(COMPACTOR)
    rng = random.Random(7)
    kills = 0
    for round_ in range(8):
        ids += _write(
            root, 60, DAY + timedelta(minutes=2), timedelta(minutes=70), prefix=f"x{round_}-", flush=6
        )
        proc = subprocess.Popen(
            [sys.executable, str(script), str(root), str(tmp_path / "once")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            kills += proc.wait(timeout=60) == -signal.SIGKILL  # else it finished first: also checked
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
        got = _ids(root)
        assert len(got) == len(set(got)) and sorted(got) == sorted(ids), f"round {round_}"
    print(f"compactor killed mid-run in {kills}/8 rounds")
    compact(root, fsync=False)
    assert sorted(_ids(root)) == sorted(ids)
    for part in (root / "decisions").iterdir():
        assert len(_data_files(part)) == 1


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tierscope.log.decision_log import DecisionLog

    root, wid, progress, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    log = DecisionLog(root, flush_every=7, flush_interval_s=None)
    out = open(progress, "w", buffering=1)
    i = 0
    deadline = time.monotonic() + 120
    while not stop.exists() and time.monotonic() < deadline:
        log.log_decision({"request_id": f"w{wid}-{i:07d}", "answered_by": "cheap" if i % 2 else "capable"})
        i += 1
        if i % 7 == 0:
            out.write(f"C {log.stats['decisions_committed']}\\n")  # acknowledged: flush returned
    log.close()
    out.write(f"C {log.stats['decisions_committed']}\\nDONE {i}\\n")
    """
)


def _acked(path: Path) -> tuple[int, bool]:
    acked, done = 0, False
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "C":
                acked = max(acked, int(parts[1]))
            done = done or parts[0] == "DONE"
    return acked, done


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def test_compaction_while_four_writers_write_and_one_is_killed(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    root = tmp_path / "log"
    DecisionLog(root).close()
    stop, stop_compactor = tmp_path / "stop", tmp_path / "stop-compactor"
    (tmp_path / "writer.py").write_text(WRITER)
    (tmp_path / "compactor.py").write_text(COMPACTOR)
    progress = [tmp_path / f"progress-{w}.txt" for w in range(4)]
    for w in range(4):
        processes.append(
            subprocess.Popen(
                [sys.executable, str(tmp_path / "writer.py"), str(root), str(w), str(progress[w]), str(stop)]
            )
        )
    processes.append(
        subprocess.Popen(
            [sys.executable, str(tmp_path / "compactor.py"), str(root), str(stop_compactor)],
            stdout=subprocess.DEVNULL,
        )
    )
    deadline = time.monotonic() + 60
    reads = 0
    while time.monotonic() < deadline:  # readers mid-stream never see an event twice
        got = _ids(root)
        assert len(got) == len(set(got))
        reads += 1
        compacting = any(layout.is_derived(p) for p in _data_files(root / "decisions"))
        if compacting and all(p.exists() and _acked(p)[0] >= 300 for p in progress):
            break  # the compactor has merged segments while all four write
        assert all(p.poll() is None for p in processes), "a process died on its own"
        time.sleep(0.05)
    else:
        pytest.fail("writers did not commit in time")
    processes[0].send_signal(signal.SIGKILL)
    killed_acked = _acked(progress[0])[0]
    time.sleep(0.5)
    stop.touch()
    for p in processes[1:4]:
        assert p.wait(timeout=60) == 0
    stop_compactor.touch()
    assert processes[4].wait(timeout=120) == 0
    assert processes[0].wait(timeout=30) == -signal.SIGKILL
    compact(root, fsync=False)
    got = _ids(root)
    assert len(got) == len(set(got))  # exactly once
    for w in range(4):
        mine = sorted(int(i.split("-")[1]) for i in got if i.startswith(f"w{w}-"))
        assert mine == list(range(len(mine)))  # a prefix: only an unflushed tail can be missing
        acked, done = _acked(progress[w])
        if w == 0:
            assert len(mine) >= killed_acked and not done  # every acknowledged event survived
        else:
            assert done and len(mine) == acked  # closed cleanly: everything logged is there
    assert reads >= 1


# -- retention and redaction ---------------------------------------------------------------------
def _old_log(root: Path, days: int) -> list[str]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return _write(root, days * 4, today - timedelta(days=days - 1), timedelta(hours=6), flush=2)


def test_retention_deletes_or_archives_whole_old_partitions(tmp_path: Path) -> None:
    root, archive = tmp_path / "log", tmp_path / "archive"
    ids = _old_log(root, 10)
    report = retain(root, days=3, archive=archive, fsync=False)
    assert len(report.archived) == 7 and report.kept == 3
    kept = _ids(root)
    assert len(kept) == 12 and sorted(kept + _ids(archive)) == sorted(ids)  # the archive is a log too
    # A crash after the hiding rename: the next pass finishes the hidden partition.
    part = sorted((root / "decisions").iterdir())[0]
    os.rename(part, part.parent / f".{part.name}.retain-deadbeef")
    assert len(_ids(root)) == 8  # hidden at once, as a whole
    assert retain(root, days=3, fsync=False).deleted == [f"decisions/{part.name}"]
    assert not [p for p in (root / "decisions").iterdir() if p.name.startswith(".")]
    with pytest.raises(InvalidInputError, match="days"):
        retain(root, days=0)
    with pytest.raises(TierscopeFileNotFoundError):
        retain(tmp_path / "missing", days=3)


def test_redaction_pass_rewrites_past_partitions_only_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "log"
    now = datetime.now(UTC)
    with DecisionLog(root, flush_every=2, fsync=False, redact="keep") as log:
        for i, ts in enumerate([now - timedelta(days=2), now - timedelta(days=2), now]):
            log.log_decision(
                {"request_id": f"r{i}", "timestamp": ts, "error": "ssn 123-45-6789", "ticket": "secret text"}
            )
    key = b"k" * 32
    assert redact_partitions(root, redact="hash", redact_key=key, fsync=False) == 1
    assert redact_partitions(root, redact="hash", redact_key=key, fsync=False) == 0  # hashes stay put
    t = DecisionLog.read(root).sort_by("request_id").to_pylist()
    digest = DecisionLog(tmp_path / "other", redact="hash", redact_key=key).hash_text("ssn 123-45-6789")
    assert [r["error"] for r in t] == [digest, digest, "ssn 123-45-6789"]  # today is left alone
    assert "secret" not in t[0]["extra"] and "secret text" in t[2]["extra"]
    with pytest.raises(InvalidInputError, match="redact"):
        redact_partitions(root, redact="scramble")


# -- the command line ----------------------------------------------------------------------------
def test_log_commands_compact_migrate_retain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "log"
    ids = _old_log(root, 5)
    assert cli_main(["log", "migrate", str(root)]) == 0
    assert cli_main(["log", "compact", str(root), "--older-than", "0"]) == 0
    out = capsys.readouterr().out
    assert "compacted 4 partition(s)" in out  # every past day, not today
    assert cli_main(["log", "compact", str(root), "--day", datetime.now(UTC).date().isoformat()]) == 0
    assert cli_main(["log", "retain", str(root), "--days", "2", "--redact", "omit"]) == 0
    assert len(_ids(root)) == 8 and sorted(_ids(root)) == sorted(ids)[-8:]
    assert cli_main(["log", "retain", str(root), "--days", "0"]) == 2
    assert cli_main(["log", "compact", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "--days" in err and "nope" in err and "Traceback" not in err


def test_audit_over_a_window_reads_only_its_partitions_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierscope.quality.audit import audit

    root = tmp_path / "log"
    _write(root, 240, DAY, timedelta(hours=1))
    with DecisionLog(root, flush_every=50, fsync=False) as log:
        rng = np.random.default_rng(0)
        for i in range(0, 240, 3):
            log.log_review(f"r{i:05d}", bool(rng.random() < 0.8), inclusion_prob=0.5)
    full_reads: list[str] = []
    real = dl._read_part

    def spy(path: Path, kind_dir: Path, schema: Any, columns: Any) -> Any:
        if columns != ["request_id"] and kind_dir.name == "decisions":  # more than the id column
            full_reads.append(path.parent.name)
        return real(path, kind_dir, schema, columns)

    monkeypatch.setattr(dl, "_read_part", spy)
    since = DAY + timedelta(days=4)
    report = audit(root, since=since, until=since + timedelta(days=2))
    assert report.n_decisions == 48 and set(full_reads) == {"date=2026-11-06", "date=2026-11-07"}
    monkeypatch.undo()
    whole = audit(root)
    assert whole.n_decisions == 240
    shutil.rmtree(root / "decisions" / "date=2026-11-02")
    assert (
        audit(root, since=since, until=since + timedelta(days=2)).n_orphans == 8
    )  # outcomes of removed days


# -- incremental reads ---------------------------------------------------------------------------
def test_a_cursor_reads_each_event_once_across_compaction_and_restarts(tmp_path: Path) -> None:
    from tierscope.log import LogCursor

    root, state = tmp_path / "log", tmp_path / "state" / "cursor.json"
    first = _write(root, 50, DAY, timedelta(minutes=30))
    cursor = LogCursor(state)
    got = cursor.read_new(root).column("request_id").to_pylist()
    assert sorted(got) == first
    assert sorted(cursor.read_new(root).column("request_id").to_pylist()) == first  # not committed yet
    cursor.commit()
    assert cursor.read_new(root).num_rows == 0
    second = _write(root, 30, DAY + timedelta(hours=6, seconds=1), timedelta(minutes=20), prefix="s")
    compact(root, fsync=False)  # merges consumed and new segments of the same days
    restarted = LogCursor(state)  # a new process: the state file only
    assert sorted(restarted.read_new(root, columns=["request_id"]).column("request_id").to_pylist()) == second
    restarted.commit()
    assert LogCursor(state).read_new(root).num_rows == 0
    third = _write(root, 5, DAY + timedelta(days=3), timedelta(minutes=1), prefix="t")
    assert sorted(LogCursor(state).read_new(root).column("request_id").to_pylist()) == third
    state.write_text("not json")
    with pytest.raises(InvalidInputError, match="cursor"):
        LogCursor(state)


def test_auto_compaction_merges_past_days_at_the_first_flush_of_a_day(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ids = _old_log(root, 3)  # 2 files a day
    with DecisionLog(root, flush_every=1, fsync=False, auto_compact=True) as log:
        log.log_decision({"request_id": "now"})
        log.log_decision({"request_id": "now-2"})
    per_day = {p.name: len(_data_files(p)) for p in (root / "decisions").iterdir()}
    today = layout.day_dir(datetime.now(UTC).date())
    assert (
        all(n == 1 for day, n in per_day.items() if day != today) and per_day[today] >= 3
    )  # today untouched
    assert sorted(_ids(root)) == sorted([*ids, "now", "now-2"])
    with pytest.raises(InvalidInputError, match="auto_compact"):
        DecisionLog(root, auto_compact="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda d: compact(123), "log"),
        (lambda d: compact(d, days="x"), "days"),
        (lambda d: compact(d, older_than_days=float("nan")), "older_than_days"),
        (lambda d: compact(d, min_files=0), "min_files"),
        (lambda d: compact(d, kinds=["x"]), "kinds"),
        (lambda d: compact(d, fsync="no"), "fsync"),
        (lambda d: retain(d, days=True), "days"),
        (lambda d: retain(d, days=3, archive=d), "archive"),
        (lambda d: redact_partitions(d, redact="hash", redact_key=b"short"), "redact_key"),
        (lambda d: DecisionLog.read(d, columns=["nope"]), "columns"),
        (lambda d: DecisionLog.read(d, columns="request_id"), "columns"),
    ],
)
def test_bad_maintenance_arguments_are_refused_naming_them(tmp_path: Path, call: Any, name: str) -> None:
    DecisionLog(tmp_path).close()
    with pytest.raises(InvalidInputError, match=f"`{name}`"):
        call(tmp_path)
    for missing in (compact, migrate):
        with pytest.raises(TierscopeFileNotFoundError, match="does not exist"):
            missing(tmp_path / "nope")
