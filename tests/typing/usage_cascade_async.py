"""Typed usage of the generic cascade and the async routing API: checked by ``mypy --strict``
(``tests/typing/test_typing.py``), never imported by pytest. Every ``reveal_type``-free line
below must type-check; ``assert_type`` pins what the checker infers."""

from __future__ import annotations

import asyncio
from typing import assert_type

import numpy as np
import numpy.typing as npt
from tierscope.routing import (
    Cascade,
    CascadeDecision,
    CascadeResult,
    Decision,
    RouteBatch,
    Router,
    TierAnswer,
    TierClassifier,
)


def cheap(query: str) -> TierAnswer:
    return TierAnswer(text=f"cheap: {query}", model_id="small")


def capable(query: str) -> TierAnswer:
    return TierAnswer(text=f"capable: {query}", model_id="large")


async def acheap(query: str) -> str:
    return query.upper()


async def acapable(query: str) -> str:
    return query.lower()


def confidence(query: str, answer: object) -> float:
    return 0.9


def sync_cascade() -> str:
    cascade = Cascade(cheap, capable, confidence=confidence, threshold=0.5)
    assert_type(cascade, Cascade[TierAnswer])
    result = cascade("hello")
    assert_type(result, CascadeResult[TierAnswer])
    answer, decision = result
    assert_type(answer, TierAnswer)
    assert_type(decision, CascadeDecision)
    assert_type(result.answer, TierAnswer)
    return answer.text + str(decision.escalated)


async def async_cascade() -> str:
    cascade = Cascade(acheap, acapable, confidence=confidence, threshold=0.5, seed=1)
    assert_type(cascade, Cascade[str])
    answer, decision = await cascade.arun("Hello")
    assert_type(answer, str)
    mixed = Cascade(acheap, str.strip, confidence=confidence, threshold=0.5)
    assert_type(mixed, Cascade[str])
    return answer + (decision.answered_by or "")


async def async_routing(router: Router) -> list[str]:
    one = await router.aroute("what is my balance")
    assert_type(one, Decision)
    many = await asyncio.gather(*(router.aroute(q) for q in ["a", "b"]))
    assert_type(many, list[Decision])
    batch = await router.aroute_batch(["a", "b"], with_embeddings=True)
    assert_type(batch, RouteBatch)
    restored = Decision.from_dict(one.to_dict())
    assert_type(restored, Decision)
    return [d.tier for d in many] + [restored.tier]


def estimator(embeddings: npt.NDArray[np.float32], labels: list[str]) -> float:
    model = TierClassifier(l2=1e-3).fit(embeddings, labels)
    assert_type(model, TierClassifier)
    proba = model.predict_proba(embeddings)
    assert_type(proba, npt.NDArray[np.float64])
    return model.score(embeddings, labels)
