"""The ``tierscope`` command line.

Every flag is checked when it is parsed (numbers refuse NaN, infinities and out-of-range values;
paths are checked before any expensive work), and every error ends as one line on stderr,
``tierscope: error: ...``, naming the flag or argument, never a traceback. Exit status: 0 on
success, 2 for a usage error or bad input (including a missing file), 1 for any other failure
(a model that cannot be loaded, an I/O error), 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import numpy.typing as npt

from . import _validate as v
from .exceptions import InvalidInputError, TierscopeError
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


# ----------------------------------------------------------------------------- argument types


def _int_type(minimum: int, maximum: int = v.INT64_MAX) -> Callable[[str], int]:
    """An argparse type: a decimal integer in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            bound = f"≥ {minimum}" if maximum >= v.INT64_MAX else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def _float_type(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    min_open: bool = False,
    max_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number within the bounds (``nan``, ``inf`` are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan  # refused below, with the same message
        try:
            return v.real(
                "value", value, minimum=minimum, maximum=maximum, min_open=min_open, max_open=max_open
            )
        except InvalidInputError as err:
            expected = str(err).split(": ", 1)[-1].split(", got", 1)[0]
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None

    parse.__name__ = "number"
    return parse


def _nonempty(text: str) -> str:
    """An argparse type: a non-empty string (a column or tier name)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a non-empty name, got {text!r}")
    return text


def _timestamp(text: str) -> datetime:
    """An argparse type: an ISO date or date-time (``2026-05-04``, ``2026-05-04T12:00``)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or date-time such as 2026-05-04, got {text!r}"
        ) from None


def _tier_order(text: str) -> list[str]:
    """An argparse type: comma-separated, distinct, non-empty tier names, cheapest first."""
    names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected at least two distinct comma-separated tier names, got {text!r}"
        )
    return names


_POSITIVE = _int_type(1)
_SEED = _int_type(0, v.USIZE_MAX)
_COUNT = _int_type(0)


def _output_file(flag: str, path: Path) -> Path:
    """``path`` can be written: not a directory, in a directory that exists (checked up front)."""
    return v.output_file(flag, path)


def _not_a_file(flag: str, path: Path) -> Path:
    """An output *directory*: an existing file there is refused (a missing one is created)."""
    if path.exists() and not path.is_dir():
        raise v.fail(flag, f"a directory, but {path} is a file")
    return path


# ----------------------------------------------------------------------------- commands


def _log_dir(path: Path) -> Path:
    """``LOG_DIR``: an existing directory; a file gets told it is not one (a log is a directory)."""
    if path.is_file():
        raise v.fail(
            "LOG_DIR",
            f"a decision-log directory (the one a DecisionLog writes, holding decisions/ and outcomes/), "
            f"but {path} is a file",
        )
    return v.existing_dir("LOG_DIR", path, what="decision-log directory")


def _demo(args: argparse.Namespace) -> int:
    if args.routing_only:
        return _routing_demo(args)
    _not_a_file("--out", args.out)
    if args.html and ("/" in args.html or "\\" in args.html):
        raise v.fail("--html", "a file name inside --out (no directories)", args.html)
    from .demo import main as demo_main

    return demo_main(args)


def _route(args: argparse.Namespace) -> int:
    from .batch import route_job

    keep = [c for c in (args.keep_cols or "").split(",") if c]
    summary = route_job(
        args.model_dir,
        args.input,
        args.output,
        text_col=args.text_col,
        id_col=args.id_col,
        keep_cols=keep,
        fmt=args.format,
        delimiter=args.delimiter,
        rows_per_part=args.rows_per_part or args.chunk_size,
        resume=args.resume,
        dedup=args.dedup,
        progress=not args.quiet,
    )
    hits = summary["dedup_hit_rate"]
    print(
        f"routed {summary['rows']} rows into {summary['output']} ({summary['written']} parts written, "
        f"{summary['kept']} kept by --resume"
        + ("" if hits is None else f", dedup hit rate {hits:.1%}")
        + ")",
        file=sys.stderr,
    )
    return 0


