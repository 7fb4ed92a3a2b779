"""Deprecated alias of :mod:`tierscope.quality.audit` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(
    __name__, ["tierscope.quality.audit", "tierscope.quality.report", "tierscope.log.reader"], call="audit"
)
