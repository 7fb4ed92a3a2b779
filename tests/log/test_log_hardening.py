"""Issue 11 (log part): a bad field never poisons the log, forks never hang, exception text does
not leak query data, orphaned temporary segments are reclaimed and foreign files are ignored."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tierscope.exceptions import InvalidInputError, SegmentWarning
from tierscope.log._fields import missing
from tierscope.log.decision_log import DECISION_SCHEMA, OUTCOME_SCHEMA, DecisionLog
from tierscope.routing.cascade import Cascade
from tierscope.routing.records import TierAnswer

from tests.factories import cascade_decision

REPO = Path(__file__).resolve().parents[2]
SSN, CARD = "123-45-6789", "4111 1111 1111 1111"
# The last 6 characters of the SSN catch a partly cut copy; 4 digits alone would match hashes and floats.
SECRETS = (SSN, CARD, "4111111111111111", "45-6789")


def _ids(root: Path) -> list[str]:
    return sorted(DecisionLog.read(root).column("request_id").to_pylist())


def _string_cells(root: Path) -> list[str]:
    """Every string value of every Parquet file under ``root`` (all columns, both kinds)."""
    cells: list[str] = []
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type):
                cells.extend(v for v in table.column(name).to_pylist() if v is not None)
    return cells


def _leaks(root: Path) -> list[str]:
    return [c for c in _string_cells(root) if any(s in c for s in SECRETS)]


# -- 1. a poisoned event is refused; the events around it persist ---------------------------------
@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"request_id": "x\ud800"}, "request_id"),
        ({"request_id": "r", "category": "fraud\udc00"}, "category"),
        ({"request_id": "r", "escalated": "no"}, "escalated"),
        ({"request_id": "r", "fallback": "False"}, "fallback"),
        ({"request_id": "r", "route_confidence": -0.5}, "route_confidence"),
        ({"request_id": "r", "route_confidence": 5.0}, "route_confidence"),
        ({"request_id": "r", "cost": float("1e999")}, "cost"),
        ({"request_id": "r", "cheap_input_tokens": -1}, "cheap_input_tokens"),
        ({"request_id": "r", "note": object()}, "note"),
        ({"request_id": "r", "note": "x\ud800"}, "note"),
        ({"request_id": "r", "note": {"nested": math.inf}}, "note"),
    ],
)
def test_a_poisoned_event_is_refused_and_the_good_ones_around_it_persist(
    tmp_path: Path, bad: dict[str, Any], field: str
) -> None:
    root = tmp_path / "log"
    with DecisionLog(root, flush_every=7, flush_interval_s=None, fsync=False) as log:
        for i in range(25):
            log.log_decision(cascade_decision(f"before-{i}"))
        with pytest.raises(InvalidInputError, match=field):
            log.log_decision(bad)
        for i in range(25):
            log.log_decision(cascade_decision(f"after-{i}"))
        assert log.stats["decisions_dropped"] == 0
    assert len(_ids(root)) == 50


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"days_after": math.nan}, "days_after"),
        ({"inclusion_prob": True}, "inclusion_prob"),
        ({"inclusion_prob": 0.0}, "inclusion_prob"),
        ({"inclusion_prob": 1.5}, "inclusion_prob"),
        ({"score": "0.5"}, "score"),
        ({"label": "yes"}, "label"),
        ({"reviewer": "ann\ud800"}, "reviewer"),
        ({"detail": {"why": "x\ud800"}}, "detail"),
        ({"detail": {1: "int key"}}, "detail"),
        ({"timestamp": "last tuesday"}, "timestamp"),
    ],
)
def test_outcome_fields_are_checked_at_log_time(tmp_path: Path, kwargs: dict[str, Any], field: str) -> None:
    with DecisionLog(tmp_path / "log", flush_every=1, fsync=False) as log:
        with pytest.raises(InvalidInputError, match=field):
            log.log_outcome("r1", "review", **kwargs)
        log.log_outcome("r1", "review", score=np.float32(0.5), inclusion_prob=np.float64(0.25))
        log.log_outcome("r1", "support_contact", days_after=np.float32(2.0))
        rows = log.outcomes().to_pylist()
    assert [(r["score"], r["label"], r["inclusion_prob"]) for r in rows[:1]] == [(0.5, True, 0.25)]
    assert rows[1]["days_after"] == 2.0


def test_nan_in_a_decision_record_is_stored_as_null_never_as_nan(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "request_id": ["a", "b"],
            "route_confidence": [0.5, math.nan],
            "category": ["x", None],
            "timestamp": [pd.Timestamp("2026-05-04", tz="UTC"), pd.NaT],
            "day": [1.0, math.nan],
        }
    )
    with DecisionLog(tmp_path / "log", fsync=False) as log:
        for rec in frame.to_dict("records"):
            log.log_decision(rec)
        log.log_decision({"request_id": "c", "cost": np.float32("nan"), "confidence_raw": pd.NA})
        with pytest.raises(InvalidInputError, match="days_after"):
            log.log_support_contact("a", math.nan)  # an explicit argument: NaN is refused
        rows = {r["request_id"]: r for r in log.decisions().to_pylist()}
    assert rows["a"]["route_confidence"] == 0.5 and rows["b"]["route_confidence"] is None
    assert rows["b"]["category"] is None and rows["b"]["timestamp"] is not None
    assert json.loads(rows["b"]["extra"]) == {"day": None}
    assert rows["c"]["cost"] is None and rows["c"]["confidence_raw"] is None


def test_a_bad_row_that_reaches_the_buffer_is_dropped_with_a_warning_not_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=1000, flush_interval_s=None, fsync=False)
    for i in range(10):
        log.log_decision(cascade_decision(f"good-{i}"))
    # Defence in depth: rows that bypassed the checks (a bug, a buffer edited by hand).
    buffer = log._writer.buffers["decisions"]
    buffer.insert(3, dict(buffer[0], request_id="poison\ud800"))
    buffer.insert(6, dict(buffer[0], request_id="bad-bool", escalated="no"))
    with pytest.warns(RuntimeWarning, match="dropped 2 decisions event") as caught:
        log.flush()
    assert "`request_id`" in str(caught[0].message) and "`escalated`" in str(caught[0].message)
    assert log.stats["decisions_dropped"] == 2 and log.stats["decisions_committed"] == 10
    for i in range(10):
        log.log_decision(cascade_decision(f"later-{i}"))
    log.close()
    assert len(_ids(root)) == 20


def _tiers() -> tuple[Any, Any]:
    def cheap(query: str) -> TierAnswer:
        if "explode" in query:
            raise ValueError(f"cheap tier choked on {query!r} \ud800")
        return TierAnswer(f"cheap:{query}", "cheap-model\udc00", cost=math.nan)

    def capable(query: str) -> TierAnswer:
        return TierAnswer(f"capable:{query}", "capable-model", cost=0.01)

    return cheap, capable


def test_through_a_cascade_a_bad_category_is_refused_at_the_call_and_nothing_is_lost(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=8, flush_interval_s=None, fsync=False)
    cheap, capable = _tiers()
    cascade = Cascade(cheap, capable, confidence=lambda q, a: 0.9, threshold=0.5, decision_log=log)
    for i in range(25):
        assert cascade(f"query {i}", request_id=f"a{i}").answer.text == f"cheap:query {i}"
    with pytest.raises(InvalidInputError, match="category"):
        cascade("query", category="fraud\ud800", request_id="bad")
    with pytest.raises(InvalidInputError, match="request_id"):
        cascade("query", request_id="r\udfff")
    # Text the cascade itself records (an exception quoting the query, a surrogate in a model
    # id, a NaN cost) is made storable, so these decisions persist too.
    for i in range(25):
        result = cascade(f"explode {i}", request_id=f"b{i}")
        assert result.answer.text == f"capable:explode {i}"
    log.close()
    assert cascade.log_errors == 0
    assert len(_ids(root)) == 50


# -- hypothesis: any value either raises InvalidInputError at log time or reads back equal -------
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1).map(np.float32),
    st.integers(min_value=-5, max_value=5).map(np.int64),
)
_TEXT = st.text(max_size=12)  # includes lone surrogates
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT, st.just(np.True_))
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.one_of(_TEXT, st.integers()), _SCALARS, max_size=3),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.just(object()),
)
_DECISION_FIELDS = [
    f.name for f in DECISION_SCHEMA if f.name not in ("schema_version", "writer_pid", "extra")
]


def _expected(value: Any, typ: pa.DataType) -> Any:
    if pa.types.is_timestamp(typ):
        if isinstance(value, datetime):
            return value
        return datetime.fromtimestamp(float(value), timezone.utc)
    if pa.types.is_boolean(typ):
        return bool(value)
    if pa.types.is_integer(typ):
        return int(value)
    if pa.types.is_floating(typ):
        return float(value)
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else v.isoformat()))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from([*_DECISION_FIELDS, "an_extra"]), value=_VALUES)
def test_any_decision_field_value_is_refused_at_log_time_or_reads_back_equal(field: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = DecisionLog(tmp, flush_every=1000, flush_interval_s=None, fsync=False, redact="keep")
        record = {"request_id": "r1", field: value} if field != "request_id" else {"request_id": value}
        try:
            log.log_decision(record)
        except InvalidInputError:
            log.close()
            return
        log.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rows = DecisionLog.read(tmp).to_pylist()
    assert len(rows) == 1
    got = rows[0]
    if field == "an_extra":
        expected = None if missing(value) else _jsonable(value)
        assert json.loads(got["extra"]) == {"an_extra": expected}
    elif value is None or missing(value):  # NaN in a decision record means missing: null
        assert got[field] is None or field == "timestamp"
    elif field == "route_probabilities":
        probs = json.loads(value) if isinstance(value, str) else value
        assert json.loads(got[field]) == {k: float(v) for k, v in probs.items()}
    elif field == "timestamp" and not isinstance(value, datetime):
        assert abs(got[field].timestamp() - float(value)) < 1e-3
    else:
        assert got[field] == _expected(value, DECISION_SCHEMA.field(field).type)


_OUTCOME_ARGS = ["score", "label", "reviewer", "inclusion_prob", "tier", "cheap_score", "capable_score"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from([*_OUTCOME_ARGS, "days_after", "detail"]),
    value=_VALUES,
    kind=st.sampled_from(["review", "shadow", "feedback", "support_contact"]),
)
def test_any_outcome_value_is_refused_at_log_time_or_reads_back_equal(
    field: str, value: Any, kind: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = DecisionLog(tmp, flush_every=1000, flush_interval_s=None, fsync=False, redact="keep")
        try:
            log.log_outcome("r1", kind, **{field: value})
        except InvalidInputError:
            log.close()
            return
        log.close()
        rows = DecisionLog.read(tmp, kind="outcomes").to_pylist()
    assert len(rows) == 1
    got = rows[0][field]
    if value is None:
        return
    if field == "detail":
        assert (got if isinstance(value, str) else json.loads(got)) == _jsonable(value)
    elif field == "score" and isinstance(value, (bool, np.bool_)):
        assert got == float(value) and rows[0]["label"] == bool(value)
    else:
        assert got == _expected(value, OUTCOME_SCHEMA.field(field).type)


# -- 2. fork while another thread writes -----------------------------------------------------------
FORK_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from tierscope.log.decision_log import DecisionLog

    root, runs = sys.argv[1], int(sys.argv[2])
    log = DecisionLog(root, flush_every=5, flush_interval_s=None, fsync=False)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            log.log_decision({"request_id": f"p-{i}", "payload": "x" * 200})
            i += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    finished = 0
    for r in range(runs):
        time.sleep(0.005 * (r % 4))
        pid = os.fork()
        if pid == 0:  # the child logs and flushes, then exits without the parent's atexit
            code = 3
            try:
                for j in range(20):
                    log.log_decision({"request_id": f"c{r}-{j}"})
                log.flush()
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                finished += os.waitstatus_to_exitcode(status) == 0
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print(f"child {r} hung", flush=True)
                break
            time.sleep(0.005)
    stop.set()
    thread.join()
    log.close()
    print(f"finished {finished}/{runs}")
    """
)


