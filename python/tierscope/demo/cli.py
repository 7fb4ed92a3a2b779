"""``tierscope demo``'s options and entry point: parse the sizes, run, print the summary and write
``summary.txt``, ``summary.json`` and the HTML report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..exceptions import InvalidInputError
from .config import DemoConfig
from .plots import render_html
from .run import run_demo
from .summarize import numpy_to_json, summary, summary_record

__all__ = ["add_arguments", "config_from_args", "main", "standalone_main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (used by ``tierscope demo``)."""
    parser.add_argument("--days", type=int, default=None, help="days to simulate (default 84; quick 28)")
    parser.add_argument(
        "--per-day", type=int, default=None, help="queries a day (default 40,000; quick 5,000)"
    )
    parser.add_argument("--seed", type=int, default=DemoConfig.seed)
    parser.add_argument("--html", default="demo_report.html", help="HTML report file name ('' for none)")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the HTML report")
    parser.add_argument("--quick", action="store_true", help="small sizes (BANKING77 test split, 28 x 5,000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-shift",
        action="store_true",
        help="keep the launch mix all run (a false-alarm check: no alarm expected)",
    )


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    """The run's :class:`DemoConfig` from the parsed options (``--quick`` picks the small sizes)."""
    quick = bool(args.quick)
    days = args.days if args.days is not None else (28 if quick else 84)
    per_day = args.per_day if args.per_day is not None else (5_000 if quick else 40_000)
    if days < 2 or per_day < 1:
        raise InvalidInputError("--days must be >= 2 and --per-day >= 1")
    return DemoConfig(
        days=days,
        per_day=per_day,
        seed=int(args.seed),
        onset=min(14, days // 2),
        ramp_days=7 if quick else 21,
        suite_size=2_000 if quick else 12_000,
        calibration_size=6_000,
        quick=quick,
        shift=not bool(getattr(args, "no_shift", False)),
    )


def main(args: argparse.Namespace) -> int:
    """Entry point for ``tierscope demo``."""
    cfg = config_from_args(args)
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)  # noqa: E731
    res = run_demo(cfg, log=log, progress=not args.no_progress)
    log(f"runtime {res.seconds:.1f} s (routing {res.corpus.route_seconds:.1f} s)")
    text = summary(res)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    record = json.dumps(summary_record(res), indent=2, default=numpy_to_json)
    (out / "summary.json").write_text(record + "\n", encoding="utf-8")
    if args.html:
        path = out / args.html
        path.write_text(render_html(res, text), encoding="utf-8")
        print(f"wrote {path}")
    return 0


def standalone_main(argv: Sequence[str] | None = None) -> int:
    """``python -m tierscope.demo``: the same options as ``tierscope demo``."""
    parser = argparse.ArgumentParser(prog="python -m tierscope.demo")
    add_arguments(parser)
    return main(parser.parse_args(argv))
