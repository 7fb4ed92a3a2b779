"""Shared fixtures: the default router (built by `make model`) and BANKING77 test queries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tierscope import Router
from tierscope.data import banking77
from tierscope.models.default_router import ensure_default_router


@pytest.fixture(scope="session")
def default_dir() -> Path:
    return ensure_default_router()


@pytest.fixture(scope="session")
def fp32_dir() -> Path:
    path = os.environ.get("TIERSCOPE_FP32_ROUTER")
    if not path or not (Path(path) / "router.json").is_file():
        pytest.fail("TIERSCOPE_FP32_ROUTER must name the fp32 router built by `make model`")
    return Path(path)


@pytest.fixture(scope="session")
def router(default_dir: Path) -> Router:
    return Router.load(default_dir)


@pytest.fixture(scope="session")
def queries() -> list[str]:
    texts, _ = banking77("test")
    return texts


@pytest.fixture(scope="session")
def guarded_dir(default_dir: Path, fp32_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default router with the fp32 router attached as its precision guard (what
    ``build --guard`` makes; the shipped default router has none)."""
    from tierscope.models.default_router import attach_guard

    return attach_guard(default_dir, fp32_dir, tmp_path_factory.mktemp("guarded") / "router")


@pytest.fixture(scope="session")
def guarded_router(guarded_dir: Path) -> Router:
    return Router.load(guarded_dir)
