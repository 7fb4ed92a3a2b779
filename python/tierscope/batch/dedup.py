"""Routing each distinct text once per job: a bounded LRU cache of decisions across chunks.

Normalisation: **none beyond the null policy** (a null text is ``""``). The key is the text
exactly as read, code point for code point: no case folding, no whitespace or Unicode
normalisation. The router's own tokenizer lowercases and collapses whitespace, but its byte cut,
``tokens``, ``truncated`` and the empty-text fallback see the raw text, so any folding here could
make a deduplicated decision differ from the one routing the row itself would give, and the
results must equal the non-deduplicated run exactly. The router is batch-invariant (a text's
decision does not depend on the other texts in its batch; ``router.json`` records the
``batch_independence_max_diff`` measured at build time, and tests/batch check it), so routing the
distinct texts of a chunk once and copying their decisions gives the same bits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..routing.records import RouteBatch

__all__ = ["DecisionCache", "route_deduplicated"]


class DecisionCache:
    """At most ``capacity`` decisions, least recently used evicted first, stored column-wise."""

    def __init__(self, capacity: int, tiers: Sequence[str]) -> None:
        self.capacity = capacity
        self.tiers = tuple(tiers)
        self._slots: OrderedDict[str, int] = OrderedDict()
        self._free: list[int] = []
        k = len(self.tiers)
        self._cols: dict[str, Any] = {
            "tier_index": np.zeros(capacity, np.uint32),
            "probabilities": np.zeros((capacity, k), np.float32),
            "confidence": np.zeros(capacity, np.float32),
            "tail_score": np.zeros(capacity, np.float32),
            "fallback": np.zeros(capacity, bool),
            "truncated": np.zeros(capacity, bool),
            "tokens": np.zeros(capacity, np.uint32),
            "guarded": np.zeros(capacity, bool),
            "content_discarded": np.zeros(capacity, bool),
            "reason": np.empty(capacity, object),
            "region": np.full(capacity, -1, np.int32),
        }
        self.hits = 0
        self.rows = 0

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def hit_rate(self) -> float:
        """Rows served without routing them / rows seen (0 before any row)."""
        return self.hits / self.rows if self.rows else 0.0

    def lookup(self, text: str) -> int | None:
        """The slot of ``text`` (marked recently used), or ``None``."""
        slot = self._slots.get(text)
        if slot is not None:
            self._slots.move_to_end(text)
        return slot

    def gather(self, slots: Any) -> dict[str, Any]:
        """The columns of ``slots`` (copies)."""
        return {name: col[slots] for name, col in self._cols.items()}

    def store(self, texts: Sequence[str], batch: RouteBatch) -> None:
        """Cache the decisions of ``texts`` (distinct, not cached yet)."""
        for i, text in enumerate(texts[-self.capacity :] if self.capacity else []):
            j = i + max(0, len(texts) - self.capacity)
            if self._free:
                slot = self._free.pop()
            elif len(self._slots) < self.capacity:
                slot = len(self._slots)
            else:
                _, slot = self._slots.popitem(last=False)
            self._slots[text] = slot
            for name, col in self._cols.items():
                col[slot] = _column(batch, name)[j]


def _column(batch: RouteBatch, name: str) -> Any:
    value = getattr(batch, name)
    if value is None and name == "region":  # a router without regions: -1, as route_batch says
        return np.full(len(batch), -1, np.int32)
    if value is None:
        return np.zeros(len(batch), bool)
    if name == "reason":
        return np.array(value, dtype=object)
    return value


def route_deduplicated(router: Any, texts: Sequence[str], cache: DecisionCache) -> RouteBatch:
    """The decisions of ``texts``, routing only those neither cached nor seen earlier in ``texts``."""
    n = len(texts)
    slots = np.full(n, -1, dtype=np.int64)
    first: dict[str, int] = {}
    miss_of = np.full(n, -1, dtype=np.int64)
    misses: list[str] = []
    for i, text in enumerate(texts):
        slot = cache.lookup(text)
        if slot is not None:
            slots[i] = slot
            continue
        at = first.get(text)
        if at is None:
            at = first[text] = len(misses)
            misses.append(text)
        miss_of[i] = at
    # Hits are copied out before new decisions are stored (storing may evict their slots).
    hit = slots >= 0
    cols = {name: _empty_like(col, n) for name, col in cache._cols.items()}
    if hit.any():
        for name, values in cache.gather(slots[hit]).items():
            cols[name][hit] = values
    if misses:
        routed = router.route_batch(misses)
        take = miss_of[~hit]
        for name in cols:
            cols[name][~hit] = _column(routed, name)[take]
        cache.store(misses, routed)
    cache.rows += n
    cache.hits += n - len(misses)
    return RouteBatch(
        tiers=cache.tiers,
        tier_index=cols["tier_index"],
        probabilities=cols["probabilities"],
        confidence=cols["confidence"],
        tail_score=cols["tail_score"],
        fallback=cols["fallback"],
        truncated=cols["truncated"],
        tokens=cols["tokens"],
        reason=list(cols["reason"]),
        guarded=cols["guarded"],
        content_discarded=cols["content_discarded"],
        region=cols["region"],
    )


def _empty_like(col: Any, n: int) -> Any:
    return np.empty((n, *col.shape[1:]), dtype=col.dtype)
