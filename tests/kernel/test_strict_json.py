"""The strict JSON reader: what Python's ``json`` accepts but this API refuses."""

from __future__ import annotations

import json

import pytest

from mcos.kernel import strict_json
from mcos.kernel.strict_json import MAX_DEPTH, MAX_INT, StrictJsonError


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_ordinary_json_reads_as_json_does() -> None:
    text = json.dumps(
        {"a": [1, -2.5, 1e300, MAX_INT, -MAX_INT, "x", None, True], "b": {"c": {}}, "d": 0.1}
    )
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(_nested(MAX_DEPTH)) == json.loads(_nested(MAX_DEPTH))


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ('{"home_airport": NaN}', ("home_airport",)),
        ('{"x": Infinity}', ("x",)),
        ('{"x": [1, 2, -Infinity]}', ("x", 2)),
        ('{"x": 1e400}', ("x",)),
        ('{"x": -1e400}', ("x",)),
        ('{"x": ' + "9" * 4300 + "}", ("x",)),
        ('{"x": ' + str(MAX_INT + 1) + "}", ("x",)),
        ('{"x": -' + str(MAX_INT + 1) + "}", ("x",)),
        ('{"a": {"b": [{"c": ' + "1" * 30 + "}]}}", ("a", "b", 0, "c")),
        ("NaN", ()),
    ],
)
def test_values_that_are_refused_say_where(text: str, loc: tuple) -> None:
    with pytest.raises(StrictJsonError) as info:
        strict_json.loads(text)
    (problem,) = info.value.problems
    assert problem.loc == loc and problem.type == "value_not_allowed"


def test_every_refused_value_is_reported() -> None:
    with pytest.raises(StrictJsonError) as info:
        strict_json.loads('{"a": NaN, "b": [Infinity, 1], "c": 1e999}')
    assert [p.loc for p in info.value.problems] == [("a",), ("b", 0), ("c",)]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 50_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(StrictJsonError) as info:
        strict_json.loads(_nested(depth))
    assert {p.type for p in info.value.problems} == {"json_too_deep"}


def test_invalid_json_is_a_value_error() -> None:
    with pytest.raises(ValueError) as info:
        strict_json.loads(b"{not json")
    assert isinstance(info.value, StrictJsonError)
    assert info.value.problems[0].type == "json_invalid"
