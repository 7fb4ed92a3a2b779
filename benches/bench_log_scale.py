"""Benchmark the decision log at production scale: a month of traffic, before and after compaction.

Run: ``python benches/bench_log_scale.py [--days 30] [--per-day 200000] [--flush 2000]``
(needs duckdb, psutil). Prints a Markdown section (CPU line, timing table with ratios) that
``benches/run_all.py`` collects.

The log: ``--days`` UTC days × ``--per-day`` decisions, in segments of ``--flush`` events (one
writer flush each) in the log's own schema and day partitions, written directly with pyarrow to
save time (the files are named and stamped like a writer's segments, and one more day slice is
written through :class:`~tierscope.log.DecisionLog` itself; the read-back row count is checked).
Two tiers (70 % cheap), router confidence, tail score, cost; about 400 human reviews a day with
their inclusion probability π (oversampled at low confidence), in 8 outcome segments a day.

Timed (wall clock, one run each, the machine's state printed): a full 30-day :func:`tierscope.audit`,
a one-day :func:`tierscope.plan_reviews` and a full ``DecisionLog.read``, before and after
``tierscope log compact``; the compaction itself; and DuckDB (hive partitioning) computing the
π-weighted (Hájek) per-tier quality over one week, checked against the same estimate from
``DecisionLog.read`` (1e-9). Ratios: after/before compaction, one-day plan vs a full read (what
a non-partitioned log costs every plan), and against the issue's targets (plan < 2 s, audit < 30 s).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tierscope._runtime import cpu_info
from tierscope.log import DECISION_SCHEMA, OUTCOME_SCHEMA, DecisionLog
from tierscope.log.maintenance import compact

DAY0 = date(2026, 11, 1)
REVIEWS_PER_DAY = 400


def _name(kind: str, stamp: datetime, seq: int) -> str:
    return (
        f"{kind}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}-{os.getpid()}-{secrets.token_hex(4)}-{seq:06d}.parquet"
    )


def _decisions(rng: np.random.Generator, day: int, start: int, n: int, per_day: int) -> pa.Table:
    t0 = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=timezone.utc) + timedelta(days=day)
    offsets = (np.arange(start, start + n) * (86_400_000_000 // per_day)).astype("int64")
    ts = pa.array(np.datetime64(t0.replace(tzinfo=None), "us") + offsets.astype("timedelta64[us]"))
    conf = rng.beta(6, 2, n)
    cheap = rng.random(n) < 0.7
    tier = np.where(cheap, "cheap", "capable")
    cols: dict[str, Any] = {
        "request_id": pa.array([f"d{day:03d}-{i:07d}" for i in range(start, start + n)]),
        "timestamp": ts.cast(pa.timestamp("us", tz="UTC")),
        "cheap_tier": pa.array(["cheap"] * n),
        "capable_tier": pa.array(["capable"] * n),
        "answered_by": pa.array(tier),
        "escalated": pa.array(~cheap),
        "route_tier": pa.array(tier),
        "route_confidence": pa.array(conf),
        "route_tail_score": pa.array(rng.random(n)),
        "confidence_calibrated": pa.array(conf),
        "threshold": pa.array(np.full(n, 0.7)),
        "cost": pa.array(np.where(cheap, 0.0004, 0.006)),
        "schema_version": pa.array(np.ones(n, dtype=np.int32)),
        "writer_pid": pa.array(np.full(n, 4242, dtype=np.int64)),
    }
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in DECISION_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=DECISION_SCHEMA)


def _reviews(rng: np.random.Generator, dec: pa.Table, k: int) -> pa.Table:
    conf = dec.column("route_confidence").to_numpy()
    weight = np.where(conf < 0.6, 4.0, 1.0)
    p = weight / weight.sum()
    idx = rng.choice(len(conf), size=min(k, len(conf)), replace=False, p=p)
    pi = np.minimum(1.0, k * p[idx])
    tiers = dec.column("answered_by").to_numpy(zero_copy_only=False)[idx]
    ok = rng.random(len(idx)) < np.where(tiers == "cheap", 0.86, 0.95) - 0.2 * (conf[idx] < 0.6)
    ts = dec.column("timestamp").take(pa.array(idx)).cast(pa.int64()).to_numpy() + 3_600_000_000
    cols: dict[str, Any] = {
        "request_id": dec.column("request_id").take(pa.array(idx)),
        "kind": pa.array(["review"] * len(idx)),
        "timestamp": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
        "tier": pa.array(tiers),
        "score": pa.array(ok.astype(float)),
        "label": pa.array(ok),
        "inclusion_prob": pa.array(pi),
        "schema_version": pa.array(np.ones(len(idx), dtype=np.int32)),
        "writer_pid": pa.array(np.full(len(idx), 4242, dtype=np.int64)),
    }
    arrays = [cols[f.name] if f.name in cols else pa.nulls(len(idx), f.type) for f in OUTCOME_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=OUTCOME_SCHEMA)


def build_log(root: Path, days: int, per_day: int, flush: int, seed: int = 0) -> tuple[int, int]:
    """Write the synthetic log; returns (decisions, reviews) written."""
    rng = np.random.default_rng(seed)
    n_dec = n_rev = 0
    seq = 0
    for day in range(days):
        d = DAY0 + timedelta(days=day)
        ddir = root / "decisions" / f"date={d.isoformat()}"
        odir = root / "outcomes" / f"date={d.isoformat()}"
        ddir.mkdir(parents=True, exist_ok=True)
        odir.mkdir(parents=True, exist_ok=True)
        slices = []
        for start in range(0, per_day, flush):
            n = min(flush, per_day - start)
            table = _decisions(rng, day, start, n, per_day)
            seq += 1
            stamp = table.column("timestamp")[n - 1].as_py()
            pq.write_table(table, ddir / _name("decisions", stamp, seq), compression="zstd")
            slices.append(table)
            n_dec += n
        per_slice = REVIEWS_PER_DAY // 8
        for j in range(8):  # reviews of each 3-hour slice of the day, one segment each
            part = pa.concat_tables(slices[j * len(slices) // 8 : (j + 1) * len(slices) // 8])
            if part.num_rows == 0:
                continue
            rev = _reviews(rng, part, per_slice)
            seq += 1
            pq.write_table(rev, odir / _name("outcomes", rev.column("timestamp")[0].as_py(), seq))
            n_rev += rev.num_rows
    return n_dec, n_rev


CPU_SECONDS: dict[str, float] = {}


def _timed(fn: Any, label: str | None = None) -> tuple[float, Any]:
    """Wall seconds and the result; the process CPU seconds (all threads) go to CPU_SECONDS."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    if label is not None:
        CPU_SECONDS[label] = time.process_time() - c
    return time.perf_counter() - t, out


