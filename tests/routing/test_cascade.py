"""The uncertainty-routed cascade with fake tier callables (plus one test on the real default router)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope.exceptions import CascadeError, InvalidInputError, TierscopeError
from tierscope.log.decision_log import DecisionLog
from tierscope.routing.calibration import CostAwareRule, IsotonicCalibrator, choose_threshold
from tierscope.routing.cascade import Cascade
from tierscope.routing.cascade_config import HardRules, Tier, build_cascade_config
from tierscope.routing.records import FALLBACK_REASONS, CascadeDecision, CascadeResult, TierAnswer


# -- fakes -------------------------------------------------------------------------------------
class FakeTier:
    """A tier callable: answers ``<name>:<query>``; optionally fails or sleeps."""

    def __init__(self, name: str, cost: float, *, fail: bool = False, delay: float = 0.0) -> None:
        self.name, self.cost, self.fail, self.delay = name, cost, fail, delay
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, query: str) -> TierAnswer:
        with self.lock:
            self.calls.append(query)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"{self.name} provider returned 503")
        return TierAnswer(f"{self.name}:{query}", f"{self.name}-model", len(query.split()), 7, self.cost)


class AsyncFakeTier(FakeTier):
    async def __call__(self, query: str) -> TierAnswer:  # type: ignore[override]
        with self.lock:
            self.calls.append(query)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"{self.name} provider returned 503")
        return TierAnswer(f"{self.name}:{query}", f"{self.name}-model", len(query.split()), 7, self.cost)


def conf_from_query(query: str, answer: Any) -> Any:
    """Confidence encoded in the query: ``... conf=0.93`` (or ``conf=raise`` / ``conf=nan`` / text)."""
    token = query.rsplit("conf=", 1)[-1]
    if token == "raise":
        raise ValueError("self-evaluation prompt returned no score")
    if token == "text":
        return "very confident"
    return float(token)


class FakeDecision:
    def __init__(self, tier: str, fallback: bool = False) -> None:
        self.tier = tier
        p_cheap = 0.8 if tier == "cheap" else 0.2
        self.probabilities = {"cheap": p_cheap, "capable": 1 - p_cheap}
        self.confidence = max(p_cheap, 1 - p_cheap)
        self.tail_score = 0.42
        self.fallback = fallback
        self.reason = "InferenceError: session crashed" if fallback else None


class FakeRouter:
    tiers = ("cheap", "capable")

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode

    def route(self, text: str) -> FakeDecision:
        if self.mode == "raise":
            raise TierscopeError("router: ONNX session failed")
        if self.mode == "fallback":
            return FakeDecision("capable", fallback=True)
        return FakeDecision("capable" if "dispute" in text else "cheap")


def make(**kw: Any) -> tuple[Cascade, FakeTier, FakeTier]:
    cheap = kw.pop("cheap", None) or FakeTier("cheap", 0.001)
    capable = kw.pop("capable", None) or FakeTier("capable", 0.004)
    kw.setdefault("threshold", 0.7)
    kw.setdefault("confidence", conf_from_query)
    return Cascade(cheap, capable, **kw), cheap, capable


# -- the validated configuration ---------------------------------------------------------------
# Bad arguments in the order the cascade reports them (one per validator, then within them).
_BAD_IN_ORDER: list[tuple[dict[str, Any], str]] = [
    ({"cheap": "not callable"}, "cheap: expected a callable"),
    ({"confidence": 3}, "confidence: expected a callable"),
    ({"capable_name": "cheap"}, "cheap_name/capable_name"),
    ({"threshold": 1.5}, "`threshold`: expected a number"),
    ({"cost_rule": "cheap first"}, "cost_rule: expected a CostAwareRule"),
    ({"calibrator": 0.5}, "calibrator: expected a Calibrator"),
    ({"router_escalate_tiers": {"capable"}}, "router_escalate_tiers: given without a router"),
    ({"never_cheap_categories": "fraud"}, "never_cheap_categories"),
    ({"never_cheap_patterns": ["(unclosed"]}, "never_cheap_patterns"),
    ({"never_cheap_predicates": {"p": 1}}, "never_cheap_predicates"),
    ({"shadow_rate": 1.5}, "shadow_rate"),
    ({"review_rate": {"gold": 0.5}}, "review_rate: unknown tier"),
    ({"seed": 1.5}, "`seed`"),
    ({"shadow_mode": "forked"}, "shadow_mode"),
    ({"shadow_workers": 0}, "shadow_workers"),
    ({"shadow_judge": "judge"}, "shadow_judge"),
    ({"decision_log": object()}, "decision_log"),
    ({"exception_text": "raw"}, "`exception_text`"),
]


def test_bad_arguments_are_reported_in_a_fixed_order() -> None:
    """With several bad arguments the first in the documented order is the one reported."""
    valid: dict[str, Any] = {
        "cheap": FakeTier("cheap", 0.001),
        "capable": FakeTier("capable", 0.004),
        "confidence": conf_from_query,
        "threshold": 0.7,
    }
    for first in range(len(_BAD_IN_ORDER)):
        kwargs = dict(valid)
        for bad, _ in _BAD_IN_ORDER[first:]:
            kwargs.update(bad)
        expected = _BAD_IN_ORDER[first][1]
        with pytest.raises(InvalidInputError, match=re.escape(expected)):
            Cascade(**kwargs)
        with pytest.raises(InvalidInputError, match=re.escape(expected)):
            build_cascade_config(**kwargs)
    with pytest.raises(InvalidInputError, match="threshold: required"):
        build_cascade_config(FakeTier("a", 0), FakeTier("b", 0), confidence=conf_from_query, shadow_rate=2.0)


def test_config_normalises_the_arguments() -> None:
    report = choose_threshold(np.linspace(0, 1, 50), np.zeros(50), epsilon=0.01, delta=0.01)
    config = build_cascade_config(
        FakeTier("cheap", 0.001),
        lambda q, ctx: "capable",
        confidence=conf_from_query,
        threshold=report,
        router=FakeRouter(),
        never_cheap_categories=["fraud", "fraud"],
        never_cheap_patterns=r"\brefund\b",
        never_cheap_predicates=[len],
        review_rate=0.25,
        seed=3,
    )
    assert not report.feasible and config.acceptance.threshold is None and config.acceptance.report is report
    assert config.cheap == Tier("cheap", config.cheap.fn, False) and config.capable.takes_context
    assert config.cheap.args("q", "ctx") == ("q",) and config.capable.args("q", "ctx") == ("q", "ctx")
    assert config.hard_rules.router_escalate == {"capable"} and config.hard_rules.categories == {"fraud"}
    assert [p.pattern for p in config.hard_rules.patterns] == [r"\brefund\b"]
    assert [name for name, _ in config.hard_rules.predicates] == ["len"]
    assert dict(config.sampling.review) == {"cheap": 0.25, "capable": 0.25} and config.sampling.seed == 3
    with pytest.raises(TypeError):
        config.sampling.review["cheap"] = 1.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sampling = config.sampling  # type: ignore[misc]


def test_hard_rules_match_categories_then_patterns_then_predicates() -> None:
    def boom(query: str, category: str | None) -> bool:
        raise KeyError("tenant")

    rules = HardRules(
        router=None,
        router_escalate=frozenset(),
        categories=frozenset({"fraud"}),
        patterns=(re.compile("refund"),),
        predicates=(("long", lambda q, c: len(q) > 10), ("boom", boom)),
    )
    assert rules.match("refund", "fraud") == ("category:fraud", None)
    assert rules.match("refund", "billing") == ("pattern:refund", None)
    assert rules.match("a much longer query", None) == ("predicate:long", None)
    assert rules.match("short", None) == ("predicate:boom", "predicate 'boom' raised KeyError: 'tenant'")
    assert HardRules(None, frozenset(), frozenset(), (), ()).match("anything", None) == (None, None)


# -- accept / escalate / hard rules ------------------------------------------------------------
def test_confident_cheap_answer_is_accepted() -> None:
    cascade, cheap, capable = make(seed=1)
    result = cascade("what are your opening hours conf=0.93", category="opening_hours")
    assert isinstance(result, CascadeResult)
    answer, d = result
    assert answer.text == "cheap:what are your opening hours conf=0.93"
    assert capable.calls == [] and len(cheap.calls) == 1
    assert d.answered_by == "cheap" and not d.escalated and d.escalation_reason is None and not d.fallback
    assert d.confidence_raw == d.confidence_calibrated == pytest.approx(0.93) and d.threshold == 0.7
    assert d.cheap_model_id == "cheap-model" and d.capable_model_id is None
    assert (d.cheap_input_tokens, d.cheap_output_tokens) == (6, 7) and d.cost == pytest.approx(0.001)
    assert d.category == "opening_hours" and d.shadowed is False and d.shadow_inclusion_prob == 0.0
    assert d.timestamp.tzinfo is not None and d.timestamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert len(d.request_id) == 32 and int(d.request_id, 16) >= 0
    assert d.latency_total_s >= (d.latency_cheap_s or 0) + (d.latency_confidence_s or 0) > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.escalated = True  # type: ignore[misc]


def test_low_confidence_escalates_to_capable() -> None:
    cascade, cheap, capable = make()
    answer, d = cascade("where is this charge from conf=0.41", request_id="req-1")
    assert answer.text.startswith("capable:") and len(cheap.calls) == len(capable.calls) == 1
    assert d.request_id == "req-1" and d.answered_by == "capable" and d.escalated
    assert d.escalation_reason == "low_confidence" and not d.fallback and d.fallback_reason is None
    assert "0.41" in (d.escalation_detail or "")
    assert d.cost == pytest.approx(0.005) and d.capable_model_id == "capable-model"
    assert d.shadow_inclusion_prob is None and d.latency_capable_s is not None


def test_hard_rules_skip_the_cheap_tier() -> None:
    cascade, cheap, capable = make(
        router=FakeRouter(),
        never_cheap_categories={"fraud", "refund"},
        never_cheap_patterns=[r"(?i)\binterest rate\b"],
        never_cheap_predicates={"long_query": lambda q, c: len(q) > 200},
    )
    cases = {
        "I want to dispute a card payment conf=0.99": ("router_tier:capable", None),
        "where is this charge from conf=0.99": ("category:fraud", "fraud"),
        "what is my Interest Rate today conf=0.99": (r"pattern:(?i)\binterest rate\b", None),
        "x" * 201 + " conf=0.99": ("predicate:long_query", None),
    }
    for query, (rule, category) in cases.items():
        _, d = cascade(query, category=category)
        assert d.hard_rule == rule and d.escalation_reason == "hard_rule" and d.answered_by == "capable"
        assert not d.fallback and d.confidence_raw is None
    assert cheap.calls == [] and len(capable.calls) == 4
    _, d = cascade("how do I reset my password conf=0.99")
    assert d.route_tier == "cheap" and d.route_probabilities == {"cheap": 0.8, "capable": pytest.approx(0.2)}
    assert d.route_tail_score == pytest.approx(0.42) and d.answered_by == "cheap" and d.hard_rule is None


def test_unknown_tier_names_and_bad_arguments_raise() -> None:
    with pytest.raises(InvalidInputError, match="router_escalate_tiers.*premium"):
        make(router=FakeRouter(), router_escalate_tiers={"premium"})
    with pytest.raises(InvalidInputError, match="router_escalate_tiers: required"):
        make(router=FakeRouter(), cheap_name="mini", capable_name="large")
    with pytest.raises(InvalidInputError, match="review_rate.*gold"):
        make(review_rate={"gold": 0.5})
    with pytest.raises(InvalidInputError, match="threshold"):
        make(threshold=1.5)
    with pytest.raises(InvalidInputError, match="threshold: required"):
        Cascade(FakeTier("a", 0), FakeTier("b", 0), confidence=conf_from_query)
    with pytest.raises(InvalidInputError, match="shadow_rate"):
        make(shadow_rate=-0.1)
    with pytest.raises(InvalidInputError, match="never_cheap_patterns"):
        make(never_cheap_patterns=["(unclosed"])
    with pytest.raises(InvalidInputError, match="cheap"):
        make(cheap="not callable")
    cascade, _, _ = make()
    with pytest.raises(InvalidInputError, match="query"):
        cascade(42)  # type: ignore[arg-type]


# -- failure paths -----------------------------------------------------------------------------
FAILURES = [
    ("router raises", {"router": FakeRouter("raise")}, "q conf=0.99", "router_error", "ONNX session failed"),
    (
        "router falls back",
        {"router": FakeRouter("fallback")},
        "q conf=0.99",
        "router_fallback",
        "session crashed",
    ),
    ("confidence raises", {}, "q conf=raise", "confidence_error", "returned no score"),
    ("confidence NaN", {}, "q conf=nan", "confidence_invalid", "nan"),
    ("confidence 1.7", {}, "q conf=1.7", "confidence_invalid", "1.7"),
    ("confidence -0.2", {}, "q conf=-0.2", "confidence_invalid", "-0.2"),
    ("confidence not a number", {}, "q conf=text", "confidence_invalid", "returned str"),
    (
        "cheap tier raises",
        {"cheap": FakeTier("cheap", 0.001, fail=True)},
        "q conf=0.99",
        "cheap_error",
        "503",
    ),
    ("calibrator raises", {"calibrator": lambda x: 1 / 0}, "q conf=0.99", "calibration_error", "division"),
    ("calibrator NaN", {"calibrator": lambda x: math.nan}, "q conf=0.99", "calibration_error", "nan"),
    (
        "predicate raises",
        {"never_cheap_predicates": [lambda q, c: 1 / 0]},
        "q conf=0.99",
        "hard_rule_error",
        "division",
    ),
]


@pytest.mark.parametrize(
    ("kw", "query", "code", "text"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_failures_fall_back_to_capable_with_reason_logged(
    tmp_path: Path, kw: dict[str, Any], query: str, code: str, text: str
) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1)
    cascade, _, capable = make(decision_log=log, exception_text="full", **kw)
    answer, d = cascade(query)
    assert answer.text == f"capable:{query}" and len(capable.calls) == 1
    assert d.answered_by == "capable" and d.escalated and d.fallback
    assert d.escalation_reason == code and code in FALLBACK_REASONS
    assert text in (d.fallback_reason or "")
    log.close()
    row = DecisionLog.read(tmp_path / "log").to_pylist()
    assert len(row) == 1 and row[0]["request_id"] == d.request_id
    assert row[0]["escalation_reason"] == code and text in row[0]["fallback_reason"]
    assert row[0]["answered_by"] == "capable" and row[0]["fallback"] is True


def test_capable_failure_raises_cascade_error_with_partial_decision(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1)
    bad = FakeTier("capable", 0.004, fail=True)
    cascade, _, _ = make(capable=bad, decision_log=log, exception_text="full")
    assert cascade("fine conf=0.95").decision.answered_by == "cheap"  # capable failing does not matter here
    with pytest.raises(CascadeError, match="capable tier failed.*503") as info:
        cascade("hard one conf=0.2", request_id="r-fail")
    d = info.value.decision
    assert isinstance(info.value, TierscopeError) and isinstance(d, CascadeDecision)
    assert d.request_id == "r-fail" and d.answered_by is None and d.escalated
    assert d.escalation_reason == "low_confidence" and d.confidence_raw == pytest.approx(0.2)
    assert "503" in (d.error or "") and d.cheap_model_id == "cheap-model"
    with pytest.raises(CascadeError):
        asyncio.run(cascade.arun("hard one conf=0.2"))
    rows = log.decisions().to_pylist()
    assert [r["answered_by"] for r in rows] == ["cheap", None, None]
    assert "503" in rows[1]["error"]


def test_cascade_error_chains_the_original_exception_even_when_the_log_hashes_it() -> None:
    cascade, _, _ = make(capable=FakeTier("capable", 0.004, fail=True))  # default exception_text="hash"
    with pytest.raises(CascadeError) as info:
        cascade("hard one conf=0.2")
    assert "503" not in str(info.value) and "hmac-sha256:" in str(info.value)
    assert info.value.__cause__ is not None and "503" in str(info.value.__cause__)
    with pytest.raises(CascadeError) as ainfo:
        asyncio.run(cascade.arun("hard one conf=0.2"))
    assert ainfo.value.__cause__ is not None and "503" in str(ainfo.value.__cause__)


# -- thresholds, calibration and the cost rule -------------------------------------------------
def test_calibrator_and_threshold_report_are_applied() -> None:
    raw = np.linspace(0, 1, 200)
    ok = raw > 0.5
    iso = IsotonicCalibrator().fit(raw, ok)
    cascade, _, _ = make(calibrator=iso, threshold=0.9)
    d = cascade("q conf=0.8").decision
    assert d.confidence_raw == pytest.approx(0.8) and d.confidence_calibrated == pytest.approx(iso(0.8))
    assert d.answered_by == "cheap"
    assert cascade("q conf=0.3").decision.escalation_reason == "low_confidence"

    infeasible = choose_threshold(np.full(50, 0.9), np.zeros(50, dtype=bool), epsilon=0.05, delta=0.1)
    assert not infeasible.feasible
    cascade, cheap, capable = make(threshold=infeasible)
    d = cascade("q conf=1.0").decision
    assert d.escalation_reason == "threshold_infeasible" and cheap.calls == [] and d.answered_by == "capable"
    assert "infeasible" in (d.escalation_detail or "")


def test_cost_rule_with_infinite_error_cost_never_accepts_that_category() -> None:
    rule = CostAwareRule(
        price_cheap=0.001, price_capable=0.004, default_error_cost=0.05, error_costs={"refund": math.inf}
    )
    cascade, _, _ = make(cost_rule=rule, threshold=None)
    for conf in ("1.0", "0.999", "0.97"):
        d = cascade(f"refund status conf={conf}", category="refund").decision
        assert d.answered_by == "capable" and d.escalation_reason == "cost_rule"
    # default category: accept iff 0.001 + p_fail * 0.05 < 0.004, i.e. p_fail < 0.06
    assert cascade("balance conf=0.97", category="balance").decision.answered_by == "cheap"
    assert cascade("balance conf=0.90", category="balance").decision.escalation_reason == "cost_rule"


# -- shadow scoring ----------------------------------------------------------------------------
def test_shadow_rate_matches_r_over_many_calls() -> None:
    r, n = 0.05, 12_000
    cascade, _, capable = make(shadow_rate=r, shadow_mode="inline", seed=2026)
    shadowed = 0
    for i in range(n):
        d = cascade(f"q{i} conf=0.9").decision
        assert d.shadow_inclusion_prob == r
        shadowed += d.shadowed
    bound = 4 * math.sqrt(r * (1 - r) / n)
    print(f"\nshadow rate observed {shadowed / n:.4f} ({shadowed}/{n}) vs r={r}, 4-sigma bound +-{bound:.4f}")
    assert abs(shadowed / n - r) <= bound, (shadowed / n, r, bound)
    assert len(capable.calls) == shadowed  # each shadowed accepted query hit the capable tier once
    # escalated queries are never shadowed (the capable tier already answers them)
    assert not any(cascade(f"e{i} conf=0.1").decision.shadowed for i in range(200))


def _mixed_queries() -> list[tuple[str, str | None]]:
    rng = np.random.default_rng(7)
    out: list[tuple[str, str | None]] = []
    for i in range(300):
        kind = rng.integers(0, 5)
        conf = {
            0: f"{rng.uniform(0.7, 1):.3f}",
            1: f"{rng.uniform(0, 0.7):.3f}",
            2: "nan",
            3: "raise",
            4: "0.95",
        }
        out.append(
            (
                f"q{i} {'dispute ' if kind == 4 else ''}conf={conf[int(kind)]}",
                "fraud" if i % 37 == 0 else None,
            )
        )
    return out


def test_sync_and_async_runs_make_identical_decisions() -> None:
    kw = dict(shadow_rate=0.3, review_rate={"cheap": 0.5, "capable": 0.1}, never_cheap_categories={"fraud"})
    queries = _mixed_queries()
    sync_c, _, _ = make(seed=11, router=FakeRouter(), shadow_mode="inline", **kw)
    sync_d = [sync_c(q, category=c, request_id=f"r{i}").decision for i, (q, c) in enumerate(queries)]

    async def go() -> list[CascadeDecision]:
        cascade, _, _ = make(seed=11, router=FakeRouter(), **kw)
        out = [
            (await cascade.arun(q, category=c, request_id=f"r{i}")).decision
            for i, (q, c) in enumerate(queries)
        ]
        await cascade.drain()
        return out

    async_d = asyncio.run(go())
    assert [d.outcome_key() for d in sync_d] == [d.outcome_key() for d in async_d]
    reasons = {d.escalation_reason for d in sync_d}
    assert {None, "low_confidence", "confidence_invalid", "confidence_error", "hard_rule"} <= reasons
    assert 0 < sum(d.shadowed for d in sync_d) < len(sync_d) and any(d.review_sampled for d in sync_d)


def test_async_shadow_call_does_not_delay_the_answer(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1000)
    slow = AsyncFakeTier("capable", 0.004, delay=1.0)
    judge_calls: list[tuple[str, str]] = []

    def judge(query: str, cheap_answer: TierAnswer, capable_answer: TierAnswer) -> tuple[float, float]:
        judge_calls.append((cheap_answer.text, capable_answer.text))
        return 0.25, 1.0

    cascade, _, _ = make(capable=slow, shadow_rate=1.0, shadow_judge=judge, decision_log=log, seed=3)

    async def go() -> tuple[float, CascadeResult, list[dict[str, Any]], float]:
        t0 = time.perf_counter()
        result = await cascade.arun("where is this charge from conf=0.9")
        answered = time.perf_counter() - t0
        assert result.shadow is not None and not result.shadow.done()
        outcomes = await cascade.drain()
        return answered, result, outcomes, time.perf_counter() - t0

    answered, result, outcomes, total = asyncio.run(go())
    assert result.decision.answered_by == "cheap" and result.decision.shadowed
    assert answered < 0.5 and total >= 1.0, (answered, total)  # the answer did not wait for the shadow
    assert len(outcomes) == 1 and outcomes[0]["answer"].text.startswith("capable:")
    assert (
        outcomes[0]["cheap_score"] == 0.25 and outcomes[0]["capable_score"] == 1.0 and len(judge_calls) == 1
    )
    out = log.outcomes().to_pylist()
    assert len(out) == 1 and out[0]["kind"] == "shadow" and out[0]["request_id"] == result.decision.request_id
    assert out[0]["inclusion_prob"] == 1.0 and out[0]["cheap_score"] == 0.25 and out[0]["tier"] == "cheap"
    log.close()


def test_sync_thread_shadow_does_not_delay_and_shadow_failure_is_logged(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1000)
    slow = FakeTier("capable", 0.004, delay=1.0)
    with make(capable=slow, shadow_rate=1.0, decision_log=log)[0] as cascade:
        t0 = time.perf_counter()
        result = cascade("q conf=0.9")
        assert time.perf_counter() - t0 < 0.5 and result.shadow is not None and not result.shadow.done()
        assert [o["detail"]["error"] for o in cascade.join()] == [None]
    broken = FakeTier("capable", 0.004, fail=True)
    cascade, _, _ = make(capable=broken, shadow_rate=1.0, decision_log=log, exception_text="truncate")
    result = cascade("q conf=0.9")
    assert result.decision.answered_by == "cheap"  # the user's answer is unaffected
    assert "503" in cascade.join()[0]["detail"]["error"]
    cascade.close()
    kinds = [o["kind"] for o in log.outcomes().to_pylist()]
    assert kinds == ["shadow", "shadow"]
    log.close()


# -- misc ----------------------------------------------------------------------------------------
def test_context_and_async_callables_are_supported() -> None:
    seen: list[Any] = []

    def cheap(query: str, context: dict[str, str]) -> TierAnswer:
        seen.append(context)
        return TierAnswer("ok", "mini")

    async def confidence(query: str, answer: TierAnswer) -> float:
        return 0.99

    cascade = Cascade(cheap, AsyncFakeTier("capable", 0.0), confidence=confidence, threshold=0.5)
    assert cascade("hi", {"user": "u1"}).decision.answered_by == "cheap"
    assert asyncio.run(cascade.arun("hi", {"user": "u2"})).decision.answered_by == "cheap"
    assert seen == [{"user": "u1"}, {"user": "u2"}]


def test_review_sampling_per_tier_records_inclusion_probability() -> None:
    cascade, _, _ = make(review_rate={"cheap": 1.0, "capable": 0.0}, seed=5)
    a = cascade("q conf=0.9").decision
    b = cascade("q conf=0.1").decision
    assert (a.review_sampled, a.review_inclusion_prob) == (True, 1.0)
    assert (b.review_sampled, b.review_inclusion_prob) == (False, 0.0)


def test_real_default_router_pre_routes(guarded_router: Any) -> None:
    from tierscope import Router, default_router_dir

    candidates = [
        default_router_dir(),
        Path(__file__).resolve().parents[2] / "models" / "default-minilm-int8-v1",
    ]
    path = next((p for p in candidates if (p / "router.json").is_file()), None)
    if path is None:
        pytest.skip(f"default router not built (looked in {[str(c) for c in candidates]}; run `make model`)")

    router = Router.load(path)
    cascade, cheap, capable = make(router=router)
    _, d = cascade("I think someone stole my card and is using it conf=0.99")
    assert d.route_tier == "capable" and d.hard_rule == "router_tier:capable" and cheap.calls == []
    assert set(d.route_probabilities or {}) == {"cheap", "capable"} and 0 <= (d.route_tail_score or 0) <= 1
    _, d = cascade("How do I activate my new card? conf=0.99")
    assert d.route_tier == "cheap" and d.answered_by == "cheap" and d.latency_router_s is not None
    ad = asyncio.run(cascade.arun("How do I activate my new card? conf=0.99")).decision
    assert ad.outcome_key() == d.outcome_key()  # the router runs in a worker thread under arun
    assert d.route_guarded is False
    # A close call is decided by the router's fp32 precision guard, and the decision says so.
    from tierscope.data import banking77

    router = guarded_router
    cascade, cheap, capable = make(router=router)
    texts = [f"{t} conf=0.99" for t in banking77("test")[0][:800]]
    batch = router.route_batch(texts)
    assert batch.guarded is not None and batch.guarded.any()
    _, d = cascade(texts[int(np.flatnonzero(batch.guarded)[0])])
    assert d.route_guarded is True
    assert d.route_content_discarded is False
    # A query the router saw only part of (or no known word of) is recorded as such.
    _, d = cascade("x" * 100_000 + " conf=0.99")
    assert d.route_content_discarded is True


def test_logging_failure_never_breaks_the_answer(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenLog:
        def log_decision(self, decision: CascadeDecision) -> None:
            raise OSError("No space left on device")

        def log_outcome(self, **kw: Any) -> None:
            raise OSError("No space left on device")

    cascade, _, _ = make(decision_log=BrokenLog(), shadow_rate=1.0, shadow_mode="inline")  # type: ignore[arg-type]
    # An operational failure goes to the `tierscope` logger (not warnings).
    with caplog.at_level(logging.ERROR, logger="tierscope"):
        result = cascade("q conf=0.9")
    assert any("No space left" in r.getMessage() for r in caplog.records)
    assert result.answer.text == "cheap:q conf=0.9" and cascade.log_errors == 2


def test_concurrent_async_calls_then_drain() -> None:
    async def go() -> tuple[list[CascadeResult], list[dict[str, Any]]]:
        cascade, _, _ = make(capable=AsyncFakeTier("capable", 0.004, delay=0.05), shadow_rate=0.5, seed=9)
        results = await asyncio.gather(
            *(cascade.arun(f"q{i} conf={0.9 if i % 3 else 0.2}") for i in range(60))
        )
        return list(results), await cascade.drain()

    results, outcomes = asyncio.run(go())
    shadowed = {r.decision.request_id for r in results if r.decision.shadowed}
    assert 0 < len(shadowed) < 40 and {o["request_id"] for o in outcomes} == shadowed
    assert all(
        r.decision.answered_by == ("capable" if i % 3 == 0 else "cheap") for i, r in enumerate(results)
    )


@settings(max_examples=150, deadline=None)
@given(
    conf=st.one_of(st.floats(-1, 2), st.just(math.nan), st.just(math.inf)),
    threshold=st.floats(0, 1),
    category=st.sampled_from([None, "balance", "fraud"]),
    cheap_fails=st.booleans(),
)
def test_decision_invariants(conf: float, threshold: float, category: str | None, cheap_fails: bool) -> None:
    failing = FakeTier("cheap", 0.001, fail=cheap_fails)
    cascade, cheap, capable = make(threshold=threshold, never_cheap_categories={"fraud"}, cheap=failing)
    d = cascade(f"q conf={conf!r}", category=category).decision
    valid = 0.0 <= conf <= 1.0
    should_accept = category != "fraud" and not cheap_fails and valid and conf >= threshold
    assert (d.answered_by == "cheap") == should_accept == (not d.escalated)
    assert d.fallback == (d.escalation_reason in FALLBACK_REASONS)
    assert d.fallback == (category != "fraud" and (cheap_fails or not valid))
    assert (d.escalation_reason is None) == should_accept and len(capable.calls) == int(not should_accept)
    assert len(cheap.calls) == int(category != "fraud")


# -- issue 11: what the cascade logs on the caller's behalf is always storable -------------------
class _BadValueRouter(FakeRouter):
    def __init__(self, **bad: Any) -> None:
        super().__init__()
        self.bad = bad

    def route(self, text: str) -> FakeDecision:
        d = super().route(text)
        for name, value in self.bad.items():
            setattr(d, name, value)
        return d


@pytest.mark.parametrize(
    "bad",
    [
        {"confidence": math.nan},
        {"confidence": 5.0},
        {"probabilities": {"cheap": -1.0}},
        {"tail_score": math.inf},
    ],
    ids=["confidence-nan", "confidence-5", "probability-negative", "tail-inf"],
)
def test_an_unstorable_router_value_is_a_router_error_and_the_decision_is_logged(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    log = DecisionLog(tmp_path / "log", flush_every=1, fsync=False)
    cascade, _, _ = make(router=_BadValueRouter(**bad), decision_log=log, exception_text="full")
    result = cascade("q conf=0.9")
    assert result.answer.text == "capable:q conf=0.9"
    assert result.decision.escalation_reason == "router_error" and "router" in result.decision.fallback_reason
    log.close()
    assert cascade.log_errors == 0 and len(DecisionLog.read(tmp_path / "log")) == 1


def test_the_caller_s_category_and_request_id_are_checked_before_any_tier_runs() -> None:
    cascade, cheap, capable = make()
    for kwargs, name in (
        ({"category": "fraud\ud800"}, "category"),
        ({"category": 3}, "category"),
        ({"request_id": "r\udfff"}, "request_id"),
        ({"request_id": ""}, "request_id"),
    ):
        with pytest.raises(InvalidInputError, match=name):
            cascade("q conf=0.9", **kwargs)
    assert cheap.calls == [] and capable.calls == []


def test_exception_text_modes() -> None:
    from tierscope.routing.cascade_config import format_exception

    err = ValueError("prompt was: ssn 123-45-6789 \ud800")
    assert format_exception(err, "type") == "ValueError"
    assert format_exception(err, "full") == "ValueError: prompt was: ssn 123-45-6789 \\ud800"
    assert format_exception(err, "truncate", max_chars=6) == "ValueError: prompt…[28 more chars]"
    hashed = format_exception(err, "hash", hasher=lambda t: f"H({len(t)})")
    assert hashed == "ValueError (message H(34), 34 chars)" and "6789" not in hashed
    assert format_exception(ValueError(), "full") == "ValueError"