def test_fork_while_another_thread_writes_never_hangs_the_child(tmp_path: Path) -> None:
    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "log"), "20"],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        check=False,
    )
    assert out.returncode == 0 and "finished 20/20" in out.stdout, out.stdout + out.stderr
    ids = _ids(tmp_path / "log")
    for r in range(20):
        assert sum(i.startswith(f"c{r}-") for i in ids) == 20, r
    assert len(ids) == len(set(ids))


# -- 3. redaction ----------------------------------------------------------------------------------
def _leaky_cascade(log: DecisionLog, **kw: Any) -> Cascade:
    def cheap(query: str) -> TierAnswer:
        if "boom" in query:
            raise ValueError(f"cannot answer {query!r}")
        return TierAnswer(f"cheap:{query}", "cheap-model")

    def capable(query: str) -> TierAnswer:
        if "fail" in query:
            raise RuntimeError(f"upstream refused prompt: {query}")
        return TierAnswer(f"capable:{query}", "capable-model")

    def confidence(query: str, answer: TierAnswer) -> Any:
        return query if "echo" in query else 0.9  # a buggy confidence function returning the text

    def predicate(query: str, category: str | None) -> bool:
        if "rule" in query:
            raise KeyError(query)
        return False

    def judge(query: str, cheap_answer: Any, capable_answer: Any) -> float:
        raise ValueError(f"judge cannot parse {query}")

    return Cascade(
        cheap,
        capable,
        confidence=confidence,
        threshold=0.5,
        never_cheap_predicates={"p": predicate},
        shadow_rate=1.0,
        shadow_mode="inline",
        shadow_judge=judge,
        decision_log=log,
        **kw,
    )


