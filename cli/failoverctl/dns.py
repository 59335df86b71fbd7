"""`failoverctl dns setup PLAN`: the one-time, peacetime setup of data-plane DNS (docs/dns.md).

For each region R of the plan, a Route 53 health check of type CLOUDWATCH_METRIC follows R's traffic claim alarm
(the stack's ``TrafficClaimAlarm`` in R): healthy while R does not claim traffic. The records of each region carry
the health check of the *other* region's claim, with the plan's routing policy:

- failover: the primary's records PRIMARY, the standby's SECONDARY;
- weighted: the primary's records ``active_weight``, the standby's 0;
- latency: each region's records in their region.

So a claim by the standby takes the primary's records out of DNS answers, and a claim by the primary (a failback)
makes both unhealthy, which Route 53 answers as normal routing: the primary. Every change is made now, with Route
53's API; failing over and back touches only the recovery region's CloudWatch.

Without ``--apply`` nothing is created: the command prints the health checks and record changes it would make.
"""

from __future__ import annotations

import argparse
import json
from typing import IO, Any

from failover_controller.aws import call
from failover_controller.changes import claim_data, publish_claim
from failover_controller.clients import ClientFactory
from failover_controller.names import claim_alarm_name
from failover_controller.plan import DnsRecord, RecoveryPlan, load_plan_file
from failover_controller.reads import cloudwatch, dns
from failoverctl.operate import CommandError, factory_for, writer_now

HEALTH_CHECK_VERSION = "v1"  # in the CallerReference: a changed check gets a new reference


def caller_reference(plan: RecoveryPlan, region: str) -> str:
    return f"failover-controller-{plan.application}-{region}-claim-{HEALTH_CHECK_VERSION}"[:64]


def claim_check_config(plan: RecoveryPlan, region: str) -> dict[str, Any]:
    """Healthy while ``region`` does not claim traffic; a region that goes dark keeps its last known status."""
    return {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Region": region, "Name": claim_alarm_name(plan.application)},
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }


def claim_checks(plan: RecoveryPlan, f: ClientFactory, *, apply: bool) -> dict[str, str]:
    """Each region's claim health check, created when ``apply`` (idempotent: the CallerReference is the plan's and
    the region's); by region. Without ``apply``, the ids are placeholders naming what would be created."""
    r53 = f.route53("us-east-1")
    existing = _checks_by_reference(f)
    ids = {}
    for region in plan.regions:
        if caller_reference(plan, region) in existing:
            ids[region] = existing[caller_reference(plan, region)]
            continue
        if not apply:
            ids[region] = f"<health check of {region}'s claim>"
            continue
        created = call(
            f"Route 53 CreateHealthCheck for {region}'s claim",
            r53.create_health_check,
            CallerReference=caller_reference(plan, region),
            HealthCheckConfig=claim_check_config(plan, region),
        )
        ids[region] = created["HealthCheck"]["Id"]
        call(
            "Route 53 ChangeTagsForResource",
            r53.change_tags_for_resource,
            ResourceType="healthcheck",
            ResourceId=ids[region],
            AddTags=[{"Key": "Name", "Value": f"{plan.application}: {region} does not claim traffic"}],
        )
    return ids


