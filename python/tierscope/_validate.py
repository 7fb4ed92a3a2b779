"""The one validation layer at the Python boundary.

Every public function checks its arguments with these helpers *before* any expensive work, so
a bad argument raises :class:`~tierscope.exceptions.InvalidInputError` (a ``ValueError``) or
:class:`~tierscope.exceptions.TierscopeFileNotFoundError` whose message names the argument and
says what was expected, in the same words as the Rust core (``invalid `name`: expected …,
got …``). Nothing is silently coerced: ``"no"`` is not a boolean, ``True`` is not a number, NaN
is not a probability, ``2**70`` is not a thread count.

Leaf module: it imports only :mod:`tierscope.exceptions` (and numpy, for its scalar types).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .exceptions import InvalidInputError, TierscopeFileNotFoundError

__all__ = [
    "INT64_MAX",
    "USIZE_MAX",
    "boolean",
    "is_bool",
    "choice",
    "existing_dir",
    "existing_file",
    "fail",
    "integer",
    "optional",
    "output_dir",
    "output_file",
    "probability",
    "real",
    "string_list",
    "text",
    "unit",
]

INT64_MAX = 2**63 - 1
USIZE_MAX = 2**64 - 1
"""The largest value the Rust core's ``usize``/``u64`` arguments take."""

T = TypeVar("T")


def fail(
    name: str, expected: str, value: Any = ..., *, cause: BaseException | None = None
) -> InvalidInputError:
    """The error for argument ``name``: ``invalid `name`: expected <expected>, got <value!r>``.

    Returned (not raised) so callers write ``raise fail(...)`` and type checkers see the raise.
    """
    got = "" if value is ... else f", got {_show(value)}"
    err = InvalidInputError(f"invalid `{name}`: expected {expected}{got}")
    if cause is not None:
        err.__cause__ = cause
    return err


