"""Vendored datasets (each with its licence in its folder): BANKING77 with its intent → tier map,
the demo's intent table and DSTC11 banking utterances. Loaders return plain Python lists."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["DATA_DIR", "banking77", "tier_map"]

DATA_DIR = Path(__file__).parent
"""The folder holding the vendored files."""


def banking77(split: str) -> tuple[list[str], list[str]]:
    """BANKING77 ``train`` or ``test``: (texts, intents), from the vendored copy."""
    if split not in ("train", "test"):
        from ..exceptions import InvalidInputError

        raise InvalidInputError(f"invalid `split`: 'train' or 'test', got {split!r}")
    path = DATA_DIR / "banking77" / f"{split}.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def tier_map() -> dict[str, str]:
    """BANKING77 intent → tier (``cheap`` or ``capable``)."""
    with open(DATA_DIR / "banking77_tiers.csv", newline="", encoding="utf-8") as f:
        return {r["intent"]: r["tier"] for r in csv.DictReader(f)}
