"""Plans are stored as SSM parameters (one per application) and read with powertools, cached."""

from __future__ import annotations

import re
from functools import cache

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PlanInvalid
from failover_controller.plan import RecoveryPlan, loads_plan

PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@cache
def _provider(factory: ClientFactory, region: str) -> parameters.SSMProvider:
    return parameters.SSMProvider(boto3_client=factory.ssm(region))


def plan_parameter_name(prefix: str, application: str) -> str:
    return f"{prefix.rstrip('/')}/{application}"


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


def clear_cache() -> None:
    _provider.cache_clear()
