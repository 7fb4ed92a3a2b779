"""Deprecated alias of :mod:`tierscope.quality.report` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.quality.report"])
