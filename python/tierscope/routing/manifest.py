"""The file manifest inside ``router.json``: the sha256 and size of every other file of a router.

:meth:`Router.save <tierscope.routing.router.Router.save>` writes it under ``provenance.files``
(``provenance`` is the free-form part of ``router.json``, kept by every load and save), and
:meth:`Router.from_pretrained <tierscope.routing.router.Router.from_pretrained>` checks every
downloaded file against it before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import ModelLoadError

__all__ = ["MANIFEST_KEY", "file_manifest", "verify_manifest", "write_manifest"]

#: Key of the manifest inside ``router.json``'s ``provenance``.
MANIFEST_KEY = "files"
#: The regions of the training distribution (``src/router/regions.rs``), optional.
REGIONS_FILE = "regions.bin"
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _named_files(directory: Path) -> list[str]:
    """The model, tokenizer and novelty-index files ``directory/router.json`` names
    (``model.file``, ``model.tokenizer``, ``novelty.index_file``; the canonical names by default)."""
    try:
        config = json.loads((directory / "router.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    config = config if isinstance(config, dict) else {}
    model = config.get("model")
    model = model if isinstance(model, dict) else {}
    names = [str(model.get("file") or "model.onnx"), str(model.get("tokenizer") or "tokenizer.json")]
    novelty = config.get("novelty")
    if isinstance(novelty, dict):
        names.append(str(novelty.get("index_file") or "tail_index.bin"))
    # The regions file is found by name (router.json does not list it); listed when present.
    if (directory / REGIONS_FILE).is_file():
        names.append(REGIONS_FILE)
    return names


def _files(directory: Path) -> list[str]:
    """The router's files, except its own ``router.json``, as sorted POSIX paths: the files
    ``router.json`` names, ``guard.json`` and the guard router's files (its ``router.json`` too).
    Whatever else the directory holds is not part of the router (never loaded), so not listed."""
    out = [name for name in _named_files(directory) if (directory / name).is_file()]
    guard_file = directory / "guard.json"
    if guard_file.is_file():
        out.append("guard.json")
        try:
            name = json.loads(guard_file.read_text(encoding="utf-8")).get("router", "guard")
        except (OSError, ValueError, AttributeError):
            name = "guard"
        guard = directory / str(name)
        if (guard / "router.json").is_file():
            out.append(f"{name}/router.json")
            out += [f"{name}/{f}" for f in _named_files(guard) if (guard / f).is_file()]
    return sorted(set(out))


def file_manifest(directory: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256": ..., "size": ...}}`` for every file of the router (see
    :func:`_files`) except ``router.json`` itself (a nested guard's ``router.json`` is included)."""
    return {
        rel: {"sha256": sha256_of(directory / rel), "size": (directory / rel).stat().st_size}
        for rel in _files(directory)
    }


def write_manifest(directory: Path) -> None:
    """Record :func:`file_manifest` in ``directory/router.json`` (``provenance.files``), written
    through a temporary file renamed over it."""
    path = directory / "router.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.setdefault("provenance", {})[MANIFEST_KEY] = file_manifest(directory)
    temp = directory / f".router.json.tmp-{os.getpid()}"
    temp.write_text(json.dumps(config), encoding="utf-8")
    os.replace(temp, path)


def verify_manifest(directory: Path, *, source: str) -> dict[str, dict[str, Any]]:
    """Check every file of ``directory`` against the manifest in its ``router.json``.

    Raises :class:`ModelLoadError` (naming ``source`` and the file) when the manifest is missing or
    malformed, a listed file is missing or differs (size or sha256), or a router file (one that
    loading would read) is not listed.
    Returns the manifest."""
    try:
        config = json.loads((directory / "router.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{source}: router.json cannot be read ({err})") from err
    manifest = config.get("provenance", {}).get(MANIFEST_KEY) if isinstance(config, dict) else None
    if not isinstance(manifest, dict) or not manifest:
        raise ModelLoadError(
            f"{source}: router.json has no file manifest (provenance.{MANIFEST_KEY}); "
            "save the router with tierscope >= 0.1 (Router.save writes it) and upload it again"
        )
    present = set(_files(directory))
    unlisted = sorted(present - set(manifest))
    if unlisted:
        raise ModelLoadError(f"{source}: files not in router.json's manifest: {unlisted}")
    for rel, entry in sorted(manifest.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ModelLoadError(f"{source}: manifest entry {rel!r} has no sha256")
        if rel not in present:
            raise ModelLoadError(f"{source}: {rel} is listed in router.json's manifest but missing")
        size = (directory / rel).stat().st_size
        if entry.get("size") not in (None, size):
            raise ModelLoadError(f"{source}: {rel} is {size} bytes, the manifest says {entry['size']}")
        actual = sha256_of(directory / rel)
        if actual != entry["sha256"]:
            raise ModelLoadError(
                f"{source}: {rel} does not match router.json's manifest "
                f"(sha256 {actual}, expected {entry['sha256']}): the file was changed or corrupted"
            )
    return manifest
