"""The serialised forms are stable: Decision.to_dict() follows docs/decision.schema.json and
round-trips through JSON, RouteBatch.to_arrow() has the pinned schema."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pytest
from tierscope.exceptions import InvalidInputError
from tierscope.routing import Decision, RouteBatch, Router

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "decision.schema.json").read_text())


def test_the_schema_lists_exactly_the_decision_fields() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    names = [f.name for f in fields(Decision)]
    assert sorted(SCHEMA["properties"]) == sorted(names)
    # Fields added after the first schema are optional, so older serialised decisions still validate.
    optional = {"region"}
    assert sorted(SCHEMA["required"]) == sorted(set(names) - optional)


def test_real_decisions_validate_and_round_trip_through_json(router: Router, queries: list[str]) -> None:
    batch = router.route_batch([*queries[:50], "", "x" * 5000], with_embeddings=True)
    failed = RouteBatch._all_fallback(router.tiers, 1, 1, "InferenceError: boom")[0]
    for decision in [*batch, failed]:
        data = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
        jsonschema.validate(data, SCHEMA)
        back = Decision.from_dict(data)
        assert back.tier == decision.tier and back.reason == decision.reason
        for name in ("confidence", "tail_score"):
            a, b = getattr(back, name), getattr(decision, name)
            assert (math.isnan(a) and math.isnan(b)) or a == b
        if decision.embedding is not None:
            assert back.embedding is not None
            np.testing.assert_array_equal(back.embedding, decision.embedding)
        if not decision.fallback:
            assert back == decision
    assert failed.to_dict()["confidence"] is None and failed.to_dict()["embedding"] is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"tier": "cheap"}, "missing Decision fields"),
        ({**Decision("cheap", 0, {"cheap": 1.0}, 1.0, 0.5, False, None).to_dict(), "extra": 1}, "unknown"),
        (
            {**Decision("cheap", 0, {"cheap": 1.0}, 1.0, 0.5, False, None).to_dict(), "confidence": "hi"},
            "confidence",
        ),
        ("not a dict", "mapping"),
    ],
)
def test_from_dict_refuses_what_to_dict_never_writes(data: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Decision.from_dict(data)  # type: ignore[arg-type]


def test_the_arrow_schema_is_pinned(router: Router) -> None:
    table = router.route_batch(["How do I activate my card?", ""]).to_arrow()
    expected = pa.schema(
        [
            ("tier", pa.string()),
            ("tier_index", pa.uint32()),
            ("p_cheap", pa.float32()),
            ("p_capable", pa.float32()),
            ("confidence", pa.float32()),
            ("tail_score", pa.float32()),
            ("fallback", pa.bool_()),
            ("reason", pa.string()),
            ("truncated", pa.bool_()),
            ("tokens", pa.uint32()),
            ("guarded", pa.bool_()),
            ("content_discarded", pa.bool_()),
            ("region", pa.int32()),  # issue 16: appended, so readers by name are unaffected
        ]
    )
    assert table.schema.equals(expected)
    assert RouteBatch.arrow_schema(router.tiers).equals(expected)
    assert table.num_rows == 2 and table.column("tier").to_pylist()[0] == "cheap"
