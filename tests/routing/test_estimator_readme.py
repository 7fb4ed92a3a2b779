"""The README's comparison of the router's head with scikit-learn's LogisticRegression: the block
runs as written, and the figures the README shows are the ones a fresh run prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINE = re.compile(r"^(?P<name>.+?)\s+accuracy (?P<acc>[0-9.]+)\s+ECE (?P<ece>[0-9.]+)\s+fit\s+\d+ ms$", re.M)


def block(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README, flags=re.S)
    assert found, f"README.md lost its {marker} block"
    return found.group(1)


def figures(text: str) -> dict[str, tuple[float, float]]:
    return {m["name"].strip(): (float(m["acc"]), float(m["ece"])) for m in LINE.finditer(text)}


def test_the_readme_comparison_runs_and_its_figures_are_current(tmp_path: Path, default_dir: Path) -> None:
    script = tmp_path / "compare.py"
    script.write_text(block("sklearn-comparison", "python"), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    fresh, shown = figures(done.stdout), figures(block("sklearn-comparison-output", "text"))
    assert set(fresh) == set(shown) == {"tierscope TierClassifier", "sklearn LogisticRegression"}
    for name, (accuracy, ece) in fresh.items():
        assert accuracy == pytest.approx(shown[name][0], abs=0.005), name
        assert ece == pytest.approx(shown[name][1], abs=0.01), name
    ours, theirs = fresh["tierscope TierClassifier"], fresh["sklearn LogisticRegression"]
    assert ours[0] > 0.88 and abs(ours[0] - theirs[0]) < 0.02  # like for like on the same embeddings
