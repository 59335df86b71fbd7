"""Each readiness check's whole verdict (what it observed, against what, and why) in the states that decide it:
the sample application in the fast world, changed one way at a time."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from failover_controller.checks import dynamodb, route53
from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, parse_plan
from failoverctl.drill import world
from tests.support.global_tables import GlobalTables
from tests.support.requests import request

FEATURES_LATENCY = "recsys-features (AWS/DynamoDB ReplicationLatency, ReceivingRegion=us-west-2)"
SESSIONS_LATENCY = "recsys-sessions (AWS/DynamoDB ReplicationLatency, ReceivingRegion=us-west-2)"


def verdicts(checks: list[Any]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]


def check(name: str, resource: str, observed: Any, threshold: Any, verdict: str, detail: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "resource": resource,
        "observed": observed,
        "threshold": threshold,
        "verdict": verdict,
        "detail": detail,
    }


def latency(f: ClientFactory, table: str, ms: float) -> None:
    f.cloudwatch("us-east-1").put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": "ReplicationLatency",
                "Dimensions": [
                    {"Name": "TableName", "Value": table},
                    {"Name": "ReceivingRegion", "Value": "us-west-2"},
                ],
                "Value": ms,
                "Unit": "Milliseconds",
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


# DynamoDB


def test_ready_tables_and_parameter(app: RecoveryPlan, f: ClientFactory) -> None:
    assert verdicts(dynamodb.checks(request(app, f, "check"))) == [
        check("dynamodb.replica_active", t, {"status": "ACTIVE", "replicates_with": ["us-east-1"]}, "ACTIVE", "pass")
        for t in ("recsys-features", "recsys-sessions")
    ] + [check("dynamodb.write_region_parameter", "/recsys/write-region", "us-east-1", "exists", "pass")]


def test_tables_not_ready_and_a_missing_parameter(app: RecoveryPlan, f: ClientFactory, tables: GlobalTables) -> None:
    tables.status["recsys-features"]["us-west-2"] = "CREATING"
    del tables.status["recsys-sessions"]["us-east-1"]
    f.ssm("us-west-2").delete_parameter(Name="/recsys/write-region")
    needs = "needs ACTIVE here and a replica in us-east-1"
    assert verdicts(dynamodb.checks(request(app, f, "check"))) == [
        check(
            "dynamodb.replica_active",
            "recsys-features",
            {"status": "CREATING", "replicates_with": ["us-east-1"]},
            "ACTIVE",
            "fail",
            needs,
        ),
        check(
            "dynamodb.replica_active",
            "recsys-sessions",
            {"status": "ACTIVE", "replicates_with": []},
            "ACTIVE",
            "fail",
            needs,
        ),
        check(
            "dynamodb.write_region_parameter",
            "/recsys/write-region",
            None,
            "exists",
            "fail",
            "parameter missing in us-west-2",
        ),
    ]


def test_a_table_that_does_not_exist_fails_with_the_reason(app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["dynamodb"]["tables"] = ["recsys-gone"]
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    (gone, _) = dynamodb.checks(request(plan, f, "check"))
    assert (gone.name, gone.resource, gone.observed, gone.threshold, gone.verdict) == (
        "dynamodb.replica_active",
        "recsys-gone",
        None,
        "ACTIVE",
        "fail",
    )
    assert gone.detail.startswith("DynamoDB table recsys-gone in us-west-2: not found")


def test_replication_latency_within_at_and_past_the_rpo(app: RecoveryPlan, f: ClientFactory) -> None:
    latency(f, "recsys-features", 60_000)
    latency(f, "recsys-sessions", 60_000.5)
    assert verdicts(dynamodb.latency_checks(request(app, f, "check"))) == [
        check("dynamodb.replication_latency_ms", FEATURES_LATENCY, 60_000.0, 60_000, "pass"),
        check(
            "dynamodb.replication_latency_ms",
            SESSIONS_LATENCY,
            60_000.5,
            60_000,
            "fail",
            "replication to the target is behind by more than the RPO",
        ),
    ]


def test_replication_latency_without_data_or_in_ungraceful_mode(
    plan_doc: dict[str, Any], f: ClientFactory
) -> None:
    plan = world.build(plan_doc, f, lag_ms=None, store=False, aurora_and_tables=False)
    assert verdicts(dynamodb.latency_checks(request(plan, f, "check"))) == [
        check("dynamodb.replication_latency_ms", r, None, 60_000, "unknown", "no datapoint in the last 5 minutes")
        for r in (FEATURES_LATENCY, SESSIONS_LATENCY)
    ]
    assert verdicts(dynamodb.latency_checks(request(plan, f, "check", mode="ungraceful"))) == [
        check("dynamodb.replication_latency_ms", r, None, 60_000, "skipped", "ungraceful: us-east-1 is not consulted")
        for r in (FEATURES_LATENCY, SESSIONS_LATENCY)
    ]


# Route 53


def test_the_zone_and_every_records_sets(app: RecoveryPlan, f: ClientFactory) -> None:
    zone = app.hosted_zone_id
    assert verdicts(route53.checks(request(app, f, "check"))) == [
        check("route53.hosted_zone", zone, "recsys.example.com.", "exists", "pass"),
        check(
            "route53.record_sets",
            "api.recsys.example.com. CNAME",
            ["recsys-api-use1", "recsys-api-usw2"],
            ["recsys-api-use1", "recsys-api-usw2"],
            "pass",
        ),
        check(
            "route53.record_sets",
            "inference.recsys.example.com. CNAME",
            ["recsys-inference-use1", "recsys-inference-usw2"],
            ["recsys-inference-use1", "recsys-inference-usw2"],
            "pass",
        ),
    ]


def test_missing_set_identifiers_are_named(app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["route53"]["records"][0]["set_identifiers"] = {"us-east-1": "nowhere-b", "us-west-2": "nowhere-a"}
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    sets = verdicts(route53.checks(request(plan, f, "check")))[1]
    assert sets == check(
        "route53.record_sets",
        "api.recsys.example.com. CNAME",
        [],
        ["nowhere-a", "nowhere-b"],
        "fail",
        "missing set identifier(s) nowhere-a, nowhere-b",
    )


def test_a_missing_zone_is_the_only_route53_check(app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    (zone,) = route53.checks(request(plan, f, "check"))
    assert (zone.name, zone.resource, zone.observed, zone.threshold, zone.verdict) == (
        "route53.hosted_zone",
        "Z0000000000NOTHERE",
        None,
        "exists",
        "fail",
    )
    assert zone.detail.startswith("Route 53 hosted zone Z0000000000NOTHERE: not found")