def stale_checks(plan: RecoveryPlan, f: ClientFactory, ids: dict[str, str]) -> dict[str, tuple[int, list[str]]]:
    """The existing claim checks that differ from what the plan and the deployed alarm need: the HealthCheckVersion
    judged, and how they differ.

    Route 53 keeps a copy of the alarm's settings taken when the check was created or last updated
    (CloudWatchAlarmConfiguration): a changed alarm (the 10-second alarm of earlier versions, now 60 s) reaches the
    check only by UpdateHealthCheck. A check whose copy cannot be read (an API that does not return it) counts as
    stale: updating re-copies."""
    r53, stale = f.route53("us-east-1"), {}
    for region, check_id in ids.items():
        if check_id.startswith("<"):
            continue
        check = call(f"Route 53 GetHealthCheck {check_id}", r53.get_health_check, HealthCheckId=check_id)["HealthCheck"]
        config, wanted = check["HealthCheckConfig"], claim_check_config(plan, region)
        why = [
            f"{key} is {config.get(key)!r}, not {wanted[key]!r}"
            for key in ("AlarmIdentifier", "InsufficientDataHealthStatus")
            if config.get(key) != wanted[key]
        ]
        copy = check.get("CloudWatchAlarmConfiguration")
        if copy is None:
            why.append("its copy of the alarm's settings is not readable")
        else:
            alarm = call(
                f"DescribeAlarms in {region}",
                f.cloudwatch(region).describe_alarms,
                AlarmNames=[claim_alarm_name(plan.application)],
            )["MetricAlarms"]
            why += [
                f"it copied {key} {copy.get(key)!r}, the alarm has {alarm[0].get(key)!r}"
                for key in ("Period", "Statistic", "Threshold", "ComparisonOperator", "EvaluationPeriods")
                if alarm and copy.get(key) != alarm[0].get(key)
            ]
        if why:
            stale[region] = (int(check["HealthCheckVersion"]), why)
    return stale


def update_checks(
    plan: RecoveryPlan, f: ClientFactory, ids: dict[str, str], stale: dict[str, tuple[int, list[str]]]
) -> None:
    """UpdateHealthCheck of each stale check, in place: it keeps its id (the records need no change) and its status
    (a standing claim is not forgotten, as a new check, healthy at first, would forget it); Route 53 copies the alarm's
    settings anew. The version judged stale makes Route 53 refuse the update if the check changed since."""
    r53 = f.route53("us-east-1")
    for region, (version, _) in stale.items():
        wanted = claim_check_config(plan, region)
        call(
            f"Route 53 UpdateHealthCheck for {region}'s claim",
            r53.update_health_check,
            HealthCheckId=ids[region],
            HealthCheckVersion=version,
            AlarmIdentifier=wanted["AlarmIdentifier"],
            InsufficientDataHealthStatus=wanted["InsufficientDataHealthStatus"],
        )


def _checks_by_reference(f: ClientFactory) -> dict[str, str]:
    """The account's health checks by CallerReference: setup finds its own before it creates any."""
    r53 = f.route53("us-east-1")
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = call("Route 53 ListHealthChecks", r53.list_health_checks, **kwargs)
        found |= {h["CallerReference"]: h["Id"] for h in page["HealthChecks"]}
        if not page.get("IsTruncated"):
            return found
        kwargs = {"Marker": page["NextMarker"]}


def reassert_claims(plan: RecoveryPlan, f: ClientFactory, regions: list[str]) -> list[str]:
    """A standing claim published again in each of ``regions`` whose check was just updated: a check follows the
    alarm's data, and with no data since its update it keeps the status it had (insufficient data: last known
    status), which may not be the claim's. The regions re-asserted."""
    done = []
    for region in regions:
        if cloudwatch.traffic_claim(plan, f, region)["claimed"]:
            publish_claim(plan, f, region, claim_data(plan.application, claim=True))
            done.append(region)
    return done


def record_set(plan: RecoveryPlan, record: DnsRecord, region: str, checks: dict[str, str]) -> dict[str, Any]:
    other = plan.other_region(region)
    values = (record.values or {}).get(region)
    if not values:
        raise ValueError(f"route53.records {record.fqdn}: no values for {region} (data_plane mode needs them)")
    rrs: dict[str, Any] = {
        "Name": record.fqdn,
        "Type": record.type,
        "SetIdentifier": record.set_identifiers[region],
        "TTL": record.ttl,
        "ResourceRecords": [{"Value": v} for v in values],
        "HealthCheckId": checks[other],
    }
    if plan.routing_policy == "weighted":
        rrs["Weight"] = plan.active_weight if region == plan.primary_region else 0
    elif plan.routing_policy == "failover":
        rrs["Failover"] = "PRIMARY" if region == plan.primary_region else "SECONDARY"
    else:
        rrs["Region"] = region
    return rrs


