"""Each readiness check's whole verdict (what it observed, against what, and why) in the states that decide it:
the sample application in the fast world, changed one way at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from failover_controller.checks import BROWNED_OUT, NO_ANSWER, artifacts, aurora, dynamodb, route53, sagemaker
from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps.base import Mode
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.global_tables import GlobalTables
from tests.support.requests import request

FEATURES_LATENCY = "recsys-features (AWS/DynamoDB ReplicationLatency, ReceivingRegion=us-west-2)"
SESSIONS_LATENCY = "recsys-sessions (AWS/DynamoDB ReplicationLatency, ReceivingRegion=us-west-2)"


def verdicts(checks: list[Any]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]


def check(  # noqa: PLR0917 - a Check's own field order
    name: str, resource: str, observed: Any, threshold: Any, verdict: str, detail: str = ""
) -> dict[str, Any]:
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


def test_a_table_that_does_not_exist_fails_with_the_reason(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
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


def test_replication_latency_without_data_or_in_ungraceful_mode(plan_doc: dict[str, Any], f: ClientFactory) -> None:
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


def test_a_missing_zone_is_the_only_route53_check(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
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


# SageMaker


MODEL = {"ranker": {"image": "recsys-ranker:2026-11-01", "model_data": "ranker/2026-11-01/model.tar.gz"}}


def endpoint_reads(f: ClientFactory, status: str, reason: str | None = None) -> None:
    """DescribeEndpoint in us-west-2 answers ``status`` (and a FailureReason), as SageMaker shows it."""

    def show(parsed: dict[str, Any], **_: Any) -> None:
        parsed["EndpointStatus"] = status
        if reason:
            parsed["FailureReason"] = reason

    f.sagemaker("us-west-2").meta.events.register("after-call.sagemaker.DescribeEndpoint", show)


def test_a_serving_endpoint_with_the_sources_model(app: RecoveryPlan, f: ClientFactory) -> None:
    assert verdicts(sagemaker.checks(request(app, f, "check"))) == [
        check("sagemaker.endpoint_in_service", "recsys-ranker-usw2", "InService", "InService", "pass"),
        check(
            "sagemaker.same_model_as_source",
            "recsys-ranker-usw2",
            {"target": MODEL, "source": MODEL},
            "identical",
            "pass",
        ),
    ]


def test_a_standby_serving_another_model_and_missing_variants(plan_doc: dict[str, Any], f: ClientFactory) -> None:
    app = world.build(plan_doc, f, standby_model_tag="2026-10-01", store=False, aurora_and_tables=False)
    older = {"ranker": {"image": "recsys-ranker:2026-10-01", "model_data": "ranker/2026-11-01/model.tar.gz"}}
    assert verdicts(sagemaker.checks(request(app, f, "check")))[1] == check(
        "sagemaker.same_model_as_source",
        "recsys-ranker-usw2",
        {"target": older, "source": MODEL},
        "identical",
        "fail",
        "variant(s) ranker serve a different image or model data",
    )
    for region in ("us-east-1", "us-west-2"):
        plan_doc["sagemaker"]["endpoints"][region]["variants"] += [
            {"variant_name": n, "standby_instance_count": 1, "active_instance_count": 1, "active_weight": 1.0}
            for n in ("shadow", "canary")
        ]
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    assert verdicts(sagemaker.checks(request(plan, f, "check")))[0] == check(
        "sagemaker.endpoint_in_service",
        "recsys-ranker-usw2",
        "InService",
        "InService",
        "fail",
        "missing variant(s) canary, shadow",
    )


def test_an_endpoint_that_failed_names_its_reason(app: RecoveryPlan, f: ClientFactory) -> None:
    endpoint_reads(f, "Failed", "The primary container for production variant ranker did not pass the ping")
    assert verdicts(sagemaker.checks(request(app, f, "check", mode="ungraceful"))) == [
        check(
            "sagemaker.endpoint_in_service",
            "recsys-ranker-usw2",
            "Failed",
            "InService",
            "fail",
            "The primary container for production variant ranker did not pass the ping",
        ),
        check(
            "sagemaker.same_model_as_source",
            "recsys-ranker-usw2",
            None,
            "source's model",
            "skipped",
            "ungraceful: us-east-1 is not consulted",
        ),
    ]


def test_an_endpoint_out_of_service_without_a_reason(app: RecoveryPlan, f: ClientFactory) -> None:
    endpoint_reads(f, "OutOfService")
    first = verdicts(sagemaker.checks(request(app, f, "check")))[0]
    assert (first["verdict"], first["detail"]) == ("fail", "")


def test_an_endpoint_under_aws_maintenance_serves(app: RecoveryPlan, f: ClientFactory) -> None:
    endpoint_reads(f, "SystemUpdating")
    assert verdicts(sagemaker.checks(request(app, f, "check")))[0] == check(
        "sagemaker.endpoint_in_service",
        "recsys-ranker-usw2",
        "SystemUpdating",
        "InService",
        "pass",
        "AWS maintenance under way: it serves, and scaling waits until it completes",
    )


# Images and model artifacts


IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/recsys-ranker:2026-11-01"
ARTIFACT = "s3://recsys-models-us-west-2/ranker/2026-11-01/model.tar.gz"


def test_the_standbys_image_artifact_and_replication(app: RecoveryPlan, f: ClientFactory) -> None:
    assert verdicts(artifacts.checks(request(app, f, "check"))) == [
        check("ecr.image_in_target_region", IMAGE, "present", "present", "pass"),
        check("s3.model_artifacts_present", ARTIFACT, len(b"model weights"), "exists", "pass"),
        check(
            "s3.artifacts_replicate_to_target",
            "recsys-models-us-east-1",
            ["recsys-models-us-west-2"],
            "replicated",
            "pass",
        ),
    ]


def test_an_image_or_artifact_gone_and_no_replication(app: RecoveryPlan, f: ClientFactory) -> None:
    f.client("ecr", "us-west-2").batch_delete_image(
        repositoryName="recsys-ranker", imageIds=[{"imageTag": "2026-11-01"}]
    )
    f.client("s3", "us-west-2").delete_object(Bucket="recsys-models-us-west-2", Key="ranker/2026-11-01/model.tar.gz")
    f.client("s3", "us-east-1").delete_bucket_replication(Bucket="recsys-models-us-east-1")
    image, artifact, replication = verdicts(artifacts.checks(request(app, f, "check")))
    assert (image["resource"], image["verdict"], image["observed"], image["threshold"]) == (
        IMAGE,
        "fail",
        None,
        "us-west-2",
    )
    assert image["detail"].startswith("ECR image recsys-ranker {'imageTag': '2026-11-01'} in us-west-2: ")
    assert (artifact["resource"], artifact["verdict"], artifact["observed"], artifact["threshold"]) == (
        ARTIFACT,
        "fail",
        None,
        "exists",
    )
    assert artifact["detail"] == f"{ARTIFACT}: 404: Not Found"
    assert replication == check(
        "s3.artifacts_replicate_to_target",
        "recsys-models-us-east-1",
        None,
        "replication rule to the target bucket",
        "fail",
        "replication of s3://recsys-models-us-east-1: ReplicationConfigurationNotFoundError: "
        "The replication configuration was not found",
    )


def test_a_disabled_replication_rule_is_named(app: RecoveryPlan, f: ClientFactory) -> None:
    s3 = f.client("s3", "us-east-1")
    config = s3.get_bucket_replication(Bucket="recsys-models-us-east-1")["ReplicationConfiguration"]
    config["Rules"][0]["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket="recsys-models-us-east-1", ReplicationConfiguration=config)
    assert verdicts(artifacts.checks(request(app, f, "check")))[-1] == check(
        "s3.artifacts_replicate_to_target",
        "recsys-models-us-east-1",
        ["recsys-models-us-west-2"],
        "replicated",
        "fail",
        "no enabled replication rule: s3://recsys-models-us-east-1 -> s3://recsys-models-us-west-2",
    )


def test_ungraceful_does_not_ask_the_source_about_replication(app: RecoveryPlan, f: ClientFactory) -> None:
    replication = verdicts(artifacts.checks(request(app, f, "check", mode="ungraceful")))[-1]
    assert replication == check(
        "s3.artifacts_replicate_to_target",
        "recsys-models-us-east-1",
        None,
        "replication rule",
        "skipped",
        "ungraceful: us-east-1 is not consulted",
    )


# Aurora

LAG = (
    "recsys-metadata-usw2 (AWS/RDS AuroraGlobalDBRPOLag {DBClusterIdentifier=recsys-metadata-usw2, "
    "SourceRegion=us-east-1}, Maximum)"
)


def test_a_replicating_secondary_within_the_rpo(app: RecoveryPlan, f: ClientFactory) -> None:
    assert verdicts(aurora.checks(request(app, f, "check"))) == [
        check("aurora.cluster_available", "recsys-metadata-usw2", "available", "available", "pass"),
        check("aurora.global_member", "recsys-metadata-usw2", True, "recsys-metadata-global", "pass"),
        check("aurora.synchronized", "recsys-metadata-usw2", "connected", "connected", "pass"),
        check("aurora.replication_lag_ms", LAG, 120.0, 60_000, "pass"),
        check("aurora.writer", "recsys-metadata-global", "us-east-1", "a writer region", "pass"),
    ]


NO_LAG = "no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag series for this cluster"


def test_a_lag_that_cannot_be_read_fails_graceful_and_is_unknown_ungraceful(
    plan_doc: dict[str, Any], f: ClientFactory
) -> None:
    plan = world.build(plan_doc, f, lag_ms=None, store=False, aurora_and_tables=False)
    series = "recsys-metadata-usw2 (AWS/RDS AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag, Maximum)"
    assert verdicts(aurora.checks(request(plan, f, "check")))[3] == check(
        "aurora.replication_lag_ms", series, None, 60_000, "fail", NO_LAG
    )
    assert verdicts(aurora.checks(request(plan, f, "check", mode="ungraceful")))[3] == check(
        "aurora.replication_lag_ms", series, None, 60_000, "unknown", f"{NO_LAG}; RPO exposure unknown"
    )


def test_a_lag_past_the_rpo_passes_only_ungraceful_and_forced(app: RecoveryPlan, f: ClientFactory) -> None:
    world.put_replication_lag(app, f, "us-west-2", 60_001)
    over = check("aurora.replication_lag_ms", LAG, 60_001.0, 60_000, "fail", "replication lag exceeds the plan's RPO")
    assert verdicts(aurora.checks(request(app, f, "check", force_beyond_rpo=True)))[3] == over
    ungraceful = over | {
        "detail": over["detail"] + " (a run started with force_beyond_rpo goes on, and loses that much)"
    }
    assert verdicts(aurora.checks(request(app, f, "check", mode="ungraceful")))[3] == ungraceful
    assert verdicts(aurora.checks(request(app, f, "check", mode="ungraceful", force_beyond_rpo=True)))[3] == check(
        "aurora.replication_lag_ms", LAG, 60_001.0, 60_000, "pass", "over the RPO, accepted by force_beyond_rpo"
    )


def test_a_secondary_that_is_not_ready(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.clusters["us-west-2"].status = "modifying"
    db.sync_status = "pending-resync"
    world.put_replication_lag(app, f, "us-west-2", 61_000)
    assert verdicts(aurora.checks(request(app, f, "check"))) == [
        check("aurora.cluster_available", "recsys-metadata-usw2", "modifying", "available", "fail"),
        check("aurora.global_member", "recsys-metadata-usw2", True, "recsys-metadata-global", "pass"),
        check(
            "aurora.synchronized",
            "recsys-metadata-usw2",
            "pending-resync",
            "connected",
            "fail",
            "the secondary is not replicating from the writer",
        ),
        check("aurora.replication_lag_ms", LAG, 61_000.0, 60_000, "fail", "replication lag exceeds the plan's RPO"),
        check("aurora.writer", "recsys-metadata-global", "us-east-1", "a writer region", "pass"),
    ]


def test_a_cluster_outside_the_global_cluster(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.detached.add("us-west-2")
    member, sync = verdicts(aurora.checks(request(app, f, "check")))[1:3]
    assert member == check(
        "aurora.global_member",
        "recsys-metadata-usw2",
        False,
        "recsys-metadata-global",
        "fail",
        "not a member of the global cluster",
    )
    assert sync == check(
        "aurora.synchronized",
        "recsys-metadata-usw2",
        None,
        "connected",
        "unknown",
        "the global cluster reports no status",
    )


def test_the_writer_needs_no_replication(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.writer_region = "us-west-2"
    sync, lag, writer = verdicts(aurora.checks(request(app, f, "check")))[2:]
    assert writer == check("aurora.writer", "recsys-metadata-global", "us-west-2", "a writer region", "pass")
    resource = "recsys-metadata-usw2 (AWS/RDS replication lag, Maximum)"
    assert sync == check(
        "aurora.synchronized", "recsys-metadata-usw2", None, "connected", "skipped", "the target already is the writer"
    )
    assert lag == check(
        "aurora.replication_lag_ms", resource, None, 60_000, "skipped", "the target already is the writer"
    )


# A check whose reading fails is reported under its own name, resource and threshold, with why.


def _denied(**_: Any) -> Any:
    return aws_like._error("AccessDenied", "not authorized", 403)


def test_aurora_checks_when_nothing_can_be_read(app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan_doc["aurora"]["global_cluster_id"] = "no-such-global"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    f.cloudwatch("us-west-2").meta.events.register("before-call.cloudwatch.ListMetrics", _denied)
    available, member, sync, lag, writer = verdicts(aurora.checks(request(plan, f, "check")))
    assert writer == check(
        "aurora.writer", "no-such-global", None, "a writer region", "unknown", "the global cluster could not be read"
    )
    assert {k: available[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
        "name": "aurora.cluster_available",
        "resource": "recsys-metadata-usw2",
        "observed": None,
        "threshold": "available",
        "verdict": "fail",
    }
    assert available["detail"].startswith("Aurora global cluster no-such-global: not found")
    assert member == check(
        "aurora.global_member",
        "recsys-metadata-usw2",
        None,
        "no-such-global",
        "fail",
        "the cluster or global cluster could not be read",
    )
    assert sync == check(
        "aurora.synchronized", "recsys-metadata-usw2", None, "connected", "fail", "the cluster could not be read"
    )
    assert {k: lag[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
        "name": "aurora.replication_lag_ms",
        "resource": "recsys-metadata-usw2 (AWS/RDS replication lag, Maximum)",
        "observed": None,
        "threshold": 60_000,
        "verdict": "fail",
    }
    assert "AccessDenied" in lag["detail"]


def test_records_that_cannot_be_read_fail_each_naming_the_record(app: RecoveryPlan, f: ClientFactory) -> None:
    f.route53("us-west-2").meta.events.register("before-call.route53.ListResourceRecordSets", _denied)
    zone, api, inference = verdicts(route53.checks(request(app, f, "check")))
    assert zone["verdict"] == "pass"
    for found, fqdn in ((api, "api.recsys.example.com."), (inference, "inference.recsys.example.com.")):
        assert {k: found[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
            "name": "route53.record_sets",
            "resource": f"{fqdn} CNAME",
            "observed": None,
            "threshold": "exists",
            "verdict": "fail",
        }
        assert found["detail"].startswith(f"Route 53 records of {fqdn} in zone {app.hosted_zone_id}: ")
        assert "AccessDenied" in found["detail"]


def test_replication_latency_from_a_source_that_does_not_answer_is_unknown(
    app: RecoveryPlan, f: ClientFactory, outage: aws_like.Outage
) -> None:
    outage.down.add("us-east-1")
    found = verdicts(dynamodb.latency_checks(request(app, f, "check")))
    for c, (table, resource) in zip(
        found, (("recsys-features", FEATURES_LATENCY), ("recsys-sessions", SESSIONS_LATENCY)), strict=True
    ):
        assert {k: c[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
            "name": "dynamodb.replication_latency_ms",
            "resource": resource,
            "observed": None,
            "threshold": 60_000,
            "verdict": "unknown",
        }
        assert c["detail"].startswith(f"no answer: CloudWatch ReplicationLatency of {table}: ")


def test_sagemaker_checks_of_an_endpoint_that_does_not_exist(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-gone"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    in_service, same = verdicts(sagemaker.checks(request(plan, f, "check")))
    assert {k: in_service[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
        "name": "sagemaker.endpoint_in_service",
        "resource": "recsys-gone",
        "observed": None,
        "threshold": "InService",
        "verdict": "fail",
    }
    assert {k: same[k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
        "name": "sagemaker.same_model_as_source",
        "resource": "recsys-gone",
        "observed": None,
        "threshold": "identical",
        "verdict": "fail",
    }
    assert in_service["detail"].startswith("SageMaker endpoint recsys-gone in us-west-2: not found")


def test_a_serving_endpoint_does_not_repeat_an_old_failure(app: RecoveryPlan, f: ClientFactory) -> None:
    endpoint_reads(f, "InService", "an update last week failed and was rolled back")
    assert verdicts(sagemaker.checks(request(app, f, "check")))[0]["detail"] == ""


def standby_model(f: ClientFactory, name: str, containers: list[dict[str, str]], region: str = "us-west-2") -> None:
    """A standby endpoint ``name`` (in us-west-2 unless told) with one variant per container (``ranker`` first)."""
    sm = f.sagemaker(region)
    variants = []
    for i, container in enumerate(containers):
        model = f"{name}-{i}"
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=f"arn:aws:iam::{world.ACCOUNT}:role/x",
            PrimaryContainer=container,  # type: ignore[arg-type]
        )
        variants.append(
            {
                "VariantName": "ranker" if i == 0 else f"extra{i}",
                "ModelName": model,
                "InstanceType": "ml.g4dn.xlarge",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        )
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants)  # type: ignore[arg-type]
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def test_what_the_plans_account_does_not_own_is_skipped_with_why(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    dlc = "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference:2.1.0-gpu"
    standby_model(
        f,
        "recsys-pipeline-usw2",
        [
            {"Image": "public.ecr.aws/docker/library/nginx:1.27", "ModelDataUrl": ARTIFACT},
            {"Image": dlc, "ModelDataUrl": "s3://jumpstart-cache-prod-us-west-2/ranker/model.tar.gz"},
        ],
    )
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-pipeline-usw2"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    found = verdicts(artifacts.checks(request(plan, f, "check")))
    assert found[:4] == [
        check(
            "ecr.image_in_target_region",
            "public.ecr.aws/docker/library/nginx:1.27",
            None,
            "us-west-2",
            "skipped",
            "not an ECR image",
        ),
        check("s3.model_artifacts_present", ARTIFACT, len(b"model weights"), "exists", "pass"),
        check(
            "ecr.image_in_target_region",
            dlc,
            "763104351884",
            "123456789012",
            "skipped",
            "the image belongs to account 763104351884, not the plan's (123456789012): "
            "its owner serves it; not checked",
        ),
        check(
            "s3.model_artifacts_present",
            "s3://jumpstart-cache-prod-us-west-2/ranker/model.tar.gz",
            "jumpstart-cache-prod-us-west-2",
            "recsys-models-us-west-2",
            "skipped",
            "s3://jumpstart-cache-prod-us-west-2 is not one of the plan's artifact buckets (a JumpStart or other "
            "account's bucket): its owner serves it; not checked",
        ),
    ]


def test_images_by_digest_and_by_default_tag(app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]) -> None:
    ecr = f.client("ecr", "us-west-2")
    digest = ecr.describe_images(repositoryName="recsys-ranker")["imageDetails"][0]["imageDigest"]
    by_digest = f"123456789012.dkr.ecr.us-west-2.amazonaws.com/recsys-ranker@{digest}"
    untagged = "123456789012.dkr.ecr.us-west-2.amazonaws.com/recsys-ranker"
    standby_model(f, "recsys-digest-usw2", [{"Image": by_digest}, {"Image": untagged}])
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-digest-usw2"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    digest_check, latest_check = verdicts(artifacts.checks(request(plan, f, "check")))[:2]
    assert digest_check == check("ecr.image_in_target_region", by_digest, "present", "present", "pass")
    assert (latest_check["verdict"], latest_check["threshold"]) == ("fail", "us-west-2")
    assert latest_check["detail"].startswith("ECR image recsys-ranker {'imageTag': 'latest'} in us-west-2: ")


def test_each_endpoint_is_checked_and_one_that_cannot_be_read_is_named(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    other = "123456789012.dkr.ecr.us-west-2.amazonaws.com/recsys-ranker:2026-11-01"
    standby_model(f, "recsys-second-usw2", [{"Image": other, "ModelDataUrl": ARTIFACT}])
    endpoints = plan_doc["sagemaker"]["endpoints"]
    for region, second in (("us-east-1", "recsys-ranker-use1"), ("us-west-2", "recsys-second-usw2")):
        endpoints[region] = [
            {**endpoints[region], "endpoint_name": "recsys-gone"},
            {**endpoints[region], "endpoint_name": second},
        ]
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    found = verdicts(artifacts.checks(request(plan, f, "check", mode="ungraceful")))
    assert {k: found[0][k] for k in ("name", "resource", "observed", "threshold", "verdict")} == {
        "name": "model.artifacts",
        "resource": "recsys-gone",
        "observed": None,
        "threshold": "readable",
        "verdict": "fail",
    }
    assert found[0]["detail"].startswith("SageMaker endpoint recsys-gone in us-west-2: not found")
    assert [c["name"] for c in found[1:]] == [
        "ecr.image_in_target_region",
        "s3.model_artifacts_present",
        "s3.artifacts_replicate_to_target",
    ]
    assert found[1]["resource"] == other


USE1_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/recsys-ranker:2026-11-01"
USE1_ARTIFACT = "s3://recsys-models-us-east-1/ranker/2026-11-01/model.tar.gz"


def test_a_standby_reading_the_sources_registry_or_bucket_fails_naming_the_region(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    standby_model(f, "recsys-cross-usw2", [{"Image": USE1_IMAGE, "ModelDataUrl": USE1_ARTIFACT}])
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-cross-usw2"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    assert verdicts(artifacts.checks(request(plan, f, "check")))[:2] == [
        check(
            "ecr.image_in_target_region",
            USE1_IMAGE,
            "us-east-1",
            "us-west-2",
            "fail",
            "the image is pulled from us-east-1's registry, which fails with that region",
        ),
        check(
            "s3.model_artifacts_present",
            USE1_ARTIFACT,
            "recsys-models-us-east-1",
            "recsys-models-us-west-2",
            "fail",
            "the artifact is read from us-east-1's bucket",
        ),
    ]


def test_the_standbys_bucket_living_in_another_region_fails(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    f.client("s3", "us-east-1").create_bucket(Bucket="recsys-models-misplaced")
    url = "s3://recsys-models-misplaced/ranker/model.tar.gz"
    standby_model(f, "recsys-misplaced-usw2", [{"Image": IMAGE, "ModelDataUrl": url}])
    plan_doc["sagemaker"]["artifact_buckets"]["us-west-2"] = "recsys-models-misplaced"
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-misplaced-usw2"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    assert verdicts(artifacts.checks(request(plan, f, "check", mode="ungraceful")))[1] == check(
        "s3.model_artifacts_present",
        url,
        "us-east-1",
        "us-west-2",
        "fail",
        "s3://recsys-models-misplaced lives in us-east-1",
    )


def test_every_readable_endpoints_images_and_artifacts_are_checked(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    second = "123456789012.dkr.ecr.us-west-2.amazonaws.com/recsys-ranker@sha256:" + "0" * 64
    standby_model(f, "recsys-second-usw2", [{"Image": second}])
    endpoints = plan_doc["sagemaker"]["endpoints"]
    for region, name in (("us-east-1", "recsys-second-use1"), ("us-west-2", "recsys-second-usw2")):
        endpoints[region] = [endpoints[region], {**endpoints[region], "endpoint_name": name}]
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    found = verdicts(artifacts.checks(request(plan, f, "check", mode="ungraceful")))
    assert [(c["name"], c["resource"], c["verdict"]) for c in found] == [
        ("ecr.image_in_target_region", IMAGE, "pass"),
        ("s3.model_artifacts_present", ARTIFACT, "pass"),
        ("ecr.image_in_target_region", second, "fail"),
        ("s3.artifacts_replicate_to_target", "recsys-models-us-east-1", "skipped"),
    ]


def test_replication_is_wanted_from_every_bucket_the_source_reads_to_every_other_the_standby_reads(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    both = [{"Image": IMAGE, "ModelDataUrl": ARTIFACT}, {"Image": IMAGE, "ModelDataUrl": USE1_ARTIFACT}]
    standby_model(f, "recsys-both-usw2", both)
    standby_model(f, "recsys-both-use1", both, region="us-east-1")
    for region in ("us-east-1", "us-west-2"):
        endpoint = plan_doc["sagemaker"]["endpoints"][region]
        endpoint["endpoint_name"] = f"recsys-both-{region.replace('us-east-1', 'use1').replace('us-west-2', 'usw2')}"
        endpoint["variants"].append({**endpoint["variants"][0], "variant_name": "extra1"})
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    s3 = f.client("s3", "us-east-1")
    config = s3.get_bucket_replication(Bucket="recsys-models-us-east-1")["ReplicationConfiguration"]
    config["Rules"][0]["Status"] = "Disabled"
    s3.put_bucket_replication(Bucket="recsys-models-us-east-1", ReplicationConfiguration=config)
    s3.put_bucket_replication(Bucket="recsys-models-us-west-2", ReplicationConfiguration=config)  # to itself: no use
    assert verdicts(artifacts.checks(request(plan, f, "check")))[-1] == check(
        "s3.artifacts_replicate_to_target",
        "recsys-models-us-east-1,recsys-models-us-west-2",
        ["recsys-models-us-east-1", "recsys-models-us-west-2"],
        "replicated",
        "fail",
        "no enabled replication rule: s3://recsys-models-us-east-1 -> s3://recsys-models-us-west-2, "
        "s3://recsys-models-us-west-2 -> s3://recsys-models-us-east-1",
    )


def test_every_variant_serving_another_model_is_named(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    standby_model(f, "recsys-two-usw2", [{"Image": IMAGE, "ModelDataUrl": ARTIFACT}] * 2)
    older = {"Image": USE1_IMAGE.replace("2026-11-01", "2026-10-01"), "ModelDataUrl": USE1_ARTIFACT}
    standby_model(f, "recsys-two-use1", [older] * 2, "us-east-1")
    for region, name in (("us-east-1", "recsys-two-use1"), ("us-west-2", "recsys-two-usw2")):
        endpoint = plan_doc["sagemaker"]["endpoints"][region]
        endpoint["endpoint_name"] = name
        endpoint["variants"].append({**endpoint["variants"][0], "variant_name": "extra1"})
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    same = verdicts(sagemaker.checks(request(plan, f, "check")))[1]
    assert (same["verdict"], same["detail"]) == (
        "fail",
        "variant(s) extra1, ranker serve a different image or model data",
    )


# Each way a service can fail to answer, and the verdict it gets: never a pass, unknown when nothing says the
# resource is wrong (no answer; an answer of throttling or 5xx past the SDK's retries; an API the service lacks),
# failing when the service said so (denied, not found).
SSM = "https://ssm.us-west-2.amazonaws.com"


def _failing(failure: Exception | tuple[str, int]) -> Callable[..., Any]:
    """A before-call hook: the call fails with ``failure`` (an exception of the SDK, or AWS's error and status)."""

    def fail(**_: Any) -> Any:
        if isinstance(failure, Exception):
            raise failure
        code, status = failure
        return aws_like.answer_with_error(code, f"drill: {code}", status)

    return fail


@pytest.mark.parametrize(
    ("failure", "verdict", "detail"),
    [
        (EndpointConnectionError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (ConnectTimeoutError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (ReadTimeoutError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (ConnectionClosedError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (("ThrottlingException", 400), "unknown", BROWNED_OUT),
        (("InternalServerError", 500), "unknown", BROWNED_OUT),
        (("ServiceUnavailable", 503), "unknown", BROWNED_OUT),
        (("AccessDeniedException", 400), "fail", "AccessDeniedException"),
        (("ParameterNotFound", 400), "fail", "parameter missing in us-west-2"),
        (("UnknownOperationException", 400), "unknown", "the service cannot answer"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_every_way_a_service_fails_to_answer_has_its_verdict(
    app: RecoveryPlan, f: ClientFactory, *, failure: Any, verdict: str, detail: str, mode: Mode
) -> None:
    f.ssm("us-west-2").meta.events.register("before-call.ssm.GetParameter", _failing(failure))
    req = request(app, f, "check", mode=mode)
    (parameter,) = [c for c in dynamodb.checks(req) if c.name == "dynamodb.write_region_parameter"]
    assert parameter.verdict == verdict, parameter.detail
    assert detail in parameter.detail


@pytest.mark.parametrize(
    ("failure", "verdict", "detail"),
    [
        (EndpointConnectionError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (ReadTimeoutError(endpoint_url=SSM), "unknown", NO_ANSWER),
        (("ThrottlingException", 400), "unknown", BROWNED_OUT),
        (("InternalFailure", 500), "unknown", BROWNED_OUT),
        (("AccessDeniedException", 400), "fail", "AccessDeniedException"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_an_endpoint_whose_containers_cannot_be_read_is_never_a_crash(
    app: RecoveryPlan, f: ClientFactory, failure: Any, verdict: str, detail: str
) -> None:
    f.sagemaker("us-west-2").meta.events.register("before-call.sagemaker.DescribeEndpoint", _failing(failure))
    (read,) = [c for c in artifacts.checks(request(app, f, "check")) if c.name == "model.artifacts"]
    assert read.verdict == verdict, read.detail
    assert detail in read.detail
