"""Bad inputs for the decision log and the cascade's logging (issue 11): lone surrogates, strings
for booleans, NaN/inf/out-of-range numbers, unserialisable extras, bad redaction options, bad
Cascade arguments, and the correct behaviour for numpy scalars, foreign files and orphan temps."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tierscope.exceptions import DecisionLogError, InvalidInputError, SegmentWarning
from tierscope.log.decision_log import DecisionLog
from tierscope.routing.cascade import Cascade
from tierscope.routing.records import TierAnswer

from tests.bad_inputs import Case, Context, behaves, expect


def log_of(ctx: Context, **kw: Any) -> DecisionLog:
    kw.setdefault("flush_every", 1)
    kw.setdefault("flush_interval_s", None)
    kw.setdefault("fsync", False)
    return DecisionLog(ctx.tmp / "log", **kw)


def decision(**fields: Any) -> Any:
    """A call logging one decision mapping (request id ``r1`` unless given)."""
    return lambda ctx: log_of(ctx).log_decision({"request_id": "r1", **fields})


def outcome(kind: str = "review", request_id: Any = "r1", **kw: Any) -> Any:
    return lambda ctx: log_of(ctx).log_outcome(request_id, kind, **kw)


def stored(ctx: Context, kind: str = "decisions") -> list[dict[str, Any]]:
    return DecisionLog.read(ctx.tmp / "log", kind=kind).to_pylist()  # type: ignore[no-any-return]


def cheap(query: str) -> TierAnswer:
    if "boom" in query:
        raise ValueError(f"cannot answer {query!r} (ssn 123-45-6789)")
    return TierAnswer(f"cheap:{query}", "cheap-model")


def capable(query: str) -> TierAnswer:
    return TierAnswer(f"capable:{query}", "capable-model")


def cascade(ctx: Context, **kw: Any) -> Cascade:
    kw.setdefault("confidence", lambda q, a: 0.9)
    kw.setdefault("threshold", 0.5)
    return Cascade(kw.pop("cheap", cheap), kw.pop("capable", capable), **kw)


def cascaded(ctx: Context, query: str, **kw: Any) -> list[dict[str, Any]]:
    log = log_of(ctx)
    cascade(ctx, decision_log=log)(query, **kw)
    log.close()
    return stored(ctx)


def raising(message: str) -> Any:
    def tier(query: str) -> TierAnswer:
        raise ValueError(message)

    return tier


def logged_through_cascade(ctx: Context, **kw: Any) -> list[dict[str, Any]]:
    log = log_of(ctx)
    cascade(ctx, decision_log=log, **kw)("q")
    log.close()
    return stored(ctx)


def with_foreign(ctx: Context) -> list[str]:
    log = log_of(ctx)
    log.log_decision({"request_id": "r1"})
    log.close()
    pq.write_table(pa.table({"request_id": ["evil"]}), ctx.tmp / "log" / "decisions" / "export.parquet")
    with pytest.warns(SegmentWarning, match="export.parquet"):
        return [r["request_id"] for r in stored(ctx)]


def with_orphan(ctx: Context) -> bool:
    log_of(ctx).close()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    tmp = (
        ctx.tmp
        / "log"
        / "decisions"
        / f".decisions-20260101T000000000000Z-{proc.pid}-ab-000001.parquet.cd.tmp"
    )
    tmp.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(tmp, (old, old))
    with pytest.warns(SegmentWarning, match="removed orphaned"):
        log_of(ctx).close()
    return not tmp.exists()


def closed_log(ctx: Context) -> None:
    log = log_of(ctx)
    log.close()
    log.log_decision({"request_id": "r1"})


_SURROGATE = "x\ud800"

CASES: list[Case] = [
    # -- DecisionLog() arguments
    expect("log-path-int", lambda ctx: DecisionLog(3), InvalidInputError, "path"),  # type: ignore[arg-type]
    expect("log-path-bytes", lambda ctx: DecisionLog(b"/tmp/x"), InvalidInputError, "path"),  # type: ignore[arg-type]
    expect("log-flush-every-zero", lambda ctx: log_of(ctx, flush_every=0), InvalidInputError, "flush_every"),
    expect(
        "log-flush-every-bool", lambda ctx: log_of(ctx, flush_every=True), InvalidInputError, "flush_every"
    ),
    expect(
        "log-flush-every-float", lambda ctx: log_of(ctx, flush_every=10.0), InvalidInputError, "flush_every"
    ),
    expect(
        "log-flush-interval-nan",
        lambda ctx: log_of(ctx, flush_interval_s=math.nan),
        InvalidInputError,
        "flush_interval_s",
    ),
    expect(
        "log-flush-interval-zero",
        lambda ctx: log_of(ctx, flush_interval_s=0),
        InvalidInputError,
        "flush_interval_s",
    ),
    expect("log-fsync-string", lambda ctx: log_of(ctx, fsync="no"), InvalidInputError, "fsync"),
    expect("log-redact-unknown-mode", lambda ctx: log_of(ctx, redact="scrub"), InvalidInputError, "redact"),
    expect(
        "log-redact-unknown-field",
        lambda ctx: log_of(ctx, redact={"query": "hash"}),
        InvalidInputError,
        "redact key",
    ),
    expect(
        "log-redact-bad-mode-for-field",
        lambda ctx: log_of(ctx, redact={"detail": "encrypt"}),
        InvalidInputError,
        "redact['detail']",
    ),
    expect("log-redact-list", lambda ctx: log_of(ctx, redact=["hash"]), InvalidInputError, "redact"),
    expect(
        "log-max-text-zero", lambda ctx: log_of(ctx, max_text_chars=0), InvalidInputError, "max_text_chars"
    ),
    expect(
        "log-max-text-float",
        lambda ctx: log_of(ctx, max_text_chars=10.5),
        InvalidInputError,
        "max_text_chars",
    ),
    expect(
        "log-redact-key-str",
        lambda ctx: log_of(ctx, redact_key="secret" * 4),
        InvalidInputError,
        "redact_key",
    ),
    expect("log-redact-key-short", lambda ctx: log_of(ctx, redact_key=b"k"), InvalidInputError, "redact_key"),
    expect(
        "log-hash-text-surrogate", lambda ctx: log_of(ctx).hash_text(_SURROGATE), InvalidInputError, "value"
    ),
    # -- log_decision: every field checked at log time
    expect(
        "decision-not-a-mapping", lambda ctx: log_of(ctx).log_decision(["r1"]), InvalidInputError, "decision"
    ),  # type: ignore[arg-type]
    expect(
        "decision-no-request-id", lambda ctx: log_of(ctx).log_decision({}), InvalidInputError, "request_id"
    ),
    expect("decision-empty-request-id", decision(request_id=""), InvalidInputError, "request_id"),
    expect("decision-int-request-id", decision(request_id=7), InvalidInputError, "request_id"),
    expect("decision-surrogate-request-id", decision(request_id=_SURROGATE), InvalidInputError, "request_id"),
    expect("decision-surrogate-category", decision(category=_SURROGATE), InvalidInputError, "category"),
    expect(
        "decision-surrogate-escalation-detail",
        decision(escalation_detail="boom \udfff"),
        InvalidInputError,
        "escalation_detail",
    ),
    expect("decision-int-category", decision(category=3), InvalidInputError, "category"),
    expect("decision-escalated-no", decision(escalated="no"), InvalidInputError, "escalated"),
    expect("decision-fallback-False-string", decision(fallback="False"), InvalidInputError, "fallback"),
    expect("decision-shadowed-int", decision(shadowed=1), InvalidInputError, "shadowed"),
    behaves(
        "decision-route-confidence-nan-is-missing",
        lambda ctx: (decision(route_confidence=math.nan)(ctx), stored(ctx)),
        lambda r, ctx: r[1][0]["route_confidence"] is None,
    ),
    expect(
        "decision-route-confidence-inf",
        decision(route_confidence=math.inf),
        InvalidInputError,
        "route_confidence",
    ),
    expect(
        "decision-route-confidence-5", decision(route_confidence=5.0), InvalidInputError, "route_confidence"
    ),
    expect("decision-threshold-negative", decision(threshold=-0.1), InvalidInputError, "threshold"),
    expect("decision-cost-inf-string", decision(cost=float("1e999")), InvalidInputError, "cost"),
    expect("decision-cost-string", decision(cost="0.1"), InvalidInputError, "cost"),
    expect("decision-cost-negative", decision(cost=-1.0), InvalidInputError, "cost"),
    expect("decision-latency-inf", decision(latency_total_s=math.inf), InvalidInputError, "latency_total_s"),
    expect(
        "decision-tokens-negative", decision(cheap_input_tokens=-3), InvalidInputError, "cheap_input_tokens"
    ),
    expect(
        "decision-tokens-float", decision(cheap_input_tokens=3.5), InvalidInputError, "cheap_input_tokens"
    ),
    expect(
        "decision-tokens-huge", decision(cheap_output_tokens=2**70), InvalidInputError, "cheap_output_tokens"
    ),
    expect(
        "decision-review-pi-bool",
        decision(review_inclusion_prob=True),
        InvalidInputError,
        "review_inclusion_prob",
    ),
    expect(
        "decision-probabilities-nan",
        decision(route_probabilities={"cheap": math.nan}),
        InvalidInputError,
        "route_probabilities",
    ),
    expect(
        "decision-probabilities-not-json",
        decision(route_probabilities="{cheap: 1"),
        InvalidInputError,
        "route_probabilities",
    ),
    expect("decision-timestamp-words", decision(timestamp="yesterday"), InvalidInputError, "timestamp"),
    expect("decision-timestamp-overflow", decision(timestamp=1e20), InvalidInputError, "timestamp"),
    expect("decision-timestamp-bool", decision(timestamp=True), InvalidInputError, "timestamp"),
    expect("decision-extra-object", decision(note=object()), InvalidInputError, "note"),
    expect("decision-extra-surrogate", decision(note=_SURROGATE), InvalidInputError, "note"),
    expect("decision-extra-inf", decision(score_hint=-math.inf), InvalidInputError, "score_hint"),
    expect("decision-extra-nested-inf", decision(meta={"a": [math.inf]}), InvalidInputError, "meta"),
    expect("decision-extra-int-key", decision(meta={1: "one"}), InvalidInputError, "meta"),
    expect("decision-extra-key-surrogate", decision(**{"k\ud800": 1}), InvalidInputError, "k\\ud800"),
    expect("decision-extra-set", decision(tags={"a", "b"}), InvalidInputError, "tags"),
    expect("decision-closed-log", closed_log, DecisionLogError, "closed"),
    expect(
        "decision-route-guarded-string", decision(route_guarded="yes"), InvalidInputError, "route_guarded"
    ),
    behaves(
        "decision-confidence-numpy-nan-is-missing",
        lambda ctx: (decision(confidence_raw=np.float32("nan"))(ctx), stored(ctx)),
        lambda r, ctx: r[1][0]["confidence_raw"] is None,
    ),
    expect(
        "decision-confidence-numpy-inf",
        decision(confidence_raw=np.float32("inf")),
        InvalidInputError,
        "confidence_raw",
    ),
    expect("decision-answered-by-bytes", decision(answered_by=b"cheap"), InvalidInputError, "answered_by"),
    expect(
        "outcome-capable-score-negative",
        outcome("shadow", capable_score=-0.5),
        InvalidInputError,
        "capable_score",
    ),
    # -- log_outcome and friends
    expect("outcome-empty-request-id", outcome(request_id=""), InvalidInputError, "request_id"),
    expect("outcome-surrogate-request-id", outcome(request_id=_SURROGATE), InvalidInputError, "request_id"),
    expect("outcome-unknown-kind", outcome(kind="csat"), InvalidInputError, "kind"),
    expect("outcome-score-string", outcome(score="0.5"), InvalidInputError, "score"),
    expect("outcome-score-above-one", outcome(score=1.5), InvalidInputError, "score"),
    expect("outcome-score-nan", outcome(score=math.nan), InvalidInputError, "score"),
    expect("outcome-label-string", outcome(label="yes"), InvalidInputError, "label"),
    expect("outcome-pi-zero", outcome(inclusion_prob=0.0), InvalidInputError, "inclusion_prob"),
    expect("outcome-pi-true", outcome(inclusion_prob=True), InvalidInputError, "inclusion_prob"),
    expect("outcome-pi-above-one", outcome(inclusion_prob=1.01), InvalidInputError, "inclusion_prob"),
    expect(
        "outcome-days-after-nan",
        outcome("support_contact", days_after=math.nan),
        InvalidInputError,
        "days_after",
    ),
    expect(
        "outcome-days-after-negative",
        outcome("support_contact", days_after=-1),
        InvalidInputError,
        "days_after",
    ),
    expect(
        "outcome-cheap-score-inf", outcome("shadow", cheap_score=math.inf), InvalidInputError, "cheap_score"
    ),
    expect("outcome-reviewer-surrogate", outcome(reviewer=_SURROGATE), InvalidInputError, "reviewer"),
    expect("outcome-tier-int", outcome(tier=2), InvalidInputError, "tier"),
    expect("outcome-detail-surrogate", outcome(detail={"why": _SURROGATE}), InvalidInputError, "detail"),
    expect("outcome-detail-object", outcome(detail=object()), InvalidInputError, "detail"),
    expect("outcome-timestamp-words", outcome(timestamp="noon"), InvalidInputError, "timestamp"),
    expect(
        "feedback-thumbs-string",
        lambda ctx: log_of(ctx).log_feedback("r1", "up"),  # type: ignore[arg-type]
        InvalidInputError,
        "thumbs_up",
    ),
    expect(
        "review-acceptable-string",
        lambda ctx: log_of(ctx).log_review("r1", "yes"),  # type: ignore[arg-type]
        InvalidInputError,
        "score",
    ),
    # -- reading
    expect(
        "read-kind-unknown",
        lambda ctx: DecisionLog.read(log_of(ctx).path, kind="events"),  # type: ignore[arg-type]
        InvalidInputError,
        "kind",
    ),
    expect(
        "read-format-unknown",
        lambda ctx: DecisionLog.read(log_of(ctx).path, format="csv"),  # type: ignore[arg-type]
        InvalidInputError,
        "format",
    ),
    # -- the cascade: the caller's fields are checked at the call, its own text is storable
    expect(
        "cascade-category-surrogate",
        lambda ctx: cascade(ctx)("q", category=_SURROGATE),
        InvalidInputError,
        "category",
    ),
    expect("cascade-category-int", lambda ctx: cascade(ctx)("q", category=3), InvalidInputError, "category"),  # type: ignore[arg-type]
    expect(
        "cascade-request-id-surrogate",
        lambda ctx: cascade(ctx)("q", request_id=_SURROGATE),
        InvalidInputError,
        "request_id",
    ),
    expect(
        "cascade-request-id-empty",
        lambda ctx: cascade(ctx)("q", request_id=""),
        InvalidInputError,
        "request_id",
    ),
    expect(
        "cascade-exception-text-unknown",
        lambda ctx: cascade(ctx, exception_text="raw"),
        InvalidInputError,
        "exception_text",
    ),
    expect(
        "cascade-exception-max-chars-zero",
        lambda ctx: cascade(ctx, exception_max_chars=0),
        InvalidInputError,
        "exception_max_chars",
    ),
    expect(
        "cascade-shadow-rate-nan",
        lambda ctx: cascade(ctx, shadow_rate=math.nan),
        InvalidInputError,
        "shadow_rate",
    ),
    expect(
        "cascade-review-rate-string",
        lambda ctx: cascade(ctx, review_rate={"cheap": "0.5"}),
        InvalidInputError,
        "review_rate",
    ),
    expect(
        "cascade-workers-float",
        lambda ctx: cascade(ctx, shadow_workers=2.0),
        InvalidInputError,
        "shadow_workers",
    ),
    expect("cascade-seed-string", lambda ctx: cascade(ctx, seed="7"), InvalidInputError, "seed"),
    expect(
        "cascade-categories-ints",
        lambda ctx: cascade(ctx, never_cheap_categories=[1, 2]),
        InvalidInputError,
        "never_cheap_categories",
    ),
    expect(
        "cascade-threshold-string", lambda ctx: cascade(ctx, threshold="0.5"), InvalidInputError, "threshold"
    ),
    expect(
        "cascade-pattern-surrogate",
        lambda ctx: cascade(ctx, never_cheap_patterns=["fraud\ud800"]),
        InvalidInputError,
        "never_cheap_patterns[0]",
    ),
    expect(
        "cascade-predicate-name-surrogate",
        lambda ctx: cascade(ctx, never_cheap_predicates={"p\ud800": lambda q, c: False}),
        InvalidInputError,
        "never_cheap_predicates",
    ),
    expect(
        "cascade-tier-name-empty", lambda ctx: cascade(ctx, cheap_name=""), InvalidInputError, "cheap_name"
    ),
    expect(
        "joined-within-days-negative",
        lambda ctx: log_of(ctx).joined().per_tier(within_days=-1),
        InvalidInputError,
        "within_days",
    ),
    # -- correct behaviour
    behaves(
        "outcome-numpy-float32-score",
        lambda ctx: (
            outcome(score=np.float32(0.5), inclusion_prob=np.float32(0.25))(ctx),
            stored(ctx, "outcomes"),
        ),
        lambda r, ctx: [(o["score"], o["label"], o["inclusion_prob"]) for o in r[1]] == [(0.5, True, 0.25)],
    ),
    behaves(
        "decision-numpy-scalars",
        lambda ctx: (
            decision(cost=np.float32(0.5), cheap_input_tokens=np.int64(3), escalated=np.bool_(True))(ctx),
            stored(ctx),
        ),
        lambda r, ctx: (
            (r[1][0]["cost"], r[1][0]["cheap_input_tokens"], r[1][0]["escalated"]) == (0.5, 3, True)
        ),
    ),
    behaves(
        "decision-iso-timestamp",
        lambda ctx: (decision(timestamp="2026-05-04T12:00:00")(ctx), stored(ctx)),
        lambda r, ctx: r[1][0]["timestamp"].isoformat() == "2026-05-04T12:00:00+00:00",
    ),
    behaves(
        "decision-extra-json-kept",
        lambda ctx: (decision(meta={"a": [1, 2.5, None, True]})(ctx), stored(ctx)),
        lambda r, ctx: r[1][0]["extra"] == '{"meta": {"a": [1, 2.5, null, true]}}',
    ),
    behaves(
        "decision-long-detail-truncated-by-default",
        lambda ctx: (decision(escalation_detail="x" * 5000)(ctx), stored(ctx)),
        lambda r, ctx: r[1][0]["escalation_detail"].startswith("x" * 1000 + "…[4000 more"),
    ),
    behaves(
        "decision-detail-omitted",
        lambda ctx: (
            log_of(ctx, redact={"fallback_reason": "omit"}).log_decision(
                {"request_id": "r1", "fallback_reason": "ssn 123-45-6789"}
            ),
            stored(ctx),
        ),
        lambda r, ctx: r[1][0]["fallback_reason"] is None,
    ),
    behaves(
        "cascade-tier-exception-hashed-by-default",
        lambda ctx: cascaded(ctx, "boom 123-45-6789"),
        lambda rows, ctx: (
            "123-45-6789" not in str(rows)
            and rows[0]["escalation_detail"].startswith("ValueError (message hmac-sha256:")
        ),
    ),
    behaves(
        "cascade-surrogate-in-exception-is-logged",
        lambda ctx: logged_through_cascade(ctx, cheap=raising("bad \ud800"), exception_text="full"),
        lambda rows, ctx: len(rows) == 1 and rows[0]["escalation_detail"] == "ValueError: bad \\ud800",
    ),
    behaves(
        "cascade-nan-cost-and-bad-model-id-are-nulled",
        lambda ctx: logged_through_cascade(
            ctx, cheap=lambda q: TierAnswer("a", "m\udc00", cost=math.nan, input_tokens=-1)
        ),
        lambda rows, ctx: (
            (rows[0]["cheap_cost"], rows[0]["cheap_input_tokens"], rows[0]["cheap_model_id"])
            == (None, None, "m\\udc00")
        ),
    ),
    behaves("read-ignores-foreign-parquet", with_foreign, lambda ids, ctx: ids == ["r1"]),
    behaves("open-reclaims-orphan-temp", with_orphan, lambda gone, ctx: gone),
]
