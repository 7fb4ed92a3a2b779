"""The boundary validation helpers: typed errors naming the argument, no silent coercion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tierscope import _validate as v
from tierscope.exceptions import InvalidInputError, TierscopeFileNotFoundError


@pytest.mark.parametrize(
    "value", [True, 1.0, "3", None, 2**64, -(2**63) - 1, np.float64(2.0), b"1"], ids=repr
)
def test_integer_refuses_non_integers_and_out_of_range(value: object) -> None:
    with pytest.raises(InvalidInputError, match="invalid `n`"):
        v.integer("n", value)


def test_integer_accepts_python_and_numpy_integers_within_bounds() -> None:
    assert v.integer("n", np.int32(3), minimum=1) == 3
    assert v.integer("n", 2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInputError, match=r"a positive integer, got 0"):
        v.integer("sessions", 0, minimum=1)
    with pytest.raises(InvalidInputError, match=r"\[0, 10\], got 11"):
        v.integer("k", 11, minimum=0, maximum=10)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.5", None, 1 + 0j], ids=repr)
def test_real_refuses_nan_inf_bools_and_strings(value: object) -> None:
    with pytest.raises(InvalidInputError, match="invalid `x`"):
        v.real("x", value)


def test_real_bounds_open_and_closed() -> None:
    assert v.real("x", np.float32(0.5), minimum=0, maximum=1) == 0.5
    assert v.unit("level", 1) == 1.0
    with pytest.raises(InvalidInputError, match=r"\(0, 1\)"):
        v.unit("level", 1.0, open_interval=True)
    with pytest.raises(InvalidInputError, match=r"\(0, 1\]"):
        v.probability("inclusion_prob", 0.0)
    assert v.probability("inclusion_prob", 1.0) == 1.0
    assert v.real("cost", math.inf, finite=False) == math.inf
    with pytest.raises(InvalidInputError):
        v.real("cost", math.nan, finite=False)


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, np.int8(1)], ids=repr)
def test_boolean_accepts_only_booleans(value: object) -> None:
    with pytest.raises(InvalidInputError, match="True or False"):
        v.boolean("escalated", value)


def test_boolean_accepts_numpy_bool() -> None:
    assert v.boolean("flag", np.bool_(True)) is True


def test_text_refuses_lone_surrogates_and_oversize() -> None:
    with pytest.raises(InvalidInputError, match=r"invalid `request_id`.*UTF-8.*index 1"):
        v.text("request_id", "x\ud800")
    with pytest.raises(InvalidInputError, match="at most 3 bytes"):
        v.text("q", "abcd", max_bytes=3)
    with pytest.raises(InvalidInputError, match="non-empty"):
        v.text("q", "", allow_empty=False)
    with pytest.raises(InvalidInputError, match="a string"):
        v.text("q", b"bytes")


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(InvalidInputError) as info:
        v.boolean("flag", "x" * 10_000_000)
    assert len(str(info.value)) < 200


def test_choice_and_string_list() -> None:
    assert v.choice("design", "poisson", ["srswor", "poisson"]) == "poisson"
    with pytest.raises(InvalidInputError, match="one of 'srswor', 'poisson'"):
        v.choice("design", "POISSON", ["srswor", "poisson"])
    with pytest.raises(InvalidInputError, match="one of 1, 2"):
        v.choice("k", True, [1, 2])  # True == 1, but it is not the option
    assert v.string_list("tiers", ("a", "b")) == ["a", "b"]
    for bad in ("ab", {"a": 1}, 3, ["a", 3]):
        with pytest.raises(InvalidInputError, match="tiers"):
            v.string_list("tiers", bad)


def test_paths(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert v.existing_dir("log_dir", tmp_path) == tmp_path
    assert v.existing_file("path", str(tmp_path / "f")) == tmp_path / "f"
    with pytest.raises(TierscopeFileNotFoundError, match="log_dir"):
        v.existing_dir("log_dir", tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="not a directory"):
        v.existing_dir("log_dir", tmp_path / "f")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        v.existing_file("path", tmp_path)
    with pytest.raises(InvalidInputError, match="is a directory"):
        v.output_file("output", tmp_path)
    with pytest.raises(TierscopeFileNotFoundError, match="output"):
        v.output_file("output", tmp_path / "missing" / "out.html")
    assert v.output_file("output", tmp_path / "out.html") == tmp_path / "out.html"
    with pytest.raises(InvalidInputError, match="a path"):
        v.existing_dir("log_dir", 3)


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary()))
def test_every_refusal_is_typed(value: object) -> None:
    for check in (v.integer, v.real, v.unit, v.probability, v.boolean, v.text):
        try:
            check("arg", value)
        except InvalidInputError as err:
            assert "`arg`" in str(err)


def test_an_empty_path_is_not_the_current_directory() -> None:
    for check in (v.existing_dir, v.existing_file, v.output_file):
        with pytest.raises(InvalidInputError, match="non-empty path"):
            check("path", "")