def probe_sets(plan: RecoveryPlan, checks: dict[str, str]) -> list[dict[str, Any]]:
    """The primary's claim, readable in DNS (reads.dns.primary_claim): "free" while the primary's check is healthy,
    else "claimed". A standby failing over ungracefully asks it instead of the primary's CloudWatch."""
    name, ttl = dns.probe_name(plan), plan.records[0].ttl
    return [
        {
            "Name": name,
            "Type": "TXT",
            "SetIdentifier": f"{plan.application}-primary-claim-{dns.PROBE_FREE}",
            "Failover": "PRIMARY",
            "TTL": ttl,
            "ResourceRecords": [{"Value": f'"{dns.PROBE_FREE}"'}],
            "HealthCheckId": checks[plan.primary_region],
        },
        {
            "Name": name,
            "Type": "TXT",
            "SetIdentifier": f"{plan.application}-primary-claim-{dns.PROBE_CLAIMED}",
            "Failover": "SECONDARY",
            "TTL": ttl,
            "ResourceRecords": [{"Value": f'"{dns.PROBE_CLAIMED}"'}],
        },
    ]


def record_changes(plan: RecoveryPlan, checks: dict[str, str]) -> list[dict[str, Any]]:
    """Every record of the plan, in both regions, as data-plane DNS needs it, and the primary's claim probe
    (UPSERT: setup can run again)."""
    sets = [record_set(plan, record, region, checks) for record in plan.records for region in plan.regions]
    return [{"Action": "UPSERT", "ResourceRecordSet": rrs} for rrs in sets + probe_sets(plan, checks)]


def setup(plan: RecoveryPlan, f: ClientFactory, *, apply: bool) -> dict[str, Any]:
    """The health checks and record changes of data-plane DNS for ``plan``; made when ``apply``."""
    if plan.dns_mode != "data_plane":
        raise ValueError(f"plan {plan.application}: route53.mode is {plan.dns_mode}; dns setup is for data_plane")
    checks = claim_checks(plan, f, apply=apply)
    stale = stale_checks(plan, f, checks)
    reasserted = []
    if apply:
        update_checks(plan, f, checks, stale)
        reasserted = reassert_claims(plan, f, list(stale))
    changes = record_changes(plan, checks)
    done: dict[str, Any] = {
        "health_checks": checks,
        "updated": {region: why for region, (_, why) in stale.items()},
        "reasserted": reasserted,
        "changes": changes,
        "applied": apply,
    }
    if apply:
        info = call(
            f"Route 53 change in zone {plan.hosted_zone_id}",
            f.route53("us-east-1").change_resource_record_sets,
            HostedZoneId=plan.hosted_zone_id,
            ChangeBatch={"Comment": f"failover-controller: data-plane DNS of {plan.application}", "Changes": changes},
        )["ChangeInfo"]
        done["change_id"] = info["Id"].removeprefix("/change/")
    done["alarms"] = {region: claim_alarm_name(plan.application) for region in plan.regions}
    return done


def peacetime_state(plan: RecoveryPlan, f: ClientFactory) -> dict[str, Any]:
    """What the setup depends on, read now: the zone's name servers, and each region's claim alarm (its state, and
    why Route 53 could not follow it, if it could not)."""
    zone = call(
        f"Route 53 hosted zone {plan.hosted_zone_id}", f.route53("us-east-1").get_hosted_zone, Id=plan.hosted_zone_id
    )
    alarms, unsupported = {}, {}
    for region in plan.regions:
        seen = cloudwatch.traffic_claim(plan, f, region)
        alarms[region] = seen["alarm"]
        if seen["unsupported"]:
            unsupported[region] = seen["unsupported"]
    return {
        "name_servers": zone.get("DelegationSet", {}).get("NameServers", []),
        "alarms": alarms,
        "unsupported": unsupported,
    }


def refuse_unfollowable(plan: RecoveryPlan, state: dict[str, Any]) -> None:
    """A health check on an alarm Route 53 cannot follow would never move DNS: no setup then."""
    if state["unsupported"]:
        raise CommandError(
            f"Route 53's health checks cannot follow the claim alarm {claim_alarm_name(plan.application)}: "
            + "; ".join(f"in {region}, {', '.join(why)}" for region, why in state["unsupported"].items())
            + " (Route 53 API reference, AlarmIdentifier). Deploy the template's alarm (60 s period) there first"
        )


