"""flip_dns against the emulated world (Route 53 in ministack): DNS follows the Aurora writer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PreconditionFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import flip_dns, promote_aurora
from failoverctl.drill import world
from tests.support.requests import request

pytestmark = pytest.mark.emulator

BEFORE = {"us-east-1": 100, "us-west-2": 0}
AFTER = {"us-east-1": 0, "us-west-2": 100}


def routing(plan: RecoveryPlan, f: ClientFactory) -> dict[str, dict[str, Any]]:
    return world.dns_routing(plan, f)


def promoted(plan: RecoveryPlan, f: ClientFactory, target: str = "us-west-2") -> RecoveryPlan:
    promote_aurora.run(request(plan, f, "promote", target=target))
    return plan


def test_flip_sends_every_record_to_the_target_and_keeps_its_values(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promoted(app, emulated)
    assert all(r == BEFORE for r in routing(app, emulated).values())
    result = flip_dns.run(request(app, emulated, "flip"))
    assert result.changed
    assert len(result.actions) == 1
    assert result.actions[0].performed
    assert len(result.actions[0].params["ChangeBatch"]["Changes"]) == 4
    assert all(r == AFTER for r in routing(app, emulated).values())
    sets = emulated.route53("us-west-2").list_resource_record_sets(HostedZoneId=app.hosted_zone_id)
    usw2 = next(r for r in sets["ResourceRecordSets"] if r.get("SetIdentifier") == "recsys-api-usw2")
    assert usw2["ResourceRecords"] == [{"Value": "api.us-west-2.recsys.internal"}]
    assert usw2["TTL"] == 60
    assert usw2["HealthCheckId"]
    assert usw2["HealthCheckId"] == world.health_check_of(app, emulated, "us-west-2")

    for _ in range(3):  # Route 53 (and the emulator) answer PENDING first, then INSYNC
        status = flip_dns.run(request(app, emulated, "status", change_id=result.after["change_id"]))
        if status.done:
            break
    assert status.done
    assert status.after["status"] == "INSYNC"


def test_second_flip_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promoted(app, emulated)
    flip_dns.run(request(app, emulated, "flip"))
    again = flip_dns.run(request(app, emulated, "flip"))
    assert not again.changed
    assert again.actions == []
    assert "nothing to do" in again.message
    assert again.after["change_id"] is None
    assert all(r == AFTER for r in routing(app, emulated).values())


def test_dns_is_never_sent_to_a_region_whose_database_is_read_only(app: RecoveryPlan, emulated: ClientFactory) -> None:
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in us-east-1, not us-west-2"):
        flip_dns.run(request(app, emulated, "flip"))
    assert all(r == BEFORE for r in routing(app, emulated).values())


def test_dry_run_reports_the_batch_and_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    result = flip_dns.run(request(app, emulated, "flip", dry_run=True))
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
    assert all(r == BEFORE for r in routing(app, emulated).values())


def test_failback_flips_the_other_way(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promoted(app, emulated)
    flip_dns.run(request(app, emulated, "flip"))
    promoted(app, emulated, "us-east-1")
    flip_dns.run(request(app, emulated, "flip", target="us-east-1"))
    assert all(r == BEFORE for r in routing(app, emulated).values())


def test_failover_routing_makes_the_target_primary(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["route53"]["routing_policy"] = "failover"
    plan = promoted(world.build(plan_doc, emulated), emulated)
    assert routing(plan, emulated)["api.recsys.example.com."] == {"us-east-1": "PRIMARY", "us-west-2": "SECONDARY"}
    assert flip_dns.run(request(plan, emulated, "flip")).changed
    assert all(r == {"us-east-1": "SECONDARY", "us-west-2": "PRIMARY"} for r in routing(plan, emulated).values())
    assert not flip_dns.run(request(plan, emulated, "flip")).changed


def test_a_missing_set_identifier_fails_clearly_and_changes_nothing(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    promoted(app, emulated)
    plan_doc["route53"]["records"][1]["set_identifiers"]["us-west-2"] = "nope"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(
        PreconditionFailed, match=re.escape("inference.recsys.example.com. CNAME has no set identifier 'nope'")
    ):
        flip_dns.run(request(plan, emulated, "flip"))
    assert all(r == BEFORE for r in routing(app, emulated).values())


def test_a_missing_zone_fails_clearly(app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    with pytest.raises(PreconditionFailed, match="zone Z0000000000NOTHERE: not found"):
        flip_dns.run(request(plan, emulated, "flip"))


def test_a_record_of_the_wrong_policy_is_refused(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    promoted(app, emulated)
    plan_doc["route53"]["routing_policy"] = "failover"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="is not a failover record"):
        flip_dns.run(request(plan, emulated, "flip"))
    assert all(r == BEFORE for r in routing(app, emulated).values())


def test_status_without_a_change_has_nothing_to_wait_for(app: RecoveryPlan, emulated: ClientFactory) -> None:
    assert flip_dns.run(request(app, emulated, "status")).done
    with pytest.raises(InputInvalid, match="change_id"):
        flip_dns.run(request(app, emulated, "status", change_id="../../etc"))
