"""Router.from_pretrained against a Hugging Face Hub cache laid out as huggingface_hub lays it out.

There is no Hub here: each test saves a real router, files it into ``models--acme--router/`` (content
blobs, ``refs/<name>`` holding the commit hash, ``snapshots/<commit>/`` symlinks into the blobs), and
loads it with ``HF_HUB_OFFLINE=1`` (huggingface_hub reads the cache only).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from tierscope import Router
from tierscope.exceptions import InvalidInputError, MissingDependencyError, ModelLoadError
from tierscope.routing.manifest import file_manifest, verify_manifest

hub_constants = pytest.importorskip("huggingface_hub.constants")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "acme/router"


def _file_into_cache(router_dir: Path, cache: Path, commit: str = COMMIT, ref: str = "main") -> Path:
    """Lay ``router_dir`` out as huggingface_hub's cache does; returns the snapshot directory."""
    repo = cache / "models--acme--router"
    snap = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    for path in sorted(p for p in router_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snap / path.relative_to(router_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs" / ref).write_text(commit)
    return snap


@pytest.fixture(scope="module")
def saved(default_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("saved") / "router"
    Router.load(default_dir, guard=False, sessions=1).save(out)
    return out


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Hub cache, offline mode, and a private tierscope cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = tmp_path / "hub"
    cache.mkdir()
    return cache


def test_save_writes_a_manifest_of_every_other_file(saved: Path) -> None:
    config = json.loads((saved / "router.json").read_text())
    files = config["provenance"]["files"]
    # Recipe v4 adds the regions of the training distribution (issue 16).
    assert sorted(files) == ["model.onnx", "regions.bin", "tail_index.bin", "tokenizer.json"]
    for name, entry in files.items():
        assert entry["sha256"] == hashlib.sha256((saved / name).read_bytes()).hexdigest()
        assert entry["size"] == (saved / name).stat().st_size
    assert verify_manifest(saved, source="saved") == files
    # The manifest survives a load and a save by the Rust core (it lives in provenance).
    assert Router.load(saved, sessions=1).config["provenance"]["files"] == files


def test_from_pretrained_offline_routes_like_the_original(
    saved: Path, offline: Path, queries: list[str]
) -> None:
    _file_into_cache(saved, offline)
    texts = queries[:64]
    loaded = Router.from_pretrained(REPO, cache_dir=offline, sessions=1)
    assert loaded.path is not None and loaded.path.name == COMMIT and not loaded.path.is_symlink()
    assert not any(p.is_symlink() for p in loaded.path.rglob("*"))
    want = Router.load(saved, sessions=1).route_batch(texts)
    got = loaded.route_batch(texts)
    np.testing.assert_array_equal(got.tier_index, want.tier_index)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    # Pinned by commit hash, and loaded again from tierscope's verified copy.
    again = Router.from_pretrained(REPO, revision=COMMIT, cache_dir=offline, sessions=1)
    assert again.path == loaded.path


def test_a_revision_not_in_the_cache_is_a_clear_error(saved: Path, offline: Path) -> None:
    _file_into_cache(saved, offline)
    with pytest.raises(ModelLoadError, match=r"acme/router@v9: not found"):
        Router.from_pretrained(REPO, revision="v9", cache_dir=offline)


def test_a_tampered_file_is_refused(saved: Path, offline: Path) -> None:
    snap = _file_into_cache(saved, offline)
    blob = (snap / "tokenizer.json").resolve()
    blob.write_bytes(blob.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    with pytest.raises(ModelLoadError, match=r"tokenizer.json does not match router.json's manifest"):
        Router.from_pretrained(REPO, cache_dir=offline)
    # Nothing unverified was left in tierscope's cache.
    assert not list((offline.parent / "xdg").rglob("router.json"))


def test_an_unlisted_router_file_or_a_missing_manifest_is_refused(saved: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in saved.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    (copy / "notes.txt").write_text("not part of the router: never loaded, so not listed")
    verify_manifest(copy, source="copy")
    config = json.loads((copy / "router.json").read_text())
    del config["provenance"]["files"]["tokenizer.json"]
    (copy / "router.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"not in router.json's manifest: \['tokenizer.json'\]"):
        verify_manifest(copy, source="copy")
    del config["provenance"]["files"]
    (copy / "router.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="no file manifest"):
        verify_manifest(copy, source="copy")


def test_file_manifest_covers_a_guard(tmp_path: Path) -> None:
    (tmp_path / "guard").mkdir()
    for name in ("model.onnx", "tokenizer.json", "guard/model.onnx", "guard/tokenizer.json", "stray.bin"):
        (tmp_path / name).write_text(name)
    for name in ("router.json", "guard/router.json"):
        (tmp_path / name).write_text(json.dumps({"model": {"file": "model.onnx"}}))
    (tmp_path / "guard.json").write_text(json.dumps({"router": "guard"}))
    want = ["guard.json", "guard/model.onnx", "guard/router.json", "guard/tokenizer.json", "model.onnx"]
    want.append("tokenizer.json")
    assert sorted(file_manifest(tmp_path)) == want


@pytest.mark.parametrize("repo_id", ["", "acme", "../etc/passwd", "a/b/c", 7, "acme/../x"])
def test_bad_repo_ids_are_refused_before_any_lookup(repo_id: object) -> None:
    with pytest.raises(InvalidInputError, match="invalid `repo_id`: expected 'owner/name'"):
        Router.from_pretrained(repo_id)  # type: ignore[arg-type]


def test_without_huggingface_hub_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'tierscope\[hub\]'") as info:
        Router.from_pretrained(REPO)
    assert isinstance(info.value, ImportError)
