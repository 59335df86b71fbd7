"""The outage proxy's own rules: how it reads a request (from requests botocore really builds), the errors it
answers with (read back by botocore's own parsers and retry rules), its faults on a timeline, and the proxy in
front of a real emulator (moto's server)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker
from moto.server import ThreadedMotoServer

from failover_controller.clients import user_agent
from failoverctl.__main__ import main
from failoverctl.drill.emulators import free_port
from failoverctl.drill.front_door import Call, classify
from failoverctl.drill.outage import (
    TIMINGS_FILE,
    CallLog,
    Fault,
    FaultPlan,
    OutageProxy,
    SlowWorld,
    Upstreams,
    _Handler,
    error_code_of,
    error_response,
    outcome_of,
    serve,
    server_error_code,
    throttling_code,
)
from failoverctl.drill.runner import calls_summary, describe_fault
from tests.support.events import SAMPLE_PLAN
from tests.support.wire import NOWHERE, Raw, classified, prepared


@pytest.mark.parametrize(
    ("service", "region", "operation", "params", "expected"),
    [
        ("dynamodb", "us-west-2", "get_item", {"TableName": "t", "Key": {}}, ("dynamodb", "GetItem", "json")),
        (
            "stepfunctions",
            "us-west-2",
            "start_execution",
            {"stateMachineArn": "a"},
            ("states", "StartExecution", "json"),
        ),
        ("cloudwatch", "us-east-1", "describe_alarms", {}, ("monitoring", "DescribeAlarms", "json")),
        ("rds", "us-east-1", "describe_global_clusters", {}, ("rds", "DescribeGlobalClusters", "query")),
        ("sts", "us-west-2", "get_caller_identity", {}, ("sts", "GetCallerIdentity", "query")),
        (
            "sagemaker",
            "us-west-2",
            "update_endpoint_weights_and_capacities",
            {"EndpointName": "e", "DesiredWeightsAndCapacities": [{"VariantName": "v", "DesiredWeight": 1.0}]},
            ("sagemaker", "UpdateEndpointWeightsAndCapacities", "json"),
        ),
        ("lambda", "us-west-2", "invoke", {"FunctionName": "f"}, ("lambda", "Invoke", "rest-json")),
        ("lambda", "us-west-2", "get_function", {"FunctionName": "f"}, ("lambda", "GetFunction", "rest-json")),
        ("s3", "us-west-2", "get_bucket_replication", {"Bucket": "b"}, ("s3", "GetBucketReplication", "rest-xml")),
        ("s3", "us-west-2", "head_object", {"Bucket": "b", "Key": "k/x.tar.gz"}, ("s3", "HeadObject", "rest-xml")),
        ("s3", "us-west-2", "get_object", {"Bucket": "b", "Key": "k/x.tar.gz"}, ("s3", "GetObject", "rest-xml")),
    ],
)
def test_a_request_is_read_as_the_front_door_reads_it(
    service: str, region: str, operation: str, params: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    call = classified(prepared(service, region, operation, **params))
    assert (call.region, call.service, call.action, call.protocol, call.access_key) == (region, *expected, "AKIDTEST")


@pytest.mark.parametrize(
    ("operation", "params", "action"),
    [
        ("get_change", {"Id": "C1"}, "GetChange"),
        ("get_hosted_zone", {"Id": "Z1"}, "GetHostedZone"),
        ("list_resource_record_sets", {"HostedZoneId": "Z1"}, "ListResourceRecordSets"),
        (
            "change_resource_record_sets",
            {
                "HostedZoneId": "Z1",
                "ChangeBatch": {
                    "Changes": [
                        {
                            "Action": "UPSERT",
                            "ResourceRecordSet": {
                                "Name": "api.example.com.",
                                "Type": "CNAME",
                                "TTL": 60,
                                "ResourceRecords": [{"Value": "x.example.com"}],
                            },
                        }
                    ]
                },
            },
            "ChangeResourceRecordSets",
        ),
        ("get_health_check_status", {"HealthCheckId": "h"}, "GetHealthCheckStatus"),
    ],
)
def test_route_53s_api_is_homed_in_us_east_1_whatever_the_client_signs_for(
    operation: str, params: dict[str, Any], action: str
) -> None:
    call = classified(prepared("route53", "us-west-2", operation, **params))
    assert (call.region, call.service, call.action, call.protocol) == ("us-east-1", "route53", action, "rest-xml")


def test_the_calling_function_is_read_from_the_controllers_user_agent() -> None:
    config = Config(user_agent_extra=user_agent("failover-controller-DetectFunction-AB12", "us-west-2"))
    request = prepared("dynamodb", "us-east-1", "list_tables", config=config)
    assert classified(request).function == "us-west-2.failover-controller-DetectFunction-AB12"
    assert (
        classified(
            prepared("dynamodb", "us-west-2", "list_tables", config=Config(user_agent_extra=user_agent("")))
        ).function
        == ""
    )


def test_the_log_names_a_call_by_its_function_its_key_or_the_drill() -> None:
    log = CallLog()
    log.callers.update({"failover-controller-DetectFunction-AB12": "Detect", "AKIDX": "Operator"})
    log.add(
        Call("us-east-1", "rds", "DescribeDBClusters", "query", "AK", "failover-controller-DetectFunction-AB12"), "ok"
    )
    log.add(Call("us-east-1", "rds", "DescribeDBClusters", "query", "AK", "failover-controller-OtherFunction-1"), "ok")
    log.add(Call("us-east-1", "rds", "DescribeDBClusters", "query", "AKIDX"), "denied")
    log.add(Call("us-east-1", "rds", "DescribeDBClusters", "query", "test"), "ok")
    log.add(Call("?", "?", "GET /", "rest-json"), "error")
    assert [(r["function"], r["outcome"], r["count"]) for r in log.rows()] == [
        ("Detect", "ok", 1),
        ("Operator", "denied", 1),
        ("drill", "ok", 1),
        ("failover-controller-OtherFunction-1", "ok", 1),
        ("unsigned", "error", 1),
    ]


def test_a_request_that_says_nothing_is_unknown_not_guessed() -> None:
    assert classify("GET", "/", {}, b"") == Call("?", "?", "GET /", "rest-json", "")


def test_an_rpc_v2_cbor_request_names_its_operation_in_its_path() -> None:
    headers = {
        "smithy-protocol": "rpc-v2-cbor",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/monitoring/aws4_request, Sig=x",
    }
    call = classify("POST", "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", headers, b"")
    assert call == Call("us-east-1", "monitoring", "DescribeAlarms", "smithy-rpc-v2-cbor", "AK")


# The errors it answers with are AWS's: botocore's own parsers read the code, and its retry rules see throttling.


def answered(service: str, operation: str, params: dict[str, Any], status: int, code: str) -> ClientError:
    client = boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url=NOWHERE,
        aws_access_key_id="AK",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        call = classified(request)
        status_, headers, body = error_response(call, status, code, "drill fault")
        return AWSResponse(request.url, status_, headers, Raw(body))  # type: ignore[arg-type]

    client.meta.events.register("before-send", answer)
    with pytest.raises(ClientError) as info:
        getattr(client, operation)(**params)
    return info.value


CASES = [
    ("dynamodb", "list_tables", {}),
    ("cloudwatch", "describe_alarms", {}),
    ("rds", "describe_global_clusters", {}),
    ("route53", "get_change", {"Id": "C1"}),
    ("s3", "get_bucket_replication", {"Bucket": "b"}),
    ("lambda", "get_function", {"FunctionName": "f"}),
    ("sagemaker", "describe_endpoint", {"EndpointName": "e"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CASES)
def test_a_throttle_is_the_services_own_throttling_error(service: str, operation: str, params: dict[str, Any]) -> None:
    call = classified(prepared(service, "us-east-1", operation, **params))
    status, code = throttling_code(call)
    error = answered(service, operation, params, status, code)
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    context = RetryContext(attempt_number=1, operation_model=None, parsed_response=error.response)
    assert ThrottledRetryableChecker().is_retryable(context), "botocore's retry rules see a throttle"


@pytest.mark.parametrize(("service", "operation", "params"), CASES)
def test_a_server_error_is_a_5xx_that_botocore_parses(service: str, operation: str, params: dict[str, Any]) -> None:
    call = classified(prepared(service, "us-east-1", operation, **params))
    status, code = server_error_code(call)
    error = answered(service, operation, params, status, code)
    assert (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert status >= 500


def test_a_cbor_error_is_read_back_by_its_code() -> None:
    call = Call("us-east-1", "monitoring", "DescribeAlarms", "smithy-rpc-v2-cbor")
    status, headers, body = error_response(call, 400, "Throttling", "slow down")
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert error_code_of(status, headers, body) == "Throttling"


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (200, "", "ok"),
        (403, "AccessDenied", "denied"),
        (400, "AccessDeniedException", "denied"),
        (403, "AuthorizationError", "denied"),
        (400, "ThrottlingException", "throttled"),
        (503, "SlowDown", "throttled"),
        (429, "Whatever", "throttled"),
        (404, "ResourceNotFoundException", "error"),
        (503, "ServiceUnavailable", "error"),
    ],
)
def test_an_upstream_answer_is_counted_by_its_outcome(status: int, code: str, outcome: str) -> None:
    assert outcome_of(status, code) == outcome


# Faults on a timeline, on a clock the test moves.


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


EAST = Call("us-east-1", "rds", "DescribeGlobalClusters", "query")
WEST = Call("us-west-2", "rds", "DescribeGlobalClusters", "query")
EAST_DDB = Call("us-east-1", "dynamodb", "GetItem", "json")


def test_a_blackout_takes_its_region_down_in_its_window_only() -> None:
    clock = Clock()
    plan = FaultPlan(clock=clock)
    plan.start([Fault("blackout", region="us-east-1", start_s=5, end_s=60, hang_s=2.5)])
    assert plan.verdict(EAST).action == "forward", "before the window"
    clock.now += 5
    assert (plan.verdict(EAST).action, plan.verdict(EAST).delay_s) == ("hang", 2.5)
    assert plan.verdict(WEST).action == "forward", "the other region answers"
    clock.now += 55
    assert plan.verdict(EAST).action == "forward", "after the window"
    assert plan.faults[0].seen == 2


def test_a_refusing_blackout_of_one_service_leaves_the_regions_others_up() -> None:
    plan = FaultPlan([Fault("blackout", region="us-east-1", service="dynamodb", style="refuse")], clock=Clock())
    assert plan.verdict(EAST_DDB) == plan.verdict(EAST_DDB)
    assert plan.verdict(EAST_DDB).action == "refuse"
    assert plan.verdict(EAST).action == "forward"


def test_a_brownout_delays_every_call_and_fails_its_shares_evenly_and_the_same_every_time() -> None:
    fault = Fault("brownout", region="us-east-1", latency_s=0.4, error_rate=0.2, throttle_rate=0.3)
    plan = FaultPlan([fault], clock=Clock())
    verdicts = [plan.verdict(EAST) for _ in range(1000)]
    assert {v.delay_s for v in verdicts} == {0.4}
    actions = [v.action for v in verdicts]
    assert abs(actions.count("error") - 200) <= 3
    assert abs(actions.count("throttle") - 300) <= 3
    assert all(actions[i : i + 10].count("forward") >= 3 for i in range(0, 990)), "never a long run of failures"
    again = FaultPlan([Fault("brownout", region="us-east-1", error_rate=0.2, throttle_rate=0.3)], clock=Clock())
    assert [again.verdict(EAST).action for _ in range(1000)] == actions
    assert plan.verdict(WEST) == plan.verdict(WEST)
    assert plan.verdict(WEST).action == "forward"


def test_a_bursty_brownout_fails_runs_of_consecutive_calls_longer_than_the_sdks_attempts() -> None:
    fault = Fault("brownout", region="us-east-1", error_rate=0.15, throttle_rate=0.15, burst=6)
    plan = FaultPlan([fault], clock=Clock())
    actions = [plan.verdict(EAST).action for _ in range(1200)]
    assert abs(actions.count("error") - 180) <= 6
    assert abs(actions.count("throttle") - 180) <= 6
    bursts = [actions[i : i + 6] for i in range(0, 1200, 6)]
    assert all(len(set(b)) == 1 for b in bursts), "each burst of 6 consecutive calls fails or passes whole"
    assert fault.describe()["longest_failure_run"] >= 6, "longer than the controller's 5 attempts"
    smooth = Fault("brownout", region="us-east-1", error_rate=0.15, throttle_rate=0.15)
    plan = FaultPlan([smooth], clock=Clock())
    [plan.verdict(EAST) for _ in range(1200)]
    assert smooth.describe()["longest_failure_run"] <= 2


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "meltdown"}, "kind: must be blackout or brownout, got 'meltdown'"),
        ({"kind": "brownout", "burst": 0}, "burst: must be a whole number of calls, 1 or more, got 0"),
        ({"kind": "blackout", "style": "sulk"}, "style: must be hang or refuse, got 'sulk'"),
        ({"kind": "brownout", "throttle_rate": -0.5}, "throttle_rate: must be between 0 and 1, got -0.5"),
        (
            {"kind": "brownout", "error_rate": 0.6, "throttle_rate": 0.6},
            "error_rate + throttle_rate: must be at most 1",
        ),
    ],
)
def test_a_fault_that_makes_no_sense_is_refused_naming_why(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace("+", r"\+")) as info:
        Fault(**fields)
    assert str(info.value) == f"fault: {problem}"


# The proxy in front of a real emulator.


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def proxy(upstream: str) -> Iterator[OutageProxy]:
    server = serve(free_port(), Upstreams(upstream))
    urllib.request.urlopen(urllib.request.Request(f"{upstream}/moto-api/reset", method="POST"), timeout=10).close()  # noqa: S310
    yield server
    server.shutdown()
    server.server_close()


def through(proxy: OutageProxy, service: str, region: str = "us-east-1", attempts: int = 1) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=proxy.url,
        aws_access_key_id="AKIDDETECT",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=2, read_timeout=2),
    )


def as_function(proxy: OutageProxy, function: str, service: str, region: str) -> Any:
    """A client of the deployed function ``function``, as its user agent names it, one attempt a call."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=proxy.url,
        aws_access_key_id="AKIDFUNCTION",
        aws_secret_access_key="x",
        config=Config(user_agent_extra=f"fn/{function}", retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def create_table(ddb: Any, billing_mode: str) -> None:
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode=billing_mode,
    )


