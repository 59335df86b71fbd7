"""Logger, Tracer and Metrics, created once and shared by every handler.

Tracing costs cold-start time: powertools' Tracer imports the X-Ray SDK, which builds an X-Ray client at
import (about 120 ms, measured in benchmarks/). With tracing disabled (POWERTOOLS_TRACE_DISABLED=true, what
the template sets when its Tracing parameter is PassThrough) a no-op tracer with the same decorators is used
and the SDK is never imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "failover-controller"
NAMESPACE = "FailoverController"
F = TypeVar("F", bound=Callable[..., Any])

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class NoopTracer:
    """The decorators of powertools' Tracer, doing nothing."""

    def capture_lambda_handler(self, func: F | None = None, **_: Any) -> Any:
        return func if func is not None else (lambda f: f)

    def capture_method(self, func: F | None = None, **_: Any) -> Any:
        return func if func is not None else (lambda f: f)


def _tracing_disabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes", "on"}


def _tracer() -> Tracer:
    if _tracing_disabled():
        return cast("Tracer", NoopTracer())
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on: it imports the X-Ray SDK

    return Tracer(service=SERVICE)


tracer = _tracer()