def _fit(args: argparse.Namespace) -> int:
    from .batch import read_table_columns
    from .routing.router import Router

    v.existing_file("TRAIN_FILE", args.train_file, what="training file")
    _not_a_file("OUT_DIR", args.out_dir)
    if args.encoder is not None:
        v.existing_dir("--encoder", args.encoder, what="encoder directory")
    texts, tiers = read_table_columns(args.train_file, [args.text_col, args.tier_col])
    encoder = args.encoder or Router.default().path
    if encoder is None:
        raise InvalidInputError(
            "invalid `--encoder`: pass --encoder DIR (the default router has no directory)"
        )
    router = Router.fit(
        texts, tiers, encoder=encoder, tier_order=args.tier_order, seed=args.seed, out_dir=args.out_dir
    )
    m = router.metrics
    print(
        f"saved {args.out_dir}: held-out accuracy {m['holdout_accuracy']:.3f}, "
        f"ECE {m['holdout_ece']:.4f} (uncalibrated {m['holdout_ece_uncalibrated']:.4f}), "
        f"temperature {router.config['calibration']['temperature']:.3f}"
    )
    return 0


def _build_default(args: argparse.Namespace) -> int:
    from .models.default_router import main as build_main

    extra = []
    if args.out is not None:
        extra = ["--out", str(_not_a_file("--out", args.out))]
    return build_main(["build", *extra])


def _plan(args: argparse.Namespace) -> int:
    from .log.reader import latest_day
    from .quality.review_plan import plan_reviews

    if args.out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise v.fail("--out", "a .csv or .parquet file name", args.out.name)
    _output_file("--out", args.out)
    _log_dir(args.log_dir)
    if args.day is not None and (args.since is not None or args.until is not None):
        raise v.fail("--day", "either --day or --since/--until, not both")
    day = args.day
    if day is None and args.since is None and args.until is None:
        latest = latest_day(args.log_dir)  # reads the newest partition only
        if latest is None:
            raise v.fail("LOG_DIR", f"a log with decisions, but {args.log_dir} holds none")
        day = latest.isoformat()
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


def _load_reference(path: Path) -> Any:
    """The training reference of a router directory or its router.json."""
    import json

    found = v.existing_dir("--reference", path) if path.is_dir() else v.existing_file("--reference", path)
    cfg = found / "router.json" if found.is_dir() else found
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))["reference"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise v.fail("--reference", f"a router directory or router.json with a `reference` ({err})") from None


def _audit(args: argparse.Namespace) -> int:
    from .quality.audit import audit

    if args.html is not None:
        _output_file("--html", args.html)
    _log_dir(args.log_dir)
    reference = None if args.reference is None else _load_reference(args.reference)
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


# ----------------------------------------------------------------------------- the parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with every option's default (unless the help text already says it, or there is none
    to show) and the examples epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or not action.option_strings:
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._VersionAction, argparse._HelpAction)):
            return text
        return super()._get_help_string(action)


#: An example per sub-command, shown at the end of its ``--help`` (the top-level one too).
_EXAMPLES: dict[str, str] = {
    "tierscope": "tierscope demo --quick\n"
    "tierscope route models/default-minilm-int8-v1 queries.csv decisions.parquet\n"
    "tierscope audit logs/prod --html audit.html",
    "demo": "tierscope demo --quick --out demo-output\ntierscope demo --routing-only --top 10",
    "route-demo": "tierscope route-demo --top 10 --latency-samples 200",
    "route": "tierscope route models/default-minilm-int8-v1 queries.csv decisions.parquet --text-col text\n"
    "tierscope route models/default-minilm-int8-v1 'logs/*.jsonl.gz' decisions/ --id-col id --resume\n"
    "zcat q.jsonl.gz | tierscope route models/default-minilm-int8-v1 - decisions/ --keep-cols user\n"
    "(the router directory comes first: models/default-minilm-int8-v1 after `make model`)",
    "fit": "tierscope fit labelled.csv my-router/ --text-col text --tier-col tier --tier-order cheap,capable",
    "build-default-router": "tierscope build-default-router --out models/default-minilm-int8-v1",
    "plan": "tierscope plan logs/prod --budget 200 --day 2026-05-04 --out plan.csv",
    "audit": "tierscope audit logs/prod --since 2026-05-01 --until 2026-06-01 --html audit.html\n"
    "(LOG_DIR is the directory a DecisionLog writes: it holds decisions/ and outcomes/)",
    "log": "tierscope log compact logs/prod --older-than 1\ntierscope log retain logs/prod --days 90",
    "log migrate": "tierscope log migrate logs/prod",
    "log compact": "tierscope log compact logs/prod --day 2026-05-04\n"
    "tierscope log compact logs/prod --older-than 1",
    "log retain": "tierscope log retain logs/prod --days 90 --archive archive/prod\n"
    "tierscope log retain logs/prod --redact hash --redact-key-file key.txt --redact-older-than 7",
}


