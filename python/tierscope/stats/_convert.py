"""Argument conversion for the statistics façade: numpy arrays the core reads in place, and the
scalar checks every public function runs (through :mod:`tierscope._validate`) before it calls
the core.

:func:`_f64` makes an input a one-dimensional C-contiguous ``float64`` array, copying only when
it is not one already (``np.ascontiguousarray`` returns such an array itself); the Rust core then
reads that buffer without copying it, with the GIL released. Mutating an input array from another
thread while a call runs is therefore undefined (see :mod:`tierscope.stats`).

Arrays of strings, bytes, complex numbers, dates or Python objects that are not real numbers are
refused (never parsed or truncated), as are 0-d and 2-d arrays where a 1-d one is expected; every
message names the argument.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate
from .._validate import USIZE_MAX, fail
from ..exceptions import InvalidInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

U32_MAX = 2**32 - 1
"""The largest value of the core's ``u32`` arguments (days, codes, restart periods)."""
MAX_THREADS = 1024
"""The most worker threads a call may ask for (0 = all cores)."""

_NUMERIC_KINDS = frozenset("biuf")
LABELS = "a one-dimensional array of labels"


def _asarray(name: str, values: Any, expected: str) -> np.ndarray[Any, Any]:
    """``np.asarray(values)``; a bare string (which numpy would make one 0-d item) or input numpy
    cannot convert (ragged nesting, a broken ``__array__``) is refused as not ``expected``."""
    if isinstance(values, (str, bytes)):
        raise fail(name, expected, values)
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as err:
        raise fail(name, f"{expected} ({err})") from None


def _array(name: str, values: Any) -> np.ndarray[Any, Any]:
    """``values`` as a numpy array of real numbers (any numeric dtype), refusing text and objects."""
    arr = _asarray(name, values, "an array of numbers")
    if arr.dtype.kind == "O":
        for item in arr.flat:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
                raise fail(name, "an array of numbers", item)
    elif arr.dtype.kind not in _NUMERIC_KINDS:
        raise fail(name, f"an array of real numbers, got dtype {arr.dtype}")
    return arr


def _f64(name: str, values: npt.ArrayLike, *, finite: bool = False) -> FloatArray:
    """A one-dimensional C-contiguous ``float64`` array (no copy when it already is one); with
    ``finite``, NaN and infinities are refused naming the first bad index."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        arr = values
    else:
        arr = _array(name, values)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    try:
        out = np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as err:
        raise fail(name, f"an array of numbers ({err})") from None
    if finite:
        bad = ~np.isfinite(out)
        if bad.any():
            i = int(np.argmax(bad))
            raise fail(f"{name}[{i}]", "a finite number", float(out[i]))
    return out


def _opt_f64(name: str, values: npt.ArrayLike | None, *, finite: bool = False) -> FloatArray | None:
    """:func:`_f64` of an optional array (None passes through)."""
    return None if values is None else _f64(name, values, finite=finite)


def _i64(name: str, values: npt.ArrayLike) -> IntArray:
    arr = _asarray(name, values, "a one-dimensional array of integer codes")
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"invalid `{name}`: integer codes, got dtype {arr.dtype}")
    if arr.size and arr.dtype == np.uint64 and int(arr.max()) > _validate.INT64_MAX:
        i = int(np.argmax(arr > _validate.INT64_MAX))
        raise fail(f"{name}[{i}]", "an integer code below 2^63", int(arr[i]))
    return np.ascontiguousarray(arr, dtype=np.int64)


def _encode(name: str, labels: npt.ArrayLike) -> tuple[IntArray, list[Any]]:
    arr = _asarray(name, labels, LABELS)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array of labels, got shape {arr.shape}")
    if arr.size and np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() < 1 << 16:
        # Small non-negative integer labels are their own codes (no sort over millions of rows);
        # the label list is then the identity over 0..max.
        return np.ascontiguousarray(arr, dtype=np.int64), list(range(int(arr.max()) + 1))
    try:
        uniques, inverse = np.unique(arr, return_inverse=True)
    except TypeError as err:  # labels of types that do not compare (e.g. 1 and "a")
        raise fail(name, f"labels of one sortable type ({err})") from None
    return np.ascontiguousarray(inverse.reshape(-1), dtype=np.int64), [
        u.item() if hasattr(u, "item") else u for u in uniques
    ]


def _same_len(name: str, arr: np.ndarray[Any, Any], other: str, n: int) -> None:
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InvalidInputError(f"invalid `{name}`: the same length as `{other}` ({n}), got {arr.shape[0]}")


# ----------------------------------------------------------------------------- scalars


def _level(value: Any, name: str = "level") -> float:
    """A confidence level in (0, 1)."""
    return _validate.unit(name, value, open_interval=True)


def _seed(value: Any, name: str = "seed") -> int:
    """A random seed: an integer in [0, 2^64 − 1]."""
    return _validate.integer(name, value, minimum=0, maximum=USIZE_MAX)


def _threads(value: Any) -> int:
    """A worker-thread count: 0 (all cores) up to :data:`MAX_THREADS`."""
    return _validate.integer("threads", value, minimum=0, maximum=MAX_THREADS)


def _count(name: str, value: Any, *, minimum: int = 0, maximum: int = USIZE_MAX) -> int:
    """A non-negative integer count (``u64``/``usize`` in the core)."""
    return _validate.integer(name, value, minimum=minimum, maximum=maximum)


def _days(name: str, value: Any, *, minimum: int = 0) -> int:
    """A number of days (``u32`` in the core)."""
    return _validate.integer(name, value, minimum=minimum, maximum=U32_MAX)


def _nonneg(name: str, value: Any) -> float:
    """A finite number ≥ 0 (counts that may be fractional, population sizes)."""
    return _validate.real(name, value, minimum=0.0)


def _positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    return _validate.real(name, value, minimum=0.0, min_open=True)


def _method(name: str, value: Any, options: Iterable[str]) -> str:
    """One of the method names ``options``."""
    return _validate.choice(name, value, options)