def control(proxy: OutageProxy, verb: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if doc is None else json.dumps(doc).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{proxy.url}/_outage/{verb}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        result: dict[str, Any] = json.loads(response.read())
    return result


def test_calls_pass_through_and_are_counted_by_caller(proxy: OutageProxy) -> None:
    control(proxy, "callers", {"AKIDDETECT": "Detect"})
    ddb = through(proxy, "dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ddb.list_tables()["TableNames"] == ["t"]
    through(proxy, "s3").create_bucket(Bucket="drill-bucket")
    through(proxy, "s3").put_object(Bucket="drill-bucket", Key="k", Body=b"x" * 100_000)
    assert through(proxy, "s3").get_object(Bucket="drill-bucket", Key="k")["Body"].read() == b"x" * 100_000
    with pytest.raises(ClientError):
        through(proxy, "dynamodb").describe_table(TableName="missing")
    assert control(proxy, "report")["calls"] == [
        {"function": "Detect", "region": "us-east-1", "service": "dynamodb", "action": a, "outcome": o, "count": 1}
        for a, o in (("CreateTable", "ok"), ("DescribeTable", "error"), ("ListTables", "ok"))
    ] + [
        {"function": "Detect", "region": "us-east-1", "service": "s3", "action": a, "outcome": "ok", "count": 1}
        for a in ("CreateBucket", "GetObject", "PutObject")
    ]


def test_a_blacked_out_region_does_not_answer_and_the_other_does(proxy: OutageProxy) -> None:
    control(proxy, "faults", {"faults": [{"kind": "blackout", "region": "us-east-1", "hang_s": 0.2}]})
    with pytest.raises(ConnectionClosedError):
        through(proxy, "dynamodb").list_tables()
    assert through(proxy, "dynamodb", "us-west-2").list_tables()["TableNames"] == []
    report = control(proxy, "report")
    assert [(c["region"], c["outcome"]) for c in report["calls"]] == [("us-east-1", "timeout"), ("us-west-2", "ok")]
    assert report["faults"] == [
        {
            "kind": "blackout",
            "region": "us-east-1",
            "start_s": 0.0,
            "style": "hang",
            "hang_s": 0.2,
            "latency_s": 0.0,
            "error_rate": 0.0,
            "throttle_rate": 0.0,
            "burst": 1,
            "affected": 1,
        }
    ]


def test_a_browned_out_region_throttles_and_botocore_retries_through_it(proxy: OutageProxy) -> None:
    control(proxy, "faults", {"faults": [{"kind": "brownout", "region": "us-east-1", "throttle_rate": 0.5}]})
    client = through(proxy, "dynamodb", attempts=3)
    assert client.list_tables()["TableNames"] == []
    assert client.list_tables()["TableNames"] == []
    counts = {c["outcome"]: c["count"] for c in control(proxy, "report")["calls"]}
    assert counts == {"throttled": 2, "ok": 2}, "every other call is throttled, and retried"


def test_a_bad_fault_is_refused_by_the_control_api_and_the_plan_is_kept(proxy: OutageProxy) -> None:
    control(proxy, "faults", {"faults": [{"kind": "blackout", "region": "us-east-1"}]})
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{proxy.url}/_outage/faults", data=json.dumps({"faults": [{"kind": "meltdown"}]}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert info.value.code == 400
    assert json.loads(info.value.read())["error"] == "fault: kind: must be blackout or brownout, got 'meltdown'"
    assert [f["kind"] for f in control(proxy, "report")["faults"]] == ["blackout"]


def test_the_one_line_summary_counts_outcomes_regions_and_what_each_fault_touched() -> None:
    calls = [
        {"function": "Detect", "region": "us-east-1", "service": "rds", "action": "A", "outcome": "ok", "count": 3},
        {
            "function": "Detect",
            "region": "us-east-1",
            "service": "rds",
            "action": "A",
            "outcome": "throttled",
            "count": 1,
        },
        {"function": "Verify", "region": "us-west-2", "service": "rds", "action": "A", "outcome": "ok", "count": 5},
    ]
    faults = [{"kind": "brownout", "region": "us-east-1", "affected": 4}]
    assert calls_summary(calls, faults) == (
        "AWS calls from the alarm to the end: 9 (8 ok, 1 throttled); by region: us-east-1 4, us-west-2 5; "
        "brownout of us-east-1: 4 calls"
    )
    assert describe_fault({"kind": "blackout", "region": "us-east-1", "start_s": 0, "style": "refuse"}) == (
        "blackout of us-east-1 from 0 s: no answer (refuse)"
    )
    assert (
        describe_fault(
            {"kind": "brownout", "service": "route53", "start_s": 5, "end_s": 30, "latency_s": 1.0, "error_rate": 0.1}
        )
        == "brownout of route53 from 5 s to 30 s: +1.0 s per call, 10% 5xx"
    )
    assert describe_fault({"kind": "brownout", "region": "us-east-1", "error_rate": 0.3, "burst": 6}) == (
        "brownout of us-east-1 from 0 s: +0 s per call, 30% 5xx, in bursts of 6 calls"
    )


# Time, scaled: what AWS does over minutes is under way for seconds, as AWS shows it, read back by botocore.

TIMINGS = {
    "aurora_switchover_s": 120.0,
    "aurora_failover_s": 60.0,
    "sagemaker_scale_up_s": 480.0,
    "sagemaker_weights_s": 30.0,
    "sagemaker_rollback_s": 120.0,
    "aurora_resync_s": 900.0,
    "route53_insync_s": 60.0,
}
GLOBAL = "recsys-metadata-global"
TARGET = "arn:aws:rds:us-west-2:000000000000:cluster:recsys-metadata-usw2"
SOURCE = "arn:aws:rds:us-east-1:000000000000:cluster:recsys-metadata-use1"


def parsed(service: str, operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model(service)
    op = model.operation_model(operation)
    parser = botocore.parsers.create_parser(model.protocol)
    response = {"body": body, "headers": {}, "status_code": status}
    assert op.output_shape is not None
    result: dict[str, Any] = parser.parse(response, op.output_shape)
    return result


def global_clusters_xml(writer: str) -> bytes:
    """DescribeGlobalClusters as RDS answers it (the API reference's example, trimmed)."""
    members = "".join(
        f"<GlobalClusterMember><DBClusterArn>{arn}</DBClusterArn><IsWriter>{str(arn == writer).lower()}</IsWriter>"
        "</GlobalClusterMember>"
        for arn in (SOURCE, TARGET)
    )
    return (
        '<DescribeGlobalClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        "<DescribeGlobalClustersResult><GlobalClusters><GlobalClusterMember>"
        f"<GlobalClusterIdentifier>{GLOBAL}</GlobalClusterIdentifier><Status>available</Status>"
        f"<GlobalClusterMembers>{members}</GlobalClusterMembers>"
        "</GlobalClusterMember></GlobalClusters></DescribeGlobalClustersResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeGlobalClustersResponse>"
    ).encode()


def slow(clock: Clock, scale: float = 60.0) -> SlowWorld:
    world_ = SlowWorld(clock)
    world_.configure(scale, TIMINGS)
    return world_


def rds_call(action: str) -> Call:
    return Call("us-west-2", "rds", action, "query", "AK")


def test_a_switchover_is_pending_then_switching_over_and_the_writer_moves_only_at_its_end() -> None:
    clock = Clock()
    world_ = slow(clock)
    form = f"Action=SwitchoverGlobalCluster&GlobalClusterIdentifier={GLOBAL}&TargetDbClusterIdentifier={TARGET}"
    answer = world_.intercept(rds_call("SwitchoverGlobalCluster"), {}, form.encode(), "/")
    assert answer is not None
    started = parsed("rds", "SwitchoverGlobalCluster", answer[2])["GlobalCluster"]
    assert started["FailoverState"] == {"Status": "pending", "ToDbClusterArn": TARGET, "IsDataLossAllowed": False}
    describe = rds_call("DescribeGlobalClusters")
    states = []
    for elapsed in (0, 0.3, 1, 1.9):  # 120 s / 60 = 2 s; the first 20% is pending; none of it shows for 1 s
        clock.now = 1000.0 + elapsed
        (gc,) = parsed("rds", "DescribeGlobalClusters", world_.patch(describe, global_clusters_xml(SOURCE)))[
            "GlobalClusters"
        ]
        states.append(gc.get("FailoverState", {}).get("Status"))
        assert [m["IsWriter"] for m in gc["GlobalClusterMembers"]] == [True, False], "the writer has not moved"
    assert states == [None, None, "switching-over", "switching-over"], "accepted, then visible, then done"
    assert world_.due() == []
    clock.now = 1002.0
    (op,) = world_.due()
    assert op.request[3] == form.encode(), "the original request goes to the emulator, which moves the writer"
    assert world_.due() == [], "handed out once"
    world_.finish(op)
    assert world_.patch(describe, global_clusters_xml(TARGET)) == global_clusters_xml(TARGET)


@pytest.mark.parametrize(
    ("members", "code"),
    [(None, "GlobalClusterNotFoundFault"), ({SOURCE: True}, "DBClusterNotFoundFault")],
)
def test_a_promotion_rds_would_refuse_is_refused_up_front_and_nothing_is_under_way(
    members: dict[str, bool] | None, code: str
) -> None:
    world_ = slow(Clock())
    world_.members_of = lambda region, identifier: members
    form = f"Action=SwitchoverGlobalCluster&GlobalClusterIdentifier={GLOBAL}&TargetDbClusterIdentifier={TARGET}"
    answer = world_.intercept(rds_call("SwitchoverGlobalCluster"), {}, form.encode(), "/")
    assert answer is not None
    assert (answer[0], error_code_of(*answer)) == (404, code)
    assert world_.operations == {}


def test_a_second_promotion_while_one_is_under_way_is_refused_as_rds_refuses_it() -> None:
    world_ = slow(Clock())
    form = f"Action=FailoverGlobalCluster&GlobalClusterIdentifier={GLOBAL}&TargetDbClusterIdentifier={TARGET}"
    form += "&AllowDataLoss=true"
    first = world_.intercept(rds_call("FailoverGlobalCluster"), {}, form.encode(), "/")
    assert first is not None
    assert parsed("rds", "FailoverGlobalCluster", first[2])["GlobalCluster"]["FailoverState"]["IsDataLossAllowed"]
    again = world_.intercept(rds_call("FailoverGlobalCluster"), {}, form.encode(), "/")
    assert again is not None
    assert (again[0], error_code_of(*again)) == (400, "InvalidGlobalClusterStateFault")
    assert world_.operations[("aurora", GLOBAL)].ends == 1001.0, "a failover takes aurora_failover_s (60 s / 60)"


def test_an_endpoint_update_is_updating_until_it_ends_and_another_is_refused() -> None:
    clock = Clock()
    world_ = slow(clock)
    update = Call("us-west-2", "sagemaker", "UpdateEndpointWeightsAndCapacities", "json", "AK")
    capacity = {
        "EndpointName": "recsys-ranker-usw2",
        "DesiredWeightsAndCapacities": [{"VariantName": "ranker", "DesiredInstanceCount": 4}],
    }
    answer = world_.intercept(update, {}, json.dumps(capacity).encode(), "/")
    assert answer is not None
    assert parsed("sagemaker", "UpdateEndpointWeightsAndCapacities", answer[2])["EndpointArn"].endswith(
        ":endpoint/recsys-ranker-usw2"
    )
    refused = world_.intercept(update, {}, json.dumps(capacity).encode(), "/")
    assert refused is not None
    assert error_code_of(*refused) == "ValidationException"
    describe = Call("us-west-2", "sagemaker", "DescribeEndpoint", "json", "AK")
    in_service = json.dumps({"EndpointName": "recsys-ranker-usw2", "EndpointStatus": "InService"}).encode()
    assert json.loads(world_.patch(describe, in_service))["EndpointStatus"] == "Updating"
    other_region = Call("us-east-1", "sagemaker", "DescribeEndpoint", "json", "AK")
    assert world_.patch(other_region, in_service) == in_service
    clock.now += 8  # 480 s / 60: new instances
    (op,) = world_.due()
    world_.finish(op)
    assert world_.patch(describe, in_service) == in_service
    weights = {
        "EndpointName": "recsys-ranker-usw2",
        "DesiredWeightsAndCapacities": [{"VariantName": "ranker", "DesiredWeight": 1.0}],
    }
    world_.intercept(update, {}, json.dumps(weights).encode(), "/")
    assert world_.operations[("sagemaker", "us-west-2/recsys-ranker-usw2")].ends == clock.now + 0.5, "weights: 30 s"


def test_a_scale_up_beyond_the_regions_capacity_rolls_back_and_the_endpoint_keeps_its_old_count() -> None:
    """DescribeEndpoint: RollingBack is transitional, "once the rollback completes, endpoint returns to an InService
    status"; the failure reads as SageMaker reports InsufficientInstanceCapacity, and stays while InService
    (EndpointMetadata's FailureReason) until a new update is applied."""
    clock = Clock()
    world_ = SlowWorld(clock)
    world_.configure(60.0, TIMINGS, {"us-west-2": 2})
    world_.current_counts = lambda region, name: {"ranker": 1}
    update = Call("us-west-2", "sagemaker", "UpdateEndpointWeightsAndCapacities", "json", "AK")
    describe = Call("us-west-2", "sagemaker", "DescribeEndpoint", "json", "AK")
    in_service = json.dumps({"EndpointName": "recsys-ranker-usw2", "EndpointStatus": "InService"}).encode()

    def scale_to(n: int) -> None:
        doc = {
            "EndpointName": "recsys-ranker-usw2",
            "DesiredWeightsAndCapacities": [{"VariantName": "ranker", "DesiredInstanceCount": n}],
        }
        assert world_.intercept(update, {}, json.dumps(doc).encode(), "/") is not None

    scale_to(4)  # 3 more than the region has
    assert json.loads(world_.patch(describe, in_service))["EndpointStatus"] == "Updating"
    clock.now += 8  # the scale-up's 480 s / 60
    assert world_.due() == [], "nothing is sent on: the emulator's endpoint keeps its count"
    rolling = json.loads(world_.patch(describe, in_service))
    assert rolling["EndpointStatus"] == "RollingBack"
    assert "InsufficientInstanceCapacity" in rolling["FailureReason"]
    clock.now += 2  # the rollback's 120 s / 60
    assert world_.due() == []
    back = json.loads(world_.patch(describe, in_service))
    assert back["EndpointStatus"] == "InService", "InService again, at the old count"
    assert "InsufficientInstanceCapacity" in back["FailureReason"], "InService, but the update failed"
    scale_to(3)  # 2 more: the region has them
    assert "FailureReason" not in json.loads(world_.patch(describe, in_service)), "gone once a new update is applied"
    clock.now += 8
    (op,) = world_.due()
    assert json.loads(op.request[3])["DesiredWeightsAndCapacities"][0]["DesiredInstanceCount"] == 3
    assert world_.capacity == {"us-west-2": 0}


def test_a_record_change_is_pending_until_in_sync() -> None:
    clock = Clock()
    world_ = slow(clock)
    info = b"<ChangeInfo><Id>/change/C0123</Id><Status>INSYNC</Status>"
    info += b"<SubmittedAt>2026-11-28T00:00:00Z</SubmittedAt></ChangeInfo>"
    changed = b'<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' + info
    changed += b"</ChangeResourceRecordSetsResponse>"
    world_.patch(Call("us-east-1", "route53", "ChangeResourceRecordSets", "rest-xml", "AK"), changed)
    get = Call("us-east-1", "route53", "GetChange", "rest-xml", "AK")
    answer = (
        b'<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' + info + b"</GetChangeResponse>"
    )
    assert parsed("route53", "GetChange", world_.patch(get, answer))["ChangeInfo"]["Status"] == "PENDING"
    clock.now += 1  # 60 s / 60
    assert parsed("route53", "GetChange", world_.patch(get, answer))["ChangeInfo"]["Status"] == "INSYNC"


def test_at_scale_zero_every_change_is_instant_and_a_negative_scale_is_refused() -> None:
    world_ = SlowWorld(Clock())
    form = f"GlobalClusterIdentifier={GLOBAL}&TargetDbClusterIdentifier={TARGET}".encode()
    assert world_.intercept(rds_call("SwitchoverGlobalCluster"), {}, form, "/") is None
    assert world_.patch(rds_call("DescribeGlobalClusters"), global_clusters_xml(SOURCE)) == global_clusters_xml(SOURCE)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"time scale: must be a finite number, 0 \(instant\) or more, got "):
            world_.configure(bad, TIMINGS)


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (b"Content-Length: twelve\r\n", b""),
        (b"Content-Length: -5\r\n", b""),
        (b"Transfer-Encoding: chunked\r\n", b"zz\r\n"),
    ],
)
def test_a_malformed_request_is_answered_400_and_the_proxy_goes_on(
    proxy: OutageProxy, head: bytes, body: bytes
) -> None:
    status = _raw_request(proxy, b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + body)
    assert status.startswith(b"HTTP/1.1 400"), status
    assert through(proxy, "sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_half_sent_request_does_not_hold_its_thread(proxy: OutageProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that stops coming: the connection times out and is answered, instead of a thread waiting forever."""
    monkeypatch.setattr(_Handler, "timeout", 0.5)
    status = _raw_request(proxy, b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"half', wait=10)
    assert status.startswith(b"HTTP/1.1 400"), status
    assert through(proxy, "sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200


def _raw_request(proxy: OutageProxy, data: bytes, wait: float = 5.0) -> bytes:
    """What the proxy answers to ``data`` sent as it is, over one socket (its status line; b"" when it closed)."""
    host, port = proxy.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=wait) as sock:
        sock.sendall(data)
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_the_timings_come_from_the_one_file_of_assumptions() -> None:
    world_ = SlowWorld(Clock())
    world_.configure(60)
    doc = json.loads(TIMINGS_FILE.read_text())
    assert world_.seconds("aurora_switchover_s") == doc["aurora_switchover_s"]["value"] / 60


def test_an_endpoint_update_through_the_proxy_lands_when_its_time_is_up(proxy: OutageProxy) -> None:
    control(proxy, "time", {"scale": 60, "timings": TIMINGS | {"sagemaker_weights_s": 12.0}})  # 0.2 s
    sm = through(proxy, "sagemaker", "us-west-2")
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer={"Image": "i"})
    variants = [
        {
            "VariantName": "ranker",
            "ModelName": "m",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1.0,
        }
    ]
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=variants)
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    sm.update_endpoint_weights_and_capacities(
        EndpointName="e", DesiredWeightsAndCapacities=[{"VariantName": "ranker", "DesiredWeight": 0.5}]
    )
    during = sm.describe_endpoint(EndpointName="e")
    assert (during["EndpointStatus"], during["ProductionVariants"][0]["CurrentWeight"]) == ("Updating", 1.0)
    deadline = time.monotonic() + 5
    while sm.describe_endpoint(EndpointName="e")["EndpointStatus"] == "Updating" and time.monotonic() < deadline:
        time.sleep(0.05)
    after = sm.describe_endpoint(EndpointName="e")
    assert (after["EndpointStatus"], after["ProductionVariants"][0]["CurrentWeight"]) == ("InService", 0.5)
    control(proxy, "time", {"scale": 0})


