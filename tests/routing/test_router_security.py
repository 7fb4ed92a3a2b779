"""Issue 11 (security review): a router directory is untrusted input. Paths in router.json stay
inside it, reads are bounded, saves write only inside their target, and huge queries are cut
before tokenization."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tierscope
from tierscope import Router

FILES = ("model.onnx", "tokenizer.json", "router.json")
INDEX = "tail_index.bin"
#: What a saved router directory holds (a fitted router always has its tail index, issue 15).
SAVED = (*FILES, INDEX)


def _copy(default_dir: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in FILES:
        shutil.copy(default_dir / name, dst / name)
    if (default_dir / INDEX).exists():  # the tail score's kNN index (issue 15)
        shutil.copy(default_dir / INDEX, dst / INDEX)
    return dst


def _edit_model(d: Path, **fields: object) -> None:
    config = json.loads((d / "router.json").read_text())
    config["model"].update(fields)
    (d / "router.json").write_text(json.dumps(config))


@pytest.mark.parametrize("field", ["file", "tokenizer"])
@pytest.mark.parametrize(
    "value", ["../x", "../../../../../etc/passwd", "/etc/passwd", "/proc/self/environ", "/dev/zero", ""]
)
def test_router_json_paths_must_stay_inside(
    default_dir: Path, tmp_path: Path, field: str, value: str
) -> None:
    d = _copy(default_dir, tmp_path / "r")
    _edit_model(d, **{field: value})
    with pytest.raises(tierscope.ModelLoadError, match=f"model.{field}"):
        Router.load(d, sessions=1)


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json"])
def test_symlink_out_of_the_directory_is_refused(default_dir: Path, tmp_path: Path, name: str) -> None:
    d = _copy(default_dir, tmp_path / "r")
    outside = tmp_path / "outside" / name
    outside.parent.mkdir()
    (d / name).rename(outside)
    (d / name).symlink_to(outside)
    with pytest.raises(tierscope.ModelLoadError, match="outside the router directory"):
        Router.load(d, sessions=1)


def test_a_symlink_inside_the_directory_is_fine(default_dir: Path, tmp_path: Path) -> None:
    d = _copy(default_dir, tmp_path / "r")
    (d / "weights").mkdir()
    (d / "model.onnx").rename(d / "weights" / "model.onnx")
    (d / "model.onnx").symlink_to(d / "weights" / "model.onnx")
    assert Router.load(d, sessions=1).route("top up").tier in ("cheap", "capable")


_LOAD_IN_CHILD = """
import sys, time
from tierscope import Router, ModelLoadError
t0 = time.perf_counter()
try:
    Router.load(sys.argv[1], sessions=1)
except ModelLoadError as err:
    print("refused:", err)
