"""Make the target region's SageMaker endpoint serve: its variants at the plan's active capacity and weights.

Actions: ``scale_target`` (the target's variants to at least their active capacity, weights untouched),
``status`` (the scale-up's poll: done when the target is InService at active capacity; it sends the next
variant's capacity once the previous one is in), ``shift_weights`` (before DNS: the plan's active weights, sent
when the endpoint takes an update, never waited for), ``full_capacity`` (after DNS: the target at active capacity
and weights, done when InService so; the run's deadline ends it), ``drain_source`` (graceful mode and
``drain_source`` in the plan: the source endpoint back to standby capacity, after DNS has moved).

Traffic does not wait for full capacity when the plan says so (``sagemaker.traffic_at_capacity``): the scale-up
and its polls also say ``ready_for_traffic`` once every variant has ceil(fraction x active) instances in service
(an endpoint serves while it updates: UpdateEndpoint has "no availability loss"). A scale-up refused once the
standby is ready for traffic (an instance quota) is not the end of the run: traffic moves, and the full-capacity
poll after DNS meets the refusal again and the run records reduced capacity.

What AWS does that shapes this: UpdateEndpointWeightsAndCapacities changes the weights of any number of variants
but the capacity of one variant per call, and the endpoint is ``Updating`` (or ``SystemUpdating`` for AWS's own
maintenance) until it is done, refusing another update meanwhile; ``RollingBack`` undoes an update that failed
(a scale-up without capacity: ``InsufficientInstanceCapacity``) and ends ``InService`` at the old configuration,
so it is waited for and the update sent again (AWS's advice for capacity: retry, it shifts), until the run's
deadline; ``Failed`` and ``UpdateRollbackFailed`` do not end well by waiting.
Application Auto Scaling owns the instance count of a
variant with a scalable target: counts are compared as "at least", and the scalable target's MinCapacity is
raised to the active count (lowered back to the standby count when the source is drained), so autoscaling
keeps the capacity instead of taking it away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from failover_controller.aws import call, error_code, mapped
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import Endpoint
from failover_controller.reads.sagemaker import (
    BROKEN,
    BUSY,
    DIMENSION,
    Desired,
    Want,
    active_config,
    at_config,
    count_ok,
    endpoint_state,
    scalable_targets,
    serves_at,
    weight_ok,
)
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "shift_sagemaker_traffic"
ACTIONS = ("scale_target", "status", "shift_weights", "full_capacity", "drain_source")
PARAMS: dict[str, type] = {"deadline": int, "carry": dict}
# SageMaker shows an update's FailureReason only until the next update is applied, so a poll carries the last one it
# saw (by endpoint) to the next, and the run's deadline can still say why the standby is short.
FAILURES = "failures"


def _counts(endpoint: Endpoint, *, active: bool) -> dict[str, int]:
    return {v.variant_name: v.active_instance_count if active else v.standby_instance_count for v in endpoint.variants}


def _keep_weights(seen: dict[str, Any], counts: dict[str, int], *, at_least: bool) -> Desired:
    return {
        name: Want(float(seen["variants"][name]["current_weight"]), count, at_least) for name, count in counts.items()
    }


def next_update(seen: dict[str, Any], desired: Desired) -> list[dict[str, Any]]:
    """One call's DesiredWeightsAndCapacities: every variant's weight when only weights differ, else the capacity of
    the first variant whose count is off (the API takes one variant's capacity per call)."""
    variants = seen["variants"]
    recount = [n for n, w in desired.items() if not count_ok(variants[n]["current_instance_count"], w)]
    if recount:
        name = recount[0]
        return [
            {"VariantName": name, "DesiredWeight": desired[name].weight, "DesiredInstanceCount": desired[name].count}
        ]
    return [
        {"VariantName": n, "DesiredWeight": w.weight}
        for n, w in desired.items()
        if not weight_ok(variants[n]["current_weight"], w)
    ]


def _raise_if_broken(seen: dict[str, Any]) -> None:
    if seen["status"] in BROKEN:
        reason = f": {seen['failure_reason']}" if seen.get("failure_reason") else ""
        raise StepFailed(
            f"endpoint {seen['endpoint']} in {seen['region']} is {seen['status']}{reason}; "
            "waiting will not bring it to the desired configuration"
        )


def hold_minimum(
    req: StepRequest, region: str, endpoint: Endpoint, counts: dict[str, int], result: StepResult, *, raise_only: bool
) -> None:
    """Set each autoscaled variant's MinCapacity to its count: raised before scaling up (never lowered then),
    lowered when draining (never raised then). MaxCapacity grows when it would be below the new minimum."""
    for variant, target in sorted(scalable_targets(req, region, endpoint).items()):
        low, high, count = int(target["MinCapacity"]), int(target["MaxCapacity"]), counts[variant]
        if (raise_only and low >= count) or (not raise_only and low <= count):
            continue
        params = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": target["ResourceId"],
            "ScalableDimension": DIMENSION,
            "MinCapacity": count,
            "MaxCapacity": max(high, count),
        }
        action = PlannedAction(
            "application-autoscaling:RegisterScalableTarget", region, {**params, "previous_min": low}
        )
        result.actions.append(action)
        if req.dry_run:
            continue
        call(
            f"RegisterScalableTarget {target['ResourceId']} in {region}",
            req.clients.client("application-autoscaling", region).register_scalable_target,
            **params,
        )
        action.performed, result.changed = True, True


