"""route_batch's inputs: list/tuple, numpy, pyarrow (through its buffers), pandas and polars;
nulls route as the empty text. Every container must give the routing of the same list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tierscope.exceptions import InvalidInputError
from tierscope.routing import RouteBatch, Router
from tierscope.routing._inputs import Utf8Buffers, route_input, texts

TEXTS = ["How do I activate my new card?", "Someone stole my card and is using it", "", "ça coûte combien ?"]
WITH_NULL: list[str | None] = [TEXTS[0], None, TEXTS[1], TEXTS[3]]
AS_ROUTED = [TEXTS[0], "", TEXTS[1], TEXTS[3]]


def same(a: RouteBatch, b: RouteBatch) -> None:
    np.testing.assert_array_equal(a.tier_index, b.tier_index)
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert a.reason == b.reason


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda t: tuple(t), id="tuple"),
        pytest.param(lambda t: np.array(t), id="numpy-str"),
        pytest.param(lambda t: np.array(t, dtype=object), id="numpy-object"),
        pytest.param(lambda t: pa.array(t, type=pa.string()), id="arrow-string"),
        pytest.param(lambda t: pa.array(t, type=pa.large_string()), id="arrow-large-string"),
        pytest.param(lambda t: pa.array(t, type=pa.string_view()), id="arrow-string-view"),
        pytest.param(lambda t: pa.chunked_array([t[:1], t[1:]], type=pa.string()), id="arrow-chunked"),
        pytest.param(lambda t: pa.array(["skip", *t], type=pa.string()).slice(1), id="arrow-sliced"),
        pytest.param(lambda t: pd.Series(t), id="pandas-object"),
        pytest.param(lambda t: pd.Series(t, dtype="string"), id="pandas-string"),
        pytest.param(lambda t: pl.Series(t), id="polars"),
    ],
)
def test_every_container_routes_like_the_list(router: Router, make: object) -> None:
    expected = router.route_batch(TEXTS)
    same(router.route_batch(make(TEXTS)), expected)  # type: ignore[operator]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda t: np.array(t, dtype=object), id="numpy-object"),
        pytest.param(lambda t: pa.array(t, type=pa.string()), id="arrow"),
        pytest.param(lambda t: pa.chunked_array([t[:2], t[2:]], type=pa.large_string()), id="arrow-chunked"),
        pytest.param(lambda t: pd.Series(t, dtype="string"), id="pandas-NA"),
        pytest.param(lambda t: pd.Series([np.nan if x is None else x for x in t]), id="pandas-NaN"),
        pytest.param(lambda t: pl.Series(t, dtype=pl.String), id="polars"),
    ],
)
def test_nulls_route_as_the_empty_text(router: Router, make: object) -> None:
    batch = router.route_batch(make(WITH_NULL))  # type: ignore[operator]
    same(batch, router.route_batch(AS_ROUTED))
    assert batch[1].to_dict() == router.route("").to_dict()  # (to_dict: NaN != NaN in the dataclass)


def test_arrow_columns_reach_rust_as_their_own_buffers() -> None:
    """The zero-copy path: the data handed to Rust is the Arrow buffer itself, not a copy, and no
    Python str is built for it."""
    array = pa.array(TEXTS * 100, type=pa.large_string())
    buffers = route_input("texts", array)
    assert isinstance(buffers, Utf8Buffers) and len(buffers) == 400
    assert buffers.data.ctypes.data == array.buffers()[2].address
    assert buffers.offsets.ctypes.data == array.buffers()[1].address
    series = pl.Series(TEXTS)
    assert isinstance(route_input("texts", series), Utf8Buffers)


def test_guarded_rows_of_an_arrow_batch_match_the_list(guarded_router: Router, queries: list[str]) -> None:
    """The precision guard (of a router built with it) re-decides some rows: from the buffers it
    reads those rows as str."""
    sample = queries[:300]
    from_list = guarded_router.route_batch(sample)
    from_arrow = guarded_router.route_batch(pa.array(sample))
    assert from_list.guarded is not None and from_list.guarded.any()
    same(from_arrow, from_list)
    np.testing.assert_array_equal(from_arrow.guarded, from_list.guarded)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("one text", "single str"),
        (np.array([1, 2]), "dtype int64"),
        (np.array([["a"], ["b"]]), "1-D array"),
        (np.array(["a", 3], dtype=object), r"texts\[1\]"),
        (pa.array([1, 2]), "type int64"),
        (pl.Series([1, 2]), "dtype Int64"),
        (pd.Series(["a", 3]), r"texts\[1\]"),
        (pd.DataFrame({"a": ["x"]}), "texts"),
        (["a", None], r"texts\[1\]"),
    ],
)
def test_bad_containers_name_the_argument(router: Router, value: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        router.route_batch(value)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30),
    large=st.booleans(),
    offset=st.integers(0, 3),
)
def test_arrow_buffers_decode_to_the_texts_with_nulls_empty(
    items: list[str | None], large: bool, offset: int
) -> None:
    clean = items  # hypothesis' text() has no lone surrogates, which Arrow could not hold
    array = pa.array(["pad"] * offset + clean, type=pa.large_string() if large else pa.string()).slice(offset)
    assert texts("texts", array) == [x or "" for x in clean]
    assert texts("texts", pa.chunked_array([array, array])) == [x or "" for x in clean] * 2