def _examples(name: str) -> str | None:
    text = _EXAMPLES.get(name)
    return None if text is None else "example:\n" + "\n".join(f"  {line}" for line in text.splitlines())


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``tierscope: error: ...``, exit status 2;
    help shows every option's default and an example."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"tierscope: error: {_one_line(self._explain(message))} (see `{self.prog} --help`)\n")

    def _explain(self, message: str) -> str:
        """A missing positional argument, said with the command's whole positional layout (so
        ``route in.csv out.parquet`` does not read as if the output were missing)."""
        prefix = "the following arguments are required: "
        if not message.startswith(prefix):
            return message
        missing = message[len(prefix) :]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and str(action.metavar) in missing:
                return f"a command is required, one of: {', '.join(action.choices)}"
        positionals = [str(a.metavar) for a in self._actions if not a.option_strings and a.metavar]
        if not positionals or any(m.strip() not in positionals for m in missing.split(",")):
            return message
        command = self.prog.split()[-1]
        given = len(positionals) - len(missing.split(","))
        example = (_EXAMPLES.get(command) or "").splitlines()[:1]
        hint = f", e.g. `{example[0]}`" if example else ""
        return (
            f"{command}: expected {len(positionals)} arguments, {' '.join(positionals)}, got {given} "
            f"(missing {missing}){hint}"
        )


