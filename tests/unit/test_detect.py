"""Detect's decisions, each checked against the world afterwards: how many executions were started."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from failover_controller.aws import call
from failover_controller.clients import PEER_BUDGET_SECONDS, PEER_CONFIG, ClientFactory
from failover_controller.config import DetectConfig
from failover_controller.detect import (
    MAX_EVENT_AGE_S,
    MAX_EVENT_BYTES,
    READ_LAG_S,
    Decision,
    EventInvalid,
    decide,
    execution_name,
    first_alarm_at,
    parse_alarm_event,
)
from failover_controller.errors import InputInvalid, TransientAwsError
from failover_controller.handler import DEAD_LETTER_EVENT_CHARS
from failover_controller.ledger import Ledger
from failoverctl.drill import world
from functions.detect.app import lambda_handler
from tests.support.detect_world import TABLE, DetectWorld, alarm_event
from tests.support.events import ROOT, load_event
from tests.support.lambda_context import FakeContext
from tests.support.moto_atomic import atomic_dynamodb_writes
from tests.support.silent_region import silent_endpoint

TEMPLATE = ROOT / "template.yaml"


@pytest.fixture
def dw(plan_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[DetectWorld]:
    atomic_dynamodb_writes(monkeypatch)
    with mock_aws():
        yield DetectWorld(plan_doc)


def test_quorum_in_alarm_starts_exactly_one_execution(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-health-check-use1")
    # The event arrives after both alarms changed state, whatever the day and time the test runs at.
    event_time = (datetime.now(UTC) + timedelta(seconds=30)).replace(microsecond=0)
    decision = dw.decide(alarm_event(time=event_time.isoformat().replace("+00:00", "Z")))
    assert decision.outcome == "started", decision.reason
    assert decision.in_alarm == ["recsys-api-canary-use1", "recsys-health-check-use1"]
    executions = dw.executions()
    assert [e["name"] for e in executions] == [decision.execution_name]
    started = json.loads(dw.sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert started["target_region"] == "us-west-2"
    assert started["mode"] == "ungraceful"
    assert started["trigger"]["alarm"] == "recsys-api-canary-use1"
    # The recovery clock starts at the earliest alarm of the quorum: here the two set to ALARM just now, not the
    # sample event's later timestamp.
    health = boto3.client("cloudwatch", region_name="us-east-1").describe_alarms(
        AlarmNames=["recsys-health-check-use1"]
    )["MetricAlarms"][0]["StateUpdatedTimestamp"]
    canary = boto3.client("cloudwatch", region_name="us-west-2").describe_alarms(AlarmNames=["recsys-api-canary-use1"])[
        "MetricAlarms"
    ][0]["StateUpdatedTimestamp"]
    assert started["trigger"]["first_alarm_at"] == min(health, canary).astimezone(UTC).isoformat()
    assert datetime.fromisoformat(started["trigger"]["first_alarm_at"]) < event_time
    lock = Ledger(TABLE, "us-west-2", dw.factory).get("recsys", "LOCK")
    assert lock is not None
    assert lock["owner"] == decision.execution_name


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_transitions_out_of_alarm_start_nothing(dw: DetectWorld, state: str) -> None:
    decision = dw.decide(alarm_event(state=state))
    assert decision == Decision(
        "ignored", f"recsys-api-canary-use1 went to {state}, not ALARM", "recsys-api-canary-use1"
    )
    assert dw.executions() == []


def test_an_alarm_no_plan_names_starts_nothing(dw: DetectWorld) -> None:
    decision = dw.decide(alarm_event("billing-alarm"))
    assert decision == Decision("ignored", "no plan names alarm billing-alarm in us-west-2", "billing-alarm")
    assert dw.executions() == []


def test_the_same_name_in_another_region_is_not_the_plans_alarm(dw: DetectWorld) -> None:
    decision = dw.decide(alarm_event(region="eu-west-1"))
    assert decision.reason == "no plan names alarm recsys-api-canary-use1 in eu-west-1"


def test_a_forwarded_alarm_is_the_alarm_of_the_region_its_arn_names(dw: DetectWorld) -> None:
    """The primary's stack forwards its region's alarms to the standby's bus: the alarm's region is read from its ARN
    (the event's resources), whichever region's bus delivered the event."""
    dw.set_alarm("recsys-health-check-use1")
    event = alarm_event("recsys-health-check-use1", region="us-west-2")
    event["resources"] = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:recsys-health-check-use1"]
    decision = dw.decide(event)
    assert decision.plan == "recsys", decision.reason
    assert decision.reason.startswith("quorum not met: 1 of 3 in ALARM")


def test_one_signal_of_three_is_not_a_quorum(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    decision = dw.decide(alarm_event())
    assert decision.outcome == "ignored"
    assert decision.reason.startswith("quorum not met: 1 of 3 in ALARM, 2 needed")
    assert dw.executions() == []


def test_cooldown_after_the_last_run(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    Ledger(TABLE, "us-west-2", dw.factory).put(
        "recsys",
        "LAST_RUN",
        {"execution": "recsys-earlier", "outcome": "failed", "finished_at": int(time.time()) - 600},
    )
    decision = dw.decide(alarm_event())
    assert decision.reason.startswith("cooldown: the last run recsys-earlier (failed) finished 6")
    assert dw.executions() == []
    later = dw.decide(alarm_event(at=time.time() + 3600), now=time.time() + 3600)
    assert later.outcome == "started"


def test_a_held_lock_starts_nothing(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    assert Ledger(TABLE, "us-west-2", dw.factory).acquire_lock("recsys", "recsys-manual-run", 3600).acquired
    decision = dw.decide(alarm_event())
    assert decision.reason == "single-flight: run recsys-manual-run holds the lock"
    assert dw.executions() == []


def test_an_expired_lock_does_not_block_forever(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    ledger = Ledger(TABLE, "us-west-2", dw.factory)
    assert ledger.acquire_lock("recsys", "recsys-dead-controller", 60, now=time.time() - 3600).acquired
    assert dw.decide(alarm_event()).outcome == "started"


def test_writes_already_here_start_nothing(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    boto3.client("ssm", region_name="us-west-2").put_parameter(
        Name=dw.plan.write_region_parameter, Value="us-west-2", Type="String", Overwrite=True
    )
    assert dw.decide(alarm_event()).reason == "writes already go to us-west-2: nothing to fail over"
    assert dw.executions() == []


def test_the_primary_regions_controller_does_not_fail_over_by_itself(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    dw.config = DetectConfig(**{**dw.config.__dict__, "region": "us-east-1"})
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"{world.PLAN_PREFIX}/recsys", Value=json.dumps(dw.plan.document), Type="String"
    )
    decision = dw.decide(alarm_event())
    assert decision == Decision(
        "ignored",
        "this controller runs in us-east-1, not in the plan's standby us-west-2: automatic runs fail into the standby; "
        "fail back by hand",
        "recsys-api-canary-use1",
        plan="recsys",
    )
    assert dw.executions() == []


def test_a_storm_of_the_same_event_starts_one_execution(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    event = alarm_event()
    decisions = [dw.decide(event) for _ in range(20)]
    assert next(d.outcome for d in decisions) == "started"
    (execution,) = dw.executions()
    assert {d.execution_name for d in decisions} == {execution["name"]}, "every redelivery names the one run"


def test_concurrent_alarms_of_one_plan_start_one_execution(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-inference-canary-use1")
    dw.set_alarm("recsys-api-canary-use1")
    events = [alarm_event(id=f"event-{i}") for i in range(16)]
    events += [alarm_event("recsys-inference-canary-use1", id=f"other-{i}") for i in range(16)]
    decisions: list[Any] = []
    threads = [threading.Thread(target=lambda e=e: decisions.append(dw.decide(e))) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(decisions) == 32
    assert [d.outcome for d in decisions].count("started") == 1
    assert len(dw.executions()) == 1


def test_a_failed_start_releases_the_lock(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    dw.config = DetectConfig(
        **{**dw.config.__dict__, "state_machine_arn": "arn:aws:states:us-west-2:123456789012:stateMachine:gone"}
    )
    with pytest.raises(Exception, match=r"^StartExecution: "):
        dw.decide(alarm_event())
    assert Ledger(TABLE, "us-west-2", dw.factory).get("recsys", "LOCK") is None


REQUIRED = "is required and must be a non-empty string"


@pytest.mark.parametrize(
    ("mutate", "problems"),
    [
        (lambda e: e["detail"].pop("alarmName"), [f"detail.alarmName: {REQUIRED}"]),
        (lambda e: e.pop("detail"), ["detail: is required and must be an object"]),
        (
            lambda e: e["detail"]["state"].update(value="PANIC"),
            ["detail.state.value: must be one of ALARM, OK, INSUFFICIENT_DATA, got 'PANIC'"],
        ),
        (
            lambda e: e.update({"detail-type": "EC2 Instance State-change"}),
            ["detail-type: must be 'CloudWatch Alarm State Change', got 'EC2 Instance State-change'"],
        ),
        (lambda e: e.pop("detail-type"), ["detail-type: must be 'CloudWatch Alarm State Change', got None"]),
        (lambda e: e.pop("id"), [f"id: {REQUIRED}"]),
        (lambda e: e.update(region="moon-1"), ["region: 'moon-1' is not an AWS region"]),
        (lambda e: e["detail"].update(state="ALARM"), ["detail.state: is required and must be an object"]),
        (lambda e: (e.pop("id"), e.pop("detail")), [f"id: {REQUIRED}", "detail: is required and must be an object"]),
    ],
)
def test_malformed_events_are_refused_naming_every_problem(dw: DetectWorld, mutate: Any, problems: list[str]) -> None:
    event = alarm_event()
    mutate(event)
    with pytest.raises(InputInvalid) as info:
        dw.decide(event)
    assert info.value.problems == problems
    assert info.value.message == "alarm event is invalid: " + "; ".join(problems)
    assert dw.executions() == []


@pytest.mark.parametrize(("event", "kind"), [(["not", "an", "event"], "list"), ("ALARM", "str"), (None, "NoneType")])
def test_non_object_events_are_refused(event: Any, kind: str) -> None:
    with pytest.raises(InputInvalid) as info:
        parse_alarm_event(event)
    assert info.value.message == f"alarm event is invalid: (input): must be a JSON object, got {kind}"


def test_an_event_of_eventbridges_largest_size_is_read_and_a_larger_one_refused() -> None:
    event = alarm_event()
    event["detail"]["configuration"] = {"description": ""}
    event["detail"]["configuration"]["description"] = "x" * (MAX_EVENT_BYTES - len(json.dumps(event)))
    assert len(json.dumps(event)) == MAX_EVENT_BYTES
    assert parse_alarm_event(event).alarm_name == "recsys-api-canary-use1"
    event["detail"]["configuration"]["description"] += "x"
    with pytest.raises(InputInvalid) as info:
        parse_alarm_event(event)
    assert info.value.message == f"alarm event is invalid: is larger than {MAX_EVENT_BYTES} bytes"


def test_an_alarm_change_carries_what_the_decision_reads() -> None:
    event = load_event("detect_alarm", detail={**load_event("detect_alarm")["detail"], "state": {"value": "OK"}})
    change = parse_alarm_event(event)
    assert (change.event_id, change.region, change.time, change.alarm_name, change.state, change.changed_at) == (
        event["id"],
        "us-west-2",
        event["time"],
        "recsys-api-canary-use1",
        "OK",
        event["time"],
    ), "without the transition's own time, the event's"
    assert parse_alarm_event(load_event("detect_alarm")).changed_at == "2026-11-28T03:04:05.123+0000"


def test_execution_names_are_deterministic_and_valid() -> None:
    change = parse_alarm_event(load_event("detect_alarm"))
    assert execution_name("recsys", change) == execution_name("recsys", change)
    name = execution_name("recsys", change)
    assert re.fullmatch(r"recsys-20261128T030405Z-[0-9a-f]{10}", name)
    assert len(execution_name("x" * 63, change)) <= 80
    other = parse_alarm_event(load_event("detect_alarm", id="another-event"))
    assert execution_name("recsys", other) != name, "another event, another run"
    offset = parse_alarm_event(load_event("detect_alarm", time="2026-11-28T05:04:05+02:00"))
    assert execution_name("recsys", offset).startswith("recsys-20261128T030405Z-"), "named in UTC"


def test_every_problem_of_an_alarm_detail_is_named_exactly() -> None:
    event = load_event("detect_alarm")
    event["detail"] = {"alarmName": "", "state": {"value": "PANIC", "timestamp": 5}, "previousState": "OK"}
    with pytest.raises(InputInvalid) as e:
        parse_alarm_event(event)
    assert e.value.problems == [
        "detail.alarmName: is required and must be a non-empty string",
        "detail.state.value: must be one of ALARM, OK, INSUFFICIENT_DATA, got 'PANIC'",
        "detail.previousState: must be an object",
        "detail.state.timestamp: must be an ISO 8601 timestamp with a zone, like 2026-11-28T03:04:05Z, got 5",
    ]
    event["detail"] = {"alarmName": "a", "state": "ALARM"}
    with pytest.raises(InputInvalid) as e:
        parse_alarm_event(event)
    assert e.value.problems == ["detail.state: is required and must be an object"]


def test_the_handler_returns_its_decision(dw: DetectWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    dw.as_deployed(monkeypatch)
    dw.set_alarm("recsys-api-canary-use1")
    result = lambda_handler(alarm_event(), FakeContext())
    assert result["outcome"] == "ignored"
    assert result["reason"].startswith("quorum not met")


def test_a_storm_of_200_identical_events_delivered_concurrently_starts_exactly_one(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    dw.config = DetectConfig(**{**dw.config.__dict__, "plan_cache_seconds": 300})
    event = alarm_event()
    with ThreadPoolExecutor(max_workers=32) as pool:
        decisions = list(pool.map(lambda _: dw.decide(event), range(200)))
    assert len(decisions) == 200
    executions = dw.executions()
    assert len(executions) == 1
    started = {d.execution_name for d in decisions if d.outcome == "started"}
    assert started == {executions[0]["name"]}, "redeliveries of the one event all name the one execution"


def test_every_signal_of_a_plan_firing_at_once_starts_one(dw: DetectWorld) -> None:
    for name in ("recsys-api-canary-use1", "recsys-inference-canary-use1", "recsys-health-check-use1"):
        dw.set_alarm(name)
    events = [
        alarm_event(name, id=f"{name}-{i}")
        for i in range(20)
        for name in ("recsys-api-canary-use1", "recsys-inference-canary-use1", "recsys-health-check-use1")
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        decisions = list(pool.map(dw.decide, events))
    assert [d.outcome for d in decisions].count("started") == 1
    assert len(dw.executions()) == 1


def test_a_flapping_alarm_within_the_cooldown_starts_none(dw: DetectWorld) -> None:
    Ledger(TABLE, "us-west-2", dw.factory).put(
        "recsys",
        "LAST_RUN",
        {"execution": "recsys-earlier", "outcome": "succeeded", "finished_at": int(time.time()) - 60},
    )
    dw.set_alarm("recsys-inference-canary-use1")
    outcomes = []
    for i in range(25):
        for state in ("ALARM", "OK"):
            outcomes.append(dw.decide(alarm_event(state=state, id=f"flap-{i}-{state}")).outcome)
    assert set(outcomes) == {"ignored"}
    assert dw.executions() == []


def test_a_storm_costs_one_aws_call_per_event_once_a_run_holds_the_lock(dw: DetectWorld) -> None:
    dw.config = DetectConfig(**{**dw.config.__dict__, "plan_cache_seconds": 300})  # as deployed: plans cached
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    assert dw.decide(alarm_event(id="first")).outcome == "started"
    calls: list[str] = []
    for client in list(dw.factory._clients.values()):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    decision = dw.decide(alarm_event(id="second"))
    assert decision.reason.startswith("single-flight")
    assert calls == ["BatchGetItem"]


# A region that answers slowly: short timeouts, few attempts and one budget for the peer region.
FAST_PEER = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=0.5, read_timeout=0.5)


def test_a_silent_peer_region_is_not_waited_for_when_the_home_regions_signals_make_the_quorum(
    dw: DetectWorld,
) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    with silent_endpoint() as us_east_1:
        factory = ClientFactory(endpoints={"cloudwatch@us-east-1": us_east_1.url}, peer_config=FAST_PEER)
        factory.begin("us-west-2")
        decision = decide(alarm_event(), dw.config, factory)
        attempts = len(us_east_1.connections)
    assert decision.outcome == "started", decision.reason
    assert decision.in_alarm == ["recsys-api-canary-use1", "recsys-inference-canary-use1"]
    assert attempts == 0, "the dark region is not asked: the quorum is made without it"
    assert [e["name"] for e in dw.executions()] == [decision.execution_name]


def test_a_silent_peer_costs_two_attempts_and_is_unknown_in_the_quorum_it_cannot_make(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    with silent_endpoint() as us_east_1:
        factory = ClientFactory(endpoints={"cloudwatch@us-east-1": us_east_1.url}, peer_config=FAST_PEER)
        factory.begin("us-west-2")
        decision = decide(alarm_event(), dw.config, factory)
        attempts = len(us_east_1.connections)
    assert decision.reason.startswith("quorum not met: 1 of 3 in ALARM, 2 needed")
    assert "recsys-health-check-use1=UNKNOWN" in decision.reason
    assert attempts == 2


def test_the_peer_budget_is_shared_by_every_call_of_an_invocation() -> None:
    with silent_endpoint() as peer:
        factory = ClientFactory(endpoints={"cloudwatch@us-east-1": peer.url}, peer_config=FAST_PEER)
        factory.peer_budget_seconds = 0.3  # shorter than one read timeout: the retry is already past it
        factory.begin("us-west-2")
        cw = factory.cloudwatch("us-east-1")
        for _ in range(3):
            with pytest.raises(TransientAwsError, match="no answer"):
                call("DescribeAlarms", cw.describe_alarms)
        assert len(peer.connections) == 1
        factory.begin("us-west-2")  # the next invocation starts a budget of its own
        with pytest.raises(TransientAwsError):
            call("DescribeAlarms", cw.describe_alarms)
        assert len(peer.connections) == 2


def test_the_peer_budget_is_one_for_every_service_of_an_invocation() -> None:
    """Not a budget per client: once CloudWatch in the peer region spent it, RDS there is not asked at all."""
    with silent_endpoint() as cloudwatch, silent_endpoint() as rds:
        endpoints = {"cloudwatch@us-east-1": cloudwatch.url, "rds@us-east-1": rds.url}
        factory = ClientFactory(endpoints=endpoints, peer_config=FAST_PEER)
        factory.peer_budget_seconds = 0.3
        factory.begin("us-west-2")
        with pytest.raises(TransientAwsError, match="no answer"):
            call("DescribeAlarms", factory.cloudwatch("us-east-1").describe_alarms)
        with pytest.raises(TransientAwsError, match="no answer"):
            call("DescribeGlobalClusters", factory.rds("us-east-1").describe_global_clusters)
        assert (len(cloudwatch.connections), len(rds.connections)) == (1, 0)


def test_the_peer_profile_fits_detects_timeout_with_room_for_its_own_region() -> None:
    """Worst case for the peer: its budget plus one attempt begun just before the budget ran out."""
    peer: Any = PEER_CONFIG
    retries = peer.retries or {}
    attempt = float(peer.connect_timeout) + float(peer.read_timeout)
    assert retries["total_max_attempts"] == 2
    detect_timeout = int(yaml_parse(TEMPLATE.read_text())["Globals"]["Function"]["Timeout"])
    assert PEER_BUDGET_SECONDS + attempt <= detect_timeout / 2


def test_the_recovery_clock_starts_when_the_alarm_changed_state_not_when_it_was_last_evaluated(
    dw: DetectWorld,
) -> None:
    dw.set_alarm("recsys-inference-canary-use1")
    went_to_alarm = boto3.client("cloudwatch", region_name="us-west-2").describe_alarms(
        AlarmNames=["recsys-inference-canary-use1"]
    )["MetricAlarms"][0]["StateUpdatedTimestamp"]
    time.sleep(0.01)  # moto stamps to the millisecond: the re-evaluation below is later, whatever the machine
    dw.set_alarm("recsys-inference-canary-use1")  # still ALARM: only StateUpdatedTimestamp moves
    dw.set_alarm("recsys-api-canary-use1")
    later = datetime.now(UTC) + timedelta(seconds=30)
    decision = dw.decide(alarm_event(time=later.isoformat()))
    assert decision.outcome == "started", decision.reason
    started = json.loads(dw.sfn.describe_execution(executionArn=decision.execution_arn)["input"])
    assert started["trigger"]["first_alarm_at"] == went_to_alarm.astimezone(UTC).isoformat()


def _direct_action_message(alarm: str) -> str:
    return (
        "alarm event is invalid: (input): this is the payload of a CloudWatch alarm action that invokes Lambda "
        f"directly (alarm {alarm}), not an EventBridge event: remove the alarm's Lambda action; the stack's "
        "EventBridge rule already delivers the plan's alarms to Detect (and the primary's stack forwards those of its "
        "region)"
    )


def test_a_direct_lambda_alarm_action_payload_is_refused_with_how_to_wire_it(dw: DetectWorld) -> None:
    with pytest.raises(InputInvalid) as info:
        dw.decide(load_event("detect_alarm_action"))
    assert info.value.message == _direct_action_message("recsys-api-canary-use1")
    assert dw.executions() == []


@pytest.mark.parametrize(("alarm_data", "named"), [("garbage", "?"), ({}, "?"), ({"alarmName": "a" * 300}, "a" * 255)])
def test_a_direct_action_payload_names_its_alarm_as_far_as_it_can(alarm_data: Any, named: str) -> None:
    with pytest.raises(InputInvalid) as info:
        parse_alarm_event({**load_event("detect_alarm_action"), "alarmData": alarm_data})
    assert info.value.message == _direct_action_message(named)


def test_an_eventbridge_event_with_an_extra_alarm_data_key_is_read_as_an_eventbridge_event() -> None:
    event = {**alarm_event(), "alarmData": {"alarmName": "other"}}
    assert parse_alarm_event(event).alarm_name == "recsys-api-canary-use1"


# What the plan says about automatic runs reaches the run Detect starts: its mode and its approval gate, and a lock
# long enough for the approval window as well as the runbook.


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
@pytest.mark.parametrize("approval", [True, False])
def test_the_started_run_carries_the_plans_mode_and_approval(
    plan_doc: dict[str, Any], mode: str, approval: bool
) -> None:
    plan_doc["signals"].update(mode=mode, require_approval=approval)
    plan_doc["objectives"]["rto_seconds"] = 600
    with mock_aws():
        dw = DetectWorld(plan_doc)
        dw.set_alarm("recsys-api-canary-use1")
        dw.set_alarm("recsys-inference-canary-use1")
        now = time.time()
        event = alarm_event()  # once: a second made again after a second boundary would read another time
        decision = dw.decide(event, now=now)
        (execution,) = dw.executions()
        started = json.loads(dw.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        lock = Ledger(TABLE, "us-west-2", dw.factory).get("recsys", "LOCK")
    assert decision.outcome == "started"
    assert {k: started[k] for k in ("plan", "target_region", "mode", "dry_run", "require_approval")} == {
        "plan": "recsys",
        "target_region": "us-west-2",
        "mode": mode,
        "dry_run": False,
        "require_approval": approval,
    }
    trigger = started["trigger"]
    assert {k: trigger[k] for k in ("type", "alarm", "alarm_region", "event_id", "time", "in_alarm")} == {
        "type": "alarm",
        "alarm": "recsys-api-canary-use1",
        "alarm_region": "us-west-2",
        "event_id": event["id"],
        "time": event["time"],
        "in_alarm": ["recsys-api-canary-use1", "recsys-inference-canary-use1"],
    }
    assert decision.reason == "quorum 2/2 in ALARM: failover to us-west-2 started"
    assert lock is not None
    assert lock["owner"] == decision.execution_name
    waits_for_a_person = 600 if approval else 0
    assert int(lock["expires_at"]) - int(now) == waits_for_a_person + 2 * 600


# Detect dying between taking the lock and starting the run: the event's redelivery finishes the job, another
# event waits for the lock, and nothing is ever started twice.


def test_a_detect_that_died_holding_the_lock_is_finished_by_the_redelivery(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    event = alarm_event(id="the-event")
    name = execution_name("recsys", parse_alarm_event(event))
    ledger = Ledger(TABLE, "us-west-2", dw.factory)
    assert ledger.acquire_lock("recsys", name, 3600).acquired  # ...and the Lambda timed out here
    other = dw.decide(alarm_event("recsys-inference-canary-use1", id="another-event"))
    assert other.reason == f"single-flight: run {name} holds the lock"
    assert dw.executions() == []
    redelivered = dw.decide(event)
    assert (redelivered.outcome, redelivered.execution_name) == ("started", name)
    assert [e["name"] for e in dw.executions()] == [name]
    assert dw.decide(event).execution_name == name
    assert len(dw.executions()) == 1


def test_alarms_with_insufficient_data_or_gone_do_not_make_a_quorum(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1", "INSUFFICIENT_DATA")
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(AlarmNames=["recsys-health-check-use1"])
    decision = dw.decide(alarm_event())
    assert decision.reason == (
        "quorum not met: 1 of 3 in ALARM, 2 needed (recsys-api-canary-use1=ALARM, "
        "recsys-health-check-use1=MISSING, recsys-inference-canary-use1=INSUFFICIENT_DATA); pre-warm: the "
        "standby's endpoints started toward active capacity, back after 1800 s unless a failover follows"
    )
    assert decision.in_alarm == ["recsys-api-canary-use1"]
    assert dw.executions() == []


def test_a_quorum_of_exactly_the_plans_number_starts(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"]["quorum"] = 3
    with mock_aws():
        dw = DetectWorld(plan_doc)
        for name in ("recsys-api-canary-use1", "recsys-inference-canary-use1"):
            dw.set_alarm(name)
        assert dw.decide(alarm_event(id="a")).reason.startswith("quorum not met: 2 of 3 in ALARM, 3 needed")
        dw.set_alarm("recsys-health-check-use1")
        assert dw.decide(alarm_event(id="b")).outcome == "started"


def test_the_cooldown_ends_exactly_when_the_plan_says(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    finished = 1_800_000_000
    Ledger(TABLE, "us-west-2", dw.factory).put(
        "recsys", "LAST_RUN", {"execution": "recsys-earlier", "outcome": "succeeded", "finished_at": finished}
    )
    cooling = dw.decide(alarm_event(id="a", at=finished + 3599), now=finished + 3599)
    assert cooling.reason == (
        "cooldown: the last run recsys-earlier (succeeded) finished 3599 s ago; the plan waits 3600 s"
    )
    assert dw.decide(alarm_event(id="b", at=finished + 3600), now=finished + 3600).outcome == "started"


def test_a_lock_expiring_now_still_holds(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    now = 1_800_000_000
    assert Ledger(TABLE, "us-west-2", dw.factory).acquire_lock("recsys", "recsys-other", 60, now=now - 60).acquired
    calls: list[str] = []
    for client in list(dw.factory._clients.values()):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    assert dw.decide(alarm_event(id="a", at=now), now=now).reason == "single-flight: run recsys-other holds the lock"
    assert calls == ["BatchGetItem"], "refused on the first read, before any alarm is read"
    assert dw.decide(alarm_event(id="b", at=now + 1), now=now + 1).outcome == "started"


def test_the_first_alarm_is_the_earliest_in_utc_whatever_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        stamps = ["2026-11-28T05:00:00+02:00", "not a time", "2026-11-28T03:30:00Z"]
        assert first_alarm_at(stamps, "default") == "2026-11-28T03:00:00+00:00"
        assert first_alarm_at(["garbage", ""], "default") == "default"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_detect_that_loses_the_race_for_the_lock_starts_nothing(dw: DetectWorld) -> None:
    """Another Detect takes the lock between this one's read of it and its own conditional write."""
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    rival = Ledger(TABLE, "us-west-2", ClientFactory())

    def rival_takes_it(**_: Any) -> None:
        rival.acquire_lock("recsys", "recsys-rival", 3600)

    dw.factory.dynamodb("us-west-2").meta.events.register("after-call.dynamodb.BatchGetItem", rival_takes_it)
    decision = dw.decide(alarm_event())
    assert (decision.outcome, decision.reason) == ("ignored", "single-flight: run recsys-rival holds the lock")
    assert dw.executions() == []


# Late, stale and malformed events. EventBridge retries a target for up to 24 h by default and Lambda's asynchronous
# invocation for up to 6 h: an event can arrive long after CloudWatch has moved on.


def test_a_late_event_for_an_alarm_that_has_since_gone_back_to_ok_starts_nothing(dw: DetectWorld) -> None:
    """One alarm really in ALARM, and a 10-minute-old event for a second one that went back to OK since: without the
    event the quorum of 2 is not met, and CloudWatch says the event is no longer true."""
    dw.set_alarm("recsys-inference-canary-use1")
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-api-canary-use1", "OK")
    decision = dw.decide(alarm_event(at=time.time() - 600))
    assert decision.outcome == "ignored"
    assert decision.reason.startswith("CloudWatch reads recsys-api-canary-use1 OK since ")
    assert decision.reason.endswith("a late or contradicted event starts nothing")
    assert dw.executions() == []


def test_a_late_event_of_the_peer_regions_alarm_is_checked_there(dw: DetectWorld) -> None:
    """The event's alarm lives in the primary region: a fresh event would be trusted without asking it (it may be
    dark); a late one is checked against CloudWatch there first."""
    dw.set_alarm("recsys-inference-canary-use1")
    late = alarm_event("recsys-health-check-use1", at=time.time() - 120)
    decision = dw.decide(late)
    assert decision.reason.startswith("CloudWatch reads recsys-health-check-use1 OK since "), decision.reason
    assert dw.executions() == []


def test_a_late_event_of_a_dark_regions_alarm_is_the_only_reading_and_counts(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-inference-canary-use1")
    with silent_endpoint() as us_east_1:
        factory = ClientFactory(endpoints={"cloudwatch@us-east-1": us_east_1.url}, peer_config=FAST_PEER)
        factory.begin("us-west-2")
        decision = decide(alarm_event("recsys-health-check-use1", at=time.time() - 120), dw.config, factory)
    assert decision.outcome == "started", decision.reason
    assert decision.in_alarm == ["recsys-health-check-use1", "recsys-inference-canary-use1"]


def test_an_event_cloudwatch_has_not_caught_up_with_counts_only_while_fresh(dw: DetectWorld) -> None:
    """DescribeAlarms promises no read-after-write: an event up to READ_LAG_S old counts over an older OK reading;
    past that, the reading stands (the event says ALARM at a time CloudWatch says it was OK)."""
    dw.set_alarm("recsys-inference-canary-use1")
    sent = float(int(time.time()) + 5)  # after the alarm's OK reading began; whole seconds, as the event says
    fresh = dw.decide(alarm_event(id="fresh", at=sent), now=sent + READ_LAG_S)
    assert fresh.outcome == "started", fresh.reason
    dw.sfn.stop_execution(executionArn=fresh.execution_arn)
    Ledger(TABLE, "us-west-2", dw.factory).release_lock("recsys", fresh.execution_name or "")
    stale = dw.decide(alarm_event(id="stale", at=sent), now=sent + READ_LAG_S + 1)
    assert stale.reason.startswith("CloudWatch reads recsys-api-canary-use1 OK since "), stale.reason


@pytest.mark.parametrize("age", [MAX_EVENT_AGE_S + 1, 6 * 3600, None])
def test_an_event_older_than_the_maximum_age_starts_nothing(dw: DetectWorld, age: float | None) -> None:
    """Even with the quorum in ALARM now: a run is decided on what CloudWatch says with a fresh event. (None: an
    event of 1970.)"""
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    now = float(int(time.time()))
    age = now if age is None else age
    decision = dw.decide(alarm_event(at=now - age), now=now)
    assert decision.outcome == "ignored"
    assert decision.reason.startswith(f"the event is {int(age)} s old")
    assert f"Detect acts on none older than {MAX_EVENT_AGE_S} s" in decision.reason
    assert dw.executions() == []
    assert dw.decide(alarm_event(at=now - MAX_EVENT_AGE_S), now=now).outcome == "started", "the limit itself is in"


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("yesterday at noon", "must be an ISO 8601 timestamp with a zone"),
        ("2026-13-45T99:99:99Z", "is not a valid time"),
        ("2026-11-28T03:04:05", "must be an ISO 8601 timestamp with a zone"),
        ("2026-11-28", "must be an ISO 8601 timestamp with a zone"),
        ("2026-11-28T03:04:05Z\n", "must be an ISO 8601 timestamp with a zone"),
        ("9999-12-31T23:59:59Z", "is in the future"),
        (1764299045, "must be an ISO 8601 timestamp with a zone"),
    ],
)
def test_a_malformed_or_future_time_is_refused_and_starts_nothing(dw: DetectWorld, when: Any, problem: str) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    dw.set_alarm("recsys-inference-canary-use1")
    event = alarm_event()
    event["time"] = when
    with pytest.raises(EventInvalid) as info:
        dw.decide(event)
    assert info.value.problems[0].startswith("time: ")
    assert problem in info.value.problems[0]
    assert dw.executions() == []


