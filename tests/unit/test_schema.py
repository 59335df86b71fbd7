"""The plan validator's every keyword, at its boundaries, with the exact words an operator reads."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.schema import SchemaValidator, path_str, shown

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "count"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 3},
        "ratio": {"type": "number", "exclusiveMinimum": 0},
        "either": {"type": ["string", "null"]},
        "kind": {"enum": ["a", 1, True]},
        "fixed": {"const": 0},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True, "items": {"$ref": "#/$defs/tag"}},
        "map": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z]+$"},
            "additionalProperties": {"type": "boolean"},
        },
    },
    "$defs": {"tag": {"type": "string", "minLength": 1}},
}
V = SchemaValidator(SCHEMA)


def problems(doc: Any) -> list[tuple[str, str]]:
    return V.errors(doc)


def test_a_valid_document_has_no_problems() -> None:
    doc = {
        "name": "ab",
        "count": 1,
        "ratio": 0.1,
        "either": None,
        "kind": 1,
        "fixed": 0,
        "tags": ["x"],
        "map": {"a": True},
    }
    assert problems(doc) == []


def test_every_problem_in_document_order() -> None:
    doc = {
        "name": "A",
        "count": 0,
        "ratio": 0,
        "either": 5,
        "kind": "b",
        "fixed": False,
        "tags": ["", ""],
        "map": {},
        "other": 1,
    }
    assert problems(doc) == [
        ("name", "must be at least 2 characters long"),
        ("name", "'A' does not match '^[a-z]+$'"),
        ("count", "must be >= 1, got 0"),
        ("ratio", "must be > 0, got 0"),
        ("either", "must be of type string or null, got int"),
        ("kind", "must be one of 'a', 1, True, got 'b'"),
        ("fixed", "must be 0"),
        ("tags", "has duplicate item ''"),
        ("tags[0]", "must be at least 1 characters long"),
        ("tags[1]", "must be at least 1 characters long"),
        ("map", "must have at least 1 entries"),
        ("other", "is not a known field"),
    ]


def test_the_upper_bounds() -> None:
    assert problems({"name": "abcde", "count": 4, "tags": ["a", "b", "c"]}) == [
        ("name", "must be at most 4 characters long"),
        ("count", "must be <= 3, got 4"),
        ("tags", "must have at most 2 item(s)"),
    ]
    assert problems({"name": "abcd", "count": 3, "tags": ["a", "b"]}) == []


def test_missing_fields_and_wrong_types() -> None:
    assert problems({}) == [
        ("(plan)", "is missing required field 'name'"),
        ("(plan)", "is missing required field 'count'"),
    ]
    assert problems([]) == [("(plan)", "must be of type object, got list")]
    assert problems({"name": "ab", "count": True}) == [("count", "must be of type integer, got bool")]
    assert problems({"name": "ab", "count": 2.0}) == []
    assert problems({"name": "ab", "count": 2.5}) == [("count", "must be of type integer, got float")]
    assert problems({"name": "ab", "count": 1, "tags": []}) == [("tags", "must have at least 1 item(s)")]


def test_json_equality_is_not_pythons() -> None:
    assert problems({"name": "ab", "count": 1, "kind": 1.0}) == []
    assert problems({"name": "ab", "count": 1, "fixed": 0.0}) == []
    assert problems({"name": "ab", "count": 1, "fixed": False}) == [("fixed", "must be 0")]
    assert problems({"name": "ab", "count": 1, "kind": False}) == [("kind", "must be one of 'a', 1, True, got False")]
    assert problems({"name": "ab", "count": 1, "tags": ["a", "b"]}) == []


def test_map_keys_and_values_are_checked() -> None:
    assert problems({"name": "ab", "count": 1, "map": {"Bad": 1}}) == [
        ("map.Bad", "'Bad' does not match '^[a-z]+$'"),
        ("map.Bad", "must be of type boolean, got int"),
    ]


def test_long_values_and_paths_are_cut_short() -> None:
    long = "x" * 100
    assert shown(long) == repr(long)[:57] + "... (102 chars)"
    assert shown("x" * 58) == repr("x" * 58)
    assert len(shown("x" * 59)) > 60
    assert path_str(("a", 0, "b")) == "a[0].b"
    assert path_str(()) == "(plan)"
    assert path_str(("k" * 61,)) == shown("k" * 61)
    assert path_str(("k" * 60,)) == "k" * 60


def test_only_local_references_are_followed() -> None:
    with pytest.raises(ValueError, match="only local \\$ref is supported, got 'https://x/y'"):
        SchemaValidator({"$ref": "https://x/y"}).errors(1)


STRUCTURED = SchemaValidator(
    {
        "type": "object",
        "properties": {
            "pair": {"const": [1, True]},
            "choice": {"enum": [{"a": [1, 2]}, {"b": False}]},
            "set": {"type": "array", "uniqueItems": True},
        },
    }
)


@pytest.mark.parametrize(
    ("doc", "found"),
    [
        ({"pair": [1, True]}, []),
        ({"pair": [1.0, True]}, []),
        ({"pair": [1, 1]}, [("pair", "must be [1, True]")]),
        ({"pair": [True, 1]}, [("pair", "must be [1, True]")]),
        ({"pair": [1]}, [("pair", "must be [1, True]")]),
        ({"pair": [1, True, 3]}, [("pair", "must be [1, True]")]),
        ({"pair": {"0": 1, "1": True}}, [("pair", "must be [1, True]")]),
        ({"choice": {"a": [1, 2.0]}}, []),
        ({"choice": {"b": False}}, []),
        ({"choice": {"b": 0}}, [("choice", "must be one of {'a': [1, 2]}, {'b': False}, got {'b': 0}")]),
        ({"choice": {"a": [2, 1]}}, [("choice", "must be one of {'a': [1, 2]}, {'b': False}, got {'a': [2, 1]}")]),
        (
            {"choice": {"a": [1, 2], "b": False}},
            [("choice", "must be one of {'a': [1, 2]}, {'b': False}, got {'a': [1, 2], 'b': False}")],
        ),
        ({"choice": {"c": [1, 2]}}, [("choice", "must be one of {'a': [1, 2]}, {'b': False}, got {'c': [1, 2]}")]),
        ({"set": [{"x": 1}, {"x": True}, [1], [1, 2], [True, 2]]}, []),
        ({"set": [{"x": 1}, {"x": 1.0}]}, [("set", "has duplicate item {'x': 1.0}")]),
        ({"set": [[1, 2], [1, 2]]}, [("set", "has duplicate item [1, 2]")]),
    ],
)
def test_structured_values_are_equal_as_json_says_element_by_element(doc: dict[str, Any], found: list[Any]) -> None:
    assert STRUCTURED.errors(doc) == found


def test_a_boolean_equals_only_itself() -> None:
    assert problems({"name": "ab", "count": 1, "kind": True}) == []
    assert problems({"name": "ab", "count": 1, "kind": "a"}) == []
