from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import shift_sagemaker_traffic as step
from failoverctl.drill import world
from tests.support import aws_like
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


def test_dry_run_reports_the_update_and_changes_nothing(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    result = step.run(request(sagemaker_plan, moto, "scale_target", dry_run=True))
    assert not result.changed
    assert result.actions[0].api == "sagemaker:UpdateEndpointWeightsAndCapacities"
    assert not result.actions[0].performed
    assert config(sagemaker_plan, moto) == STANDBY


def test_status_in_a_dry_run_waits_for_nothing_and_changes_nothing(
    sagemaker_plan: RecoveryPlan, moto: ClientFactory
) -> None:
    assert step.run(request(sagemaker_plan, moto, "status", dry_run=True)).done
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


@pytest.mark.parametrize("status", ["Updating", "SystemUpdating"])
def test_an_endpoint_being_updated_is_waited_for(session: boto3.Session, plan_doc: dict[str, Any], status: str) -> None:
    plan, f = build(session, plan_doc)
    aws_like.endpoint_status(session, status)
    calls = aws_like.record_calls(session)
    for action in ("scale_target", "status", "shift_weights"):
        result = step.run(request(plan, f, action))
        assert (result.done, result.changed) == (False, False)
        assert f"is {status}; waiting" in result.message
    assert updates(calls) == 0
    assert world.endpoint_config(plan, f, "us-west-2") == {"ranker": (1.0, 1)}


@pytest.mark.parametrize("status", ["RollingBack", "Failed", "UpdateRollbackFailed"])
def test_a_rolling_back_or_failed_endpoint_fails_at_once_with_its_reason(
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


def two_variants(plan_doc: dict[str, Any]) -> dict[str, Any]:
    for region, endpoint in plan_doc["sagemaker"]["endpoints"].items():
        endpoint["variants"].append(
            {
                "variant_name": "reranker",
                "standby_instance_count": 1,
                "active_instance_count": 3 if region == "us-west-2" else 2,
                "active_weight": 0.25,
            }
        )
        endpoint["variants"][0]["active_weight"] = 0.75
    return plan_doc


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