_LEAKY_QUERIES = [
    f"boom my card {CARD} and ssn {SSN}",
    f"echo ssn {SSN} card {CARD}",
    f"rule ssn {SSN} card {CARD}",
    f"plain ssn {SSN} card {CARD}",  # accepted and shadowed: the judge's error quotes it
]


def _run_leaky(cascade: Cascade) -> None:
    for q in _LEAKY_QUERIES:
        cascade(q)
    with pytest.raises(Exception, match="capable tier failed"):
        cascade(f"boom fail {SSN} {CARD}")


@pytest.mark.parametrize(
    ("log_kw", "cascade_kw"),
    [
        ({}, {}),  # the defaults
        ({"redact": "hash"}, {"exception_text": "full"}),
        ({"redact": "omit"}, {"exception_text": "full"}),
        ({"redact": {"*": "hash", "detail": "omit"}}, {"exception_text": "truncate"}),
    ],
    ids=["defaults", "log-hash", "log-omit", "log-mixed"],
)
def test_query_data_in_exception_text_never_reaches_a_parquet_column(
    tmp_path: Path, log_kw: dict[str, Any], cascade_kw: dict[str, Any]
) -> None:
    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=1000, fsync=False, **log_kw)
    _run_leaky(_leaky_cascade(log, **cascade_kw))
    log.close()
    cells = _string_cells(root)
    assert len(DecisionLog.read(root)) == 5 and cells
    assert _leaks(root) == []


