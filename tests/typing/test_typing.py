"""mypy --strict on the typed usage examples beside this file (the generic cascade, the async
routing API, the estimator), and on a file with deliberate type errors, which must fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def mypy(*files: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]),
    }
    config = str(ROOT / "pyproject.toml")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", config,
         *map(str, files)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip


def test_usage_examples_pass_mypy_strict() -> None:
    done = mypy(HERE / "usage_cascade_async.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_answer_type_fails_mypy(tmp_path: Path) -> None:
    bad = tmp_path / "bad_usage.py"
    bad.write_text(
        "from tierscope.routing import Cascade, TierAnswer\n"
        "def cheap(q: str) -> TierAnswer:\n    return TierAnswer(text=q)\n"
        "def conf(q: str, a: object) -> float:\n    return 1.0\n"
        "answer, decision = Cascade(cheap, cheap, confidence=conf, threshold=0.5)('q')\n"
        "n: int = answer\n"
        "async def f() -> None:\n"
        "    from tierscope.routing import Router\n"
        "    d = await Router.default().aroute('q')\n"
        "    s: str = d.confidence\n"
    )
    done = mypy(bad)
    assert done.returncode == 1
    assert 'Incompatible types in assignment (expression has type "TierAnswer"' in done.stdout
    assert 'expression has type "float", variable has type "str"' in done.stdout
