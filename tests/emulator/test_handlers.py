"""The Lambda handlers, invoked in-process with the files in events/ (what `sam local invoke -e` sends)."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, NotReady, PlanInvalid, PreconditionFailed
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world
from tests.support.events import load_event
from tests.support.lambda_context import FakeContext

pytestmark = pytest.mark.emulator


def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    handler = importlib.import_module(f"functions.{function}.app").lambda_handler
    result: dict[str, Any] = handler(event, FakeContext())
    json.dumps(result)  # what Lambda returns must serialise
    return result


def test_the_whole_runbook_through_the_handlers(app: RecoveryPlan, emulated: ClientFactory) -> None:
    assert invoke("preflight", load_event("preflight"))["before"]["verdicts"]["fail"] == 0
    assert invoke("promote_aurora", load_event("promote_aurora"))["changed"]
    assert invoke("promote_aurora", load_event("promote_aurora_status"))["done"]
    assert invoke("switch_dynamodb_writes", load_event("switch_dynamodb_writes"))["changed"]
    assert invoke("shift_sagemaker_traffic", load_event("shift_sagemaker_traffic"))["changed"]
    assert invoke("shift_sagemaker_traffic", load_event("shift_sagemaker_traffic_status"))["done"]
    flipped = invoke("flip_dns", load_event("flip_dns"))
    change_id = flipped["after"]["change_id"]
    status = {"done": False}
    for _ in range(3):
        status = invoke("flip_dns", load_event("flip_dns_status", change_id=change_id))
        if status["done"]:
            break
    assert status["done"]
    assert invoke("shift_sagemaker_traffic", load_event("shift_sagemaker_traffic_full_capacity"))["done"]
    assert invoke("shift_sagemaker_traffic", load_event("shift_sagemaker_traffic_drain"))["changed"]

    assert world.snapshot(app, emulated) == {
        "aurora_writer": "us-west-2",
        "write_region": {"us-east-1": "us-west-2", "us-west-2": "us-west-2"},
        "endpoints": {"us-east-1": {"ranker": (1.0, 1)}, "us-west-2": {"ranker": (1.0, 4)}},
        "dns": {
            "api.recsys.example.com.": {"us-east-1": 0, "us-west-2": 100},
            "inference.recsys.example.com.": {"us-east-1": 0, "us-west-2": 100},
        },
    }
    again = [
        invoke("promote_aurora", load_event("promote_aurora")),
        invoke("switch_dynamodb_writes", load_event("switch_dynamodb_writes")),
        invoke("shift_sagemaker_traffic", load_event("shift_sagemaker_traffic")),
        invoke("flip_dns", load_event("flip_dns")),
    ]
    assert [r["changed"] for r in again] == [False, False, False, False]


def test_a_malformed_event_is_refused_before_anything_is_read(app: RecoveryPlan, emulated: ClientFactory) -> None:
    before = world.snapshot(app, emulated)
    with pytest.raises(InputInvalid, match="mode: must be one of graceful, ungraceful"):
        invoke("promote_aurora", load_event("promote_aurora", mode="panic"))
    with pytest.raises(InputInvalid, match="must be a JSON object"):
        invoke("flip_dns", [])  # type: ignore[arg-type]
    assert world.snapshot(app, emulated) == before


def test_a_controller_refuses_to_fail_over_into_another_region(
    app: RecoveryPlan, emulated: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(PreconditionFailed, match="runs in us-east-1"):
        invoke("promote_aurora", load_event("promote_aurora"))
    assert world.aurora_writer_region(app, emulated, "us-west-2") == "us-east-1"


def test_an_unknown_plan_is_named(app: RecoveryPlan, emulated: ClientFactory) -> None:
    with pytest.raises(PlanInvalid, match="/failover-controller/plans/search"):
        invoke("switch_dynamodb_writes", load_event("switch_dynamodb_writes", plan="search"))
    with pytest.raises(InputInvalid, match="not a valid plan name"):
        invoke("switch_dynamodb_writes", load_event("switch_dynamodb_writes", plan="../etc"))


def test_a_stored_plan_that_is_broken_is_rejected_with_its_problems(app: RecoveryPlan, emulated: ClientFactory) -> None:
    doc = dict(app.document)
    doc["objectives"] = {"rto_seconds": 5}
    emulated.ssm("us-west-2").put_parameter(
        Name="/failover-controller/plans/recsys", Value=json.dumps(doc), Type="String", Overwrite=True
    )
    with pytest.raises(PlanInvalid) as info:
        invoke("flip_dns", load_event("flip_dns"))
    assert info.value.problems == [
        "objectives: is missing required field 'rpo_seconds'",
        "objectives.rto_seconds: must be >= 60, got 5",
    ]
    assert world.dns_routing(app, emulated)["api.recsys.example.com."] == {"us-east-1": 100, "us-west-2": 0}


def test_preflight_handler_raises_not_ready(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    world.build(plan_doc, emulated, lag_ms=None)
    with pytest.raises(NotReady, match="replication_lag"):
        invoke("preflight", load_event("preflight"))


def test_dry_run_through_every_action_handler_changes_nothing(app: RecoveryPlan, emulated: ClientFactory) -> None:
    before = world.snapshot(app, emulated)
    for function, event in [
        ("promote_aurora", "promote_aurora"),
        ("switch_dynamodb_writes", "switch_dynamodb_writes"),
        ("shift_sagemaker_traffic", "shift_sagemaker_traffic"),
        ("flip_dns", "flip_dns"),
        ("shift_sagemaker_traffic", "shift_sagemaker_traffic_drain"),
    ]:
        result = invoke(function, load_event(event, dry_run=True))
        assert not result["changed"]
        assert result["actions"]
        assert not any(a["performed"] for a in result["actions"])
    assert world.snapshot(app, emulated) == before
