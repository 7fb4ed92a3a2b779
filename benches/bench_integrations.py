"""Per-call overhead tierscope's OpenAI-compatible client adds on top of the bare client.

Against the local OpenAI-compatible server (tierscope.integrations.testing.FakeOpenAIServer on
127.0.0.1, answering at once), the same BANKING77 test queries go through:

- the bare ``openai.OpenAI`` client (the baseline, measured in the same run);
- ``RoutedOpenAI`` without a router (conversation text, price lookup, the decision row written
  to a DecisionLog): the bookkeeping alone;
- ``RoutedOpenAI`` with the default router and the DecisionLog: router + logging;
- ``router.route`` alone on the same query (no HTTP), to attribute the overhead.

Calls are interleaved (bare, bookkeeping, routed, bare, ...) so machine noise hits all three
alike. Reports p50 and p99 per call in ms, the overhead over the bare client in ms, and the ratio.

    python benches/bench_integrations.py [--n 400]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import openai  # noqa: E402
from tierscope import DecisionLog, Router  # noqa: E402
from tierscope._runtime import cpu_info  # noqa: E402
from tierscope.data import banking77  # noqa: E402
from tierscope.integrations.openai import RoutedOpenAI  # noqa: E402
from tierscope.integrations.testing import FakeOpenAIServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=400, help="calls per variant (after 30 warm-up calls)")
    args = parser.parse_args()
    router_dir = os.environ.get("TIERSCOPE_DEFAULT_ROUTER")
    router = Router.load(router_dir) if router_dir else Router.default()
    texts, _ = banking77("test")
    rng = np.random.default_rng(0)
    queries = [texts[i] for i in rng.choice(len(texts), size=args.n + 30, replace=False)]
    cpu = cpu_info()
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0, timeout=30)
        tiers = {"cheap": (client, "gpt-4o-mini"), "capable": (client, "gpt-4o")}
        with DecisionLog(Path(tmp) / "a") as log_a, DecisionLog(Path(tmp) / "b") as log_b:
            variants = {
                "bare openai client": lambda m: client.chat.completions.create(
                    model="gpt-4o-mini", messages=m
                ),
                "RoutedOpenAI, logging only": RoutedOpenAI(tiers, log=log_a).chat.completions.create,
                "RoutedOpenAI, router + logging": RoutedOpenAI(
                    tiers, router=router, log=log_b
                ).chat.completions.create,
                "router.route alone (no HTTP)": lambda m: router.route(m[0]["content"]),
            }
            times: dict[str, list[float]] = {name: [] for name in variants}
            for i, q in enumerate(queries):
                messages = [{"role": "user", "content": q}]
                for name, call in variants.items():
                    t0 = time.perf_counter()
                    call(messages=messages) if name.startswith("RoutedOpenAI") else call(messages)
                    if i >= 30:
                        times[name].append(time.perf_counter() - t0)
    bare = np.array(times["bare openai client"]) * 1e3
    cores = os.cpu_count()
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}), {cores} cores; {args.n} interleaved calls each")
    print()
    print("| per call | p50 ms | p99 ms | overhead p50 ms | overhead p99 ms | ratio p50 | ratio p99 |")
    print("|---|---|---|---|---|---|---|")
    for name, values in times.items():
        ms = np.array(values) * 1e3
        if name.startswith("router.route"):
            print(f"| {name} | {np.percentile(ms, 50):.2f} | {np.percentile(ms, 99):.2f} | | | | |")
            continue
        p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
        b50, b99 = np.percentile(bare, 50), np.percentile(bare, 99)
        over = f"{p50 - b50:+.2f} | {p99 - b99:+.2f}"
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {over} | {p50 / b50:.2f}× | {p99 / b99:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
