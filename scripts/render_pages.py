#!/usr/bin/env python
"""Render what a reader sees to PNG with headless Chromium: the notebooks (executed), the audit's
HTML report and the demo's HTML report.

    python scripts/render_pages.py --out render-output [--no-notebooks] [--chromium PATH]

Run through ``make render``. Steps: execute ``notebooks/*.ipynb`` with nbclient (the kernel runs
this interpreter) and write each, with its outputs, as a plain HTML page (nbconvert is not
needed); run the quick demo (real router on BANKING77's test split, 28 days × 5,000 queries) and
write its ``demo_report.html`` and arm (b)'s audit as ``audit_report.html``; then screenshot every
page at 1280 px wide with ``chromium --headless`` and trim the blank bottom. Every step has a
timeout. Writes ``<out>/<page>.html`` and ``<out>/<page>.png`` and prints one line per page.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WIDTH = 1280
MAX_HEIGHT = 30_000  # px: Chromium's screenshot window; pages are trimmed to their content
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.5em auto;color:#222}"
    "pre{background:#f6f6f6;padding:6px 8px;font-size:12px;overflow-x:auto;white-space:pre-wrap}"
    "pre.in{background:#eef3fb;border-left:3px solid #6b8fd6}pre.err{background:#fde8e8}"
    "img{max-width:100%}table{border-collapse:collapse;font-size:12px}"
    "td,th{border:1px solid #ddd;padding:2px 6px}code{background:#f3f3f3}"
)


# ----------------------------------------------------------------------------- notebooks


def _inline(text: str) -> str:
    """Markdown's inline code, bold and italics (enough to read the notebooks' prose)."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"(?<![*\w])\*([^*\n]+)\*(?!\w)", r"<i>\1</i>", out)


def _markdown(source: str) -> str:
    """A small Markdown subset: headings, bullet lists, paragraphs."""
    parts: list[str] = []
    for block in re.split(r"\n\s*\n", source.strip()):
        lines = block.splitlines()
        if lines and lines[0].startswith("#"):
            level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
            parts.append(f"<h{level}>{_inline(lines[0].lstrip('#').strip())}</h{level}>")
            lines = lines[1:]
        if lines and all(re.match(r"\s*[*-] |\s{2,}", ln) for ln in lines):
            items = re.split(r"\n\s*[*-] ", "\n" + "\n".join(lines))[1:]
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
        elif lines:
            parts.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "".join(parts)


def _output_html(out: dict[str, Any]) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return f"<pre>{html.escape(''.join(out.get('text', '')))}</pre>"
    if kind == "error":
        trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(out.get("traceback", [])))
        return f'<pre class="err">{html.escape(trace)}</pre>'
    data = out.get("data", {})
    if "image/png" in data:
        png = "".join(data["image/png"]).replace("\n", "")
        return f'<img alt="figure" src="data:image/png;base64,{png}">'
    if "text/html" in data:
        return "".join(data["text/html"])
    return f"<pre>{html.escape(''.join(data.get('text/plain', '')))}</pre>"


def notebook_html(nb: Any, title: str) -> str:
    """An executed notebook as a self-contained HTML page (inputs, then their outputs)."""
    body = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            body.append(_markdown(cell.source))
        elif cell.cell_type == "code":
            body.append(f'<pre class="in">{html.escape(cell.source)}</pre>')
            body.extend(_output_html(o) for o in cell.get("outputs", []))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _kernel(tmp: Path) -> Any:
    """A kernel manager running this interpreter (a private kernelspec, nothing installed)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp / "kernels" / "tierscope-render"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tierscope (render)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    return KernelManager(kernel_name="tierscope-render", kernel_spec_manager=ksm)


def render_notebooks(out: Path, timeout: int) -> list[Path]:
    """Execute every notebook (``timeout`` s per cell) and write it as ``<out>/<name>.html``."""
    import nbclient
    import nbformat

    pages = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            client = nbclient.NotebookClient(
                nb, timeout=timeout, km=_kernel(Path(tmp)), resources={"metadata": {"path": tmp}}
            )
            client.execute()
        page = out / f"{path.stem}.html"
        page.write_text(notebook_html(nb, path.stem), encoding="utf-8")
        pages.append(page)
    return pages


# ----------------------------------------------------------------------------- reports


def render_reports(out: Path) -> list[Path]:
    """The quick demo's HTML report and arm (b)'s audit report."""
    from tierscope import Router, demo

    cfg = demo.DemoConfig(days=28, per_day=5_000, onset=14, ramp_days=7, suite_size=2_000, quick=True)
    corpus = demo.build_corpus(Router.default(), quick=True)
    res = demo.run_demo(cfg, corpus=corpus, progress=False)
    demo_page = out / "demo_report.html"
    demo_page.write_text(demo.render_html(res, demo.summary(res)), encoding="utf-8")
    audit_page = res.arms[1].detail["audit"].to_html(out / "audit_report.html")
    return [audit_page, demo_page]


# ----------------------------------------------------------------------------- screenshots


def find_chromium(explicit: str | None = None) -> str | None:
    """The headless browser: ``explicit``, ``$CHROMIUM``, else chromium on PATH."""
    for name in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _trim(png: Path) -> tuple[int, int]:
    """Cut the blank rows below the page's content; returns the final (width, height)."""
    from PIL import Image, ImageChops

    with Image.open(png) as im:
        rgb = im.convert("RGB")
    background = Image.new("RGB", rgb.size, rgb.getpixel((rgb.width - 1, rgb.height - 1)))
    box = ImageChops.difference(rgb, background).getbbox()
    bottom = min(rgb.height, (box[3] if box else 1) + 24)
    rgb.crop((0, 0, rgb.width, bottom)).save(png, optimize=True)
    return rgb.width, bottom


def screenshot(chromium: str, page: Path, timeout: int) -> tuple[Path, tuple[int, int]]:
    """``page`` as ``page.png`` (1280 px wide, trimmed), from headless Chromium."""
    png = page.with_suffix(".png")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium,
            "--headless=new",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{MAX_HEIGHT}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)
    if not png.exists():
        raise SystemExit(f"chromium wrote no screenshot for {page}")
    return png, _trim(png)


def _images(page: Path) -> int:
    return page.read_text(encoding="utf-8").count("data:image/png;base64,")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("render-output"), help="output directory")
    ap.add_argument("--no-notebooks", action="store_true", help="only the audit and demo reports")
    ap.add_argument("--chromium", default=None, help="the browser (default: chromium on PATH)")
    ap.add_argument("--cell-timeout", type=int, default=600, help="seconds per notebook cell")
    ap.add_argument("--shot-timeout", type=int, default=180, help="seconds per screenshot")
    args = ap.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("render: no chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    pages = render_reports(args.out)
    if not args.no_notebooks:
        pages += render_notebooks(args.out, args.cell_timeout)
    for page in pages:
        png, (w, h) = screenshot(chromium, page, args.shot_timeout)
        print(f"{png}: {w}x{h} px, {_images(page)} figures")
    # the figures' PNGs too, one file each, to look at at full size
    for page in pages:
        for i, uri in enumerate(
            re.findall(r"src=[\"']data:image/png;base64,([^\"']+)", page.read_text("utf-8"))
        ):
            (args.out / f"{page.stem}.fig{i + 1}.png").write_bytes(base64.b64decode(uri))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
