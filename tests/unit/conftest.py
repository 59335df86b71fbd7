"""Unit tests run against moto's in-process mock of AWS (moto implements SageMaker and Route 53 well)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, parse_plan
from failoverctl.drill import world


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
