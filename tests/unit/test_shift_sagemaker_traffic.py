from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory
from failover_controller.errors import PollTimeout, PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import shift_sagemaker_traffic as step
from failover_controller.steps.base import Mode, enforce_deadline
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.events import two_variants
from tests.support.requests import request


def config(plan: RecoveryPlan, f: ClientFactory) -> dict[str, dict[str, tuple[float, int]]]:
    return {r: world.endpoint_config(plan, f, r) for r in plan.regions}


STANDBY = {"us-east-1": {"ranker": (1.0, 4)}, "us-west-2": {"ranker": (1.0, 1)}}


def test_scale_target_brings_the_standby_to_active_capacity(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    assert config(sagemaker_plan, moto) == STANDBY
    result = step.run(request(sagemaker_plan, moto, "scale_target"))
    assert result.changed
    assert result.actions[0].params["DesiredWeightsAndCapacities"] == [
        {"VariantName": "ranker", "DesiredWeight": 1.0, "DesiredInstanceCount": 4}
    ]
    assert world.endpoint_config(sagemaker_plan, moto, "us-west-2") == {"ranker": (1.0, 4)}
    assert step.run(request(sagemaker_plan, moto, "status")).done


def test_second_scale_changes_nothing(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    step.run(request(sagemaker_plan, moto, "scale_target"))
    again = step.run(request(sagemaker_plan, moto, "scale_target"))
    assert not again.changed
    assert again.actions == []
    assert again.done


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_dry_run_reports_the_update_and_changes_nothing(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory, mode: Mode
) -> None:
    result = step.run(request(sagemaker_plan, moto, "scale_target", dry_run=True, mode=mode))
    assert not result.changed
    assert result.actions[0].api == "sagemaker:UpdateEndpointWeightsAndCapacities"
    assert not result.actions[0].performed
    assert config(sagemaker_plan, moto) == STANDBY


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_status_in_a_dry_run_waits_for_nothing_and_changes_nothing(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory, mode: Mode
) -> None:
    result = step.run(request(sagemaker_plan, moto, "status", dry_run=True, mode=mode))
    assert (result.done, result.ready_for_traffic) == (True, True), "a dry run's branch does not wait"
    assert config(sagemaker_plan, moto) == STANDBY


def test_drain_source_returns_it_to_standby_capacity_in_graceful_mode(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory
) -> None:
    step.run(request(sagemaker_plan, moto, "scale_target"))
    drained = step.run(request(sagemaker_plan, moto, "drain_source"))
    assert drained.changed
    assert config(sagemaker_plan, moto) == {
        "us-east-1": {"ranker": (1.0, 1)},
        "us-west-2": {"ranker": (1.0, 4)},
    }
    assert not step.run(request(sagemaker_plan, moto, "drain_source")).changed


def test_drain_source_leaves_an_unreachable_source_alone(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    result = step.run(request(sagemaker_plan, moto, "drain_source", mode="ungraceful"))
    assert not result.changed
    assert "not consulted" in result.message
    assert config(sagemaker_plan, moto) == STANDBY


def test_missing_endpoint_fails_clearly_and_changes_nothing(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "no-such-endpoint"
    plan = parse_plan(plan_doc)
    world.create_sagemaker(parse_plan(_without(plan_doc)), moto)
    with pytest.raises(PreconditionFailed, match="SageMaker endpoint no-such-endpoint in us-west-2: not found"):
        step.run(request(plan, moto, "scale_target"))


def test_missing_variant_fails_clearly_and_changes_nothing(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    for region in ("us-west-2", "us-east-1"):
        plan_doc["sagemaker"]["endpoints"][region]["variants"][0]["variant_name"] = "reranker"
    with pytest.raises(PreconditionFailed, match="has no variant reranker"):
        step.run(request(parse_plan(plan_doc), moto, "scale_target"))
    assert config(sagemaker_plan, moto) == STANDBY


def _without(doc: dict[str, Any]) -> dict[str, Any]:
    doc = {**doc, "sagemaker": {**doc["sagemaker"], "endpoints": dict(doc["sagemaker"]["endpoints"])}}
    doc["sagemaker"]["endpoints"]["us-west-2"] = {
        **doc["sagemaker"]["endpoints"]["us-west-2"],
        "endpoint_name": "recsys-ranker-usw2",
    }
    return doc


def test_scale_keeps_weights_and_shift_sets_them(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    world.create_sagemaker(parse_plan(plan_doc), moto)
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = 0.5
    plan = parse_plan(plan_doc)
    step.run(request(plan, moto, "scale_target"))
    assert world.endpoint_config(plan, moto, "us-west-2") == {"ranker": (1.0, 4)}
    assert step.run(request(plan, moto, "status")).done
    shifted = step.run(request(plan, moto, "shift_weights"))
    assert shifted.changed
    assert world.endpoint_config(plan, moto, "us-west-2") == {"ranker": (0.5, 4)}
    assert not step.run(request(plan, moto, "shift_weights")).changed


# What SageMaker and Application Auto Scaling do that moto does not show: the world below answers as AWS does.


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session()


def build(session: boto3.Session, plan_doc: dict[str, Any]) -> tuple[RecoveryPlan, ClientFactory]:
    """The world, built and changed through clients of its own; the step's clients (built on first use, after
    the test registered its hooks on ``session``) see it as AWS would show it."""
    plan = parse_plan(plan_doc)
    world.create_sagemaker(plan, ClientFactory())
    return plan, ClientFactory(session=session)


def updates(calls: list[aws_like.Call]) -> int:
    return sum(c[2] == "UpdateEndpointWeightsAndCapacities" for c in calls)


@pytest.mark.parametrize("status", ["Updating", "SystemUpdating", "RollingBack"])
def test_an_endpoint_being_updated_or_rolled_back_is_waited_for(
    session: boto3.Session, plan_doc: dict[str, Any], status: str
) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, status)
    calls = aws_like.record_calls(session)
    for action in ("scale_target", "status", "shift_weights"):
        result = step.run(request(plan, f, action))
        assert (result.done, result.changed) == (False, False)
        assert f"is {status}" in result.message
        assert "; waiting before any further update" in result.message
    assert updates(calls) == 0
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 1)}


@pytest.mark.parametrize("status", ["Failed", "UpdateRollbackFailed"])
def test_a_failed_endpoint_fails_at_once_with_its_reason(
    session: boto3.Session, plan_doc: dict[str, Any], status: str
) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, status, "Insufficient capacity for ml.g4dn.xlarge in us-west-2b")
    calls = aws_like.record_calls(session)
    with pytest.raises(StepFailed, match=f"is {status}: Insufficient capacity for ml.g4dn.xlarge in us-west-2b"):
        step.run(request(plan, f, "status"))
    assert updates(calls) == 0


def test_autoscaling_above_the_active_count_is_kept(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    # Autoscaling took the standby to 6 instances under load, above the plan's active 4: never scale it down.
    ClientFactory().sagemaker("us-west-2").update_endpoint_weights_and_capacities(
        EndpointName="recsys-ranker-usw2",
        DesiredWeightsAndCapacities=[{"VariantName": "ranker", "DesiredInstanceCount": 6}],
    )
    for action in ("scale_target", "status", "shift_weights"):
        assert step.run(request(plan, f, action)).done
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 6)}


def register(f: ClientFactory, region: str, endpoint: str, low: int, high: int) -> None:
    f.client("application-autoscaling", region).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{endpoint}/variant/ranker",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=low,
        MaxCapacity=high,
    )


