"""What ``make wheels`` built: tags, glibc symbol versions, sizes, and RECORD hashes.

* ``tierscope-*.whl``: abi3, tagged ``manylinux_2_28`` (or older), and its ``_core.abi3.so`` needs no
  ``GLIBC_`` symbol version newer than 2.28 (read from the ELF's version strings, and from
  ``objdump -T`` where binutils is installed).
* ``tierscope_default_router-*.whl``: at most 30 MB, every file matching its RECORD hash, and the
  router files byte-identical to the router ``make model`` built.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("TIERSCOPE_DIST") or ROOT / "dist")
GLIBC_MAX = (2, 28)
DATA_WHEEL_MAX_BYTES = 30 * 1000 * 1000


def _one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {DIST}: run `make wheels` (make test-python does)")
    return found[-1]


def _glibc_versions(data: bytes) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in re.findall(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?\x00", data)}


def _check_record(wheel: zipfile.ZipFile) -> None:
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    rows = [line.split(",") for line in wheel.read(record).decode().splitlines() if line]
    assert {r[0] for r in rows} == set(wheel.namelist())
    for name, digest, size in rows:
        if name == record:
            continue
        data = wheel.read(name)
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == want and int(size) == len(data), name


def test_glibc_version_parser_reads_version_strings() -> None:
    assert _glibc_versions(b"\x00GLIBC_2.2.5\x00GLIBC_2.17\x00xGLIBC_2.28\x00GLIBC_PRIVATE\x00") == {
        (2, 2),
        (2, 17),
        (2, 28),
    }


def test_tierscope_wheel_is_abi3_manylinux_2_28(tmp_path: Path) -> None:
    wheel_path = _one("tierscope-*.whl")
    tags = wheel_path.name[: -len(".whl")].split("-")[-3:]
    assert tags[0].startswith("cp3") and tags[1] == "abi3", tags
    platforms = tags[2].split(".")
    for platform in platforms:
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
        assert match and (int(match[1]), int(match[2])) <= GLIBC_MAX, platform
    with zipfile.ZipFile(wheel_path) as wheel:
        _check_record(wheel)
        meta = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/WHEEL"))).decode()
        assert re.search(r"^Tag: cp3\d+-abi3-manylinux_2_28_x86_64$", meta, re.MULTILINE), meta
        so_name = next(n for n in wheel.namelist() if n.endswith("_core.abi3.so"))
        so = tmp_path / "_core.abi3.so"
        so.write_bytes(wheel.read(so_name))
    versions = _glibc_versions(so.read_bytes())
    assert versions and max(versions) <= GLIBC_MAX, sorted(versions)
    if shutil.which("objdump"):
        dump = subprocess.run(
            ["objdump", "-T", str(so)], capture_output=True, text=True, check=True, timeout=120
        )
        used = _glibc_versions(dump.stdout.replace(")", "\x00").replace(" ", "\x00").encode())
        assert used and max(used) <= GLIBC_MAX, sorted(used)


def test_default_router_wheel_is_small_and_is_what_make_model_built(default_dir: Path) -> None:
    wheel_path = _one("tierscope_default_router-*.whl")
    assert wheel_path.name.endswith("-py3-none-any.whl")
    assert wheel_path.stat().st_size <= DATA_WHEEL_MAX_BYTES, wheel_path.stat().st_size
    with zipfile.ZipFile(wheel_path) as wheel:
        _check_record(wheel)
        prefix = "tierscope_default_router/router/"
        packaged = {n[len(prefix) :]: wheel.read(n) for n in wheel.namelist() if n.startswith(prefix)}
    built = {p.relative_to(default_dir).as_posix(): p for p in default_dir.rglob("*") if p.is_file()}
    assert sorted(packaged) == sorted(built)
    for name, data in packaged.items():
        assert hashlib.sha256(data).digest() == hashlib.sha256(built[name].read_bytes()).digest(), name
