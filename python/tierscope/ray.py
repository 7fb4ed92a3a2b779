"""Batch scoring on Ray Data: :func:`route_dataset`, :func:`read_input`, :func:`aggregate_dataset`.

An optional extra: ``pip install 'tierscope[ray]'``. Importing this module without Ray raises
:class:`~tierscope.exceptions.MissingDependencyError` naming the extra. The implementation is
:mod:`tierscope.batch.ray`.
"""

from __future__ import annotations

from ._optional import require

require("ray", purpose="tierscope.ray")

from .batch.ray import RouterActor, aggregate_dataset, read_input, route_dataset  # noqa: E402

__all__ = ["RouterActor", "aggregate_dataset", "read_input", "route_dataset"]
