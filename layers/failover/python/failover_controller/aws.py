"""AWS calls with errors mapped onto the runbook's error classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from failover_controller.clients import PeerBudgetExhausted
from failover_controller.errors import FailoverError, PreconditionFailed, StepFailed, TransientAwsError

T = TypeVar("T")

NOT_FOUND_CODES = frozenset(
    {
        "DBClusterNotFoundFault",
        "GlobalClusterNotFoundFault",
        "ResourceNotFoundException",
        "TableNotFoundException",
        "ParameterNotFound",
        "NoSuchHostedZone",
        "NoSuchChange",
        "NoSuchHealthCheck",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError) -> bool:
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        return True
    # SageMaker says a missing endpoint with a ValidationException.
    return code == "ValidationException" and "could not find" in str(exc).lower()


def mapped(what: str, exc: ClientError) -> FailoverError:
    """The runbook's error for an AWS error: missing resource, transient, or a failed step."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", str(exc))
    if is_not_found(exc):
        return PreconditionFailed(f"{what}: not found ({code}: {message})")
    if code in TRANSIENT_CODES:
        return TransientAwsError(f"{what}: {code}: {message}", answered=True)
    return StepFailed(f"{what}: {code}: {message}")


def call(what: str, fn: Callable[..., T], **kwargs: Any) -> T:
    """Call ``fn(**kwargs)``; a missing resource is PreconditionFailed, throttling TransientAwsError."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        raise mapped(what, exc) from exc
    except (ConnectionError, HTTPClientError, PeerBudgetExhausted) as exc:
        # Unreachable, timed out or cut off (after the SDK's retries): nothing says the region will not answer later.
        raise TransientAwsError(f"{what}: no answer: {exc}") from exc
    except BotoCoreError as exc:
        raise StepFailed(f"{what}: {exc}") from exc
