"""Verifier scoring cost vs routing, one core, one run, as ratios (issue 14).

Both use the default router's encoder in one single-threaded ONNX Runtime session (one core).
The router routes BANKING77 test queries; the verifier ("pair" design, fitted here on seeded
synthetic answers: its weights do not change its speed) scores (query, answer) pairs whose answers
are long worked solutions (~600 characters, cut to their last 300 before encoding), i.e. two
encoder passes per pair, the answer one at most 128 tokens. Reports batch throughput (pairs/s vs
queries/s, best of 5) and single-pair / single-query p50 latency (200 calls).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from tierscope import Router  # noqa: E402
from tierscope._runtime import cpu_info  # noqa: E402
from tierscope.confidence import Verifier  # noqa: E402
from tierscope.data import banking77  # noqa: E402
from tierscope.routing.router import default_router_dir  # noqa: E402

N_BATCH = 256
N_SINGLE = 200


def _answers(queries: list[str], seed: int) -> tuple[list[str], np.ndarray]:
    """Seeded worked 'solutions' of ~600 characters, half ending in a wrong total."""
    rng = np.random.default_rng(seed)
    out, ok = [], []
    for q in queries:
        a, b = (int(x) for x in rng.integers(2, 90, size=2))
        right = bool(rng.random() < 0.5)
        steps = " ".join(
            f"Step {i}: we have {a + i} items and add {b} more, giving {a + i + b}." for i in range(8)
        )
        total = a + b if right else a + b + int(rng.integers(1, 9))
        out.append(f"About '{q}': {steps} So the answer is {a} + {b} = {total}.\n#### {total}")
        ok.append(right)
    return out, np.array(ok)


def _best(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _p50(fn: Callable[..., object], args: list[tuple[str, ...]]) -> float:
    times = []
    for a in args:
        t0 = time.perf_counter()
        fn(*a)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    router = Router.load(default_router_dir(), sessions=1, intra_threads=1)
    texts = banking77("test")[0]
    train_q = texts[N_BATCH : N_BATCH + 120]
    train_a, train_ok = _answers(train_q, seed=1)
    verifier = Verifier.fit(train_q, train_a, train_ok, encoder=router, l2=1.0, seed=0)
    queries = texts[:N_BATCH]
    answers, _ = _answers(queries, seed=2)
    route_s = _best(lambda: router.route_batch(queries))
    verify_s = _best(lambda: verifier.score(queries, answers))
    route_rate, verify_rate = N_BATCH / route_s, N_BATCH / verify_s
    single = list(zip(queries[:N_SINGLE], answers[:N_SINGLE], strict=True))
    verifier(*single[0])
    p50_verify = _p50(verifier, single)
    p50_route = _p50(router.route, [(q,) for q, _ in single])
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}); one core (1 session x 1 thread)\n")
    print("| measure | router (query) | verifier (query, answer) | verifier / router |")
    print("|---|---|---|---|")
    print(
        f"| batch of {N_BATCH}, per second | {route_rate:,.0f} queries/s | {verify_rate:,.0f} pairs/s | "
        f"{verify_rate / route_rate:.2f}x |"
    )
    print(
        f"| single call, p50 latency | {1e3 * p50_route:.2f} ms | {1e3 * p50_verify:.2f} ms | "
        f"{p50_verify / p50_route:.2f}x |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
