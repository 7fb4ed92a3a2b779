#!/usr/bin/env python
"""Resolve the tierscope wheel with each extra (``pip install --dry-run --report``) in a clean venv.

    python scripts/extras_dry_run.py dist/tierscope-*.whl

Needs the package index (PyPI): it is the check that no extra pulls torch, for a release's notes.
Prints one line per extra: how many distributions it installs, any torch/CUDA one, and their names.
Exits 1 if an extra would install torch, an NVIDIA CUDA package, triton or sentence-transformers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

EXTRAS = ["", "audit", "report", "progress", "hub", "default-model", "all"]
TORCHY = ("torch", "nvidia-", "triton", "sentence-transformers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path)
    args = parser.parse_args(argv)
    wheel = args.wheel.resolve()
    failed = False
    with tempfile.TemporaryDirectory(prefix="tierscope-dry-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        for extra in EXTRAS:
            spec = f"tierscope{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
            report = Path(tmp) / f"{extra or 'core'}.json"
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "--dry-run",
                 "--ignore-installed", "--report", str(report), spec],
                check=True, timeout=600,
            )  # fmt: skip
            names = sorted(i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"])
            bad = [n for n in names if n.startswith(TORCHY)]
            failed |= bool(bad)
            print(
                f"[{extra or 'core'}] {len(names)} distributions, torch/CUDA: {bad or 'none'}: "
                + " ".join(names)
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
