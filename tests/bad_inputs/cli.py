"""Bad inputs to the ``tierscope`` command line: every sub-command and flag.

Each case runs ``main(argv)`` in-process (a couple run ``python -m tierscope.cli``) and checks the
contract: a non-zero exit (2 for usage and bad input, 1 for other failures, 130 when interrupted),
exactly one line on stderr, ``tierscope: error: ...``, naming the flag or argument, and no
traceback.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.csv as pacsv
from tierscope.exceptions import ModelLoadError
from tierscope.log.decision_log import DecisionLog

from tests.bad_inputs import Case, Context, behaves
from tests.factories import routed_day


@dataclass(frozen=True)
class Ran:
    """What one CLI run left: its exit status, stdout and stderr."""

    code: int
    out: str
    err: str


def run_cli(argv: list[str]) -> Ran:
    """``main(argv)`` in-process, with stdout and stderr captured."""
    from tierscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Ran(code, out.getvalue(), err.getvalue())


def run_subprocess(argv: list[str]) -> Ran:
    proc = subprocess.run(
        [sys.executable, "-m", "tierscope.cli", *argv], capture_output=True, text=True, timeout=240
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)


def _contract(needles: tuple[str, ...], code: int) -> Callable[[Ran, Context], bool]:
    def check(ran: Ran, ctx: Context) -> bool:
        lines = ran.err.splitlines()
        assert ran.code == code, f"exit {ran.code}, expected {code}; stderr: {ran.err!r}"
        assert "Traceback" not in ran.err, ran.err
        assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
        assert lines[0].startswith("tierscope: error: "), lines[0]
        for needle in needles:
            assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
        return True

    return check


Argv = Callable[[Context], list[str]]


def fails(id: str, argv: Argv | list[str], *needles: str, code: int = 2, runner: Any = run_cli) -> Case:
    """A CLI case: ``argv`` (or ``argv(ctx)``) must fail with ``code`` and one line naming ``needles``."""
    make = argv if callable(argv) else (lambda ctx: list(argv))  # type: ignore[misc]
    return behaves(f"cli.{id}", lambda ctx: runner([str(a) for a in make(ctx)]), _contract(needles, code))


def _log(ctx: Context) -> Path:
    """A small decision log (one day of 200 decisions)."""
    path = ctx.tmp / "log"
    if not path.exists():
        with DecisionLog(path, fsync=False) as log:
            for rec in routed_day(200).to_dict("records"):
                log.log_decision(rec)
    return path


def _csv(ctx: Context, rows: dict[str, list[Any]] | None = None, name: str = "in.csv") -> Path:
    path = ctx.tmp / name
    pacsv.write_csv(pa.table(rows or {"text": ["hello", "where is my card"]}), path)
    return path


def _dir(ctx: Context, name: str) -> Path:
    path = ctx.tmp / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file(ctx: Context, name: str, text: str = "x") -> Path:
    path = ctx.tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _plan(ctx: Context, *extra: Any, out: Any = None) -> list[Any]:
    return ["plan", _log(ctx), "--out", out if out is not None else ctx.tmp / "p.csv", *extra]


def _audit(ctx: Context, *extra: Any) -> list[Any]:
    return ["audit", _log(ctx), *extra]


def _route(ctx: Context, *extra: Any) -> list[Any]:
    return ["route", ctx.default_dir, _csv(ctx), ctx.tmp / "o.parquet", *extra]


def _fit(ctx: Context, *extra: Any) -> list[Any]:
    src = _csv(ctx, {"text": ["a", "b"], "tier": ["cheap", "capable"]}, "train.csv")
    return ["fit", src, ctx.tmp / "router", *extra]


def _interrupted(ctx: Context) -> Ran:
    with mock.patch("tierscope.cli._audit", side_effect=KeyboardInterrupt):
        return run_cli(["audit", str(_log(ctx))])


def _os_error(ctx: Context) -> Ran:
    with mock.patch("tierscope.cli._audit", side_effect=PermissionError(13, "Permission denied", "x.html")):
        return run_cli(["audit", str(_log(ctx))])


def _model_error(ctx: Context) -> Ran:
    with mock.patch("tierscope.cli._route", side_effect=ModelLoadError("bad model.onnx\nsecond line")):
        return run_cli(["route", "m", "i.csv", "o.parquet"])


def _write_fails(ctx: Context) -> Ran:
    """An I/O error while the plan is written (after every check passed) is one line, exit 1."""
    with mock.patch("pandas.DataFrame.to_csv", side_effect=OSError(28, "No space left on device")):
        return run_cli([str(a) for a in _plan(ctx, "--budget", "30")])


def _ok(needle: str) -> Callable[[Ran, Context], bool]:
    def check(ran: Ran, ctx: Context) -> bool:
        assert ran.code == 0, ran.err
        assert needle in ran.out, ran.out
        return True

    return check


def _stats_nan(ctx: Context) -> list[Any]:
    return _audit(ctx, "--support-window-days", "nan")


GLOBAL: list[Case] = [
    fails("no_command", [], "command"),
    fails("unknown_command", ["bogus"], "bogus"),
    fails("unknown_flag", lambda c: _audit(c, "--frobnicate"), "--frobnicate"),
    behaves("cli.help_returns_zero", lambda c: run_cli(["audit", "--help"]), _ok("--html")),
    behaves("cli.top_help_returns_zero", lambda c: run_cli(["--help"]), _ok("plan")),
    behaves("cli.interrupted", _interrupted, _contract(("interrupted",), 130)),
    behaves("cli.os_error_is_one_line", _os_error, _contract(("Permission denied",), 1)),
    behaves("cli.model_error_is_one_line", _model_error, _contract(("bad model.onnx second line",), 1)),
    behaves("cli.write_error_is_one_line", _write_fails, _contract(("No space left",), 1)),
    fails("subprocess.audit_nan", _stats_nan, "--support-window-days", runner=run_subprocess),
    fails(
        "subprocess.plan_out_is_dir",
        lambda c: _plan(c, out=_dir(c, "out.csv")),
        "--out",
        "directory",
        runner=run_subprocess,
    ),
]

PLAN: list[Case] = [
    fails(
        "plan.log_missing",
        lambda c: ["plan", c.tmp / "nope", "--out", c.tmp / "p.csv"],
        "LOG_DIR",
        "not found",
    ),
    fails("plan.log_is_file", lambda c: ["plan", _file(c, "f"), "--out", c.tmp / "p.csv"], "LOG_DIR"),
    fails("plan.out_missing_flag", lambda c: ["plan", _log(c)], "--out"),
    fails("plan.out_suffix", lambda c: _plan(c, out=c.tmp / "p.txt"), "--out"),
    fails("plan.out_is_dir", lambda c: _plan(c, out=_dir(c, "d.parquet")), "--out", "directory"),
    fails("plan.out_dir_missing", lambda c: _plan(c, out=c.tmp / "no" / "p.csv"), "--out", "not found"),
    fails("plan.budget_zero", lambda c: _plan(c, "--budget", "0"), "--budget"),
    fails("plan.budget_negative", lambda c: _plan(c, "--budget", "-5"), "--budget"),
    fails("plan.budget_float", lambda c: _plan(c, "--budget", "2.5"), "--budget"),
    fails("plan.budget_nan", lambda c: _plan(c, "--budget", "nan"), "--budget"),
    fails("plan.budget_huge", lambda c: _plan(c, "--budget", str(2**70)), "--budget"),
    fails("plan.seed_negative", lambda c: _plan(c, "--seed", "-1"), "--seed"),
    fails("plan.seed_text", lambda c: _plan(c, "--seed", "abc"), "--seed"),
    fails("plan.seed_huge", lambda c: _plan(c, "--seed", str(2**70)), "--seed"),
    fails("plan.day_garbage", lambda c: _plan(c, "--day", "tomorrow"), "--day"),
    fails("plan.day_and_since", lambda c: _plan(c, "--day", "2026-05-04", "--since", "2026-05-04"), "--day"),
    fails("plan.since_garbage", lambda c: _plan(c, "--since", "2026-13-01"), "--since"),
    fails("plan.until_garbage", lambda c: _plan(c, "--until", "soon"), "--until"),
    fails(
        "plan.since_after_until",
        lambda c: _plan(c, "--since", "2026-06-01", "--until", "2026-05-01"),
        "--since",
    ),
    fails("plan.empty_window", lambda c: _plan(c, "--day", "2027-01-01"), "LOG_DIR"),
    fails("plan.method_unknown", lambda c: _plan(c, "--method", "precision"), "--method"),
    fails(
        "plan.min_per_stratum_negative", lambda c: _plan(c, "--min-per-stratum", "-1"), "--min-per-stratum"
    ),
    fails("plan.min_per_stratum_float", lambda c: _plan(c, "--min-per-stratum", "0.5"), "--min-per-stratum"),
    fails("plan.empty_log", lambda c: ["plan", _dir(c, "empty"), "--out", c.tmp / "p.csv"], "LOG_DIR"),
    behaves("cli.plan.ok", lambda c: run_cli([str(a) for a in _plan(c, "--budget", "30")]), _ok("wrote")),
]

AUDIT: list[Case] = [
    fails("audit.log_missing", lambda c: ["audit", c.tmp / "nope"], "LOG_DIR", "not found"),
    fails("audit.log_is_file", lambda c: ["audit", _file(c, "f")], "LOG_DIR"),
    fails("audit.html_is_dir", lambda c: _audit(c, "--html", _dir(c, "r.html")), "--html", "directory"),
    fails(
        "audit.html_dir_missing",
        lambda c: _audit(c, "--html", c.tmp / "no" / "r.html"),
        "--html",
        "not found",
    ),
    fails("audit.since_garbage", lambda c: _audit(c, "--since", "last week"), "--since"),
    fails("audit.until_garbage", lambda c: _audit(c, "--until", "x"), "--until"),
    fails(
        "audit.since_after_until",
        lambda c: _audit(c, "--since", "2026-06-01", "--until", "2026-05-01"),
        "--since",
    ),
    fails("audit.empty_window", lambda c: _audit(c, "--since", "2027-01-01"), "--since"),
    fails("audit.cost_negative", lambda c: _audit(c, "--cost-per-contact", "-1"), "--cost-per-contact"),
    fails("audit.cost_nan", lambda c: _audit(c, "--cost-per-contact", "nan"), "--cost-per-contact"),
    fails("audit.cost_inf", lambda c: _audit(c, "--cost-per-contact", "inf"), "--cost-per-contact"),
    fails("audit.cost_text", lambda c: _audit(c, "--cost-per-contact", "three"), "--cost-per-contact"),
    fails("audit.window_nan", lambda c: _audit(c, "--support-window-days", "nan"), "--support-window-days"),
    fails(
        "audit.window_negative", lambda c: _audit(c, "--support-window-days", "-2"), "--support-window-days"
    ),
    fails("audit.window_inf", lambda c: _audit(c, "--support-window-days", "inf"), "--support-window-days"),
    fails("audit.tolerance_zero", lambda c: _audit(c, "--tolerance", "0"), "--tolerance"),
    fails("audit.tolerance_one", lambda c: _audit(c, "--tolerance", "1"), "--tolerance"),
    fails("audit.tolerance_nan", lambda c: _audit(c, "--tolerance", "nan"), "--tolerance"),
    fails("audit.arl_one", lambda c: _audit(c, "--arl", "1"), "--arl"),
    fails("audit.arl_below_one", lambda c: _audit(c, "--arl", "0.5"), "--arl"),
    fails("audit.arl_nan", lambda c: _audit(c, "--arl", "nan"), "--arl"),
    fails("audit.arl_inf", lambda c: _audit(c, "--arl", "inf"), "--arl"),
    fails(
        "audit.monitor_method_unknown", lambda c: _audit(c, "--monitor-method", "cusum"), "--monitor-method"
    ),
    fails(
        "audit.reference_missing",
        lambda c: _audit(c, "--reference", c.tmp / "none.json"),
        "--reference",
        "not found",
    ),
    fails(
        "audit.reference_not_json",
        lambda c: _audit(c, "--reference", _file(c, "r.json", "{oops")),
        "--reference",
    ),
    fails(
        "audit.reference_no_key", lambda c: _audit(c, "--reference", _file(c, "r.json", "{}")), "--reference"
    ),
    fails(
        "audit.reference_dir_without_json",
        lambda c: _audit(c, "--reference", _dir(c, "router")),
        "--reference",
    ),
    fails(
        "audit.reference_bad_histogram",
        lambda c: _audit(c, "--reference", _file(c, "r.json", '{"reference": {"confidence_edges": [0]}}')),
        "--reference",
    ),
    fails("audit.empty_log", lambda c: ["audit", _dir(c, "empty")], "LOG_DIR"),
    behaves("cli.audit.ok", lambda c: run_cli([str(a) for a in _audit(c)]), _ok("tierscope audit")),
]

ROUTE: list[Case] = [
    fails(
        "route.model_missing",
        lambda c: ["route", c.tmp / "nomodel", _csv(c), c.tmp / "o.parquet"],
        "MODEL_DIR",
    ),
    fails(
        "route.input_missing",
        lambda c: ["route", c.default_dir, c.tmp / "none.csv", c.tmp / "o.parquet"],
        "INPUT",
        "not found",
    ),
    fails(
        "route.input_is_dir", lambda c: ["route", c.default_dir, _dir(c, "in"), c.tmp / "o.parquet"], "INPUT"
    ),
    fails(
        "route.output_is_dir",
        # A plain directory is a partitioned output; one named like a file is refused.
        lambda c: ["route", c.default_dir, _csv(c), _dir(c, "out.parquet")],
        "OUTPUT",
        "directory",
    ),
    fails(
        "route.output_dir_missing",
        lambda c: ["route", c.default_dir, _csv(c), c.tmp / "no" / "o.parquet"],
        "OUTPUT",
    ),
    fails("route.output_is_input", lambda c: ["route", c.default_dir, _csv(c), c.tmp / "in.csv"], "OUTPUT"),
    fails("route.missing_positional", lambda c: ["route", c.default_dir], "INPUT"),
    fails("route.text_col_missing", lambda c: _route(c, "--text-col", "query"), "'query'"),
    fails("route.text_col_empty", lambda c: _route(c, "--text-col", ""), "--text-col"),
    fails("route.chunk_size_zero", lambda c: _route(c, "--chunk-size", "0"), "--chunk-size"),
    fails("route.chunk_size_float", lambda c: _route(c, "--chunk-size", "1.5"), "--chunk-size"),
    fails("route.chunk_size_huge", lambda c: _route(c, "--chunk-size", str(2**64)), "--chunk-size"),
    fails(
        "route.bad_suffix",
        lambda c: ["route", c.default_dir, _file(c, "in.txt"), c.tmp / "o.parquet"],
        "in.txt",
    ),
    fails(
        "route.empty_input",
        lambda c: ["route", c.default_dir, _file(c, "e.csv", ""), c.tmp / "o.parquet"],
        "empty",
    ),
]

FIT: list[Case] = [
    fails("fit.train_missing", lambda c: ["fit", c.tmp / "none.csv", c.tmp / "r"], "TRAIN_FILE", "not found"),
    fails("fit.out_is_file", lambda c: ["fit", _csv(c), _file(c, "r")], "OUT_DIR"),
    fails("fit.encoder_missing", lambda c: _fit(c, "--encoder", c.tmp / "enc"), "--encoder", "not found"),
    fails("fit.tier_order_one", lambda c: _fit(c, "--tier-order", "cheap"), "--tier-order"),
    fails("fit.tier_order_repeated", lambda c: _fit(c, "--tier-order", "cheap,cheap"), "--tier-order"),
    fails("fit.tier_order_empty_name", lambda c: _fit(c, "--tier-order", "cheap,,capable"), "--tier-order"),
    fails("fit.seed_negative", lambda c: _fit(c, "--seed", "-3"), "--seed"),
    fails("fit.text_col_missing", lambda c: _fit(c, "--text-col", "q", "--encoder", c.default_dir), "'q'"),
    fails("fit.tier_col_empty", lambda c: _fit(c, "--tier-col", " "), "--tier-col"),
]

DEMO: list[Case] = [
    fails("demo.days_one", ["demo", "--days", "1"], "--days"),
    fails("demo.days_text", ["demo", "--days", "many"], "--days"),
    fails("demo.per_day_zero", ["demo", "--per-day", "0"], "--per-day"),
    fails("demo.seed_negative", ["demo", "--seed", "-1"], "--seed"),
    fails("demo.top_negative", ["demo", "--routing-only", "--top", "-1"], "--top"),
    fails(
        "demo.latency_samples_zero", ["demo", "--routing-only", "--latency-samples", "0"], "--latency-samples"
    ),
    fails("demo.out_is_file", lambda c: ["demo", "--quick", "--out", _file(c, "o")], "--out"),
    fails(
        "demo.html_with_directory",
        lambda c: ["demo", "--quick", "--out", c.tmp, "--html", "a/b.html"],
        "--html",
    ),
    fails("route_demo.top_text", ["route-demo", "--top", "ten"], "--top"),
    fails("route_demo.latency_samples_nan", ["route-demo", "--latency-samples", "nan"], "--latency-samples"),
    fails(
        "build_default_router.out_is_file",
        lambda c: ["build-default-router", "--out", _file(c, "o")],
        "--out",
    ),
    fails("build_default_router.unknown_flag", ["build-default-router", "--fp32"], "--fp32"),
]

CASES: list[Case] = [*GLOBAL, *PLAN, *AUDIT, *ROUTE, *FIT, *DEMO]
