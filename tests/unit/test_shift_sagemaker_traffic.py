from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import shift_sagemaker_traffic as step
from failoverctl import world
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


def test_status_reports_not_done_before_scaling(sagemaker_plan: RecoveryPlan, moto: ClientFactory) -> None:
    assert not step.run(request(sagemaker_plan, moto, "status")).done


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
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["variant_name"] = "reranker"
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
