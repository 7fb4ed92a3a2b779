"""Routers published on the Hugging Face Hub (the ``[hub]`` extra): download, verify, load.

:func:`snapshot` resolves ``repo_id`` at ``revision`` (a branch, tag or commit hash) through
``huggingface_hub.snapshot_download`` (its cache, its offline mode: ``HF_HUB_OFFLINE=1`` reads the
cache only), checks every file against the sha256 manifest that
:meth:`Router.save <tierscope.routing.router.Router.save>` writes into ``router.json``, and copies
the verified files into tierscope's own cache as regular files (the Hub cache's snapshot entries are
symlinks into ``blobs/``, which a router directory may not contain).

Upload path (documented in the README): ``router.save(dir)`` then
``huggingface_hub.upload_folder(repo_id=..., folder_path=dir)``; pin users to the commit it returns.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .. import _validate as v
from .._optional import require
from ..exceptions import InvalidInputError, ModelLoadError
from .manifest import verify_manifest

__all__ = ["snapshot", "verified_dir"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: What a router repository may hold; anything else (README, .gitattributes) is not downloaded.
_PATTERNS = [
    "router.json",
    "model.onnx",
    "tokenizer.json",
    "tail_index.bin",
    "regions.bin",
    "guard.json",
    "guard/*",
]


def _check_repo_id(repo_id: Any) -> str:
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise InvalidInputError(
            f"invalid `repo_id`: expected 'owner/name' (e.g. 'acme/router'), got {repo_id!r}"
        )
    return repo_id


def _check_revision(revision: Any) -> str:
    if not isinstance(revision, str) or not revision or revision.startswith(("/", ".")) or ".." in revision:
        raise InvalidInputError(
            f"invalid `revision`: expected a branch, tag or 40-hex commit hash, got {revision!r}"
        )
    return revision


def _tierscope_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tierscope" / "hub"


def verified_dir(snapshot_dir: Path, target: Path, *, source: str) -> Path:
    """Copy ``snapshot_dir``'s files (following the Hub cache's symlinks) into ``target`` as regular
    files, then check them against the manifest. ``target`` appears only when every file matches."""
    if (target / "router.json").is_file():
        verify_manifest(target, source=source)  # a cached copy is checked again, every time
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        work = Path(tmp) / "router"
        shutil.copytree(snapshot_dir, work, symlinks=False)
        verify_manifest(work, source=source)
        try:
            os.replace(work, target)
        except OSError:  # another process put it there first: use theirs, checked
            pass
    verify_manifest(target, source=source)
    return target


def snapshot(
    repo_id: str, *, revision: str = "main", cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """A verified local router directory for ``repo_id`` at ``revision``.

    ``cache_dir`` is the ``huggingface_hub`` cache (default: its own, ``HF_HUB_CACHE``). The
    verified copy lives in ``$XDG_CACHE_HOME/tierscope/hub/<owner>--<name>/<commit>``.

    Raises:
        InvalidInputError: a malformed ``repo_id`` or ``revision``.
        MissingDependencyError: ``huggingface_hub`` is not installed (``tierscope[hub]``).
        ModelLoadError: the revision is not in the cache (offline) or on the Hub, or a file does not
            match ``router.json``'s manifest.
    """
    repo = _check_repo_id(repo_id)
    rev = _check_revision(revision)
    cache = None if cache_dir is None else v.existing_dir("cache_dir", cache_dir, what="Hub cache directory")
    hub = require("huggingface_hub", purpose="Router.from_pretrained()")
    errors = require("huggingface_hub.errors", purpose="Router.from_pretrained()")
    source = f"{repo}@{rev}"
    not_found = (errors.LocalEntryNotFoundError, errors.RepositoryNotFoundError, errors.RevisionNotFoundError)
    try:
        path = Path(
            hub.snapshot_download(
                repo_id=repo, revision=rev, cache_dir=cache, allow_patterns=_PATTERNS, repo_type="model"
            )
        )
    except not_found as err:
        raise ModelLoadError(f"{source}: not found ({type(err).__name__}: {err})") from err
    except errors.HfHubHTTPError as err:
        raise ModelLoadError(f"{source}: the Hub refused the download ({err})") from err
    commit = path.name
    if not _COMMIT.match(commit):
        raise ModelLoadError(f"{source}: unexpected snapshot directory {path}")
    if not (path / "router.json").is_file():
        raise ModelLoadError(f"{source}: the repository has no router.json (not a tierscope router)")
    target = _tierscope_cache() / repo.replace("/", "--") / commit
    return verified_dir(path, target, source=f"{source} ({commit[:12]})")
