"""SageMaker: an endpoint's state now, whether it is at a configuration, its scalable targets and its models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from failover_controller.aws import call
from failover_controller.plan import Endpoint
from failover_controller.reads import Scope, arn_account

# RollingBack is transitional: a scale-up or weight change that failed (no capacity, say) is undone, and the
# endpoint "returns to an InService status" (DescribeEndpoint's EndpointStatus).
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})

# An endpoint serves through an update: UpdateEndpoint deploys "(there is no availability loss)".
SERVING = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})

BROKEN = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService", "Deleting"})

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass(frozen=True)
class Want:
    """A variant's desired weight and instance count; ``at_least``: a higher count (autoscaling) is fine."""

    weight: float
    count: int
    at_least: bool = True


Desired = dict[str, Want]


def endpoint_state(scope: Scope, region: str, endpoint: Endpoint) -> dict[str, Any]:
    name = endpoint.endpoint_name
    desc = call(
        f"SageMaker endpoint {name} in {region}",
        scope.clients.sagemaker(region).describe_endpoint,
        EndpointName=name,
    )
    variants = {
        v["VariantName"]: {
            "current_weight": v.get("CurrentWeight"),
            "desired_weight": v.get("DesiredWeight"),
            "current_instance_count": v.get("CurrentInstanceCount"),
            "desired_instance_count": v.get("DesiredInstanceCount"),
        }
        for v in desc.get("ProductionVariants", [])
    }
    return {
        "endpoint": name,
        "region": region,
        "status": desc.get("EndpointStatus"),
        "failure_reason": desc.get("FailureReason"),
        "variants": variants,
    }


def active_config(endpoint: Endpoint, counts: dict[str, int] | None = None) -> Desired:
    """The plan's active weights, over the active instance counts (or ``counts``, at least)."""
    return {
        v.variant_name: Want(v.active_weight, v.active_instance_count if counts is None else counts[v.variant_name])
        for v in endpoint.variants
    }


def count_ok(have: Any, want: Want) -> bool:
    return isinstance(have, int) and (have >= want.count if want.at_least else have == want.count)


def weight_ok(have: Any, want: Want) -> bool:
    return have is not None and abs(float(have) - want.weight) <= 1e-9


def _matches(seen: dict[str, Any], desired: Desired, *, field: str) -> bool:
    for name, want in desired.items():
        variant = seen["variants"].get(name)
        if variant is None or not count_ok(variant[f"{field}_instance_count"], want):
            return False
        if not weight_ok(variant[f"{field}_weight"], want):
            return False
    return True


def serves_at(seen: dict[str, Any], counts: dict[str, int]) -> bool:
    """Whether an endpoint serves with at least ``counts`` instances in each variant, an update running or not."""
    variants = seen.get("variants") or {}
    return seen.get("status") in SERVING and all(
        isinstance(have := (variants.get(name) or {}).get("current_instance_count"), int) and have >= count
        for name, count in counts.items()
    )


def at_config(seen: dict[str, Any], desired: Desired) -> bool:
    return seen["status"] == "InService" and _matches(seen, desired, field="current")


def scalable_targets(scope: Scope, region: str, endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """The Application Auto Scaling targets of the endpoint's variants, by variant (absent: not autoscaled)."""
    name = endpoint.endpoint_name
    ids = {f"endpoint/{name}/variant/{v.variant_name}": v.variant_name for v in endpoint.variants}
    found = call(
        f"scalable targets of {name} in {region}",
        scope.clients.client("application-autoscaling", region).describe_scalable_targets,
        ServiceNamespace="sagemaker",
        ResourceIds=sorted(ids),
        ScalableDimension=DIMENSION,
    )["ScalableTargets"]
    return {ids[t["ResourceId"]]: t for t in found if t["ResourceId"] in ids}


_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")

_S3_URL = re.compile(r"^s3://[^/]+/")


def containers_of(scope: Scope, region: str, name: str) -> dict[str, list[dict[str, str]]]:
    """Per variant of the region's endpoint ``name``: its model's containers (image URI, model data URL, the
    account that owns the endpoint: the plan's own account)."""
    sm = scope.clients.sagemaker(region)
    endpoint = call(f"SageMaker endpoint {name} in {region}", sm.describe_endpoint, EndpointName=name)
    account = arn_account(endpoint.get("EndpointArn")) or ""
    config_name = endpoint["EndpointConfigName"]
    config = call(
        f"endpoint config {config_name} in {region}", sm.describe_endpoint_config, EndpointConfigName=config_name
    )
    out: dict[str, list[dict[str, str]]] = {}
    for variant in config["ProductionVariants"]:
        model = call(f"model {variant['ModelName']} in {region}", sm.describe_model, ModelName=variant["ModelName"])
        containers = [model["PrimaryContainer"]] if "PrimaryContainer" in model else model.get("Containers", [])
        out[variant["VariantName"]] = [
            {"image": c.get("Image", ""), "model_data": c.get("ModelDataUrl", ""), "account": account}
            for c in containers
        ]
    return out


def model_of(scope: Scope, region: str, name: str) -> dict[str, dict[str, str]]:
    """Per variant: the container image (without its regional registry) and model data (without bucket)."""
    return {
        variant: {
            "image": ",".join(_ECR_HOST.sub("", c["image"]) for c in containers),
            "model_data": ",".join(_S3_URL.sub("", c["model_data"]) for c in containers),
        }
        for variant, containers in containers_of(scope, region, name).items()
    }
