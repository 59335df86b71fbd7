"""What AWS does that moto forgives: each test's world answers as AWS does (tests/support/aws_like.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.checks import artifacts
from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.reads import aurora
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.requests import request

DLC_IMAGE = "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference:2.6.0-gpu-py312"


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session()


@pytest.fixture
def strict(session: boto3.Session) -> ClientFactory:
    aws_like.strict_metric_dimensions(session)
    return ClientFactory(session=session)


def put_lag(f: ClientFactory, metric: str, dimensions: dict[str, str], value: float, region: str = "us-west-2") -> None:
    f.cloudwatch(region).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Value": value,
                "Unit": "Milliseconds",
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


def test_the_lag_is_read_from_the_series_aurora_publishes(strict: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    world.put_replication_lag(plan, strict, "us-west-2", 420.0)
    put_lag(strict, "AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "someone-elses", "SourceRegion": "x"}, 9e6)
    reading = aurora.replication_lag(request(plan, strict, "promote"), "aurora-mysql")
    assert reading.value_ms == 420.0
    assert reading.dimensions == {"DBClusterIdentifier": "recsys-metadata-usw2", "SourceRegion": "us-east-1"}


def test_postgresql_reads_the_rpo_lag_first(strict: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    dims = {"DBClusterIdentifier": "recsys-metadata-usw2", "SourceRegion": "us-east-1"}
    put_lag(strict, "AuroraGlobalDBReplicationLag", dims, 100.0)
    put_lag(strict, "AuroraGlobalDBRPOLag", dims, 2_500.0)
    reading = aurora.replication_lag(request(plan, strict, "promote"), "aurora-postgresql")
    assert (reading.metric, reading.value_ms) == ("AuroraGlobalDBRPOLag", 2_500.0)
    mysql = aurora.replication_lag(request(plan, strict, "promote"), "aurora-mysql")
    assert (mysql.metric, mysql.value_ms) == ("AuroraGlobalDBReplicationLag", 100.0)


def test_a_series_keyed_by_source_region_alone_is_found(strict: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    put_lag(strict, "AuroraGlobalDBReplicationLag", {"SourceRegion": "us-east-1"}, 800.0)
    reading = aurora.replication_lag(request(plan, strict, "promote"), "aurora-mysql")
    assert (reading.value_ms, reading.dimensions) == (800.0, {"SourceRegion": "us-east-1"})


def test_no_series_is_none_with_the_reason(strict: ClientFactory, plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    reading = aurora.replication_lag(request(plan, strict, "promote"), "aurora-postgresql")
    assert reading.value_ms is None
    assert reading.detail == "no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag series for this cluster"


def _artifact_world(f: ClientFactory, plan_doc: dict[str, Any]) -> RecoveryPlan:
    plan = parse_plan(plan_doc)
    world.create_model_artifacts(plan, f)
    world.create_sagemaker(plan, f)
    return plan


def _serve(f: ClientFactory, plan: RecoveryPlan, region: str, image: str, model_data: str) -> None:
    """Point the region's endpoint at another model."""
    sm = f.sagemaker(region)
    name = plan.endpoints[region][0].endpoint_name
    sm.create_model(
        ModelName=f"{name}-other",
        PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
        ExecutionRoleArn=f"arn:aws:iam::{world.ACCOUNT}:role/recsys-sagemaker",
    )
    config = sm.describe_endpoint_config(EndpointConfigName=f"{name}-config")["ProductionVariants"]
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-other",
        ProductionVariants=[{**v, "ModelName": f"{name}-other"} for v in config],
    )
    sm.delete_endpoint(EndpointName=name)  # moto has no UpdateEndpoint
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-other")


def verdicts(checks: list[Any]) -> dict[tuple[str, str], str]:
    return {(c.name, c.resource): c.verdict for c in checks}


def test_an_aws_owned_image_and_bucket_are_skipped_not_failed(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    f = ClientFactory(session=session)
    plan = _artifact_world(f, plan_doc)
    jumpstart = "s3://jumpstart-cache-prod-us-west-2/pytorch-infer/model.tar.gz"
    _serve(f, plan, "us-west-2", DLC_IMAGE, jumpstart)
    checks = artifacts.checks(request(plan, f, "check", mode="ungraceful"))
    by = {c.name: c for c in checks}
    assert verdicts(checks)[("ecr.image_in_target_region", DLC_IMAGE)] == "skipped"
    assert "belongs to account 763104351884, not the plan's (123456789012)" in by["ecr.image_in_target_region"].detail
    assert verdicts(checks)[("s3.model_artifacts_present", jumpstart)] == "skipped"
    assert not [c for c in checks if c.verdict == "fail"]


def test_an_artifact_in_the_source_regions_bucket_fails(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    f = ClientFactory(session=session)
    plan = _artifact_world(f, plan_doc)
    # The standby serves its model from the primary's bucket: HeadObject through a us-west-2 client would follow
    # S3's redirect and succeed, and the standby would lose its model with us-east-1.
    _serve(f, plan, "us-west-2", world.image_uri("us-west-2"), world.model_data_url("us-east-1"))
    checks = artifacts.checks(request(plan, f, "check", mode="ungraceful"))
    artifact = next(c for c in checks if c.name == "s3.model_artifacts_present")
    assert (artifact.verdict, artifact.detail) == ("fail", "the artifact is read from us-east-1's bucket")


def test_a_target_bucket_that_lives_elsewhere_fails(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    f = ClientFactory(session=session)
    plan_doc["sagemaker"]["artifact_buckets"]["us-west-2"] = "recsys-models-misplaced"
    plan = _artifact_world(f, plan_doc)
    f.client("s3", "us-east-1").create_bucket(Bucket="recsys-models-misplaced")
    f.client("s3", "us-east-1").put_object(Bucket="recsys-models-misplaced", Key="ranker/model.tar.gz", Body=b"w")
    url = "s3://recsys-models-misplaced/ranker/model.tar.gz"
    _serve(f, plan, "us-west-2", world.image_uri("us-west-2"), url)
    checks = artifacts.checks(request(plan, f, "check", mode="ungraceful"))
    artifact = next(c for c in checks if c.name == "s3.model_artifacts_present")
    assert (artifact.verdict, artifact.observed, artifact.detail) == (
        "fail",
        "us-east-1",
        "s3://recsys-models-misplaced lives in us-east-1",
    )


def test_the_plans_own_artifacts_in_the_target_region_pass(session: boto3.Session, plan_doc: dict[str, Any]) -> None:
    f = ClientFactory(session=session)
    plan = _artifact_world(f, plan_doc)
    checks = artifacts.checks(request(plan, f, "check"))
    assert verdicts(checks) == {
        ("ecr.image_in_target_region", world.image_uri("us-west-2")): "pass",
        ("s3.model_artifacts_present", world.model_data_url("us-west-2")): "pass",
        ("s3.artifacts_replicate_to_target", "recsys-models-us-east-1"): "pass",
    }
