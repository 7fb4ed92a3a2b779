#!/usr/bin/env python
"""Leave-intents-out AUROC of the tail score on BANKING77, HWU64 and DSTC11 (see :mod:`evals.tail.tail`).

TIERSCOPE_DEFAULT_ROUTER=models/default-minilm-int8-v1 python -m evals.tail.run --splits 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tierscope.data import banking77
from tierscope.routing.router import default_router_dir

from evals.tail import tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default=None, help="router directory whose encoder to use (default router)")
    ap.add_argument("--data-dir", default=None, help="shared/data directory (default: found beside the repo)")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None, help="subsample the training rows (quick runs)")
    ap.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "tierscope" / "evals-tail"))
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--json", default=None, help="write the per-split AUROCs here")
    args = ap.parse_args(argv)
    shared = Path(args.data_dir) if args.data_dir else tail.find_shared_data()
    router_dir = Path(args.encoder) if args.encoder else default_router_dir()
    cache = None if args.no_cache else Path(args.cache_dir)
    t0 = time.perf_counter()
    texts = tail.corpora(shared)
    emb = {name: tail.embed(t, router_dir, cache) for name, t in texts.items()}
    print(
        f"[embedded {sum(map(len, texts.values()))} texts: {time.perf_counter() - t0:.1f} s]", file=sys.stderr
    )
    result = tail.evaluate(
        emb,
        banking77("train")[1],
        banking77("test")[1],
        splits=args.splits,
        seed=args.seed,
        max_train=args.max_train,
    )
    print(f"[evaluated: {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    print(tail.markdown(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"auroc": result.auroc, "escalated": result.escalated}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