def _add_demo_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``demo`` (the main job, or the routing demo with ``--routing-only``) and ``route-demo``."""
    demo = sub.add_parser(
        "demo", help="the main job: 12 weeks of real queries through three routing arms (see tierscope.demo)"
    )
    from .demo import add_arguments as _demo_arguments

    _demo_arguments(demo)
    _demo_help = {"seed": "random seed of the simulation (the same seed gives the same run)"}
    # The demo's numeric options, re-typed so that bad values fail at parse time.
    for action in demo._actions:
        if action.help is None:
            action.help = _demo_help.get(action.dest)
        if action.dest == "days":
            action.type = _int_type(2)
        elif action.dest == "per_day":
            action.type = _POSITIVE
        elif action.dest == "seed":
            action.type = _SEED
    demo.add_argument(
        "--routing-only", action="store_true", help="only the routing demo (same as `tierscope route-demo`)"
    )
    demo.add_argument(
        "--top", type=_COUNT, default=20, help="--routing-only: off-distribution queries to list"
    )
    demo.add_argument(
        "--latency-samples",
        type=_POSITIVE,
        default=500,
        help="--routing-only: queries timed one at a time on one core",
    )
    demo.set_defaults(func=_demo)

    route_demo = sub.add_parser(
        "route-demo", help="route BANKING77's test queries with the default router and report"
    )
    route_demo.add_argument(
        "--top", type=_COUNT, default=20, help="how many off-distribution queries to list"
    )
    route_demo.add_argument(
        "--latency-samples", type=_POSITIVE, default=500, help="queries timed one at a time on one core"
    )
    route_demo.set_defaults(func=_routing_demo)


def _add_router_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``route`` (batch scoring), ``fit`` (train a head) and ``build-default-router``."""
    route = sub.add_parser(
        "route", help="batch-score files, a directory, a glob or stdin to partitioned Parquet (or one file)"
    )
    route.add_argument(
        "model_dir",
        type=Path,
        metavar="MODEL_DIR",
        help="router directory (model.onnx, tokenizer.json, router.json)",
    )
    route.add_argument(
        "input",
        metavar="INPUT",
        help="queries: a .csv/.tsv/.jsonl/.parquet file (optionally .gz/.zst), a directory "
        "(hive-partitioned Parquet too), a quoted glob, or - for JSONL on stdin",
    )
    route.add_argument(
        "output",
        type=Path,
        metavar="OUTPUT",
        help="decisions: a directory (one Parquet part per chunk, resumable), or one .parquet or .csv file",
    )
    route.add_argument("--text-col", type=_nonempty, default="text", help="the column holding the query text")
    route.add_argument(
        "--id-col",
        type=_nonempty,
        default=None,
        help="a unique id column copied to the output (default: none)",
    )
    route.add_argument(
        "--keep-cols",
        default=None,
        help="comma-separated input columns copied to the output (default: none)",
    )
    route.add_argument(
        "--format",
        choices=["csv", "tsv", "jsonl", "parquet"],
        default=None,
        help="input format (default: from the file names; .tsv is tab-separated)",
    )
    route.add_argument(
        "--delimiter",
        default=None,
        help="CSV field delimiter (default: a tab for .tsv / --format tsv, else a comma)",
    )
    route.add_argument(
        "--rows-per-part",
        type=_int_type(1, 100_000_000),
        default=None,
        help="input rows per chunk and output part (default: --chunk-size)",
    )
    route.add_argument(
        "--chunk-size",
        type=_int_type(1, 10_000_000),
        default=20_000,
        help="rows read, routed and written at a time (bounds the memory)",
    )
    route.add_argument(
        "--resume",
        action="store_true",
        help="keep the parts of an earlier run of this job that verify, route the rest (default: off)",
    )
    route.add_argument(
        "--dedup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="route each distinct text once per job (a bounded cache; same results)",
    )
    route.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (default: a bar on a terminal, else a line per part)",
    )
    route.set_defaults(
        func=_route,
        renames={
            "model_dir": "MODEL_DIR",
            "input_path": "INPUT",
            "output_path": "OUTPUT",
            "text_col": "--text-col",
            "id_col": "--id-col",
            "keep_cols": "--keep-cols",
            "fmt": "--format",
            "delimiter": "--delimiter",
            "rows_per_part": "--rows-per-part",
            "chunk_size": "--chunk-size",
            "resume": "--resume",
        },
    )

    fit = sub.add_parser("fit", help="train a router head on labelled queries")
    fit.add_argument(
        "train_file",
        type=Path,
        metavar="TRAIN_FILE",
        help="labelled queries: a .csv, .jsonl or .parquet file",
    )
    fit.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="directory to write the fitted router to")
    fit.add_argument("--text-col", type=_nonempty, default="text", help="the column holding the query text")
    fit.add_argument(
        "--tier-col", type=_nonempty, default="tier", help="the column holding each query's tier"
    )
    fit.add_argument(
        "--tier-order",
        type=_tier_order,
        default=None,
        help="tier names, comma-separated, cheapest first (default: cheap,capable when those are the tiers)",
    )
    fit.add_argument(
        "--encoder", type=Path, default=None, help="encoder directory (default: the default router's)"
    )
    fit.add_argument(
        "--seed", type=_SEED, default=0, help="seed of the held-out split and the head's training"
    )
    fit.set_defaults(
        func=_fit, renames={"tier_order": "--tier-order", "seed": "--seed", "encoder": "--encoder"}
    )

    build = sub.add_parser("build-default-router", help="build the default router (no torch needed)")
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory to build into (default: the user cache)",
    )
    build.set_defaults(func=_build_default)


def _add_plan_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``plan``: a day's stratified review plan from a decision log."""
    plan = sub.add_parser("plan", help="plan a day's human reviews, stratified by tier (CSV or Parquet)")
    plan.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    plan.add_argument("--budget", type=_int_type(1, 10_000_000), default=200, help="reviews to plan")
    plan.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet (required)")
    plan.add_argument("--seed", type=_SEED, default=0, help="seed of the random draw")
    plan.add_argument(
        "--day", type=_timestamp, default=None, help="UTC day YYYY-MM-DD (default: the latest day in the log)"
    )
    plan.add_argument(
        "--since", type=_timestamp, default=None, help="ISO start (instead of --day; default: none)"
    )
    plan.add_argument(
        "--until", type=_timestamp, default=None, help="ISO end, exclusive (instead of --day; default: none)"
    )
    plan.add_argument(
        "--method",
        default="neyman",
        choices=["neyman", "proportional", "ppi"],
        help="how the budget is split over the strata (ppi: among judged answers, by judge score)",
    )
    plan.add_argument("--min-per-stratum", type=_COUNT, default=2, help="reviews at least, in every stratum")
    plan.set_defaults(
        func=_plan,
        renames={
            "log": "LOG_DIR",
            "budget": "--budget",
            "seed": "--seed",
            "day": "--day",
            "since": "--since",
            "until": "--until",
            "method": "--method",
            "min_per_stratum": "--min-per-stratum",
            "path": "--out",
        },
    )


