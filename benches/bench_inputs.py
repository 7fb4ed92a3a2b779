"""route_batch inputs: an Arrow string column routed through its buffers (no Python ``str``
built) vs the list conversion a caller would otherwise write (``array.to_pylist()``), one run,
as ratios.

- ingest only (300,000 short texts, nothing routed): ``route_input`` on the Arrow column vs
  ``to_pylist()`` + the list check ``route_batch`` runs, and the Python memory each allocates;
- end to end on BANKING77 test queries: ``route_batch(arrow)`` vs
  ``route_batch(arrow.to_pylist())`` with the default router (encoder time dominates).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from typing import Any

import pyarrow as pa
from tierscope import Router
from tierscope import _validate as v
from tierscope._runtime import cpu_info
from tierscope.data import banking77
from tierscope.routing._inputs import route_input


def _best(fn: Any, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _peak_mib(fn: Any) -> float:
    tracemalloc.start()
    kept = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return peak / 2**20


def main() -> None:
    texts, _ = banking77("test")
    big = pa.array((texts * 100)[:300_000], type=pa.large_string())
    as_list = lambda: v.string_list("texts", big.to_pylist())  # noqa: E731
    as_buffers = lambda: route_input("texts", big)  # noqa: E731
    t_list, t_buf = _best(as_list), _best(as_buffers)
    m_list, m_buf = _peak_mib(as_list), _peak_mib(as_buffers)
    router = Router.default()
    sample = pa.array(texts[:1000], type=pa.string())
    e_list = _best(lambda: router.route_batch(sample.to_pylist()), repeats=3)
    e_buf = _best(lambda: router.route_batch(sample), repeats=3)
    cpu = cpu_info()
    print(f"CPU: {cpu['model']} (ISA class {cpu['isa']}), {os.cpu_count()} cores; threads {router.threads}\n")
    rows = [
        (
            "GIL-held ingest of 300k texts, time",
            f"{t_list * 1e3:.1f} ms",
            f"{t_buf * 1e6:.0f} µs",
            t_list / t_buf,
        ),
        (
            "ingest of 300k texts, Python peak memory",
            f"{m_list:.1f} MiB",
            f"{m_buf * 1024:.1f} KiB",
            m_list / m_buf,
        ),
        (
            "route_batch, 1,000 queries, end to end",
            f"{e_list * 1e3:.0f} ms",
            f"{e_buf * 1e3:.0f} ms",
            e_list / e_buf,
        ),
    ]
    print("| measurement | list conversion | Arrow buffers | ratio (list / buffers) |")
    print("|---|---|---|---|")
    for name, a, b, ratio in rows:
        print(f"| {name} | {a} | {b} | {ratio:.3g}x |")
    print(
        "\nThe buffers path moves the text copy into Rust, with the GIL released (not in the ingest "
        "rows); end to end the encoder dominates."
    )


if __name__ == "__main__":
    main()
