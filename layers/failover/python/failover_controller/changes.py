"""The changes more than one step makes: DNS toward a region, and the application's write-region parameter.

flip_dns and compensation both send DNS somewhere; switch_dynamodb_writes and compensation both set where the
application writes. One implementation each, so that the split-brain guard and the verification are the same.
"""

from __future__ import annotations

from typing import Any

from failover_controller.aws import call
from failover_controller.errors import StepFailed
from failover_controller.guards import require_writer
from failover_controller.reads import route53
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
    """Send every name of the plan to ``toward`` in one atomic batch (flip_dns: the target; compensation: the
    Aurora writer's region). The writer is read in this controller's own region whatever the direction."""
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
