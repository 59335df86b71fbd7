"""Route 53: the hosted zone, and every record's set identifiers."""

from __future__ import annotations

from functools import partial

from failover_controller.aws import call
from failover_controller.checks import guarded
from failover_controller.plan import DnsRecord
from failover_controller.reads import route53
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest


def checks(req: StepRequest) -> list[Check]:
    zone = req.plan.hosted_zone_id
    out = [guarded("route53.hosted_zone", zone, "exists", partial(_zone, req))]
    if out[0].verdict == "fail":
        return out
    for record in req.plan.records:
        resource = f"{record.fqdn} {record.type}"
        out.append(guarded("route53.record_sets", resource, "exists", partial(_sets, req, record)))
    return out


def _zone(req: StepRequest) -> Check:
    zone = req.plan.hosted_zone_id
    found = call(f"Route 53 hosted zone {zone}", req.clients.route53(req.target_region).get_hosted_zone, Id=zone)
    return Check("route53.hosted_zone", zone, found["HostedZone"]["Name"], "exists", "pass")


def _sets(req: StepRequest, record: DnsRecord) -> Check:
    present = route53.record_sets(req, record)
    wanted = set(record.set_identifiers.values())
    missing = sorted(wanted - set(present))
    detail = f"missing set identifier(s) {', '.join(missing)}" if missing else ""
    resource = f"{record.fqdn} {record.type}"
    return Check(
        "route53.record_sets",
        resource,
        sorted(set(present) & wanted),
        sorted(wanted),
        "fail" if missing else "pass",
        detail,
    )
