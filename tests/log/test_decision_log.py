"""The crash-safe decision log: durability under SIGKILL, corrupt segments, orphans, fork, exit flush."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tierscope.exceptions import (
    DecisionLogError,
    InvalidInputError,
    LogDirectoryError,
    SegmentWarning,
    TierscopeError,
)
from tierscope.log.decision_log import SCHEMA_VERSION, DecisionLog, join_outcomes, to_polars
from tierscope.log.quality import quality_by, review_units
from tierscope.routing.cascade import Cascade
from tierscope.routing.records import TierAnswer

from tests.factories import cascade_decision

WRITER = textwrap.dedent(
    """
    import sys
    from tierscope.log.decision_log import DecisionLog

    root, wid, flush_every, progress = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    log = DecisionLog(root, flush_every=flush_every, flush_interval_s=None)
    out = open(progress, "w", buffering=1)
    committed = 0
    i = 0
    while True:
        log.log_decision({"request_id": f"w{wid}-{i:07d}", "answered_by": "cheap", "category": f"w{wid}",
                          "escalated": False, "confidence_raw": 0.9, "route_probabilities": {"cheap": 0.9}})
        i += 1
        out.write(f"L {i}\\n")  # i events accepted by log_decision
        c = log.stats["decisions_committed"]
        if c != committed:
            committed = c
            out.write(f"C {c}\\n")  # c events committed (segments renamed into place)
    """
)


def _progress(path: Path) -> tuple[int, int]:
    logged = committed = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue  # a line torn by SIGKILL
        if parts[0] == "L":
            logged = int(parts[1])
        elif parts[0] == "C":
            committed = int(parts[1])
    return logged, committed


def test_concurrent_writers_survive_sigkill(tmp_path: Path) -> None:
    root, flush_every, n_writers = tmp_path / "log", 7, 4
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = []
    for w in range(n_writers):
        prog = tmp_path / f"progress-{w}.txt"
        p = subprocess.Popen([sys.executable, str(script), str(root), str(w), str(flush_every), str(prog)])
        procs.append((w, p, prog))
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:  # let every writer commit a few segments
            if all(prog.exists() and _progress(prog)[1] >= 5 * flush_every for _, _, prog in procs):
                break
            assert all(p.poll() is None for _, p, _ in procs), "a writer died on its own"
            time.sleep(0.05)
        else:
            pytest.fail("writers did not commit segments in time")
        rng = random.Random(0)
        for _, p, _ in procs:  # kill mid-stream, at staggered moments
            time.sleep(rng.uniform(0.0, 0.05))
            p.send_signal(signal.SIGKILL)
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
    assert all(p.returncode == -signal.SIGKILL for _, p, _ in procs)

    segments = sorted((root / "decisions").rglob("*.parquet"))
    rows_in_files = sum(pq.read_table(s).num_rows for s in segments)  # every committed segment reads cleanly
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = DecisionLog.read(root)
    bad = [str(w.message) for w in caught if ".parquet:" in str(w.message)]
    assert bad == [], bad  # only leftover temp files (a kill mid-write) may be reported
    temp_warnings = [w for w in caught if issubclass(w.category, SegmentWarning)]
    ids = table.column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == rows_in_files  # nothing duplicated
    report = []
    for w, _, prog in procs:
        logged, committed = _progress(prog)
        mine = sorted(int(i.split("-")[1]) for i in ids if i.startswith(f"w{w}-"))
        found = len(mine)
        assert mine == list(range(found))  # a prefix: the only loss is the tail
        assert found % flush_every == 0  # whole segments only
        assert committed <= found <= committed + flush_every  # a commit may land after the last report
        lost = logged - found  # events log_decision returned for, not on disk: the unflushed buffer
        assert -1 <= lost <= flush_every - 1 and logged + 1 - found <= flush_every
        report.append(f"w{w}: logged {logged}, reported committed {committed}, on disk {found}, lost {lost}")
    print("\n" + "\n".join(report) + f"\nsegments {len(segments)}, leftover temp files {len(temp_warnings)}")


def test_roundtrip_schema_filters_and_formats(tmp_path: Path) -> None:
    t0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
    with DecisionLog(tmp_path / "log", flush_every=4) as log:
        for i in range(5):
            log.log_decision(cascade_decision(f"r{i}", timestamp=t0 + timedelta(days=i)))
        log.log_decision({"request_id": "manual", "answered_by": "capable", "my_field": 3})
        assert log.stats["decisions_committed"] == 4 and log.stats["decisions_buffered"] == 2
    table = DecisionLog.read(tmp_path / "log")
    assert table.num_rows == 6 and set(table.column("schema_version").to_pylist()) == {SCHEMA_VERSION}
    rows = {r["request_id"]: r for r in table.to_pylist()}
    assert json.loads(rows["r0"]["route_probabilities"]) == {"cheap": 0.75, "capable": 0.25}
    assert rows["r1"]["timestamp"] == t0 + timedelta(days=1) and rows["r1"]["cheap_input_tokens"] == 12
    assert rows["manual"]["answered_by"] == "capable" and json.loads(rows["manual"]["extra"]) == {
        "my_field": 3
    }
    assert rows["r0"]["writer_pid"] == os.getpid()
    seg = next((tmp_path / "log" / "decisions").rglob("*.parquet"))
    assert pq.read_schema(seg).metadata[b"tierscope.schema_version"] == str(SCHEMA_VERSION).encode()
    assert f"-{os.getpid()}-" in seg.name
    window = DecisionLog.read(tmp_path / "log", since=t0 + timedelta(days=1), until=datetime(2026, 6, 4))
    assert sorted(window.column("request_id").to_pylist()) == ["r1", "r2"]
    df = DecisionLog.read(tmp_path / "log", format="pandas")
    assert len(df) == 6 and df["answered_by"].value_counts()["cheap"] == 5
    try:
        import polars  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install polars"):
            to_polars(table)
    else:
        assert to_polars(table).height == 6
    with pytest.raises(InvalidInputError, match="format"):
        DecisionLog.read(tmp_path / "log", format="excel")  # type: ignore[arg-type]


def test_duckdb_queries_the_directory_and_outcomes_join(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is a dev dependency")
    root = tmp_path / "log"
    with DecisionLog(root, flush_every=3) as log:
        for i in range(10):
            log.log_decision(cascade_decision(f"r{i}", answered_by="cheap" if i < 6 else "capable"))
        log.log_review("r0", False, reviewer="ana", inclusion_prob=0.05, tier="cheap")
        log.log_review("r1", 0.9, reviewer="ana", inclusion_prob=0.05, tier="cheap")
        log.log_feedback("r7", thumbs_up=False)
        log.log_shadow("r2", cheap_score=0.0, capable_score=1.0, inclusion_prob=0.02)
        log.log_support_contact("r3", days_after=2.5)
        log.log_feedback("ghost-1", thumbs_up=True)  # no such decision: an orphan
        log.log_review("ghost-2", True)
        joined = log.joined()
    assert joined.n_orphans == 2 and sorted(joined.orphans.column("request_id").to_pylist()) == [
        "ghost-1",
        "ghost-2",
    ]
    assert joined.n_decisions == 10 and joined.n_outcomes == 5
    assert joined.table.num_rows == 10  # one outcome per matched decision here, unmatched decisions kept
    by_id = {r["request_id"]: r for r in joined.table.to_pylist()}
    assert by_id["r0"]["outcome_kind"] == "review" and by_id["r0"]["outcome_label"] is False
    assert by_id["r2"]["outcome_capable_score"] == 1.0 and by_id["r3"]["outcome_days_after"] == 2.5
    assert by_id["r9"]["outcome_kind"] is None
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM '{root}/decisions/*/*.parquet'").fetchone()[0]
    assert n == 10
    per_tier = con.execute(
        f"""SELECT d.answered_by, count(*) FROM '{root}/outcomes/*/*.parquet' o
            JOIN '{root}/decisions/*/*.parquet' d USING (request_id) GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert per_tier == [("capable", 1), ("cheap", 4)]
    orphans = con.execute(
        f"""SELECT count(*) FROM '{root}/outcomes/*/*.parquet' o
            ANTI JOIN '{root}/decisions/*/*.parquet' d USING (request_id)"""
    ).fetchone()[0]
    assert orphans == joined.n_orphans
    assert join_outcomes(joined.table.select(["request_id"]).slice(0, 0), joined.orphans).n_orphans == 2


