"""Make the target region's SageMaker endpoint serve: its variants at the plan's active capacity and weights.

Actions: ``scale_target`` (the target's variants to active capacity, weights untouched), ``status`` (is
the target InService at active capacity, for the poll loop), ``shift_weights`` (the target at the plan's
active weights), ``drain_source`` (graceful mode and ``drain_source`` in the plan: the source endpoint back
to standby capacity, after DNS has moved). All go through UpdateEndpointWeightsAndCapacities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import PreconditionFailed
from failover_controller.plan import Endpoint
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "shift_sagemaker_traffic"
ACTIONS = ("scale_target", "status", "shift_weights", "drain_source")
PARAMS: dict[str, type] = {"deadline": int}

Desired = dict[str, tuple[float, int]]


def observe(req: StepRequest, region: str) -> dict[str, Any]:
    name = req.plan.endpoints[region].endpoint_name
    desc = call(
        f"SageMaker endpoint {name} in {region}",
        req.clients.sagemaker(region).describe_endpoint,
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
    return {"endpoint": name, "region": region, "status": desc.get("EndpointStatus"), "variants": variants}


def _counts(endpoint: Endpoint, *, active: bool) -> dict[str, int]:
    return {v.variant_name: v.active_instance_count if active else v.standby_instance_count for v in endpoint.variants}


def _keep_weights(seen: dict[str, Any], counts: dict[str, int]) -> Desired:
    return {name: (float(seen["variants"][name]["current_weight"]), count) for name, count in counts.items()}


def active_config(endpoint: Endpoint) -> Desired:
    return {v.variant_name: (v.active_weight, v.active_instance_count) for v in endpoint.variants}


def _matches(seen: dict[str, Any], desired: Desired, *, field: str) -> bool:
    for name, (weight, count) in desired.items():
        variant = seen["variants"].get(name)
        if variant is None or variant[f"{field}_instance_count"] != count:
            return False
        if variant[f"{field}_weight"] is None or abs(float(variant[f"{field}_weight"]) - weight) > 1e-9:
            return False
    return True


def at_config(seen: dict[str, Any], desired: Desired) -> bool:
    return seen["status"] == "InService" and _matches(seen, desired, field="current")


def converge(
    req: StepRequest, region: str, desired_of: Callable[[dict[str, Any]], Desired], result: StepResult
) -> StepResult:
    """Check, act, verify one endpoint; an update already under way to the same values is not repeated."""
    seen = observe(req, region)
    result.before = seen
    wanted = {v.variant_name for v in req.plan.endpoints[region].variants}
    missing = sorted(wanted - set(seen["variants"]))
    if missing:
        raise PreconditionFailed(f"endpoint {seen['endpoint']} in {region} has no variant {', '.join(missing)}")
    desired = desired_of(seen)
    if at_config(seen, desired):
        result.after, result.done = seen, True
        result.message = f"{seen['endpoint']} in {region} already at the desired capacity and weights"
        return result
    if seen["status"] == "Updating" and _matches(seen, desired, field="desired"):
        result.after, result.done = seen, False
        result.message = f"{seen['endpoint']} in {region} is already updating to the desired configuration"
        return result
    if seen["status"] != "InService":
        raise PreconditionFailed(f"endpoint {seen['endpoint']} in {region} is {seen['status']}, not InService")
    params = {
        "EndpointName": seen["endpoint"],
        "DesiredWeightsAndCapacities": [
            {"VariantName": name, "DesiredWeight": weight, "DesiredInstanceCount": count}
            for name, (weight, count) in desired.items()
        ],
    }
    action = PlannedAction(api="sagemaker:UpdateEndpointWeightsAndCapacities", region=region, params=params)
    result.actions.append(action)
    if req.dry_run:
        result.after, result.done = seen, True
        result.message = f"dry run: would update {seen['endpoint']} in {region}"
        return result
    call(
        f"UpdateEndpointWeightsAndCapacities on {seen['endpoint']} in {region}",
        req.clients.sagemaker(region).update_endpoint_weights_and_capacities,
        **params,
    )
    action.performed = True
    after = observe(req, region)
    result.after, result.changed, result.done = after, True, at_config(after, desired)
    result.message = f"{seen['endpoint']} in {region} updating to the desired configuration"
    return result


def scale_target(req: StepRequest) -> StepResult:
    """Capacity first (weights untouched), so the standby can take the load before traffic moves."""
    counts = _counts(req.plan.endpoints[req.target_region], active=True)
    return converge(req, req.target_region, lambda seen: _keep_weights(seen, counts), req.result(STEP))


def shift_weights(req: StepRequest) -> StepResult:
    """The target endpoint at the plan's active weights and capacity."""
    desired = active_config(req.plan.endpoints[req.target_region])
    return converge(req, req.target_region, lambda _seen: desired, req.result(STEP))


def drain_source(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    if not req.plan.drain_source:
        result.message = "the plan does not drain the source endpoint"
        return result
    if not req.graceful:
        result.message = f"ungraceful: {req.source_region} is not consulted; its endpoint is left as it is"
        return result
    counts = _counts(req.plan.endpoints[req.source_region], active=False)
    return converge(req, req.source_region, lambda seen: _keep_weights(seen, counts), result)


def status(req: StepRequest) -> StepResult:
    """Done when the target endpoint is InService with no update pending and at active capacity."""
    result = req.result(STEP)
    seen = observe(req, req.target_region)
    counts = _counts(req.plan.endpoints[req.target_region], active=True)
    scaled = seen["status"] == "InService" and all(
        seen["variants"].get(name, {}).get("current_instance_count") == count for name, count in counts.items()
    )
    result.before = result.after = seen
    result.done = req.dry_run or scaled
    result.message = f"{seen['endpoint']} is {seen['status']}" + (" at active capacity" if scaled else "")
    return result


def run(req: StepRequest) -> StepResult:
    actions = {
        "scale_target": scale_target,
        "shift_weights": shift_weights,
        "status": status,
        "drain_source": drain_source,
    }
    return actions[req.action](req)