@pytest.mark.parametrize(("now", "desired", "seconds"), [(1, 4, 8.0), (4, 1, 2.0), (4, 4, 2.0)])
def test_adding_instances_takes_a_scale_up_and_removing_them_a_drain(now: int, desired: int, seconds: float) -> None:
    clock = Clock()
    world_ = slow(clock)
    world_.configure(60, TIMINGS | {"sagemaker_scale_down_s": 120.0})
    asked: list[tuple[str, str]] = []
    world_.current_counts = lambda region, name: asked.append((region, name)) or {"ranker": now}  # type: ignore[func-returns-value]
    update = Call("us-east-1", "sagemaker", "UpdateEndpointWeightsAndCapacities", "json", "AK")
    doc = {
        "EndpointName": "e",
        "DesiredWeightsAndCapacities": [{"VariantName": "ranker", "DesiredInstanceCount": desired}],
    }
    world_.intercept(update, {}, json.dumps(doc).encode(), "/")
    assert world_.operations[("sagemaker", "us-east-1/e")].ends == clock.now + seconds
    assert asked == [("us-east-1", "e")]
    (logged,) = world_.scaled  # the drill's clock multiplies this wait back, and only it
    assert (logged["kind"], logged["key"], logged["seconds"]) == ("sagemaker", "us-east-1/e", seconds)
    assert logged["timing"] == ("sagemaker_scale_up_s" if desired > now else "sagemaker_scale_down_s")