def _add_audit_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``audit``: the per-tier audit of a decision log."""
    aud = sub.add_parser("audit", help="per-tier audit of a decision log, printed and as an HTML page")
    aud.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    aud.add_argument(
        "--html", type=Path, default=None, help="write the self-contained HTML report here (default: none)"
    )
    aud.add_argument(
        "--since",
        type=_timestamp,
        default=None,
        help="ISO start of the window, decision time (default: the first decision)",
    )
    aud.add_argument(
        "--until",
        type=_timestamp,
        default=None,
        help="ISO end of the window, exclusive (default: after the last decision)",
    )
    aud.add_argument(
        "--cost-per-contact", type=_float_type(0.0), default=0.0, help="cost of one human-support contact"
    )
    aud.add_argument(
        "--support-window-days",
        type=_float_type(0.0),
        default=7.0,
        help="a support contact within this many days of an answer counts against it",
    )
    aud.add_argument(
        "--tolerance",
        type=_float_type(0.0, 1.0, min_open=True, max_open=True),
        default=0.05,
        help="alarm when quality drops this much below the baseline",
    )
    aud.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="router directory (or router.json) for drift against its training confidence (default: none)",
    )
    aud.add_argument(
        "--monitor-method",
        choices=MONITOR_METHODS,
        default="e_detector",
        help="alarm rule: e-detector (on average >= --arl days with reviews between false alarms) "
        "or confidence sequences (P(any false alarm) <= alpha)",
    )
    aud.add_argument(
        "--arl",
        type=_float_type(1.0, min_open=True),
        default=1000.0,
        help="e-detector: average days to a false alarm",
    )
    aud.set_defaults(
        func=_audit,
        renames={
            "log": "LOG_DIR",
            "since": "--since",
            "until": "--until",
            "tolerance": "--tolerance",
            "cost_per_contact": "--cost-per-contact",
            "support_window_days": "--support-window-days",
            "reference": "--reference",
            "monitor_method": "--monitor-method",
            "arl": "--arl",
            "path": "--html",
        },
    )


# ----------------------------------------------------------------------------- tierscope log
def _log_migrate(args: argparse.Namespace) -> int:
    from .log.maintenance import migrate

    v.existing_dir("LOG_DIR", args.log_dir, what="decision-log directory")
    print(migrate(args.log_dir))
    return 0


def _log_compact(args: argparse.Namespace) -> int:
    from .log.maintenance import compact

    v.existing_dir("LOG_DIR", args.log_dir, what="decision-log directory")
    days = None if not args.day else [d.date() for d in args.day]
    print(compact(args.log_dir, days=days, older_than_days=args.older_than))
    return 0


def _log_retain(args: argparse.Namespace) -> int:
    from .log.maintenance import redact_partitions, retain

    v.existing_dir("LOG_DIR", args.log_dir, what="decision-log directory")
    if args.archive is not None and args.archive.exists() and not args.archive.is_dir():
        raise v.fail("--archive", "a directory", str(args.archive))
    if args.days is None and args.redact is None:
        raise v.fail("--days", "--days N and/or --redact MODE", None)
    if args.days is not None:
        print(retain(args.log_dir, days=args.days, archive=args.archive))
    if args.redact is not None:
        key = None
        if args.redact_key_file is not None:
            key = v.existing_file("--redact-key-file", args.redact_key_file).read_bytes().strip()
        n = redact_partitions(
            args.log_dir,
            redact=args.redact,
            max_text_chars=args.max_text_chars,
            redact_key=key,
            older_than_days=args.redact_older_than,
        )
        print(f"redaction ({args.redact}): rewrote {n} file(s) of past partitions")
    return 0


def _add_log_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``log migrate|compact|retain``: maintenance of a decision-log directory."""
    log = sub.add_parser("log", help="maintain a decision log: migrate, compact, retain/redact")
    log_sub = log.add_subparsers(
        dest="log_command", required=True, metavar="LOG_COMMAND", help="the maintenance job"
    )
    mig = log_sub.add_parser(
        "migrate", help="move a flat (pre-partition) log into date=YYYY-MM-DD partitions"
    )
    mig.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    mig.set_defaults(func=_log_migrate, renames={"log": "LOG_DIR"})
    comp = log_sub.add_parser(
        "compact", help="merge each day's segments into one sorted Parquet file (safe while writers write)"
    )
    comp.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    comp.add_argument(
        "--day",
        type=_timestamp,
        action="append",
        default=None,
        help="UTC day YYYY-MM-DD (repeatable; default: every past day, see --older-than)",
    )
    comp.add_argument(
        "--older-than",
        type=_float_type(0.0),
        default=None,
        help="only days that ended at least this many days ago (0: every past day, not today; "
        "default: every past day)",
    )
    comp.set_defaults(
        func=_log_compact, renames={"log": "LOG_DIR", "days": "--day", "older_than_days": "--older-than"}
    )
    ret = log_sub.add_parser(
        "retain", help="delete or archive partitions older than N days; redact past ones"
    )
    ret.add_argument("log_dir", type=Path, metavar="LOG_DIR", help="a decision-log directory")
    ret.add_argument(
        "--days",
        type=_int_type(1),
        default=None,
        help="keep the last N UTC days, today included (default: keep every day)",
    )
    ret.add_argument(
        "--archive",
        type=Path,
        default=None,
        help="move old partitions here instead of deleting (default: delete them)",
    )
    ret.add_argument(
        "--redact",
        choices=("truncate", "hash", "omit"),
        default=None,
        help="re-redact the free-text fields (default: no redaction pass)",
    )
    ret.add_argument(
        "--max-text-chars", type=_int_type(1, 1_000_000), default=1000, help="with --redact truncate"
    )
    ret.add_argument(
        "--redact-key-file",
        type=Path,
        default=None,
        help="file holding the HMAC key (--redact hash; default: 32 random bytes for this pass)",
    )
    ret.add_argument(
        "--redact-older-than", type=_float_type(0.0), default=0.0, help="redact days that ended this long ago"
    )
    ret.set_defaults(
        func=_log_retain,
        renames={
            "log": "LOG_DIR",
            "days": "--days",
            "archive": "--archive",
            "redact": "--redact",
            "max_text_chars": "--max-text-chars",
            "redact_key": "--redact-key-file",
            "older_than_days": "--redact-older-than",
        },
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``tierscope`` argument parser, one sub-command per job (in ``--help`` order)."""
    from ._core import __version__

    parser = _Parser(
        prog="tierscope",
        description="LLM cost routing that does not break the product.",
        epilog=_examples("tierscope"),
    )
    parser.add_argument("--version", action="version", version=f"tierscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_commands(sub)
    _add_router_commands(sub)
    _add_plan_command(sub)
    _add_audit_command(sub)
    _add_log_commands(sub)
    for name, command in sub.choices.items():  # an example in every sub-command's --help
        if command.epilog is None:
            command.epilog = _examples(name)
    for action in sub.choices["log"]._actions:  # and in every `log` sub-command's
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                command.epilog = command.epilog or _examples(f"log {name}")
    return parser


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def _flagged(message: str, renames: Mapping[str, str]) -> str:
    """The library's message with its argument names (```budget```) as the command's flags."""
    return re.sub(r"`([A-Za-z_]+)`", lambda m: f"`{renames.get(m.group(1), m.group(1))}`", message)


def _report(args: argparse.Namespace, err: BaseException) -> None:
    message = _flagged(_one_line(str(err)) or type(err).__name__, getattr(args, "renames", {}))
    print(f"tierscope: error: {args.command}: {message}", file=sys.stderr)


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """Warnings (e.g. a :class:`~tierscope.exceptions.ReviewPlanWarning`) as one stderr line each."""
    print(f"tierscope: warning: {_one_line(str(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tierscope`` command line; returns the exit status (see the module docstring).

    Usage errors and ``--help`` return their status too (2 and 0) rather than raising
    ``SystemExit``, so the CLI can be called in-process.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help (0) or a usage error (2, already reported)
        return stop.code if isinstance(stop.code, int) else 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except KeyboardInterrupt:
        print(f"tierscope: error: {args.command}: interrupted", file=sys.stderr)
        return 130
    except (InvalidInputError, FileNotFoundError, ValueError) as err:
        _report(args, err)
        return 2
    except (TierscopeError, OSError) as err:
        _report(args, err)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
