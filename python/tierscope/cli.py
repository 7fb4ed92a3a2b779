"""The ``tierscope`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .exceptions import TierscopeError

__all__ = ["main"]


def _routing_demo(args: argparse.Namespace) -> int:
    from .default_router import banking77, tier_map
    from .router import Router
    from .stats_helpers import expected_calibration_error

    router = Router.default()
    texts, intents = banking77("test")
    mapping = tier_map()
    truth = np.array([router.tiers.index(mapping[i]) for i in intents])
    print("tierscope routing demo — the embedded default router on BANKING77's test split (real queries)")
    print(f"router: {router.path}")
    print(
        f"  {router.config['provenance'].get('encoder', '')}; "
        f"threads (sessions × intra-op) = {router.threads}"
    )
    router.route_batch(texts[:64])  # warm up sessions
    start = time.perf_counter()
    batch = router.route_batch(texts)
    batch_seconds = time.perf_counter() - start
    pred = batch.tier_index.astype(int)
    correct = pred == truth
    print(
        f"\nrouted {len(texts)} queries in {batch_seconds:.2f} s "
        f"({len(texts) / batch_seconds:,.0f} queries/s)"
    )
    print("\ntier shares (routed vs the intent→tier map):")
    for j, tier in enumerate(router.tiers):
        print(f"  {tier:8s} routed {np.mean(pred == j):6.1%}   labelled {np.mean(truth == j):6.1%}")
    print(
        f"\naccuracy {correct.mean():.3f}   "
        f"ECE (15 bins) {expected_calibration_error(batch.confidence, correct):.4f}"
    )
    k = len(router.tiers)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, pred), 1)
    print("confusion (rows: labelled tier, columns: routed tier):")
    print("  " + " ".join(f"{t:>9s}" for t in ("", *router.tiers)))
    for j, tier in enumerate(router.tiers):
        print("  " + f"{tier:>9s} " + " ".join(f"{v:9d}" for v in confusion[j]))
    worst_cheap = np.flatnonzero((truth == router.tiers.index(router.fallback_tier)) & (pred == 0))
    print(f"\n{len(worst_cheap)} capable-tier queries were routed to the cheap tier, e.g.:")
    for i in worst_cheap[np.argsort(-batch.confidence[worst_cheap])][:5]:
        print(f"  conf {batch.confidence[i]:.2f}  [{intents[i]}] {texts[i]}")
    order = np.argsort(-np.nan_to_num(batch.tail_score, nan=-1.0))[: args.top]
    print(
        f"\nthe {args.top} most off-distribution queries "
        "(tail score = training-set percentile of the distance):"
    )
    for i in order:
        print(
            f"  tail {batch.tail_score[i]:.3f}  {batch.tier[i]:8s} "
            f"conf {batch.confidence[i]:.2f}  {texts[i][:90]}"
        )
    single = Router.default(sessions=1, intra_threads=1)
    latencies = []
    for text in texts[: args.latency_samples]:
        t0 = time.perf_counter()
        single.route(text)
        latencies.append(time.perf_counter() - t0)
    lat = np.array(latencies) * 1000
    print(
        f"\nsingle-query latency on one core ({len(lat)} queries): "
        f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms"
    )
    return 0


def _route(args: argparse.Namespace) -> int:
    from .batch_io import route_file

    route_file(args.model_dir, args.input, args.output, text_col=args.text_col, chunk_size=args.chunk_size)
    return 0


def _fit(args: argparse.Namespace) -> int:
    from .batch_io import read_table_columns
    from .router import Router

    texts, tiers = read_table_columns(args.train_file, [args.text_col, args.tier_col])
    encoder = args.encoder or Router.default().path
    if encoder is None:
        raise TierscopeError("fit: pass --encoder DIR (the default router has no directory)")
    order = args.tier_order.split(",") if args.tier_order else None
    router = Router.fit(texts, tiers, encoder=encoder, tier_order=order, seed=args.seed, out_dir=args.out_dir)
    m = router.metrics
    print(
        f"saved {args.out_dir}: held-out accuracy {m['holdout_accuracy']:.3f}, "
        f"ECE {m['holdout_ece']:.4f} (uncalibrated {m['holdout_ece_uncalibrated']:.4f}), "
        f"temperature {router.config['calibration']['temperature']:.3f}"
    )
    return 0


def _build_default(args: argparse.Namespace) -> int:
    from .default_router import main as build_main

    extra = ["--out", str(args.out)] if args.out else []
    return build_main(["build", *extra])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tierscope", description="LLM cost routing that does not break the product."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="route BANKING77's test queries with the default router and report")
    demo.add_argument("--top", type=int, default=20, help="how many off-distribution queries to list")
    demo.add_argument("--latency-samples", type=int, default=500)
    demo.set_defaults(func=_routing_demo)

    route = sub.add_parser("route", help="batch-score a CSV / JSONL / Parquet file to Parquet")
    route.add_argument("model_dir", type=Path)
    route.add_argument("input", type=Path)
    route.add_argument("output", type=Path)
    route.add_argument("--text-col", default="text")
    route.add_argument("--chunk-size", type=int, default=20_000)
    route.set_defaults(func=_route)

    fit = sub.add_parser("fit", help="train a router head on labelled queries")
    fit.add_argument("train_file", type=Path)
    fit.add_argument("out_dir", type=Path)
    fit.add_argument("--text-col", default="text")
    fit.add_argument("--tier-col", default="tier")
    fit.add_argument("--tier-order", default=None, help="comma-separated, cheapest first")
    fit.add_argument(
        "--encoder", type=Path, default=None, help="encoder directory (default: the default router's)"
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.set_defaults(func=_fit)

    build = sub.add_parser("build-default-router", help="build the default router (no torch needed)")
    build.add_argument("--out", type=Path, default=None)
    build.set_defaults(func=_build_default)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (TierscopeError, FileNotFoundError, ValueError) as err:
        print(f"tierscope {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
