"""Optional dependencies: one place that knows which ``tierscope[extra]`` installs which module.

``import tierscope`` needs only numpy, onnxruntime and the Rust extension. Everything else is
imported where it is used, through :func:`require`, so a missing package is a
:class:`~tierscope.exceptions.MissingDependencyError` (an :class:`ImportError`) that names the extra
to install instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .exceptions import MissingDependencyError

__all__ = ["EXTRAS", "require", "missing"]

#: Importable module → (distribution, the extra that installs it). Core dependencies (numpy,
#: onnxruntime, pyarrow) are listed too, with extra ``None``: a missing one means a broken install.
EXTRAS: dict[str, tuple[str, str | None]] = {
    "pandas": ("pandas", "audit"),
    "matplotlib": ("matplotlib", "report"),
    "tqdm": ("tqdm", "progress"),
    "huggingface_hub": ("huggingface_hub", "hub"),
    "onnx": ("onnx", "default-model"),
    "safetensors": ("safetensors", "default-model"),
    "tokenizers": ("tokenizers", "default-model"),
    "openai": ("openai", "openai"),
    "litellm": ("litellm", "litellm"),
    "langchain_core": ("langchain-core", "langchain"),
    "opentelemetry": ("opentelemetry-api", "otel"),
    "ray": ("ray", "ray"),
    "pyarrow": ("pyarrow", None),
    "numpy": ("numpy", None),
    "onnxruntime": ("onnxruntime", None),
}


def _top(module: str) -> str:
    return module.partition(".")[0]


def missing(*modules: str) -> list[str]:
    """The distributions (of ``modules``) that are not importable, in the order given."""
    out = []
    for module in modules:
        if importlib.util.find_spec(_top(module)) is None:
            out.append(EXTRAS.get(_top(module), (_top(module), None))[0])
    return out


def install_hint(module: str) -> str:
    """``pip install 'tierscope[extra]'`` (or the bare package) for ``module``."""
    top = _top(module)
    if top not in EXTRAS:
        return f"install it with `pip install {top}`"
    dist, extra = EXTRAS[top]
    if extra is None:
        return f"it is a core dependency of tierscope: reinstall it (`pip install --force-reinstall {dist}`)"
    return f"install it with `pip install 'tierscope[{extra}]'` (or `pip install {dist}`)"


def require(module: str, *, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.pyplot"``) or raise :class:`MissingDependencyError`
    saying that ``purpose`` needs it and which extra installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        dist = EXTRAS.get(_top(module), (_top(module), None))[0]
        if err.name is not None and _top(err.name) != _top(module):
            # The package is there but one of *its* dependencies is not (a broken install).
            raise MissingDependencyError(
                f"{purpose} needs {dist}, which is installed but cannot import {err.name!r}; "
                f"{install_hint(module)}"
            ) from err
        raise MissingDependencyError(
            f"{purpose} needs {dist}, which is not installed; {install_hint(module)}"
        ) from err
