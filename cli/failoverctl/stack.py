"""A plan's CloudFormation parameters: the template scopes every function's permissions to the plan's resources."""

from __future__ import annotations

import json
from typing import Any

from failover_controller.plan import RecoveryPlan


def stack_parameters(plan: RecoveryPlan, region: str, *, alarm_event_source: str = "aws.cloudwatch") -> dict[str, str]:
    """Parameter values for the stack in ``region`` (one of the plan's two)."""
    plan.require_region(region)
    return {
        "PlanName": plan.application,
        "PlanDocument": json.dumps(plan.document, separators=(",", ":")),
        "PeerRegion": plan.other_region(region),
        "AlarmNames": ",".join(plan.alarm_names),
        "AlarmEventSource": alarm_event_source,
        "AuroraGlobalClusterId": plan.global_cluster_id,
        "AuroraClusterIds": ",".join(plan.aurora_clusters[r] for r in plan.regions),
        "DynamoDBTableNames": ",".join(plan.dynamodb_tables),
        "WriteRegionParameterName": plan.write_region_parameter.lstrip("/"),
        "SageMakerEndpointNames": ",".join(plan.endpoints[r].endpoint_name for r in plan.regions),
        "HostedZoneId": plan.hosted_zone_id,
    }


def parameter_overrides(params: dict[str, Any]) -> list[str]:
    """As `sam deploy --parameter-overrides` arguments (values here never contain spaces or quotes)."""
    return [f"{key}={value}" for key, value in params.items() if key != "PlanDocument"]