"""


@pytest.mark.parametrize("special", ["dev-zero-link", "fifo"])
def test_special_files_are_refused_without_reading(default_dir: Path, tmp_path: Path, special: str) -> None:
    """In a child process with a timeout: the old code read /dev/zero until memory ran out and
    blocked forever opening a FIFO."""
    d = _copy(default_dir, tmp_path / "r")
    if special == "fifo":
        (d / "model.onnx").unlink()
        os.mkfifo(d / "model.onnx")
    else:
        (d / "tokenizer.json").unlink()
        (d / "tokenizer.json").symlink_to("/dev/zero")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_CHILD, str(d)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout, done.stdout
    assert ("regular file" in done.stdout) if special == "fifo" else ("model.tokenizer" in done.stdout)


def test_router_json_directory_or_binary_is_a_model_load_error(default_dir: Path, tmp_path: Path) -> None:
    d = _copy(default_dir, tmp_path / "r")
    (d / "router.json").unlink()
    (d / "router.json").mkdir()
    with pytest.raises(tierscope.ModelLoadError, match="router.json"):
        Router.load(d, sessions=1)


def test_save_writes_nothing_outside_its_target(guarded_router: Router, tmp_path: Path) -> None:
    router = guarded_router
    dest = tmp_path / "box" / "dest"
    dest.parent.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    router.save(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == ["dest"]
    # A router with regions of its training distribution saves them too (issue 16, recipe v4).
    regions = ["regions.bin"] if router.regions else []
    guard_regions = ["regions.bin"] if router._guard is not None and router._guard.regions else []
    assert sorted(p.name for p in dest.iterdir()) == sorted(["guard", "guard.json", *SAVED, *regions])
    assert sorted(p.name for p in (dest / "guard").iterdir()) == sorted([*SAVED, *guard_regions])


def test_save_replaces_symlinks_instead_of_writing_through_them(
    guarded_router: Router, tmp_path: Path
) -> None:
    router = guarded_router
    dest = tmp_path / "dest"
    dest.mkdir()
    victims = {}
    for name in (*SAVED, "guard.json"):
        victims[name] = tmp_path / f"victim-{name}"
        victims[name].write_text("precious")
        (dest / name).symlink_to(victims[name])
    router.save(dest)
    for name, victim in victims.items():
        assert victim.read_text() == "precious", name
        assert not (dest / name).is_symlink()
    assert Router.load(dest, sessions=1).tiers == router.tiers


def test_save_and_fit_use_canonical_names(default_dir: Path, tmp_path: Path) -> None:
    enc = _copy(default_dir, tmp_path / "enc")
    (enc / "sub").mkdir()
    (enc / "model.onnx").rename(enc / "sub" / "m.onnx")
    (enc / "tokenizer.json").rename(enc / "sub" / "t.json")
    _edit_model(enc, file="sub/m.onnx", tokenizer="sub/t.json")
    loaded = Router.load(enc, sessions=1)
    loaded.save(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == sorted(SAVED)
    saved = json.loads((tmp_path / "saved" / "router.json").read_text())["model"]
    assert (saved["file"], saved["tokenizer"]) == ("model.onnx", "tokenizer.json")

    before = sorted(p.name for p in tmp_path.iterdir())
    texts = ["my card was stolen", "how do I top up", "a charge I do not know", "change my pin"]
    Router.fit(texts, ["capable", "cheap"] * 2, encoder=enc, out_dir=tmp_path / "fitted", sessions=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "fitted"])
    assert sorted(p.name for p in (tmp_path / "fitted").iterdir()) == sorted(SAVED)


def test_fit_on_an_escaping_encoder_is_refused(default_dir: Path, tmp_path: Path) -> None:
    enc = _copy(default_dir, tmp_path / "enc")
    _edit_model(enc, tokenizer=str(tmp_path / "victim.json"))
    (tmp_path / "victim.json").write_text("precious")
    with pytest.raises(tierscope.ModelLoadError, match="model.tokenizer"):
        Router.fit(["a", "b", "c", "d"], ["cheap", "capable"] * 2, encoder=enc, out_dir=tmp_path / "out")
    assert (tmp_path / "victim.json").read_text() == "precious"
    assert not (tmp_path / "out").exists()


def test_model_checks_at_load(default_dir: Path, tmp_path: Path) -> None:
    d = _copy(default_dir, tmp_path / "r")
    _edit_model(d, max_length=600)
    with pytest.raises(tierscope.ModelLoadError, match=r"model.max_length.*512"):
        Router.load(d, sessions=1)
    _edit_model(d, max_length=512)
    assert Router.load(d, sessions=1).route("top up").tokens == 4


def test_ten_megabyte_query_is_cut_and_reported(router: Router) -> None:
    for text in ["x" * (10 << 20), "card " * (2 << 20)]:
        d = router.route(text)
        assert d.truncated and d.content_discarded and d.tier in router.tiers


def test_max_text_bytes_cuts_on_a_character_boundary(default_dir: Path) -> None:
    r = Router.load(default_dir, sessions=1, max_text_bytes=5, guard=False)
    d = r.route("ab€cd")  # the cut at 5 bytes falls after '€' (bytes 2..5)
    assert d.truncated and d.content_discarded
    d = r.route("abcd€")  # 4 bytes kept: '€' would pass the bound
    assert d.truncated and d.tokens >= 3


def test_fit_checks_its_arguments_before_embedding(
    default_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierscope import _core

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("fit_router was called: the argument was checked too late")

    monkeypatch.setattr(_core, "fit_router", never)
    texts = ["some text"] * 20
    for bad, needle in [
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"seed": -1}, "seed"),
        ({"holdout_fraction": float("nan")}, "holdout_fraction"),
    ]:
        with pytest.raises(tierscope.InvalidInputError, match=needle):
            Router.fit(texts, ["cheap", "capable"] * 10, encoder=default_dir, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["../x", "/etc/passwd", "/dev/zero", ""])
def test_the_tail_index_path_must_stay_inside(default_dir: Path, tmp_path: Path, value: str) -> None:
    d = _copy(default_dir, tmp_path / "r")
    config = json.loads((d / "router.json").read_text())
    if "novelty" not in config:
        pytest.skip("this default router predates the kNN tail index (rebuild with `make model`)")
    config["novelty"]["index_file"] = value
    (d / "router.json").write_text(json.dumps(config))
    with pytest.raises(tierscope.ModelLoadError, match="novelty.index_file"):
        Router.load(d, sessions=1)


def test_a_truncated_or_mismatched_tail_index_is_refused(default_dir: Path, tmp_path: Path) -> None:
    d = _copy(default_dir, tmp_path / "r")
    if not (d / INDEX).exists():
        pytest.skip("this default router predates the kNN tail index (rebuild with `make model`)")
    data = (d / INDEX).read_bytes()
    (d / INDEX).write_bytes(data[:-1])
    with pytest.raises(tierscope.ModelLoadError, match="bytes"):
        Router.load(d, sessions=1)
    (d / INDEX).write_bytes(data)
    config = json.loads((d / "router.json").read_text())
    config["novelty"]["rows"] -= 1
    (d / "router.json").write_text(json.dumps(config))
    with pytest.raises(tierscope.ModelLoadError, match="router.json says"):
        Router.load(d, sessions=1)
    (d / INDEX).unlink()
    with pytest.raises(tierscope.TierscopeFileNotFoundError):
        Router.load(d, sessions=1)