def test_a_function_its_role_does_not_allow_is_denied_and_nothing_reaches_the_emulator(proxy: OutageProxy) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"}]}
    principal = "arn:aws:sts::123456789012:assumed-role/DetectRole/detect-fn"
    control(proxy, "iam", {"functions": {"detect-fn": {"principal": principal, "policies": [policy]}}})
    control(proxy, "callers", {"detect-fn": "Detect"})
    detect = as_function(proxy, "detect-fn", "dynamodb", "us-east-1")
    assert detect.list_tables()["TableNames"] == []
    with pytest.raises(ClientError) as info:
        create_table(detect, "PAY_PER_REQUEST")
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: dynamodb:CreateTable on resource" in info.value.response["Error"]["Message"]
    assert through(proxy, "dynamodb").list_tables()["TableNames"] == [], "the denied call never reached the emulator"
    report = control(proxy, "report")
    assert report["iam"] == {
        "functions": 1,
        "evaluated": 2,
        "denials": [
            {
                "function": "Detect",
                "action": "dynamodb:CreateTable",
                "resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t",
                "reason": "ImplicitDeny",
            }
        ],
    }
    assert {(c["function"], c["action"], c["outcome"]) for c in report["calls"]} == {
        ("Detect", "ListTables", "ok"),
        ("Detect", "CreateTable", "denied"),
        ("drill", "ListTables", "ok"),
    }


