"""The demo's traffic-mix drift alarm across seeds (issue 16, part 4).

Routes the demo's real corpus once with the default router (``$TIERSCOPE_DEFAULT_ROUTER``; it must
have ``regions.bin``), then per seed draws the demo's 84 days of traffic (with and without the mix
shift) exactly as ``tierscope demo`` does and reports the cheap tier's mix-drift alarm day
(:func:`tierscope.demo.monitoring.mix_drift_alarm`) next to the ground-truth quality day.

    python -m evals.mix_drift.run --seeds 20260627 1 2 3 4 5 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tierscope.demo.config import DemoConfig
from tierscope.demo.monitoring import mix_drift_alarm
from tierscope.demo.simulation import build_corpus, generate_traffic, ground_truth


def run(seeds: list[int], quick: bool = False) -> list[dict[str, Any]]:
    """One row per (seed, shift): alarm day, ground-truth quality day and what moved."""
    from tierscope import Router

    cfg0 = DemoConfig()
    router = Router.default()
    corpus = build_corpus(router, quick, log=lambda m: None)
    rows = []
    for seed in seeds:
        for shift in (True, False):
            cfg = replace(cfg0, seed=seed, shift=shift)
            t0 = time.perf_counter()
            traffic = generate_traffic(corpus, cfg)
            truth = ground_truth(corpus, traffic, cfg)
            mix = mix_drift_alarm(corpus, traffic, cfg)
            assert mix is not None, "the router has no regions.bin"
            rows.append(
                {
                    "seed": seed,
                    "shift": shift,
                    "mix_alarm_day": mix["alarm_day"],
                    "quality_day": truth["quality_material_day"],
                    "moved": mix["moved"],
                    "chi_square_rejections": mix["chi_square_rejections"],
                    "monitored_days": mix["monitored_days"],
                    "psi_max": mix["psi_max"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[DemoConfig.seed, 1, 2, 3, 4, 5])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = run(args.seeds)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
