"""Plans are stored as SSM parameters (one per application) and read with powertools, cached.

A plan is written by ``failoverctl plan push`` (``make deploy`` runs it), not passed through the template: a
CloudFormation parameter holds at most 4 KB, and real plans outgrow it. The parameter's tier is
Intelligent-Tiering: standard (free, 4 KB) while the plan fits, advanced (8 KB) once it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PlanInvalid
from failover_controller.names import PLAN_NAME, plan_parameter_name
from failover_controller.plan import (
    ADVANCED_TIER_BYTES,
    STANDARD_TIER_BYTES,
    RecoveryPlan,
    loads_plan,
    stored_form,
)


@cache
def _provider(factory: ClientFactory, region: str) -> parameters.SSMProvider:
    return parameters.SSMProvider(boto3_client=factory.ssm(region))


def load_plan(
    application: str, *, prefix: str, region: str, factory: ClientFactory, max_age: int = 300
) -> RecoveryPlan:
    """Read and validate the plan of ``application`` from SSM in ``region``."""
    if not PLAN_NAME.match(application):
        raise InputInvalid("step input", [f"plan: {application!r} is not a valid plan name"])
    name = plan_parameter_name(prefix, application)
    try:
        text = _provider(factory, region).get(name, max_age=max_age)
    except GetParameterError as exc:
        raise PlanInvalid(name, [f"cannot be read from SSM in {region}: {exc}"]) from exc
    if not isinstance(text, str):
        raise PlanInvalid(name, ["SSM parameter value is not a string"])
    plan = loads_plan(text, name)
    if plan.application != application:
        raise PlanInvalid(name, [f"application: is {plan.application!r}, expected {application!r}"])
    return plan


class PlanSettings(Protocol):
    """What a function's configuration says about plans (every config class has these)."""

    @property
    def region(self) -> str: ...

    @property
    def plan_parameter_prefix(self) -> str: ...

    @property
    def plan_cache_seconds(self) -> int: ...


@dataclass(frozen=True)
class PlanStore:
    """Where one region's plans are read: a prefix in SSM, cached ``max_age`` seconds."""

    prefix: str
    region: str
    factory: ClientFactory
    max_age: int = 300

    @classmethod
    def of(cls, settings: PlanSettings, factory: ClientFactory) -> PlanStore:
        return cls(settings.plan_parameter_prefix, settings.region, factory, settings.plan_cache_seconds)

    def load(self, application: str) -> RecoveryPlan:
        return load_plan(
            application, prefix=self.prefix, region=self.region, factory=self.factory, max_age=self.max_age
        )


def push_plan(plan: RecoveryPlan, *, prefix: str, region: str, factory: ClientFactory) -> dict[str, object]:
    """Store ``plan`` in ``region`` (compact JSON); returns the parameter's name, size and tier."""
    name = plan_parameter_name(prefix, plan.application)
    text = stored_form(plan.document)
    size = len(text.encode("utf-8"))
    if size > ADVANCED_TIER_BYTES:  # parse_plan refuses these already; a plan built in code may not have been
        raise PlanInvalid(name, [f"is {size} bytes; an SSM parameter holds at most {ADVANCED_TIER_BYTES}"])
    response = call(
        f"SSM PutParameter {name} in {region}",
        factory.ssm(region).put_parameter,
        Name=name,
        Value=text,
        Type="String",
        Tier="Intelligent-Tiering",
        Overwrite=True,
        Description=f"failover-controller recovery plan of {plan.application}",
    )
    tier = "Standard" if size <= STANDARD_TIER_BYTES else "Advanced"
    return {"name": name, "region": region, "bytes": size, "tier": response.get("Tier", tier)}


def clear_cache() -> None:
    _provider.cache_clear()
