"""A request checked against botocore's full model of its operation, as AWS's front door checks it: lengths,
ranges, enums and patterns, at every depth. botocore's client-side validation checks only required members,
types and minimums; the emulators check little more. A violation is answered in the service's own shape
(``violation``).

Each protocol's request is read back into the operation's members: JSON and CBOR documents as they are, the query
protocol's form by the model's member names (``List.member.N``, flattened lists, ``Map.entry.N.key``), and a REST
request's URI labels, query string, headers and body (JSON, or XML read by the model).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
import cbor2
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StringShape, StructureShape

from failoverctl.drill.front_door import SERVICE_OF_SIGNING_NAME, Call, rest_route

MAX_PROBLEMS = 3


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query
    headers: dict[str, str]
    body: bytes


_SESSION = botocore.session.get_session()


@cache
def _service(signing_name: str) -> ServiceModel | None:
    """Each service's model, loaded once (SageMaker's takes about a second)."""
    try:
        return _SESSION.get_service_model(SERVICE_OF_SIGNING_NAME.get(signing_name, signing_name))
    except Exception:  # noqa: BLE001 - a service botocore does not know: nothing to check against
        return None


@cache
def _operation(service: str, action: str) -> OperationModel | None:
    model = _service(service)
    try:
        return model.operation_model(action) if model else None
    except Exception:  # noqa: BLE001 - an operation botocore does not know: nothing to check against
        return None


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct (\p{...}): AWS checks it; this world cannot, and says nothing
        return None


def problems(call: Call, request: Request) -> list[str]:
    """What AWS would refuse in the request, first ``MAX_PROBLEMS``, as AWS words them; empty: nothing."""
    operation = _operation(call.service, call.action)
    if operation is None or operation.input_shape is None:
        return []
    try:
        members = _members(call, operation.input_shape, request)
    except (ValueError, TypeError, ET.ParseError, cbor2.CBORDecodeError):
        return []  # not readable here: the emulator answers it
    found: list[str] = []
    _check(operation.input_shape, members, _lower_first(operation.input_shape.name), found)
    return found[:MAX_PROBLEMS]


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check(shape: Shape, value: Any, path: str, found: list[str]) -> None:  # noqa: C901 - one case a type
    if value is None:
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        if isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    _check(member, value[name], f"{path}.{_lower_first(name)}" if path else name, found)
        return
    if isinstance(shape, ListShape):
        if isinstance(value, list):
            _size(meta, len(value), value, path, found)
            for i, item in enumerate(value, 1):
                _check(shape.member, item, f"{path}.{i}.member", found)
        return
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            _size(meta, len(value), value, path, found)
            for key, item in value.items():
                _check(shape.key, key, f"{path}.{key}", found)
                _check(shape.value, item, f"{path}.{key}", found)
        return
    kind = shape.type_name
    if isinstance(shape, StringShape) and isinstance(value, str):
        _size(meta, len(value), value, path, found)
        if shape.enum and value not in shape.enum:
            found.append(_said(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        # Smithy's patterns are not implicitly anchored: a match anywhere satisfies one without ^ and $.
        if compiled is not None and not compiled.search(value):
            found.append(_said(value, path, f"Member must satisfy regular expression pattern: {pattern}"))
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            return
        if "min" in meta and number < meta["min"]:
            found.append(_said(value, path, f"Member must have value greater than or equal to {meta['min']}"))
        if "max" in meta and number > meta["max"]:
            found.append(_said(value, path, f"Member must have value less than or equal to {meta['max']}"))
    elif kind == "blob" and isinstance(value, str | bytes):
        _size(meta, len(value), "(blob)", path, found)


def _size(meta: dict[str, Any], size: int, value: Any, path: str, found: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        found.append(_said(value, path, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        found.append(_said(value, path, f"Member must have length less than or equal to {meta['max']}"))


def _said(value: Any, path: str, constraint: str) -> str:
    shown = value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "..."
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"


def message(found: list[str]) -> str:
    return f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected: " + "; ".join(found)


def error_code(call: Call) -> str:
    """The service's own name for a request that breaks its model's constraints."""
    if call.protocol == "query":
        return "ValidationError"
    if call.service == "route53":
        return "InvalidInput"
    if call.service == "s3":
        return "InvalidArgument"
    return "ValidationException"


# --- reading a request back into its members -----------------------------------------------------------------------


def _members(call: Call, shape: StructureShape, request: Request) -> dict[str, Any]:
    body = request.body
    if call.protocol == "json":
        return dict(json.loads(body or b"{}"))
    if call.protocol == "smithy-rpc-v2-cbor":
        return dict(cbor2.loads(body)) if body else {}
    if call.protocol == "query":
        query = urlsplit(request.target).query
        form = {k: v[0] for k, v in (parse_qs(body.decode("utf-8", "replace")) | parse_qs(query)).items()}
        return dict(_from_query(shape, form, "") or {})
    return _from_rest(call, shape, request)


def _from_query(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    if isinstance(shape, StructureShape):
        out = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = _from_query(member, form, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                out[name] = value
        return out or None
    if isinstance(shape, ListShape):
        flattened = shape.serialization.get("flattened")
        items = []
        for i in range(1, 1001):
            item = _from_query(shape.member, form, f"{prefix}.{i}" if flattened else f"{prefix}.member.{i}")
            if item is None:
                break
            items.append(item)
        return items or None
    if isinstance(shape, MapShape):
        entries = {}
        for i in range(1, 1001):
            key = form.get(f"{prefix}.entry.{i}.key")
            if key is None:
                break
            entries[key] = _from_query(shape.value, form, f"{prefix}.entry.{i}.value")
        return entries or None
    return form.get(prefix)


def _from_rest(call: Call, shape: StructureShape, request: Request) -> dict[str, Any]:
    split, body = urlsplit(request.target), request.body
    parsed_query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    _, _, labels = rest_route(call.service, request.method, split.path, set(parsed_query))
    low = {k.lower(): v for k, v in request.headers.items()}
    out: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        where, key = member.serialization.get("location"), member.serialization.get("name", name)
        if where == "uri" and key in labels:
            out[name] = labels[key]
        elif where == "querystring" and key in parsed_query:
            out[name] = parsed_query[key]
        elif where == "header" and key.lower() in low:
            out[name] = low[key.lower()]
    if not body.strip():
        return out
    if call.protocol == "rest-json" and body.lstrip().startswith(b"{"):
        document = json.loads(body)
        return out | ({payload: document} if payload else dict(document))
    if call.protocol == "rest-xml" and body.lstrip().startswith(b"<"):
        root = ET.fromstring(body)  # noqa: S314 - a request to the local emulator
        if payload:
            out[payload] = _from_xml(shape.members[payload], root)
        else:
            out |= _from_xml(shape, root) or {}
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _from_xml(shape: Shape, element: ET.Element) -> Any:
    if isinstance(shape, StructureShape):
        children: dict[str, list[ET.Element]] = {}
        for child in element:
            children.setdefault(_local(child.tag), []).append(child)
        out = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key not in children:
                continue
            if isinstance(member, ListShape) and member.serialization.get("flattened"):
                out[name] = [_from_xml(member.member, c) for c in children[key]]
            else:
                out[name] = _from_xml(member, children[key][0])
        return out
    if isinstance(shape, ListShape):
        return [_from_xml(shape.member, child) for child in element]
    if isinstance(shape, MapShape):
        return {}
    return element.text or ""
