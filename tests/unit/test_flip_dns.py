from __future__ import annotations

import re
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PreconditionFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import flip_dns
from failoverctl import world
from tests.support.requests import request

BEFORE = {"us-east-1": 100, "us-west-2": 0}
AFTER = {"us-east-1": 0, "us-west-2": 100}


def routing(plan: RecoveryPlan, f: ClientFactory) -> dict[str, dict[str, Any]]:
    return world.dns_routing(plan, f)


def test_flip_sends_every_record_to_the_target_and_keeps_its_values(
    dns_plan: RecoveryPlan, moto: ClientFactory
) -> None:
    assert all(r == BEFORE for r in routing(dns_plan, moto).values())
    result = flip_dns.run(request(dns_plan, moto, "flip"))
    assert result.changed
    assert len(result.actions) == 1
    assert result.actions[0].performed
    assert len(result.actions[0].params["ChangeBatch"]["Changes"]) == 4
    assert all(r == AFTER for r in routing(dns_plan, moto).values())
    sets = moto.route53("us-west-2").list_resource_record_sets(HostedZoneId=dns_plan.hosted_zone_id)
    usw2 = next(r for r in sets["ResourceRecordSets"] if r.get("SetIdentifier") == "recsys-api-usw2")
    assert usw2["ResourceRecords"] == [{"Value": "api.us-west-2.recsys.internal"}]
    assert usw2["TTL"] == 60
    assert usw2["HealthCheckId"]
    assert usw2["HealthCheckId"] == world.health_check_of(dns_plan, moto, "us-west-2")

    status = flip_dns.run(request(dns_plan, moto, "status", change_id=result.after["change_id"]))
    assert status.done
    assert status.after["status"] == "INSYNC"


def test_second_flip_changes_nothing(dns_plan: RecoveryPlan, moto: ClientFactory) -> None:
    flip_dns.run(request(dns_plan, moto, "flip"))
    again = flip_dns.run(request(dns_plan, moto, "flip"))
    assert not again.changed
    assert again.actions == []
    assert "nothing to do" in again.message
    assert all(r == AFTER for r in routing(dns_plan, moto).values())


def test_dry_run_reports_the_batch_and_changes_nothing(dns_plan: RecoveryPlan, moto: ClientFactory) -> None:
    result = flip_dns.run(request(dns_plan, moto, "flip", dry_run=True))
    assert not result.changed
    assert result.actions[0].api == "route53:ChangeResourceRecordSets"
    assert not result.actions[0].performed
    changed = {
        c["ResourceRecordSet"]["SetIdentifier"]: c["ResourceRecordSet"]["Weight"]
        for c in result.actions[0].params["ChangeBatch"]["Changes"]
    }
    assert changed == {
        "recsys-api-use1": 0,
        "recsys-api-usw2": 100,
        "recsys-inference-use1": 0,
        "recsys-inference-usw2": 100,
    }
    assert all(r == BEFORE for r in routing(dns_plan, moto).values())


def test_failback_flips_the_other_way(dns_plan: RecoveryPlan, moto: ClientFactory) -> None:
    flip_dns.run(request(dns_plan, moto, "flip"))
    flip_dns.run(request(dns_plan, moto, "flip", target="us-east-1"))
    assert all(r == BEFORE for r in routing(dns_plan, moto).values())


def test_failover_routing_makes_the_target_primary(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["route53"]["routing_policy"] = "failover"
    zone_id = world.create_route53(plan_doc, moto, "us-west-2")
    plan = parse_plan(world.with_zone(plan_doc, zone_id))
    assert routing(plan, moto)["api.recsys.example.com."] == {
        "us-east-1": "PRIMARY",
        "us-west-2": "SECONDARY",
    }
    assert flip_dns.run(request(plan, moto, "flip")).changed
    assert all(r == {"us-east-1": "SECONDARY", "us-west-2": "PRIMARY"} for r in routing(plan, moto).values())
    assert not flip_dns.run(request(plan, moto, "flip")).changed


def test_a_missing_set_identifier_fails_clearly_and_changes_nothing(
    dns_plan: RecoveryPlan, moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["route53"]["records"][1]["set_identifiers"]["us-west-2"] = "nope"
    plan = parse_plan(world.with_zone(plan_doc, dns_plan.hosted_zone_id))
    with pytest.raises(
        PreconditionFailed,
        match=re.escape("inference.recsys.example.com. CNAME has no set identifier 'nope'"),
    ):
        flip_dns.run(request(plan, moto, "flip"))
    assert all(r == BEFORE for r in routing(dns_plan, moto).values())


def test_a_missing_zone_fails_clearly(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    with pytest.raises(PreconditionFailed, match="zone Z0000000000NOTHERE: not found"):
        flip_dns.run(request(plan, moto, "flip"))


def test_a_record_of_the_wrong_policy_is_refused(
    dns_plan: RecoveryPlan, moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["route53"]["routing_policy"] = "failover"
    plan = parse_plan(world.with_zone(plan_doc, dns_plan.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="is not a failover record"):
        flip_dns.run(request(plan, moto, "flip"))
    assert all(r == BEFORE for r in routing(dns_plan, moto).values())


def test_status_without_a_change_has_nothing_to_wait_for(dns_plan: RecoveryPlan, moto: ClientFactory) -> None:
    assert flip_dns.run(request(dns_plan, moto, "status")).done
    with pytest.raises(InputInvalid, match="change_id"):
        flip_dns.run(request(dns_plan, moto, "status", change_id="../../etc"))
