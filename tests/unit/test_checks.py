"""Readiness checks when the world cannot be read: each check fails with the reason, none crashes or passes."""

from __future__ import annotations

from typing import Any

from failover_controller.checks import aurora
from failover_controller.clients import ClientFactory
from failover_controller.plan import parse_plan
from tests.support.requests import request


def test_an_unreadable_global_cluster_fails_every_aurora_check_with_its_reason(
    moto: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    checks = {c.name: c for c in aurora.checks(request(parse_plan(plan_doc), moto, "check"))}
    assert checks["aurora.cluster_available"].verdict == "fail"
    assert "Aurora cluster recsys-metadata-usw2 in us-west-2: not found" in checks["aurora.cluster_available"].detail
    assert (checks["aurora.global_member"].verdict, checks["aurora.global_member"].detail) == (
        "fail",
        "the cluster or global cluster could not be read",
    )
    assert (checks["aurora.synchronized"].verdict, checks["aurora.synchronized"].detail) == (
        "fail",
        "the cluster could not be read",
    )
    assert checks["aurora.replication_lag_ms"].verdict == "fail"  # graceful: no lag series is a failing check
