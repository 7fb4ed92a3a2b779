"""The bad-input matrix (issue 11): one test per case in ``tests/bad_inputs/<area>.py``.

A case passes when the call raises the expected tierscope error class with a message naming the
argument (or field) at fault, or, for cases of correct behaviour, when the call succeeds and its
check holds. No case may end in a raw ``TypeError``/``OverflowError``/``OSError``/``UnicodeError``,
a panic, or a hang (each test runs under the suite's timeout).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from tierscope.exceptions import TierscopeError

from tests import bad_inputs
from tests.bad_inputs import Case, Context

AREAS = sorted(m.name for m in pkgutil.iter_modules(bad_inputs.__path__))
CASES: list[Case] = [
    case for area in AREAS for case in importlib.import_module(f"tests.bad_inputs.{area}").CASES
]


def test_the_matrix_is_large_and_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(CASES) >= 100, len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, guarded_dir: Path, request: pytest.FixtureRequest) -> None:
    # The guarded router (the default router + its fp32 guard): the cases attack the guard's files too.
    ctx = Context(
        tmp=tmp_path, default_dir=guarded_dir, _router=lambda: request.getfixturevalue("guarded_router")
    )
    if case.raises is None:
        result = case.call(ctx)
        if case.check is not None:
            outcome = case.check(result, ctx)
            assert outcome is None or outcome, f"{case.id}: check failed for {result!r}"
        return
    with pytest.raises(Exception) as info:
        case.call(ctx)
    err = info.value
    assert isinstance(err, case.raises), (
        f"{case.id}: expected {case.raises.__name__}, got {type(err).__name__}: {err}"
    )
    assert isinstance(err, TierscopeError), f"{case.id}: {type(err).__name__} is not a tierscope error: {err}"
    message = str(err)
    for name in case.names:
        assert name in message, f"{case.id}: the message does not name {name!r}: {message}"
