"""Deprecated alias of :mod:`tierscope.routing.cascade` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.routing.cascade", "tierscope.routing.records", "tierscope.exceptions"])
