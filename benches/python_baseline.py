"""Best-practice Python embedding pipeline: the baseline tierscope's Rust router is benchmarked against.

ONNX Runtime (CPU EP, ``intra_op_num_threads=threads``, ``inter_op_num_threads=1``, graph optimisation ALL)
+ Hugging Face ``tokenizers`` (padding disabled, truncation to 128, ``encode_batch``), length-sorted batches
padded to the batch's longest sequence, masked mean pooling + L2 normalisation in numpy.

    python benches/python_baseline.py MODEL_DIR [--threads 1] [--batch-size 32] [--csv test.csv]
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_LENGTH = 128


class PythonPipeline:
    """Embed texts with ``model.onnx`` + ``tokenizer.json`` from ``model_dir``.

    Attributes:
        session_time: seconds spent inside ``session.run`` since construction (or :meth:`reset_timers`).
        total_time: seconds spent inside :meth:`embed` (tokenisation, padding, inference, pooling).
    """

    def __init__(self, model_dir: str | pathlib.Path, threads: int = 1) -> None:
        model_dir = pathlib.Path(model_dir)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.output_name = self.session.get_outputs()[0].name
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_LENGTH)
        self.session_time = 0.0
        self.total_time = 0.0

    def reset_timers(self) -> None:
        self.session_time = 0.0
        self.total_time = 0.0

    @property
    def overhead_time(self) -> float:
        """Seconds of :meth:`embed` spent outside ``session.run``."""
        return self.total_time - self.session_time

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """L2-normalised mean-pooled embeddings, ``(len(texts), hidden)``, in input order."""
        t0 = time.perf_counter()
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out: npt.NDArray[np.float32] | None = None
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            seq = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.int64)
            types = np.zeros((len(idx), seq), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[i]
                n = len(e.ids)
                ids[row, :n] = e.ids
                mask[row, :n] = e.attention_mask
                types[row, :n] = e.type_ids
            feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feeds = {k: v for k, v in feeds.items() if k in self.input_names}
            ts = time.perf_counter()
            (hidden,) = self.session.run([self.output_name], feeds)
            self.session_time += time.perf_counter() - ts
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        self.total_time += time.perf_counter() - t0
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=pathlib.Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    default_csv = pathlib.Path(__file__).resolve().parents[1] / "python/tierscope/data/banking77/test.csv"
    ap.add_argument("--csv", type=pathlib.Path, default=default_csv)
    args = ap.parse_args()
    with args.csv.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    pipe = PythonPipeline(args.model_dir, threads=args.threads)
    pipe.embed(texts[: args.batch_size], args.batch_size)  # warm-up
    best = None
    for _ in range(args.repeats):
        pipe.reset_timers()
        pipe.embed(texts, args.batch_size)
        if best is None or pipe.total_time < best[0]:
            best = (pipe.total_time, pipe.session_time)
    assert best is not None
    total, sess = best
    print(
        f"{len(texts)} texts, batch {args.batch_size}, {args.threads} thread(s): total {total:.3f}s "
        f"({len(texts) / total:.0f} texts/s), session.run {sess:.3f}s, overhead {total - sess:.3f}s "
        f"({100 * (total - sess) / total:.1f}%)"
    )


if __name__ == "__main__":
    main()
