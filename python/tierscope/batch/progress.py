"""Progress of a batch job: a bar with total, rate and ETA on a terminal, one line per part in a log."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Reports parts as they finish. ``total`` (rows) may be ``None`` (stdin): no ETA then.

    On a TTY it uses tqdm when installed (total, rate, ETA); otherwise (a log, CI, a pipe) it
    prints one line per part to ``stream``: part, rows done/total, rate, ETA, dedup hit rate.
    """

    def __init__(self, total: int | None, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.monotonic()
        self._bar: Any = None
        if enabled and self.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is optional
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, unit=" rows", desc="routing", file=self.stream)

    def line(self, part: int, rows: int, *, skipped: bool = False, hit_rate: float | None = None) -> str:
        """The log line for a finished (or, with ``skipped``, verified and kept) part."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        total = "?" if self.total is None else str(self.total)
        eta = ""
        if self.total is not None and rate > 0:
            eta = f", ETA {max(0.0, (self.total - self.done) / rate):.0f} s"
        hits = "" if hit_rate is None else f", dedup hit rate {hit_rate:.1%}"
        what = "kept (verified)" if skipped else "written"
        return (
            f"tierscope route: part {part} {what} ({rows} rows); {self.done}/{total} rows, "
            f"{rate:.0f} rows/s{eta}{hits}"
        )

    def update(self, part: int, rows: int, *, skipped: bool = False, hit_rate: float | None = None) -> None:
        """Count ``rows`` more and report."""
        self.done += rows
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(rows)
            if hit_rate is not None:
                self._bar.set_postfix(dedup=f"{hit_rate:.0%}", refresh=False)
            return
        print(self.line(part, rows, skipped=skipped, hit_rate=hit_rate), file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
