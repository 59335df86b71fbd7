"""A plan's CloudFormation parameters: the template scopes every function's permissions to the plan's resources."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def stack_parameters(
    plan: RecoveryPlan,
    region: str,
    account: str,
    *,
    alarm_event_source: str = "aws.cloudwatch",
    endpoint_url: str = "",
) -> dict[str, str]:
    """Parameter values for the stack in ``region`` (one of the plan's two), in ``account``. ``endpoint_url``: the
    functions' ``AWS_ENDPOINT_URL``, empty on AWS (a local drill's outage proxy).

    The ARN lists are built here because CloudFormation cannot prefix each item of a list parameter.
    """
    plan.require_region(region)

    def arn(service: str, where: str, resource: str) -> str:
        return f"arn:{partition_of(region)}:{service}:{where}:{account}:{resource}"

    return {
        "PlanName": plan.application,
        "PeerRegion": plan.other_region(region),
        "AlarmNames": ",".join(plan.alarm_names),
        # Detect acts only in the standby; the primary's stack forwards the plan's alarms that live in its region.
        "ForwardedAlarmNames": ",".join(
            s.name for s in plan.signals if s.region == region and region != plan.standby_region
        ),
        "AlarmEventSource": alarm_event_source,
        "EndpointUrl": endpoint_url,
        # RDS stores these identifiers lowercase, and IAM compares ARNs as they are stored.
        "AuroraGlobalClusterId": plan.global_cluster_id.lower(),
        "AuroraClusterArns": ",".join(
            arn("rds", r, f"cluster:{plan.aurora_clusters[r].lower()}") for r in plan.regions
        ),
        "DynamoDBTableArns": ",".join(arn("dynamodb", region, f"table/{t}") for t in plan.dynamodb_tables),
        "WriteRegionParameterName": plan.write_region_parameter.lstrip("/"),
        "SageMakerEndpointArns": ",".join(
            arn("sagemaker", r, f"endpoint/{e.endpoint_name.lower()}") for r in plan.regions for e in plan.endpoints[r]
        ),
        "HostedZoneId": plan.hosted_zone_id,
        "RtoTargetSeconds": str(plan.rto_seconds),
        "RpoTargetMilliseconds": str(plan.rpo_seconds * 1000),
        "ArtifactBucketNames": ",".join(plan.artifact_buckets[r] for r in plan.regions),
        "ImageRepositoryArn": arn("ecr", region, f"repository/{plan.image_repository}"),
        "ReservedConcurrency": str(plan.reserved_concurrency[0]),
        "DetectReservedConcurrency": str(plan.reserved_concurrency[1]),
    }


# The template's functions that take the Globals' ReservedConcurrency (every function but Detect); a unit test
# holds this to the template.
RUNBOOK_FUNCTIONS = 11
# Lambda keeps this many concurrent executions unreserved, or the whole quota when it is smaller (a new account's
# 10 or 50): PutFunctionConcurrency refuses a reservation that would leave fewer (docs/aws-behaviour.md).
UNRESERVED_MINIMUM = 100


def stack_reservation(plan: RecoveryPlan) -> int:
    """The concurrent executions the stack reserves, all its functions together."""
    steps, detect = plan.reserved_concurrency
    return RUNBOOK_FUNCTIONS * steps + detect


def concurrency_problem(limit: int, unreserved: int, held_now: int, wanted: int) -> str | None:
    """Why Lambda would refuse the stack's reservations, or None. ``limit`` and ``unreserved``: the account's
    (GetAccountSettings); ``held_now``: what the stack's functions reserve today (an update gives it back first)."""
    floor = min(UNRESERVED_MINIMUM, limit)
    left = unreserved + held_now - wanted
    if left >= floor:
        return None
    return (
        f"the stack reserves {wanted} concurrent executions and Lambda keeps at least {floor} of the account's "
        f"{limit} unreserved: {unreserved + held_now} are free to reserve here, {left} would be left. Ask for a higher "
        f"'Concurrent executions' quota (Service Quotas, AWS Lambda; {wanted + floor} or more), or lower the plan's "
        "controller.reserved_concurrency (0: none reserved)"
    )


def stack_resources(factory: ClientFactory, region: str, stack: str) -> list[dict[str, Any]]:
    """Every resource of the stack (DescribeStackResources stops at 100; the stack's own count is near that)."""
    pages = factory.client("cloudformation", region).get_paginator("list_stack_resources").paginate(StackName=stack)
    return [dict(r) for page in pages for r in page["StackResourceSummaries"]]


def account_concurrency(plan: RecoveryPlan, region: str, factory: ClientFactory, stack: str) -> dict[str, Any]:
    """The account's Lambda concurrency in ``region`` against what the stack would reserve there: ``limit``,
    ``unreserved``, ``held_now`` (the stack's functions today), ``free``, ``left`` and ``problem`` (None: fits)."""
    lam = factory.client("lambda", region)
    limits = lam.get_account_settings()["AccountLimit"]
    limit, unreserved = int(limits.get("ConcurrentExecutions", 0)), int(limits.get("UnreservedConcurrentExecutions", 0))
    try:
        functions = [
            r["PhysicalResourceId"]
            for r in stack_resources(factory, region, stack)
            if r["ResourceType"] == "AWS::Lambda::Function"
        ]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        functions = []  # a first deploy
    held = sum(
        int(lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0))
        for name in functions
    )
    wanted = stack_reservation(plan)
    return {
        "limit": limit,
        "unreserved": unreserved,
        "held_now": held,
        "free": unreserved + held,
        "left": unreserved + held - wanted,
        "problem": concurrency_problem(limit, unreserved, held, wanted),
    }


def parameter_overrides(params: dict[str, Any]) -> list[str]:
    """As `sam deploy --parameter-overrides` arguments (values here never contain spaces or quotes)."""
    return [f"{key}={value}" for key, value in params.items()]
