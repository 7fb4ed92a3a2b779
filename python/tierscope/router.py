"""Deprecated alias of :mod:`tierscope.routing.router` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.routing.router", "tierscope.routing.records"])
