"""template.yaml: translated by the SAM translator, linted by cfn-lint, and its roles held to least privilege."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from moto.events.models import EventPattern
from samtranslator.yaml_helper import yaml_parse

from failover_controller.changes import claim_datum
from failover_controller.clients import ClientFactory
from failover_controller.names import CLAIM_NAMESPACE, claim_alarm_name
from failover_controller.plan import load_plan_file
from failover_controller.reads.cloudwatch import route53_cannot_follow
from failoverctl import permissions
from failoverctl.stack import stack_parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachines" / "failover.asl.json"

# Actions that AWS authorizes on no resource ARN: the only ones allowed Resource "*", each with why.
UNSCOPED = {
    "cloudwatch:GetMetricStatistics": "CloudWatch metric reads support no resource-level permissions",
    "cloudwatch:ListMetrics": "as above",
    "application-autoscaling:DescribeScalableTargets": "Application Auto Scaling's Describe actions take no resource",
    "cloudwatch:DescribeAlarms": "returns composite alarms only when granted on * (its API reference)",
    "cloudwatch:PutMetricData": "takes no resource; TrafficClaimPolicy limits it to the controller's namespace",
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
    globals_ = yaml_parse(template_text())["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"], globals_["Handler"]) == (
        "python3.13",
        ["arm64"],
        "app.lambda_handler",
    )
    assert not [n for n, f in functions.items() if "Handler" in f["Properties"]]


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
    assert doc["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationKey"}


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
    assert any(t.startswith("From the first alarm: time to traffic and to full capacity") for t in titles)
    assert any(t.startswith("RPO exposure") for t in titles)


def test_the_permissions_doc_is_generated_from_the_template() -> None:
    assert (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8") == permissions.document()
    assert "| `rds:SwitchoverGlobalCluster` |" in permissions.document()


def test_describe_alarms_is_granted_on_every_resource() -> None:
    """Scoped to alarm ARNs, DescribeAlarms silently leaves composite alarms out: a composite signal would read as
    MISSING and never make the quorum."""
    grants = [(role, st) for role, st in _statements() if "cloudwatch:DescribeAlarms" in _as_list(st["Action"])]
    assert [role for role, st in grants if st["Resource"] == "*"] == ["DetectFunctionRole"]
    # Elsewhere only the traffic claim's alarm is read: a metric alarm, named by its ARN.
    claim = {"Fn::GetAtt": ["TrafficClaimAlarm", "Arn"]}
    peer = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${PeerRegion}:${AWS::AccountId}:alarm:"
        "failover-controller-${PlanName}-traffic-claim"
    }
    assert {role: st["Resource"] for role, st in grants if st["Resource"] != "*"} == {
        "ReadinessReadPolicy": [claim, peer],
        "TrafficClaimPolicy": [claim, peer],  # a graceful failback confirms the peer's withdrawal by its alarm
    }


def test_put_metric_data_is_only_the_controllers_namespace() -> None:
    grants = [st for _, st in _statements() if "cloudwatch:PutMetricData" in _as_list(st["Action"])]
    assert grants
    assert all(st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "FailoverController"}} for st in grants)


def _publishers() -> dict[str, list[dict[str, Any]]]:
    roles: dict[str, list[dict[str, Any]]] = {}
    for role, statement in _statements():
        roles.setdefault(role, []).append(statement)
    return {
        role: statements
        for role, statements in roles.items()
        if any("sns:Publish" in _as_list(st["Action"]) for st in statements)
    }


def test_cloudwatch_alarm_actions_can_publish_to_the_encrypted_topic() -> None:
    """An alarm action cannot publish to a topic under alias/aws/sns (its key policy cannot admit CloudWatch): the
    Detect-failing and not-ready alarms would reach nobody. The topic's key is the stack's own."""
    doc = yaml_parse(template_text())["Resources"]
    key_ref = doc["NotificationTopic"]["Properties"]["KmsMasterKeyId"]
    assert not str(key_ref).startswith("alias/aws/")
    key = doc[key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    for_cloudwatch = [
        st
        for st in key["Properties"]["KeyPolicy"]["Statement"]
        if st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [set(_as_list(st["Action"])) for st in for_cloudwatch] == [{"kms:Decrypt", "kms:GenerateDataKey"}]
    alarms = [r for r in doc.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    assert all({"Ref": "NotificationTopic"} in r["Properties"]["AlarmActions"] for r in alarms)
    # Every function that publishes to the topic may also use its key (SNS encrypts with the caller's rights).
    publishers = _publishers()
    assert sorted(publishers) == ["RecordFunctionRole", "RequestApprovalFunctionRole"]
    for role, statements in publishers.items():
        kms = [st for st in statements if st["Resource"] == {"Fn::GetAtt": [key_ref["Ref"], "Arn"]}]
        assert {a for st in kms for a in _as_list(st["Action"])} == {"kms:Decrypt", "kms:GenerateDataKey"}, role


def _resolve(node: Any, params: dict[str, str]) -> Any:
    """The intrinsics the rule patterns use, with a stack's parameter (and pseudo-parameter) values."""
    if isinstance(node, dict) and "Fn::Sub" in node:
        return re.sub(r"\$\{([^}]+)\}", lambda m: params[m.group(1)], node["Fn::Sub"])
    if isinstance(node, dict) and "Ref" in node:
        value = params[node["Ref"]]
        return value.split(",") if node["Ref"] == "AlarmNames" else value
    if isinstance(node, dict) and "Fn::Split" in node:
        delimiter, source = node["Fn::Split"]
        return _resolve(source, params).split(delimiter)
    if isinstance(node, dict):
        return {k: _resolve(v, params) for k, v in node.items()}
    if isinstance(node, list):
        resolved = [_resolve(v, params) for v in node]
        return [x for v in resolved for x in (v if isinstance(v, list) else [v])]
    return node


