"""The changes more than one step makes: DNS toward a region, and the application's write-region parameter.

flip_dns and compensation both send DNS somewhere; switch_dynamodb_writes and compensation both set where the
application writes. One implementation each, so that the split-brain guard and the verification are the same.
"""

from __future__ import annotations

import time
from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import FailoverError, PreconditionFailed, StepFailed
from failover_controller.guards import require_writer
from failover_controller.names import CLAIM_METRIC, CLAIM_NAMESPACE, claim_alarm_name, claim_dimensions
from failover_controller.plan import RecoveryPlan
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
    """A region's traffic claim as the datapoint its alarm watches: a standard-resolution metric (Route 53 follows
    no alarm on a high-resolution one), its value the claim's time; 0 withdraws it. The alarm takes each period's
    Minimum, so a withdrawal wins the period it falls in, and a claim shows once a period holds claims only."""
    return {
        "MetricName": CLAIM_METRIC,
        "Dimensions": [{"Name": k, "Value": v} for k, v in claim_dimensions(application).items()],
        "Value": value,
        "Unit": "None",
    }


def claims_toward(req: StepRequest, toward: str) -> list[tuple[str, bool]]:
    """The claims that send the plan's names to ``toward``, in the order they are made: (region, claims).

    - Toward this controller's region: it claims; except a graceful run into the primary (a failback), which
      withdraws the standby's claim in the standby, reachable then, and then any of its own: nobody claiming is the
      peacetime state, and answers with the primary (latency records: each client's nearest region).
    - Toward the other region (compensation): this region's claim is withdrawn.
    """
    region, plan = req.target_region, req.plan
    if toward != region:
        return [(region, False)]
    if region == plan.primary_region and req.graceful:
        return [(plan.other_region(region), False), (region, False)]
    return [(region, True)]


def _served_or_why(req: StepRequest) -> tuple[dict[str, Any] | None, str]:
    """DNS's answers now, or why it could not be asked: a name server that does not answer delays only the
    confirmation, never the claim."""
    try:
        return dns.served_from(req.plan), ""
    except FailoverError as exc:
        return None, exc.message


def claim_dns(req: StepRequest, toward: str, result: StepResult) -> StepResult:
    """Data-plane DNS: make ``claims_toward`` hold, one region at a time, and report when DNS answers every name
    with ``toward``. The only calls that change anything are PutMetricData of the claim metric.

    Each call converges (FlipDns's act and its poll are the same): the first claim that its alarm does not yet show
    is published (again: a datapoint is confirmed only by the alarm, at the end of its period); the next region's
    claim changes only once the earlier ones show and DNS answers with ``toward``, so traffic never passes through
    the wrong region on the way. DNS is asked after the claim, never before it."""
    wanted = claims_toward(req, toward)
    claims = _claims_now(req, [region for region, _ in wanted])
    result.before = {"claims": claims, "wanted": dict(wanted)}
    pending = [(region, claim) for region, claim in wanted if claims[region] != claim]
    served, why = (None, "") if pending and pending[0] == wanted[0] else _served_or_why(req)
    routed = dns.routed_to(req.plan, claims)  # where DNS answers once it follows the claims as they show now
    answered = served is not None and all(dns.answers_as(d, routed) for d in served.values())
    result.after = {"claims": claims, "dns": served, "change_id": None}
    if not pending:
        result.done = answered
        result.message = f"the claims toward {toward} hold ({_said(claims)}); " + (
            f"DNS answers with {dns.described(routed)}"
            if answered
            else f"waiting for DNS to answer with {dns.described(routed)} {why}".rstrip()
        )
        return result
    region, claim = pending[0]
    result.done = req.dry_run  # a dry run changes nothing, so there is nothing to wait for
    if pending[0] != wanted[0] and not answered:
        result.message = (
            f"waiting for DNS to answer with {dns.described(routed)} before {region}'s claim changes {why}".rstrip()
        )
        return result
    if not req.dry_run:
        require_writer(req, "DNS", toward)
    return _publish(req, region, claim, claims, result)


def expected_answers(req: StepRequest, toward: str) -> str | None:
    """Where DNS answers once the claims toward ``toward`` hold (None: each client's nearest region)."""
    return dns.routed_to(req.plan, dict(claims_toward(req, toward)))


def _claims_now(req: StepRequest, regions: list[str]) -> dict[str, bool]:
    """Whether each region claims, by its alarm; refused when this region has no claim alarm, or Route 53 could not
    follow one (DNS would never move)."""
    seen = {region: cloudwatch.traffic_claim(req.plan, req.clients, region) for region in regions}
    own = seen.get(req.target_region)
    if own is not None and own["alarm"] == "MISSING":
        raise PreconditionFailed(
            f"the traffic claim alarm {claim_alarm_name(req.plan.application)} does not exist in {req.target_region}: "
            "deploy the controller's stack there (docs/dns.md)"
        )
    unsupported = [f"{r}: {'; '.join(s['unsupported'])}" for r, s in seen.items() if s["unsupported"]]
    if unsupported:
        raise PreconditionFailed(
            f"Route 53's health checks cannot follow the claim alarm {claim_alarm_name(req.plan.application)} "
            f"({'; '.join(unsupported)}): DNS would never move (docs/dns.md)"
        )
    return {region: bool(s["claimed"]) for region, s in seen.items()}


def claim_data(application: str, claim: bool) -> list[dict[str, Any]]:
    """The MetricData of a claim (its time) or a withdrawal (0)."""
    return [claim_datum(application, float(int(time.time())) if claim else 0.0)]


def publish_claim(plan: RecoveryPlan, factory: ClientFactory, region: str, data: list[dict[str, Any]]) -> None:
    """PutMetricData of a claim or withdrawal in ``region``'s CloudWatch: the runbook's, and an operator's."""
    call(
        f"the traffic claim of {plan.application} in {region}",
        factory.cloudwatch(region).put_metric_data,
        Namespace=CLAIM_NAMESPACE,
        MetricData=data,
    )


def _publish(req: StepRequest, region: str, claim: bool, claims: dict[str, bool], result: StepResult) -> StepResult:
    """``region``'s claim (or withdrawal) published, or in a dry run only planned."""
    data = claim_data(req.plan.application, claim)
    action = PlannedAction(
        api="cloudwatch:PutMetricData", region=region, params={"Namespace": CLAIM_NAMESPACE, "MetricData": data}
    )
    result.actions.append(action)
    verb = "claim" if claim else "withdraw"
    if req.dry_run:
        result.message = f"dry run: would {verb} {region}'s traffic claim"
        return result
    publish_claim(req.plan, req.clients, region, data)
    action.performed = True
    result.changed = True
    result.message = (
        f"published {region}'s {verb} ({_said(claims)} until its alarm's period ends): Route 53's health checks "
        "follow the alarm's data"
    )
    return result


def _said(claims: dict[str, bool]) -> str:
    return ", ".join(f"{r} {'claims' if c else 'does not claim'}" for r, c in claims.items())