def capacity(f: ClientFactory, region: str, endpoint: str) -> tuple[int, int]:
    target = f.client("application-autoscaling", region).describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{endpoint}/variant/ranker"]
    )["ScalableTargets"][0]
    return target["MinCapacity"], target["MaxCapacity"]


def test_an_autoscaled_standby_keeps_its_capacity_and_the_drain_restores_it(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    plan, f = build(session, plan_doc)
    register(ClientFactory(), "us-west-2", "recsys-ranker-usw2", 1, 2)
    register(ClientFactory(), "us-east-1", "recsys-ranker-use1", 4, 8)
    step.run(request(plan, f, "scale_target"))
    assert capacity(f, "us-west-2", "recsys-ranker-usw2") == (4, 4)
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 4)}
    step.run(request(plan, f, "drain_source"))
    assert capacity(f, "us-east-1", "recsys-ranker-use1") == (1, 8)
    assert world.endpoint_config(plan, f, "us-east-1") == {"ranker": (1.0, 1)}
    dry = step.run(request(plan, f, "scale_target", dry_run=True, target="us-west-2"))
    assert dry.actions == []


def test_an_instance_quota_refusal_is_named(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    aws_like.error_on(
        session,
        "before-call.sagemaker.UpdateEndpointWeightsAndCapacities",
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g4dn.xlarge for endpoint usage' is 2 Instances",
    )
    with pytest.raises(StepFailed, match=r"instance quota: us-west-2 refused ranker=4 instance\(s\)") as info:
        step.run(request(plan, f, "scale_target"))
    assert "'ml.g4dn.xlarge for endpoint usage' is 2 Instances" in info.value.message
    assert "Service Quotas" in info.value.message


def test_capacity_moves_one_variant_per_call_and_the_poll_sends_the_next(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    plan, f = build(session, two_variants(plan_doc))
    aws_like.one_variant_capacity_per_call(session)
    aws_like.endpoint_updates_take_time(session, polls=2)
    calls = aws_like.record_calls(session)
    first = step.run(request(plan, f, "scale_target"))
    assert first.done is False
    assert first.actions[0].params["DesiredWeightsAndCapacities"] == [
        {"VariantName": "ranker", "DesiredWeight": 0.75, "DesiredInstanceCount": 4}
    ]
    polls = [step.run(request(plan, f, "status")) for _ in range(4)]
    assert [p.done for p in polls] == [False, False, False, True]
    assert updates(calls) == 2
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (0.75, 4), "reranker": (0.25, 3)}


def test_a_weights_only_shift_is_done_once_the_endpoint_is_in_service(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    _, f = build(session, plan_doc)  # the standby serves at weight 1.0
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = 0.5
    plan = parse_plan(plan_doc)
    step.run(request(plan, ClientFactory(), "scale_target"))
    aws_like.endpoint_updates_take_time(session, polls=2)
    shifted = step.run(request(plan, f, "shift_weights"))
    assert (shifted.changed, shifted.done) == (True, False)
    assert shifted.actions[0].params["DesiredWeightsAndCapacities"] == [{"VariantName": "ranker", "DesiredWeight": 0.5}]
    waiting = step.run(request(plan, f, "shift_weights"))
    assert (waiting.changed, waiting.done) == (False, False)
    assert step.run(request(plan, f, "shift_weights")).done
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (0.5, 4)}


# An asymmetric plan: each region its own capacities and weights, two variants. Every figure the step sets must come
# from the target region's part of the plan (and the drain from the source's), never from the other region's.


def asymmetric(plan_doc: dict[str, Any]) -> dict[str, Any]:
    endpoints = plan_doc["sagemaker"]["endpoints"]
    endpoints["us-east-1"]["variants"] = [
        {"variant_name": "ranker", "standby_instance_count": 1, "active_instance_count": 4, "active_weight": 0.8},
        {"variant_name": "reranker", "standby_instance_count": 1, "active_instance_count": 2, "active_weight": 0.2},
    ]
    endpoints["us-west-2"]["variants"] = [
        {"variant_name": "ranker", "standby_instance_count": 2, "active_instance_count": 6, "active_weight": 0.3},
        {"variant_name": "reranker", "standby_instance_count": 1, "active_instance_count": 3, "active_weight": 0.7},
    ]
    return plan_doc


def test_an_asymmetric_plan_moves_each_region_to_its_own_figures(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(asymmetric(plan_doc))
    world.create_sagemaker(plan, moto)
    assert config(plan, moto) == {
        "us-east-1": {"ranker": (0.8, 4), "reranker": (0.2, 2)},
        "us-west-2": {"ranker": (0.3, 2), "reranker": (0.7, 1)},
    }
    step.run(request(plan, moto, "scale_target"))
    for _ in range(4):
        if step.run(request(plan, moto, "status")).done:
            break
    assert world.endpoint_config(plan, moto, "us-west-2") == {"ranker": (0.3, 6), "reranker": (0.7, 3)}
    step.run(request(plan, moto, "shift_weights"))
    drains = [step.run(request(plan, moto, "drain_source")) for _ in range(3)]
    assert [d.done for d in drains] == [False, True, True], "the state machine loops the drain until done"
    assert [d.changed for d in drains] == [True, True, False]
    assert config(plan, moto) == {
        "us-east-1": {"ranker": (0.8, 1), "reranker": (0.2, 1)},
        "us-west-2": {"ranker": (0.3, 6), "reranker": (0.7, 3)},
    }


def test_an_asymmetric_dry_run_plans_the_targets_figures_and_changes_nothing(
    moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan = parse_plan(asymmetric(plan_doc))
    world.create_sagemaker(plan, moto)
    before = config(plan, moto)
    result = step.run(request(plan, moto, "scale_target", dry_run=True))
    planned = [d for a in result.actions for d in a.params["DesiredWeightsAndCapacities"]]
    assert planned == [{"VariantName": "ranker", "DesiredWeight": 0.3, "DesiredInstanceCount": 6}]
    assert config(plan, moto) == before


# What the step reports and refuses, in full.


def test_a_scale_up_reports_its_step_action_and_what_it_saw(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    result = step.run(request(sagemaker_plan, moto, "scale_target"))
    assert result.step == "shift_sagemaker_traffic"
    (action,) = result.actions
    assert (action.api, action.region, action.performed) == (
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "us-west-2",
        True,
    )
    assert action.params == {
        "EndpointName": "recsys-ranker-usw2",
        "DesiredWeightsAndCapacities": [{"VariantName": "ranker", "DesiredWeight": 1.0, "DesiredInstanceCount": 4}],
    }
    assert result.before["recsys-ranker-usw2"]["variants"]["ranker"]["current_instance_count"] == 1
    assert result.after["recsys-ranker-usw2"]["variants"]["ranker"]["current_instance_count"] == 4
    assert result.message == "recsys-ranker-usw2 in us-west-2 updating: ranker; ranker has 1 of 4 instances"
    status = step.run(request(sagemaker_plan, moto, "status"))
    assert (status.step, status.message) == (
        "shift_sagemaker_traffic",
        "recsys-ranker-usw2 in us-west-2 is at the desired capacity and weights",
    )
    dry = step.run(request(sagemaker_plan, moto, "status", dry_run=True))
    assert (dry.step, dry.message) == ("shift_sagemaker_traffic", "dry run: nothing was started, nothing to wait for")


def test_a_broken_endpoint_without_a_reason_says_so(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, "OutOfService")
    with pytest.raises(StepFailed) as info:
        step.run(request(plan, f, "scale_target"))
    assert str(info.value) == (
        "endpoint recsys-ranker-usw2 in us-west-2 is OutOfService; "
        "waiting will not bring it to the desired configuration"
    )


def test_a_status_the_controller_does_not_know_is_not_acted_on(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, "Provisioning")
    calls = aws_like.record_calls(session)
    with pytest.raises(PreconditionFailed) as info:
        step.run(request(plan, f, "scale_target"))
    assert str(info.value) == "endpoint recsys-ranker-usw2 in us-west-2 is Provisioning, not InService"
    assert updates(calls) == 0


def test_waiting_on_a_busy_endpoint_reports_what_it_saw(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, "Creating")
    result = step.run(request(plan, f, "scale_target"))
    assert result.after["recsys-ranker-usw2"]["status"] == "Creating"
    assert (
        result.message
        == "recsys-ranker-usw2 in us-west-2 is Creating; waiting before any further update; ranker has 1 of 4 instances"
    )


def test_the_full_instance_quota_message(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    aws_like.error_on(
        session, "before-call.sagemaker.UpdateEndpointWeightsAndCapacities", "ResourceLimitExceeded", "limit is 2"
    )
    with pytest.raises(StepFailed) as info:
        step.run(request(plan, f, "scale_target"))
    assert str(info.value).endswith(
        "Request an increase of the instance type's 'for endpoint usage' quota in Service Quotas, or lower the "
        "plan's active_instance_count"
    )


def test_another_refusal_names_the_call_endpoint_and_region(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    aws_like.error_on(
        session, "before-call.sagemaker.UpdateEndpointWeightsAndCapacities", "ValidationException", "bad variant"
    )
    with pytest.raises(Exception) as info:  # noqa: PT011 - the message is what is asserted
        step.run(request(plan, f, "scale_target"))
    assert str(info.value).startswith("UpdateEndpointWeightsAndCapacities on recsys-ranker-usw2 in us-west-2: ")
    assert "bad variant" in str(info.value)


def test_a_plan_that_keeps_the_source_running_does_not_drain_it(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["sagemaker"]["drain_source"] = False
    result = step.run(request(parse_plan(plan_doc), moto, "drain_source"))
    assert (result.step, result.message, result.changed) == (
        "shift_sagemaker_traffic",
        "the plan does not drain the source endpoint",
        False,
    )
    assert config(sagemaker_plan, moto) == STANDBY


def test_only_the_weights_that_differ_are_sent(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][1]["active_weight"] = 0.5
    plan = parse_plan(plan_doc)
    for _ in range(3):
        step.run(request(plan, moto, "status"))
    shifted = step.run(request(plan, moto, "shift_weights"))
    assert shifted.actions[0].params["DesiredWeightsAndCapacities"] == [
        {"VariantName": "reranker", "DesiredWeight": 0.5}
    ]


def register_variant(f: ClientFactory, region: str, endpoint: str, variant: str, low: int, high: int) -> None:  # noqa: PLR0917
    f.client("application-autoscaling", region).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{endpoint}/variant/{variant}",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=low,
        MaxCapacity=high,
    )


def minimums(f: ClientFactory, region: str) -> dict[str, tuple[int, int]]:
    targets = f.client("application-autoscaling", region).describe_scalable_targets(ServiceNamespace="sagemaker")
    return {t["ResourceId"].rsplit("/", 1)[1]: (t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]}


def test_every_autoscaled_variant_gets_its_own_minimum(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "ranker", 1, 2)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "reranker", 3, 9)  # already at its active count
    result = step.run(request(plan, moto, "scale_target"))
    assert minimums(moto, "us-west-2") == {"ranker": (4, 4), "reranker": (3, 9)}
    (raised,) = [a for a in result.actions if a.api.startswith("application-autoscaling")]
    assert (raised.api, raised.region, raised.performed) == (
        "application-autoscaling:RegisterScalableTarget",
        "us-west-2",
        True,
    )
    assert raised.params == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/recsys-ranker-usw2/variant/ranker",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 4,
        "MaxCapacity": 4,
        "previous_min": 1,
    }
    assert result.changed


def test_the_scale_up_never_lowers_and_the_drain_never_raises_a_minimum(
    moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "ranker", 5, 10)  # above active 4: kept
    register_variant(moto, "us-east-1", "recsys-ranker-use1", "ranker", 0, 8)  # below standby 1: kept
    register_variant(moto, "us-east-1", "recsys-ranker-use1", "reranker", 2, 8)  # above standby 1: lowered
    step.run(request(plan, moto, "scale_target"))
    assert minimums(moto, "us-west-2")["ranker"] == (5, 10)
    drained = step.run(request(plan, moto, "drain_source"))
    assert minimums(moto, "us-east-1") == {"ranker": (0, 8), "reranker": (1, 8)}
    assert [a.params["ResourceId"] for a in drained.actions if a.api.startswith("application")] == [
        "endpoint/recsys-ranker-use1/variant/reranker"
    ]


def test_a_dry_run_plans_the_minimum_and_changes_nothing(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    world.create_sagemaker(plan, moto)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "ranker", 1, 2)
    result = step.run(request(plan, moto, "scale_target", dry_run=True))
    assert minimums(moto, "us-west-2") == {"ranker": (1, 2)}
    assert [(a.api, a.performed) for a in result.actions] == [
        ("application-autoscaling:RegisterScalableTarget", False),
        ("sagemaker:UpdateEndpointWeightsAndCapacities", False),
    ]
    assert not result.changed


def test_a_minimum_that_cannot_be_set_is_named(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    plan, f = build(session, plan_doc)
    register_variant(ClientFactory(), "us-west-2", "recsys-ranker-usw2", "ranker", 1, 2)
    aws_like.error_on(
        session, "before-call.application-autoscaling.RegisterScalableTarget", "AccessDeniedException", "denied"
    )
    with pytest.raises(
        Exception, match=r"^RegisterScalableTarget endpoint/recsys-ranker-usw2/variant/ranker in us-west-2: "
    ):
        step.run(request(plan, f, "scale_target"))


def two_endpoints(plan_doc: dict[str, Any]) -> dict[str, Any]:
    for region, endpoint in list(plan_doc["sagemaker"]["endpoints"].items()):
        second = {**endpoint, "endpoint_name": endpoint["endpoint_name"] + "-b"}
        plan_doc["sagemaker"]["endpoints"][region] = [endpoint, second]
    return plan_doc


def test_several_endpoints_are_each_moved_and_reported(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(two_endpoints(plan_doc))
    world.create_sagemaker(plan, moto)
    result = step.run(request(plan, moto, "scale_target"))
    assert (
        result.message == "recsys-ranker-usw2 in us-west-2 updating: ranker; ranker has 1 of 4 instances; "
        "recsys-ranker-usw2-b in us-west-2 updating: ranker; ranker has 1 of 4 instances"
    )
    assert list(result.before) == list(result.after) == ["recsys-ranker-usw2", "recsys-ranker-usw2-b"]
    assert [a.params["EndpointName"] for a in result.actions] == ["recsys-ranker-usw2", "recsys-ranker-usw2-b"]


def test_a_dry_run_plans_every_minimum_and_the_update_and_is_done(
    moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "ranker", 1, 2)
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "reranker", 1, 2)
    result = step.run(request(plan, moto, "scale_target", dry_run=True))
    assert [(a.api, a.params.get("ResourceId"), a.performed) for a in result.actions] == [
        ("application-autoscaling:RegisterScalableTarget", "endpoint/recsys-ranker-usw2/variant/ranker", False),
        ("application-autoscaling:RegisterScalableTarget", "endpoint/recsys-ranker-usw2/variant/reranker", False),
        ("sagemaker:UpdateEndpointWeightsAndCapacities", None, False),
    ]
    assert (result.done, result.changed) == (True, False)
    assert result.message == "dry run: would update recsys-ranker-usw2 in us-west-2"
    assert minimums(moto, "us-west-2") == {"ranker": (1, 2), "reranker": (1, 2)}


def test_raising_only_a_minimum_is_a_change(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    world.create_sagemaker(plan, moto)
    step.run(request(plan, moto, "scale_target"))
    register_variant(moto, "us-west-2", "recsys-ranker-usw2", "ranker", 1, 2)  # autoscaling added afterwards
    again = step.run(request(plan, moto, "scale_target"))
    assert [a.api for a in again.actions] == ["application-autoscaling:RegisterScalableTarget"]
    assert (again.changed, again.done) == (True, True)
    assert minimums(moto, "us-west-2") == {"ranker": (4, 4)}


def test_a_drain_leaves_a_minimum_already_at_the_standby_count(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    register_variant(moto, "us-east-1", "recsys-ranker-use1", "ranker", 1, 8)  # the standby count already
    register_variant(moto, "us-east-1", "recsys-ranker-use1", "reranker", 2, 8)
    drained = step.run(request(plan, moto, "drain_source"))
    assert [a.params["ResourceId"] for a in drained.actions if a.api.startswith("application")] == [
        "endpoint/recsys-ranker-use1/variant/reranker"
    ]
    assert minimums(moto, "us-east-1") == {"ranker": (1, 8), "reranker": (1, 8)}


def test_a_shift_names_every_variant_it_updates(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(two_variants(plan_doc))
    world.create_sagemaker(plan, moto)
    for variant, weight in zip(plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"], (0.6, 0.4), strict=True):
        variant["active_weight"] = weight
    plan = parse_plan(plan_doc)
    for _ in range(3):
        step.run(request(plan, moto, "status"))
    shifted = step.run(request(plan, moto, "shift_weights"))
    assert shifted.step == "shift_sagemaker_traffic"
    assert shifted.message == "recsys-ranker-usw2 in us-west-2 updating: ranker, reranker"


def test_every_missing_variant_is_named(moto: ClientFactory, plan_doc: dict[str, Any]) -> None:
    world.create_sagemaker(parse_plan(plan_doc), moto)
    for endpoint in two_variants(plan_doc)["sagemaker"]["endpoints"].values():
        endpoint["variants"][0]["variant_name"], endpoint["variants"][1]["variant_name"] = "beta", "alpha"
    with pytest.raises(PreconditionFailed) as info:
        step.run(request(parse_plan(plan_doc), moto, "scale_target"))
    assert info.value.message == "endpoint recsys-ranker-usw2 in us-west-2 has no variant alpha, beta"


def test_an_update_refused_because_another_began_first_is_a_wait(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    """Application Auto Scaling moves the capacity into a range just registered with an update of its own, which can
    begin between the step's read and its update: SageMaker then refuses the step's ("Cannot update in-progress
    endpoint"), and the poll waits."""
    plan, f = build(session, plan_doc)
    aws_like.error_on(
        session,
        "before-call.sagemaker.UpdateEndpointWeightsAndCapacities",
        "ValidationException",
        'Cannot update in-progress endpoint "arn:aws:sagemaker:us-west-2:123456789012:endpoint/recsys-ranker-usw2".',
    )
    result = step.run(request(plan, f, "status"))
    assert (result.done, result.changed, result.actions) == (False, False, [])
    assert "another update began first" in result.message
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 1)}


NO_CAPACITY = "Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error"


def test_a_poll_carries_a_failed_updates_reason_that_sagemaker_stops_showing(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    """EndpointMetadata: FailureReason is shown while RollingBack and "the status is InService but update operation
    fails"; once the next update is applied the endpoint reads Updating without it. The poll keeps the reason, so
    the run's deadline can still say why the standby is short."""
    plan, f = build(session, plan_doc)
    shown = {"EndpointStatus": "RollingBack", "FailureReason": NO_CAPACITY}
    session.events.register("after-call.sagemaker.DescribeEndpoint", lambda parsed, **_: parsed.update(shown))
    seen = step.run(request(plan, f, "status"))
    assert seen.carry == {"failures": {"recsys-ranker-usw2": NO_CAPACITY}}
    assert "(a failed update is being undone)" in seen.message

    shown.pop("FailureReason")
    shown["EndpointStatus"] = "Updating"
    later = step.run(request(plan, f, "status", carry=seen.carry, deadline=100))
    assert later.carry == seen.carry, "carried on to the next poll"
    assert f"ranker has 1 of 4 instances, its last update failed: {NO_CAPACITY}" in later.message
    with pytest.raises(PollTimeout, match="InsufficientInstanceCapacity"):
        enforce_deadline(step.STEP, later, {"deadline": 100}, now=160)


def test_a_poll_without_a_failure_carries_nothing(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    result = step.run(request(sagemaker_plan, moto, "status", carry={}))
    assert (result.done, result.carry) == (True, {})


# Traffic at a capacity the plan chooses (sagemaker.traffic_at_capacity): the scale-up says when the standby is
# ready for traffic, and goes on after it.


def with_traffic_at(plan_doc: dict[str, Any], graceful: float, ungraceful: float) -> dict[str, Any]:
    plan_doc["sagemaker"]["traffic_at_capacity"] = {"graceful": graceful, "ungraceful": ungraceful}
    return plan_doc


@pytest.mark.parametrize(
    ("fraction", "ready"),
    [(0.25, [True, True, True]), (0.5, [False, False, True]), (1.0, [False, False, True])],
)
def test_the_standby_is_ready_for_traffic_at_the_plans_fraction_of_active_capacity(
    session: boto3.Session, plan_doc: dict[str, Any], fraction: float, ready: list[bool]
) -> None:
    """ceil(fraction x 4) instances in service: 1 for 0.25 (the warm instance, ready while it scales up), 2 for 0.5
    and 4 for 1.0 (ready once the update is in)."""
    plan, f = build(session, with_traffic_at(plan_doc, 1.0, fraction))
    aws_like.endpoint_updates_take_time(session, polls=2, in_service=1)
    first = step.run(request(plan, f, "scale_target", mode="ungraceful"))
    polls = [step.run(request(plan, f, "status", mode="ungraceful")) for _ in range(2)]
    assert [r.ready_for_traffic for r in (first, *polls)] == ready
    assert [r.done for r in (first, *polls)] == [False, False, True]
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 4)}, "the scale-up went on"


def test_graceful_keeps_full_capacity_before_traffic_unless_the_plan_says_otherwise(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    plan, f = build(session, with_traffic_at(plan_doc, 1.0, 0.25))
    aws_like.endpoint_updates_take_time(session, polls=1, in_service=1)
    assert step.run(request(plan, f, "scale_target", mode="graceful")).ready_for_traffic is False
    assert step.run(request(plan, f, "status", mode="ungraceful")).ready_for_traffic is True


@pytest.mark.parametrize(("mode", "ready"), [("ungraceful", True), ("graceful", False)])
def test_a_quota_refusal_once_ready_for_traffic_is_said_and_left_to_the_full_capacity_poll(
    session: boto3.Session, plan_doc: dict[str, Any], mode: Mode, ready: bool
) -> None:
    plan, f = build(session, with_traffic_at(plan_doc, 1.0, 0.25))
    aws_like.error_on(
        session,
        "before-call.sagemaker.UpdateEndpointWeightsAndCapacities",
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g4dn.xlarge for endpoint usage' is 1 Instances",
    )
    if not ready:
        with pytest.raises(StepFailed, match="instance quota"):
            step.run(request(plan, f, "scale_target", mode=mode))
        half = parse_plan(with_traffic_at(plan_doc, 0.5, 0.25))  # 2 of 4 in service: the warm one is not enough
        with pytest.raises(StepFailed, match="instance quota"):
            step.run(request(half, f, "scale_target", mode=mode))
        return
    result = step.run(request(plan, f, "scale_target", mode=mode))
    assert (result.ready_for_traffic, result.done) == (True, False)
    assert "instance quota" in result.message
    assert "instance quota" in result.carry["failures"]["recsys-ranker-usw2"]
    with pytest.raises(StepFailed, match="instance quota"):
        step.run(request(plan, f, "full_capacity", mode=mode, deadline=2**40))
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 1)}


def test_a_poll_ready_for_traffic_is_not_timed_out_by_the_deadline(
    session: boto3.Session, plan_doc: dict[str, Any]
) -> None:
    plan, f = build(session, with_traffic_at(plan_doc, 1.0, 0.25))
    aws_like.endpoint_updates_take_time(session, polls=3, in_service=1)
    step.run(request(plan, f, "scale_target", mode="ungraceful"))
    result = step.run(request(plan, f, "status", mode="ungraceful", deadline=1))
    enforce_deadline("shift_sagemaker_traffic", result, {"deadline": 1}, now=10.0)  # ready: no PollTimeout
    result.ready_for_traffic = False
    with pytest.raises(PollTimeout):
        enforce_deadline("shift_sagemaker_traffic", result, {"deadline": 1}, now=10.0)


def test_before_dns_only_weights_are_sent_and_after_it_the_capacity_too(
    moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    """shift_weights (before DNS) holds the standby to the traffic counts, so it sends weights alone;
    full_capacity (after DNS) sends the capacity too."""
    world.create_sagemaker(parse_plan(plan_doc), moto)
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = 0.5
    plan = parse_plan(with_traffic_at(plan_doc, 1.0, 0.25))
    shifted = step.run(request(plan, moto, "shift_weights", mode="ungraceful"))
    assert shifted.actions[0].params["DesiredWeightsAndCapacities"] == [{"VariantName": "ranker", "DesiredWeight": 0.5}]
    assert world.endpoint_config(plan, moto, "us-west-2") == {"ranker": (0.5, 1)}
    full = step.run(request(plan, moto, "full_capacity", mode="ungraceful"))
    assert full.actions[0].params["DesiredWeightsAndCapacities"] == [
        {"VariantName": "ranker", "DesiredWeight": 0.5, "DesiredInstanceCount": 4}
    ]
    assert world.endpoint_config(plan, moto, "us-west-2") == {"ranker": (0.5, 4)}
    assert step.run(request(plan, moto, "full_capacity", mode="ungraceful")).done


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
@pytest.mark.parametrize("action", ["shift_weights", "full_capacity"])
def test_weights_and_full_capacity_in_a_dry_run_plan_the_update_and_change_nothing(
    moto: ClientFactory, plan_doc: dict[str, Any], mode: Mode, action: str
) -> None:
    world.create_sagemaker(parse_plan(plan_doc), moto)
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = 0.5
    plan = parse_plan(with_traffic_at(plan_doc, 1.0, 0.25))
    before = config(plan, moto)
    result = step.run(request(plan, moto, action, dry_run=True, mode=mode))
    assert (result.done, result.changed, result.step) == (True, False, step.STEP)
    assert [a.performed for a in result.actions] == [False]
    counts = result.actions[0].params["DesiredWeightsAndCapacities"][0].get("DesiredInstanceCount")
    # Before DNS the weights go over the traffic counts (ungraceful: the warm instance; graceful: all 4, which the
    # scale-up's branch waited for); after DNS the active count comes first.
    weights_only = action == "shift_weights" and mode == "ungraceful"
    assert counts == (None if weights_only else 4)
    assert config(plan, moto) == before


@pytest.mark.parametrize(("mode", "ready"), [("graceful", False), ("ungraceful", True)])
def test_at_full_capacity_but_updating_only_a_plan_below_full_capacity_is_ready_for_traffic(
    session: boto3.Session, plan_doc: dict[str, Any], mode: Mode, ready: bool
) -> None:
    """A fraction of 1.0 keeps the runbook's old rule, InService at active capacity; below it, an endpoint that
    serves through an update (a weights change, AWS's maintenance) is ready."""
    plan, f = build(session, with_traffic_at(plan_doc, 1.0, 0.25))
    ClientFactory().sagemaker("us-west-2").update_endpoint_weights_and_capacities(
        EndpointName="recsys-ranker-usw2",
        DesiredWeightsAndCapacities=[{"VariantName": "ranker", "DesiredInstanceCount": 4}],
    )
    aws_like.endpoint_status(session, "SystemUpdating")
    result = step.run(request(plan, f, "status", mode=mode))
    assert (result.done, result.ready_for_traffic) == (False, ready)
