"""A small JSON Schema (2020-12 subset) validator that reports every problem, not just the first.

The layer stays pure Python and dependency-free (jsonschema needs a compiled extension); the tests check
that this validator and jsonschema agree on the plan schema. Supported keywords: type, enum, const,
required, properties, additionalProperties, propertyNames, minProperties, items, minItems, maxItems,
uniqueItems, minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum, $ref (local), $defs.

Two points where JSON Schema is stricter than Python: a pattern is an ECMA-262 regular expression, whose ``$``
matches at the very end only (Python's also matches before a final newline, so ``"recsys\n"`` would pass
``^[a-z]+$``); and a JSON number is finite (NaN and Infinity are not JSON, and a number like 1e309 is not one a
JSON parser can hold), so a non-finite number is refused wherever a number is allowed.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """A value as a problem names it: its repr, cut short when long (a plan's values are never echoed whole)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[: SHOWN_CHARS - 3]}... ({len(text)} chars)"


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in {"number", "integer"}:
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, true is not 1 and false is not 0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def path_str(path: tuple[str | int, ...]) -> str:
    """Render a path the way an operator reads it: ``sagemaker.endpoints.us-west-2.variants[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (part if len(part) <= SHOWN_CHARS else shown(part))
    return out or "(plan)"


class SchemaValidator:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema

    def errors(self, instance: Any) -> list[tuple[str, str]]:
        """Every problem as (path, reason), in document order."""
        found: list[tuple[str, str]] = []
        self._check(instance, self.root, (), found)
        return found

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def _check(
        self, value: Any, schema: dict[str, Any], path: tuple[str | int, ...], found: list[tuple[str, str]]
    ) -> None:
        where = path_str(path)
        if "$ref" in schema:
            self._check(value, self._resolve(schema["$ref"]), path, found)
        expected = schema.get("type")
        if expected is not None:
            names = expected if isinstance(expected, list) else [expected]
            if not any(_is_type(value, n) for n in names):
                found.append((where, f"must be of type {' or '.join(names)}, got {type(value).__name__}"))
                return
        if "const" in schema and not _json_equal(value, schema["const"]):
            found.append((where, f"must be {schema['const']!r}"))
        if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
            found.append((where, f"must be one of {', '.join(map(repr, schema['enum']))}, got {shown(value)}"))
        if isinstance(value, str):
            found += [(where, reason) for reason in _string_problems(value, schema)]
        if _is_type(value, "number"):
            found += [(where, reason) for reason in _number_problems(value, schema)]
        if isinstance(value, list):
            self._check_array(value, schema, path, found)
        if isinstance(value, dict):
            self._check_object(value, schema, path, found)

    def _check_array(
        self, value: list[Any], schema: dict[str, Any], path: tuple[str | int, ...], found: list[tuple[str, str]]
    ) -> None:
        where = path_str(path)
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append((where, f"must have at least {schema['minItems']} item(s)"))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append((where, f"must have at most {schema['maxItems']} item(s)"))
        if schema.get("uniqueItems"):
            duplicate = next(
                (item for i, item in enumerate(value) if any(_json_equal(item, s) for s in value[:i])), _NONE
            )
            if duplicate is not _NONE:
                found.append((where, f"has duplicate item {shown(duplicate)}"))
        if "items" in schema:
            for i, item in enumerate(value):
                self._check(item, schema["items"], (*path, i), found)

    def _check_object(
        self, value: dict[str, Any], schema: dict[str, Any], path: tuple[str | int, ...], found: list[tuple[str, str]]
    ) -> None:
        where = path_str(path)
        found += [
            (where, f"is missing required field {name!r}") for name in schema.get("required", []) if name not in value
        ]
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            found.append((where, f"must have at least {schema['minProperties']} entries"))
        props: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        names_schema = schema.get("propertyNames")
        for key, item in value.items():
            if names_schema is not None:
                self._check(key, names_schema, (*path, key), found)
            if key in props:
                self._check(item, props[key], (*path, key), found)
            elif extra is False:
                found.append((path_str((*path, key)), "is not a known field"))
            elif isinstance(extra, dict):
                self._check(item, extra, (*path, key), found)


_NONE = object()


def _string_problems(value: str, schema: dict[str, Any]) -> list[str]:
    problems = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append(f"must be at least {schema['minLength']} characters long")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"must be at most {schema['maxLength']} characters long")
    if "pattern" in schema and not ecma_pattern(schema["pattern"]).search(value):
        problems.append(f"{shown(value)} does not match {schema['pattern']!r}")
    return problems


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ECMA-262's ``$``: the end of the text, never before a final newline."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def _number_problems(value: float, schema: dict[str, Any]) -> list[str]:
    if not math.isfinite(value):
        return [f"must be a finite number, got {value}"]
    problems = []
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"must be >= {schema['minimum']}, got {value}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        problems.append(f"must be > {schema['exclusiveMinimum']}, got {value}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"must be <= {schema['maximum']}, got {value}")
    return problems
