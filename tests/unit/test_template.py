"""template.yaml: translated by the SAM translator, linted by cfn-lint, and its roles held to least privilege."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from samtranslator.yaml_helper import yaml_parse

from failoverctl import permissions

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachines" / "failover.asl.json"

# Actions that AWS authorizes on no resource ARN: the only ones allowed Resource "*", each with why.
UNSCOPED = {
    "cloudwatch:GetMetricStatistics": "CloudWatch metric reads support no resource-level permissions",
    "logs:CreateLogDelivery": "Step Functions log delivery: the logs delivery APIs take no resource",
    "logs:GetLogDelivery": "as above",
    "logs:UpdateLogDelivery": "as above",
    "logs:DeleteLogDelivery": "as above",
    "logs:ListLogDeliveries": "as above",
    "logs:PutResourcePolicy": "as above: log delivery writes the log group's resource policy",
    "logs:DescribeResourcePolicies": "as above",
    "logs:DescribeLogGroups": "as above: it lists log groups",
}


@cache
def template_text() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


@cache
def translated() -> dict[str, Any]:
    return permissions.translated()


def sam_resources(kind: str) -> dict[str, dict[str, Any]]:
    doc = yaml_parse(template_text())
    return {name: r for name, r in doc["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_finds_nothing() -> None:
    """cfn-lint's errors and warnings (as `make lint` runs it) in both regions of the pair."""
    matches = lint(template_text(), config=ManualArgs(regions=["us-west-2", "us-east-1"]))
    assert [str(m) for m in matches] == []


def test_every_asl_placeholder_has_a_substitution_and_every_substitution_is_used() -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9:]+)\}", ASL.read_text(encoding="utf-8")))
    machine = next(iter(sam_resources("AWS::Serverless::StateMachine").values()))
    substitutions = set(machine["Properties"]["DefinitionSubstitutions"])
    assert placeholders == substitutions


def test_every_function_directory_is_deployed_and_every_function_has_code() -> None:
    functions = sam_resources("AWS::Serverless::Function")
    code_dirs = {f["Properties"]["CodeUri"].strip("/").removeprefix("functions/") for f in functions.values()}
    on_disk = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    assert code_dirs == on_disk
    assert all(f["Properties"]["Handler"] == "app.lambda_handler" for f in functions.values())
    globals_ = yaml_parse(template_text())["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == ("python3.13", ["arm64"])


def test_the_state_machine_invokes_only_the_template_functions() -> None:
    machine = next(iter(sam_resources("AWS::Serverless::StateMachine").values()))
    functions = set(sam_resources("AWS::Serverless::Function"))
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in machine["Properties"]["Policies"]
        if "LambdaInvokePolicy" in p
    }
    substituted = {
        v["Fn::GetAtt"][0]
        for k, v in machine["Properties"]["DefinitionSubstitutions"].items()
        if k.endswith("FunctionArn")
    }
    assert invoked == substituted == functions - {"DetectFunction", "ReadinessFunction"}


def test_each_function_has_its_own_role() -> None:
    resources = translated()["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    roles = [r["Properties"]["Role"]["Fn::GetAtt"][0] for r in functions.values()]
    assert len(functions) == len(sam_resources("AWS::Serverless::Function"))
    assert len(set(roles)) == len(roles)


def _statements() -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every role's inline policies and of the template's managed policies."""
    out = []
    for name, resource in translated()["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents = [resource["Properties"]["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                out.append((name, statement))
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_grants_wildcard_actions() -> None:
    statements = _statements()
    assert len(statements) > 20
    for role, statement in statements:
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{role} grants {action}"


@pytest.mark.parametrize("action", sorted(UNSCOPED))
def test_unscoped_actions_are_listed_with_a_reason(action: str) -> None:
    assert UNSCOPED[action]


def test_resource_star_only_for_actions_that_support_no_resource() -> None:
    for role, statement in _statements():
        if statement.get("Resource") == "*" or "*" in _as_list(statement.get("Resource")):
            unscoped = [a for a in _as_list(statement["Action"]) if a not in UNSCOPED]
            assert unscoped == [], f"{role} grants {unscoped} on every resource"


def test_the_alarm_rule_matches_the_plans_alarm_transitions_from_a_configurable_source() -> None:
    detect = sam_resources("AWS::Serverless::Function")["DetectFunction"]
    pattern = detect["Properties"]["Events"]["AlarmStateChange"]["Properties"]["Pattern"]
    assert pattern["source"] == [{"Ref": "AlarmEventSource"}]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["alarmName"] == {"Ref": "AlarmNames"}
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    params = yaml_parse(template_text())["Parameters"]
    assert params["AlarmEventSource"]["Default"] == "aws.cloudwatch"


def test_the_ledger_table_and_topic_are_encrypted_and_recoverable() -> None:
    doc = yaml_parse(template_text())["Resources"]
    table = doc["LedgerTable"]["Properties"]
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert doc["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_the_sample_plan_fits_in_the_plan_document_parameter() -> None:
    compact = json.dumps(json.loads((ROOT / "plans" / "recsys.json").read_text()), separators=(",", ":"))
    assert len(compact) <= yaml_parse(template_text())["Parameters"]["PlanDocument"]["MaxLength"]


def _walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def test_no_join_takes_a_function_as_its_delimiter() -> None:
    """CloudFormation rejects it (cfn-lint does not say so): seen failing a stack in the emulator."""
    joins = [n["Fn::Join"] for n in _walk(yaml_parse(template_text())) if isinstance(n, dict) and "Fn::Join" in n]
    assert joins
    assert all(isinstance(join[0], str) for join in joins)


def test_the_not_ready_alarm_watches_the_readiness_metric_and_notifies() -> None:
    doc = yaml_parse(template_text())["Resources"]
    alarm = doc["NotReadyAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ComparisonOperator"]) == (
        "FailoverController",
        "Ready",
        "LessThanThreshold",
    )
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    schedule = doc["ReadinessFunction"]["Properties"]["Events"]["Schedule"]["Properties"]["Schedule"]
    assert schedule == {"Ref": "ReadinessSchedule"}
    assert yaml_parse(template_text())["Parameters"]["ReadinessSchedule"]["Default"] == "rate(10 minutes)"


def test_the_dashboard_body_is_json_with_the_targets_drawn() -> None:
    body = translated()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(body.replace("${Rto}", "900").replace("${Rpo}", "60000"))["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert any(t.startswith("Ready to fail over") for t in titles)
    assert any(t.startswith("Achieved RTO") for t in titles)
    assert any(t.startswith("RPO exposure") for t in titles)


def test_the_permissions_doc_is_generated_from_the_template() -> None:
    assert (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8") == permissions.document()
    assert "| `rds:SwitchoverGlobalCluster` |" in permissions.document()
