"""flip_dns, fast: Route 53 in moto, the Aurora writer in the in-process global database. Plans with weights other
than 100, the failover routing policy, and a database whose promotion is still under way."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import flip_dns as step
from failover_controller.steps.base import Mode
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.requests import request


def dns_plan(doc: dict[str, Any], f: ClientFactory, *, policy: str = "weighted", weight: int = 100) -> RecoveryPlan:
    doc["route53"]["routing_policy"] = policy
    doc["route53"]["active_weight"] = weight
    return parse_plan(world.with_zone(doc, world.create_route53(doc, f, "us-west-2")))


def routing(plan: RecoveryPlan, f: ClientFactory) -> list[dict[str, Any]]:
    return list(world.dns_routing(plan, f).values())


def sets(plan: RecoveryPlan, f: ClientFactory) -> dict[str, dict[str, Any]]:
    rrs = f.route53("us-west-2").list_resource_record_sets(HostedZoneId=plan.hosted_zone_id)["ResourceRecordSets"]
    return {r["SetIdentifier"]: dict(r) for r in rrs if "SetIdentifier" in r}


@pytest.mark.parametrize("weight", [100, 37, 1, 255])
def test_flip_gives_the_target_the_plans_weight_and_the_source_none(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase, weight: int
) -> None:
    plan = dns_plan(plan_doc, f, weight=weight)
    assert routing(plan, f) == [{"us-east-1": weight, "us-west-2": 0}] * 2
    db.writer_region = "us-west-2"
    kept = {k: {x: v[x] for x in ("TTL", "ResourceRecords", "HealthCheckId")} for k, v in sets(plan, f).items()}
    result = step.run(request(plan, f, "flip"))
    assert routing(plan, f) == [{"us-east-1": 0, "us-west-2": weight}] * 2
    assert {k: {x: v[x] for x in ("TTL", "ResourceRecords", "HealthCheckId")} for k, v in sets(plan, f).items()} == kept
    assert result.changed
    (action,) = result.actions
    assert (result.step, action.api, action.region, action.performed) == (
        "flip_dns",
        "route53:ChangeResourceRecordSets",
        "us-west-2",
        True,
    )
    assert set(action.params) == {"HostedZoneId", "ChangeBatch"}
    assert action.params["HostedZoneId"] == plan.hosted_zone_id
    assert action.params["ChangeBatch"]["Comment"] == "failover-controller: recsys to us-west-2 (graceful)"
    assert len(action.params["ChangeBatch"]["Changes"]) == 4
    assert action.response == {"change_id": result.after["change_id"], "status": "INSYNC"}
    assert result.done is True
    assert result.after["change_id"]
    assert result.message.startswith("changed 4 record set(s) toward us-west-2: change ")


def test_flip_with_the_failover_policy_makes_the_target_primary(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan = dns_plan(plan_doc, f, policy="failover")
    db.writer_region = "us-west-2"
    step.run(request(plan, f, "flip"))
    assert routing(plan, f) == [{"us-east-1": "SECONDARY", "us-west-2": "PRIMARY"}] * 2


def test_only_the_records_not_yet_moved_change(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan = dns_plan(plan_doc, f, weight=40)
    db.writer_region = "us-west-2"
    record = sets(plan, f)["recsys-api-usw2"]
    f.route53("us-west-2").change_resource_record_sets(
        HostedZoneId=plan.hosted_zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {**record, "Weight": 40}}]},  # type: ignore[typeddict-item]
    )
    result = step.run(request(plan, f, "flip"))
    changed = [c["ResourceRecordSet"]["SetIdentifier"] for c in result.actions[0].params["ChangeBatch"]["Changes"]]
    assert sorted(changed) == ["recsys-api-use1", "recsys-inference-use1", "recsys-inference-usw2"]
    assert routing(plan, f) == [{"us-east-1": 0, "us-west-2": 40}] * 2


def test_a_second_flip_changes_nothing(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan = dns_plan(plan_doc, f)
    db.writer_region = "us-west-2"
    step.run(request(plan, f, "flip"))
    again = step.run(request(plan, f, "flip"))
    assert not again.changed
    assert again.actions == []
    assert again.after["change_id"] is None
    assert again.message == "DNS already sends traffic to us-west-2; nothing to do"


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_dns_waits_for_the_database_while_its_promotion_is_under_way(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase, mode: Mode
) -> None:
    plan = dns_plan(plan_doc, f, weight=50)
    db.start("SwitchoverGlobalCluster" if mode == "graceful" else "FailoverGlobalCluster", "us-west-2")
    with pytest.raises(PreconditionFailed, match="DNS must follow the database"):
        step.run(request(plan, f, "flip", mode=mode))
    assert routing(plan, f) == [{"us-east-1": 50, "us-west-2": 0}] * 2


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_plans_the_batch_and_changes_nothing_even_before_the_database_moved(
    plan_doc: dict[str, Any], f: ClientFactory, mode: Mode
) -> None:
    plan = dns_plan(plan_doc, f, weight=10)
    result = step.run(request(plan, f, "flip", dry_run=True, mode=mode))
    assert routing(plan, f) == [{"us-east-1": 10, "us-west-2": 0}] * 2
    assert [(a.api, a.performed) for a in result.actions] == [("route53:ChangeResourceRecordSets", False)]
    weights = {
        c["ResourceRecordSet"]["SetIdentifier"]: c["ResourceRecordSet"]["Weight"]
        for c in result.actions[0].params["ChangeBatch"]["Changes"]
    }
    assert weights == {
        "recsys-api-use1": 0,
        "recsys-api-usw2": 10,
        "recsys-inference-use1": 0,
        "recsys-inference-usw2": 10,
    }
    assert result.after["change_id"] is None
    assert not result.changed
    assert result.message == "dry run: would change 4 record set(s) toward us-west-2"


def test_a_missing_set_identifier_is_named_and_nothing_changes(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan = dns_plan(plan_doc, f)
    plan_doc = world.with_zone(plan_doc, plan.hosted_zone_id)
    plan_doc["route53"]["records"][1]["set_identifiers"]["us-west-2"] = "nowhere"
    db.writer_region = "us-west-2"
    with pytest.raises(PreconditionFailed, match="has no set identifier 'nowhere' \\(us-west-2\\)"):
        step.run(request(parse_plan(plan_doc), f, "flip"))
    assert routing(plan, f) == [{"us-east-1": 100, "us-west-2": 0}] * 2


def test_a_record_of_another_policy_is_refused(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan = dns_plan(plan_doc, f, policy="failover")
    plan_doc = world.with_zone(plan_doc, plan.hosted_zone_id)
    plan_doc["route53"]["routing_policy"] = "weighted"
    db.writer_region = "us-west-2"
    with pytest.raises(PreconditionFailed, match="'recsys-api-use1' is not a weighted record"):
        step.run(request(parse_plan(plan_doc), f, "flip"))


def test_status_follows_the_change_and_refuses_what_is_not_a_change_id(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan = dns_plan(plan_doc, f)
    db.writer_region = "us-west-2"
    change_id = step.run(request(plan, f, "flip")).after["change_id"]
    status = step.run(request(plan, f, "status", change_id=change_id))
    assert status.done
    assert status.after == {"change_id": change_id, "status": "INSYNC"}
    assert status.message == f"change {change_id} is INSYNC"
    assert step.run(request(plan, f, "status", change_id=f"/change/{change_id}")).done
    with pytest.raises(InputInvalid, match="is not a Route 53 change id"):
        step.run(request(plan, f, "status", change_id="../hostedzone/x"))
    with pytest.raises(InputInvalid) as e:
        step.run(request(plan, f, "status", change_id="a/b"))
    assert str(e.value) == "step input is invalid: change_id: 'a/b' is not a Route 53 change id"
    with pytest.raises(PreconditionFailed, match=r"^Route 53 change C0NOSUCHCHANGE: not found"):
        step.run(request(plan, f, "status", change_id="C0NOSUCHCHANGE"))
    nothing = step.run(request(plan, f, "status"))
    assert nothing.step == "flip_dns"
    assert nothing.done
    assert nothing.message == "no change to wait for"


def test_a_change_that_does_not_read_back_fails_the_step(
    plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan = dns_plan(plan_doc, f)
    db.writer_region = "us-west-2"
    r53 = f.route53("us-west-2")
    r53.meta.events.register("before-call.route53.ChangeResourceRecordSets", _accept_and_ignore)
    with pytest.raises(StepFailed, match="was accepted but the records do not read as intended"):
        step.run(request(plan, f, "flip"))


def _accept_and_ignore(**_: Any) -> Any:
    return aws_like._answer({"ChangeInfo": {"Id": "/change/C0LOST", "Status": "PENDING", "SubmittedAt": "2026-01-01"}})


def test_a_change_still_pending_is_not_done(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan = dns_plan(plan_doc, f)
    db.writer_region = "us-west-2"
    r53 = f.route53("us-west-2")
    r53.meta.events.register("after-call.route53.ChangeResourceRecordSets", _pending)
    result = step.run(request(plan, f, "flip"))
    assert result.done is False
    assert result.actions[0].response["status"] == "PENDING"
    assert routing(plan, f) == [{"us-east-1": 0, "us-west-2": 100}] * 2


def _pending(parsed: dict[str, Any], **_: Any) -> None:
    parsed["ChangeInfo"]["Status"] = "PENDING"


def test_failback_flips_the_other_way(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan = dns_plan(plan_doc, f, weight=60)
    db.writer_region = "us-west-2"
    step.run(request(plan, f, "flip"))
    db.writer_region = "us-east-1"
    back = step.run(request(plan, f, "flip", target="us-east-1"))
    assert routing(plan, f) == [{"us-east-1": 60, "us-west-2": 0}] * 2
    assert back.actions[0].region == "us-east-1"


def test_a_missing_zone_is_named(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    db.writer_region = "us-west-2"
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    with pytest.raises(PreconditionFailed, match="zone Z0000000000NOTHERE: not found"):
        step.run(request(plan, f, "flip"))
