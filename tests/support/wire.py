"""Requests as botocore really builds them, captured before they leave, and read as the outage proxy reads them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from failoverctl.drill.front_door import Call, classify

NOWHERE = "http://127.0.0.1:9"


class Raw:
    """A response body as botocore's HTTP layer hands it on."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def prepared(
    service: str, region: str, operation: str, config: Config | None = None, **params: Any
) -> AWSPreparedRequest:
    """The request botocore sends for ``operation``, captured before it leaves."""
    client = boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=NOWHERE,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="x",
        config=config,
    )
    seen: list[AWSPreparedRequest] = []

    def grab(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        seen.append(request)
        return AWSResponse(request.url, 200, {}, Raw(b""))  # type: ignore[arg-type]

    client.meta.events.register("before-send", grab)
    with contextlib.suppress(Exception):  # an empty success body may not parse; the request is what we want
        getattr(client, operation)(**params)
    return seen[0]


def parts(request: AWSPreparedRequest) -> tuple[str, str, dict[str, str], bytes]:
    """Method, path (with its query), headers and body, as the proxy receives them."""
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    return request.method, request.url.removeprefix(NOWHERE), headers, body


def classified(request: AWSPreparedRequest) -> Call:
    return classify(*parts(request))
