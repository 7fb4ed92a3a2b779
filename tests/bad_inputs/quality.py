"""Bad inputs to the quality layer: :func:`plan_reviews`, :class:`ReviewPlan`'s methods, :func:`audit`,
:meth:`AuditReport.to_html`, and batch routing (:mod:`tierscope.batch`).

Every argument is checked before the log is read: some cases pass a missing log directory *and* a
bad argument and expect the argument's error, which proves the order.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError
from tierscope.log.decision_log import DecisionLog

from tests.bad_inputs import Case, Context, behaves, expect
from tests.factories import synthetic_log

NAN = math.nan
INF = math.inf
BAD = InvalidInputError
MISSING = TierscopeFileNotFoundError


@functools.lru_cache(maxsize=1)
def _day() -> pd.DataFrame:
    from tests.factories import routed_day

    return routed_day(300)


def day() -> pd.DataFrame:
    """A day of routed traffic (a fresh copy: cases must not share mutations)."""
    return _day().copy()


@functools.lru_cache(maxsize=1)
def _two_days() -> tuple[pd.DataFrame, pd.DataFrame]:
    d, o, _ = synthetic_log(days=2, per_day=200, seed=3)
    return d, o


def pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    d, o = _two_days()
    return d.copy(), o.copy()


def plan(**kw: Any) -> Any:
    from tierscope.quality.review_plan import plan_reviews

    return plan_reviews(day(), **kw)


def audit(**kw: Any) -> Any:
    from tierscope.quality.audit import audit as run

    return run(pair(), **kw)


def audit_missing_log(ctx: Context, **kw: Any) -> Any:
    """``audit`` of a missing directory: an argument error must come first."""
    from tierscope.quality.audit import audit as run

    return run(ctx.tmp / "no-such-log", **kw)


def plan_missing_log(ctx: Context, **kw: Any) -> Any:
    from tierscope.quality.review_plan import plan_reviews

    return plan_reviews(ctx.tmp / "no-such-log", **kw)


@functools.lru_cache(maxsize=1)
def _report() -> Any:
    return audit()


def _one_plan() -> Any:
    return plan(budget=30)


def _pipe_tiers(ctx: Context) -> Any:
    """Tiers named ``a|b`` and ``a`` (and a category with ``|``) keep their own strata."""
    df = day()
    df["answered_by"] = np.where(np.arange(len(df)) % 2 == 0, "a|b", "a")
    df["category"] = "card|arrival"
    return plan_reviews_df(df, budget=60, seed=1)


def plan_reviews_df(df: pd.DataFrame, **kw: Any) -> Any:
    from tierscope.quality.review_plan import plan_reviews

    return plan_reviews(df, **kw)


def _check_pipe_tiers(result: Any, ctx: Context) -> bool:
    alloc = result.allocation
    assert set(alloc["tier"]) == {"a|b", "a"}, alloc["tier"].tolist()
    assert set(result.table["tier"]) <= {"a|b", "a"}
    assert alloc["confidence_band"].str.startswith("conf[").all()
    assert alloc["tail_band"].str.startswith("tail[").all()
    per_tier = result.per_tier().set_index("tier")["population"]
    return bool(per_tier["a|b"] == per_tier["a"] == 150)


def _log_dir(ctx: Context) -> Path:
    path = ctx.tmp / "log"
    with DecisionLog(path, fsync=False) as log:
        for rec in day().head(50).to_dict("records"):
            log.log_decision(rec)
    return path


def _log_reviews(ctx: Context, scores: Any, **kw: Any) -> Any:
    p = _one_plan()
    with DecisionLog(ctx.tmp / "rlog", fsync=False) as log:
        return p.log_reviews(log, scores(p) if callable(scores) else scores, **kw)


def _first(p: Any) -> str:
    return str(p.request_ids[0])


def _csv(ctx: Context, rows: dict[str, list[Any]], name: str = "in.csv") -> Path:
    path = ctx.tmp / name
    pacsv.write_csv(pa.table(rows), path)
    return path


def _chunks(path: Any, column: str = "text", chunk_size: Any = 10) -> list[list[str]]:
    from tierscope.batch import iter_text_chunks

    return list(iter_text_chunks(path, column, chunk_size))


def _route(ctx: Context, *, inp: Any = None, out: Any = None, model: Any = None, **kw: Any) -> Any:
    from tierscope.batch import route_file

    src = inp(ctx) if callable(inp) else (inp if inp is not None else _csv(ctx, {"text": ["hi", "yo"]}))
    dst = out(ctx) if callable(out) else (out if out is not None else ctx.tmp / "out.parquet")
    return route_file(model if model is not None else ctx.default_dir, src, dst, progress=False, **kw)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _big_cell(ctx: Context) -> Any:
    """A 5 MiB CSV cell (over pyarrow's default 4 MiB block) is read and routed, not a file error."""
    big = "lost card " * (5 * 1024 * 1024 // 10 + 1)
    src = _csv(ctx, {"text": ["where is my card", big, "top up"]}, "big.csv")
    return _route(ctx, inp=src), src


def _check_big_cell(result: Any, ctx: Context) -> bool:
    summary, _ = result
    table = pq.read_table(summary["output"])
    return bool(summary["rows"] == 3 and table.column("row").to_pylist() == [0, 1, 2])


def _nine_mib_cell(ctx: Context) -> list[list[str]]:
    """A 9 MiB CSV cell (over twice pyarrow's old 4 MiB block, where reading used to fail)."""
    return _chunks(_csv(ctx, {"text": ["a", "y" * (9 << 20), "b"]}, "nine.csv"))


def _parquet_ints(ctx: Context) -> Path:
    path = ctx.tmp / "ints.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), path)
    return path


def _write(ctx: Context, name: str, text: str) -> Path:
    path = ctx.tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(ctx: Context, text: str) -> Path:
    return _write(ctx, "in.jsonl", text)


def _columns(path: Path, columns: Any) -> Any:
    from tierscope.batch import read_table_columns

    return read_table_columns(path, columns)


def _route_progress(ctx: Context, progress: Any) -> Any:
    from tierscope.batch import route_file

    return route_file(ctx.default_dir, _csv(ctx, {"text": ["a"]}), ctx.tmp / "o.parquet", progress=progress)


def _audit_of(log: Any) -> Any:
    from tierscope.quality.audit import audit as run

    return run(log)


def _nothing_written(path_of: Any) -> Any:
    """A check: the call failed before writing ``path_of(ctx)``."""

    def check(result: Any, ctx: Context) -> bool:
        return not path_of(ctx).exists()

    return check


# ----------------------------------------------------------------------------- plan_reviews

PLAN_CASES: list[Case] = [
    expect("plan.budget.zero", lambda c: plan(budget=0), BAD, "`budget`"),
    expect("plan.budget.negative", lambda c: plan(budget=-1), BAD, "`budget`"),
    expect("plan.budget.float", lambda c: plan(budget=2.5), BAD, "`budget`"),
    expect("plan.budget.bool", lambda c: plan(budget=True), BAD, "`budget`"),
    expect("plan.budget.string", lambda c: plan(budget="10"), BAD, "`budget`"),
    expect("plan.budget.nan", lambda c: plan(budget=NAN), BAD, "`budget`"),
    expect("plan.budget.huge", lambda c: plan(budget=2**70), BAD, "`budget`"),
    expect("plan.budget.none", lambda c: plan(budget=None), BAD, "`budget`"),
    expect("plan.method.unknown", lambda c: plan(method="stratified"), BAD, "`method`"),
    expect("plan.method.none", lambda c: plan(method=None), BAD, "`method`"),
    expect("plan.min_per_stratum.negative", lambda c: plan(min_per_stratum=-1), BAD, "`min_per_stratum`"),
    expect("plan.min_per_stratum.float", lambda c: plan(min_per_stratum=1.5), BAD, "`min_per_stratum`"),
    expect("plan.min_per_stratum.bool", lambda c: plan(min_per_stratum=True), BAD, "`min_per_stratum`"),
    expect("plan.seed.negative", lambda c: plan(seed=-1), BAD, "`seed`"),
    expect("plan.seed.float", lambda c: plan(seed=1.5), BAD, "`seed`"),
    expect("plan.seed.bool", lambda c: plan(seed=True), BAD, "`seed`"),
    expect("plan.seed.huge", lambda c: plan(seed=2**70), BAD, "`seed`"),
    expect("plan.level.zero", lambda c: plan(level=0), BAD, "`level`"),
    expect("plan.level.one", lambda c: plan(level=1.0), BAD, "`level`"),
    expect("plan.level.nan", lambda c: plan(level=NAN), BAD, "`level`"),
    expect("plan.level.string", lambda c: plan(level="0.95"), BAD, "`level`"),
    expect("plan.level.bool", lambda c: plan(level=True), BAD, "`level`"),
    expect(
        "plan.confidence_bands.decreasing",
        lambda c: plan(confidence_bands=(0.9, 0.5)),
        BAD,
        "`confidence_bands`",
    ),
    expect(
        "plan.confidence_bands.repeated",
        lambda c: plan(confidence_bands=(0.5, 0.5)),
        BAD,
        "`confidence_bands`",
    ),
    expect(
        "plan.confidence_bands.above_one", lambda c: plan(confidence_bands=(1.2,)), BAD, "`confidence_bands`"
    ),
    expect("plan.confidence_bands.nan", lambda c: plan(confidence_bands=(NAN,)), BAD, "`confidence_bands`"),
    expect("plan.confidence_bands.text", lambda c: plan(confidence_bands="0.5"), BAD, "`confidence_bands`"),
    expect("plan.confidence_bands.scalar", lambda c: plan(confidence_bands=0.5), BAD, "`confidence_bands`"),
    expect("plan.confidence_bands.bool", lambda c: plan(confidence_bands=(True,)), BAD, "`confidence_bands`"),
    expect("plan.tail_bands.zero", lambda c: plan(tail_bands=(0.0,)), BAD, "`tail_bands`"),
    expect("plan.tail_bands.inf", lambda c: plan(tail_bands=(INF,)), BAD, "`tail_bands`"),
    expect("plan.tail_bands.strings", lambda c: plan(tail_bands=("x",)), BAD, "`tail_bands`"),
    expect(
        "plan.targets.unknown_tier",
        lambda c: plan(method="precision", targets={"gold": 0.05}),
        BAD,
        "`targets`",
        "gold",
    ),
    expect(
        "plan.targets.nan",
        lambda c: plan(method="precision", targets={"cheap": NAN}),
        BAD,
        "`targets`",
        "cheap",
    ),
    expect(
        "plan.targets.too_wide", lambda c: plan(method="precision", targets={"cheap": 1.5}), BAD, "`targets`"
    ),
    expect(
        "plan.targets.bool", lambda c: plan(method="precision", targets={"cheap": True}), BAD, "`targets`"
    ),
    expect(
        "plan.targets.not_mapping",
        lambda c: plan(method="precision", targets=[("cheap", 0.1)]),
        BAD,
        "`targets`",
    ),
    expect("plan.targets.int_key", lambda c: plan(method="precision", targets={1: 0.1}), BAD, "`targets`"),
    expect("plan.targets.missing_for_precision", lambda c: plan(method="precision"), BAD, "`targets`"),
    expect("plan.previous.unknown_tier", lambda c: plan(previous={"gold": 0.3}), BAD, "`previous`"),
    expect("plan.previous.nan", lambda c: plan(previous={"cheap": NAN}), BAD, "`previous`", "cheap"),
    expect("plan.previous.above_one", lambda c: plan(previous={"cheap": 2}), BAD, "`previous`"),
    expect("plan.previous.text", lambda c: plan(previous="abc"), BAD, "`previous`"),
    expect(
        "plan.previous.table_with_nan_scores",
        lambda c: plan(previous=pd.DataFrame({"tier": ["cheap", "cheap"], "score": [NAN, 1.0]})),
        BAD,
        "`previous`",
    ),
    expect("plan.oversample.unknown_key", lambda c: plan(oversample={"vip": 2.0}), BAD, "`oversample`"),
    expect(
        "plan.oversample.below_one", lambda c: plan(oversample={"tail": 0.5}), BAD, "`oversample`", "tail"
    ),
    expect("plan.oversample.nan", lambda c: plan(oversample={"tail": NAN}), BAD, "`oversample`"),
    expect("plan.oversample.inf", lambda c: plan(oversample={"low_confidence": INF}), BAD, "`oversample`"),
    expect("plan.oversample.bool", lambda c: plan(oversample={"tail": True}), BAD, "`oversample`"),
    expect("plan.oversample.number", lambda c: plan(oversample=5), BAD, "`oversample`"),
    expect(
        "plan.oversample.wrong_shape", lambda c: plan(oversample=lambda d: [1.0, 2.0]), BAD, "`oversample`"
    ),
    expect(
        "plan.oversample.function_fails",
        lambda c: plan(oversample=lambda d: d["nope"].to_numpy() + "x"),
        BAD,
        "`oversample`",
    ),
    expect("plan.tiers.missing_one", lambda c: plan(tiers=["cheap"]), BAD, "`tiers`"),
    expect("plan.tiers.string", lambda c: plan(tiers="cheap"), BAD, "`tiers`"),
    expect("plan.tiers.empty", lambda c: plan(tiers=[]), BAD, "`tiers`"),
    expect("plan.tiers.repeated", lambda c: plan(tiers=["cheap", "cheap", "capable"]), BAD, "`tiers`"),
    expect("plan.tiers.not_strings", lambda c: plan(tiers=[1, 2]), BAD, "tiers"),
    expect(
        "plan.since_after_until",
        lambda c: plan(since=datetime(2026, 6, 1), until=datetime(2026, 5, 1)),
        BAD,
        "`since`",
    ),
    expect("plan.since.not_a_date", lambda c: plan(since="yesterday"), BAD, "`since`"),
    expect("plan.day_and_since", lambda c: plan(day=date(2026, 5, 4), since=date(2026, 5, 4)), BAD, "`day`"),
    expect("plan.day.number", lambda c: plan(day=12345), BAD, "`day`"),
    expect("plan.day.empty_window", lambda c: plan(day=date(2027, 1, 1)), BAD, "`log`"),
    expect("plan.log.number", lambda c: plan_reviews_df(42), BAD, "`log`"),
    expect("plan.log.missing_dir", lambda c: plan_missing_log(c), MISSING, "`log`", "no-such-log"),
    expect("plan.log.a_file", lambda c: plan_reviews_df(_csv(c, {"text": ["x"]})), BAD, "`log`"),
    expect(
        "plan.log.no_timestamp", lambda c: plan_reviews_df(pd.DataFrame({"request_id": ["a"]})), BAD, "`log`"
    ),
    expect("plan.checks_before_reading.budget", lambda c: plan_missing_log(c, budget=0), BAD, "`budget`"),
    expect(
        "plan.checks_before_reading.bands",
        lambda c: plan_missing_log(c, tail_bands=(2.0,)),
        BAD,
        "`tail_bands`",
    ),
    expect(
        "plan.checks_before_reading.previous",
        lambda c: plan_missing_log(c, previous={"x": NAN}),
        BAD,
        "`previous`",
    ),
    behaves("plan.pipe_in_tier_names", _pipe_tiers, _check_pipe_tiers),
    behaves(
        "plan.numpy_integers",
        lambda c: plan(budget=np.int64(40), seed=np.uint32(3)),
        lambda r, c: r.budget == 40,
    ),
    behaves(
        "plan.from_log_dir", lambda c: plan_reviews_df(_log_dir(c), budget=40), lambda r, c: r.budget == 40
    ),
]

# ----------------------------------------------------------------------------- ReviewPlan methods

REVIEW_PLAN_CASES: list[Case] = [
    expect(
        "plan.write.missing_dir",
        lambda c: _one_plan().write(c.tmp / "nope" / "p.csv"),
        MISSING,
        "`path`",
        "nope",
    ),
    expect("plan.write.a_directory", lambda c: _one_plan().write(_mkdir(c.tmp / "d.csv")), BAD, "`path`"),
    expect("plan.write.suffix", lambda c: _one_plan().write(c.tmp / "p.txt"), BAD, "`path`"),
    expect("plan.write.none", lambda c: _one_plan().write(None), BAD, "`path`"),
    expect("plan.write.number", lambda c: _one_plan().write(123), BAD, "`path`"),
    behaves("plan.write.parquet", lambda c: _one_plan().write(c.tmp / "p.parquet"), lambda r, c: r.is_file()),
    expect("plan.log_reviews.unknown_id", lambda c: _log_reviews(c, {"not-planned": True}), BAD, "`scores`"),
    expect(
        "plan.log_reviews.nan_score", lambda c: _log_reviews(c, lambda p: {_first(p): NAN}), BAD, "`scores`"
    ),
    expect(
        "plan.log_reviews.score_above_one",
        lambda c: _log_reviews(c, lambda p: {_first(p): 1.5}),
        BAD,
        "`scores`",
    ),
    expect(
        "plan.log_reviews.score_text",
        lambda c: _log_reviews(c, lambda p: {_first(p): "yes"}),
        BAD,
        "`scores`",
    ),
    expect("plan.log_reviews.not_mapping", lambda c: _log_reviews(c, ["a"]), BAD, "`scores`"),
    expect("plan.log_reviews.reviewer_number", lambda c: _log_reviews(c, {}, reviewer=5), BAD, "`reviewer`"),
    expect("plan.log_reviews.log_none", lambda c: _one_plan().log_reviews(None, {}), BAD, "`log`"),
    behaves(
        "plan.log_reviews.numpy_bool",
        lambda c: _log_reviews(c, lambda p: {_first(p): np.bool_(True)}),
        lambda r, c: r == 1,
    ),
]

# ----------------------------------------------------------------------------- audit

AUDIT_CASES: list[Case] = [
    expect("audit.baseline.nan", lambda c: audit(baseline=NAN), BAD, "`baseline`"),
    expect("audit.baseline.above_one", lambda c: audit(baseline=1.5), BAD, "`baseline`"),
    expect("audit.baseline.negative", lambda c: audit(baseline=-0.1), BAD, "`baseline`"),
    expect("audit.baseline.inf", lambda c: audit(baseline=INF), BAD, "`baseline`"),
    expect("audit.baseline.bool", lambda c: audit(baseline=True), BAD, "`baseline`"),
    expect("audit.baseline.string", lambda c: audit(baseline="0.9"), BAD, "`baseline`"),
    expect(
        "audit.baseline.mapping_nan", lambda c: audit(baseline={"cheap": NAN}), BAD, "`baseline`", "cheap"
    ),
    expect("audit.baseline.mapping_above_one", lambda c: audit(baseline={"cheap": 1.5}), BAD, "`baseline`"),
    expect("audit.baseline.unknown_tier", lambda c: audit(baseline={"gold": 0.9}), BAD, "`baseline`", "gold"),
    expect("audit.prices.negative", lambda c: audit(prices={"cheap": -1}), BAD, "`prices`", "cheap"),
    expect("audit.prices.nan", lambda c: audit(prices={"cheap": NAN}), BAD, "`prices`"),
    expect("audit.prices.inf", lambda c: audit(prices={"capable": INF}), BAD, "`prices`"),
    expect("audit.prices.string", lambda c: audit(prices={"cheap": "1"}), BAD, "`prices`"),
    expect("audit.prices.unknown_tier", lambda c: audit(prices={"gold": 1.0}), BAD, "`prices`", "gold"),
    expect("audit.prices.not_mapping", lambda c: audit(prices=[1, 2]), BAD, "`prices`"),
    expect(
        "audit.support_window_days.nan",
        lambda c: audit(support_window_days=NAN),
        BAD,
        "`support_window_days`",
    ),
    expect(
        "audit.support_window_days.negative",
        lambda c: audit(support_window_days=-1),
        BAD,
        "`support_window_days`",
    ),
    expect(
        "audit.support_window_days.inf",
        lambda c: audit(support_window_days=INF),
        BAD,
        "`support_window_days`",
    ),
    expect(
        "audit.support_window_days.bool",
        lambda c: audit(support_window_days=True),
        BAD,
        "`support_window_days`",
    ),
    expect(
        "audit.cost_per_contact.negative", lambda c: audit(cost_per_contact=-1), BAD, "`cost_per_contact`"
    ),
    expect("audit.cost_per_contact.nan", lambda c: audit(cost_per_contact=NAN), BAD, "`cost_per_contact`"),
    expect("audit.cost_per_contact.string", lambda c: audit(cost_per_contact="3"), BAD, "`cost_per_contact`"),
    expect("audit.tolerance.zero", lambda c: audit(tolerance=0), BAD, "`tolerance`"),
    expect("audit.tolerance.nan", lambda c: audit(tolerance=NAN), BAD, "`tolerance`"),
    expect("audit.tolerance.bool", lambda c: audit(tolerance=True), BAD, "`tolerance`"),
    expect("audit.alpha.one", lambda c: audit(alpha=1.0), BAD, "`alpha`"),
    expect("audit.alpha.nan", lambda c: audit(alpha=NAN), BAD, "`alpha`"),
    expect("audit.level.zero", lambda c: audit(level=0.0), BAD, "`level`"),
    expect("audit.baseline_days.zero", lambda c: audit(baseline_days=0), BAD, "`baseline_days`"),
    expect("audit.baseline_days.float", lambda c: audit(baseline_days=1.5), BAD, "`baseline_days`"),
    expect("audit.baseline_days.bool", lambda c: audit(baseline_days=True), BAD, "`baseline_days`"),
    expect("audit.baseline_days.huge", lambda c: audit(baseline_days=2**70), BAD, "`baseline_days`"),
    expect("audit.restart_every.negative", lambda c: audit(restart_every=-1), BAD, "`restart_every`"),
    expect("audit.restart_every.float", lambda c: audit(restart_every=1.5), BAD, "`restart_every`"),
    expect("audit.monitor_method.unknown", lambda c: audit(monitor_method="cusum"), BAD, "`monitor_method`"),
    expect("audit.monitor_method.none", lambda c: audit(monitor_method=None), BAD, "`monitor_method`"),
    expect("audit.monitor_target.unknown", lambda c: audit(monitor_target="median"), BAD, "`monitor_target`"),
    expect("audit.arl.one", lambda c: audit(arl=1.0), BAD, "`arl`"),
    expect("audit.arl.nan", lambda c: audit(arl=NAN), BAD, "`arl`"),
    expect("audit.arl.inf", lambda c: audit(arl=INF), BAD, "`arl`"),
    expect("audit.arl.string", lambda c: audit(arl="1000"), BAD, "`arl`"),
    expect("audit.tiers.unknown", lambda c: audit(tiers=["cheap", "gold"]), BAD, "`tiers`"),
    expect("audit.tiers.string", lambda c: audit(tiers="cheap"), BAD, "`tiers`"),
    expect("audit.tiers.empty", lambda c: audit(tiers=[]), BAD, "`tiers`"),
    expect("audit.tiers.none_item", lambda c: audit(tiers=[None]), BAD, "tiers"),
    expect("audit.capable_tier.unknown", lambda c: audit(capable_tier="gold"), BAD, "`capable_tier`"),
    expect("audit.capable_tier.number", lambda c: audit(capable_tier=5), BAD, "`capable_tier`"),
    expect("audit.capable_tier.empty", lambda c: audit(capable_tier=""), BAD, "`capable_tier`"),
    expect(
        "audit.reference.one_edge",
        lambda c: audit(reference={"confidence_edges": [0, 1]}),
        BAD,
        "`reference`",
    ),
    expect(
        "audit.reference.nan_edges",
        lambda c: audit(reference={"confidence_edges": [0, NAN, 1], "confidence_counts": [1, 1]}),
        BAD,
        "`reference`",
    ),
    expect(
        "audit.reference.negative_counts",
        lambda c: audit(reference={"confidence_edges": [0, 0.5, 1], "confidence_counts": [5, -1]}),
        BAD,
        "`reference`",
    ),
    expect(
        "audit.reference.text_counts",
        lambda c: audit(reference={"confidence_edges": [0, 0.5, 1], "confidence_counts": ["a", "b"]}),
        BAD,
        "`reference`",
    ),
    expect("audit.reference.string", lambda c: audit(reference="router"), BAD, "`reference`"),
    expect(
        "audit.since_after_until",
        lambda c: audit(since=date(2026, 6, 1), until=date(2026, 5, 1)),
        BAD,
        "`since`",
    ),
    expect("audit.since.empty_window", lambda c: audit(since=date(2027, 1, 1)), BAD, "`since`"),
    expect("audit.since.garbage", lambda c: audit(since="garbage"), BAD, "`since`"),
    expect("audit.log.missing_dir", lambda c: audit_missing_log(c), MISSING, "`log`", "no-such-log"),
    expect("audit.log.number", lambda c: _audit_of(42), BAD, "`log`"),
    expect(
        "audit.checks_before_reading.baseline",
        lambda c: audit_missing_log(c, baseline=NAN),
        BAD,
        "`baseline`",
    ),
    expect(
        "audit.checks_before_reading.prices",
        lambda c: audit_missing_log(c, prices={"cheap": -1}),
        BAD,
        "`prices`",
    ),
    expect(
        "audit.checks_before_reading.window",
        lambda c: audit_missing_log(c, support_window_days=NAN),
        BAD,
        "`support_window_days`",
    ),
    behaves(
        "audit.baseline.mapping_ok",
        lambda c: audit(baseline={"cheap": 0.9}),
        lambda r, c: r.n_decisions == 400,
    ),
]

# ----------------------------------------------------------------------------- AuditReport.to_html

REPORT_CASES: list[Case] = [
    expect(
        "report.to_html.missing_dir",
        lambda c: _report().to_html(c.tmp / "nope" / "r.html"),
        MISSING,
        "`path`",
    ),
    expect("report.to_html.a_directory", lambda c: _report().to_html(c.tmp), BAD, "`path`"),
    expect("report.to_html.none", lambda c: _report().to_html(None), BAD, "`path`"),
    expect(
        "report.to_html.figures_string",
        lambda c: _report().to_html(c.tmp / "r.html", figures="no"),
        BAD,
        "`figures`",
    ),
    behaves(
        "report.to_html.no_figures",
        lambda c: _report().to_html(c.tmp / "r.html", figures=False),
        lambda r, c: "<html" in r.read_text(encoding="utf-8"),
    ),
]

# ----------------------------------------------------------------------------- batch routing

BATCH_CASES: list[Case] = [
    expect("batch.chunks.missing_file", lambda c: _chunks(c.tmp / "none.csv"), MISSING, "`path`", "none.csv"),
    expect("batch.chunks.a_directory", lambda c: _chunks(c.tmp), BAD, "`path`"),
    expect(
        "batch.chunks.empty_column", lambda c: _chunks(_csv(c, {"text": ["a"]}), column=""), BAD, "`column`"
    ),
    expect(
        "batch.chunks.chunk_size_zero",
        lambda c: _chunks(_csv(c, {"text": ["a"]}), chunk_size=0),
        BAD,
        "`chunk_size`",
    ),
    expect(
        "batch.chunks.chunk_size_bool",
        lambda c: _chunks(_csv(c, {"text": ["a"]}), chunk_size=True),
        BAD,
        "`chunk_size`",
    ),
    expect(
        "batch.chunks.chunk_size_float",
        lambda c: _chunks(_csv(c, {"text": ["a"]}), chunk_size=1.5),
        BAD,
        "`chunk_size`",
    ),
    expect("batch.chunks.suffix", lambda c: _chunks(_csv(c, {"text": ["a"]}, "in.txt")), BAD, "in.txt"),
    expect("batch.chunks.missing_column", lambda c: _chunks(_csv(c, {"q": ["a"]})), BAD, "'text'"),
    expect("batch.chunks.parquet_ints", lambda c: _chunks(_parquet_ints(c)), BAD, "'text'"),
    expect("batch.chunks.jsonl_not_text", lambda c: _chunks(_jsonl(c, '{"text": 5}\n')), BAD, "line 1"),
    expect("batch.chunks.jsonl_bad_json", lambda c: _chunks(_jsonl(c, "{oops\n")), BAD, "line 1"),
    expect(
        "batch.chunks.ragged_csv", lambda c: _chunks(_write(c, "r.csv", "text\na\nb,c,d\n")), BAD, "r.csv"
    ),
    expect("batch.columns.string", lambda c: _columns(_csv(c, {"text": ["a"]}), "text"), BAD, "`columns`"),
    expect("batch.route.missing_input", lambda c: _route(c, inp=c.tmp / "none.csv"), MISSING, "`input_path`"),
    expect("batch.route.missing_model", lambda c: _route(c, model=c.tmp / "nomodel"), MISSING, "`model_dir`"),
    expect("batch.route.output_is_dir", lambda c: _route(c, out=_mkdir(c.tmp / "o")), BAD, "`output_path`"),
    expect(
        "batch.route.output_dir_missing",
        lambda c: _route(c, out=c.tmp / "no" / "o.parquet"),
        MISSING,
        "`output_path`",
    ),
    expect(
        "batch.route.output_is_input",
        lambda c: _route(c, inp=_csv(c, {"text": ["a"]}), out=c.tmp / "in.csv"),
        BAD,
        "`output_path`",
    ),
    expect("batch.route.missing_column", lambda c: _route(c, inp=_csv(c, {"q": ["a"]})), BAD, "'text'"),
    expect("batch.route.text_col_empty", lambda c: _route(c, text_col=""), BAD, "`text_col`"),
    expect("batch.route.chunk_size_zero", lambda c: _route(c, chunk_size=0), BAD, "`chunk_size`"),
    expect("batch.route.progress_string", lambda c: _route_progress(c, "yes"), BAD, "`progress`"),
    expect("batch.route.header_only", lambda c: _route(c, inp=_write(c, "h.csv", "text\n")), BAD, "h.csv"),
    behaves("batch.route.five_mib_cell", _big_cell, _check_big_cell),
    behaves(
        "batch.chunks.nine_mib_cell", _nine_mib_cell, lambda r, c: [len(x) for x in r[0]] == [1, 9 << 20, 1]
    ),
]

CASES: list[Case] = [*PLAN_CASES, *REVIEW_PLAN_CASES, *AUDIT_CASES, *REPORT_CASES, *BATCH_CASES]
