"""The names the controller reads and builds, each defined once: regions, plan names, where plans are stored,
ARNs."""

from __future__ import annotations

import re

# \Z, not $: Python's $ also matches before a final newline, so "us-east-1\n" would pass.
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]\Z")
PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:[^\n]+\Z")
DEFAULT_PLAN_PREFIX = "/failover-controller/plans"
# The tag that says which application a resource belongs to (docs/plan.md): `failoverctl plan discover` finds the
# application's resources by it.
APPLICATION_TAG = "failover:application"


def plan_parameter_name(prefix: str, application: str) -> str:
    return f"{prefix.rstrip('/')}/{application}"


def arn_region(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[3] or None if len(parts) == 6 and parts[0] == "arn" else None


def arn_account(arn: str | None) -> str | None:
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[4] or None if len(parts) == 6 and parts[0] == "arn" else None


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of a (standard) state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


# Data-plane DNS: each region's controller claims traffic for its region by publishing this metric there; the
# stack's alarm on it drives the Route 53 health check that the other region's records carry (docs/dns.md).
CLAIM_NAMESPACE = "FailoverController"
CLAIM_METRIC = "TrafficClaim"


def claim_alarm_name(application: str) -> str:
    """The stack's alarm on the region's traffic claim (template.yaml's TrafficClaimAlarm)."""
    return f"failover-controller-{application}-traffic-claim"


def claim_dimensions(application: str) -> dict[str, str]:
    return {"Application": application}
