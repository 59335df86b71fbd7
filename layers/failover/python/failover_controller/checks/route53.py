"""DNS. data_plane: this region's traffic claim alarm exists (one Route 53 can follow), and the zone's name servers
answer every name with one of the regions' answers; no Route 53 API call (its control plane lives in us-east-1).
control_plane: the hosted zone, and every record's set identifiers, read through Route 53's API."""

from __future__ import annotations

from functools import partial

from failover_controller.aws import call
from failover_controller.checks import guarded
from failover_controller.names import claim_alarm_name
from failover_controller.plan import DnsRecord
from failover_controller.reads import cloudwatch, dns, route53
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest


def checks(req: StepRequest) -> list[Check]:
    if req.plan.dns_mode == "data_plane":
        return data_plane_checks(req)
    zone = req.plan.hosted_zone_id
    out = [guarded("route53.hosted_zone", zone, "exists", partial(_zone, req))]
    if out[0].verdict == "fail":
        return out
    for record in req.plan.records:
        resource = f"{record.fqdn} {record.type}"
        out.append(guarded("route53.record_sets", resource, "exists", partial(_sets, req, record)))
    return out


def data_plane_checks(req: StepRequest) -> list[Check]:
    alarm = claim_alarm_name(req.plan.application)
    out = [guarded("dns.claim_alarm", f"{alarm} in {req.target_region}", "exists", partial(_claim_alarm, req))]
    out += [
        guarded("dns.answers", f"{record.fqdn} {record.type}", "a region's answers", partial(_answers, req, record))
        for record in req.plan.records
    ]
    if req.target_region != req.plan.primary_region:
        # The primary's own claim (left by a failback) outweighs the standby's: both claiming answers the primary.
        resource = f"{alarm} in {req.source_region}"
        if req.graceful:
            out.append(guarded("dns.primary_claim", resource, "not claimed", partial(_primary_claim, req)))
        else:
            out.append(guarded("dns.primary_claim", resource, "not claimed", partial(_primary_claim_in_dns, req)))
    return out


def _primary_claim_in_dns(req: StepRequest) -> Check:
    """Ungraceful: the primary's claim as DNS answers it (its probe record), the primary itself not being asked."""
    resource = f"{claim_alarm_name(req.plan.application)} in {req.source_region}"
    claimed = dns.primary_claim(req.plan)
    if claimed is None:
        detail = (
            f"ungraceful: {req.source_region} is not consulted, and DNS has no {dns.probe_name(req.plan)} TXT record "
            "to tell its claim (failoverctl dns setup PLAN --apply adds it)"
        )
        return Check("dns.primary_claim", resource, None, "not claimed", "skipped", detail)
    if not claimed:
        return Check("dns.primary_claim", resource, dns.PROBE_FREE, "not claimed", "pass", "as DNS answers it")
    return Check("dns.primary_claim", resource, dns.PROBE_CLAIMED, "not claimed", "fail", primary_claimed(req))


def primary_claimed(req: StepRequest) -> str:
    """Why a claim of the primary stops a failover into the standby, and what to do."""
    return (
        f"{req.source_region} claims the traffic ({dns.probe_name(req.plan)} answers {dns.PROBE_CLAIMED}): while it "
        f"does, DNS answers with it whatever {req.target_region} claims, so a promotion would leave traffic on a "
        f"read-only database; withdraw it: failoverctl dns release PLAN --region {req.source_region}, and start again "
        "once DNS follows (about half a minute). A dark primary's claim stays as last seen: then only route53.mode "
        "control_plane can move the traffic"
    )


def _primary_claim(req: StepRequest) -> Check:
    seen = cloudwatch.traffic_claim(req.plan, req.clients, req.source_region)
    resource = f"{claim_alarm_name(req.plan.application)} in {req.source_region}"
    if not seen["claimed"]:
        return Check("dns.primary_claim", resource, seen["alarm"], "not claimed", "pass")
    detail = (
        f"{req.source_region} still claims the traffic (a failback's claim): while it does, DNS answers with it "
        f"whatever {req.target_region} claims; withdraw it: failoverctl dns release PLAN --region {req.source_region}"
    )
    return Check("dns.primary_claim", resource, seen["alarm"], "not claimed", "fail", detail)


def _claim_alarm(req: StepRequest) -> Check:
    seen = cloudwatch.traffic_claim(req.plan, req.clients, req.target_region)
    resource = f"{claim_alarm_name(req.plan.application)} in {req.target_region}"
    if seen["alarm"] == "MISSING":
        detail = "the stack's traffic claim alarm is missing: deploy the controller's stack in this region"
        return Check("dns.claim_alarm", resource, "MISSING", "exists", "fail", detail)
    if seen["unsupported"]:
        detail = (
            f"Route 53's health checks cannot follow it ({'; '.join(seen['unsupported'])}): a claim would never move "
            "DNS; deploy the template's alarm (60 s period), then run failoverctl dns setup PLAN --apply again"
        )
        return Check("dns.claim_alarm", resource, seen["alarm"], "exists", "fail", detail)
    return Check("dns.claim_alarm", resource, seen["alarm"], "exists", "pass")


def _answers(req: StepRequest, record: DnsRecord) -> Check:
    answers = dns.ask(req.plan, record)
    region = dns.region_of(record, answers)
    detail = "" if region else f"answers {list(answers)} are no region's (route53.records values)"
    return Check(
        "dns.answers",
        f"{record.fqdn} {record.type}",
        region,
        "a region's answers",
        "pass" if region else "fail",
        detail,
    )


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
