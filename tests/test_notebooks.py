"""Execute every ``notebooks/*.ipynb`` top to bottom (stored without outputs) and fail on any cell error.

The kernel must run this interpreter (the venv with tierscope installed): the ``python3`` kernelspec is used
when it resolves to ``sys.executable``; otherwise a private kernelspec pointing at ``sys.executable`` is
written to a temporary directory (nothing is installed into the environment).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# jupyter_client replaces these argv[0] names with sys.executable when launching a kernel.
_REWRITTEN = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}


def _python3_is_ours() -> bool:
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return False
    exe = spec.argv[0] if spec.argv else ""
    return exe in _REWRITTEN or Path(exe).resolve() == Path(sys.executable).resolve()


@pytest.fixture(scope="module")
def kernel_factory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if _python3_is_ours():
        return lambda: KernelManager(kernel_name="python3")
    kdir = tmp_path_factory.mktemp("kernels")
    spec_dir = kdir / "tierscope-venv"
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tierscope venv",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(kdir)])
    return lambda: KernelManager(kernel_name="tierscope-venv", kernel_spec_manager=ksm)


def _run(nb: Any, kernel_factory: Any, cwd: Path) -> Any:
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        km=kernel_factory(),
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


def test_kernel_runs_this_interpreter(kernel_factory: Any, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, tierscope; print(sys.prefix)")]
    )
    out = _run(nb, kernel_factory, tmp_path)
    text = "".join(o.get("text", "") for o in out.cells[0].outputs)
    assert text.strip() == sys.prefix


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks under {REPO / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_factory: Any, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    stored = [c for c in nb.cells if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not stored, f"{path.name} must be stored without outputs ({len(stored)} code cells have some)"
    t0 = time.perf_counter()
    try:
        _run(nb, kernel_factory, tmp_path)
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell failed:\n{err}")
    elapsed = time.perf_counter() - t0
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: error outputs: {errors}"
    print(f"{path.name}: executed in {elapsed:.1f} s")
