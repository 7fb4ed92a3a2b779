"""Batch scoring at scale: single process vs Ray local (2 workers), peak RSS, and dedup's speed-up.

    python benches/bench_batch_scale.py [--rows N]   (default 1,000,000; env TIERSCOPE_BENCH_BATCH_ROWS)

The input is a CSV of N rows (id, text) drawn with replacement, uniformly, from the demo's unique
real texts (BANKING77 train+test and DSTC11 banking turns, about 13.5k distinct: the pool the demo
replays its 3.4M queries from). Each arm runs in its own child process(es) and is timed end to end:

- ``single, --no-dedup``: ``tierscope route MODEL in.csv out/ --no-dedup`` (one process, one ONNX
  Runtime session per core): the baseline;
- ``single, --dedup``: the same with the dedup cache (each distinct text routed once);
- ``Ray local, 2 workers``: ``ray.init(num_cpus=2)``, ``tierscope.ray.read_input`` +
  ``route_dataset(num_actors=2, cpus_per_actor=1)`` + ``write_parquet``; Ray's start-up is timed
  separately and excluded from the rate (it is paid once per cluster, not per job).

Peak RSS is sampled with psutil every 0.1 s over the child's whole process tree (Ray: driver,
raylet, GCS and workers); the table gives the largest single process and the sum at the peak.
Rates are reported as ratios against the single-process, no-dedup baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

RAY_SCRIPT = """
import os, sys, time
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray
t0 = time.perf_counter()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
ray.data.DataContext.get_current().enable_progress_bars = False
t1 = time.perf_counter()
from tierscope.ray import read_input, route_dataset
ds = read_input(sys.argv[2], id_col="id", rows_per_block=4096)
routed = route_dataset(ds, sys.argv[1], id_col="id", num_actors=2, cpus_per_actor=1, batch_size=1024)
routed.write_parquet(sys.argv[3])
t2 = time.perf_counter()
print(f"STARTUP {t1 - t0:.3f} ROUTE {t2 - t1:.3f}")
ray.shutdown()
"""


def make_log(path: Path, rows: int, seed: int = 0) -> tuple[int, int]:
    """Write the CSV; returns (distinct texts in it, texts in the pool)."""
    from tierscope.demo.simulation import load_texts

    pool, _, _ = load_texts(quick=False)
    draw = np.random.default_rng(seed).integers(0, len(pool), size=rows)
    texts = [pool[i] for i in draw]
    pacsv.write_csv(pa.table({"id": [f"q{i}" for i in range(rows)], "text": texts}), path)
    return len(set(draw.tolist())), len(pool)


def run(cmd: list[str]) -> tuple[float, float, float, str]:
    """(seconds, largest process peak RSS MiB, whole-tree peak RSS MiB, stdout) of ``cmd``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak_one = peak_sum = 0.0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            peak_one = max(peak_one, max(rss, default=0) / 2**20)
            peak_sum = max(peak_sum, sum(rss) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err[-3000:]}")
    return seconds, peak_one, peak_sum, out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=int(os.environ.get("TIERSCOPE_BENCH_BATCH_ROWS", "1000000"))
    )
    args = parser.parse_args()
    model = os.environ.get("TIERSCOPE_DEFAULT_ROUTER", "models/default-minilm-int8-v1")
    from tierscope._runtime import cpu_info

    cpu = cpu_info()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "log.csv"
        distinct, pool = make_log(src, args.rows)
        cli = [sys.executable, "-m", "tierscope.cli", "route", model, str(src)]
        common = ["--id-col", "id", "--rows-per-part", "50000", "--quiet"]
        base = run([*cli, str(Path(tmp) / "plain"), "--no-dedup", *common])
        dedup = run([*cli, str(Path(tmp) / "dedup"), "--dedup", *common])
        ray = run([sys.executable, "-c", RAY_SCRIPT, model, str(src), str(Path(tmp) / "ray")])
        words = ray[3].split()
        startup, ray_route = float(words[words.index("STARTUP") + 1]), float(words[words.index("ROUTE") + 1])
        same = pq.read_table(Path(tmp) / "plain").sort_by("row")
        got = pq.read_table(Path(tmp) / "ray").sort_by("row")
        identical = got.column("p_cheap").to_numpy().tobytes() == same.column("p_cheap").to_numpy().tobytes()
        hit_rate = json.loads((Path(tmp) / "dedup" / "_tierscope_job.json").read_text())["dedup_hit_rate"]
        deduped = pq.read_table(Path(tmp) / "dedup").sort_by("row")
        identical_dedup = (
            deduped.column("p_cheap").to_numpy().tobytes() == same.column("p_cheap").to_numpy().tobytes()
        )
    n = args.rows
    rate = n / base[0]
    print(
        f"{n:,} rows (CSV → Parquet) drawn from {pool:,} demo texts ({distinct:,} distinct in the log); "
        f"{cpu['model']} ({cpu['isa']}), {os.cpu_count()} cores"
    )
    print()
    print(
        "| arm | seconds | rows/s | vs single --no-dedup | peak RSS, largest process "
        "| peak RSS, all processes |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| single process, --no-dedup | {base[0]:.1f} | {rate:,.0f} | 1.00× | {base[1]:.0f} MiB "
        f"| {base[2]:.0f} MiB |"
    )
    print(
        f"| single process, --dedup | {dedup[0]:.1f} | {n / dedup[0]:,.0f} | {base[0] / dedup[0]:.2f}× "
        f"| {dedup[1]:.0f} MiB | {dedup[2]:.0f} MiB |"
    )
    print(
        f"| Ray local, 2 workers (routing; start-up {startup:.1f} s excluded) | {ray_route:.1f} | "
        f"{n / ray_route:,.0f} | {base[0] / ray_route:.2f}× | {ray[1]:.0f} MiB | {ray[2]:.0f} MiB |"
    )
    print()
    print(
        f"Probabilities identical to the single-process run: Ray {identical}, dedup {identical_dedup}; "
        f"dedup hit rate {hit_rate:.1%}. "
        f"Extrapolation at {rate:,.0f} rows/s (single process, no dedup): "
        f"1M rows ≈ {1e6 / rate / 60:.0f} min, "
        f"100M ≈ {1e8 / rate / 3600:.1f} h; routing is embarrassingly parallel, so W such machines "
        f"(Ray actors, 1 per core) take ≈ 1/W of that plus start-up, if input reading and Parquet "
        "writing (far faster than routing here) keep up. Dedup's gain is set by the log's distinct "
        f"share ({distinct / n:.1%} here; 13,489 / 3.4M = 0.4% in the demo)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
