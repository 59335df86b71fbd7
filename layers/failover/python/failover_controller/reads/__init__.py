"""The read layer: what the AWS world looks like now, one module per service. Steps act; these modules read.

A read takes a ``Scope`` (the plan, the clients and the region the controller fails into), which every
``StepRequest`` is; reads import no step, and no step imports another step.
"""

from __future__ import annotations

from typing import Protocol

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan


class Scope(Protocol):
    @property
    def plan(self) -> RecoveryPlan: ...

    @property
    def clients(self) -> ClientFactory: ...

    @property
    def target_region(self) -> str: ...

    @property
    def source_region(self) -> str: ...


def arn_region(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[3] or None if len(parts) == 6 and parts[0] == "arn" else None


def arn_account(arn: str | None) -> str | None:
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[4] or None if len(parts) == 6 and parts[0] == "arn" else None
