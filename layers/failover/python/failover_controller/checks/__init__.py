"""Readiness checks, one module per service: what preflight (and the scheduled readiness) judge, and how.

Every check is run and reported with what it observed, against what, and its verdict; nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from failover_controller.errors import PreconditionFailed, StepFailed, TransientAwsError
from failover_controller.results import Check

NO_ANSWER = "no answer"
BROWNED_OUT = "answered with errors past the SDK's retries"
_UNANSWERED = ("NotImplemented", "not implemented", "InvalidAction", "UnknownOperation", "UnsupportedOperation")


def guarded(name: str, resource: str, threshold: Any, fn: Callable[[], Check]) -> Check:
    """A check whose resource is missing or whose call fails is a failing check, not a crash; one whose
    service cannot answer the call at all (an emulator, a partition without the API), did not answer in time (a
    region dark), or answered with throttling or 5xx past the SDK's retries (browned out), is unknown, never passed."""
    try:
        return fn()
    except TransientAwsError as exc:
        return unanswered(name, resource, threshold, exc)
    except (PreconditionFailed, StepFailed) as exc:
        if any(marker in exc.message for marker in _UNANSWERED):
            return Check(name, resource, None, threshold, "unknown", f"the service cannot answer: {exc.message}")
        return Check(name, resource, observed=None, threshold=threshold, verdict="fail", detail=exc.message)


def unanswered(name: str, resource: str, threshold: Any, exc: TransientAwsError) -> Check:
    """A check whose service did not answer (or answered with errors past the SDK's retries): unknown, saying which."""
    why = BROWNED_OUT if exc.answered else NO_ANSWER
    return Check(name, resource, None, threshold, "unknown", f"{why}: {exc.message}")


def skipped_ungraceful(name: str, resource: str, threshold: Any, source_region: str) -> Check:
    return Check(name, resource, None, threshold, "skipped", f"ungraceful: {source_region} is not consulted")
