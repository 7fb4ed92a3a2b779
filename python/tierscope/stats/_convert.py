"""Argument conversion for the statistics façade: numpy arrays the core reads in place.

:func:`_f64` makes an input a one-dimensional C-contiguous ``float64`` array, copying only when
it is not one already (``np.ascontiguousarray`` returns such an array itself); the Rust core then
reads that buffer without copying it, with the GIL released. Mutating an input array from another
thread while a call runs is therefore undefined (see :mod:`tierscope.stats`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import InvalidInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _f64(name: str, values: npt.ArrayLike) -> FloatArray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"invalid `{name}`: an array of numbers ({err})") from None
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    return arr


def _i64(name: str, values: npt.ArrayLike) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"invalid `{name}`: integer codes, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _encode(name: str, labels: npt.ArrayLike) -> tuple[IntArray, list[Any]]:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise InvalidInputError(f"invalid `{name}`: a one-dimensional array of labels, got shape {arr.shape}")
    if arr.size and np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0 and arr.max() < 1 << 16:
        # Small non-negative integer labels are their own codes (no sort over millions of rows);
        # the label list is then the identity over 0..max.
        return np.ascontiguousarray(arr, dtype=np.int64), list(range(int(arr.max()) + 1))
    uniques, inverse = np.unique(arr, return_inverse=True)
    return np.ascontiguousarray(inverse, dtype=np.int64), [
        u.item() if hasattr(u, "item") else u for u in uniques
    ]


def _same_len(name: str, arr: np.ndarray[Any, Any], other: str, n: int) -> None:
    if arr.shape[0] != n:
        raise InvalidInputError(f"invalid `{name}`: the same length as `{other}` ({n}), got {arr.shape[0]}")
