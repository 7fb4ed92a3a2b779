"""Reading a cascade's answer object without knowing its type (duck typing, no provider imports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidInputError

__all__ = ["get", "answer_text"]


def get(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``obj.name``; None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _choice_text(response: Any) -> str | None:
    """The first choice's message content of an OpenAI-format chat completion, if any."""
    choices = get(response, "choices")
    if not isinstance(choices, (list, tuple)) or not choices:
        return None
    content = get(get(choices[0], "message"), "content")
    return content if isinstance(content, str) else None


def answer_text(answer: Any, what: str = "answer") -> str:
    """The text of a cascade's answer: a ``str``; an object or mapping with a ``text`` (a
    :class:`~tierscope.routing.TierAnswer`); an OpenAI-format chat completion (its first choice's
    content); or an object whose ``answer``/``response`` is one of those. Anything else raises
    :class:`~tierscope.exceptions.InvalidInputError` naming ``what``."""
    seen: Any = answer
    for _ in range(4):  # bounded: TierAnswer -> response -> choice text at most
        if isinstance(seen, str):
            return seen
        value = get(seen, "text")
        if isinstance(value, str):
            return value
        value = _choice_text(seen)
        if value is not None:
            return value
        nested = get(seen, "answer")
        if nested is None:
            nested = get(seen, "response")
        if nested is None:
            break
        seen = nested
    raise InvalidInputError(
        f"{what}: expected a str, an object with a str `text` (TierAnswer), or an OpenAI-format chat "
        f"completion; got {type(answer).__name__}"
    )
