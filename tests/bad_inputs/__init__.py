"""The bad-input matrix: every case is a call a careless caller or an attacker would make, with
the typed error (and the argument its message must name) or the correct behaviour expected.

Each area module (``router``, ``log``, ``stats``, ``quality``, ``cli``) defines ``CASES``, a list of
:class:`Case`; ``tests/test_bad_input_matrix.py`` runs them all, one test per case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Context:
    """What a case may use: a fresh temporary directory and (lazily) the default router."""

    tmp: Path
    default_dir: Path
    _router: Any = field(default=None, repr=False)

    @property
    def router(self) -> Any:
        """The default router, loaded once per test session."""
        return self._router() if callable(self._router) else self._router


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``call(ctx)`` makes the call. With ``raises``, it must raise that class (a subclass passes)
    with every string in ``names`` in its message (the argument or field it names). Without
    ``raises``, it must return normally and ``check(result, ctx)`` (if given) must hold: the
    case's correct behaviour.
    """

    id: str
    call: Callable[[Context], Any]
    raises: type[BaseException] | None = None
    names: tuple[str, ...] = ()
    check: Callable[[Any, Context], Any] | None = None


def expect(
    id: str,
    call: Callable[[Context], Any],
    raises: type[BaseException],
    *names: str,
) -> Case:
    """A case that must raise ``raises`` naming each of ``names``."""
    return Case(id, call, raises, names)


def behaves(
    id: str, call: Callable[[Context], Any], check: Callable[[Any, Context], Any] | None = None
) -> Case:
    """A case that must succeed, and satisfy ``check(result, ctx)`` when given."""
    return Case(id, call, None, (), check)
