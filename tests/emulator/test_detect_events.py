"""Detect on the emulated world: late, stale and malformed alarm events start nothing, whatever the moto tests show
(CloudWatch's alarm states and transition times as the drill's CloudWatch gives them)."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.config import DetectConfig
from failover_controller.detect import MAX_EVENT_AGE_S, EventInvalid, decide
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world
from functions.detect.app import lambda_handler
from tests.support.detect_world import alarm_event
from tests.support.lambda_context import FakeContext

pytestmark = pytest.mark.emulator

TABLE = "detect-ledger"


@pytest.fixture
def detect(app: RecoveryPlan, emulated: ClientFactory) -> DetectConfig:
    """The sample application with its alarms, a ledger and a state machine to start, in the standby region."""
    world.create_alarms(app, emulated)
    world.create_ledger_table(emulated, app.standby_region, TABLE)
    sfn = emulated.client("stepfunctions", app.standby_region)
    machine = sfn.create_state_machine(
        name="failover",
        roleArn="arn:aws:iam::000000000000:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    return DetectConfig(
        region=app.standby_region,
        plan_parameter_prefix=world.PLAN_PREFIX,
        plan_cache_seconds=0,
        ledger_table=TABLE,
        state_machine_arn=machine,
        plans=(app.application,),
    )


def set_alarm(
    app: RecoveryPlan, f: ClientFactory, name: str, state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = "ALARM"
) -> None:
    region = next(s.region for s in app.signals if s.name == name)
    f.cloudwatch(region).set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def executions(f: ClientFactory, config: DetectConfig) -> list[dict[str, Any]]:
    sfn = f.client("stepfunctions", config.region)
    return list(sfn.list_executions(stateMachineArn=config.state_machine_arn)["executions"])


def test_a_late_event_cloudwatch_has_since_contradicted_starts_nothing(
    app: RecoveryPlan, emulated: ClientFactory, detect: DetectConfig
) -> None:
    set_alarm(app, emulated, "recsys-inference-canary-use1")
    set_alarm(app, emulated, "recsys-api-canary-use1")
    set_alarm(app, emulated, "recsys-api-canary-use1", "OK")
    decision = decide(alarm_event(at=time.time() - 600), detect, emulated)
    assert decision.reason.startswith("CloudWatch reads recsys-api-canary-use1 OK since "), decision.reason
    assert executions(emulated, detect) == []
    set_alarm(app, emulated, "recsys-api-canary-use1")
    assert decide(alarm_event(), detect, emulated).outcome == "started", "the same alarms, told on time"


def test_an_event_older_than_the_maximum_age_starts_nothing(
    app: RecoveryPlan, emulated: ClientFactory, detect: DetectConfig
) -> None:
    set_alarm(app, emulated, "recsys-inference-canary-use1")
    set_alarm(app, emulated, "recsys-api-canary-use1")
    decision = decide(alarm_event(at=time.time() - 6 * 3600), detect, emulated)
    assert decision.reason.startswith("the event is 2160"), decision.reason
    assert f"none older than {MAX_EVENT_AGE_S} s" in decision.reason
    assert executions(emulated, detect) == []


def test_a_malformed_time_is_refused_to_the_dead_letter_queue(
    app: RecoveryPlan, emulated: ClientFactory, detect: DetectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_alarm(app, emulated, "recsys-inference-canary-use1")
    set_alarm(app, emulated, "recsys-api-canary-use1")
    with pytest.raises(EventInvalid, match="time: "):
        decide(alarm_event(time="2026-13-45T99:99:99Z"), detect, emulated)
    sqs = emulated.client("sqs", detect.region)
    queue = sqs.create_queue(QueueName="detect-dead-letters")["QueueUrl"]
    env = {
        "PLANS": app.application,
        "LEDGER_TABLE": TABLE,
        "STATE_MACHINE_ARN": detect.state_machine_arn,
        "PLAN_PARAMETER_PREFIX": world.PLAN_PREFIX,
        "DEAD_LETTER_QUEUE_URL": queue,
        "AWS_REGION": detect.region,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    answer = lambda_handler(alarm_event(time="yesterday at noon"), FakeContext())
    assert answer["outcome"] == "refused"
    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["event"]["time"] == "yesterday at noon"
    assert executions(emulated, detect) == []
