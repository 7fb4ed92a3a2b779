"""Batch scoring benchmark: ``tierscope route`` on a 1M-row CSV, peak memory and throughput.

The input is BANKING77's test queries repeated to 1,000,000 rows. The claim under test is bounded
memory: peak RSS must not grow with the file (rows are streamed in chunks), so the script also
scores a 100k-row file and reports both peaks. Run in a child process so RSS is the command's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from tierscope.data import banking77

ROWS = int(os.environ.get("TIERSCOPE_BENCH_ROWS", "1000000"))


def _make_csv(path: Path, rows: int) -> None:
    texts, _ = banking77("test")
    reps = rows // len(texts) + 1
    column = (texts * reps)[:rows]
    pacsv.write_csv(pa.table({"id": list(range(rows)), "text": column}), path)


def _score(model: str, src: Path, out: Path) -> tuple[float, float]:
    code = (
        "import resource, sys\n"
        "from tierscope.batch import route_file\n"
        "route_file(sys.argv[1], sys.argv[2], sys.argv[3], progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, model, str(src), str(out)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - t0, int(proc.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    model = os.environ.get("TIERSCOPE_DEFAULT_ROUTER", "models/default-minilm-int8-v1")
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.csv", Path(tmp) / "big.csv"
        _make_csv(small, ROWS // 10)
        _make_csv(big, ROWS)
        t_small, rss_small = _score(model, small, Path(tmp) / "small.parquet")
        t_big, rss_big = _score(model, big, Path(tmp) / "big.parquet")
    print(
        "| route CLI (CSV → Parquet, default int8 router, all cores) | rows | seconds | rows/s | peak RSS |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| small file | {ROWS // 10:,} | {t_small:.0f} | {ROWS / 10 / t_small:,.0f} | {rss_small:.0f} MiB |"
    )
    print(f"| large file | {ROWS:,} | {t_big:.0f} | {ROWS / t_big:,.0f} | {rss_big:.0f} MiB |")
    print(f"\npeak RSS ratio large/small: {rss_big / rss_small:.2f} (bounded memory ⇒ close to 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