def test_joined_time_window_does_not_turn_old_outcomes_into_orphans(tmp_path: Path) -> None:
    t0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
    with DecisionLog(tmp_path / "log") as log:
        for i in range(4):
            log.log_decision(cascade_decision(f"r{i}", timestamp=t0 + timedelta(days=i)))
        for i in range(4):
            log.log_feedback(f"r{i}", thumbs_up=bool(i % 2))
        log.log_feedback("ghost", thumbs_up=True)
        window = log.joined(since=t0 + timedelta(days=2))
    assert sorted(window.table.column("request_id").to_pylist()) == ["r2", "r3"]
    assert window.n_decisions == 2 and window.n_outcomes == 2
    assert window.orphans.column("request_id").to_pylist() == ["ghost"]


def test_per_tier_quality_view(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log", flush_every=100) as log:
        for i in range(8):
            log.log_decision(cascade_decision(f"c{i}", answered_by="cheap"))
        for i in range(4):
            log.log_decision(cascade_decision(f"k{i}", answered_by="capable"))
        # cheap tier reviewed at pi = 0.5 (one bad, one good), capable tier at pi = 0.25 (good)
        log.log_review("c0", False, inclusion_prob=0.5)
        log.log_review("c1", True, inclusion_prob=0.5)
        log.log_review("k0", True, inclusion_prob=0.25)
        log.log_review("c2", True, inclusion_prob=1.0)  # a certainty draw: weight 1 vs 2
        log.log_feedback("c3", thumbs_up=False)
        log.log_feedback("k1", thumbs_up=True)
        log.log_shadow("c4", cheap_score=0.0, capable_score=1.0, inclusion_prob=0.02)
        log.log_support_contact("c5", days_after=2.0)
        log.log_support_contact("c6", days_after=20.0)  # outside the window
        view = log.joined().per_tier(within_days=7).set_index("tier")
    cheap, capable = view.loc["cheap"], view.loc["capable"]
    assert (cheap.decisions, capable.decisions, cheap.reviews) == (8, 4, 3)
    assert cheap.acceptable_rate == pytest.approx((0 * 2 + 1 * 2 + 1 * 1) / (2 + 2 + 1))
    assert (
        capable.acceptable_rate == 1.0 and cheap.thumbs_down_rate == 1.0 and capable.thumbs_down_rate == 0.0
    )
    assert cheap.shadowed == 1 and cheap.shadow_cheap_score == 0.0 and capable.shadowed == 0
    assert cheap.support_contact_rate == pytest.approx(1 / 8) and capable.support_contact_rate == 0.0


def test_review_units_make_the_unit_and_unscored_reviews_explicit() -> None:
    import pandas as pd

    reviews = pd.DataFrame(
        {
            "request_id": ["b", "a", "a", "c"],
            "tier": ["cheap", "cheap", "cheap", "capable"],
            "score": [1.0, 0.0, 1.0, None],
            "inclusion_prob": [0.5, None, 0.25, 1.0],
        }
    )
    per_review = review_units(reviews, unit="review", unscored="unacceptable")
    assert per_review["request_id"].tolist() == ["b", "a", "a", "c"]
    assert per_review["score"].tolist() == [1.0, 0.0, 1.0, 0.0]  # the unscored review counts as 0
    assert per_review["pi"].tolist() == [0.5, 1.0, 0.25, 1.0]  # a missing pi is a census draw
    per_request = review_units(reviews, unit="request", unscored="drop")
    assert per_request["request_id"].tolist() == ["a", "b"]  # sorted; c had no score
    assert per_request["score"].tolist() == [0.5, 1.0] and per_request["pi"].tolist() == [1.0, 0.5]
    assert list(review_units(reviews.head(0), unit="request", unscored="drop").columns) == [
        "request_id",
        "score",
        "pi",
        "tier",
    ]


def test_quality_by_is_the_hajek_mean_per_group() -> None:
    import pandas as pd

    units = pd.DataFrame({"score": [0.0, 1.0, 1.0, 1.0], "pi": [0.5, 0.5, 1.0, 0.25]})
    est = quality_by(units, ["cheap", "cheap", "cheap", "capable"], ["capable", "cheap", "fast"])
    assert est["cheap"] is not None and est["cheap"].mean == pytest.approx((0 * 2 + 1 * 2 + 1 * 1) / 5)
    assert est["cheap"].n == 3 and est["cheap"].lower < est["cheap"].mean < est["cheap"].upper
    assert est["capable"] is not None and est["capable"].mean == 1.0
    assert est["fast"] is not None and not est["fast"].defined  # expected but never reviewed
    assert quality_by(units.head(0), [], ["cheap"]) == {"cheap": None}


def test_corrupt_and_partial_segments_are_skipped_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with DecisionLog(root, flush_every=2) as log:
        for i in range(4):
            log.log_decision(cascade_decision(f"r{i}"))
    d = root / "decisions"
    good = sorted(d.rglob("*.parquet"))[0]
    (d / "decisions-garbage.parquet").write_bytes(b"\x00garbage, not parquet" * 20)
    (d / "decisions-truncated.parquet").write_bytes(good.read_bytes()[:-40])
    (d / f".{good.name}.abc123.tmp").write_bytes(good.read_bytes()[:100])
    (d / "notes.txt").write_text("ignored")
    with pytest.warns(SegmentWarning) as caught:
        table = DecisionLog.read(root)
    assert sorted(table.column("request_id").to_pylist()) == ["r0", "r1", "r2", "r3"]
    messages = " ".join(str(w.message) for w in caught)
    for name in ("decisions-garbage.parquet", "decisions-truncated.parquet", f".{good.name}.abc123.tmp"):
        assert name in messages
    assert "notes.txt" not in messages and len(caught) == 3


def test_not_writable_directory_errors_at_construction(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(LogDirectoryError, match="a-file/log") as info:
        DecisionLog(blocker / "log")
    assert isinstance(info.value, PermissionError) and isinstance(info.value, TierscopeError)
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() == 0:
            # root bypasses permission bits; the regular-file parent above covers root.
            DecisionLog(ro / "log").close()
        else:
            with pytest.raises(LogDirectoryError, match="readonly"):
                DecisionLog(ro / "log")
    finally:
        ro.chmod(0o700)
    with pytest.raises(InvalidInputError, match="flush_every"):
        DecisionLog(tmp_path / "x", flush_every=0)


def test_forked_child_does_not_flush_the_parents_buffer(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=100, flush_interval_s=None)
    for i in range(3):
        log.log_decision(cascade_decision(f"parent-{i}"))
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            log.log_decision(cascade_decision("child-0"))
            log.close()
        except BaseException:
            code = 1
        os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("forked child hung")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(DecisionLog.read(root).column("request_id").to_pylist()) == ["child-0"]
    log.close()
    ids = DecisionLog.read(root).column("request_id").to_pylist()
    assert sorted(ids) == ["child-0", "parent-0", "parent-1", "parent-2"]


EXIT_SCRIPT = textwrap.dedent(
    """
    import gc, sys
    from tierscope.log.decision_log import DecisionLog
    a = DecisionLog(sys.argv[1], flush_every=1000)
    for i in range(3):
        a.log_decision({"request_id": f"gc-{i}"})
    del a
    gc.collect()  # the weakref finalizer flushes
    b = DecisionLog(sys.argv[1], flush_every=1000)
    for i in range(2):
        b.log_decision({"request_id": f"exit-{i}"})
    # no close(): flushed at interpreter exit
    """
)


def test_buffer_is_flushed_on_gc_and_at_exit(tmp_path: Path) -> None:
    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    subprocess.run([sys.executable, str(script), str(tmp_path / "log")], check=True, timeout=60)
    ids = sorted(DecisionLog.read(tmp_path / "log").column("request_id").to_pylist())
    assert ids == ["exit-0", "exit-1", "gc-0", "gc-1", "gc-2"]


def test_time_based_flush_and_thread_safety(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=50, flush_interval_s=0.2)
    log.log_decision(cascade_decision("early"))
    time.sleep(0.8)  # the background thread flushes a stale buffer
    assert DecisionLog.read(root).column("request_id").to_pylist() == ["early"]

    def work(t: int) -> None:
        for i in range(300):
            log.log_decision(cascade_decision(f"t{t}-{i}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    ids = DecisionLog.read(root).column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 1 + 6 * 300
    with pytest.raises(DecisionLogError, match="closed"):
        log.log_decision(cascade_decision("late"))


def test_outcome_validation_and_cascade_integration(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=10)
    with pytest.raises(InvalidInputError, match="kind"):
        log.log_outcome("r", "csat")
    with pytest.raises(InvalidInputError, match="score"):
        log.log_review("r", 1.5)
    with pytest.raises(InvalidInputError, match="inclusion_prob"):
        log.log_review("r", True, inclusion_prob=0.0)
    with pytest.raises(InvalidInputError, match="request_id"):
        log.log_decision({"answered_by": "cheap"})
    with pytest.raises(InvalidInputError, match="cheap_input_tokens"):
        log.log_decision({"request_id": "x", "cheap_input_tokens": "many"})

    cascade = Cascade(
        lambda q: TierAnswer("c", "mini", 3, 4, 0.001),
        lambda q: TierAnswer("C", "large", 3, 40, 0.01),
        confidence=lambda q, a: 0.95 if "easy" in q else 0.2,
        threshold=0.8,
        decision_log=log,
        review_rate={"cheap": 0.5, "capable": 0.05},
        seed=1,
    )
    results = [cascade(q) for q in ["easy one", "hard one", "easy two"]]
    for r in results:
        if r.decision.review_sampled:
            log.log_review(r.decision.request_id, True, inclusion_prob=r.decision.review_inclusion_prob)
    table = log.decisions()
    assert table.column("answered_by").to_pylist() == ["cheap", "capable", "cheap"]
    assert table.column("cost").to_pylist() == pytest.approx([0.001, 0.011, 0.001])
    assert pa.types.is_timestamp(table.schema.field("timestamp").type)
    log.close()
