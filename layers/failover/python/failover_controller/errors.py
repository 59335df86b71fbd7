"""Errors the runbook raises on purpose.

Step Functions sees an unhandled Lambda exception as its class name (``errorType``), so these names are
part of the state machine's contract: keep them stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class FailoverError(Exception):
    """Base of every error the controller raises deliberately."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InputInvalid(FailoverError):
    """An event or a step input is malformed; every problem is named, nothing was done."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{what} is invalid: " + "; ".join(self.problems), details={"problems": self.problems})


class PlanInvalid(InputInvalid):
    """A recovery plan failed validation; every problem is named with its field path."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        super().__init__(f"recovery plan {source}", problems)


class NotReady(FailoverError):
    """Preflight found the target region unable to take over; nothing was changed."""

    def __init__(self, failing: Iterable[str], checks: list[dict[str, Any]]) -> None:
        self.failing = list(failing)
        super().__init__(
            "target region is not ready: " + "; ".join(self.failing),
            details={"failing": self.failing, "checks": checks},
        )


class PreconditionFailed(FailoverError):
    """The world is not as the plan or the step requires (a missing resource, a conflicting operation)."""


class StepFailed(FailoverError):
    """An action was attempted and failed, or its effect could not be verified afterwards."""


class TransientAwsError(FailoverError):
    """Throttling or a service-side fault that outlasted the SDK's retries, or no answer at all: safe to retry the
    step. ``answered``: the service answered (throttling, a 5xx), so it is up but browned out; not: no answer."""

    def __init__(self, message: str, *, answered: bool = False, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.answered = answered


class PollTimeout(FailoverError):
    """A long operation was not done by the run's deadline (the plan's RTO budget)."""


class VerificationFailed(FailoverError):
    """After every step, the world does not read as a completed failover to the target region."""
