#!/usr/bin/env python
"""Cost–quality curves of pre-routing, a cascade and random routing on RouteLLM's MMLU/GSM8K outcomes.

Prints a Markdown table (cost saved vs all-GPT-4 at 90/95/99% of GPT-4's accuracy, with bootstrap
intervals) and optionally writes a PNG of the curves. See :mod:`evals.routellm.routellm` for the method.

    TIERSCOPE_DEFAULT_ROUTER=models/default-minilm-int8-v1 python -m evals.routellm.run --png curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from evals.routellm import routellm

# RouteLLM (Ong et al., arXiv:2406.18665): on MMLU their best routers needed roughly half of the calls on
# GPT-4 to reach 95% of GPT-4's quality. Approximate figure from the paper; not re-derived here.
ROUTELLM_MMLU_95_SHARE = 0.5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(routellm.DATASETS), choices=routellm.DATASETS)
    ap.add_argument(
        "--data-dir", default=None, help="routellm_outcomes directory (default: ../shared/data/...)"
    )
    ap.add_argument("--encoder", default=None, help="router directory whose encoder to use (default router)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-prompts", type=int, default=None, help="seeded subset per dataset (for quick runs)"
    )
    ap.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates")
    ap.add_argument("--no-cache", action="store_true", help="do not read or write cached router scores")
    ap.add_argument("--png", default=None, help="write the cost-quality curves here")
    ap.add_argument("--json", default=None, help="write the savings rows here")
    args = ap.parse_args(argv)

    results = []
    for ds in args.datasets:
        t0 = time.perf_counter()
        results.append(
            routellm.evaluate(
                ds,
                data_dir=args.data_dir,
                max_prompts=args.max_prompts,
                seed=args.seed,
                encoder=args.encoder,
                replicates=args.replicates,
                cache_dir=False if args.no_cache else None,
            )
        )
        print(f"[{ds}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    print(routellm.markdown_table(results))
    for r in results:
        if r.dataset != "mmlu":
            continue
        pre = next(s for s in r.savings if s.method == "pre-routing" and abs(s.fraction - 0.95) < 1e-9)
        rnd = next(s for s in r.savings if s.method == "random" and abs(s.fraction - 0.95) < 1e-9)
        print(
            f"\nMMLU at 95% of GPT-4 accuracy: GPT-4 call share {pre.capable_share:.1%} "
            f"[{pre.share_lo:.1%}, {pre.share_hi:.1%}] for this router, {rnd.capable_share:.1%} for random; "
            f"RouteLLM's best routers needed roughly {ROUTELLM_MMLU_95_SHARE:.0%} "
            "(approximate, from the paper)."
        )
    if args.png:
        routellm.plot_curves(results, args.png)
        print(f"\ncurves written to {args.png}", file=sys.stderr)
    if args.json:
        rows = [{"dataset": r.dataset, **s.__dict__} for r in results for s in r.savings]
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