# The account's Lambda concurrency: Lambda keeps 100 unreserved (or the whole quota when it is smaller).


def test_a_reservation_that_would_leave_fewer_than_100_unreserved_is_refused_as_lambda_refuses_it(
    proxy: OutageProxy,
) -> None:
    control(proxy, "account", {"concurrent_executions": 120})
    lam = through(proxy, "lambda", "us-west-2")
    limit = lam.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (120, 120)
    with pytest.raises(ClientError) as info:
        lam.put_function_concurrency(FunctionName="failover-detect", ReservedConcurrentExecutions=21)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in str(info.value)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 120, "nothing reserved"
    control(proxy, "account", {"concurrent_executions": 10})  # a new account's quota: nothing can be reserved
    with pytest.raises(ClientError, match=r"minimum value of \[10\]"):
        lam.put_function_concurrency(FunctionName="failover-detect", ReservedConcurrentExecutions=1)


def test_check_account_names_the_quota_before_a_deploy_would_be_refused(
    proxy: OutageProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", "check-account", str(SAMPLE_PLAN), "--region", "us-west-2", "--endpoint-url", proxy.url]
    control(proxy, "account", {"concurrent_executions": 1000})
    assert main(argv) == 0
    assert "the stack reserves 27 (11 functions x 2 + Detect 5), 973 would stay unreserved" in capsys.readouterr().out
    control(proxy, "account", {"concurrent_executions": 120})
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "the stack reserves 27 concurrent executions and Lambda keeps at least 100 of the account's 120" in err


# Application Auto Scaling: the registration validates the caller's permissions on the endpoint, then moves the
# variant's capacity into the new range itself (RegisterScalableTarget's API reference).


def _endpoint_through(proxy: OutageProxy) -> Any:
    sm = through(proxy, "sagemaker", "us-west-2")
    sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer={"Image": "i"})
    variant = {"VariantName": "ranker", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName="e-config", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName="e", EndpointConfigName="e-config")
    return sm


