from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from failover_controller.errors import InputInvalid
from failover_controller.plan import parse_plan
from failoverctl import __main__ as failoverctl_main
from failoverctl import inputs, operate
from failoverctl.__main__ import EXIT_INVALID, EXIT_OK, main, parser
from failoverctl.stack import RUNBOOK_FUNCTIONS, concurrency_problem, stack_parameters, stack_reservation
from tests.support.events import ROOT, SAMPLE_PLAN


def test_plan_validate_accepts_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "validate", str(SAMPLE_PLAN)]) == EXIT_OK
    assert "valid plan for recsys (us-east-1 -> us-west-2)" in capsys.readouterr().out


def test_plan_validate_names_every_problem(
    tmp_path: Path, plan_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    plan_doc["objectives"]["rto_seconds"] = 1
    del plan_doc["route53"]["records"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan_doc))
    assert main(["plan", "validate", str(bad)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "  - objectives.rto_seconds: must be >= 60, got 1" in err
    assert "  - route53: is missing required field 'records'" in err


def test_plan_params_derive_the_stack_parameters(tmp_path: Path) -> None:
    out = tmp_path / "params.json"
    argv = ["plan", "params", str(SAMPLE_PLAN), "--region", "us-west-2", "--account", "123456789012", "-o", str(out)]
    assert main(argv) == EXIT_OK
    params = json.loads(out.read_text())
    assert params["PeerRegion"] == "us-east-1"
    assert params["AuroraClusterArns"] == (
        "arn:aws:rds:us-east-1:123456789012:cluster:recsys-metadata-use1,"
        "arn:aws:rds:us-west-2:123456789012:cluster:recsys-metadata-usw2"
    )
    assert params["DynamoDBTableArns"].split(",") == [
        "arn:aws:dynamodb:us-west-2:123456789012:table/recsys-features",
        "arn:aws:dynamodb:us-west-2:123456789012:table/recsys-sessions",
    ]
    assert params["ForwardedAlarmNames"] == ""  # the standby's stack: Detect is here
    assert params["WriteRegionParameterName"] == "recsys/write-region"
    assert params["AlarmNames"].split(",") == [
        "recsys-api-canary-use1",
        "recsys-inference-canary-use1",
        "recsys-health-check-use1",
    ]
    assert "PlanDocument" not in params  # plans are pushed to SSM: `failoverctl plan push`


def test_plan_params_for_a_region_outside_the_plan_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "params", str(SAMPLE_PLAN), "--region", "eu-west-1", "--account", "1"]) == EXIT_INVALID
    assert "eu-west-1" in capsys.readouterr().err


def test_rds_identifiers_are_lowercased_in_arns_as_rds_stores_them(plan_doc: dict[str, Any]) -> None:
    """RDS stores cluster and global cluster identifiers lowercase; IAM compares the ARNs it is given as they are,
    so a plan written in mixed case would otherwise grant nothing."""
    plan_doc["aurora"]["global_cluster_id"] = "RecSys-Metadata-Global"
    plan_doc["aurora"]["clusters"] = {"us-east-1": "RecSys-Metadata-USE1", "us-west-2": "RecSys-Metadata-USW2"}
    params = stack_parameters(parse_plan(plan_doc), "us-west-2", "123456789012")
    assert params["AuroraGlobalClusterId"] == "recsys-metadata-global"
    assert params["AuroraClusterArns"] == (
        "arn:aws:rds:us-east-1:123456789012:cluster:recsys-metadata-use1,"
        "arn:aws:rds:us-west-2:123456789012:cluster:recsys-metadata-usw2"
    )
    pattern = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]["AuroraGlobalClusterId"]["AllowedPattern"]
    assert re.match(pattern, params["AuroraGlobalClusterId"])
    assert not re.match(pattern, "RecSys-Metadata-Global")


def test_operator_commands_read_the_plan_where_the_stack_says(plan_doc: dict[str, Any]) -> None:
    """A stack deployed with another PlanParameterPrefix: readiness and failover read the plan there."""
    template = {
        "Parameters": {"PlanName": {"Type": "String"}, "PlanParameterPrefix": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "StateMachineArn": {"Value": "arn:aws:states:us-west-2:123456789012:stateMachine:failover"},
            "LedgerTableName": {"Value": "ledger"},
        },
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="us-west-2").create_stack(
            StackName="failover-controller",
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": "PlanName", "ParameterValue": "recsys"},
                {"ParameterKey": "PlanParameterPrefix", "ParameterValue": "/team-a/plans"},
            ],
        )
        boto3.client("ssm", region_name="us-west-2").put_parameter(
            Name="/team-a/plans/recsys", Value=json.dumps(plan_doc), Type="String"
        )
        args = parser().parse_args(["readiness", "recsys", "--region", "us-west-2"])
        ctl = operate.controller(args)
        assert ctl.plan_prefix == "/team-a/plans"
        assert ctl.plan().application == "recsys"


