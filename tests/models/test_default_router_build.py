"""The default-router build is reproducible: the same lock, seed and machine give the same router."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tierscope.models.default_router import build


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a full build: about a minute on a quiet 2-core machine, 11 min on a loaded one
def test_rebuild_with_the_same_seed_is_byte_identical(default_dir: Path, tmp_path: Path) -> None:
    made = json.loads((default_dir / "router.json").read_text())
    seed = int(made["provenance"]["trainer"].rsplit("seed=", 1)[1].rstrip(")"))
    build(tmp_path / "int8", fp32_out=None, seed=seed, log=lambda _m: None)
    again = json.loads((tmp_path / "int8" / "router.json").read_text())
    assert json.dumps(again["metrics"], sort_keys=True) == json.dumps(made["metrics"], sort_keys=True)
    assert (tmp_path / "int8" / "router.json").read_bytes() == (default_dir / "router.json").read_bytes()
    for name in ("model.onnx", "tokenizer.json", "tail_index.bin", "regions.bin"):
        assert _sha256(tmp_path / "int8" / name) == _sha256(default_dir / name), name
    # Recipe v3: no fp32 guard inside the shipped router (it would not fit the <= 30 MB package).
    assert not (tmp_path / "int8" / "guard.json").exists() and not (tmp_path / "int8" / "guard").exists()
    # Recipe v4 adds regions.bin (issue 16).
    assert sorted(made["provenance"]["files"]) == [
        "model.onnx",
        "regions.bin",
        "tail_index.bin",
        "tokenizer.json",
    ]


def test_the_shipped_router_is_small_and_int8_alone_passes_the_bar(default_dir: Path) -> None:
    made = json.loads((default_dir / "router.json").read_text())
    assert (default_dir / "model.onnx").stat().st_size < 30e6
    assert made["provenance"]["int8"]["embedding_table"]["scheme"].startswith("int8")
    checks = made["provenance"]["checks"]
    assert checks["int8_fp32_tier_agreement"] == checks["int8_unguarded_fp32_tier_agreement"]
    assert checks["int8_fp32_tier_agreement"] >= checks["min_tier_agreement"] == 0.995
    assert 0.0 < made["provenance"]["precision_guard"]["margin"] < 0.25
