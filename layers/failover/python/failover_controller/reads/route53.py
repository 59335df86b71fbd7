"""Route 53: the plan's record sets, how they route now, and the changes that would send them to a region.

Route 53's control plane is served from us-east-1; the data-plane DNS mode (docs/dns.md) is the answer for a
plan whose primary is us-east-1.
"""

from __future__ import annotations

import copy
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import PreconditionFailed
from failover_controller.plan import DnsRecord
from failover_controller.reads import Scope


def record_sets(scope: Scope, record: DnsRecord) -> dict[str, dict[str, Any]]:
    """The record sets of one name and type, by set identifier."""
    r53 = scope.clients.route53(scope.target_region)
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "HostedZoneId": scope.plan.hosted_zone_id,
        "StartRecordName": record.fqdn,
        "StartRecordType": record.type,
    }
    while True:
        page = call(
            f"Route 53 records of {record.fqdn} in zone {scope.plan.hosted_zone_id}",
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


def routing(scope: Scope) -> dict[str, Any]:
    """Per record of the plan, per region: its Weight (weighted) or Failover role now."""
    seen: dict[str, Any] = {}
    for record in scope.plan.records:
        sets = record_sets(scope, record)
        seen[f"{record.fqdn} {record.type}"] = {
            region: routing_of(sets[set_id]) if set_id in sets else None
            for region, set_id in record.set_identifiers.items()
        }
    return seen


def desired_routing(scope: Scope, region: str, toward: str) -> tuple[str, Any]:
    target = region == toward
    if scope.plan.routing_policy == "weighted":
        return "Weight", scope.plan.active_weight if target else 0
    return "Failover", "PRIMARY" if target else "SECONDARY"


def changes_toward(scope: Scope, toward: str | None = None) -> list[dict[str, Any]]:
    """The record changes that would send every name of the plan to ``toward`` (default: the target)."""
    toward = toward or scope.target_region
    changes: list[dict[str, Any]] = []
    for record in scope.plan.records:
        sets = record_sets(scope, record)
        for region, set_id in record.set_identifiers.items():
            rrs = sets.get(set_id)
            if rrs is None:
                raise PreconditionFailed(
                    f"record {record.fqdn} {record.type} has no set identifier {set_id!r} ({region}) "
                    f"in zone {scope.plan.hosted_zone_id}"
                )
            key, value = desired_routing(scope, region, toward)
            if key not in rrs:
                raise PreconditionFailed(
                    f"record {record.fqdn} {record.type} {set_id!r} is not a {scope.plan.routing_policy} record"
                )
            if rrs[key] != value:
                new = copy.deepcopy(rrs)
                new[key] = value
                changes.append({"Action": "UPSERT", "ResourceRecordSet": new})
    return changes
