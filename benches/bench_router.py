"""Router benchmark: tierscope's Rust pipeline vs a best-practice Python pipeline, one run, as ratios.

Measured on BANKING77's 3,080 test queries with the same model file and the same cores:
- batch throughput of ``Router.route_batch`` vs ``PythonPipeline.embed`` (onnxruntime + tokenizers,
  dynamic padding, length-sorted), fp32 on 1 core and on all cores, and tierscope's default (static
  int8) model vs the Python fp32 pipeline;
- several single-threaded sessions vs one multi-threaded session;
- single-query p50/p99 on one core;
- the pipeline's overhead over bare ONNX Runtime session time on the same batches.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from python_baseline import PythonPipeline  # noqa: E402
from tierscope import Router  # noqa: E402
from tierscope._runtime import cpu_info  # noqa: E402
from tierscope.data import banking77  # noqa: E402


def _best_throughput(fn: Any, n: int, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / min(times)


def _latencies_ms(fn: Any, texts: list[str]) -> tuple[float, float]:
    for t in texts[:20]:
        fn(t)
    samples = []
    for t in texts:
        t0 = time.perf_counter()
        fn(t)
        samples.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def _plan(lengths: list[int], token_budget: int = 512, max_batch: int = 64) -> list[list[int]]:
    """The same length-bucketed plan as the Rust core (src/router/batching.rs)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(lengths[i], 1)
        if current and ((len(current) + 1) * max(longest, n) > token_budget or len(current) >= max_batch):
            batches.append(current)
            current, longest = [], 0
        longest = max(longest, n)
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _bare_ort_seconds(pipe: PythonPipeline, texts: list[str], repeats: int = 3) -> float:
    """Time inside session.run only, on the batches the Rust core forms."""
    enc = pipe.tokenizer.encode_batch(texts)
    plan = _plan([len(e.ids) for e in enc])
    feeds_list = []
    for idx in plan:
        seq = max(len(enc[i].ids) for i in idx)
        ids = np.zeros((len(idx), seq), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(idx):
            ids[r, : len(enc[i].ids)] = enc[i].ids
            mask[r, : len(enc[i].ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds_list.append({k: v for k, v in feeds.items() if k in pipe.input_names})
    best = float("inf")
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        for feeds in feeds_list:
            pipe.session.run([pipe.output_name], feeds)
        best = min(best, time.perf_counter() - t0)
    return best


def run(int8_dir: Path, fp32_dir: Path, cores: int) -> tuple[list[tuple[str, str, str]], dict[str, float]]:
    texts, _ = banking77("test")
    n = len(texts)
    rows: list[tuple[str, str, str]] = []
    figures: dict[str, float] = {}

    py1 = PythonPipeline(fp32_dir, threads=1)
    py_all = PythonPipeline(fp32_dir, threads=cores)
    ts_fp32_1 = Router.load(fp32_dir, sessions=1, intra_threads=1)
    ts_int8_1 = Router.load(int8_dir, sessions=1, intra_threads=1)
    ts_int8_bare_1 = Router.load(int8_dir, sessions=1, intra_threads=1, guard=False)

    figures["py_fp32_1core_qps"] = _best_throughput(lambda: py1.embed(texts), n)
    figures["ts_fp32_1core_qps"] = _best_throughput(lambda: ts_fp32_1.route_batch(texts), n)
    figures["ts_int8_1core_qps"] = _best_throughput(lambda: ts_int8_1.route_batch(texts), n)
    figures["ts_int8_bare_1core_qps"] = _best_throughput(lambda: ts_int8_bare_1.route_batch(texts), n)
    figures["py_fp32_allcores_qps"] = _best_throughput(lambda: py_all.embed(texts), n)
    ts_fp32_sessions = Router.load(fp32_dir, sessions=cores, intra_threads=1)
    figures["ts_fp32_allcores_sessions_qps"] = _best_throughput(
        lambda: ts_fp32_sessions.route_batch(texts), n
    )
    ts_fp32_intra = Router.load(fp32_dir, sessions=1, intra_threads=cores)
    figures["ts_fp32_allcores_intra_qps"] = _best_throughput(lambda: ts_fp32_intra.route_batch(texts), n)
    ts_int8_all = Router.load(int8_dir)
    figures["ts_int8_allcores_qps"] = _best_throughput(lambda: ts_int8_all.route_batch(texts), n)

    lat_texts = texts[:400]
    figures["ts_int8_p50_ms"], figures["ts_int8_p99_ms"] = _latencies_ms(ts_int8_1.route, lat_texts)
    figures["ts_fp32_p50_ms"], figures["ts_fp32_p99_ms"] = _latencies_ms(ts_fp32_1.route, lat_texts)
    figures["py_fp32_p50_ms"], figures["py_fp32_p99_ms"] = _latencies_ms(lambda t: py1.embed([t]), lat_texts)

    bare = _bare_ort_seconds(py1, texts)
    t0 = time.perf_counter()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ts_fp32_1.route_batch(texts)
        best = min(best, time.perf_counter() - t0)
    figures["bare_ort_fp32_1core_s"] = bare
    figures["ts_fp32_1core_s"] = best
    figures["ts_overhead_vs_bare_ort"] = best / bare - 1

    shipped = ts_int8_1.route_batch(texts)
    a = shipped.tier_index
    b = ts_fp32_1.route_batch(texts).tier_index
    figures["int8_fp32_tier_agreement"] = float(np.mean(a == b))
    figures["int8_bare_fp32_tier_agreement"] = float(
        np.mean(ts_int8_bare_1.route_batch(texts).tier_index == b)
    )
    figures["guarded_share"] = float(np.mean(shipped.guarded)) if shipped.guarded is not None else 0.0

    f = figures
    isa = cpu_info()["isa"]
    target = 2.0 if isa in ("AVX-512 VNNI", "AVX-VNNI", "AMX") else 1.5
    rows += [
        (
            f"**default model vs tierscope fp32, 1 core, same run ({isa})**",
            f"{f['ts_int8_1core_qps']:.0f} vs {f['ts_fp32_1core_qps']:.0f} q/s",
            f"{f['ts_int8_1core_qps'] / f['ts_fp32_1core_qps']:.2f}× (target ≥ {target:.1f}× on {isa})",
        ),
        (
            f"int8 encoder alone (no precision guard) vs tierscope fp32, 1 core ({isa})",
            f"{f['ts_int8_bare_1core_qps']:.0f} vs {f['ts_fp32_1core_qps']:.0f} q/s",
            f"{f['ts_int8_bare_1core_qps'] / f['ts_fp32_1core_qps']:.2f}×",
        ),
        (
            "batch throughput, fp32, 1 core",
            f"{f['ts_fp32_1core_qps']:.0f} vs {f['py_fp32_1core_qps']:.0f} q/s",
            f"{f['ts_fp32_1core_qps'] / f['py_fp32_1core_qps']:.2f}×",
        ),
        (
            f"batch throughput, fp32, {cores} cores ({cores} sessions × 1 thread)",
            f"{f['ts_fp32_allcores_sessions_qps']:.0f} vs {f['py_fp32_allcores_qps']:.0f} q/s",
            f"{f['ts_fp32_allcores_sessions_qps'] / f['py_fp32_allcores_qps']:.2f}×",
        ),
        (
            f"batch throughput, fp32, {cores} cores (1 session × {cores} threads)",
            f"{f['ts_fp32_allcores_intra_qps']:.0f} vs {f['py_fp32_allcores_qps']:.0f} q/s",
            f"{f['ts_fp32_allcores_intra_qps'] / f['py_fp32_allcores_qps']:.2f}×",
        ),
        (
            "batch throughput, default int8 vs Python fp32, 1 core",
            f"{f['ts_int8_1core_qps']:.0f} vs {f['py_fp32_1core_qps']:.0f} q/s",
            f"{f['ts_int8_1core_qps'] / f['py_fp32_1core_qps']:.2f}×",
        ),
        (
            f"batch throughput, default int8 vs Python fp32, {cores} cores",
            f"{f['ts_int8_allcores_qps']:.0f} vs {f['py_fp32_allcores_qps']:.0f} q/s",
            f"{f['ts_int8_allcores_qps'] / f['py_fp32_allcores_qps']:.2f}×",
        ),
        (
            "single query p50 / p99, 1 core, default int8",
            f"{f['ts_int8_p50_ms']:.2f} / {f['ts_int8_p99_ms']:.2f} ms",
            f"{f['py_fp32_p50_ms'] / f['ts_int8_p50_ms']:.2f}× faster p50 than Python fp32",
        ),
        (
            "single query p50 / p99, 1 core, fp32",
            f"{f['ts_fp32_p50_ms']:.2f} / {f['ts_fp32_p99_ms']:.2f} ms vs Python {f['py_fp32_p50_ms']:.2f} / "
            f"{f['py_fp32_p99_ms']:.2f} ms",
            f"{f['py_fp32_p50_ms'] / f['ts_fp32_p50_ms']:.2f}×",
        ),
        (
            "pipeline overhead over bare ORT session time (fp32, 1 core, same batches)",
            f"{f['ts_fp32_1core_s']:.2f} s vs {f['bare_ort_fp32_1core_s']:.2f} s",
            f"{100 * f['ts_overhead_vs_bare_ort']:+.1f}%",
        ),
        (
            "tier agreement with the fp32 router (BANKING77 test): default / int8 alone",
            f"{f['int8_fp32_tier_agreement']:.4f} / {f['int8_bare_fp32_tier_agreement']:.4f}",
            f"{100 * f['guarded_share']:.1f}% re-decided by the guard",
        ),
    ]
    return rows, figures


def main() -> int:
    int8_dir = Path(os.environ.get("TIERSCOPE_DEFAULT_ROUTER", "models/default-minilm-int8-v1"))
    fp32_dir = Path(os.environ.get("TIERSCOPE_FP32_ROUTER", "models/minilm-fp32-v1"))
    cores = os.cpu_count() or 1
    rows, _ = run(int8_dir, fp32_dir, cores)
    cpu = cpu_info()
    flags = ", ".join(k for k, v in cpu["features"].items() if v)  # type: ignore[union-attr]
    print(f"CPU: {cpu['model']}, ISA class **{cpu['isa']}** ({flags}), {cores} cores\n")
    print("| router benchmark | tierscope vs Python | ratio |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