def _hajek_week(root: Path, since: datetime, until: datetime) -> dict[str, float]:
    """The π-weighted per-tier review quality over decisions in [since, until), via DecisionLog."""
    dec = DecisionLog.read(root, since=since, until=until, columns=["request_id", "answered_by"]).to_pandas()
    out = DecisionLog.read(root, kind="outcomes", columns=["request_id", "kind", "score", "inclusion_prob"])
    rev = out.to_pandas()
    rev = rev[rev["kind"] == "review"].merge(dec, on="request_id")
    w = 1.0 / rev["inclusion_prob"]
    return {
        str(t): float((g["score"] * w[g.index]).sum() / w[g.index].sum())
        for t, g in rev.groupby("answered_by")
    }


def _duckdb_week(root: Path, first: date, last: date) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    rows = con.execute(
        f"""SELECT d.answered_by, sum(o.score / o.inclusion_prob) / sum(1.0 / o.inclusion_prob)
        FROM read_parquet('{root}/outcomes/*/*.parquet', hive_partitioning = true) o
        JOIN read_parquet('{root}/decisions/*/*.parquet', hive_partitioning = true) d USING (request_id)
        WHERE o.kind = 'review' AND d.date BETWEEN DATE '{first}' AND DATE '{last}'
        GROUP BY 1"""
    ).fetchall()
    return {str(t): float(q) for t, q in rows}


def _progress(message: str) -> None:
    print(f"[bench_log_scale] {message}", file=sys.stderr, flush=True)


def _files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.parquet"))


