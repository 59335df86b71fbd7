"""The read layer: what the AWS world looks like now, one module per service. Steps act; these modules read.

A read takes a ``Scope`` (the plan, the clients and the region the controller fails into), which every
``StepRequest`` is; reads import no step, and no step imports another step.
"""

from __future__ import annotations

from typing import Protocol

from failover_controller.clients import ClientFactory
from failover_controller.names import arn_account, arn_region
from failover_controller.plan import RecoveryPlan

__all__ = ["Scope", "arn_account", "arn_region"]


class Scope(Protocol):
    @property
    def plan(self) -> RecoveryPlan: ...

    @property
    def clients(self) -> ClientFactory: ...

    @property
    def target_region(self) -> str: ...

    @property
    def source_region(self) -> str: ...
