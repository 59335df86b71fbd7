"""IAM in the outage world: which action and which resources AWS authorizes each of the controller's requests against
(read from requests botocore really builds), the evaluation of a role's policies, and the denial as the services
send it (read back by botocore)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError

from failoverctl.drill.iam import Enforcer, iam_action, request_members, resource_arns
from failoverctl.drill.outage import access_denied_code, error_response, outcome_of
from tests.support.wire import Raw, classified, parts, prepared

ACCOUNT = "000000000000"
CLUSTER = "arn:aws:rds:us-west-2:000000000000:cluster:recsys-usw2"


def authorized(service: str, operation: str, region: str = "us-west-2", **params: Any) -> tuple[str, list[str]]:
    request = prepared(service, region, operation, **params)
    method, target, _, body = parts(request)
    call = classified(request)
    action = iam_action(call)
    return action, resource_arns(call, action, request_members(call, method, target, body), ACCOUNT)


# Every request the controller's functions make, with the action and resources AWS's Service Authorization
# Reference says it is authorized against.
CONTROLLER_CALLS = [
    (
        "rds",
        "describe_global_clusters",
        {"GlobalClusterIdentifier": "recsys-global"},
        "rds:DescribeGlobalClusters",
        ["arn:aws:rds::000000000000:global-cluster:recsys-global"],
    ),
    ("rds", "describe_db_clusters", {"DBClusterIdentifier": CLUSTER}, "rds:DescribeDBClusters", [CLUSTER]),
    ("rds", "describe_db_clusters", {}, "rds:DescribeDBClusters", ["*"]),
    (
        "rds",
        "switchover_global_cluster",
        {"GlobalClusterIdentifier": "recsys-global", "TargetDbClusterIdentifier": CLUSTER},
        "rds:SwitchoverGlobalCluster",
        [CLUSTER, "arn:aws:rds::000000000000:global-cluster:recsys-global"],
    ),
    (
        "rds",
        "failover_global_cluster",
        {"GlobalClusterIdentifier": "recsys-global", "TargetDbClusterIdentifier": CLUSTER, "AllowDataLoss": True},
        "rds:FailoverGlobalCluster",
        [CLUSTER, "arn:aws:rds::000000000000:global-cluster:recsys-global"],
    ),
    (
        "cloudwatch",
        "describe_alarms",
        {"AlarmNames": ["a", "b"]},
        "cloudwatch:DescribeAlarms",
        ["arn:aws:cloudwatch:us-west-2:000000000000:alarm:a", "arn:aws:cloudwatch:us-west-2:000000000000:alarm:b"],
    ),
    (
        "cloudwatch",
        "get_metric_statistics",
        {
            "Namespace": "AWS/RDS",
            "MetricName": "m",
            "StartTime": 1,
            "EndTime": 2,
            "Period": 60,
            "Statistics": ["Maximum"],
        },
        "cloudwatch:GetMetricStatistics",
        ["*"],
    ),
    (
        "dynamodb",
        "batch_get_item",
        {"RequestItems": {"ledger": {"Keys": [{"pk": {"S": "x"}}]}}},
        "dynamodb:BatchGetItem",
        ["arn:aws:dynamodb:us-west-2:000000000000:table/ledger"],
    ),
    (
        "dynamodb",
        "put_item",
        {"TableName": "ledger", "Item": {"pk": {"S": "x"}}},
        "dynamodb:PutItem",
        ["arn:aws:dynamodb:us-west-2:000000000000:table/ledger"],
    ),
    (
        "ssm",
        "get_parameter",
        {"Name": "/recsys/write-region"},
        "ssm:GetParameter",
        ["arn:aws:ssm:us-west-2:000000000000:parameter/recsys/write-region"],
    ),
    (
        "sagemaker",
        "update_endpoint_weights_and_capacities",
        {"EndpointName": "Recsys-Ranker", "DesiredWeightsAndCapacities": [{"VariantName": "v", "DesiredWeight": 1}]},
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        ["arn:aws:sagemaker:us-west-2:000000000000:endpoint/recsys-ranker"],  # SageMaker's ARNs are lowercase
    ),
    (
        "application-autoscaling",
        "register_scalable_target",
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": "endpoint/e/variant/v",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 4,
        },
        "application-autoscaling:RegisterScalableTarget",
        ["arn:aws:application-autoscaling:us-west-2:000000000000:scalable-target/*"],
    ),
    (
        "application-autoscaling",
        "describe_scalable_targets",
        {"ServiceNamespace": "sagemaker"},
        "application-autoscaling:DescribeScalableTargets",
        ["*"],
    ),
    (
        "route53",
        "list_resource_record_sets",
        {"HostedZoneId": "Z123"},
        "route53:ListResourceRecordSets",
        ["arn:aws:route53:::hostedzone/Z123"],
    ),
    ("route53", "get_change", {"Id": "C9"}, "route53:GetChange", ["arn:aws:route53:::change/C9"]),
    (
        "s3",
        "head_object",
        {"Bucket": "models-usw2", "Key": "ranker/model.tar.gz"},
        "s3:GetObject",
        ["arn:aws:s3:::models-usw2/ranker/model.tar.gz"],
    ),
    (
        "s3",
        "get_bucket_replication",
        {"Bucket": "models-usw2"},
        "s3:GetReplicationConfiguration",
        ["arn:aws:s3:::models-usw2"],
    ),
    (
        "ecr",
        "describe_images",
        {"repositoryName": "ranker", "imageIds": [{"imageTag": "v7"}]},
        "ecr:DescribeImages",
        ["arn:aws:ecr:us-west-2:000000000000:repository/ranker"],
    ),
    (
        "sns",
        "publish",
        {"TopicArn": "arn:aws:sns:us-west-2:000000000000:failover", "Message": "m"},
        "sns:Publish",
        ["arn:aws:sns:us-west-2:000000000000:failover"],
    ),
    (
        "stepfunctions",
        "start_execution",
        {"stateMachineArn": "arn:aws:states:us-west-2:000000000000:stateMachine:failover"},
        "states:StartExecution",
        ["arn:aws:states:us-west-2:000000000000:stateMachine:failover"],
    ),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "action", "resources"),
    CONTROLLER_CALLS,
    ids=[f"{c[0]}.{c[1]}" for c in CONTROLLER_CALLS],
)
def test_each_call_is_authorized_against_the_resources_aws_names(
    service: str, operation: str, params: dict[str, Any], action: str, resources: list[str]
) -> None:
    assert authorized(service, operation, **params) == (action, resources)


def test_a_global_control_planes_resources_carry_no_region_whatever_the_client_signs_for() -> None:
    assert authorized("route53", "get_change", region="us-west-2", Id="C1")[1] == ["arn:aws:route53:::change/C1"]


def role(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": "arn:aws:sts::000000000000:assumed-role/ShiftRole/shift-fn",
        "policies": [{"Version": "2012-10-17", "Statement": list(statements)}],
    }


ENDPOINTS = "arn:aws:sagemaker:us-west-2:000000000000:endpoint/recsys-*"


def check(enforcer: Enforcer, operation: str = "describe_endpoint", function: str = "shift-fn", **params: Any) -> Any:
    request = prepared("sagemaker", "us-west-2", operation, **(params or {"EndpointName": "recsys-ranker"}))
    method, target, _, body = parts(request)
    call = classified(request)
    call = type(call)(call.region, call.service, call.action, call.protocol, call.access_key, function)
    return enforcer.check(call, method, target, body)


def test_a_role_may_do_what_its_policies_allow_and_nothing_else() -> None:
    enforcer = Enforcer()
    enforcer.configure(
        {"shift-fn": role({"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": ENDPOINTS})}
    )
    assert check(enforcer) is None
    denial = check(enforcer, EndpointName="other")
    assert (denial.action, denial.resource, denial.reason) == (
        "sagemaker:DescribeEndpoint",
        "arn:aws:sagemaker:us-west-2:000000000000:endpoint/other",
        "ImplicitDeny",
    )
    assert denial.message() == (
        "User: arn:aws:sts::000000000000:assumed-role/ShiftRole/shift-fn is not authorized to perform: "
        "sagemaker:DescribeEndpoint on resource: arn:aws:sagemaker:us-west-2:000000000000:endpoint/other "
        "because no identity-based policy allows it"
    )
    update: dict[str, Any] = {
        "EndpointName": "recsys-ranker",
        "DesiredWeightsAndCapacities": [{"VariantName": "v", "DesiredWeight": 1}],
    }
    assert check(enforcer, "update_endpoint_weights_and_capacities", **update).action == (
        "sagemaker:UpdateEndpointWeightsAndCapacities"
    )
    assert enforcer.report() == {
        "functions": 1,
        "evaluated": 3,
        "denials": [
            {
                "function": "shift-fn",
                "action": a,
                "resource": f"arn:aws:sagemaker:us-west-2:000000000000:endpoint/{e}",
                "reason": "ImplicitDeny",
            }
            for a, e in (
                ("sagemaker:DescribeEndpoint", "other"),
                ("sagemaker:UpdateEndpointWeightsAndCapacities", "recsys-ranker"),
            )
        ],
    }


def test_an_explicit_deny_wins_and_actions_match_as_iam_matches_them() -> None:
    enforcer = Enforcer()
    enforcer.configure(
        {
            "shift-fn": role(
                {"Effect": "Allow", "Action": "SageMaker:Describe*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "sagemaker:describeendpoint",
                    "Resource": ENDPOINTS.replace("recsys-*", "x"),
                },
            )
        }
    )
    assert check(enforcer) is None, "IAM matches actions without regard to case, and with wildcards"
    assert check(enforcer, EndpointName="x").reason == "Deny"


def test_only_the_deployed_functions_are_held_to_their_roles() -> None:
    enforcer = Enforcer()
    enforcer.configure({"shift-fn": role()})
    assert check(enforcer, function="") is None, "the drill's own calls are an administrator's"
    assert check(enforcer, function="someone-else") is None
    assert check(enforcer).reason == "ImplicitDeny"
    enforcer.configure({})
    assert check(enforcer) is None
    assert enforcer.report() == {"functions": 0, "evaluated": 0, "denials": []}


@pytest.mark.parametrize(
    ("service", "operation", "params", "code"),
    [
        ("dynamodb", "get_item", {"TableName": "t", "Key": {}}, "AccessDeniedException"),
        ("sagemaker", "describe_endpoint", {"EndpointName": "e"}, "AccessDeniedException"),
        ("rds", "describe_global_clusters", {}, "AccessDenied"),
        ("route53", "get_change", {"Id": "C1"}, "AccessDenied"),
        ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "AccessDenied"),
        # CloudWatch speaks RPC v2 CBOR, JSON or query, whichever botocore prefers: its code follows the protocol.
        ("cloudwatch", "describe_alarms", {}, "AccessDenied|AccessDeniedException"),
        (
            "application-autoscaling",
            "describe_scalable_targets",
            {"ServiceNamespace": "sagemaker"},
            "AccessDeniedException",
        ),
    ],
)
def test_a_denial_is_the_services_own_access_denied_error(
    service: str, operation: str, params: dict[str, Any], code: str
) -> None:
    client = boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AK",
        aws_secret_access_key="x",
    )

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        call = classified(request)
        status, headers, body = error_response(call, *access_denied_code(call), "User: x is not authorized")
        return AWSResponse(request.url, status, headers, Raw(body))  # type: ignore[arg-type]

    client.meta.events.register("before-send", answer)
    with pytest.raises(ClientError) as info:
        getattr(client, operation)(**params)
    got = info.value.response["Error"]["Code"]
    assert got in code.split("|")
    assert outcome_of(info.value.response["ResponseMetadata"]["HTTPStatusCode"], got) == "denied"


def test_a_condition_on_the_actions_own_key_is_judged_from_the_request() -> None:
    """TrafficClaimPolicy grants PutMetricData only in the controller's namespace (cloudwatch:namespace)."""
    policy = {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "FailoverController"}},
    }
    enforcer = Enforcer()
    enforcer.configure({"claim-fn": role(policy)})

    def put(namespace: str) -> Any:
        request = prepared(
            "cloudwatch",
            "us-west-2",
            "put_metric_data",
            Namespace=namespace,
            MetricData=[{"MetricName": "m", "Value": 1}],
        )
        method, target, _, body = parts(request)
        call = classified(request)
        call = type(call)(call.region, call.service, call.action, call.protocol, call.access_key, "claim-fn")
        return enforcer.check(call, method, target, body)

    assert put("FailoverController") is None
    denied = put("Someone/Else")
    assert (denied.action, denied.resource) == ("cloudwatch:PutMetricData", "*")
