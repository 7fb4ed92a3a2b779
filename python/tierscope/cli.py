"""The ``tierscope`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .exceptions import TierscopeError
from .stats import MONITOR_METHODS

if TYPE_CHECKING:
    from .routing.records import RouteBatch
    from .routing.router import Router

__all__ = ["main"]


def _print_tier_quality(router: Router, batch: RouteBatch, truth: npt.NDArray[np.int64]) -> None:
    """Tier shares (routed vs labelled), accuracy and ECE, and the tier confusion matrix."""
    from .routing.calibration import reliability_diagram

    pred = batch.tier_index.astype(int)
    correct = pred == truth
    routed = ~batch.fallback  # fallback rows have no calibrated confidence
    print("\ntier shares (routed vs the intent→tier map):")
    for j, tier in enumerate(router.tiers):
        print(f"  {tier:8s} routed {np.mean(pred == j):6.1%}   labelled {np.mean(truth == j):6.1%}")
    print(
        f"\naccuracy {correct.mean():.3f}   "
        f"ECE (15 bins) {reliability_diagram(batch.confidence[routed], correct[routed], bins=15).ece:.4f}"
    )
    k = len(router.tiers)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, pred), 1)
    print("confusion (rows: labelled tier, columns: routed tier):")
    print("  " + " ".join(f"{t:>9s}" for t in ("", *router.tiers)))
    for j, tier in enumerate(router.tiers):
        print("  " + f"{tier:>9s} " + " ".join(f"{v:9d}" for v in confusion[j]))


def _print_notable_queries(
    router: Router,
    batch: RouteBatch,
    truth: npt.NDArray[np.int64],
    texts: list[str],
    intents: list[str],
    top: int,
) -> None:
    """The most confident capable-tier queries routed cheap, and the ``top`` most off-distribution."""
    pred = batch.tier_index.astype(int)
    worst_cheap = np.flatnonzero((truth == router.tiers.index(router.fallback_tier)) & (pred == 0))
    print(f"\n{len(worst_cheap)} capable-tier queries were routed to the cheap tier, e.g.:")
    for i in worst_cheap[np.argsort(-batch.confidence[worst_cheap])][:5]:
        print(f"  conf {batch.confidence[i]:.2f}  [{intents[i]}] {texts[i]}")
    order = np.argsort(-np.nan_to_num(batch.tail_score, nan=-1.0))[:top]
    print(
        f"\nthe {top} most off-distribution queries (tail score = training-set percentile of the distance):"
    )
    for i in order:
        print(
            f"  tail {batch.tail_score[i]:.3f}  {batch.tier[i]:8s} "
            f"conf {batch.confidence[i]:.2f}  {texts[i][:90]}"
        )


def _print_single_query_latency(texts: list[str]) -> None:
    """p50/p99 latency of routing ``texts`` one at a time on one core."""
    from .routing.router import Router

    single = Router.default(sessions=1, intra_threads=1)
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        single.route(text)
        latencies.append(time.perf_counter() - t0)
    lat = np.array(latencies) * 1000
    print(
        f"\nsingle-query latency on one core ({len(lat)} queries): "
        f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms"
    )


def _routing_demo(args: argparse.Namespace) -> int:
    from .data import banking77, tier_map
    from .routing.router import Router

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
    print(
        f"\nrouted {len(texts)} queries in {batch_seconds:.2f} s "
        f"({len(texts) / batch_seconds:,.0f} queries/s)"
    )
    _print_tier_quality(router, batch, truth)
    _print_notable_queries(router, batch, truth, texts, intents, args.top)
    _print_single_query_latency(texts[: args.latency_samples])
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.routing_only:
        return _routing_demo(args)
    from .demo import main as demo_main

    return demo_main(args)


def _route(args: argparse.Namespace) -> int:
    from .batch import route_file

    route_file(args.model_dir, args.input, args.output, text_col=args.text_col, chunk_size=args.chunk_size)
    return 0


def _fit(args: argparse.Namespace) -> int:
    from .batch import read_table_columns
    from .routing.router import Router

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
    from .models.default_router import main as build_main

    extra = ["--out", str(args.out)] if args.out else []
    return build_main(["build", *extra])


def _plan(args: argparse.Namespace) -> int:
    from .exceptions import InvalidInputError
    from .log.reader import load_decisions
    from .quality.review_plan import plan_reviews

    if args.out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidInputError(f"invalid `--out`: a .csv or .parquet file name, got {args.out.name!r}")
    if not args.log_dir.is_dir():
        raise InvalidInputError(f"invalid `LOG_DIR`: a decision-log directory, {args.log_dir} does not exist")
    day = args.day
    if day is None and args.since is None and args.until is None:
        stamps = load_decisions(args.log_dir)["timestamp"]
        if len(stamps) == 0:
            raise InvalidInputError(f"invalid `LOG_DIR`: {args.log_dir} holds no decisions")
        day = stamps.max().strftime("%Y-%m-%d")
        print(f"planning the latest day in the log: {day}")
    plan = plan_reviews(
        args.log_dir,
        budget=args.budget,
        day=day,
        since=args.since,
        until=args.until,
        method=args.method,
        min_per_stratum=args.min_per_stratum,
        seed=args.seed,
    )
    plan.write(args.out)
    print(plan.summary())
    print(f"wrote {len(plan)} requests to review to {args.out}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    import json

    from .exceptions import InvalidInputError
    from .quality.audit import audit

    if not args.log_dir.is_dir():
        raise InvalidInputError(f"invalid `LOG_DIR`: a decision-log directory, {args.log_dir} does not exist")
    reference = None
    if args.reference is not None:
        cfg = args.reference / "router.json" if args.reference.is_dir() else args.reference
        try:
            reference = json.loads(cfg.read_text(encoding="utf-8"))["reference"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InvalidInputError(
                f"invalid `--reference`: a router directory or router.json ({err})"
            ) from None
    report = audit(
        args.log_dir,
        since=args.since,
        until=args.until,
        reference=reference,
        tolerance=args.tolerance,
        cost_per_contact=args.cost_per_contact,
        support_window_days=args.support_window_days,
        monitor_method=args.monitor_method,
        arl=args.arl,
    )
    print(report.summary())
    if args.html is not None:
        report.to_html(args.html)
        print(f"wrote {args.html}")
    return 0


def _add_demo_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo`` (the main job, or the routing demo with ``--routing-only``) and ``route-demo``."""
    demo = sub.add_parser(
        "demo", help="the main job: 12 weeks of real queries through three routing arms (see tierscope.demo)"
    )
    from .demo import add_arguments as _demo_arguments

    _demo_arguments(demo)
    demo.add_argument(
        "--routing-only", action="store_true", help="only the routing demo (same as `tierscope route-demo`)"
    )
    demo.add_argument("--top", type=int, default=20, help="--routing-only: off-distribution queries to list")
    demo.add_argument("--latency-samples", type=int, default=500, help="--routing-only: latency queries")
    demo.set_defaults(func=_demo)

    route_demo = sub.add_parser(
        "route-demo", help="route BANKING77's test queries with the default router and report"
    )
    route_demo.add_argument("--top", type=int, default=20, help="how many off-distribution queries to list")
    route_demo.add_argument("--latency-samples", type=int, default=500)
    route_demo.set_defaults(func=_routing_demo)


