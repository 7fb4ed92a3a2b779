"""The package's shape: one-way imports, a light ``import tierscope``, and old paths that still work."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "scripts" / "check_imports.py"


def _check(package_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = [] if package_dir is None else ["--package-dir", str(package_dir)]
    cmd = [sys.executable, str(CHECKER), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_imports_run_one_way() -> None:
    result = _check()
    assert result.returncode == 0, result.stderr
    assert "import cycles: none" in result.stdout


def test_the_checker_catches_a_cycle_and_a_layer_violation(tmp_path: Path) -> None:
    pkg = tmp_path / "tierscope"
    for sub in ("routing", "log"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "routing" / "a.py").write_text("from ..log import b\n")  # routing must not import log
    (pkg / "log" / "b.py").write_text("def f():\n    from ..routing import a\n")  # lazy, still a cycle
    result = _check(pkg)
    assert result.returncode == 1
    assert "import cycle: tierscope.log.b -> tierscope.routing.a" in result.stderr
    assert "layer violation: tierscope.routing.a (routing) imports tierscope.log.b (log)" in result.stderr


def test_import_tierscope_is_light() -> None:
    code = (
        "import sys, tierscope; heavy = [m for m in ('pyarrow', 'pandas', 'matplotlib', 'polars') "
        "if m in sys.modules]; print(heavy); tierscope.Router; print(tierscope.__version__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    heavy, version = out.stdout.splitlines()
    assert heavy == "[]"
    assert version.count(".") >= 2


def test_every_exported_name_resolves() -> None:
    import tierscope

    for name in tierscope.__all__:
        assert getattr(tierscope, name) is not None, name
    assert set(tierscope.__all__) <= set(dir(tierscope))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tierscope.nope  # noqa: B018


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("tierscope.router", "Router", "tierscope.routing.router"),
        ("tierscope.router", "Decision", "tierscope.routing.records"),
        ("tierscope.cascade", "CascadeError", "tierscope.exceptions"),
        ("tierscope.decision_log", "DecisionLog", "tierscope.log.decision_log"),
        ("tierscope.review_plan", "load_decisions", "tierscope.log.reader"),
        ("tierscope.audit", "AuditReport", "tierscope.quality.report"),
        ("tierscope.default_router", "ensure_default_router", "tierscope.models.default_router"),
        ("tierscope.encoder_export", "quantize_encoder_int8", "tierscope.models.encoder_export"),
        ("tierscope.batch_io", "route_file", "tierscope.batch"),
        ("tierscope.calibration", "choose_threshold", "tierscope.routing.calibration"),
        ("tierscope.report", "render_html", "tierscope.quality.report"),
    ],
)
def test_old_import_paths_warn_and_still_work(old: str, name: str, new: str) -> None:
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        f"assert getattr(old, {name!r}) is getattr(new, {name!r})\n"
        "assert any(issubclass(x.category, DeprecationWarning) and 'deprecated' in str(x.message)\n"
        "           for x in w)\n"
        "import tierscope\n"
        "assert callable(tierscope.audit)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_deprecated_alias_raises_under_error_filter() -> None:
    # The suite runs with filterwarnings=error: no test may use an old path by accident.
    sys.modules.pop("tierscope.report", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning):
            import tierscope.report  # noqa: F401
