"""Data-plane DNS in peacetime: the plan's rules for it, and `failoverctl dns setup` (each region's claim health check,
and the records carrying the other region's), asserted on the Route 53 world it leaves (moto)."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PlanInvalid
from failover_controller.plan import RecoveryPlan, parse_plan
from failoverctl import dns
from failoverctl.drill import world
from failoverctl.operate import CommandError
from tests.support.events import data_plane_plan_doc


def zone_plan(f: ClientFactory, **route53: Any) -> RecoveryPlan:
    doc = data_plane_plan_doc()
    doc["route53"] |= route53
    zone = f.route53("us-east-1").create_hosted_zone(Name="recsys.example.com.", CallerReference="t")["HostedZone"]
    return parse_plan(world.with_zone(doc, zone["Id"].rsplit("/", 1)[-1]))


def record_sets(f: ClientFactory, plan: RecoveryPlan) -> dict[str, dict[str, Any]]:
    sets = f.route53("us-east-1").list_resource_record_sets(HostedZoneId=plan.hosted_zone_id)["ResourceRecordSets"]
    return {f"{s['Name']} {s['SetIdentifier']}": dict(s) for s in sets if "SetIdentifier" in s}


def test_setup_gives_each_regions_records_the_health_check_of_the_other_regions_claim(moto: ClientFactory) -> None:
    plan = zone_plan(moto)
    done = dns.setup(plan, moto, apply=True)
    checks = done["health_checks"]
    assert set(checks) == {"us-east-1", "us-west-2"}
    sets = record_sets(moto, plan)
    api_use1, api_usw2 = (
        sets["api.recsys.example.com. recsys-api-use1"],
        sets["api.recsys.example.com. recsys-api-usw2"],
    )
    assert (api_use1["Weight"], api_use1["HealthCheckId"]) == (100, checks["us-west-2"])
    assert (api_usw2["Weight"], api_usw2["HealthCheckId"]) == (0, checks["us-east-1"])
    assert api_usw2["ResourceRecords"] == [{"Value": "api.us-west-2.recsys.internal"}]
    # The primary's claim, readable in DNS: "free" while the primary's check is healthy, else "claimed".
    free = sets["_primary-claim.api.recsys.example.com. recsys-primary-claim-free"]
    claimed = sets["_primary-claim.api.recsys.example.com. recsys-primary-claim-claimed"]
    assert (free["Type"], free["Failover"], free["HealthCheckId"], free["ResourceRecords"]) == (
        "TXT",
        "PRIMARY",
        checks["us-east-1"],
        [{"Value": '"free"'}],
    )
    assert (claimed["Type"], claimed["Failover"], claimed["ResourceRecords"]) == (
        "TXT",
        "SECONDARY",
        [{"Value": '"claimed"'}],
    )
    assert "HealthCheckId" not in claimed, "the answer when the primary's check is unhealthy"
    assert len(sets) == 6
    configs = {
        h["Id"]: h["HealthCheckConfig"]["Type"] for h in moto.route53("us-east-1").list_health_checks()["HealthChecks"]
    }
    assert configs == dict.fromkeys(checks.values(), "CLOUDWATCH_METRIC")
    assert dns.claim_check_config(plan, "us-west-2") == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Region": "us-west-2", "Name": "failover-controller-recsys-traffic-claim"},
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }


def test_setup_run_again_changes_nothing_and_creates_no_second_health_check(moto: ClientFactory) -> None:
    plan = zone_plan(moto)
    first = dns.setup(plan, moto, apply=True)
    before = record_sets(moto, plan)
    again = dns.setup(plan, moto, apply=True)
    assert again["health_checks"] == first["health_checks"]
    assert record_sets(moto, plan) == before
    assert len(moto.route53("us-east-1").list_health_checks()["HealthChecks"]) == 2


def test_without_apply_setup_creates_nothing_and_says_what_it_would_do(moto: ClientFactory) -> None:
    plan = zone_plan(moto)
    done = dns.setup(plan, moto, apply=False)
    assert done["applied"] is False
    assert len(done["changes"]) == 6
    assert moto.route53("us-east-1").list_health_checks()["HealthChecks"] == []
    assert record_sets(moto, plan) == {}


@pytest.mark.parametrize(
    ("policy", "key", "use1", "usw2"),
    [("failover", "Failover", "PRIMARY", "SECONDARY"), ("latency", "Region", "us-east-1", "us-west-2")],
)
def test_failover_and_latency_records_take_their_routing(
    moto: ClientFactory, policy: str, key: str, use1: str, usw2: str
) -> None:
    subnets = {"client_subnets": {"us-east-1": "192.0.2.0/24", "us-west-2": "198.51.100.0/24"}}
    plan = zone_plan(moto, routing_policy=policy, **(subnets if policy == "latency" else {}))
    dns.setup(plan, moto, apply=True)
    sets = record_sets(moto, plan)
    assert sets["api.recsys.example.com. recsys-api-use1"][key] == use1
    assert sets["api.recsys.example.com. recsys-api-usw2"][key] == usw2
    assert "Weight" not in sets["api.recsys.example.com. recsys-api-use1"]


def test_setup_is_for_data_plane_plans_only(moto: ClientFactory) -> None:
    plan = zone_plan(moto, mode="control_plane")
    with pytest.raises(ValueError, match=r"route53\.mode is control_plane; dns setup is for data_plane"):
        dns.setup(plan, moto, apply=True)


def test_the_command_warns_of_a_missing_claim_alarm_and_name_servers_that_are_not_the_zones(
    moto: ClientFactory, tmp_path: Any
) -> None:
    plan = zone_plan(moto)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.document))
    args = argparse.Namespace(plan=str(path), apply=False, json=False, local=False, endpoint_url=None)
    out = io.StringIO()
    assert dns.command(args, out) == 0
    said = out.getvalue()
    assert "warning: no claim alarm in us-east-1, us-west-2: deploy the controller's stack there" in said
    assert "warning: the zone's name servers are" in said
    assert "nothing changed: run again with --apply" in said
    assert moto.route53("us-east-1").list_health_checks()["HealthChecks"] == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("name_servers"), "route53.name_servers: data_plane mode asks the zone's name servers"),
        (lambda r: r["records"][0].pop("values"), "route53.records[0].values: data_plane mode needs each region's"),
        (
            lambda r: r["records"][0]["values"].update({"us-west-2": ["api.us-east-1.recsys.internal"]}),
            "route53.records[0].values: each region needs its own answers",
        ),
        (
            lambda r: r.update(mode="control_plane", routing_policy="latency"),
            "route53.routing_policy: latency records move only through health checks: use mode data_plane",
        ),
        (lambda r: r["records"][0]["values"].pop("us-west-2"), "route53.records[0].values: must have at least 2"),
        (
            lambda r: r.update(routing_policy="latency"),
            "route53.client_subnets: latency records are answered by where the client is",
        ),
        (
            lambda r: r.update(client_subnets={"us-east-1": "192.0.2.0/24", "us-west-2": "near Oregon"}),
            "route53.client_subnets.us-west-2: 'near Oregon' does not match",
        ),
        (
            lambda r: r.update(client_subnets={"us-east-1": "192.0.2.0/24", "us-west-2": "198.51.100.0/33"}),
            "route53.client_subnets.us-west-2: '198.51.100.0/33' is not a subnet",
        ),
        (
            lambda r: r.update(client_subnets={"us-east-1": "192.0.2.0/24"}),
            "route53.client_subnets: must have at least 2",
        ),
        (
            lambda r: r["records"][0]["values"]["us-west-2"].append("b.us-west-2.recsys.internal"),
            "route53.records[0].values: a CNAME record has exactly one value in each region",
        ),
    ],
)
def test_a_data_plane_plan_names_what_it_lacks(change: Any, problem: str) -> None:
    doc = data_plane_plan_doc()
    change(doc["route53"])
    with pytest.raises(PlanInvalid) as info:
        parse_plan(doc)
    assert any(p.startswith(problem) for p in info.value.details["problems"]), info.value.details["problems"]


def test_the_sample_plan_is_data_plane_and_a_plan_without_a_mode_is_control_plane() -> None:
    doc = data_plane_plan_doc()
    plan = parse_plan(doc)
    assert (plan.dns_mode, plan.routing_policy, len(plan.name_servers)) == ("data_plane", "weighted", 4)
    assert plan.records[0].values == {
        "us-east-1": ("api.us-east-1.recsys.internal",),
        "us-west-2": ("api.us-west-2.recsys.internal",),
    }
    del doc["route53"]["mode"]
    assert parse_plan(doc).dns_mode == "control_plane"


def test_setup_refuses_a_claim_alarm_route53_cannot_follow(moto: ClientFactory) -> None:
    plan = zone_plan(moto)
    for region in plan.regions:
        world.create_claim_alarm(plan, moto, region)
    moto.cloudwatch("us-west-2").put_metric_alarm(
        AlarmName="failover-controller-recsys-traffic-claim",
        Namespace="FailoverController",
        MetricName="TrafficClaim",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    state = dns.peacetime_state(plan, moto)
    with pytest.raises(CommandError, match=r"in us-west-2, its period is 10 s: Route 53 follows standard-resolution"):
        dns.refuse_unfollowable(plan, state)
    assert "us-east-1" not in state["unsupported"]