def test_the_default_records_the_exception_type_and_a_keyed_hash_of_its_message(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1000, fsync=False)
    cascade = _leaky_cascade(log)
    d1 = cascade(_LEAKY_QUERIES[0]).decision
    d2 = cascade(_LEAKY_QUERIES[0]).decision
    message = repr(_LEAKY_QUERIES[0])
    expected = f"ValueError (message {log.hash_text('cannot answer ' + message)}, {14 + len(message)} chars)"
    assert d1.escalation_detail == d2.escalation_detail == d1.fallback_reason == expected
    assert (
        cascade(_LEAKY_QUERIES[1]).decision.escalation_detail
        == "confidence returned str, expected a float in [0, 1]"
    )
    log.close()
    typed = Cascade(*_tiers(), confidence=lambda q, a: 0.9, threshold=0.5, exception_text="type")
    assert typed("explode now").decision.escalation_detail == "ValueError"


def test_log_redaction_modes_apply_to_every_free_text_field(tmp_path: Path) -> None:
    secret = f"ssn {SSN} card {CARD}"
    key = b"k" * 32
    tables = {}
    for mode in ("hash", "omit", "truncate", "keep"):
        root = tmp_path / mode
        with DecisionLog(root, redact=mode, max_text_chars=5, redact_key=key, fsync=False) as log:
            log.log_decision(
                cascade_decision(
                    "r1", escalation_detail=secret, fallback_reason=secret, error=secret
                ).to_record()
                | {"note": secret, "n_items": 3}
            )
            log.log_outcome("r1", "shadow", score=0.5, detail={"error": secret, "latency_s": 0.5})
            log.log_outcome("r1", "review", score=1.0, detail=secret)
        tables[mode] = (
            DecisionLog.read(root).to_pylist()[0],
            DecisionLog.read(root, kind="outcomes").to_pylist(),
        )
        if mode != "keep":
            assert _leaks(root) == [], mode
    hashed = DecisionLog(tmp_path / "k", redact_key=key).hash_text(secret)
    decision, (shadow, review) = tables["hash"]
    assert decision["escalation_detail"] == decision["fallback_reason"] == decision["error"] == hashed
    assert json.loads(decision["extra"]) == {"note": hashed, "n_items": 3}
    assert json.loads(shadow["detail"]) == {"error": hashed, "latency_s": 0.5} and review["detail"] == hashed
    decision, (shadow, review) = tables["omit"]
    assert decision["escalation_detail"] is None and review["detail"] is None
    assert json.loads(decision["extra"]) == {"note": None, "n_items": 3}
    assert json.loads(shadow["detail"]) == {"error": None, "latency_s": 0.5}
    decision, _ = tables["truncate"]
    assert decision["escalation_detail"].startswith("ssn 1…[") and SSN not in decision["escalation_detail"]
    decision, _ = tables["keep"]
    assert decision["escalation_detail"] == secret
    # Without a key every log draws its own: the same text hashes differently.
    assert DecisionLog(tmp_path / "a").hash_text(secret) != DecisionLog(tmp_path / "b").hash_text(secret)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"redact": "scrub"}, "redact"),
        ({"redact": {"query": "hash"}}, "redact key"),
        ({"redact": {"detail": "encrypt"}}, "redact['detail']"),
        ({"redact": 1}, "redact"),
        ({"max_text_chars": 0}, "max_text_chars"),
        ({"redact_key": "short"}, "redact_key"),
        ({"redact_key": b"short"}, "redact_key"),
    ],
)
def test_bad_redaction_options_are_refused(tmp_path: Path, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError, match=name.replace("[", r"\[")):
        DecisionLog(tmp_path / "log", **kwargs)


