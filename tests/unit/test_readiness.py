"""Scheduled readiness, fast: the verdict per plan, the metrics it emits, and no change to the world."""

from __future__ import annotations

import json
from typing import Any

import pytest

from failover_controller import readiness
from failover_controller.clients import ClientFactory
from failover_controller.config import ReadinessConfig
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase


def config(*plans: str) -> ReadinessConfig:
    return ReadinessConfig(
        region="us-west-2", plan_parameter_prefix=world.PLAN_PREFIX, plan_cache_seconds=0, plans=plans or ("recsys",)
    )


def emitted(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def stored(app: RecoveryPlan, f: ClientFactory) -> RecoveryPlan:
    world.store_plan(app, f)
    return app


def test_a_ready_plan_reports_ready_and_emits_its_metrics(
    stored: RecoveryPlan, f: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    report = readiness.run(config(), f)
    assert report["region"] == "us-west-2"
    (plan,) = report["plans"]
    assert {k: plan[k] for k in ("plan", "region", "ready", "failing", "unknown")} == {
        "plan": "recsys",
        "region": "us-west-2",
        "ready": True,
        "failing": 0,
        "unknown": 0,
    }
    assert len(plan["checks"]) == 18
    metrics = emitted(capsys.readouterr().out)
    assert [(m["plan"], m["Ready"], m["FailingChecks"], m["UnknownChecks"]) for m in metrics] == [
        ("recsys", [1.0], [0.0], [0.0])
    ]


def test_failing_and_unknown_checks_are_counted_and_nothing_changes(
    stored: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    db.sync_status = None  # unknown
    db.clusters["us-west-2"].status = "modifying"  # failing
    before = world.snapshot(stored, f) | {"aurora_writer": None}
    (plan,) = readiness.run(config(), f)["plans"]
    assert (plan["ready"], plan["failing"], plan["unknown"]) == (False, 1, 1)
    assert [c["name"] for c in plan["checks"] if c["verdict"] == "fail"] == ["aurora.cluster_available"]
    metrics = emitted(capsys.readouterr().out)
    assert [(m["Ready"], m["FailingChecks"], m["UnknownChecks"]) for m in metrics] == [([0.0], [1.0], [1.0])]
    assert world.snapshot(stored, f) | {"aurora_writer": None} == before


def test_an_unknown_check_alone_keeps_a_plan_ready(
    stored: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    db.sync_status = None
    (plan,) = readiness.run(config(), f)["plans"]
    assert (plan["ready"], plan["failing"], plan["unknown"]) == (True, 0, 1)


def test_each_plan_is_judged_and_reported_on_its_own(
    stored: RecoveryPlan, f: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    report = readiness.run(config("recsys", "missing"), f)
    assert [(p["plan"], p["ready"]) for p in report["plans"]] == [("recsys", True), ("missing", False)]
    missing = report["plans"][1]
    assert {k: missing[k] for k in ("region", "failing", "unknown", "checks")} == {
        "region": "us-west-2",
        "failing": 1,
        "unknown": 0,
        "checks": [],
    }
    assert missing["error"].startswith("PlanInvalid: ")
    metrics = emitted(capsys.readouterr().out)
    assert [(m["plan"], m["Ready"], m["FailingChecks"]) for m in metrics] == [
        ("recsys", [1.0], [0.0]),
        ("missing", [0.0], [1.0]),
    ]


def test_readiness_judges_a_graceful_failover_so_a_silent_source_is_not_ready(
    stored: RecoveryPlan, f: ClientFactory, outage: aws_like.Outage, capsys: pytest.CaptureFixture[str]
) -> None:
    outage.down.add("us-east-1")
    (plan,) = readiness.run(config(), f)["plans"]
    assert plan["ready"] is False
    failing = [c for c in plan["checks"] if c["verdict"] == "fail"]
    assert failing
    assert all("a graceful switchover needs both regions to answer" in c["detail"] for c in failing)


def test_the_metrics_are_counts_per_plan(
    stored: RecoveryPlan, f: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    readiness.run(config(), f)
    (doc,) = emitted(capsys.readouterr().out)
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["plan", "service"]]
    assert doc["plan"] == "recsys"
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Ready": "Count",
        "FailingChecks": "Count",
        "UnknownChecks": "Count",
    }


def test_calls_to_the_home_region_keep_the_normal_profile(stored: RecoveryPlan, f: ClientFactory) -> None:
    readiness.run(config(), f)
    assert f.home_region == "us-west-2"
    home, peer = f.cloudwatch("us-west-2").meta.config, f.cloudwatch("us-east-1").meta.config
    assert home.read_timeout > peer.read_timeout  # type: ignore[attr-defined]
