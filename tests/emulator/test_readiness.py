"""Scheduled readiness against the emulated world: the report, the metrics it emits, and no change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from failover_controller import readiness
from failover_controller.clients import ClientFactory
from failover_controller.config import ReadinessConfig
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world
from functions.readiness.app import lambda_handler
from tests.support.events import load_event
from tests.support.lambda_context import FakeContext

pytestmark = pytest.mark.emulator


def config() -> ReadinessConfig:
    return ReadinessConfig(
        region="us-west-2", plan_parameter_prefix=world.PLAN_PREFIX, plan_cache_seconds=0, plans=("recsys",)
    )


def emitted(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_a_ready_plan_reports_ready_and_emits_its_metrics(
    app: RecoveryPlan, emulated: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    before = world.snapshot(app, emulated)
    report = readiness.run(config(), emulated)
    plan = report["plans"][0]
    assert (plan["plan"], plan["ready"], plan["failing"]) == ("recsys", True, 0)
    assert {c["name"] for c in plan["checks"]} >= {"aurora.replication_lag_ms", "s3.model_artifacts_present"}
    metrics = emitted(capsys.readouterr().out)
    assert [(m["plan"], m["Ready"], m["FailingChecks"]) for m in metrics] == [("recsys", [1.0], [0.0])]
    assert world.snapshot(app, emulated) == before


def test_a_plan_that_would_fail_reports_not_ready_with_its_failing_checks(
    emulated: ClientFactory, plan_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    app = world.build(plan_doc, emulated, standby_model_tag="2026-10-01")
    before = world.snapshot(app, emulated)
    plan = readiness.run(config(), emulated)["plans"][0]
    assert plan["ready"] is False
    assert [c["name"] for c in plan["checks"] if c["verdict"] == "fail"] == ["sagemaker.same_model_as_source"]
    assert [m["Ready"] for m in emitted(capsys.readouterr().out)] == [[0.0]]
    assert world.snapshot(app, emulated) == before


def test_a_plan_that_cannot_be_read_is_not_ready(emulated: ClientFactory, capsys: pytest.CaptureFixture[str]) -> None:
    plan = readiness.run(config(), emulated)["plans"][0]
    assert plan["ready"] is False
    assert plan["error"].startswith("PlanInvalid")
    assert [m["Ready"] for m in emitted(capsys.readouterr().out)] == [[0.0]]


def test_the_scheduled_handler(app: RecoveryPlan, emulated: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANS", "recsys")
    monkeypatch.setenv("PLAN_PARAMETER_PREFIX", world.PLAN_PREFIX)
    result = lambda_handler(load_event("readiness_schedule"), FakeContext())
    assert [(p["plan"], p["ready"]) for p in result["plans"]] == [("recsys", True)]
