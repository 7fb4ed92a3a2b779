"""Run every benchmark and collect their Markdown tables into one results file.

    python benches/run_all.py --out bench-results/results.md

Benchmarks are never timed assertions in tests: the machines are noisy. Each script prints a
Markdown table comparing tierscope with a Python baseline measured in the same run, as ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

BENCHES = [
    "bench_router.py",
    "bench_stats.py",
    "bench_stats_summary.py",
    "bench_route_file.py",
    "bench_bad_inputs.py",
    "bench_sequential.py",
    "bench_inputs.py",
    "bench_tail.py",
    "bench_verifier.py",  # issue 14: verifier pairs/s vs router queries/s, p50 latency
    "bench_integrations.py",  # per-call overhead of RoutedOpenAI over the bare openai client (local server)
    "bench_regions.py",
    "bench_log_scale.py",  # heavy: 6M events (see its docstring for a smaller --days/--per-day)
    "bench_batch_scale.py",  # heavy: 1M rows × 3 arms (TIERSCOPE_BENCH_BATCH_ROWS for a smaller N)
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results/results.md"))
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts")
    args = parser.parse_args()
    here = Path(__file__).parent
    from tierscope._runtime import cpu_info

    cpu = cpu_info()
    sections = [
        "# tierscope benchmarks",
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu['model']} "
        f"(ISA class {cpu['isa']}), {os.cpu_count()} cores, Python {platform.python_version()}",
    ]
    failed = 0
    for name in args.only or BENCHES:
        script = here / name
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        sys.stderr.write(proc.stderr[-4000:])
        print(proc.stdout, flush=True)
        if proc.returncode != 0:
            failed += 1
            sections.append(
                f"## {name}\n\nFAILED (exit {proc.returncode})\n\n```\n{proc.stderr[-2000:]}\n```"
            )
        else:
            sections.append(f"## {name}\n\n{proc.stdout.strip()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
