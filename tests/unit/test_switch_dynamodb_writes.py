"""switch_dynamodb_writes, fast: the write-region parameter in moto's SSM, the global tables' replicas as DynamoDB
describes them (tests/support/global_tables.py), the Aurora writer in the in-process global database."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import switch_dynamodb_writes as step
from failover_controller.steps.base import Mode
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.global_tables import GlobalTables
from tests.support.requests import request


@pytest.fixture
def plan(plan_doc: dict[str, Any]) -> RecoveryPlan:
    return parse_plan(plan_doc)


@pytest.fixture(autouse=True)
def parameters(plan: RecoveryPlan, f: ClientFactory) -> None:
    for region in plan.regions:
        f.ssm(region).put_parameter(Name=plan.write_region_parameter, Value="us-east-1", Type="String")


def written(plan: RecoveryPlan, f: ClientFactory) -> dict[str, str | None]:
    return {r: world.write_region(plan, f, r) for r in plan.regions}


def version(plan: RecoveryPlan, f: ClientFactory, region: str) -> int:
    return int(f.ssm(region).get_parameter(Name=plan.write_region_parameter)["Parameter"]["Version"])


@pytest.fixture
def promoted(db: GlobalDatabase) -> GlobalDatabase:
    db.writer_region = "us-west-2"
    return db


def test_graceful_points_both_regions_at_the_target_target_first(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    result = step.run(request(plan, f, "switch"))
    assert written(plan, f) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert [(a.region, a.params["previous"], a.performed) for a in result.actions] == [
        ("us-west-2", "us-east-1", True),
        ("us-east-1", "us-east-1", True),
    ]
    assert result.changed
    assert result.message == "writes now go to us-west-2; previous value us-west-2=us-east-1, us-east-1=us-east-1"
    assert result.step == "switch_dynamodb_writes"
    assert [a.api for a in result.actions] == ["ssm:PutParameter"] * 2
    assert result.actions[0].params == {
        "Name": "/recsys/write-region",
        "Value": "us-west-2",
        "Overwrite": True,
        "previous": "us-east-1",
    }
    assert [a.response for a in result.actions] == [{"Version": 2}, {"Version": 2}]


def test_a_second_switch_writes_nothing(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    step.run(request(plan, f, "switch"))
    before = {r: version(plan, f, r) for r in plan.regions}
    again = step.run(request(plan, f, "switch"))
    assert {r: version(plan, f, r) for r in plan.regions} == before
    assert not again.changed
    assert again.actions == []
    assert again.message == "writes already go to us-west-2; nothing to do"
    assert again.after == again.before


def test_a_crash_between_the_two_writes_is_finished_by_the_rerun(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    f.ssm("us-west-2").put_parameter(Name=plan.write_region_parameter, Value="us-west-2", Overwrite=True)
    result = step.run(request(plan, f, "switch"))
    assert [a.region for a in result.actions] == ["us-east-1"]
    assert version(plan, f, "us-west-2") == 2
    assert written(plan, f) == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}


def test_ungraceful_touches_only_the_target_and_says_so(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    result = step.run(request(plan, f, "switch", mode="ungraceful"))
    assert written(plan, f) == {"us-east-1": "us-east-1", "us-west-2": "us-west-2"}
    assert [a.region for a in result.actions] == ["us-west-2"]
    assert result.message.endswith(
        " (ungraceful: us-east-1's copy of the parameter was not touched; set it on failback)"
    )


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_names_the_writes_and_makes_none(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, mode: Any
) -> None:
    result = step.run(request(plan, f, "switch", mode=mode, dry_run=True))
    assert written(plan, f) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}
    regions = "us-west-2, us-east-1" if mode == "graceful" else "us-west-2"
    assert result.message.startswith(f"dry run: would set /recsys/write-region to us-west-2 in {regions}")
    assert not result.changed
    assert not any(a.performed for a in result.actions)
    assert result.after == result.before


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_writes_wait_for_the_database_while_its_promotion_is_under_way(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, db: GlobalDatabase, mode: Mode
) -> None:
    if mode == "graceful":
        db.start("SwitchoverGlobalCluster", "us-west-2", status="switching-over")
    else:
        db.start("FailoverGlobalCluster", "us-west-2", status="failing-over")
    with pytest.raises(PreconditionFailed, match="writes must follow the database"):
        step.run(request(plan, f, "switch", mode=mode))
    assert written(plan, f) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_writes_never_go_where_the_database_is_read_only(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, db: GlobalDatabase
) -> None:
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in us-east-1, not us-west-2"):
        step.run(request(plan, f, "switch"))
    assert written(plan, f) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_every_table_not_ready_is_named_and_nothing_is_written(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    tables.status["recsys-features"]["us-west-2"] = "UPDATING"
    del tables.status["recsys-sessions"]["us-east-1"]
    with pytest.raises(PreconditionFailed) as e:
        step.run(request(plan, f, "switch"))
    assert str(e.value).endswith(
        "DynamoDB replicas not ready: recsys-features is UPDATING in us-west-2; "
        "recsys-sessions has no replica in us-east-1 (not a global table pair)"
    )
    assert written(plan, f) == {"us-east-1": "us-east-1", "us-west-2": "us-east-1"}


def test_a_missing_parameter_is_named_and_nothing_is_written(
    plan: RecoveryPlan, f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    f.ssm("us-east-1").delete_parameter(Name=plan.write_region_parameter)
    f.ssm("us-west-2").delete_parameter(Name=plan.write_region_parameter)
    with pytest.raises(PreconditionFailed, match=r"/recsys/write-region does not exist in us-west-2, us-east-1$"):
        step.run(request(plan, f, "switch"))
    assert written(plan, f) == {"us-east-1": None, "us-west-2": None}


def test_a_missing_table_is_named(
    plan_doc: dict[str, Any], f: ClientFactory, tables: GlobalTables, promoted: GlobalDatabase
) -> None:
    plan_doc["dynamodb"]["tables"].append("recsys-gone")
    with pytest.raises(PreconditionFailed, match="DynamoDB table recsys-gone in us-west-2: not found"):
        step.run(request(parse_plan(plan_doc), f, "switch"))


def test_a_write_that_does_not_read_back_fails_the_step(
    plan: RecoveryPlan, f: ClientFactory, promoted: GlobalDatabase
) -> None:
    f.ssm("us-east-1").meta.events.register("before-call.ssm.PutParameter", _accept_and_ignore)
    with pytest.raises(StepFailed) as e:
        step.run(request(plan, f, "switch"))
    assert (
        str(e.value)
        == "write-region parameter /recsys/write-region still reads {'us-east-1': 'us-east-1'} after the update"
    )


def test_a_refused_write_names_the_parameter_and_the_region(
    plan: RecoveryPlan, f: ClientFactory, promoted: GlobalDatabase
) -> None:
    f.ssm("us-west-2").meta.events.register("before-call.ssm.PutParameter", _denied)
    with pytest.raises(Exception, match=r"^SSM PutParameter /recsys/write-region in us-west-2: "):
        step.run(request(plan, f, "switch"))


def _accept_and_ignore(**_: Any) -> Any:
    return aws_like._answer({"Version": 9, "Tier": "Standard"})


def _denied(**_: Any) -> Any:
    return aws_like._error("AccessDeniedException", "not authorized to perform: ssm:PutParameter", 400)
