"""Texts in: the containers :meth:`Router.route_batch` and :class:`TierClassifier` accept.

- ``list`` / ``tuple`` of ``str`` (strict: every item must be a ``str``);
- numpy arrays, 1-D, of dtype ``str_`` (``<U``) or ``object`` holding ``str`` (``None`` is a null);
- pyarrow ``Array`` / ``ChunkedArray`` of ``string`` or ``large_string`` (``string_view`` is cast):
  their offsets and data buffers go to Rust as numpy views, with no Python ``str`` built
  (:class:`Utf8Buffers`);
- pandas ``Series`` (object, ``string`` or ``str`` dtype; ``None``/``NaN``/``NA`` are nulls) and
  polars ``Series`` of ``String`` (through its Arrow form, so also without Python ``str``).

A null is routed as the empty text ``""``, so the router's empty-text policy applies to it.
Anything else raises :class:`~tierscope.exceptions.InvalidInputError` naming the argument (and
the first bad row, as ``texts[i]``) before any text is routed. pandas, polars and pyarrow are
never imported here: a container is recognised by its type's module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate as v

__all__ = ["Utf8Buffers", "is_text_column", "route_input", "texts"]

_ARROW_STRING_TYPES = ("string", "large_string", "utf8", "large_utf8")


@dataclass(frozen=True)
class Utf8Buffers:
    """An Arrow string column as buffers: row ``i`` is ``data[offsets[i]:offsets[i + 1]]``
    decoded as UTF-8, or ``""`` where ``valid[i]`` is false. ``offsets`` and ``data`` are views of
    the Arrow buffers (int32 offsets are widened to int64: one copy of ``n + 1`` integers)."""

    offsets: npt.NDArray[np.int64]
    data: npt.NDArray[np.uint8]
    valid: npt.NDArray[np.bool_] | None

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def __getitem__(self, i: int) -> str:
        """Row ``i`` as a ``str`` (for the few rows the precision guard decides again)."""
        if self.valid is not None and not self.valid[i]:
            return ""
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return bytes(self.data[start:end]).decode("utf-8")

    def to_list(self) -> list[str]:
        """Every row as a ``str``."""
        return [self[i] for i in range(len(self))]


def _family(value: Any) -> str:
    """The top-level package of ``value``'s type (``"pandas"``, ``"polars"``, ``"pyarrow"``...)."""
    return type(value).__module__.split(".", 1)[0]


def _arrow_buffers(array: Any, name: str) -> Utf8Buffers:
    """The buffers of a pyarrow string array (one chunk; a ChunkedArray is combined first)."""
    import pyarrow as pa  # only reached with a pyarrow object in hand

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    kind = str(array.type)
    if kind == "string_view":
        array = array.cast(pa.large_string())
        kind = "large_string"
    if kind not in _ARROW_STRING_TYPES:
        raise v.fail(name, f"a pyarrow array of strings, got one of type {kind}")
    validity, offsets_buf, data_buf = array.buffers()[:3]
    n, start = len(array), array.offset
    width = np.int64 if kind.startswith("large") else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width, count=n + 1, offset=start * np.dtype(width).itemsize)
    data = np.zeros(0, dtype=np.uint8) if data_buf is None else np.frombuffer(data_buf, dtype=np.uint8)
    valid = None
    if validity is not None and array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    return Utf8Buffers(offsets.astype(np.int64, copy=False), data, valid)


def _object_items(items: Any, name: str) -> list[str]:
    """``str`` items of an object sequence with ``None``/``NaN``/``pd.NA`` as nulls (``""``)."""
    out: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append(v.text(f"{name}[{i}]", item))
        elif item is None or (isinstance(item, float) and math.isnan(item)) or repr(item) == "<NA>":
            out.append("")
        else:
            raise v.fail(f"{name}[{i}]", "a str (or a null)", item)
    return out


def _numpy_texts(array: npt.NDArray[Any], name: str) -> list[str]:
    if array.ndim != 1:
        raise v.fail(name, f"a 1-D array of texts, got a {array.ndim}-D array of shape {array.shape}")
    if array.dtype.kind == "U":
        return [v.text(f"{name}[{i}]", str(item)) for i, item in enumerate(array.tolist())]
    if array.dtype.kind == "O":
        return _object_items(array.tolist(), name)
    raise v.fail(name, f"an array of str (dtype <U or object), got dtype {array.dtype}")


def route_input(name: str, value: Any) -> list[str] | Utf8Buffers:
    """``value`` as routable texts: a list of ``str``, or the buffers of an Arrow column."""
    if isinstance(value, (str, bytes)):
        raise v.fail(name, "a list of str, got a single str (use route())")
    if isinstance(value, Utf8Buffers):
        return value  # already converted (aroute_batch converts on the loop, routes in a thread)
    family = _family(value)
    if isinstance(value, np.ndarray):
        return _numpy_texts(value, name)
    if family == "pyarrow" and hasattr(value, "type"):
        return _arrow_buffers(value, name)
    if family == "polars" and hasattr(value, "to_arrow"):
        if str(value.dtype) not in ("String", "Utf8"):
            raise v.fail(name, f"a polars Series of String, got dtype {value.dtype}")
        return _arrow_buffers(value.to_arrow(), name)
    if family == "pandas" and hasattr(value, "to_numpy"):
        if getattr(value, "ndim", 1) != 1:
            raise v.fail(name, "a pandas Series of texts (one column), got a DataFrame")
        return _object_items(value.to_numpy(dtype=object), name)
    return v.string_list(name, value)


def texts(name: str, value: Any) -> list[str]:
    """``value`` (any accepted container) as a list of ``str``, nulls as ``""``."""
    items = route_input(name, value)
    return items.to_list() if isinstance(items, Utf8Buffers) else items


def is_text_column(value: Any) -> bool:
    """Whether ``value`` looks like a column of texts (rather than a numeric matrix): a list or
    tuple whose first item is a ``str``, a 1-D ``<U``/object array whose first item is a ``str``,
    or a pyarrow/pandas/polars string column."""
    if isinstance(value, (list, tuple)):
        return bool(value) and isinstance(value[0], str)
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            return False
        return value.dtype.kind == "U" or (
            value.dtype.kind == "O" and value.size > 0 and isinstance(value[0], str)
        )
    family = _family(value)
    if family == "pyarrow" and hasattr(value, "type"):
        return str(value.type) in (*_ARROW_STRING_TYPES, "string_view")
    if family == "polars" and hasattr(value, "to_arrow"):
        return str(getattr(value, "dtype", "")) in ("String", "Utf8")
    if family == "pandas" and getattr(value, "ndim", 0) == 1:
        return str(value.dtype) in ("object", "string", "str") or str(value.dtype).startswith("string")
    return False
