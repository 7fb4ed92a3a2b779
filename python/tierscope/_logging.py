"""The ``tierscope`` library logger: operational events, never API misuse.

``logging.getLogger("tierscope")`` carries a :class:`logging.NullHandler`, so nothing is printed
unless the application configures logging. Which channel a message takes:

- **logging** (this logger): operational events a service operator wants in their logs and that
  the caller's code cannot fix at the call site: a decision-log write or flush that failed, a
  model with no known price, a conversation kept on the capable tier by the session policy.
- **warnings**: API misuse and deprecations, which the developer must see and fix (a deprecated
  alias, a review plan whose inputs make no sense). The log's :class:`SegmentWarning` (an
  unreadable or foreign file met on read, an orphaned temporary segment reclaimed) and its
  ``RuntimeWarning`` for events Arrow refused stay warnings for now: callers filter on those
  categories.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["logger", "log_once"]

logger = logging.getLogger("tierscope")
logger.addHandler(logging.NullHandler())

_ONCE: set[tuple[str, str]] = set()
_ONCE_LOCK = threading.Lock()


def log_once(key: tuple[str, str], level: int, message: str, *args: object) -> None:
    """Log ``message`` once per ``key`` and process (e.g. one line per unknown model id)."""
    with _ONCE_LOCK:
        if key in _ONCE:
            return
        _ONCE.add(key)
    logger.log(level, message, *args)