class _InProgress(Exception):
    """SageMaker refused the update: another one began first (Application Auto Scaling moving the capacity into a
    range just registered, or AWS's maintenance). Not a failure: the poll waits for it."""


def _update(req: StepRequest, region: str, endpoint: str, updates: list[dict[str, Any]]) -> None:
    try:
        req.clients.sagemaker(region).update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=updates,  # type: ignore[arg-type]
        )
    except ClientError as exc:
        if error_code(exc) == "ValidationException" and "in-progress" in str(exc).lower():
            raise _InProgress(str(exc)) from exc
        if error_code(exc) == "ResourceLimitExceeded":
            counts = ", ".join(f"{u['VariantName']}={u['DesiredInstanceCount']}" for u in updates)
            raise StepFailed(
                f"instance quota: {region} refused {counts} instance(s) for {endpoint} ({exc}). Request an increase "
                "of the instance type's 'for endpoint usage' quota in Service Quotas, or lower the plan's "
                "active_instance_count"
            ) from exc
        raise mapped(f"UpdateEndpointWeightsAndCapacities on {endpoint} in {region}", exc) from exc


def converge(
    req: StepRequest,
    region: str,
    endpoint: Endpoint,
    desired_of: Callable[[dict[str, Any]], Desired],
    result: StepResult,
) -> StepResult:
    """Check, act, verify one endpoint: at most one update at a time, none while one is under way."""
    seen = endpoint_state(req, region, endpoint)
    result.before = seen
    wanted = {v.variant_name for v in endpoint.variants}
    missing = sorted(wanted - set(seen["variants"]))
    if missing:
        raise PreconditionFailed(f"endpoint {seen['endpoint']} in {region} has no variant {', '.join(missing)}")
    _raise_if_broken(seen)
    desired = desired_of(seen)
    if at_config(seen, desired):
        result.after, result.done = seen, True
        result.message = f"{seen['endpoint']} in {region} is at the desired capacity and weights"
        return result
    failed = _last_failure(req, seen, result)
    if seen["status"] in BUSY:
        result.after, result.done = seen, False
        why = " (a failed update is being undone)" if seen["status"] == "RollingBack" else ""
        result.message = (
            f"{seen['endpoint']} in {region} is {seen['status']}{why}; waiting before any further update"
            + _short_of(seen, desired, failed)
        )
        return result
    if seen["status"] != "InService":
        raise PreconditionFailed(f"endpoint {seen['endpoint']} in {region} is {seen['status']}, not InService")
    updates = next_update(seen, desired)
    params = {"EndpointName": seen["endpoint"], "DesiredWeightsAndCapacities": updates}
    action = PlannedAction(api="sagemaker:UpdateEndpointWeightsAndCapacities", region=region, params=params)
    result.actions.append(action)
    if req.dry_run:
        result.after, result.done = seen, True
        result.message = f"dry run: would update {seen['endpoint']} in {region}"
        return result
    try:
        _update(req, region, seen["endpoint"], updates)
    except _InProgress as busy:
        result.actions.remove(action)
        result.after, result.done = seen, False
        result.message = (
            f"{seen['endpoint']} in {region}: another update began first ({busy}); waiting before any further update"
            + _short_of(seen, desired, failed)
        )
        return result
    action.performed = True
    result.message = _short_of(seen, desired, failed)
    after = endpoint_state(req, region, endpoint)
    result.after, result.changed, result.done = after, True, at_config(after, desired)
    result.message = (
        f"{seen['endpoint']} in {region} updating: " + ", ".join(u["VariantName"] for u in updates) + result.message
    )
    return result


def _last_failure(req: StepRequest, seen: dict[str, Any], result: StepResult) -> str | None:
    """The endpoint's last failed update: as it reads now, else as an earlier poll saw it; carried on."""
    carried = req.params.get("carry", {}).get(FAILURES, {})
    failed = seen.get("failure_reason") or (carried.get(seen["endpoint"]) if isinstance(carried, dict) else None)
    if isinstance(failed, str) and failed:
        result.carry.setdefault(FAILURES, {})[seen["endpoint"]] = failed
        return failed
    return None


def _short_of(seen: dict[str, Any], desired: Desired, failed: str | None = None) -> str:
    """What a poll that ends at the deadline should say: the instances each variant has against the count wanted,
    and why the last update failed."""
    short = [
        f"{name} has {seen['variants'][name]['current_instance_count']} of {want.count} instances"
        for name, want in desired.items()
        if not count_ok(seen["variants"][name]["current_instance_count"], want)
    ]
    if failed:
        short.append(f"its last update failed: {failed}")
    return f"; {', '.join(short)}" if short else ""


