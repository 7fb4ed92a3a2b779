"""Look at the outputs as a reader would: the notebooks (executed), the audit report and the demo
report rendered to PNG in headless Chromium by ``scripts/render_pages.py`` (``make render``).

The rendering test is slow and skips only where no chromium is installed (``.ci/run`` installs
Debian's ``chromium``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("render_pages", REPO / "scripts" / "render_pages.py")
assert _spec is not None and _spec.loader is not None
render_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_pages)


def test_notebook_page_shows_markdown_code_and_outputs() -> None:
    png = "iVBORw0KGgo="
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Title\n\nSome `code` and **bold**.\n\n* one\n* two"),
            nbformat.v4.new_code_cell(
                "x = 1",
                outputs=[
                    nbformat.v4.new_output("stream", text="printed <text>\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output(
                        "execute_result", data={"text/html": "<table><tr><td>1</td></tr></table>"}
                    ),
                ],
            ),
        ]
    )
    page = render_pages.notebook_html(nb, "t")
    assert "<h2>Title</h2>" in page and "<code>code</code>" in page and "<b>bold</b>" in page
    assert "<li>one</li>" in page and "printed &lt;text&gt;" in page
    assert f"data:image/png;base64,{png}" in page and "<table><tr><td>1</td></tr></table>" in page


def _not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=float)
    assert arr.std() > 10, f"{path.name} looks blank"


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_render_notebooks_and_reports_in_chromium(tmp_path: Path) -> None:
    if render_pages.find_chromium() is None:
        pytest.skip("no chromium (Debian: apt-get install chromium; .ci/run installs it)")
    out = tmp_path / "render"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_pages.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=2300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    for name in ["audit_report", "demo_report", *notebooks]:
        page, png = out / f"{name}.html", out / f"{name}.png"
        assert page.exists() and png.exists(), name
        text = page.read_text(encoding="utf-8")
        assert 'class="err"' not in text and "Traceback" not in text, f"{name}: an error output"
        assert text.count("data:image/png;base64,") >= 1, f"{name}: no figures"
        from PIL import Image

        with Image.open(png) as im:
            assert im.width == render_pages.WIDTH and im.height > 800, (name, im.size)
        _not_blank(png)
    assert (out / "audit_report.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 5
    nb01 = (out / f"{notebooks[0]}.html").read_text(encoding="utf-8")
    assert nb01.count("data:image/png;base64,") >= 6  # the demo's figures and the audit's own
    for fig in out.glob("*.fig*.png"):
        _not_blank(fig)
