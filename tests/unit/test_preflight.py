"""preflight, fast: every check reported, NotReady naming every failure, nothing changed. The world is the whole
sample application (moto, the in-process global database and global tables); regions can go down mid-test."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.checks import NO_ANSWER
from failover_controller.clients import ClientFactory
from failover_controller.errors import NotReady, TransientAwsError
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.steps import preflight
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.global_tables import GlobalTables
from tests.support.requests import request

CHECKS = [
    "aurora.cluster_available",
    "aurora.global_member",
    "aurora.synchronized",
    "aurora.replication_lag_ms",
    "aurora.writer",
    "dynamodb.replica_active",
    "dynamodb.replica_active",
    "dynamodb.write_region_parameter",
    "dynamodb.replication_latency_ms",
    "dynamodb.replication_latency_ms",
    "sagemaker.endpoint_in_service",
    "sagemaker.same_model_as_source",
    "ecr.image_in_target_region",
    "s3.model_artifacts_present",
    "s3.artifacts_replicate_to_target",
    "route53.hosted_zone",
    "route53.record_sets",
    "route53.record_sets",
]


def failing(plan: RecoveryPlan, f: ClientFactory, **kw: Any) -> list[str]:
    with pytest.raises(NotReady) as e:
        preflight.run(request(plan, f, "check", **kw))
    return list(e.value.failing)


def test_a_ready_standby_passes_every_check_and_nothing_changes(app: RecoveryPlan, f: ClientFactory) -> None:
    before = world.snapshot(app, f) | {"aurora_writer": None}
    result = preflight.run(request(app, f, "check"))
    assert [c.name for c in result.checks] == CHECKS
    assert {c.verdict for c in result.checks} == {"pass"}
    assert result.step == "preflight"
    # The writer as the run began: PromoteAurora promotes only while it is still there.
    verdicts = {"pass": 18, "fail": 0, "unknown": 0, "skipped": 0}
    assert result.before == result.after == {"verdicts": verdicts, "aurora_writer": "us-east-1"}
    assert result.message == "us-west-2 is ready: 18 pass"
    lag = next(c for c in result.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.observed, lag.threshold) == (120.0, 60_000)
    assert lag.resource == (
        "recsys-metadata-usw2 (AWS/RDS AuroraGlobalDBRPOLag {DBClusterIdentifier=recsys-metadata-usw2, "
        "SourceRegion=us-east-1}, Maximum)"
    )
    assert not result.changed
    assert world.snapshot(app, f) | {"aurora_writer": None} == before


def test_every_failing_check_is_named_and_nothing_changes(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any], db: GlobalDatabase
) -> None:
    world.put_replication_lag(app, f, "us-west-2", 75_000)
    db.sync_status = "pending-resync"
    plan_doc["dynamodb"]["tables"].append("recsys-missing")
    plan_doc["route53"]["records"][0]["set_identifiers"]["us-west-2"] = "recsys-api-nowhere"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    found = failing(plan, f)
    assert [x.split(" ")[0] for x in found] == [
        "aurora.synchronized",
        "aurora.replication_lag_ms",
        "dynamodb.replica_active",
        "route53.record_sets",
    ]
    assert found[0] == "aurora.synchronized recsys-metadata-usw2: the secondary is not replicating from the writer"
    assert found[1].endswith(": replication lag exceeds the plan's RPO")
    assert found[2].startswith("dynamodb.replica_active recsys-missing: DynamoDB table recsys-missing in us-west-2")


def test_the_target_cluster_must_be_available(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.clusters["us-west-2"].status = "modifying"
    assert failing(app, f) == [
        "aurora.cluster_available recsys-metadata-usw2: observed 'modifying', wanted 'available'"
    ]


def test_a_cluster_outside_the_global_cluster_is_not_ready(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.detached.add("us-west-2")
    db.sync_status = None
    assert failing(app, f)[0] == "aurora.global_member recsys-metadata-usw2: not a member of the global cluster"


def test_a_sync_status_not_reported_is_unknown(app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase) -> None:
    db.sync_status = None
    result = preflight.run(request(app, f, "check"))
    sync = next(c for c in result.checks if c.name == "aurora.synchronized")
    assert (sync.verdict, sync.detail) == ("unknown", "the global cluster reports no status")
    assert result.message == "us-west-2 is ready: 17 pass, 1 unknown"


def test_graceful_mode_needs_the_replication_lag(plan_doc: dict[str, Any], f: ClientFactory) -> None:
    app = world.build(plan_doc, f, lag_ms=None, store=False, aurora_and_tables=False)
    found = failing(app, f)
    assert [x.split(" ")[0] for x in found] == ["aurora.replication_lag_ms"]
    assert found[0].endswith(": no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag series for this cluster")


def test_ungraceful_mode_reports_an_unknown_lag_and_does_not_consult_the_source(
    plan_doc: dict[str, Any], f: ClientFactory
) -> None:
    app = world.build(plan_doc, f, lag_ms=None, store=False, aurora_and_tables=False)
    result = preflight.run(request(app, f, "check", mode="ungraceful"))
    lag = next(c for c in result.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.verdict, lag.detail) == (
        "unknown",
        "no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag series for this cluster; RPO exposure unknown",
    )
    assert result.before["verdicts"] == {"pass": 13, "fail": 0, "unknown": 1, "skipped": 4}
    skipped = [c.name for c in result.checks if c.verdict == "skipped"]
    assert skipped == [  # what only the (unreachable) source region can tell
        "dynamodb.replication_latency_ms",
        "dynamodb.replication_latency_ms",
        "sagemaker.same_model_as_source",
        "s3.artifacts_replicate_to_target",
    ]


def test_an_ungraceful_lag_past_the_rpo_blocks_unless_forced(app: RecoveryPlan, f: ClientFactory) -> None:
    world.put_replication_lag(app, f, "us-west-2", 60_001)
    assert [x.split(" ")[0] for x in failing(app, f, mode="ungraceful")] == ["aurora.replication_lag_ms"]
    forced = preflight.run(request(app, f, "check", mode="ungraceful", force_beyond_rpo=True))
    lag = next(c for c in forced.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.verdict, lag.observed, lag.detail) == ("pass", 60_001.0, "over the RPO, accepted by force_beyond_rpo")
    assert [x.split(" ")[0] for x in failing(app, f, force_beyond_rpo=True)] == ["aurora.replication_lag_ms"]


def test_a_lag_at_the_rpo_passes(app: RecoveryPlan, f: ClientFactory) -> None:
    world.put_replication_lag(app, f, "us-west-2", 60_000)
    lag = next(c for c in preflight.run(request(app, f, "check")).checks if c.name == "aurora.replication_lag_ms")
    assert (lag.verdict, lag.detail) == ("pass", "")


def test_after_the_promotion_the_replication_checks_are_skipped(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase
) -> None:
    db.writer_region = "us-west-2"
    result = preflight.run(request(app, f, "check"))
    skipped = {c.name: c.detail for c in result.checks if c.verdict == "skipped"}
    assert skipped == {
        "aurora.synchronized": "the target already is the writer",
        "aurora.replication_lag_ms": "the target already is the writer",
    }


def test_a_replica_not_active_is_not_ready(app: RecoveryPlan, f: ClientFactory, tables: GlobalTables) -> None:
    tables.status["recsys-sessions"]["us-west-2"] = "UPDATING"
    del tables.status["recsys-features"]["us-east-1"]
    assert [x.split(":")[0] for x in failing(app, f)] == [
        "dynamodb.replica_active recsys-features",
        "dynamodb.replica_active recsys-sessions",
    ]


def test_a_source_region_that_does_not_answer_fails_graceful_and_is_unknown_for_ungraceful(
    app: RecoveryPlan, f: ClientFactory, outage: aws_like.Outage
) -> None:
    outage.down.add("us-east-1")
    graceful = failing(app, f)
    assert graceful
    suffix = "; a graceful switchover needs both regions to answer (ungraceful if us-east-1 is down)"
    assert all(x.endswith(suffix) for x in graceful), graceful
    assert all(x.split(": ", 1)[1].startswith(f"{NO_ANSWER}: ") for x in graceful), graceful
    result = preflight.run(request(app, f, "check", mode="ungraceful"))
    assert result.before["verdicts"]["fail"] == 0


def test_a_browned_out_source_region_is_asked_again_in_graceful_and_unknown_for_ungraceful(
    app: RecoveryPlan, f: ClientFactory, outage: aws_like.Outage
) -> None:
    outage.throttled.add("us-east-1")
    with pytest.raises(TransientAwsError, match="answered with throttling or 5xx past the SDK's retries") as e:
        preflight.run(request(app, f, "check"))
    assert e.value.answered, "a browned-out region answered: the state machine's Retry runs Preflight again"
    assert "s3.artifacts_replicate_to_target recsys-models-us-east-1" in e.value.message
    result = preflight.run(request(app, f, "check", mode="ungraceful"))
    assert result.before["verdicts"]["fail"] == 0


def test_a_missing_hosted_zone_fails_without_record_checks(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    plan = parse_plan(world.with_zone(plan_doc, "Z0000000000NOTHERE"))
    assert [x.split(":")[0] for x in failing(plan, f)] == ["route53.hosted_zone Z0000000000NOTHERE"]


def test_what_the_standby_needs_from_its_own_region_is_checked(app: RecoveryPlan, f: ClientFactory) -> None:
    f.client("s3", "us-west-2").delete_object(Bucket="recsys-models-us-west-2", Key="ranker/2026-11-01/model.tar.gz")
    f.client("ecr", "us-west-2").batch_delete_image(
        repositoryName="recsys-ranker", imageIds=[{"imageTag": "2026-11-01"}]
    )
    f.client("s3", "us-east-1").delete_bucket_replication(Bucket="recsys-models-us-east-1")
    assert [x.split(" ")[0] for x in failing(app, f)] == [
        "ecr.image_in_target_region",
        "s3.model_artifacts_present",
        "s3.artifacts_replicate_to_target",
    ]


def test_an_image_pulled_from_the_other_region_fails(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any]
) -> None:
    sm = f.sagemaker("us-west-2")
    image = world.image_uri("us-east-1")
    sm.create_model(
        ModelName="cross-region",
        ExecutionRoleArn=f"arn:aws:iam::{world.ACCOUNT}:role/x",
        PrimaryContainer={"Image": image, "ModelDataUrl": world.model_data_url("us-west-2")},
    )
    variant = {"VariantName": "ranker", "ModelName": "cross-region", "InstanceType": "ml.g4dn.xlarge"}
    sm.create_endpoint_config(
        EndpointConfigName="cross-region",
        ProductionVariants=[{**variant, "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}],  # type: ignore[list-item]
    )
    sm.create_endpoint(EndpointName="recsys-ranker-usw2-cross", EndpointConfigName="cross-region")
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["endpoint_name"] = "recsys-ranker-usw2-cross"
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    assert [x for x in failing(plan, f) if x.startswith("ecr.")] == [
        f"ecr.image_in_target_region {image}: "
        "the image is pulled from us-east-1's registry, which fails with that region"
    ]


def test_a_table_without_replication_latency_data_is_unknown_and_does_not_block(
    app: RecoveryPlan, f: ClientFactory, plan_doc: dict[str, Any], tables: GlobalTables
) -> None:
    tables.status["recsys-extra"] = {"us-east-1": "ACTIVE", "us-west-2": "ACTIVE"}
    plan_doc["dynamodb"]["tables"].append("recsys-extra")
    plan = parse_plan(world.with_zone(plan_doc, app.hosted_zone_id))
    result = preflight.run(request(plan, f, "check"))
    latency = {
        c.resource.split(" ")[0]: (c.verdict, c.observed, c.detail)
        for c in result.checks
        if c.name == "dynamodb.replication_latency_ms"
    }
    assert latency["recsys-features"] == ("pass", 350.0, "")
    assert latency["recsys-extra"] == ("unknown", None, "no datapoint in the last 5 minutes")


@pytest.mark.parametrize(
    ("reading", "ungraceful_verdict"), [("connected", "pass"), ("pending-resync", "unknown"), (None, "unknown")]
)
def test_what_the_secondary_reads_while_the_primary_is_unreachable_never_blocks_a_failover_with_data_loss(
    app: RecoveryPlan, f: ClientFactory, db: GlobalDatabase, reading: str | None, ungraceful_verdict: str
) -> None:
    """AWS documents connected and pending-resync, and not what a secondary reads while its primary's region is
    dark: every reading is tried. Ungraceful runs go on (the lag and the RPO guard judge the loss); a switchover
    needs a connected secondary."""
    db.sync_status = reading
    result = preflight.run(request(app, f, "check", mode="ungraceful"))
    (synced,) = [c for c in result.checks if c.name == "aurora.synchronized"]
    assert synced.verdict == ungraceful_verdict
    if reading == "pending-resync":
        assert "aurora.synchronized recsys-metadata-usw2" in " ".join(failing(app, f)), "graceful: not ready"
