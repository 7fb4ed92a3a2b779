"""Where the ONNX Runtime shared library comes from (the PyPI ``onnxruntime`` wheel), and the build
facts for bug reports (:func:`build_info`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core import BuildInfo


def ort_search_dirs() -> list[str]:
    """Directories holding ``capi/libonnxruntime.so.*``: the installed ``onnxruntime`` package.

    Found without importing ``onnxruntime`` (tierscope loads the library itself from Rust).
    ``TIERSCOPE_ORT_DYLIB`` overrides this search in the core.
    """
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [str(Path(p)) for p in spec.submodule_search_locations]


def build_info() -> BuildInfo:
    """How this tierscope was built and what it runs on, for bug reports: package version, build
    profile and target, rustc and pyo3 versions, the Python ABI, the ONNX Runtime library loaded
    (or the one that would be, or why none is found) and its version, and the CPU's
    instruction-set class and features. ``print(build_info())`` gives one line to paste.

    ``tierscope._core.build_info`` with the installed ``onnxruntime`` package as the search
    directory, as the router uses; it never loads the runtime itself.
    """
    from . import _core

    return _core.build_info(ort_search_dirs())


def cpu_info() -> dict[str, object]:
    """This CPU's int8-relevant instruction-set class, its features and its model name.

    ``isa`` is one of ``AMX``, ``AVX-512 VNNI``, ``AVX-VNNI``, ``AVX-512``, ``AVX2``, ``pre-AVX2``
    (detected with CPUID in the Rust core, as ONNX Runtime's kernels select themselves).
    """
    import platform

    from . import _core

    isa, features = _core.cpu_features()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"isa": isa, "features": dict(features), "model": model}
