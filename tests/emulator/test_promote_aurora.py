"""promote_aurora against ministack, which implements global cluster switchover and failover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import promote_aurora as step
from failoverctl.drill import emulators, world
from tests.support.requests import request

pytestmark = pytest.mark.emulator


def writer(plan: RecoveryPlan, f: ClientFactory) -> str | None:
    return world.aurora_writer_region(plan, f, "us-west-2")


def test_graceful_switchover_makes_the_target_the_writer(app: RecoveryPlan, emulated: ClientFactory) -> None:
    assert writer(app, emulated) == "us-east-1"
    result = step.run(request(app, emulated, "promote"))
    assert result.changed
    assert result.actions[0].api == "rds:SwitchoverGlobalCluster"
    assert result.actions[0].params["TargetDbClusterIdentifier"].endswith(":cluster:recsys-metadata-usw2")
    assert writer(app, emulated) == "us-west-2"
    assert step.run(request(app, emulated, "status")).done


def test_second_promote_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    step.run(request(app, emulated, "promote"))
    again = step.run(request(app, emulated, "promote"))
    assert not again.changed
    assert again.actions == []
    assert "already is the writer" in again.message
    assert writer(app, emulated) == "us-west-2"


def test_dry_run_reports_the_call_and_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    result = step.run(request(app, emulated, "promote", dry_run=True))
    assert not result.changed
    assert [a.api for a in result.actions] == ["rds:SwitchoverGlobalCluster"]
    assert not result.actions[0].performed
    assert writer(app, emulated) == "us-east-1"
    with pytest.raises(StepFailed, match="no promotion is under way"):
        step.run(request(app, emulated, "status"))
    assert step.run(request(app, emulated, "status", dry_run=True)).done


def test_ungraceful_failover_within_rpo_allows_data_loss(app: RecoveryPlan, emulated: ClientFactory) -> None:
    result = step.run(request(app, emulated, "promote", mode="ungraceful"))
    assert result.actions[0].api == "rds:FailoverGlobalCluster"
    assert result.actions[0].params["AllowDataLoss"] is True
    assert result.before["rpo_exposure_ms"] == 120.0
    assert result.before["rpo_budget_ms"] == 60_000
    assert writer(app, emulated) == "us-west-2"


def test_ungraceful_failover_beyond_rpo_is_refused_and_changes_nothing(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    world.put_replication_lag(app, emulated, "us-west-2", 90_000)
    with pytest.raises(PreconditionFailed, match="replication lag 90000 ms exceeds the plan's RPO of 60000 ms"):
        step.run(request(app, emulated, "promote", mode="ungraceful"))
    assert writer(app, emulated) == "us-east-1"


def test_ungraceful_failover_beyond_rpo_runs_when_forced_and_says_so(
    app: RecoveryPlan, emulated: ClientFactory
) -> None:
    world.put_replication_lag(app, emulated, "us-west-2", 90_000)
    result = step.run(request(app, emulated, "promote", mode="ungraceful", force_beyond_rpo=True))
    assert result.message.startswith("FORCED beyond RPO")
    assert writer(app, emulated) == "us-west-2"


def test_failback_switches_the_writer_back(app: RecoveryPlan, emulated: ClientFactory) -> None:
    step.run(request(app, emulated, "promote"))
    step.run(request(app, emulated, "promote", target="us-east-1"))
    assert writer(app, emulated) == "us-east-1"


def test_a_plan_naming_a_missing_global_cluster_fails_clearly(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["aurora"]["global_cluster_id"] = "no-such-global"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="global cluster no-such-global: not found"):
        step.run(request(plan, emulated, "promote"))
    assert writer(app, emulated) == "us-east-1"


def test_a_cluster_outside_the_global_cluster_is_refused(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    emulated.rds("us-west-2").create_db_cluster(
        DBClusterIdentifier="lonely",
        Engine="aurora-postgresql",
        MasterUsername="u",
        MasterUserPassword="not-a-secret-0",
    )
    plan_doc["aurora"]["clusters"]["us-west-2"] = "lonely"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(PreconditionFailed, match="lonely is not a member of global cluster"):
        step.run(request(plan, emulated, "promote"))
    assert writer(app, emulated) == "us-east-1"


# On the time-scaled world (the drill's outage proxy), a promotion takes its time: a step that read the writer as
# moved right after asking would fail here.


@pytest.fixture
def slow(emulator_pair: emulators.Emulators, app: RecoveryPlan) -> Iterator[float]:
    emulators.outage_time(emulator_pair.proxy_url, 60)  # a 120 s switchover takes 2 s, unseen for its first 1 s
    yield 60.0
    emulators.outage_time(emulator_pair.proxy_url, 0)


def test_a_switchover_is_under_way_before_the_writer_moves(
    app: RecoveryPlan, emulated: ClientFactory, slow: float
) -> None:
    result = step.run(request(app, emulated, "promote"))
    promoted_at = datetime.now(UTC).isoformat()
    assert (result.changed, result.done) == (True, False)
    assert result.after["operation_status"] == "pending", "read from the operation's own answer"
    assert writer(app, emulated) == "us-east-1", "AWS moves the writer at the end of the switchover"
    unseen = step.run(request(app, emulated, "status", promoted_at=promoted_at))
    assert not unseen.done
    assert "does not show in DescribeGlobalClusters yet" in unseen.message, "no read-after-write: a wait"
    deadline = time.monotonic() + 10
    while (seen := step.run(request(app, emulated, "status", promoted_at=promoted_at))).after[
        "operation_status"
    ] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert seen.after["operation_status"] in ("pending", "switching-over")
    again = step.run(request(app, emulated, "promote"))
    assert again.actions == [], "the promotion under way is waited for, never sent twice"
    deadline = time.monotonic() + 10
    while not step.run(request(app, emulated, "status", promoted_at=promoted_at)).done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer(app, emulated) == "us-west-2"
