"""Where the ONNX Runtime shared library comes from (the PyPI ``onnxruntime`` wheel)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def ort_search_dirs() -> list[str]:
    """Directories holding ``capi/libonnxruntime.so.*``: the installed ``onnxruntime`` package.

    Found without importing ``onnxruntime`` (tierscope loads the library itself from Rust).
    ``TIERSCOPE_ORT_DYLIB`` overrides this search in the core.
    """
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [str(Path(p)) for p in spec.submodule_search_locations]
