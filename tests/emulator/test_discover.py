"""`failoverctl plan discover` against the emulated account: the plan it writes, read-only, and drift."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from failover_controller.clients import ClientFactory, user_agent
from failover_controller.names import APPLICATION_TAG
from failover_controller.plan import RecoveryPlan, load_plan_file
from failoverctl import discover, operate
from failoverctl.__main__ import parser
from failoverctl.drill import emulators, world
from failoverctl.paths import ROOT
from tests.support.events import data_plane_plan_doc

pytestmark = pytest.mark.emulator
SAMPLE = ("--application", "recsys", "--primary", "us-east-1", "--standby", "us-west-2")


def run_discover(pair: emulators.Emulators, *argv: str) -> tuple[int, str]:
    args = parser().parse_args(
        ["plan", "discover", *argv, "--endpoint-url", pair.proxy_url, "--sagemaker-endpoint-url", pair.proxy_url]
    )
    out = io.StringIO()
    code = operate.run_command(args.func.operation, args, out, out)
    return code, out.getvalue()


def built(doc: dict[str, Any], f: ClientFactory, pair: emulators.Emulators) -> RecoveryPlan:
    """The application of ``doc`` as the drill builds it: tagged, with its alarms."""
    plan = world.build(doc, f, name_servers=[pair.dns])
    world.create_alarms(plan, f, world.health_check_of(plan, f, plan.primary_region))
    return plan


def calls(pair: emulators.Emulators) -> Counter[tuple[str, str]]:
    made: Counter[tuple[str, str]] = Counter()
    for c in pair.outage_report()["calls"]:
        made[(c["service"], c["action"])] += c["count"]
    return made


def test_the_written_plan_validates_and_names_everything_the_sample_names(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    plan = built(data_plane_plan_doc(), emulated, emulator_pair)
    out = tmp_path / "discovered.json"
    code, text = run_discover(emulator_pair, *SAMPLE, "--out", str(out))
    assert code == 0, text
    discovered = load_plan_file(out)  # valid, or it raises naming each problem
    assert discover.identifiers(plan.document) <= discover.identifiers(discovered.document)
    assert discover.identifiers(discovered.document) == discover.identifiers(plan.document), (
        "and nothing the sample does not name"
    )
    assert discovered.dns_mode == "data_plane", "the records carry the traffic claim checks of `dns setup`"
    assert discovered.document["route53"]["records"] == plan.document["route53"]["records"]
    assert discovered.document["sagemaker"]["endpoints"] == plan.document["sagemaker"]["endpoints"]
    assert "signals.quorum: 2, a majority of the alarms" in text
    assert "registry replication does not copy" in text, "the world's images are pushed to each region"
    assert f"before `failoverctl plan push`: review the lines above and edit {out}" in text


def test_discovery_makes_only_describe_list_and_get_calls(
    emulated: ClientFactory, emulator_pair: emulators.Emulators
) -> None:
    built(data_plane_plan_doc(), emulated, emulator_pair)
    before = calls(emulator_pair)
    code, text = run_discover(emulator_pair, *SAMPLE)
    assert code == 0, text
    made = calls(emulator_pair) - before
    assert {service for service, _ in made} >= {
        "rds",
        "dynamodb",
        "ssm",
        "sagemaker",
        "s3",
        "ecr",
        "route53",
        "monitoring",
    }
    assert "tagging" in {service for service, _ in made}, "tables, buckets and repositories by their tag"
    written = [action for _, action in made if not action.startswith(("Describe", "List", "Get"))]
    assert not written, f"discovery changed the account: {written}"


def test_the_documented_read_only_policy_is_all_discovery_needs(
    emulated: ClientFactory, emulator_pair: emulators.Emulators
) -> None:
    """The proxy holds discovery's calls to docs/plan-discover-policy.json: a call it does not allow is refused."""
    plan = built(data_plane_plan_doc(), emulated, emulator_pair)
    policy = json.loads((ROOT / "docs" / "plan-discover-policy.json").read_text())
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in policy["Statement"][0]["Action"])
    operator = "arn:aws:sts::000000000000:assumed-role/Operator/discover"
    emulators.outage_iam(
        emulator_pair.proxy_url, {"failoverctl-discover": {"principal": operator, "policies": [policy]}}
    )
    f = ClientFactory(
        session=boto3.Session(aws_access_key_id="test", aws_secret_access_key="test"),
        config=Config(user_agent_extra=user_agent("failoverctl-discover"), retries={"total_max_attempts": 1}),
        endpoints=dict.fromkeys(("*", "sagemaker"), emulator_pair.proxy_url),
    )
    found = discover.discover(discover.Found("recsys", "us-east-1", "us-west-2", {APPLICATION_TAG: "recsys"}), f)
    assert found.missing == []
    assert discover.identifiers(found.doc) == discover.identifiers(plan.document)
    iam = emulator_pair.outage_report()["iam"]
    assert iam["denials"] == []
    assert iam["evaluated"] >= 30, "every call was held to the policy"