def _add_router_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``route`` (batch scoring), ``fit`` (train a head) and ``build-default-router``."""
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


def _add_plan_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plan``: a day's stratified review plan from a decision log."""
    plan = sub.add_parser("plan", help="plan a day's human reviews, stratified by tier (CSV or Parquet)")
    plan.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    plan.add_argument("--budget", type=int, default=200, help="reviews to plan (default 200)")
    plan.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet")
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--day", default=None, help="UTC day YYYY-MM-DD (default: the latest day in the log)")
    plan.add_argument("--since", default=None, help="ISO start (instead of --day)")
    plan.add_argument("--until", default=None, help="ISO end, exclusive (instead of --day)")
    plan.add_argument("--method", default="neyman", choices=["neyman", "proportional"])
    plan.add_argument("--min-per-stratum", type=int, default=2)
    plan.set_defaults(func=_plan)


def _add_audit_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audit``: the per-tier audit of a decision log."""
    aud = sub.add_parser("audit", help="per-tier audit of a decision log, printed and as an HTML page")
    aud.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    aud.add_argument("--html", type=Path, default=None, help="write the self-contained HTML report here")
    aud.add_argument("--since", default=None, help="ISO start of the window (decision time)")
    aud.add_argument("--until", default=None, help="ISO end of the window, exclusive")
    aud.add_argument("--cost-per-contact", type=float, default=0.0, help="cost of one human-support contact")
    aud.add_argument("--support-window-days", type=float, default=7.0)
    aud.add_argument("--tolerance", type=float, default=0.05, help="alarm when quality drops this much")
    aud.add_argument(
        "--reference", type=Path, default=None, help="router directory (or router.json) for confidence drift"
    )
    aud.add_argument(
        "--monitor-method",
        choices=MONITOR_METHODS,
        default="e_detector",
        help="alarm rule: e-detector (>= --arl days between false alarms on average) or confidence "
        "sequences (P(any false alarm) <= alpha)",
    )
    aud.add_argument("--arl", type=float, default=1000.0, help="e-detector: average days to a false alarm")
    aud.set_defaults(func=_audit)


def build_parser() -> argparse.ArgumentParser:
    """The ``tierscope`` argument parser, one sub-command per job (in ``--help`` order)."""
    parser = argparse.ArgumentParser(
        prog="tierscope", description="LLM cost routing that does not break the product."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo_commands(sub)
    _add_router_commands(sub)
    _add_plan_command(sub)
    _add_audit_command(sub)
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
