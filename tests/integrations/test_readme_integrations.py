"""The README's integration quickstarts (```python integrations blocks) run as written, against
the local OpenAI-compatible server, and their calls land in the decision log with costs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import litellm
import pytest
from tierscope import load_decisions
from tierscope.exceptions import DecisionLogError
from tierscope.integrations.litellm import TierscopeLogger
from tierscope.integrations.testing import FakeOpenAIServer

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python integrations\n(.*?)```", README.read_text(), flags=re.S)
STACKS = ("openai", "litellm", "langchain", "otel")

pytestmark = [  # litellm's own warnings (see test_litellm_stack.py)
    pytest.mark.filterwarnings("ignore:Item.*using the `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_one_quickstart_per_integration() -> None:
    assert len(BLOCKS) == len(STACKS)
    for block, stack in zip(BLOCKS, STACKS, strict=True):
        assert f"tierscope.integrations.{stack}" in block


def _rows(ns: dict[str, Any], n: int) -> Any:
    log = ns["log"]
    deadline = time.monotonic() + 20
    while True:  # LiteLLM delivers its sync callbacks from a background pool: bounded wait
        try:
            log.flush()  # a block that closed its log has flushed already
        except DecisionLogError:
            pass
        rows = load_decisions("logs/routing") if any(Path("logs/routing").rglob("*.parquet")) else None
        if rows is not None and len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("index", range(len(STACKS)), ids=STACKS)
def test_readme_integration_block_runs(
    index: int,
    tmp_path: Path,
    default_dir: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    spans: Any,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {"__name__": "__readme__"}
    try:
        exec(compile(BLOCKS[index], f"README.md integrations block {index}", "exec"), ns)
        expected = {"openai": 3, "litellm": 1, "langchain": 3, "otel": 1}[STACKS[index]]
        rows = _rows(ns, expected)
    finally:
        for cb in list(getattr(litellm, "success_callback", [])):
            if isinstance(cb, TierscopeLogger):
                cb.uninstall()
    assert rows is not None and len(rows) == expected
    assert rows["answered_by"].notna().all()
    if STACKS[index] == "otel":
        assert rows["trace_id"].str.fullmatch("[0-9a-f]{32}").all()
    else:
        assert rows["cost"].gt(0).all() and rows["trace_id"].notna().all()
