"""AWS's front door as the drill's outage proxy reads a request: the region, the service (its SigV4 signing name), the
operation and the protocol, from the request alone (headers, path, query, form), by botocore's service models.

Its own module so that both the proxy (``outage``) and the IAM evaluation (``iam``) use it without importing each
other."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session

# Signing names that are not botocore's service names.
SERVICE_OF_SIGNING_NAME = {"monitoring": "cloudwatch", "states": "stepfunctions", "execute-api": "apigateway"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_RPC_V2 = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)$")
_FUNCTION = re.compile(r"\bfn/(\S+)")
# Global control planes live in us-east-1 whatever region a client signs for (a custom endpoint signs with the
# client's region): they go down with it.
HOMED = {"route53": "us-east-1", "iam": "us-east-1"}


@dataclass(frozen=True)
class Call:
    """One request as AWS's front door reads it."""

    region: str
    service: str  # the SigV4 signing name: monitoring, states, rds, route53, ...
    action: str
    protocol: str  # json, query, rest-json, rest-xml, smithy-rpc-v2-cbor
    access_key: str = ""
    function: str = ""  # the calling function, from the controller's user agent (``fn/NAME``)


def classify(method: str, target: str, headers: dict[str, str], body: bytes) -> Call:
    """Region, service, action and protocol of a request; ``?`` where the request does not say."""
    low = {k.lower(): v for k, v in headers.items()}
    split = urlsplit(target)
    query = parse_qs(split.query, keep_blank_values=True)
    scope = _CREDENTIAL.search(low.get("authorization", "")) or _CREDENTIAL.search(
        "Credential=" + query.get("X-Amz-Credential", [""])[0]
    )
    key, region, service = scope.groups() if scope else ("", "?", "?")
    region = HOMED.get(service, region)
    agent = _FUNCTION.search(low.get("user-agent", ""))
    function = agent.group(1) if agent else ""
    if "x-amz-target" in low:
        return Call(region, service, low["x-amz-target"].rsplit(".", 1)[-1], "json", key, function)
    rpc = _RPC_V2.search(split.path)
    if rpc and low.get("smithy-protocol") == "rpc-v2-cbor":
        return Call(region, service, rpc.group(1), "smithy-rpc-v2-cbor", key, function)
    form = parse_qs(body.decode("utf-8", "replace")) if "x-www-form-urlencoded" in low.get("content-type", "") else {}
    action = (form.get("Action") or query.get("Action") or [""])[0]
    if action:
        return Call(region, service, action, "query", key, function)
    protocol, operation = _rest_operation(service, method, split.path, set(query))
    return Call(region, service, operation, protocol, key, function)


@cache
def _rest_model(service: str) -> tuple[str, tuple[tuple[str, re.Pattern[str], frozenset[str], int, str], ...]]:
    """The REST service's protocol and every operation's method, URI pattern, required query keys (in its URI or
    required members sent in the query string) and specificity. S3's bucket is left out of its paths: botocore
    rewrites S3's model that way once a client exists, and a path-style request's bucket is its first segment."""
    name = SERVICE_OF_SIGNING_NAME.get(service, service)
    try:
        model = botocore.session.get_session().get_service_model(name)
    except Exception:  # noqa: BLE001 - a service botocore does not know: no action to read
        return "rest-json", ()
    routes = []
    for op_name in model.operation_names:
        operation = model.operation_model(op_name)
        path, _, declared = operation.http["requestUri"].partition("?")
        if service == "s3":
            path = path.removeprefix("/{Bucket}") or "/"
        keys = {k.partition("=")[0] for k in declared.split("&") if k}
        shape = operation.input_shape
        if shape is not None:
            keys |= {
                member.serialization.get("name", key)
                for key, member in shape.members.items()
                if member.serialization.get("location") == "querystring" and key in shape.required_members
            }
        pattern = re.escape(path)
        pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", pattern)
        pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        literal = len(re.sub(r"\{[^}]+\}", "", path)) + 10 * len(keys)
        routes.append(
            (operation.http["method"], re.compile(pattern.rstrip("/") + "/?$"), frozenset(keys), literal, op_name)
        )
    return model.protocol, tuple(routes)


def _rest_operation(service: str, method: str, path: str, query_keys: set[str]) -> tuple[str, str]:
    protocol, operation, _ = rest_route(service, method, path, query_keys)
    return protocol, operation


def rest_route(service: str, method: str, path: str, query_keys: set[str]) -> tuple[str, str, dict[str, str]]:
    """A REST request's protocol, operation and URI labels (unquoted; S3's ``Bucket`` from a path-style request)."""
    protocol, routes = _rest_model(service)
    labels: dict[str, str] = {}
    if service == "s3":
        bucket, _, rest = path.lstrip("/").partition("/")
        path, labels = "/" + rest, {"Bucket": unquote(bucket)}
    matches = [
        (literal, op, found)
        for verb, pattern, keys, literal, op in routes
        if verb == method and (found := pattern.match(path)) and keys <= query_keys
    ]
    if not matches:
        return protocol, f"{method} {path}", labels
    _, operation, found = max(matches, key=lambda m: (m[0], m[1]))
    return protocol, operation, labels | {k: unquote(v) for k, v in found.groupdict().items()}