def _show(value: Any) -> str:
    """A short ``repr`` (long values are cut so a 10 MB string never lands in a message)."""
    try:
        shown = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def is_bool(value: Any) -> bool:
    """A Python or numpy boolean."""
    return isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = INT64_MAX) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``: Python or numpy integers, never bools,
    floats or strings (``1.0`` is refused: an integer argument given a float is a caller's bug)."""
    if is_bool(value) or not isinstance(value, numbers.Integral):
        raise fail(name, _int_range(minimum, maximum), value)
    v = int(value)
    low = -(2**63) if minimum is None else minimum
    if v < low or (maximum is not None and v > maximum):
        raise fail(name, _int_range(minimum, maximum), v)
    return v


def _int_range(minimum: int | None, maximum: int | None) -> str:
    big = maximum is None or maximum >= INT64_MAX
    if minimum is not None and big:
        return "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
    if minimum is not None and maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if maximum is not None and not big:
        return f"an integer ≤ {maximum}"
    return "a 64-bit integer" if maximum is not None else "an integer"


def real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a ``float`` within the bounds (open or closed), finite unless ``finite=False``
    (NaN is always refused). Accepts Python and numpy reals (``np.float32`` included), never bools
    or strings."""
    if is_bool(value) or not isinstance(value, numbers.Real):
        raise fail(name, _real_range(minimum, maximum, min_open, max_open, finite), value)
    v = float(value)
    bad = math.isnan(v) or (finite and math.isinf(v))
    if minimum is not None:
        bad = bad or (v <= minimum if min_open else v < minimum)
    if maximum is not None:
        bad = bad or (v >= maximum if max_open else v > maximum)
    if bad:
        raise fail(name, _real_range(minimum, maximum, min_open, max_open, finite), v)
    return v


def _real_range(
    minimum: float | None, maximum: float | None, min_open: bool, max_open: bool, finite: bool
) -> str:
    kind = "a finite number" if finite else "a number (not NaN)"
    if minimum is not None and maximum is not None:
        lo, hi = "(" if min_open else "[", ")" if max_open else "]"
        return f"a number in {lo}{minimum:g}, {maximum:g}{hi}"
    if minimum is not None:
        return f"{kind} {'>' if min_open else '≥'} {minimum:g}"
    if maximum is not None:
        return f"{kind} {'<' if max_open else '≤'} {maximum:g}"
    return kind


def unit(name: str, value: Any, *, open_interval: bool = False) -> float:
    """A number in [0, 1] (or (0, 1) with ``open_interval``): levels, rates, scores."""
    return real(name, value, minimum=0.0, maximum=1.0, min_open=open_interval, max_open=open_interval)


def probability(name: str, value: Any) -> float:
    """An inclusion probability: a number in (0, 1]."""
    return real(name, value, minimum=0.0, maximum=1.0, min_open=True)


def boolean(name: str, value: Any) -> bool:
    """``True`` or ``False`` only (numpy booleans too); ``"no"``, ``0`` and ``None`` are refused."""
    if not is_bool(value):
        raise fail(name, "True or False", value)
    return bool(value)


def text(name: str, value: Any, *, allow_empty: bool = True, max_bytes: int | None = None) -> str:
    """A ``str`` that encodes as UTF-8 (a lone surrogate such as ``"\\ud800"`` is refused: no
    file format can store it), optionally non-empty and at most ``max_bytes`` long."""
    if not isinstance(value, str):
        raise fail(name, "a string", value)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise fail(
            name, f"text that encodes as UTF-8 (lone surrogate at index {err.start})", cause=err
        ) from None
    if not allow_empty and not value:
        raise fail(name, "a non-empty string", value)
    if max_bytes is not None and size > max_bytes:
        raise fail(name, f"at most {max_bytes} bytes of UTF-8, got {size} bytes")
    return value


def choice(name: str, value: Any, options: Iterable[T]) -> T:
    """One of ``options`` (compared with ``==``; the option itself is returned)."""
    opts = list(options)
    for option in opts:
        if type(value) is type(option) and value == option:
            return option
    raise fail(name, "one of " + ", ".join(repr(o) for o in opts), value)


def string_list(name: str, value: Any, *, allow_empty: bool = True) -> list[str]:
    """A sequence of strings (not a single string, which would iterate as characters)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise fail(name, "a sequence of strings", value)
    items = list(value)
    for i, item in enumerate(items):
        text(f"{name}[{i}]", item)
    if not allow_empty and not items:
        raise fail(name, "at least one string", value)
    return items


def optional(check: Any, name: str, value: Any, **options: Any) -> Any:
    """``None`` passes through; anything else goes through ``check(name, value, **options)``."""
    return None if value is None else check(name, value, **options)


def _path(name: str, value: Any) -> Path:
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise fail(name, "a path (str or os.PathLike)", value)
    raw = os.fspath(value)
    if not raw:  # Path("") is Path("."): an empty argument must not mean the current directory
        raise fail(name, "a non-empty path", value)
    return Path(raw)


def existing_dir(name: str, value: Any, *, what: str = "directory") -> Path:
    """A path to an existing directory (``TierscopeFileNotFoundError`` when it is missing)."""
    path = _path(name, value)
    if not path.exists():
        raise TierscopeFileNotFoundError(f"{what} not found: {path} (argument `{name}`)")
    if not path.is_dir():
        raise fail(name, f"a {what}, but {path} is not a directory")
    return path


def existing_file(name: str, value: Any, *, what: str = "file") -> Path:
    """A path to an existing regular file (``TierscopeFileNotFoundError`` when it is missing)."""
    path = _path(name, value)
    if not path.exists():
        raise TierscopeFileNotFoundError(f"{what} not found: {path} (argument `{name}`)")
    if not path.is_file():
        raise fail(name, f"a {what}, but {path} is not a regular file")
    return path


def output_dir(name: str, value: Any) -> Path:
    """A directory to write into: one that exists, or a path where one can be made."""
    path = _path(name, value)
    if path.exists() and not path.is_dir():
        raise fail(name, f"a directory, but {path} is not one")
    return path


def output_file(name: str, value: Any) -> Path:
    """A path a file can be written to: not a directory, in a directory that exists."""
    path = _path(name, value)
    if path.is_dir():
        raise fail(name, f"a file path, but {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise TierscopeFileNotFoundError(f"output directory not found: {parent} (argument `{name}`)")
    return path