@pytest.mark.parametrize("granted", [True, False])
def test_registering_a_variant_needs_the_endpoint_permissions_and_moves_its_capacity_into_the_range(
    proxy: OutageProxy, granted: bool
) -> None:
    sm = _endpoint_through(proxy)
    actions = ["application-autoscaling:RegisterScalableTarget", "sagemaker:DescribeEndpoint"]
    actions += ["sagemaker:UpdateEndpointWeightsAndCapacities"] + (
        ["sagemaker:DescribeEndpointConfig"] if granted else []
    )
    policy = {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    principal = "arn:aws:sts::123456789012:assumed-role/ShiftRole/shift-fn"
    control(proxy, "iam", {"functions": {"shift-fn": {"principal": principal, "policies": [policy]}}})
    aas = as_function(proxy, "shift-fn", "application-autoscaling", "us-west-2")
    register = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/e/variant/ranker",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 3,
        "MaxCapacity": 4,
    }
    if not granted:
        with pytest.raises(ClientError) as info:
            aas.register_scalable_target(**register)
        assert "sagemaker:DescribeEndpointConfig on resource" in str(info.value)
        assert "endpoint-config/e-config" in str(info.value)
        assert (
            through(proxy, "application-autoscaling", "us-west-2").describe_scalable_targets(
                ServiceNamespace="sagemaker"
            )["ScalableTargets"]
            == []
        ), "nothing registered"
        return
    aas.register_scalable_target(**register)
    variant = sm.describe_endpoint(EndpointName="e")["ProductionVariants"][0]
    assert variant["CurrentInstanceCount"] == 3, "Application Auto Scaling moved it into the range itself"
    assert control(proxy, "report")["autoscaling"] == [{"endpoint": "e", "variant": "ranker", "from": 1, "to": 3}]