def each_endpoint(
    req: StepRequest, region: str, result: StepResult, one: Callable[[Endpoint, StepResult], StepResult]
) -> StepResult:
    """Run ``one`` for every endpoint of ``region``; done when all are, keyed by endpoint in before and after."""
    parts = [(e.endpoint_name, one(e, req.result(STEP))) for e in req.plan.endpoints[region]]
    result.actions = [a for _, part in parts for a in part.actions]
    result.before = {name: part.before for name, part in parts}
    result.after = {name: part.after for name, part in parts}
    result.changed = any(part.changed for _, part in parts)
    for _, part in parts:
        for key, value in part.carry.items():
            result.carry.setdefault(key, {}).update(value)
    result.done = all(part.done for _, part in parts)
    result.message = "; ".join(part.message for _, part in parts)
    return result


def to_capacity(
    req: StepRequest, region: str, result: StepResult, *, active: bool, serving_at_traffic: bool = False
) -> StepResult:
    """Every endpoint of ``region`` at its active (at least) or standby capacity, weights untouched.
    ``serving_at_traffic``: a refusal (StepFailed) of an endpoint that already serves at its traffic counts is said
    and carried on, not raised."""

    def one(endpoint: Endpoint, part: StepResult) -> StepResult:
        counts = _counts(endpoint, active=active)
        try:
            hold_minimum(req, region, endpoint, counts, part, raise_only=active)
            return converge(req, region, endpoint, lambda seen: _keep_weights(seen, counts, at_least=active), part)
        except StepFailed as refused:
            # At a fraction of 1.0 the traffic counts are the active ones: a refused scale-up never serves at them.
            if not serving_at_traffic or not serves_at(part.before, req.plan.traffic_counts(endpoint, req.mode)):
                raise
            part.after, part.done = part.before, False
            part.carry.setdefault(FAILURES, {})[endpoint.endpoint_name] = str(refused)
            part.message = f"{endpoint.endpoint_name} in {region} serves at its traffic capacity; scale-up: {refused}"
            return part

    return each_endpoint(req, region, result, one)


def _ready_for_traffic(req: StepRequest, result: StepResult) -> bool:
    """Done, or (the plan moving traffic below full capacity in this mode) every endpoint serving at its traffic
    counts."""
    if result.done:
        return True
    if req.plan.traffic_at_capacity[req.mode] >= 1.0:
        return False
    return all(
        serves_at(result.after.get(e.endpoint_name) or {}, req.plan.traffic_counts(e, req.mode))
        for e in req.plan.endpoints[req.target_region]
    )


def scale_target(req: StepRequest) -> StepResult:
    """Capacity first (weights untouched), so the standby can take the load before traffic moves. A refusal once
    the standby serves at its traffic counts is said, carried on, and left to the full-capacity poll."""
    result = to_capacity(req, req.target_region, req.result(STEP), active=True, serving_at_traffic=True)
    result.ready_for_traffic = _ready_for_traffic(req, result)
    return result


def shift_weights(req: StepRequest) -> StepResult:
    """Before DNS: the plan's active weights over (at least) the traffic counts; an endpoint still scaling up is
    left to the full-capacity poll (SageMaker refuses an update while one runs)."""
    region = req.target_region

    def one(endpoint: Endpoint, part: StepResult) -> StepResult:
        desired = active_config(endpoint, req.plan.traffic_counts(endpoint, req.mode))
        return converge(req, region, endpoint, lambda _seen: desired, part)

    return each_endpoint(req, region, req.result(STEP), one)


def full_capacity(req: StepRequest) -> StepResult:
    """After DNS: the target endpoints at the plan's active weights and (at least) capacity; done once InService
    so. One variant's capacity per call, polled until the run's deadline."""
    region = req.target_region
    return each_endpoint(
        req,
        region,
        req.result(STEP),
        lambda endpoint, part: converge(req, region, endpoint, lambda _seen: active_config(endpoint), part),
    )


def drain_source(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    if not req.plan.drain_source:
        result.message = "the plan does not drain the source endpoint"
        return result
    if not req.graceful:
        result.message = f"ungraceful: {req.source_region} is not consulted; its endpoint is left as it is"
        return result
    return to_capacity(req, req.source_region, result, active=False)


def status(req: StepRequest) -> StepResult:
    """The scale-up's poll: done when the target is InService at (at least) active capacity. The API scales one
    variant per call, so a poll that finds the previous variant in and the endpoint InService sends the next."""
    if req.dry_run:
        result = req.result(STEP)
        result.done, result.message = True, "dry run: nothing was started, nothing to wait for"
        result.ready_for_traffic = True
        return result
    return scale_target(req)


def run(req: StepRequest) -> StepResult:
    actions = {
        "scale_target": scale_target,
        "shift_weights": shift_weights,
        "full_capacity": full_capacity,
        "status": status,
        "drain_source": drain_source,
    }
    return actions[req.action](req)