def _measure(root: Path, plan_day: date, week: tuple[date, date], stage: str) -> dict[str, Any]:
    from tierscope import audit, plan_reviews

    res: dict[str, Any] = {"files": _files(root)}
    res["read"], table = _timed(lambda: DecisionLog.read(root), f"read {stage}")
    res["rows"] = table.num_rows
    del table
    _progress(f"{stage}: read {res['read']:.1f} s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res["plan"], plan = _timed(lambda: plan_reviews(root, budget=200, day=plan_day), f"plan {stage}")
        _progress(f"{stage}: plan {res['plan']:.1f} s")
        res["audit"], report = _timed(lambda: audit(root), f"audit {stage}")
        _progress(f"{stage}: audit {res['audit']:.1f} s")
    res["plan_n"], res["audit_n"] = len(plan), report.n_decisions
    res["plan_ids"] = sorted(plan.request_ids)
    s = datetime(week[0].year, week[0].month, week[0].day, tzinfo=timezone.utc)
    u = datetime(week[1].year, week[1].month, week[1].day, tzinfo=timezone.utc) + timedelta(days=1)
    res["duckdb"], res["duckdb_q"] = _timed(lambda: _duckdb_week(root, *week), f"duckdb {stage}")
    res["hajek"] = _hajek_week(root, s, u)
    for tier, q in res["hajek"].items():
        assert abs(res["duckdb_q"][tier] - q) < 1e-9, (tier, q, res["duckdb_q"])
    return res


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=200_000)
    parser.add_argument("--flush", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=None, help="build the log here (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tierscope-logscale-", dir=args.dir))
    root = work / "log"
    try:
        t_build, (n_dec, n_rev) = _timed(lambda: build_log(root, args.days, args.per_day, args.flush))
        last = DAY0 + timedelta(days=args.days - 1)
        with DecisionLog(root, flush_every=args.flush, fsync=True) as log:  # the real writer path
            ts = datetime(last.year, last.month, last.day, 23, 59, tzinfo=timezone.utc)
            for i in range(args.flush):
                log.log_decision({"request_id": f"live-{i}", "timestamp": ts, "answered_by": "cheap"})
        n_dec += args.flush
        week = (last - timedelta(days=6), last)
        _progress(f"built {n_dec:,} decisions in {t_build:.1f} s")
        before = _measure(root, last, week, "before")
        assert before["rows"] == n_dec, (before["rows"], n_dec)
        t_compact, rep = _timed(lambda: compact(root), "compact")
        _progress(f"compacted in {t_compact:.1f} s")
        after = _measure(root, last, week, "after")
        assert after["rows"] == n_dec and after["audit_n"] == before["audit_n"], (after["rows"], n_dec)
        assert after["plan_ids"] == before["plan_ids"]  # the same seeded plan, whatever the layout
        _print(args, n_dec, n_rev, t_build, t_compact, before, after)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _print(args: Any, n_dec: int, n_rev: int, t_build: float, t_compact: float, b: Any, a: Any) -> None:
    cpu = cpu_info()
    load = os.getloadavg()[0]
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}), {os.cpu_count()} cores, load average {load:.1f}")
    print(
        f"\nLog: {args.days} days × {args.per_day:,} decisions/day in {args.flush:,}-event segments "
        f"= {n_dec:,} decisions, {n_rev:,} reviews; built in {t_build:.1f} s; "
        f"`compact` took {t_compact:.1f} s ({b['files']:,} files -> {a['files']:,})\n"
    )
    print("| measure | before compaction: wall s (CPU s) | after: wall s (CPU s) | after / before (wall) |")
    print("|---|---:|---:|---:|")
    for key, label in (
        ("read", "full `DecisionLog.read` (every column)"),
        ("plan", "one-day `plan_reviews(day=)`"),
        ("audit", f"full {args.days}-day `audit`"),
        ("duckdb", "DuckDB π-weighted per-tier quality, one week"),
    ):
        cb, ca = CPU_SECONDS[f"{key} before"], CPU_SECONDS[f"{key} after"]
        print(f"| {label} | {b[key]:.2f} ({cb:.2f}) | {a[key]:.2f} ({ca:.2f}) | {a[key] / b[key]:.2f} |")
    print(
        "\nCPU s = process CPU time, all threads (DuckDB's own threads included; 2 threads). "
        "With the load average above the core count, wall time overstates what a quiet machine takes."
    )
    print("\n| ratio | before | after |")
    print("|---|---:|---:|")
    print(f"| one-day plan / full read | {b['plan'] / b['read']:.3f} | {a['plan'] / a['read']:.3f} |")
    print(f"| one-day plan / target 2 s | {b['plan'] / 2:.2f} | {a['plan'] / 2:.2f} |")
    print(f"| {args.days}-day audit / target 30 s | {b['audit'] / 30:.2f} | {a['audit'] / 30:.2f} |")
    q = ", ".join(f"{t} {v:.4f}" for t, v in sorted(a["hajek"].items()))
    print(f"\nWeek quality (Hájek, DuckDB = DecisionLog to 1e-9): {q}")


if __name__ == "__main__":
    raise SystemExit(main())
