"""verify and compensate, fast: the invariant is that writes and DNS follow the Aurora writer. The world is the
whole sample application (moto, the in-process global database and global tables)."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import VerificationFailed
from failover_controller.plan import RecoveryPlan
from failover_controller.reads import route53
from failover_controller.steps import compensate, flip_dns, shift_sagemaker_traffic, switch_dynamodb_writes, verify
from failover_controller.steps.base import Mode
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.requests import request

AWAY = {"us-east-1": 100, "us-west-2": 0}
HERE = {"us-east-1": 0, "us-west-2": 100}


def fail_over(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.writer_region = "us-west-2"
    for _ in range(3):
        if shift_sagemaker_traffic.run(request(app, f, "scale_target")).done:
            break
    switch_dynamodb_writes.run(request(app, f, "switch"))
    shift_sagemaker_traffic.run(request(app, f, "shift_weights"))
    flip_dns.run(request(app, f, "flip"))


def dns(app: RecoveryPlan, f: ClientFactory) -> list[Any]:
    return list(world.dns_routing(app, f).values())


def written(app: RecoveryPlan, f: ClientFactory) -> dict[str, str | None]:
    return {r: world.write_region(app, f, r) for r in app.regions}


def mixed(app: RecoveryPlan, f: ClientFactory) -> None:
    """Writes and DNS sent to us-west-2 while the database stayed in us-east-1 (the steps refuse this; a person,
    or an older controller, could do it)."""
    for region in app.regions:
        f.ssm(region).put_parameter(Name=app.write_region_parameter, Value="us-west-2", Overwrite=True)
    changes: Any = route53.changes_toward(request(app, f, "flip"))
    f.route53("us-west-2").change_resource_record_sets(
        HostedZoneId=app.hosted_zone_id, ChangeBatch={"Changes": changes}
    )


# verify


def test_verify_passes_after_the_whole_runbook(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    fail_over(app, f, db)
    result = verify.run(request(app, f, "check"))
    assert {c.name: c.verdict for c in result.checks} == {
        "aurora.writer": "pass",
        "dynamodb.write_region": "pass",
        "sagemaker.active": "pass",
        "route53.routes_to_target": "pass",
    }
    assert result.message == "verified: recsys is served from us-west-2"
    assert result.step == "verify"
    route = next(c for c in result.checks if c.name == "route53.routes_to_target")
    assert (route.observed, route.threshold, route.detail) == (0, 0, "")
    assert result.after == {"verdicts": {c.name: "pass" for c in result.checks}}


def test_verify_names_each_thing_that_did_not_happen(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.writer_region = "us-west-2"
    with pytest.raises(VerificationFailed) as e:
        verify.run(request(app, f, "check"))
    message = e.value.message
    assert message.startswith("the failover did not verify: dynamodb.write_region /recsys/write-region: ")
    assert "aurora.writer" not in message
    assert "observed 'us-east-1', wanted 'us-west-2'" in message
    assert "sagemaker.active recsys-ranker-usw2: observed {'status': 'InService'" in message
    assert f"route53.routes_to_target {app.hosted_zone_id}: observed 4, wanted 0" in message
    assert "'us-west-2'; sagemaker.active recsys-ranker-usw2: " in message
    endpoint = next(c for c in e.value.details["checks"] if c["name"] == "sagemaker.active")
    assert endpoint["observed"]["status"] == "InService"
    assert endpoint["observed"]["variants"]["ranker"]["current_instance_count"] == 1
    assert endpoint["threshold"] == {"ranker": {"weight": 1.0, "at_least": 4}}
    verdicts = {c["name"]: c["verdict"] for c in e.value.details["checks"]}
    assert verdicts == {
        "aurora.writer": "pass",
        "dynamodb.write_region": "fail",
        "sagemaker.active": "fail",
        "route53.routes_to_target": "fail",
    }


def test_verify_fails_while_the_promotion_is_still_under_way(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    fail_over(app, f, db)
    db.writer_region = "us-east-1"
    db.start("SwitchoverGlobalCluster", "us-west-2")
    with pytest.raises(VerificationFailed) as e:
        verify.run(request(app, f, "check"))
    assert e.value.message == (
        "the failover did not verify: aurora.writer recsys-metadata-global: observed "
        "'arn:aws:rds:us-east-1:123456789012:cluster:recsys-metadata-use1', "
        "wanted 'arn:aws:rds:us-west-2:123456789012:cluster:recsys-metadata-usw2' "
        "(an operation is under way: switching-over)"
    )


def test_verify_says_why_a_writer_in_the_target_is_not_promoted(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    """Another controller fails the database back: the writer is still ours, but on its way out."""
    fail_over(app, f, db)
    db.start("SwitchoverGlobalCluster", "us-east-1")
    with pytest.raises(VerificationFailed) as e:
        verify.run(request(app, f, "check"))
    usw2 = "'arn:aws:rds:us-west-2:123456789012:cluster:recsys-metadata-usw2'"
    assert e.value.message == (
        f"the failover did not verify: aurora.writer recsys-metadata-global: observed {usw2}, wanted {usw2} "
        "(an operation is under way: switching-over)"
    )


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_verify_in_a_dry_run_reports_the_world_without_failing(app: RecoveryPlan, f: ClientFactory, mode: Mode) -> None:
    result = verify.run(request(app, f, "check", dry_run=True, mode=mode))
    assert result.message == "dry run: nothing was changed; the checks show the world as it is"
    assert {c.name: c.verdict for c in result.checks} == {
        "aurora.writer": "fail",
        "dynamodb.write_region": "fail",
        "sagemaker.active": "fail",
        "route53.routes_to_target": "fail",
    }
    route = next(c for c in result.checks if c.name == "route53.routes_to_target")
    assert route.detail == "4 record set(s) still route elsewhere"


# compensate


def test_a_failure_before_the_promotion_rolls_writes_and_dns_back_to_the_source(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    mixed(app, f)
    result = compensate.run(request(app, f, "align"))
    assert written(app, f) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}
    assert dns(app, f) == [AWAY, AWAY]
    assert result.after == {"writer_region": "us-east-1", "needs_attention": []}
    assert result.changed
    assert result.message == "writes and DNS aligned to the Aurora writer in us-east-1"
    assert (result.step, result.before["writer_region"], result.before["aurora"]["writer_region"]) == (
        "compensate",
        "us-east-1",
        "us-east-1",
    )
    puts = [(a.api, a.region, a.params, a.performed) for a in result.actions if a.api == "ssm:PutParameter"]
    assert puts == [
        ("ssm:PutParameter", r, {"Name": "/recsys/write-region", "Value": "us-east-1", "previous": "us-west-2"}, True)
        for r in ("us-west-2", "us-east-1")
    ]
    assert [a.api for a in result.actions][-1] == "route53:ChangeResourceRecordSets"


def test_a_failure_after_the_promotion_aligns_writes_and_dns_to_the_new_writer(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = "us-west-2"
    result = compensate.run(request(app, f, "align"))
    assert result.after == {"writer_region": "us-west-2", "needs_attention": []}
    assert written(app, f) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert dns(app, f) == [HERE, HERE]


def test_compensation_of_a_consistent_world_changes_nothing(app: RecoveryPlan, f: ClientFactory) -> None:
    before = world.snapshot(app, f) | {"aurora_writer": None}
    result = compensate.run(request(app, f, "align"))
    assert not result.changed
    assert result.actions == []
    assert world.snapshot(app, f) | {"aurora_writer": None} == before


def test_compensation_while_the_promotion_is_under_way_changes_nothing_and_asks_for_a_person(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    mixed(app, f)
    db.start("FailoverGlobalCluster", "us-west-2", status="failing-over")
    result = compensate.run(request(app, f, "align"))
    assert result.after == {
        "writer_region": None,
        "needs_attention": ["the Aurora promotion is still under way; align writes and DNS once it completes"],
    }
    assert result.message == "the Aurora promotion is still under way; align writes and DNS once it completes"
    assert not result.changed
    assert result.before["writer_region"] is None
    assert written(app, f) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_compensates_nothing(app: RecoveryPlan, f: ClientFactory, mode: Mode) -> None:
    mixed(app, f)
    result = compensate.run(request(app, f, "align", dry_run=True, mode=mode))
    assert result.message == "dry run: nothing was changed, nothing to compensate"
    assert result.before["writer_region"] == "us-east-1"
    assert written(app, f) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert dns(app, f) == [HERE, HERE]


def test_ungraceful_compensation_leaves_the_unreachable_source_alone(app: RecoveryPlan, f: ClientFactory) -> None:
    mixed(app, f)
    result = compensate.run(request(app, f, "align", mode="ungraceful"))
    assert written(app, f) == {"us-east-1": "us-west-2", "us-west-2": "us-east-1"}
    assert [a.region for a in result.actions if a.api == "ssm:PutParameter"] == ["us-west-2"]
    assert dns(app, f) == [AWAY, AWAY]


def test_what_compensation_cannot_do_is_named_and_the_rest_is_done(app: RecoveryPlan, f: ClientFactory) -> None:
    mixed(app, f)
    f.ssm("us-east-1").meta.events.register("before-call.ssm.PutParameter", _denied)
    f.route53("us-west-2").meta.events.register("before-call.route53.ChangeResourceRecordSets", _denied)
    result = compensate.run(request(app, f, "align"))
    attention = result.after["needs_attention"]
    assert [a.split(":")[0] for a in attention] == ["write-region parameter in us-east-1", "DNS toward us-east-1"]
    assert attention[1].startswith(f"DNS toward us-east-1: Route 53 change in zone {app.hosted_zone_id}: ")
    assert "; DNS toward us-east-1: " in result.message
    assert result.message.startswith("compensation incomplete: write-region parameter in us-east-1: ")
    assert written(app, f) == {"us-east-1": "us-west-2", "us-west-2": "us-east-1"}
    assert result.changed


def _denied(**_: Any) -> Any:
    return aws_like._error("AccessDenied", "not authorized", 403)


def test_verify_at_the_traffic_capacity_holds_the_standby_to_what_traffic_needs(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    """Traffic moved at the plan's traffic capacity (the sample's ungraceful: the warm instance) and the standby
    never reached full capacity: the run is verified at what traffic needs, and says so."""
    db.writer_region = "us-west-2"
    switch_dynamodb_writes.run(request(app, f, "switch", mode="ungraceful"))
    flip_dns.run(request(app, f, "flip", mode="ungraceful"))
    reduced = verify.run(request(app, f, "check", mode="ungraceful", capacity="traffic"))
    serving = next(c for c in reduced.checks if c.name == "sagemaker.serving")
    assert (serving.verdict, serving.threshold) == ("pass", {"ranker": {"in_service_at_least": 1}})
    assert (serving.resource, serving.observed["status"]) == ("recsys-ranker-usw2", "InService")
    assert serving.observed["variants"]["ranker"]["current_instance_count"] == 1
    assert reduced.message == "verified: recsys is served from us-west-2 (at the plan's traffic capacity, below full)"
    with pytest.raises(VerificationFailed, match=r"sagemaker\.active recsys-ranker-usw2"):
        verify.run(request(app, f, "check", mode="ungraceful"))
    with pytest.raises(VerificationFailed, match=r"sagemaker\.serving recsys-ranker-usw2"):
        verify.run(request(app, f, "check", mode="graceful", capacity="traffic"))  # graceful: 1.0 of active
