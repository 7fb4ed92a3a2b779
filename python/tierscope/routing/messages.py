"""Conversations: which turns of a chat ``messages`` list the router reads, and a session policy.

**Which turns feed the router** (:func:`router_text`). The router was trained on single user
queries (BANKING77), so it reads user text only:

1. the last user turn, always (it is what the next answer must serve);
2. then earlier user turns, newest first, while the total stays within ``max_words`` (default
   96: the default router reads at most 128 word-piece tokens, and English banking text runs at
   about 1.3 tokens per word, so 96 words rarely get cut);
3. system prompts and assistant turns are excluded by default: a system prompt is the same for
   every request of a service, so it moves every query's embedding the same way and only adds
   noise to the decision; assistant turns are the model's words, not the user's need.
   ``include_system=True`` puts the system prompt first (still within the budget).

Turns are joined oldest first with newlines, so the text reads as the conversation did. A
message's ``content`` may be a string or OpenAI's list of parts (the ``text`` parts are read).

**Sessions** (:class:`SessionPolicy`). Once a conversation escalates to the capable tier, it
stays there for ``sticky_turns`` more turns, keyed by a session id: a conversation that needed
the capable model rarely becomes easy on the next turn, and switching models mid-conversation
changes the voice of the answers. Each decision records ``session_id``, ``session_turn`` (1 for
the first turn seen) and ``session_sticky`` (the tier was forced by the policy).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._logging import logger
from .._validate import fail, integer, text

__all__ = ["Messages", "router_text", "is_messages", "SessionPolicy", "SessionState"]

DEFAULT_MAX_WORDS = 96

Messages = Sequence[Mapping[str, Any]]
"""A chat conversation in OpenAI format: ``[{"role": "user", "content": "..."}, ...]``."""


def is_messages(value: Any) -> bool:
    """True for a chat ``messages`` list (a sequence of mappings with a ``role``), not a str."""
    return (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and len(value) > 0
        and all(isinstance(m, Mapping) and "role" in m for m in value)
    )


def _content(label: str, message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return text(f"{label}['content']", content)
    if isinstance(content, Sequence):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(text(f"{label}['content'][{j}]['text']", part.get("text")))
        return " ".join(parts)
    raise fail(f"{label}['content']", "a str, a list of content parts or None", content)


def router_text(
    messages: Sequence[Mapping[str, Any]], *, max_words: int = DEFAULT_MAX_WORDS, include_system: bool = False
) -> str:
    """The text the router reads for a conversation (see the module docstring for the policy).

    Raises :class:`~tierscope.exceptions.InvalidInputError` naming ``messages`` when it is not a
    non-empty list of ``{"role": ..., "content": ...}`` mappings with at least one user turn."""
    if not is_messages(messages):
        raise fail("messages", "a non-empty list of {'role': ..., 'content': ...} mappings", messages)
    budget = integer("max_words", max_words, minimum=1)
    users = [_content(f"messages[{i}]", m) for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        raise fail("messages", "at least one message with role 'user'", [m.get("role") for m in messages])
    picked = [users[-1]]
    used = len(users[-1].split())
    for turn in reversed(users[:-1]):
        words = len(turn.split())
        if used + words > budget:
            break
        picked.append(turn)
        used += words
    if include_system:
        system = [_content(f"messages[{i}]", m) for i, m in enumerate(messages) if m.get("role") == "system"]
        for turn in system:
            words = len(turn.split())
            if used + words <= budget:
                picked.append(turn)
                used += words
    return "\n".join(reversed(picked))


@dataclass(frozen=True)
class SessionState:
    """What the session policy decided for one turn."""

    session_id: str
    turn: int
    """1 for the first turn of the session this process has seen."""
    sticky: bool
    """True when the policy forces the capable tier on this turn."""


class SessionPolicy:
    """Keep an escalated conversation on the capable tier for ``sticky_turns`` more turns.

    Thread-safe; remembers at most ``max_sessions`` sessions (least recently seen dropped first),
    so a long-running service holds bounded memory."""

    def __init__(self, sticky_turns: int = 3, *, max_sessions: int = 100_000) -> None:
        self.sticky_turns = integer("sticky_turns", sticky_turns, minimum=0)
        self.max_sessions = integer("max_sessions", max_sessions, minimum=1)
        self._sessions: OrderedDict[str, list[int]] = OrderedDict()  # id -> [turn, sticky left]
        self._lock = threading.Lock()

    def begin(self, session_id: str) -> SessionState:
        """Start a turn of ``session_id``: its number, and whether the capable tier is forced."""
        sid = text("session_id", session_id, allow_empty=False)
        with self._lock:
            state = self._sessions.pop(sid, None) or [0, 0]
            state[0] += 1
            sticky = state[1] > 0
            if sticky:
                state[1] -= 1
            self._sessions[sid] = state
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return SessionState(sid, state[0], sticky)

    def escalated(self, session_id: str) -> None:
        """Record that this turn went to the capable tier on its own: the next turns stay there."""
        if self.sticky_turns == 0:
            return
        with self._lock:
            state = self._sessions.get(session_id)
            if state is not None and state[1] < self.sticky_turns:
                state[1] = self.sticky_turns
                logger.info(
                    "tierscope: session %s escalated; the capable tier is kept for %d turns",
                    session_id,
                    self.sticky_turns,
                )
