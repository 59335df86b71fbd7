"""Unit tests run against moto's in-process mock of AWS (moto implements SageMaker and Route 53 well)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, parse_plan
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.aurora_world import GlobalDatabase
from tests.support.global_tables import GlobalTables


@pytest.fixture
def moto() -> Iterator[ClientFactory]:
    with mock_aws():
        yield ClientFactory()


@pytest.fixture
def dns_plan(moto: ClientFactory, plan_doc: dict[str, Any]) -> RecoveryPlan:
    zone_id = world.create_route53(plan_doc, moto, "us-west-2")
    return parse_plan(world.with_zone(plan_doc, zone_id))


@pytest.fixture
def sagemaker_plan(moto: ClientFactory, plan_doc: dict[str, Any]) -> RecoveryPlan:
    plan = parse_plan(plan_doc)
    world.create_sagemaker(plan, moto)
    return plan


@pytest.fixture
def db(plan_doc: dict[str, Any]) -> GlobalDatabase:
    """The plan's Aurora global database, its writer in the primary region."""
    return GlobalDatabase.of_plan(parse_plan(plan_doc))


@pytest.fixture
def tables(plan_doc: dict[str, Any]) -> GlobalTables:
    """The plan's DynamoDB global tables, ACTIVE in both regions."""
    return GlobalTables.of_plan(parse_plan(plan_doc))


@pytest.fixture
def outage() -> aws_like.Outage:
    """Regions a test takes down: add one to ``outage.down``."""
    return aws_like.Outage()


@pytest.fixture
def f(db: GlobalDatabase, tables: GlobalTables, outage: aws_like.Outage) -> Iterator[ClientFactory]:
    """moto, but RDS answered by the in-process global database and the plan's tables by their replicas (moto has
    neither); CloudWatch matching dimensions as exactly as AWS, enums refused as AWS refuses them."""
    with mock_aws():
        session = boto3.Session()
        db.install(session)
        tables.install(session)
        aws_like.strict_metric_dimensions(session)
        aws_like.strict_enums(session)
        aws_like.route53_changes_exist(session)
        outage.install(session)
        yield ClientFactory(session=session)


@pytest.fixture
def app(plan_doc: dict[str, Any], f: ClientFactory) -> RecoveryPlan:
    """The whole sample application in the fast world, as the drill builds it (Aurora and the tables in-process)."""
    return world.build(plan_doc, f, store=False, aurora_and_tables=False)
