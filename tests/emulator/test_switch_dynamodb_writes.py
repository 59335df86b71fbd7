"""switch_dynamodb_writes against ministack (moto does not model global table replicas)."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import promote_aurora
from failover_controller.steps import switch_dynamodb_writes as step
from failoverctl.drill import world
from tests.support.requests import request

pytestmark = pytest.mark.emulator


def write_regions(plan: RecoveryPlan, f: ClientFactory) -> dict[str, str | None]:
    return {r: world.write_region(plan, f, r) for r in plan.regions}


def test_graceful_switch_points_both_regions_at_the_target(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    result = step.run(request(app, emulated, "switch"))
    assert result.changed
    assert [(a.region, a.params["previous"]) for a in result.actions] == [
        ("us-west-2", "us-east-1"),
        ("us-east-1", "us-east-1"),
    ]
    assert write_regions(app, emulated) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}


def test_second_switch_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    step.run(request(app, emulated, "switch"))
    versions = emulated.ssm("us-west-2").get_parameter(Name=app.write_region_parameter)["Parameter"]["Version"]
    again = step.run(request(app, emulated, "switch"))
    assert not again.changed
    assert again.actions == []
    after = emulated.ssm("us-west-2").get_parameter(Name=app.write_region_parameter)["Parameter"]["Version"]
    assert after == versions


def test_a_crash_between_the_two_writes_is_finished_by_the_rerun(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    emulated.ssm("us-west-2").put_parameter(Name=app.write_region_parameter, Value="us-west-2", Overwrite=True)
    result = step.run(request(app, emulated, "switch"))
    assert [a.region for a in result.actions] == ["us-east-1"]
    assert write_regions(app, emulated) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}


def test_ungraceful_switch_touches_only_the_target_region(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    result = step.run(request(app, emulated, "switch", mode="ungraceful"))
    assert [a.region for a in result.actions] == ["us-west-2"]
    assert "was not touched" in result.message
    assert write_regions(app, emulated) == {"us-east-1": "us-east-1", "us-west-2": "us-west-2"}


def test_dry_run_reports_and_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    result = step.run(request(app, emulated, "switch", dry_run=True))
    assert not result.changed
    assert [a.performed for a in result.actions] == [False, False]
    assert write_regions(app, emulated) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_a_table_without_a_replica_in_the_target_fails_and_changes_nothing(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["dynamodb"]["tables"].append("recsys-not-replicated")
    emulated.dynamodb("us-east-1").create_table(
        TableName="recsys-not-replicated",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="DynamoDB table recsys-not-replicated in us-west-2: not found"):
        step.run(request(plan, emulated, "switch"))
    assert write_regions(app, emulated) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_a_missing_write_region_parameter_fails_and_changes_nothing(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["dynamodb"]["write_region_parameter"] = "/recsys/nope"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="/recsys/nope does not exist in us-west-2, us-east-1"):
        step.run(request(plan, emulated, "switch"))
    assert write_regions(app, emulated) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_writes_are_never_sent_to_a_region_whose_database_is_read_only(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    with pytest.raises(PreconditionFailed, match="writes must follow the database: the Aurora writer is in us-east-1"):
        step.run(request(app, emulated, "switch"))
    assert write_regions(app, emulated) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}
