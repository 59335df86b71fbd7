"""The changes more than one step makes: DNS toward a region, and the application's write-region parameter.

flip_dns and compensation both send DNS somewhere; switch_dynamodb_writes and compensation both set where the
application writes. One implementation each, so that the split-brain guard and the verification are the same.
"""

from __future__ import annotations

import time
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.guards import require_writer
from failover_controller.names import CLAIM_METRIC, CLAIM_NAMESPACE, claim_alarm_name, claim_dimensions
from failover_controller.reads import cloudwatch, dns, route53
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest


def put_write_region(req: StepRequest, region: str, value: str) -> dict[str, Any]:
    """The write-region parameter in ``region`` set to ``value``; returns the new version."""
    name = req.plan.write_region_parameter
    response = call(
        f"SSM PutParameter {name} in {region}",
        req.clients.ssm(region).put_parameter,
        Name=name,
        Value=value,
        Type="String",
        Overwrite=True,
    )
    return {"Version": response.get("Version")}


def point_dns(req: StepRequest, toward: str, result: StepResult) -> StepResult:
    """Send every name of the plan to ``toward`` (flip_dns: the target; compensation: the Aurora writer's region).
    The writer is read in this controller's own region whatever the direction.

    control_plane: every record set changed in one atomic batch. data_plane: ``claim_dns``."""
    if req.plan.dns_mode == "data_plane":
        return claim_dns(req, toward, result)
    result.before = route53.routing(req)
    changes = route53.changes_toward(req, toward)  # "change_id" in after is always present: the state machine reads it
    if not changes:
        result.after = {**result.before, "change_id": None}
        result.message = f"DNS already sends traffic to {toward}; nothing to do"
        return result
    if not req.dry_run:
        require_writer(req, "DNS", toward)
    batch = {
        "Comment": f"failover-controller: {req.plan.application} to {toward} ({req.mode})",
        "Changes": changes,
    }
    action = PlannedAction(
        api="route53:ChangeResourceRecordSets",
        region=req.target_region,
        params={"HostedZoneId": req.plan.hosted_zone_id, "ChangeBatch": batch},
    )
    result.actions.append(action)
    if req.dry_run:
        result.after = {**result.before, "change_id": None}
        result.message = f"dry run: would change {len(changes)} record set(s) toward {toward}"
        return result
    info = call(
        f"Route 53 change in zone {req.plan.hosted_zone_id}",
        req.clients.route53(req.target_region).change_resource_record_sets,
        HostedZoneId=req.plan.hosted_zone_id,
        ChangeBatch=batch,
    )["ChangeInfo"]
    change_id = info["Id"].removeprefix("/change/")
    action.performed, action.response = True, {"change_id": change_id, "status": info["Status"]}
    result.after, result.changed = route53.routing(req), True
    if route53.changes_toward(req, toward):
        raise StepFailed(f"Route 53 change {change_id} was accepted but the records do not read as intended")
    result.done = info["Status"] == "INSYNC"
    result.after["change_id"] = change_id
    result.message = f"changed {len(changes)} record set(s) toward {toward}: change {change_id}"
    return result


def claim_datum(application: str, value: float) -> dict[str, Any]:
    """A region's traffic claim as the datapoint its alarm watches (a high-resolution metric: the alarm's period
    is 10 s); 0 withdraws it."""
    return {
        "MetricName": CLAIM_METRIC,
        "Dimensions": [{"Name": k, "Value": v} for k, v in claim_dimensions(application).items()],
        "Value": value,
        "Unit": "None",
        "StorageResolution": 1,
    }


def _unclaimed_answers_with_the_primary(req: StepRequest) -> bool:
    """The primary needs no claim where DNS answers with it while it claims nothing: with failover or weighted
    records, only the standby's claim moves DNS away from the primary, so an answer from the primary shows the
    standby claims nothing either. (Latency records answer with the nearest region until the primary claims.)"""
    return req.target_region == req.plan.primary_region and req.plan.routing_policy in ("failover", "weighted")


def claim_dns(req: StepRequest, toward: str, result: StepResult) -> StepResult:
    """Data-plane DNS: this region's traffic claim is set (toward this region) or withdrawn (toward the other);
    Route 53's health checks, which follow the claim's alarm, move the answers. The only call that changes anything
    is a PutMetricData in this controller's own region. ``done`` when DNS answers every name with ``toward``."""
    region = req.target_region
    claim = toward == region
    seen = cloudwatch.traffic_claim(req.plan, req.clients, region)
    result.before = {"claim": seen, "dns": dns.served_from(req.plan)}
    if seen["alarm"] == "MISSING":
        raise PreconditionFailed(
            f"the traffic claim alarm {claim_alarm_name(req.plan.application)} does not exist in {region}: "
            "deploy the controller's stack there (docs/dns.md)"
        )
    answered = all(d["region"] == toward for d in result.before["dns"].values())
    if seen["claimed"] == claim:
        result.after = {**result.before, "change_id": None}
        result.done = answered
        result.message = f"{region} {'claims' if claim else 'does not claim'} traffic already; " + (
            f"DNS answers with {toward}" if answered else f"waiting for DNS to answer with {toward}"
        )
        return result
    if claim and answered and _unclaimed_answers_with_the_primary(req):
        result.after = {**result.before, "change_id": None}
        result.done = True
        result.message = (
            f"DNS answers with {region}, and no region claims traffic: nobody claiming answers with the primary, so "
            "no claim is made (one here would outweigh the standby's next failover until released)"
        )
        return result
    if not req.dry_run:
        require_writer(req, "DNS", toward)
    value = float(int(time.time())) if claim else 0.0  # a claim is its time: which one is newer can be read
    data = claim_datum(req.plan.application, value)
    action = PlannedAction(
        api="cloudwatch:PutMetricData", region=region, params={"Namespace": CLAIM_NAMESPACE, "MetricData": [data]}
    )
    result.actions.append(action)
    if req.dry_run:
        result.after = {**result.before, "change_id": None}
        result.message = f"dry run: would {'claim' if claim else 'withdraw'} {region}'s traffic claim"
        return result
    call(
        f"the traffic claim of {req.plan.application} in {region}",
        req.clients.cloudwatch(region).put_metric_data,
        Namespace=CLAIM_NAMESPACE,
        MetricData=[data],
    )
    action.performed = True
    result.changed = True
    dns_now = dns.served_from(req.plan)
    result.after = {"claim": cloudwatch.traffic_claim(req.plan, req.clients, region), "dns": dns_now, "change_id": None}
    result.done = all(d["region"] == toward for d in dns_now.values())
    result.message = f"{'claimed' if claim else 'withdrew'} {region}'s traffic: Route 53's health checks follow"
    return result
