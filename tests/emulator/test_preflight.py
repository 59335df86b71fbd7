"""preflight against the emulated world: every check reported, NotReady naming all failures, no change."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.errors import NotReady
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import preflight, promote_aurora
from failoverctl.drill import world
from tests.support.requests import request

pytestmark = pytest.mark.emulator


def verdicts(result: Any) -> dict[str, str]:
    return {f"{c.name} {c.resource}": c.verdict for c in result.checks}


def test_a_ready_standby_passes_every_check_and_nothing_changes(app: RecoveryPlan, emulated: ClientFactory) -> None:
    before = world.snapshot(app, emulated)
    result = preflight.run(request(app, emulated, "check"))
    assert set(verdicts(result).values()) == {"pass"}
    assert {c.name for c in result.checks} == {
        "aurora.cluster_available",
        "aurora.global_member",
        "aurora.synchronized",
        "aurora.replication_lag_ms",
        "dynamodb.replica_active",
        "dynamodb.write_region_parameter",
        "dynamodb.replication_latency_ms",
        "sagemaker.endpoint_in_service",
        "sagemaker.same_model_as_source",
        "ecr.image_in_target_region",
        "s3.model_artifacts_present",
        "s3.artifacts_replicate_to_target",
        "route53.hosted_zone",
        "route53.record_sets",
    }
    by_name = {c.name: c for c in result.checks}
    assert by_name["dynamodb.replication_latency_ms"].observed == 350.0
    assert by_name["ecr.image_in_target_region"].resource.endswith("us-west-2.amazonaws.com/recsys-ranker:2026-11-01")
    assert (
        by_name["s3.model_artifacts_present"].resource == "s3://recsys-models-us-west-2/ranker/2026-11-01/model.tar.gz"
    )
    lag = next(c for c in result.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.observed, lag.threshold) == (120.0, 60_000)
    assert "AuroraGlobalDBRPOLag {DBClusterIdentifier=recsys-metadata-usw2, SourceRegion=us-east-1}" in lag.resource
    assert not result.changed
    assert world.snapshot(app, emulated) == before


def test_every_failing_check_is_named_and_nothing_changes(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    app = world.build(plan_doc, emulated, lag_ms=75_000, standby_model_tag="2026-10-01")
    plan_doc["dynamodb"]["tables"].append("recsys-missing")
    plan_doc["route53"]["records"][0]["set_identifiers"]["us-west-2"] = "recsys-api-nowhere"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    before = world.snapshot(app, emulated)
    with pytest.raises(NotReady) as info:
        preflight.run(request(plan, emulated, "check"))
    failing = info.value.failing
    assert len(failing) == 4
    assert any(f.startswith("aurora.replication_lag_ms") and "exceeds the plan's RPO" in f for f in failing)
    assert any(f.startswith("dynamodb.replica_active recsys-missing") and "not found" in f for f in failing)
    assert any(f.startswith("sagemaker.same_model_as_source") and "ranker serve a different" in f for f in failing)
    assert any(
        f.startswith("route53.record_sets api.recsys.example.com.") and "recsys-api-nowhere" in f for f in failing
    )
    checks = info.value.details["checks"]
    model = next(c for c in checks if c["name"] == "sagemaker.same_model_as_source")
    assert model["observed"]["target"]["ranker"]["image"] == "recsys-ranker:2026-10-01"
    assert model["observed"]["source"]["ranker"]["image"] == "recsys-ranker:2026-11-01"
    assert world.snapshot(app, emulated) == before


def test_graceful_mode_needs_replication_lag_data(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    app = world.build(plan_doc, emulated, lag_ms=None)
    with pytest.raises(
        NotReady, match=r"aurora\.replication_lag_ms .*no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag series"
    ):
        preflight.run(request(app, emulated, "check"))


def test_ungraceful_mode_reports_unknown_lag_and_does_not_consult_the_source(
    emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    app = world.build(plan_doc, emulated, lag_ms=None, standby_model_tag="2026-10-01")
    result = preflight.run(request(app, emulated, "check", mode="ungraceful"))
    by_name = {c.name: c for c in result.checks}
    assert by_name["aurora.replication_lag_ms"].verdict == "unknown"
    assert by_name["sagemaker.same_model_as_source"].verdict == "skipped"
    assert result.before["verdicts"] == {"pass": 12, "fail": 0, "unknown": 1, "skipped": 4}


def test_ungraceful_lag_beyond_rpo_blocks_unless_forced(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    app = world.build(plan_doc, emulated, lag_ms=75_000)
    with pytest.raises(NotReady, match="exceeds the plan's RPO"):
        preflight.run(request(app, emulated, "check", mode="ungraceful"))
    forced = preflight.run(request(app, emulated, "check", mode="ungraceful", force_beyond_rpo=True))
    lag = next(c for c in forced.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.verdict, lag.observed) == ("pass", 75_000.0)
    assert "force_beyond_rpo" in lag.detail


def test_after_promotion_the_lag_check_is_skipped(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    result = preflight.run(request(app, emulated, "check"))
    lag = next(c for c in result.checks if c.name == "aurora.replication_lag_ms")
    assert lag.verdict == "skipped"


def test_a_missing_hosted_zone_fails_without_record_checks(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    with pytest.raises(NotReady) as info:
        preflight.run(request(plan, emulated, "check"))
    assert [f.split(":")[0] for f in info.value.failing] == ["route53.hosted_zone Z0000000000NOTHERE"]


def test_what_the_standby_needs_from_its_own_region_is_checked(app: RecoveryPlan, emulated: ClientFactory) -> None:
    emulated.client("s3", "us-west-2").delete_object(
        Bucket="recsys-models-us-west-2", Key="ranker/2026-11-01/model.tar.gz"
    )
    emulated.client("ecr", "us-west-2").batch_delete_image(
        repositoryName="recsys-ranker", imageIds=[{"imageTag": "2026-11-01"}]
    )
    emulated.client("s3", "us-east-1").delete_bucket_replication(Bucket="recsys-models-us-east-1")
    with pytest.raises(NotReady) as info:
        preflight.run(request(app, emulated, "check"))
    failing = {f.split(" ")[0] for f in info.value.failing}
    assert failing == {"ecr.image_in_target_region", "s3.model_artifacts_present", "s3.artifacts_replicate_to_target"}


def test_an_image_pulled_from_the_other_region_fails(emulated: ClientFactory, plan_doc: dict[str, Any]) -> None:
    app = world.build(plan_doc, emulated)
    sm = emulated.sagemaker("us-west-2")
    image = world.image_uri("us-east-1")
    sm.create_model(
        ModelName="cross-region",
        ExecutionRoleArn=f"arn:aws:iam::{world.ACCOUNT}:role/x",
        PrimaryContainer={"Image": image, "ModelDataUrl": world.model_data_url("us-west-2")},
    )
    sm.create_endpoint_config(
        EndpointConfigName="cross-region",
        ProductionVariants=[
            {
                "VariantName": "ranker",
                "ModelName": "cross-region",
                "InstanceType": "ml.g4dn.xlarge",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    sm.create_endpoint(EndpointName="recsys-ranker-usw2-cross", EndpointConfigName="cross-region")
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-ranker-usw2-cross"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    with pytest.raises(NotReady) as info:
        preflight.run(request(plan, emulated, "check"))
    assert [f for f in info.value.failing if f.startswith("ecr.")] == [
        f"ecr.image_in_target_region {image}: "
        "the image is pulled from us-east-1's registry, which fails with that region"
    ]


def test_no_replication_latency_data_is_unknown_and_does_not_block(
    app: RecoveryPlan, emulated: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    ddb = emulated.dynamodb("us-east-1")
    ddb.create_table(
        TableName="recsys-extra",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.update_table(TableName="recsys-extra", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    plan_doc["dynamodb"]["tables"].append("recsys-extra")
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    result = preflight.run(request(plan, emulated, "check"))
    latency = {
        c.resource.split(" ")[0]: (c.verdict, c.detail)
        for c in result.checks
        if c.name == "dynamodb.replication_latency_ms"
    }
    assert latency["recsys-features"] == ("pass", "")
    assert latency["recsys-extra"] == ("unknown", "no datapoint in the last 5 minutes")
