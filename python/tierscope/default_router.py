"""Deprecated alias of :mod:`tierscope.models.default_router` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.models.default_router"])

if __name__ == "__main__":
    from .models.default_router import main

    raise SystemExit(main())