# botocore validates only required members, types and minimums: AWS checks every constraint of the model.


def test_a_request_that_breaks_its_models_constraints_is_refused_in_the_services_own_shape(proxy: OutageProxy) -> None:
    ddb = through(proxy, "dynamodb", "us-west-2")
    with pytest.raises(ClientError) as enum:
        create_table(ddb, "FAST")
    assert enum.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "Value 'FAST' at 'createTableInput.billingMode' failed to satisfy constraint: Member must satisfy enum"
        in (enum.value.response["Error"]["Message"])
    )
    assert ddb.list_tables()["TableNames"] == [], "nothing reached the emulator"
    sm = through(proxy, "sagemaker", "us-west-2")
    with pytest.raises(ClientError, match="Member must have length less than or equal to 63") as length:
        sm.describe_endpoint(EndpointName="e" * 64)
    assert length.value.response["Error"]["Code"] == "ValidationException"
    rds = through(proxy, "rds", "us-west-2")
    with pytest.raises(ClientError, match="Member must satisfy regular expression pattern") as pattern:
        rds.describe_global_clusters(GlobalClusterIdentifier="123")  # no letter at all
    assert pattern.value.response["Error"]["Code"] == "ValidationError", "the query protocol's name for it"
    route53 = through(proxy, "route53")
    change = {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": "api.example.com.",
            "Type": "A",
            "SetIdentifier": "x" * 129,
            "Weight": 1,
            "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.1"}],
        },
    }
    with pytest.raises(ClientError, match="Member must have length less than or equal to 128") as xml:
        route53.change_resource_record_sets(HostedZoneId="Z1", ChangeBatch={"Changes": [change]})
    assert xml.value.response["Error"]["Code"] == "InvalidInput"
    outcomes = {(c["service"], c["outcome"]) for c in control(proxy, "report")["calls"]}
    assert ("dynamodb", "invalid") in outcomes
    assert ("route53", "invalid") in outcomes


