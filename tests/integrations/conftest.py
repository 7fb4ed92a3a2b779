"""Fixtures for the integration tests: a local OpenAI-compatible server, a decision log, an
in-memory OpenTelemetry exporter, and a guard that fails any connection leaving 127.0.0.1."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Before litellm is imported anywhere: its bundled cost map, never a fetch from GitHub.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from tierscope import DecisionLog  # noqa: E402
from tierscope.integrations.testing import FakeOpenAIServer  # noqa: E402

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_PROVIDER)


@pytest.fixture()
def spans() -> Iterator[InMemorySpanExporter]:
    """The SDK's in-memory exporter (the process's tracer provider exports to it), emptied."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture()
def log(tmp_path: Path) -> Iterator[DecisionLog]:
    with DecisionLog(tmp_path / "log") as decision_log:
        yield decision_log


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any connection to a host other than 127.0.0.1 / ::1 fails the test that made it."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return (
            isinstance(host, str)
            and host in ("127.0.0.1", "::1", "localhost")
            or not isinstance(address, tuple)
        )

    def connect(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            attempts.append(address)
            raise AssertionError(f"network call outside 127.0.0.1: {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            attempts.append(address)
            raise AssertionError(f"network call outside 127.0.0.1: {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts
