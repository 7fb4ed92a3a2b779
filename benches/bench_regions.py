"""Region cost (issue 16, part 4): the default router with ``regions.bin`` vs the same router
without it, one run, as a ratio; plus the mix-drift test's time for a year of daily counts.

Routes BANKING77 test queries in batches on one core (one single-threaded session), so the
difference per query is the nearest-centroid search's added latency (32 x 384 fp32 dot products).
The two routers share the same files except ``regions.bin``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from tierscope import Router  # noqa: E402
from tierscope._runtime import cpu_info  # noqa: E402
from tierscope.data import banking77  # noqa: E402
from tierscope.routing.router import default_router_dir  # noqa: E402
from tierscope.stats import drift  # noqa: E402

N_QUERIES = 512


def _best_seconds(router: Router, texts: list[str], repeats: int = 5) -> float:
    router.route_batch(texts)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        router.route_batch(texts)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    src = default_router_dir()
    if not (src / "regions.bin").is_file():
        print("the default router has no regions.bin (rebuild it with `make model`)", file=sys.stderr)
        return 1
    texts = banking77("test")[0][:N_QUERIES]
    cpu = cpu_info()
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain"
        shutil.copytree(src, plain)
        (plain / "regions.bin").unlink()
        routers = [Router.load(d, sessions=1, intra_threads=1) for d in (src, plain)]
        # Interleaved rounds, best of each: load on a shared machine hits both alike.
        best = [float("inf")] * len(routers)
        for _ in range(7):
            best = [min(b, _best_seconds(r, texts, repeats=1)) for b, r in zip(best, routers, strict=True)]
        with_regions, without = best
    rng = np.random.default_rng(0)
    ref = rng.multinomial(400_000, np.full(32, 1 / 32)).astype(float)
    daily = rng.multinomial(30_000, np.full(32, 1 / 32), size=365).astype(float)
    t0 = time.perf_counter()
    drift.mix_drift(ref, daily)
    mix_seconds = time.perf_counter() - t0
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}); {N_QUERIES} BANKING77 test queries, one core\n")
    print("| router | ms per query | ratio |")
    print("|---|---|---|")
    print(f"| without regions (baseline) | {1e3 * without / N_QUERIES:.3f} | 1.00 |")
    ratio = with_regions / without
    print(f"| with regions.bin (32 centroids) | {1e3 * with_regions / N_QUERIES:.3f} | {ratio:.3f} |")
    print(f"\nregions.bin: {(src / 'regions.bin').stat().st_size / 1024:.0f} KiB; "
          f"mix_drift over 365 days x 32 regions: {1e3 * mix_seconds:.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
