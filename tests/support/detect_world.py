"""Detect's world in moto: the sample plan, its alarms (with AWS's transition times), the ledger and a state
machine; shared by Detect's tests, the property tests and the benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
import pytest

from failover_controller.clients import ClientFactory
from failover_controller.config import DetectConfig
from failover_controller.detect import decide
from failover_controller.plan import parse_plan
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.events import load_event

TABLE = "ledger"


class DetectWorld:
    def __init__(self, plan_doc: dict[str, Any], aws_like_hooks: Callable[[boto3.Session], None] | None = None) -> None:
        """``aws_like_hooks``: registers tests/support/aws_like's hooks on the session before any client is built."""
        self.plan = parse_plan(plan_doc)
        for region in self.plan.regions:
            boto3.client("ssm", region_name=region).put_parameter(
                Name=self.plan.write_region_parameter, Value=self.plan.primary_region, Type="String"
            )
        boto3.client("ssm", region_name="us-west-2").put_parameter(
            Name=f"{world.PLAN_PREFIX}/recsys", Value=json.dumps(plan_doc), Type="String"
        )
        session = boto3.Session()
        if aws_like_hooks is not None:
            aws_like_hooks(session)
        aws_like.alarm_transition_timestamps(session)  # DescribeAlarms as AWS answers it
        aws_like.eventually_consistent_reads(session)
        self.factory = ClientFactory(session=session)
        world.create_alarms(self.plan, self.factory)
        world.create_sagemaker(self.plan, self.factory)  # what a pre-warm on suspicion scales
        world.create_ledger_table(self.factory, "us-west-2", TABLE)
        sfn = boto3.client("stepfunctions", region_name="us-west-2")
        role = "arn:aws:iam::123456789012:role/sfn"
        self.state_machine = sfn.create_state_machine(
            name="failover",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        self.sfn = sfn
        self.config = DetectConfig(
            region="us-west-2",
            plan_parameter_prefix=world.PLAN_PREFIX,
            plan_cache_seconds=0,
            ledger_table=TABLE,
            state_machine_arn=self.state_machine,
            plans=("recsys",),
        )

    def set_alarm(self, name: str, state: Literal["ALARM", "OK", "INSUFFICIENT_DATA"] = "ALARM") -> None:
        region = next(s.region for s in self.plan.signals if s.name == name)
        boto3.client("cloudwatch", region_name=region).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="test"
        )

    def as_deployed(self, monkeypatch: pytest.MonkeyPatch, *, dead_letter_queue: bool = False) -> str | None:
        """Detect's environment as the stack sets it, for its Lambda handler; with ``dead_letter_queue``, an SQS
        queue created for it, whose URL is returned."""
        queue = None
        if dead_letter_queue:
            queue = boto3.client("sqs", region_name="us-west-2").create_queue(QueueName="detect-dlq")["QueueUrl"]
            monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue)
        monkeypatch.setenv("PLANS", "recsys")
        monkeypatch.setenv("LEDGER_TABLE", TABLE)
        monkeypatch.setenv("STATE_MACHINE_ARN", self.state_machine)
        monkeypatch.setenv("PLAN_PARAMETER_PREFIX", world.PLAN_PREFIX)
        return queue

    def executions(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.sfn.list_executions(stateMachineArn=self.state_machine)["executions"]]

    def decide(self, event: dict[str, Any], now: float | None = None) -> Any:
        return decide(event, self.config, self.factory, now=now)


def stamp(at: datetime) -> str:
    """A time as EventBridge writes it."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def alarm_event(
    name: str = "recsys-api-canary-use1", state: str = "ALARM", at: float | None = None, **overrides: Any
) -> dict[str, Any]:
    """The sample event for ``name``, sent ``at`` (default: now), its time and its transition's: Detect acts on
    fresh events only."""
    event = load_event("detect_alarm")
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    sent = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    event["time"] = event["detail"]["state"]["timestamp"] = stamp(sent)
    event["region"] = "us-east-1" if name.endswith("health-check-use1") else "us-west-2"
    event.update(overrides)
    if "resources" not in overrides:  # CloudWatch names the alarm's ARN, in the alarm's region
        event["resources"] = [f"arn:aws:cloudwatch:{event['region']}:123456789012:alarm:{name}"]
    return event