# -- 4. orphaned temporary segments and foreign files --------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp(directory: Path, pid: int, age_s: float, seq: int = 1) -> Path:
    path = directory / f".decisions-20260101T000000000000Z-{pid}-deadbeef-{seq:06d}.parquet.a1b2c3.tmp"
    path.write_bytes(b"PAR1 partial")
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_orphaned_temp_segments_of_dead_writers_are_reclaimed_and_warned_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with DecisionLog(root, flush_every=1, fsync=False) as log:
        log.log_decision(cascade_decision("r1"))
    d = root / "decisions"
    dead = _dead_pid()
    orphan = _temp(d, dead, age_s=3600)
    young = _temp(d, dead, age_s=0, seq=2)  # its writer may still be finishing: kept
    alive = _temp(d, os.getpid(), age_s=3600, seq=3)
    with pytest.warns(SegmentWarning) as caught:
        assert _ids(root) == ["r1"]
    messages = [str(w.message) for w in caught]
    assert not orphan.exists() and alive.exists() and young.exists()
    assert sum("removed orphaned temporary segment" in m and str(dead) in m for m in messages) == 1
    assert sum("skipping uncommitted temporary segment" in m for m in messages) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per file, not on every read
        assert _ids(root) == ["r1"]
    # A writer opening the log reclaims too.
    orphan = _temp(d, dead, age_s=3600)
    with pytest.warns(SegmentWarning, match="removed orphaned"):
        DecisionLog(root).close()
    assert not orphan.exists()


def test_foreign_parquet_files_are_ignored_with_one_warning_each(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with DecisionLog(root, flush_every=1, fsync=False) as log:
        log.log_decision(cascade_decision("r1"))
    d = root / "decisions"
    pq.write_table(pa.table({"request_id": ["evil-1"]}), d / "exported.parquet")
    pq.write_table(
        pa.table({"request_id": ["evil-2"]}), d / "decisions-20260101T000000000000Z-1-ab-000001.parquet"
    )
    pq.write_table(pa.table({"request_id": ["evil-3"]}), root / "outcomes" / "decisions-x.parquet")
    with pytest.warns(SegmentWarning) as caught:
        assert _ids(root) == ["r1"]
        assert DecisionLog.read(root, kind="outcomes").num_rows == 0
    messages = " ".join(str(w.message) for w in caught)
    assert len(caught) == 3 and "exported.parquet" in messages and "no tierscope.schema_version" in messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ids(root) == ["r1"]


# -- 5. disk full: a typed error, nothing acknowledged is lost -----------------------------------
def test_disk_full_raises_a_typed_error_keeps_the_buffer_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from tierscope.exceptions import DecisionLogError
    from tierscope.log import decision_log as module

    root = tmp_path / "log"
    log = DecisionLog(root, flush_every=1000, flush_interval_s=None, fsync=False)
    for i in range(5):
        log.log_decision(cascade_decision(f"r{i}"))
    real_write = module.pq.write_table

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(module.pq, "write_table", full)
    with pytest.raises(DecisionLogError, match="No space left") as info:
        log.flush()
    assert isinstance(info.value.__cause__, OSError)
    assert log.stats["decisions_buffered"] == 5 and not list(root.rglob("*.tmp"))
    monkeypatch.setattr(module.pq, "write_table", real_write)  # space is back
    log.close()
    assert _ids(root) == [f"r{i}" for i in range(5)]
