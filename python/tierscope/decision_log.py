"""Deprecated alias of :mod:`tierscope.log.decision_log` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.log.decision_log", "tierscope.log.reader", "tierscope.exceptions"])
