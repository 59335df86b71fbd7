"""A plan's CloudFormation parameters: the template scopes every function's permissions to the plan's resources."""

from __future__ import annotations

from typing import Any

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
    }


def parameter_overrides(params: dict[str, Any]) -> list[str]:
    """As `sam deploy --parameter-overrides` arguments (values here never contain spaces or quotes)."""
    return [f"{key}={value}" for key, value in params.items()]