def test_every_plan_alarm_reaches_the_standbys_detect_while_its_region_works() -> None:
    """A rule sees only its own region's events: the primary's stack forwards the alarms that live there (the
    sample's Route 53 health-check alarm must live in us-east-1) to the standby's default bus."""
    plan = load_plan_file(ROOT / "plans" / "recsys.json")
    doc = yaml_parse(template_text())
    detect_pattern = doc["Resources"]["DetectFunction"]["Properties"]["Events"]["AlarmStateChange"]["Properties"]
    forward = doc["Resources"]["SignalForwardRule"]
    assert forward["Condition"] == "ForwardsSignals"
    assert doc["Conditions"]["ForwardsSignals"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ForwardedAlarmNames"}, ""]}]}
    params = {r: stack_parameters(plan, r, "123456789012") for r in plan.regions}
    assert params[plan.standby_region]["ForwardedAlarmNames"] == ""

    def event(alarm: str, region: str) -> dict[str, Any]:
        return {
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "region": region,
            "resources": [f"arn:aws:cloudwatch:{region}:123456789012:alarm:{alarm}"],
            "detail": {"alarmName": alarm, "state": {"value": "ALARM"}},
        }

    def matches(pattern: dict[str, Any], region: str, evt: dict[str, Any]) -> bool:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": "123456789012"}
        resolved = _resolve(pattern, params[region] | pseudo)
        return bool(EventPattern.load(json.dumps(resolved)).matches_event(evt))  # type: ignore[arg-type]

    standby, primary = plan.standby_region, plan.primary_region
    target = forward["Properties"]["Targets"][0]["Arn"]["Fn::Sub"]
    assert target == "arn:${AWS::Partition}:events:${PeerRegion}:${AWS::AccountId}:event-bus/default"
    assert params[primary]["PeerRegion"] == standby
    for signal in plan.signals:
        evt = event(signal.name, signal.region)
        if signal.region == standby:
            assert matches(detect_pattern["Pattern"], standby, evt), signal.name
        else:
            assert params[primary]["ForwardedAlarmNames"] != ""
            assert matches(forward["Properties"]["EventPattern"], primary, evt), signal.name
            assert matches(detect_pattern["Pattern"], standby, evt), f"{signal.name} forwarded"
    assert not matches(forward["Properties"]["EventPattern"], primary, event("recsys-api-canary-use1", primary))
    # An event the peer forwarded here names an alarm of the peer's region: never forwarded back, even when both
    # stacks forward the same names.
    health = next(s.name for s in plan.signals if s.region == primary)
    from_peer = event(health, standby)
    assert not matches(forward["Properties"]["EventPattern"], primary, from_peer)
    assert not matches(forward["Properties"]["EventPattern"], primary, {**from_peer, "region": primary})


def test_each_checkov_skip_is_named_once_with_its_reason() -> None:
    config = yaml_parse((ROOT / ".checkov.yaml").read_text())
    text = (ROOT / ".checkov.yaml").read_text()
    assert len(config["skip-check"]) == len(set(config["skip-check"]))
    for check in config["skip-check"]:
        before = text.split(f"- {check}")[0].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), f"{check} has no reason above it"
    assert "checkov" not in template_text()