def test_a_transition_time_that_is_not_a_time_is_refused(dw: DetectWorld) -> None:
    event = alarm_event()
    event["detail"]["state"]["timestamp"] = "soon"
    with pytest.raises(EventInvalid, match=r"detail\.state\.timestamp: must be an ISO 8601 timestamp"):
        dw.decide(event)


def test_a_refused_event_goes_to_the_dead_letter_queue_at_once_with_its_reason(
    dw: DetectWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed event never becomes valid: Lambda's retries cannot help, so Detect sends it to its dead-letter
    queue itself and returns; nothing raised, nothing lost."""
    queue = dw.as_deployed(monkeypatch, dead_letter_queue=True) or ""
    sqs = boto3.client("sqs", region_name="us-west-2")
    event = alarm_event(time="2026-13-45T99:99:99Z")
    result = lambda_handler(event, FakeContext())
    assert result["outcome"] == "refused"
    assert result["reason"].startswith("alarm event is invalid: time: '2026-13-45T99:99:99Z' is not a valid time")
    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    body = json.loads(message["Body"])
    assert (body["refused"], body["event"]) == (result["reason"], event)
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "EventInvalid"
    assert dw.executions() == []


def test_without_a_dead_letter_queue_a_refused_event_is_raised(
    dw: DetectWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    dw.as_deployed(monkeypatch)
    with pytest.raises(EventInvalid, match="time: "):
        lambda_handler(alarm_event(time="yesterday"), FakeContext())


def test_detect_acts_on_no_event_older_than_aws_delivers_it() -> None:
    """The stack caps EventBridge's retries and Lambda's asynchronous ones at Detect's maximum age: older events go
    to the dead-letter queue instead of being dropped by the age check."""
    detect = yaml_parse(TEMPLATE.read_text())["Resources"]["DetectFunction"]["Properties"]
    assert detect["EventInvokeConfig"]["MaximumEventAgeInSeconds"] == MAX_EVENT_AGE_S
    rule = detect["Events"]["AlarmStateChange"]["Properties"]
    assert rule["RetryPolicy"]["MaximumEventAgeInSeconds"] == MAX_EVENT_AGE_S
    assert detect["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"] == {"Ref": "DetectDeadLetterQueue"}


def test_a_refused_event_too_large_for_a_message_is_kept_cut_short(
    dw: DetectWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS takes messages of up to 256 KiB: an event refused for its size goes to the queue cut short, not lost."""
    queue = dw.as_deployed(monkeypatch, dead_letter_queue=True) or ""
    sqs = boto3.client("sqs", region_name="us-west-2")
    event = alarm_event()
    event["detail"]["configuration"] = {"description": "x" * MAX_EVENT_BYTES}
    assert lambda_handler(event, FakeContext())["outcome"] == "refused"
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(message["Body"])
    assert "event" not in body
    assert len(body["event_truncated"]) == DEAD_LETTER_EVENT_CHARS
    assert body["event_truncated"].startswith('{"version": "0"')
