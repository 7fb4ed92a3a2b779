"""Old flat import paths (``tierscope.router``, ``tierscope.audit``, ...) kept for one release.

Each old module is a thin alias that re-exports the public names of the modules it moved to and
warns once with a :class:`DeprecationWarning` naming the new path. They go in tierscope 0.3.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

__all__ = ["alias_module"]


class _CallableModule(types.ModuleType):
    """``tierscope.audit`` was both a module and (as an attribute of the package) a function; an
    alias module that is also callable keeps ``tierscope.audit(...)`` working once it is imported."""

    __tierscope_call__: Any

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__tierscope_call__(*args, **kwargs)


def alias_module(old: str, new: list[str], *, call: str | None = None) -> None:
    """Make module ``old`` re-export every public name of the ``new`` modules, warning once."""
    warnings.warn(
        f"{old} is deprecated and will be removed in tierscope 0.3; import from {' / '.join(new)} "
        "(or from tierscope directly)",
        DeprecationWarning,
        stacklevel=3,
    )
    module = sys.modules[old]
    exported: list[str] = []
    for name in new:
        target = importlib.import_module(name)
        public = getattr(target, "__all__", [n for n in vars(target) if not n.startswith("_")])
        for attr in public:
            setattr(module, attr, getattr(target, attr))
            exported.append(attr)
    module.__all__ = sorted(set(exported))  # type: ignore[attr-defined]
    if call is not None:
        module.__class__ = _CallableModule
        module.__tierscope_call__ = getattr(module, call)  # type: ignore[attr-defined]
