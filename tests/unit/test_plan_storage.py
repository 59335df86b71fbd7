"""Plans outgrow a template parameter: they are pushed to SSM (Intelligent-Tiering) and read from there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from failover_controller.clients import ClientFactory
from failover_controller.errors import PlanInvalid
from failover_controller.plan import STANDARD_TIER_BYTES, load_plan_file, parse_plan, stored_bytes
from failover_controller.plan_store import load_plan, push_plan
from failoverctl.__main__ import main
from failoverctl.drill.world import PLAN_PREFIX
from failoverctl.stack import stack_parameters
from tests.support import aws_like
from tests.support.events import ROOT

LARGE = ROOT / "plans" / "large.json"
CFN_PARAMETER_BYTES = 4096  # CloudFormation's limit on one parameter's value


@pytest.fixture
def ssm() -> Iterator[ClientFactory]:
    with mock_aws():
        session = boto3.Session()
        aws_like.ssm_parameter_tiers(session)
        yield ClientFactory(session=session)


def test_the_large_sample_is_the_size_the_issue_names() -> None:
    plan = load_plan_file(LARGE)
    assert len(plan.dynamodb_tables) == 20
    assert sum(len(e) for e in plan.endpoints.values()) == 10
    assert len(plan.signals) == 12
    assert STANDARD_TIER_BYTES < stored_bytes(plan.document) <= 8192


def test_a_plan_over_4_kb_is_stored_in_the_advanced_tier_and_read_back(ssm: ClientFactory) -> None:
    plan = load_plan_file(LARGE)
    stored = push_plan(plan, prefix=PLAN_PREFIX, region="us-west-2", factory=ssm)
    assert (stored["tier"], stored["bytes"]) == ("Advanced", stored_bytes(plan.document))
    assert load_plan("recsys-large", prefix=PLAN_PREFIX, region="us-west-2", factory=ssm, max_age=0) == plan
    # What the template did before (a standard parameter) is refused for this plan, as SSM refuses it.
    with pytest.raises(Exception, match="Standard tier parameters support at most 4096"):
        ssm.ssm("us-west-2").put_parameter(Name="/p", Value=json.dumps(plan.document), Type="String", Tier="Standard")


def test_the_sample_plan_stays_in_the_free_standard_tier(ssm: ClientFactory) -> None:
    plan = load_plan_file(ROOT / "plans" / "recsys.json")
    assert push_plan(plan, prefix=PLAN_PREFIX, region="us-east-1", factory=ssm)["tier"] == "Standard"


def test_no_plan_passes_through_the_template_and_every_parameter_fits(ssm: ClientFactory) -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    assert "PlanDocument" not in template["Parameters"]
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    plan = load_plan_file(LARGE)
    for region in plan.regions:
        params = stack_parameters(plan, region, "123456789012")
        assert set(params) <= set(template["Parameters"])
        too_long = {k: len(v.encode()) for k, v in params.items() if len(v.encode()) > CFN_PARAMETER_BYTES}
        assert too_long == {}


def test_a_plan_over_8_kb_is_refused_with_its_size_and_the_limit(plan_doc: dict[str, object]) -> None:
    plan_doc["dynamodb"]["tables"] = [f"recsys-table-{i:03d}-" + "x" * 200 for i in range(40)]  # type: ignore[index]
    with pytest.raises(PlanInvalid) as info:
        parse_plan(plan_doc)
    [problem] = [p for p in info.value.problems if p.startswith("(plan)")]
    assert problem.startswith(f"(plan): is {stored_bytes(plan_doc)} bytes as stored (compact JSON)")
    assert "at most 8192 bytes (advanced tier)" in problem


def test_failoverctl_plan_push(ssm: ClientFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "push", str(LARGE), "--region", "us-west-2"]) == 0
    size = stored_bytes(load_plan_file(LARGE).document)
    out = capsys.readouterr().out
    assert out.startswith(f"/failover-controller/plans/recsys-large in us-west-2: {size} bytes (")
    stored = boto3.client("ssm", region_name="us-west-2").get_parameter(Name=f"{PLAN_PREFIX}/recsys-large")
    assert json.loads(stored["Parameter"]["Value"]) == json.loads(Path(LARGE).read_text())
