"""Bad-input benchmark (issue 11): the cost of ONE 10 MB query, time and peak-RSS increase.

Before the fix the router tokenized the whole text and only then truncated to ``max_length``
(128) tokens. The "uncut" column reproduces exactly that step (the same Rust ``tokenizers``
library, the same tokenizer.json, truncation to 128, whole text) through the ``tokenizers``
Python binding; the "tierscope" column is ``Router.route`` end to end (validation, the pre-cut at
``max_length × 32`` bytes, tokenization, inference). Each measurement runs in a fresh process, so
the peak RSS (``ru_maxrss``) increase belongs to that one call; the 10 MB text is built before the
baseline reading. Targets: under +100 MB and under 50 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tierscope._runtime import cpu_info  # noqa: E402

LABELS = ("10 MB of words", "10 MB without spaces", "10 MB of emoji (4-byte chars)")
"""The texts, built in the child process (see ``_CHILD``)."""

_CHILD = r"""
import json, resource, sys, time
kind, router_dir, label = sys.argv[1], sys.argv[2], sys.argv[3]
texts = {
    "10 MB of words": "my card payment was declined " * (10_000_000 // 29),
    "10 MB without spaces": "x" * 10_000_000,
    "10 MB of emoji (4-byte chars)": "\U0001F642" * 2_500_000,
}
text = texts[label]
if kind == "uncut":
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(router_dir + "/tokenizer.json")
    tok.enable_truncation(128)
    tok.encode("warm up")
    run = lambda: tok.encode(text)
else:
    from tierscope import Router
    router = Router.load(router_dir, sessions=1)
    router.route("warm up")
    run = lambda: router.route(text)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
run()
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_mb": (peak - base) / 1024}))
"""


def measure(kind: str, router_dir: Path, label: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(router_dir), label],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    router_dir = Path(os.environ.get("TIERSCOPE_DEFAULT_ROUTER", "models/default-minilm-int8-v1"))
    cpu = cpu_info()
    flags = ", ".join(k for k, v in cpu["features"].items() if v)  # type: ignore[union-attr]
    print(f"CPU: {cpu['model']}, ISA class **{cpu['isa']}** ({flags}), {os.cpu_count()} cores\n")
    print(
        "| one query | uncut tokenization: time, +peak RSS | tierscope route: time, +peak RSS "
        "| ratio (time, RSS) |"
    )
    print("|---|---|---|---|")
    for label in LABELS:
        before = measure("uncut", router_dir, label)
        after = measure("tierscope", router_dir, label)
        t_ratio = before["seconds"] / max(after["seconds"], 1e-9)
        r_ratio = before["rss_mb"] / max(after["rss_mb"], 0.1)
        print(
            f"| {label} | {before['seconds'] * 1000:.0f} ms, +{before['rss_mb']:.0f} MB "
            f"| {after['seconds'] * 1000:.1f} ms, +{after['rss_mb']:.1f} MB "
            f"| {t_ratio:.0f}× faster, {r_ratio:.0f}× less |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