def test_every_task_retries_the_same_way() -> None:
    """One retry policy for every Lambda task: transient Lambda and AWS errors, with backoff and jitter."""
    definition = json.loads(ASL.read_text())

    def tasks(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for name, state in states.items():
            if state["Type"] == "Task":
                found.append((name, state))
            for branch in state.get("Branches", []):
                found += tasks(branch["States"])
        return found

    retries = {name: json.dumps(state.get("Retry"), sort_keys=True) for name, state in tasks(definition["States"])}
    assert len(retries) > 15
    assert len(set(retries.values())) == 1, retries
    assert json.loads(next(iter(retries.values())))[0]["ErrorEquals"][-1] == "TransientAwsError"


def test_compensation_and_polling_states_say_what_they_do() -> None:
    definition = json.loads(ASL.read_text())
    states = dict(definition["States"])
    for branch in definition["States"]["PromoteAndScale"]["Branches"]:
        states.update(branch["States"])
    explained = [n for n, s in states.items() if n.startswith(("Wait", "Check", "Compensate")) or n.endswith("Failed")]
    assert len(explained) > 10
    assert [n for n in explained if not states[n].get("Comment")] == []


def test_the_claim_alarm_watches_what_the_controller_publishes() -> None:
    """The alarm Route 53's health check follows, and the datapoint a claim publishes, name the same series."""
    alarm = yaml_parse(template_text())["Resources"]["TrafficClaimAlarm"]["Properties"]
    datum = claim_datum("recsys", 1.0)
    assert (alarm["Namespace"], alarm["MetricName"]) == (CLAIM_NAMESPACE, datum["MetricName"])
    assert alarm["Dimensions"] == [{"Name": "Application", "Value": {"Ref": "PlanName"}}]
    assert datum["Dimensions"] == [{"Name": "Application", "Value": "recsys"}]
    assert alarm["AlarmName"] == {"Fn::Sub": claim_alarm_name("${PlanName}")}
    # A withdrawal (0) wins the period it falls in: Minimum of the period against a threshold of 1.
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Minimum", 60, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "ignore", "a claim stands until withdrawn"
    assert datum.get("StorageResolution", 60) == 60, "Route 53 follows no alarm on a high-resolution metric"
    assert route53_cannot_follow(alarm) == []


def test_no_alarm_of_the_template_is_high_resolution() -> None:
    """Route 53 API reference, AlarmIdentifier: standard-resolution metrics only; an alarm period under 60 s needs a
    high-resolution metric (CloudWatch user guide, high-resolution alarms)."""
    alarms = {
        name: r["Properties"]
        for name, r in yaml_parse(template_text())["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms
    assert {name: a["Period"] for name, a in alarms.items() if a["Period"] < 60 or a["Period"] % 60} == {}


def test_no_code_of_the_controller_publishes_a_high_resolution_metric() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("layers", "functions", "cli")
        for path in (ROOT / folder).rglob("*.py")
        if "StorageResolution" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"Period": 10}, "period is 10 s"),
        ({"Period": 90}, "period is 90 s"),
        ({"Statistic": None, "ExtendedStatistic": "p99"}, "extended"),
        ({"Statistic": "IQM"}, "statistic is IQM"),
    ],
)
def test_route53_cannot_follow_what_aws_documents_it_cannot(change: dict[str, Any], why: str) -> None:
    alarm = yaml_parse(template_text())["Resources"]["TrafficClaimAlarm"]["Properties"] | change
    assert any(why in problem for problem in route53_cannot_follow(alarm))


def test_the_functions_endpoint_is_declared_empty_on_aws_and_loopback_only_in_a_drill() -> None:
    doc = yaml_parse(template_text())
    assert doc["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"] == {"Ref": "EndpointUrl"}
    parameter = doc["Parameters"]["EndpointUrl"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("http://127.0.0.1:40123")
    for elsewhere in ("https://dynamodb.us-west-2.amazonaws.com", "http://10.0.0.1:80", "http://127.0.0.1.evil:80"):
        assert not pattern.fullmatch(elsewhere), elsewhere
    plan = load_plan_file(ROOT / "plans" / "recsys.json")
    assert stack_parameters(plan, "us-west-2", "123456789012")["EndpointUrl"] == ""


@pytest.mark.parametrize(
    ("service", "aws"),
    [
        ("dynamodb", "https://dynamodb.us-west-2.amazonaws.com"),
        ("rds", "https://rds.us-west-2.amazonaws.com"),
        ("route53", "https://route53.amazonaws.com"),
        ("sagemaker", "https://api.sagemaker.us-west-2.amazonaws.com"),
        ("stepfunctions", "https://states.us-west-2.amazonaws.com"),
    ],
)
def test_an_empty_endpoint_url_leaves_boto3_on_awss_endpoints(
    service: str, aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the deployed functions get from the EndpointUrl default: botocore reads an empty value as unset."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert ClientFactory().client(service, "us-west-2").meta.endpoint_url == aws
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:40123")
    assert ClientFactory().client(service, "us-west-2").meta.endpoint_url == "http://127.0.0.1:40123"
