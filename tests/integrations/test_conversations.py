"""Which turns of a conversation feed the router, and the session policy."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope import Router
from tierscope.exceptions import InvalidInputError
from tierscope.routing.messages import SessionPolicy, router_text


def test_last_user_turn_then_earlier_ones_within_the_budget() -> None:
    messages = [
        {"role": "system", "content": "You are a bank assistant. Be concise."},
        {"role": "user", "content": "one two three"},
        {"role": "assistant", "content": "answer words that never count"},
        {"role": "user", "content": "four five"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "six"}, {"type": "image_url", "image_url": {"url": "x"}}],
        },
    ]
    assert router_text(messages) == "one two three\nfour five\nsix"
    assert router_text(messages, max_words=3) == "four five\nsix"  # newest first, then stop
    assert router_text(messages, max_words=1) == "six"  # the last turn always
    assert router_text(messages, include_system=True).startswith("You are a bank assistant.")


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "text",
        [{"content": "no role"}],
        [{"role": "system", "content": "x"}],
        [{"role": "user", "content": 3}],
    ],
)
def test_bad_messages_name_the_argument(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="messages"):
        router_text(bad)  # type: ignore[arg-type]


words = st.lists(st.sampled_from(["card", "pin", "lost", "fee", "why"]), min_size=1, max_size=12).map(
    " ".join
)


@settings(max_examples=100, deadline=None)
@given(st.lists(words, min_size=1, max_size=8), st.integers(1, 40))
def test_the_last_turn_always_and_the_budget_otherwise(turns: list[str], budget: int) -> None:
    text = router_text([{"role": "user", "content": t} for t in turns], max_words=budget)
    kept = text.split("\n")
    assert kept[-1] == turns[-1]
    assert kept == turns[len(turns) - len(kept) :]  # a suffix of the conversation, in order
    assert len(text.split()) <= max(budget, len(turns[-1].split()))


def test_a_system_prompt_moves_the_decision_and_is_left_out_by_default(router: Router) -> None:
    """Why system prompts are excluded: a long, constant system prompt drags every query's
    embedding the same way (here the router's confidence in its tier moves), for no information."""
    system = {
        "role": "system",
        "content": "You are the helpful assistant of a bank. Follow the policy, be polite, "
        "never give legal advice.",
    }
    user = {"role": "user", "content": "what is the PIN of my card"}
    alone = router.route(router_text([system, user]))
    with_system = router.route(router_text([system, user], include_system=True))
    assert alone == router.route(user["content"])
    assert abs(with_system.confidence - alone.confidence) > 1e-3


def test_session_policy_is_sticky_for_n_turns_and_bounded() -> None:
    policy = SessionPolicy(2, max_sessions=2)
    assert policy.begin("a").sticky is False
    policy.escalated("a")
    assert [policy.begin("a").sticky for _ in range(3)] == [True, True, False]
    policy.begin("b")
    policy.begin("c")  # "a" is the least recently seen: dropped
    assert policy.begin("a").turn == 1
    with pytest.raises(InvalidInputError, match="sticky_turns"):
        SessionPolicy(-1)
    with pytest.raises(InvalidInputError, match="session_id"):
        policy.begin("")


def test_session_policy_is_thread_safe() -> None:
    policy = SessionPolicy(1)

    def work() -> None:
        for _ in range(200):
            policy.begin("shared")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert policy.begin("shared").turn == 801


def test_router_and_cascade_accept_a_messages_list(router: Router) -> None:
    from tierscope import Cascade, TierAnswer

    chat = [
        {"role": "system", "content": "You are a bank assistant."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "my card was stolen and someone used it"},
    ]
    text = router_text(chat)
    assert router.route(chat) == router.route(text)
    batch = router.route_batch([chat, chat[:2]])
    assert [d.tier for d in batch] == [router.route(text).tier, router.route("hello").tier]
    seen: list[object] = []

    def tier(query: str, context: object) -> TierAnswer:
        seen.append((query, context))
        return TierAnswer("ok")

    cascade = Cascade(tier, tier, confidence=lambda q, a: 0.9, threshold=0.5)
    cascade(chat)
    assert seen == [(text, chat)]  # the router text as the query, the conversation as context
