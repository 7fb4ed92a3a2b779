"""Deprecated alias of :mod:`tierscope.models.encoder_export` (removed in tierscope 0.3)."""

from ._deprecated import alias_module

alias_module(__name__, ["tierscope.models.encoder_export"])