def test_the_plan_chooses_the_stacks_reserved_concurrency_and_the_count_is_the_templates(
    plan_doc: dict[str, Any],
) -> None:
    doc = yaml_parse((ROOT / "template.yaml").read_text())
    functions = {k: v for k, v in doc["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    own = {k for k, v in functions.items() if "ReservedConcurrentExecutions" in v["Properties"]}
    assert own == {"DetectFunction"}
    assert len(functions) - len(own) == RUNBOOK_FUNCTIONS, "the Globals' reservation applies to the rest"
    assert doc["Globals"]["Function"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }, "0 means none reserved: Lambda's own 0 would stop every function"
    assert doc["Parameters"]["ReservedConcurrency"]["Default"] == 2
    assert doc["Parameters"]["DetectReservedConcurrency"]["Default"] == 5
    sample = parse_plan(plan_doc)
    assert stack_reservation(sample) == 27
    params = stack_parameters(sample, "us-west-2", "123456789012")
    assert (params["ReservedConcurrency"], params["DetectReservedConcurrency"]) == ("2", "5")
    plan_doc["controller"] = {"reserved_concurrency": {"steps": 0, "detect": 3}}
    assert stack_reservation(parse_plan(plan_doc)) == 3


@pytest.mark.parametrize(
    ("limit", "unreserved", "held_now", "problem"),
    [
        (1000, 1000, 0, None),
        (127, 127, 0, None),  # 100 left: just fits
        (120, 120, 0, "Lambda keeps at least 100 of the account's 120 unreserved: 120 are free to reserve here, 93"),
        (10, 10, 0, "Lambda keeps at least 10 of the account's 10 unreserved"),  # a new account: nothing fits
        (120, 93, 27, "93 would be left"),  # an update gives back what the stack holds, and still does not fit
        (1000, 900, 27, None),  # the same stack again, in an account that had room for it
    ],
)
def test_a_deploy_that_would_leave_fewer_than_100_unreserved_is_refused_naming_the_quota(
    limit: int, unreserved: int, held_now: int, problem: str | None
) -> None:
    found = concurrency_problem(limit, unreserved, held_now, 27)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert "'Concurrent executions' quota" in found
        assert "controller.reserved_concurrency" in found


# Bad input: one line, exit 2 (3 when AWS cannot be reached), control characters shown escaped, nothing started.


def test_control_sequences_in_a_plan_are_shown_escaped(
    tmp_path: Path, plan_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    plan_doc["objectives"]["\x1b]0;pwned\x07"] = 1
    plan_doc["application"] = "\x1b[2J\x9b2Jrecsys"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan_doc))
    assert main(["plan", "validate", str(bad)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\x9b" not in err
    assert "\x07" not in err
    assert "\\x1b" in err


def test_a_drill_of_a_plan_that_is_not_one_stops_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--plan", "/dev/zero"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "/dev/zero" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["drill", "--time-scale", "-1"],
        ["drill", "--time-scale", "nan"],
        ["drill", "--time-scale", "inf"],
        ["status", "--limit", "0"],
        ["status", "--region", "moon-1"],
        ["status", "--region", "us-east-1\n"],
        ["status", "--stack", "failover\x1b[2J"],
        ["report", "../../etc/passwd"],
        ["report", "a/b"],
        ["approve", "run name"],
        ["reject", "x" * 81],
        ["failover", "recsys", "--to", "us-west-2", "--timeout", "-1"],
        ["failover", "recsys", "--to", "mars-1"],
        ["failover", "recsys", "--to", "us-west-2", "--poll-seconds", "0"],
        ["plan", "push", str(SAMPLE_PLAN), "--region", "us-west-2", "--prefix", "../../x"],
        ["plan", "push", str(SAMPLE_PLAN), "--region", "us-west-2", "--prefix", "/a/../b"],
        ["plan", "params", str(SAMPLE_PLAN), "--region", "atlantis-1"],
    ],
)
def test_bad_input_is_refused_with_exit_2_before_anything_runs(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_INVALID
    err = capsys.readouterr().err
    assert "error: argument" in err
    assert "\x1b" not in err


def test_a_plan_push_for_a_region_the_plan_does_not_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "push", str(SAMPLE_PLAN), "--region", "eu-west-1"]) == EXIT_INVALID
    assert "region 'eu-west-1' is not one of the plan's regions" in capsys.readouterr().err


def test_plan_params_without_credentials_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["plan", "params", str(SAMPLE_PLAN), "--region", "us-west-2"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pass --account" in err


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no-such-folder" / "params.json"
    argv = ["plan", "params", str(SAMPLE_PLAN), "--region", "us-west-2", "--account", "123456789012", "-o", str(out)]
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot write" in err


@pytest.mark.parametrize("started_with", ["[1, 2]", '"a string"', "not json", "null"])
def test_a_run_whose_input_is_not_an_object_is_not_a_run_of_this_controller(started_with: str) -> None:
    with pytest.raises(InputInvalid, match="its input is not a JSON object"):
        operate.run_input({"input": started_with}, "someone-elses-run")


def test_a_corrupt_kept_drill_state_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "drill.json"
    state.write_text("{not json")
    monkeypatch.setattr(operate, "LOCAL_STATE_FILE", state)
    assert main(["status", "--local", "--region", "us-west-2"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "failoverctl drill --stop" in err


def test_a_default_report_file_is_named_after_the_run_in_the_current_folder() -> None:
    arn = "arn:aws:states:us-west-2:123456789012:execution:failover-controller:recsys-manual-20261128T030405Z"
    args = parser().parse_args(["report", arn])
    assert inputs.run_name(args.run) == "recsys-manual-20261128T030405Z"


def test_a_drill_without_its_dependencies_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(failoverctl_main, "DRILL_MISSING", "cbor2")
    assert main(["drill", "--scenario", "ungraceful", "--keep"]) == 3
    err = capsys.readouterr().err
    assert "failoverctl drill needs the drill's dependencies (cbor2 is not installed)" in err
    assert "pip install -e '.[drill]'" in err
    assert main(["plan", "validate", str(SAMPLE_PLAN)]) == EXIT_OK, "the operator commands do not need them"
