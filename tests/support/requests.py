"""A StepRequest for calling a step directly, as the handler would after reading the plan."""

from __future__ import annotations

from typing import Any

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan
from failover_controller.steps.base import Mode, StepRequest


def request(
    plan: RecoveryPlan,
    factory: ClientFactory,
    action: str,
    *,
    mode: Mode = "graceful",
    dry_run: bool = False,
    target: str = "us-west-2",
    **params: Any,
) -> StepRequest:
    return StepRequest(
        plan=plan,
        target_region=target,
        mode=mode,
        dry_run=dry_run,
        action=action,
        clients=factory,
        params=params,
    )
