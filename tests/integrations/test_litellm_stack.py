"""LiteLLM end to end: tierscope picks the deployment of a real `litellm.Router`, and
TierscopeLogger writes every call (sync and async) to the DecisionLog; no call leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import litellm
import pytest
from tierscope import DecisionLog, Router, audit
from tierscope.exceptions import InvalidInputError
from tierscope.integrations.litellm import TierscopeLogger, TierscopeRoutingStrategy
from tierscope.integrations.testing import FakeOpenAIServer

# litellm's own warnings (not tierscope's): pydantic on its ReadOnly TypedDicts, and the event
# loop / sockets its sync path leaves to the garbage collector.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.*using the `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # litellm's stream wrapper reads a pydantic attribute pydantic 2.11 deprecates.
    pytest.mark.filterwarnings("ignore:Accessing the 'model_.*' attribute on the instance is deprecated"),
]

CHEAP_Q = "what is the PIN of my card"
CAPABLE_Q = "my card was stolen and someone used it, I want to dispute the charges"


def _model_list(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    params = {"api_base": server.base_url, "api_key": "test", "max_retries": 0, "timeout": 10}
    return [
        {"model_name": "cheap", "litellm_params": {"model": "openai/gpt-4o-mini", **params}},
        {"model_name": "capable", "litellm_params": {"model": "openai/gpt-4o", **params}},
    ]


@pytest.fixture()
def tl(log: DecisionLog) -> Iterator[TierscopeLogger]:
    logger = TierscopeLogger(log).install()
    yield logger
    logger.uninstall()


def _wait_rows(log: DecisionLog, n: int, timeout: float = 20.0) -> Any:
    """LiteLLM runs sync success callbacks in a background pool: wait (bounded) for ``n`` rows."""
    deadline = time.monotonic() + timeout
    while True:
        log.flush()
        try:
            rows = log.decisions(format="pandas")
        except FileNotFoundError:
            rows = None
        if rows is not None and len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_tierscope_routes_a_litellm_router_and_every_call_is_logged(
    server: FakeOpenAIServer, router: Router, log: DecisionLog, tl: TierscopeLogger, loopback_only: list[Any]
) -> None:
    lrouter = litellm.Router(model_list=_model_list(server))
    TierscopeRoutingStrategy(router, sessions=1).install(lrouter)
    models = []
    for q in (CHEAP_Q, CAPABLE_Q, CHEAP_Q):
        reply = lrouter.completion(
            model="tierscope", messages=[{"role": "user", "content": q}], metadata={"session_id": "c1"}
        )
        models.append(reply.model)
    assert models == ["gpt-4o-mini", "gpt-4o", "gpt-4o"]  # the third stays: sticky session

    async def go() -> Any:
        reply = await lrouter.acompletion(
            model="tierscope", messages=[{"role": "user", "content": CAPABLE_Q}]
        )
        # The async callback runs as a task of this loop after the call returns: let it (bounded).
        for _ in range(400):
            if tl.events >= 4:
                break
            await asyncio.sleep(0.05)
        return reply

    assert asyncio.run(asyncio.wait_for(go(), timeout=60)).model == "gpt-4o"
    rows = _wait_rows(log, 4)
    assert rows is not None and len(rows) == 4 and tl.log_errors == 0
    rows = rows.sort_values("timestamp")
    assert list(rows["answered_by"]) == ["cheap", "capable", "capable", "capable"]
    assert list(rows["session_sticky"].iloc[:3]) == [False, False, True]
    assert rows["cost"].gt(0).all() and rows["route_confidence"].notna().all()
    assert rows.iloc[0]["cheap_model_id"] == "gpt-4o-mini" and rows.iloc[0]["cheap_input_tokens"] > 0
    assert rows["trace_id"].str.fullmatch("[0-9a-f]{32}").all()
    costs = audit(log).costs.set_index("component")["estimate"]
    assert costs["inference (routed)"] == pytest.approx(rows["cost"].sum())
    assert loopback_only == []


@pytest.mark.timeout(60)
def test_the_logger_alone_records_plain_litellm_calls(
    server: FakeOpenAIServer, log: DecisionLog, tl: TierscopeLogger
) -> None:
    litellm.completion(
        model="openai/gpt-4o-mini",
        api_base=server.base_url,
        api_key="test",
        messages=[{"role": "user", "content": "hi"}],
        metadata={"model_group": "cheap"},
    )
    rows = _wait_rows(log, 1)
    assert rows is not None and list(rows["answered_by"]) == ["cheap"] and rows.iloc[0]["cost"] > 0


def test_strategy_refuses_tiers_the_litellm_router_does_not_serve(
    server: FakeOpenAIServer, router: Router
) -> None:
    lrouter = litellm.Router(model_list=_model_list(server)[:1])
    with pytest.raises(InvalidInputError, match="`tiers`"):
        TierscopeRoutingStrategy(router).install(lrouter)
    with pytest.raises(InvalidInputError, match="`tiers`"):
        TierscopeRoutingStrategy(router, tiers={"cheap": "cheap"})


@pytest.mark.timeout(60)
def test_a_streamed_litellm_call_is_routed_and_logged_when_it_ends(
    server: FakeOpenAIServer, router: Router, log: DecisionLog, tl: TierscopeLogger
) -> None:
    lrouter = litellm.Router(model_list=_model_list(server))
    TierscopeRoutingStrategy(router).install(lrouter)
    stream = lrouter.completion(
        model="tierscope",
        messages=[{"role": "user", "content": CAPABLE_Q}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"[gpt-4o] {CAPABLE_Q}"
    rows = _wait_rows(log, 1)
    assert rows is not None and len(rows) == 1
    row = rows.iloc[0]
    assert row["answered_by"] == "capable" and row["capable_output_tokens"] > 0 and row["cost"] > 0


NO_NETWORK = r"""
import os, socket, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
attempts = []
real = socket.socket.connect
def connect(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        attempts.append(address)
        raise OSError("blocked: " + repr(address))
    return real(self, address)
socket.socket.connect = connect
real_gai = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        attempts.append(host)
        raise OSError("blocked lookup: " + repr(host))
    return real_gai(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
import litellm
litellm.completion(model="openai/gpt-4o-mini", api_base=sys.argv[1], api_key="test",
                   messages=[{"role": "user", "content": "hi"}])
import time; time.sleep(1.0)  # let its background callbacks run
print("ATTEMPTS", attempts)
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_litellm_makes_no_call_outside_127_0_0_1_from_import_on(server: FakeOpenAIServer) -> None:
    """The import (cost map) and a completion, in a fresh process with every other host blocked."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, server.base_url], capture_output=True, text=True, timeout=150
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ATTEMPTS []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
