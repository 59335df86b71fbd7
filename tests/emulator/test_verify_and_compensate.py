"""verify and compensate against the emulated world: the invariant is that writes and DNS follow the writer."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import VerificationFailed
from failover_controller.plan import RecoveryPlan
from failover_controller.reads import route53
from failover_controller.steps import (
    compensate,
    flip_dns,
    promote_aurora,
    shift_sagemaker_traffic,
    switch_dynamodb_writes,
    verify,
)
from failoverctl.drill import world
from tests.support.requests import request

pytestmark = pytest.mark.emulator


def fail_over(app: RecoveryPlan, f: ClientFactory) -> None:
    promote_aurora.run(request(app, f, "promote"))
    shift_sagemaker_traffic.run(request(app, f, "scale_target"))
    switch_dynamodb_writes.run(request(app, f, "switch"))
    shift_sagemaker_traffic.run(request(app, f, "shift_weights"))
    flip_dns.run(request(app, f, "flip"))


def test_verify_passes_after_the_whole_runbook(app: RecoveryPlan, emulated: ClientFactory) -> None:
    fail_over(app, emulated)
    result = verify.run(request(app, emulated, "check"))
    assert {c.name: c.verdict for c in result.checks} == {
        "aurora.writer": "pass",
        "dynamodb.write_region": "pass",
        "sagemaker.active": "pass",
        "route53.routes_to_target": "pass",
    }


def test_verify_names_everything_that_did_not_happen(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    with pytest.raises(VerificationFailed) as info:
        verify.run(request(app, emulated, "check"))
    message = info.value.message
    assert "aurora.writer" not in message
    assert "dynamodb.write_region /recsys/write-region: observed 'us-east-1', wanted 'us-west-2'" in message
    assert "sagemaker.active" in message
    assert "route53.routes_to_target" in message


def test_verify_in_a_dry_run_reports_without_failing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    result = verify.run(request(app, emulated, "check", dry_run=True))
    assert "dry run" in result.message
    assert [c.verdict for c in result.checks].count("fail") == 4


def test_failure_before_promotion_rolls_writes_and_dns_back_to_the_source(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    before = world.snapshot(app, emulated)
    # The mixed state a compensation must repair: writes and DNS sent to us-west-2 while the database stayed
    # in us-east-1 (the steps themselves refuse this now; a person, or an older controller, could do it).
    for region in app.regions:
        emulated.ssm(region).put_parameter(Name=app.write_region_parameter, Value="us-west-2", Overwrite=True)
    changes: Any = route53.changes_toward(request(app, emulated, "flip"))
    emulated.route53("us-west-2").change_resource_record_sets(
        HostedZoneId=app.hosted_zone_id, ChangeBatch={"Changes": changes}
    )
    assert world.snapshot(app, emulated)["dns"]["api.recsys.example.com."] == {"us-east-1": 0, "us-west-2": 100}
    result = compensate.run(request(app, emulated, "align"))
    assert result.after == {"writer_region": "us-east-1", "needs_attention": []}
    assert result.changed
    after = world.snapshot(app, emulated)
    assert after["aurora_writer"] == "us-east-1"
    assert after["write_region"] == before["write_region"]
    assert after["dns"] == before["dns"]


def test_failure_after_promotion_aligns_writes_and_dns_to_the_new_writer(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    result = compensate.run(request(app, emulated, "align"))
    assert result.after["writer_region"] == "us-west-2"
    after = world.snapshot(app, emulated)
    assert after["write_region"] == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert after["dns"]["api.recsys.example.com."] == {"us-east-1": 0, "us-west-2": 100}


def test_compensation_of_a_consistent_world_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    before = world.snapshot(app, emulated)
    result = compensate.run(request(app, emulated, "align"))
    assert not result.changed
    assert result.actions == []
    assert world.snapshot(app, emulated) == before


def test_ungraceful_compensation_leaves_the_unreachable_source_alone(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    emulated.ssm("us-west-2").put_parameter(Name=app.write_region_parameter, Value="us-west-2", Overwrite=True)
    compensate.run(request(app, emulated, "align", mode="ungraceful"))
    assert world.snapshot(app, emulated)["write_region"] == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}
    assert [a.region for a in compensate.run(request(app, emulated, "align", mode="ungraceful")).actions] == []
