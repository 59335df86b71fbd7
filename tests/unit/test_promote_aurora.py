"""promote_aurora and the split-brain guard, fast: moto for the lag metrics, an in-process global database for RDS
(tests/support/aurora_world.py) whose promotions stay under way until the test finishes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.guards import require_writer
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import promote_aurora as step
from failoverctl.drill import world
from tests.support.aurora_world import GlobalDatabase
from tests.support.requests import request

USW2_ARN = "arn:aws:rds:us-west-2:123456789012:cluster:recsys-metadata-usw2"
USE1_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:recsys-metadata-use1"


@pytest.fixture
def plan(plan_doc: dict[str, Any]) -> RecoveryPlan:
    return parse_plan(plan_doc)


def lag(plan: RecoveryPlan, f: ClientFactory, ms: float) -> None:
    world.put_replication_lag(plan, f, "us-west-2", ms)


# Graceful: a switchover, no data loss, and the poll follows it to the end.


def test_graceful_starts_one_switchover_and_the_poll_follows_it(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    lag(plan, f, 120)
    result = step.run(request(plan, f, "promote"))
    assert [(p.api, p.to_arn, p.data_loss_allowed) for p in db.promotions] == [
        ("SwitchoverGlobalCluster", USW2_ARN, False)
    ]
    assert result.changed
    assert result.actions[0].performed
    assert result.done is False
    assert (result.step, result.actions[0].region) == ("promote_aurora", "us-west-2")
    assert result.after["in_progress_to"] == USW2_ARN
    assert result.before["data_loss_allowed"] is False
    assert "rpo_exposure_ms" not in result.before, "a switchover loses nothing: no RPO guard"
    polled = step.run(request(plan, f, "status"))
    assert polled.done is False
    assert polled.message == "promotion not complete"
    assert (polled.step, polled.after["operation_status"]) == ("promote_aurora", "pending")
    db.finish()
    assert db.writer_region == "us-west-2"
    done = step.run(request(plan, f, "status"))
    assert done.done
    assert done.message == "promotion complete"


def test_graceful_ignores_the_lag_a_switchover_cannot_lose(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    lag(plan, f, 3_600_000)
    step.run(request(plan, f, "promote"))
    assert [p.api for p in db.promotions] == ["SwitchoverGlobalCluster"]


def test_a_promote_while_its_own_promotion_is_under_way_starts_no_second(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    step.run(request(plan, f, "promote"))
    again = step.run(request(plan, f, "promote"))
    assert len(db.promotions) == 1
    assert not again.changed
    assert again.actions == []
    assert not again.done
    assert "already under way (pending)" in again.message


@pytest.mark.parametrize("status", ["pending", "switching-over", "failing-over"])
def test_a_promotion_toward_the_target_started_elsewhere_is_waited_for(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, status: str
) -> None:
    db.start("FailoverGlobalCluster", "us-west-2", status=status)
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert db.promotions == []
    assert result.done is False
    assert result.message == f"a promotion to the target is already under way ({status}); not starting another"
    assert result.before["replication_lag_ms"] is None


def test_an_operation_toward_the_other_region_is_never_overridden(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = "us-west-2"
    db.start("SwitchoverGlobalCluster", "us-east-1")
    with pytest.raises(PreconditionFailed) as info:
        step.run(request(plan, f, "promote"))
    assert info.value.message == f"an operation toward {USE1_ARN} is under way (switching-over); not starting another"
    assert db.promotions == []
    assert db.under_way is not None
    assert db.under_way.to_arn == USE1_ARN


def test_a_promotion_being_cancelled_is_refused(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.start("SwitchoverGlobalCluster", "us-west-2", status="cancelling")
    with pytest.raises(PreconditionFailed) as e:
        step.run(request(plan, f, "promote"))
    assert str(e.value) == (
        "a switchover or failover of the global cluster is being cancelled; start again once it settles"
    )
    assert db.promotions == []


def test_the_writer_already_in_the_target_is_done_without_a_call(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = "us-west-2"
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert db.promotions == []
    assert result.done
    assert not result.changed
    assert result.message == "the target cluster already is the writer; nothing to do"


@pytest.mark.parametrize("status", ["modifying", "backing-up", "inaccessible-encryption-credentials"])
def test_a_target_cluster_not_available_is_refused(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, status: str
) -> None:
    db.clusters["us-west-2"].status = status
    with pytest.raises(PreconditionFailed, match=f"target cluster {USW2_ARN} is {status}, not available"):
        step.run(request(plan, f, "promote"))
    assert db.promotions == []


def test_a_target_outside_the_global_cluster_is_refused(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.detached.add("us-west-2")
    with pytest.raises(PreconditionFailed, match="recsys-metadata-usw2 is not a member of global cluster"):
        step.run(request(plan, f, "promote"))
    assert db.promotions == []


def test_a_missing_global_cluster_is_named(plan_doc: dict[str, Any], f: ClientFactory, db: GlobalDatabase) -> None:
    plan_doc["aurora"]["global_cluster_id"] = "no-such-global"
    with pytest.raises(PreconditionFailed, match="global cluster no-such-global: not found"):
        step.run(request(parse_plan(plan_doc), f, "promote"))
    assert db.promotions == []


# Ungraceful: a failover with data loss allowed, only within the RPO unless forced, and never in a dry run.


def test_ungraceful_within_the_rpo_fails_over_allowing_data_loss(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    lag(plan, f, 59_999)
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert [(p.api, p.to_arn, p.data_loss_allowed) for p in db.promotions] == [
        ("FailoverGlobalCluster", USW2_ARN, True)
    ]
    assert result.actions[0].params == {
        "AllowDataLoss": True,
        "GlobalClusterIdentifier": "recsys-metadata-global",
        "TargetDbClusterIdentifier": USW2_ARN,
    }
    assert result.before["rpo_exposure_ms"] == 59_999
    assert result.before["rpo_budget_ms"] == 60_000
    assert result.before["data_loss_allowed"] is True
    assert result.message == f"rds:FailoverGlobalCluster started toward {USW2_ARN} (pending)"


def test_a_lag_exactly_at_the_rpo_is_within_it(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    lag(plan, f, 60_000)
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert [p.api for p in db.promotions] == ["FailoverGlobalCluster"]
    assert result.message == f"rds:FailoverGlobalCluster started toward {USW2_ARN} (pending)", (
        "not forced: within the RPO"
    )


def test_a_lag_past_the_rpo_stops_the_failover_and_changes_nothing(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    lag(plan, f, 60_001)
    with pytest.raises(PreconditionFailed) as e:
        step.run(request(plan, f, "promote", mode="ungraceful"))
    assert str(e.value) == (
        "replication lag 60001 ms exceeds the plan's RPO of 60000 ms: an ungraceful failover now would lose more "
        "data than the plan allows; start it with force_beyond_rpo=true to accept that"
    )
    assert e.value.details == {"rpo_exposure_ms": 60_001, "rpo_budget_ms": 60_000}
    assert db.promotions == []
    assert db.writer_region == "us-east-1"


def test_forced_past_the_rpo_fails_over_and_says_so(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    lag(plan, f, 90_000)
    result = step.run(request(plan, f, "promote", mode="ungraceful", force_beyond_rpo=True))
    assert [p.api for p in db.promotions] == ["FailoverGlobalCluster"]
    assert result.message.startswith("FORCED beyond RPO: replication lag 90000 ms > 60000 ms. ")


def test_an_unknown_lag_fails_over_and_says_the_exposure_is_unknown(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert [p.api for p in db.promotions] == ["FailoverGlobalCluster"]
    assert result.before["rpo_exposure_ms"] is None
    assert result.message.startswith("RPO exposure unknown: no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag")


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_plans_the_promotion_and_calls_nothing(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, mode: Any
) -> None:
    lag(plan, f, 100)
    result = step.run(request(plan, f, "promote", mode=mode, dry_run=True))
    assert db.promotions == []
    assert db.under_way is None
    assert db.writer_region == "us-east-1"
    api = "rds:SwitchoverGlobalCluster" if mode == "graceful" else "rds:FailoverGlobalCluster"
    assert [(a.api, a.performed) for a in result.actions] == [(api, False)]
    assert not result.changed
    assert result.message.endswith(f"dry run: would call {api} to make {USW2_ARN} the writer")
    status = step.run(request(plan, f, "status", dry_run=True))
    assert status.done
    assert status.message == "dry run: nothing was started, nothing to wait for"


def test_an_ungraceful_dry_run_past_the_rpo_is_refused_as_the_real_run_would_be(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    lag(plan, f, 120_000)
    with pytest.raises(PreconditionFailed, match="exceeds the plan's RPO"):
        step.run(request(plan, f, "promote", mode="ungraceful", dry_run=True))
    assert db.promotions == []


def test_aurora_mysql_reads_the_replication_lag(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    for cluster in db.clusters.values():
        cluster.engine = "aurora-mysql"
    lag(plan, f, 70_000)
    with pytest.raises(PreconditionFailed, match="replication lag 70000 ms"):
        step.run(request(plan, f, "promote", mode="ungraceful"))
    result = step.run(request(plan, f, "promote", mode="ungraceful", force_beyond_rpo=True))
    assert result.before["replication_lag_series"].startswith("AWS/RDS AuroraGlobalDBReplicationLag ")


def test_aurora_postgresql_reads_what_a_failover_would_lose(plan: RecoveryPlan, f: ClientFactory) -> None:
    lag(plan, f, 10)
    result = step.run(request(plan, f, "promote", mode="ungraceful"))
    assert result.before["replication_lag_series"] == (
        "AWS/RDS AuroraGlobalDBRPOLag {DBClusterIdentifier=recsys-metadata-usw2, SourceRegion=us-east-1}"
    )


# The poll.


def test_status_after_a_cancelled_promotion_fails_rather_than_waiting(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    step.run(request(plan, f, "promote"))
    db.cancel()
    with pytest.raises(StepFailed) as e:
        step.run(request(plan, f, "status"))
    assert str(e.value) == (
        "no promotion is under way and the writer is still in us-east-1: the switchover or failover was cancelled "
        "or failed (see the RDS events of the global cluster)"
    )


def test_status_with_no_writer_anywhere_says_so(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.writer_region = None
    with pytest.raises(StepFailed, match="the writer is still in no region: "):
        step.run(request(plan, f, "status"))


def test_status_of_a_finished_promotion_whose_cluster_still_recovers_is_not_done(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    step.run(request(plan, f, "promote"))
    db.finish()
    db.clusters["us-west-2"].status = "modifying"
    assert not step.run(request(plan, f, "status")).done
    db.clusters["us-west-2"].status = "available"
    assert step.run(request(plan, f, "status")).done


def test_failback_switches_the_writer_back(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    step.run(request(plan, f, "promote"))
    db.finish()
    back = step.run(request(plan, f, "promote", target="us-east-1"))
    assert back.actions[0].params["TargetDbClusterIdentifier"] == USE1_ARN
    db.finish()
    assert db.writer_region == "us-east-1"
    assert [p.to_arn for p in db.promotions] == [USW2_ARN, USE1_ARN]


# Compare and swap on the writer: a run promotes only while the writer is where its requester (or its preflight)
# saw it. Two controllers failing over at once move the database at most once.


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
@pytest.mark.parametrize("seen_by", ["expected_writer", "preflight_writer"])
def test_a_writer_moved_since_the_run_began_is_not_moved_again(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, mode: Any, seen_by: str
) -> None:
    """The run into us-east-1 began with the writer in us-west-2; another controller failed it back meanwhile."""
    lag(plan, f, 120)
    db.writer_region = "us-east-1"
    seen: dict[str, Any] = {seen_by: "us-west-2"}
    with pytest.raises(PreconditionFailed) as e:
        step.run(request(plan, f, "promote", mode=mode, **seen))
    when = "the run was requested" if seen_by == "expected_writer" else "the run began (preflight)"
    assert str(e.value) == (
        f"the Aurora writer is in us-east-1, no longer in us-west-2 as when {when}: another run or a person has "
        "moved it since; not promoting. Start a new run if us-west-2 should still take over"
    )
    assert e.value.details == {"expected_writer": "us-west-2", "writer_region": "us-east-1"}
    assert db.promotions == []
    assert db.writer_region == "us-east-1"


def test_the_requesters_writer_outranks_the_preflights(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    """Preflight ran after another controller had already moved the writer: what the requester saw decides."""
    with pytest.raises(PreconditionFailed, match="no longer in us-west-2 as when the run was requested"):
        step.run(request(plan, f, "promote", expected_writer="us-west-2", preflight_writer="us-east-1"))
    assert db.promotions == []


def test_a_writer_where_the_run_saw_it_is_promoted(plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    lag(plan, f, 120)
    step.run(request(plan, f, "promote", mode="ungraceful", expected_writer="us-east-1", preflight_writer="us-east-1"))
    assert [(p.api, p.to_arn) for p in db.promotions] == [("FailoverGlobalCluster", USW2_ARN)]


def test_a_target_that_became_the_writer_meanwhile_is_done(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    """What the run wanted happened anyway (another run into the same region): nothing to refuse, nothing to do."""
    db.writer_region = "us-west-2"
    result = step.run(request(plan, f, "promote", mode="ungraceful", expected_writer="us-east-1"))
    assert result.done
    assert db.promotions == []


# The split-brain guard: writes and DNS follow the database, never ahead of it.


def test_the_guard_refuses_the_target_while_its_promotion_is_under_way(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.start("SwitchoverGlobalCluster", "us-west-2")
    with pytest.raises(PreconditionFailed, match=r"writer is in us-east-1 \(a promotion is under way\), not us-west-2"):
        require_writer(request(plan, f, "switch"), "writes")
    db.finish()
    require_writer(request(plan, f, "switch"), "writes")


def test_the_guard_refuses_a_region_that_is_not_the_writer(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    with pytest.raises(
        PreconditionFailed, match="the Aurora writer is in us-east-1, not us-west-2; refusing to send DNS"
    ):
        require_writer(request(plan, f, "flip"), "DNS")


def test_the_guard_accepts_the_source_only_while_it_settled_as_writer(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    req = request(plan, f, "restore")
    require_writer(req, "writes", region="us-east-1")
    db.start("FailoverGlobalCluster", "us-west-2", status="pending")
    with pytest.raises(PreconditionFailed, match="under way"):
        require_writer(req, "writes", region="us-east-1")
    db.finish()
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in us-west-2"):
        require_writer(req, "writes", region="us-east-1")


def test_a_promotion_that_completes_at_once_is_done_at_the_first_poll(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.instant = True
    result = step.run(request(plan, f, "promote"))
    assert (result.done, result.after["operation_status"]) == (False, "pending"), "read from the operation's answer"
    assert db.writer_region == "us-west-2"
    assert step.run(request(plan, f, "status", promoted_at=result.finished_at or _now())).done is True


def test_a_refused_promotion_names_the_call_and_the_cluster(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.refuse_next = ("InvalidGlobalClusterStateFault", "Global cluster recsys-metadata-global is modifying.")
    with pytest.raises(StepFailed) as e:
        step.run(request(plan, f, "promote"))
    assert str(e.value).startswith(f"rds:SwitchoverGlobalCluster to {USW2_ARN}: ")
    assert "is modifying" in str(e.value)
    assert db.writer_region == "us-east-1"


def test_a_promotion_not_yet_visible_is_waited_for_and_one_that_never_shows_fails_the_poll(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    """AWS documents no read-after-write for DescribeGlobalClusters: the operation's own answer says it began; a poll
    that sees nothing under way waits for a while before judging it cancelled."""
    db.ignore_next = True
    result = step.run(request(plan, f, "promote"))
    assert (result.changed, result.done, result.after["in_progress_to"]) == (True, False, USW2_ARN)
    poll = step.run(request(plan, f, "status", promoted_at=_now(-5)))
    assert poll.done is False
    assert "does not show in DescribeGlobalClusters yet" in poll.message
    with pytest.raises(StepFailed, match="the switchover or failover was cancelled or failed"):
        step.run(request(plan, f, "status", promoted_at=_now(-step.VISIBILITY_GRACE_S - 1)))
    assert db.writer_region == "us-east-1"


def _now(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()


def test_an_ungraceful_dry_run_with_an_unknown_lag_says_both(plan: RecoveryPlan, f: ClientFactory) -> None:
    result = step.run(request(plan, f, "promote", mode="ungraceful", dry_run=True))
    assert result.message.startswith("RPO exposure unknown: ")
    assert result.message.endswith(f"dry run: would call rds:FailoverGlobalCluster to make {USW2_ARN} the writer")
    assert result.after["writer_region"] == "us-east-1"
    assert (result.step, result.actions[0].region) == ("promote_aurora", "us-west-2")


def test_the_guard_refuses_a_writer_whose_cluster_still_recovers(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = "us-west-2"
    db.clusters["us-west-2"].status = "modifying"
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in us-west-2, not us-west-2"):
        require_writer(request(plan, f, "switch"), "writes")


def test_the_guard_names_a_global_cluster_without_a_writer(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = None
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in none, not us-west-2"):
        require_writer(request(plan, f, "switch"), "writes")


def test_the_guard_counts_a_pending_operation_as_under_way(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.start("FailoverGlobalCluster", "us-west-2", status="pending")
    db.status = "available"  # while pending, the global cluster itself may still read available
    with pytest.raises(PreconditionFailed, match="under way"):
        require_writer(request(plan, f, "restore"), "writes", region="us-east-1")


@pytest.mark.parametrize("global_status", ["available", "modifying"])
def test_a_failover_is_done_once_the_target_writes_whatever_the_global_cluster_reads_while_the_old_primary_is_dark(
    plan: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, global_status: str
) -> None:
    """AWS documents no global cluster status for a database whose old primary is unreachable: done is the target
    writing and available, with no FailoverState (which is empty unless an operation is scheduled or in progress)."""
    db.instant = True
    step.run(request(plan, f, "promote", mode="ungraceful"))
    db.status = global_status
    assert step.run(request(plan, f, "status", mode="ungraceful", promoted_at=_now())).done is True