# Aurora while a region is dark, where AWS documents nothing: the world offers each reading; and after a failover
# with data loss, the old primary is pending-resync until it has resynced, once its region is back.


def _sync_statuses(world_: SlowWorld, writer: str) -> dict[str, str | None]:
    (gc,) = parsed(
        "rds", "DescribeGlobalClusters", world_.patch(rds_call("DescribeGlobalClusters"), global_clusters_xml(writer))
    )["GlobalClusters"]
    return {m["DBClusterArn"].rsplit(":", 1)[-1]: m.get("SynchronizationStatus") for m in gc["GlobalClusterMembers"]}


@pytest.mark.parametrize(("reading", "secondary"), [("as-before", None), ("degraded", "pending-resync")])
def test_a_secondary_whose_writer_is_dark_reads_as_the_scenario_chooses(reading: str, secondary: str | None) -> None:
    world_ = SlowWorld(Clock())
    world_.configure(60.0, TIMINGS, aurora_reading=reading)
    world_.dark = lambda: ["us-east-1"]
    assert _sync_statuses(world_, SOURCE) == {
        "recsys-metadata-use1": None,
        "recsys-metadata-usw2": secondary,
    }
    world_.dark = list
    assert _sync_statuses(world_, SOURCE)["recsys-metadata-usw2"] is None, "the region is back"


def test_after_a_failover_with_data_loss_the_old_primary_resyncs_once_its_region_is_back() -> None:
    clock = Clock()
    world_ = SlowWorld(clock)
    world_.configure(60.0, TIMINGS)
    world_.members_of = lambda region, identifier: {SOURCE: True, TARGET: False}
    dark = ["us-east-1"]
    world_.dark = lambda: dark
    form = f"Action=FailoverGlobalCluster&GlobalClusterIdentifier={GLOBAL}&TargetDbClusterIdentifier={TARGET}"
    world_.intercept(rds_call("FailoverGlobalCluster"), {}, (form + "&AllowDataLoss=true").encode(), "/")
    clock.now += 1  # the failover's 60 s / 60
    (op,) = world_.due()
    world_.finish(op)  # the emulator moved the writer
    old = "recsys-metadata-use1"
    assert _sync_statuses(world_, TARGET)[old] == "pending-resync"
    clock.now += 100
    assert _sync_statuses(world_, TARGET)[old] == "pending-resync", "its region is still dark: no resync yet"
    dark.clear()
    assert _sync_statuses(world_, TARGET)[old] == "pending-resync", "back: the resync starts"
    clock.now += 14.9  # aurora_resync_s 900 / 60
    assert _sync_statuses(world_, TARGET)[old] == "pending-resync"
    clock.now += 0.2
    assert _sync_statuses(world_, TARGET)[old] is None, "resynced: as the emulator says (connected)"
