"""SSM: the application's write-region parameter (where the application sends its writes)."""

from __future__ import annotations

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed
from failover_controller.plan import RecoveryPlan


def write_region(plan: RecoveryPlan, region: str, factory: ClientFactory) -> str | None:
    """The application's write region as the parameter in ``region`` says; None if it does not exist."""
    name = plan.write_region_parameter
    try:
        return call(f"SSM parameter {name} in {region}", factory.ssm(region).get_parameter, Name=name)["Parameter"][
            "Value"
        ]
    except PreconditionFailed:
        return None
