"""The per-tier audit of a decision log (:func:`audit`), in named steps."""

from __future__ import annotations

from .run import audit

__all__ = ["audit"]