def test_the_large_plan_is_found_whole(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, capsys: pytest.CaptureFixture[str]
) -> None:
    """Control-plane DNS: the records carry each region's API health check, whose name says the region."""
    doc = json.loads((ROOT / "plans" / "large.json").read_text())
    plan = built(doc, emulated, emulator_pair)
    code, text = run_discover(
        emulator_pair, "--application", "recsys-large", "--primary", "us-east-1", "--standby", "us-west-2"
    )
    assert code == 0
    discovered = json.loads(text)
    assert discover.identifiers(discovered) == discover.identifiers(plan.document)
    assert len(discovered["sagemaker"]["endpoints"]["us-west-2"]) == 5
    assert (discovered["route53"]["mode"], discovered["route53"]["routing_policy"]) == ("control_plane", "weighted")
    assert discovered["signals"]["quorum"] == 7, "a majority of 12 alarms"
    assert "route53.records: which region each answer set of api.large.recsys.example.com." in capsys.readouterr().err


def test_check_reports_no_drift_then_a_table_added_and_a_table_gone(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    plan = built(data_plane_plan_doc(), emulated, emulator_pair)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.document))
    code, text = run_discover(emulator_pair, "--check", str(path))
    assert code == 0, text
    assert text == f"{path}: no drift: the account's recsys is what the plan names (21 resources)\n"
    world.create_global_table(plan, emulated, "recsys-embeddings")
    doc = plan.document | {"dynamodb": plan.document["dynamodb"] | {"tables": ["recsys-features", "recsys-gone"]}}
    path.write_text(json.dumps(doc))
    code, text = run_discover(emulator_pair, "--check", str(path))
    assert code == 1
    assert "+ the account has, the plan lacks: DynamoDB table recsys-embeddings" in text
    assert "+ the account has, the plan lacks: DynamoDB table recsys-sessions" in text
    assert "the account shows no such resource tagged failover:application=recsys: DynamoDB table recsys-gone" in text


def test_an_application_the_account_does_not_have_writes_nothing(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    built(data_plane_plan_doc(), emulated, emulator_pair)
    out = tmp_path / "nothing.json"
    code, text = run_discover(
        emulator_pair, "--application", "billing", "--primary", "us-east-1", "--standby", "us-west-2", "-o", str(out)
    )
    assert code == 1
    assert not out.exists()
    assert "no plan written: 8 part(s) of billing not found (tagged failover:application=billing)" in text
    assert "an Aurora global cluster with a member in us-east-1 and us-west-2" in text


def test_what_does_not_fit_a_plan_is_left_out_and_said(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = built(data_plane_plan_doc(), emulated, emulator_pair)
    world.create_table(plan, emulated, "recsys-scratch")
    emulated.client("s3", plan.primary_region).delete_bucket_replication(Bucket="recsys-models-us-east-1")
    code, text = run_discover(emulator_pair, *SAMPLE)
    assert code == 0
    doc = json.loads(text)
    assert doc["dynamodb"]["tables"] == ["recsys-features", "recsys-sessions"]
    assert doc["signals"]["require_approval"] is True, "no automatic run before a person reviewed the plan"
    said = capsys.readouterr().err  # the plan on standard output, the notes beside it
    assert "DynamoDB table recsys-scratch: not a global table with a replica in us-west-2" in said
    assert "recsys-models-us-east-1 does not replicate to recsys-models-us-west-2" in said


def test_a_writer_outside_the_primary_is_flagged(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, capsys: pytest.CaptureFixture[str]
) -> None:
    """Discovered while failed over: the counts read now would make the warm region the active one."""
    plan = built(data_plane_plan_doc(), emulated, emulator_pair)
    emulated.rds(plan.standby_region).switchover_global_cluster(
        GlobalClusterIdentifier=plan.global_cluster_id, TargetDbClusterIdentifier=plan.aurora_clusters["us-west-2"]
    )
    assert world.aurora_writer_region(plan, emulated, plan.standby_region) == "us-west-2"
    code, _ = run_discover(emulator_pair, *SAMPLE)
    assert code == 0
    assert "regions: the Aurora writer is in us-west-2, not us-east-1" in capsys.readouterr().err
