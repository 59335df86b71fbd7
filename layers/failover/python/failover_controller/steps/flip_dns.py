"""Send the plan's DNS names to the target region.

weighted: the target's record set gets the plan's active weight, the source's 0.
failover: the target's record set becomes PRIMARY, the source's SECONDARY.
Every record of the plan changes in one ChangeResourceRecordSets batch (atomic); values, TTLs, alias targets
and health checks of the existing record sets are kept. ``status`` reports when the change is INSYNC.
"""

from __future__ import annotations

import copy
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import InputInvalid, PreconditionFailed, StepFailed
from failover_controller.plan import DnsRecord
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest
from failover_controller.steps.promote_aurora import require_writer

STEP = "flip_dns"
ACTIONS = ("flip", "status")
PARAMS: dict[str, type] = {"change_id": str, "deadline": int}


def record_sets(req: StepRequest, record: DnsRecord) -> dict[str, dict[str, Any]]:
    """The record sets of one name and type, by set identifier."""
    r53 = req.clients.route53(req.target_region)
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "HostedZoneId": req.plan.hosted_zone_id,
        "StartRecordName": record.fqdn,
        "StartRecordType": record.type,
    }
    while True:
        page = call(
            f"Route 53 records of {record.fqdn} in zone {req.plan.hosted_zone_id}",
            r53.list_resource_record_sets,
            **kwargs,
        )
        for rrs in page["ResourceRecordSets"]:
            if rrs["Name"].lower() != record.fqdn.lower() or rrs["Type"] != record.type:
                return found
            if "SetIdentifier" in rrs:
                found[rrs["SetIdentifier"]] = dict(rrs)
        if not page.get("IsTruncated"):
            return found
        kwargs.update(
            StartRecordName=page["NextRecordName"],
            StartRecordType=page["NextRecordType"],
            StartRecordIdentifier=page.get("NextRecordIdentifier"),
        )


def routing_of(rrs: dict[str, Any]) -> Any:
    return rrs.get("Weight") if "Weight" in rrs else rrs.get("Failover")


def observe(req: StepRequest) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for record in req.plan.records:
        sets = record_sets(req, record)
        seen[f"{record.fqdn} {record.type}"] = {
            region: routing_of(sets[set_id]) if set_id in sets else None
            for region, set_id in record.set_identifiers.items()
        }
    return seen


def desired_routing(req: StepRequest, region: str, toward: str) -> tuple[str, Any]:
    target = region == toward
    if req.plan.routing_policy == "weighted":
        return "Weight", req.plan.active_weight if target else 0
    return "Failover", "PRIMARY" if target else "SECONDARY"


def planned_changes(req: StepRequest, toward: str | None = None) -> list[dict[str, Any]]:
    """The record changes that would send every name of the plan to ``toward`` (default: the target)."""
    toward = toward or req.target_region
    changes: list[dict[str, Any]] = []
    for record in req.plan.records:
        sets = record_sets(req, record)
        for region, set_id in record.set_identifiers.items():
            rrs = sets.get(set_id)
            if rrs is None:
                raise PreconditionFailed(
                    f"record {record.fqdn} {record.type} has no set identifier {set_id!r} ({region}) "
                    f"in zone {req.plan.hosted_zone_id}"
                )
            key, value = desired_routing(req, region, toward)
            if key not in rrs:
                raise PreconditionFailed(
                    f"record {record.fqdn} {record.type} {set_id!r} is not a {req.plan.routing_policy} record"
                )
            if rrs[key] != value:
                new = copy.deepcopy(rrs)
                new[key] = value
                changes.append({"Action": "UPSERT", "ResourceRecordSet": new})
    return changes


def flip(req: StepRequest, toward: str | None = None) -> StepResult:
    """Send the names to ``toward`` (default: the target region); compensation passes the Aurora writer's region.

    Whatever the direction, the writer is read in this controller's own region: the peer may be down.
    """
    toward = toward or req.target_region
    result = req.result(STEP)
    result.before = observe(req)
    changes = planned_changes(req, toward)  # "change_id" in after is always present: the state machine reads it
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
    result.after, result.changed = observe(req), True
    if planned_changes(req, toward):
        raise StepFailed(f"Route 53 change {change_id} was accepted but the records do not read as intended")
    result.done = info["Status"] == "INSYNC"
    result.after["change_id"] = change_id
    result.message = f"changed {len(changes)} record set(s) toward {toward}: change {change_id}"
    return result


def status(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    change_id = req.params.get("change_id")
    if req.dry_run or not change_id:
        result.message = "no change to wait for"
        return result
    if "/" in change_id.removeprefix("/change/"):
        raise InputInvalid("step input", [f"change_id: {change_id!r} is not a Route 53 change id"])
    info = call(f"Route 53 change {change_id}", req.clients.route53(req.target_region).get_change, Id=change_id)[
        "ChangeInfo"
    ]
    result.before = result.after = {"change_id": change_id, "status": info["Status"]}
    result.done = info["Status"] == "INSYNC"
    result.message = f"change {change_id} is {info['Status']}"
    return result


def run(req: StepRequest) -> StepResult:
    return flip(req) if req.action == "flip" else status(req)
