"""Build the default router with several seeds on this CPU and report the int8-vs-fp32 tier agreement.

    python scripts/check_default_router_seeds.py --seeds 0 1 2 3 4

The seed picks the calibration queries (and the head's train/holdout split, the same for the int8
and the fp32 router). Each build runs every check of ``tierscope.models.default_router.build``, so a seed
below the bar fails loudly; this script reports every seed either way, with the minimum, as a
Markdown table. Routers are built into a temporary directory and discarded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tierscope._runtime import cpu_info
from tierscope.exceptions import ModelLoadError
from tierscope.models.default_router import MIN_TIER_AGREEMENT, build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} ({cpu['isa']})\n")
    print("| seed | agreement (default, guarded) | agreement (int8 alone) | guarded share | margin |")
    print("|---|---|---|---|---|")
    worst, worst_unguarded, failed = 1.0, 1.0, 0
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="tierscope-seed-") as tmp:
            try:
                r = build(Path(tmp) / "int8", fp32_out=None, seed=seed, log=lambda _m: None)
            except ModelLoadError as err:
                print(f"| {seed} | FAILED: {err} | | | |", flush=True)
                failed += 1
                continue
        a, u = r["int8_fp32_tier_agreement"], r["int8_unguarded_fp32_tier_agreement"]
        worst, worst_unguarded = min(worst, a), min(worst_unguarded, u)
        print(
            f"| {seed} | {a:.5f} | {u:.5f} | {r['guarded_share']:.4f} | {r['guard_margin']:.4f} |", flush=True
        )
    bar = MIN_TIER_AGREEMENT
    print(f"\nminimum over seeds: {worst:.5f} guarded (bar {bar}), {worst_unguarded:.5f} int8 alone")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
