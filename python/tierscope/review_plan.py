"""Deprecated alias of :mod:`tierscope.quality.review_plan` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.quality.review_plan", "tierscope.log.reader", "tierscope.exceptions"])