def command(args: argparse.Namespace, out: IO[str]) -> int:
    """failoverctl dns setup PLAN [--apply]"""
    plan = load_plan_file(args.plan)
    f = factory_for(args)
    state = peacetime_state(plan, f)
    refuse_unfollowable(plan, state)
    done = setup(plan, f, apply=args.apply)
    if args.json:
        out.write(json.dumps(done | {"state": state}, indent=2, default=str) + "\n")
        return 0
    for region, check in done["health_checks"].items():
        out.write(
            f"health check {check}: healthy while {region} does not claim traffic (alarm "
            f"{claim_alarm_name(plan.application)} in {region}: {state['alarms'][region]})\n"
        )
        if region in done["updated"]:
            out.write(
                f"  {'updated' if args.apply else 'to update'} in place (it keeps its id and status): "
                + "; ".join(done["updated"][region])
                + "\n"
            )
        if region in done["reasserted"]:
            out.write(f"  {region}'s standing claim published again, so that the updated check reads it\n")
    for change in done["changes"]:
        rrs = change["ResourceRecordSet"]
        routing = {k: rrs[k] for k in ("Weight", "Failover", "Region") if k in rrs}
        out.write(
            f"record {rrs['Name']} {rrs['Type']} {rrs['SetIdentifier']}: {routing}, answers "
            f"{[v['Value'] for v in rrs['ResourceRecords']]}, health check {rrs.get('HealthCheckId', 'none')}\n"
        )
    missing = [r for r, s in state["alarms"].items() if s == "MISSING"]
    if missing:
        out.write(f"warning: no claim alarm in {', '.join(missing)}: deploy the controller's stack there\n")
    if sorted(state["name_servers"]) != sorted(plan.name_servers):
        out.write(f"warning: the zone's name servers are {state['name_servers']}: put them in route53.name_servers\n")
    out.write(f"applied: change {done['change_id']}\n" if args.apply else "nothing changed: run again with --apply\n")
    return 0


def release_claim(plan: RecoveryPlan, f: ClientFactory, region: str, *, force: bool = False) -> str:
    """Withdraw ``region``'s traffic claim (a datapoint of 0 in its CloudWatch); says what it did. Refused (unless
    ``force``) when DNS would then send the traffic to a region other than the Aurora writer's: users would reach a
    read-only database."""
    seen = cloudwatch.traffic_claim(plan, f, region)
    if not seen["claimed"]:
        return f"{region} does not claim {plan.application}'s traffic (alarm {seen['alarm']}): nothing to do"
    other = plan.other_region(region)
    theirs = cloudwatch.traffic_claim(plan, f, other)
    after = dns.routed_to(plan, {region: False, other: theirs["claimed"]})
    writer = writer_now(plan, region, f)
    risk = ""
    if after is not None and after != writer:
        risk = (
            f"withdrawing {region}'s claim sends {plan.application}'s traffic to {after} ({other} "
            f"{'claims' if theirs['claimed'] else 'does not claim'}), while the Aurora writer is in "
            f"{writer or 'no settled region (an operation is under way, or it could not be read)'}: users would "
            "reach a read-only database"
        )
        if not force:
            raise CommandError(f"{risk}; release {other}'s claim first, or pass --force to accept it")
    publish_claim(plan, f, region, claim_data(plan.application, claim=False))
    return (
        f"withdrew {region}'s claim on {plan.application}'s traffic: its alarm is OK when the current 60 s period "
        "ends, and DNS follows once Route 53's checkers read it" + (f" (forced: {risk})" if risk else "")
    )


def release(args: argparse.Namespace, out: IO[str]) -> int:
    """failoverctl dns release PLAN --region R [--force]. A graceful failback leaves nobody claiming; an
    ungraceful one leaves the primary claiming, to release once the standby's region is back and its claim is."""
    plan = load_plan_file(args.plan)
    if args.region not in plan.regions:
        raise CommandError(
            f"--region must be one of the plan's regions ({', '.join(plan.regions)}), got {args.region!r}"
        )
    out.write(release_claim(plan, factory_for(args), args.region, force=args.force) + "\n")
    return 0
