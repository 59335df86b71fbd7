"""Each action step failing at each stage, against the emulated world.

A crash is simulated where it hurts: the AWS call went through, then the Lambda died before reporting (a
botocore after-call hook raises). Re-running the step must see what was done and not do it again; the
calls are counted on the wire (before-call hooks), the world read back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from failover_controller.clients import ClientFactory
from failover_controller.errors import TransientAwsError
from failover_controller.plan import RecoveryPlan
from failover_controller.steps import flip_dns, promote_aurora, shift_sagemaker_traffic, switch_dynamodb_writes
from failoverctl.drill import world
from tests.support.requests import request

pytestmark = pytest.mark.emulator


class Crash(RuntimeError):
    """The Lambda died (timeout, out of memory) right after its AWS call returned."""


@contextlib.contextmanager
def wire(client: Any, operation: str, *, crash: str | None = None) -> Iterator[list[str]]:
    """Count ``operation`` calls on ``client``; with crash="before"/"after", die there once."""
    calls: list[str] = []
    armed = [crash]

    def before(**_: Any) -> None:
        calls.append(operation)
        if armed[0] == "before":
            armed[0] = None
            raise Crash(f"died before {operation}")

    def after(**_: Any) -> None:
        if armed[0] == "after":
            armed[0] = None
            raise Crash(f"died after {operation} returned")

    name = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-call.{name}.{operation}", before)
    client.meta.events.register(f"after-call.{name}.{operation}", after)
    try:
        yield calls
    finally:
        client.meta.events.unregister(f"before-call.{name}.{operation}", before)
        client.meta.events.unregister(f"after-call.{name}.{operation}", after)


def _ready_for_writes(app: RecoveryPlan, f: ClientFactory) -> None:
    promote_aurora.run(request(app, f, "promote"))


STEPS: dict[str, dict[str, Any]] = {
    "promote_aurora": {
        "client": lambda f: f.rds("us-west-2"),
        "operation": "SwitchoverGlobalCluster",
        "action": "promote",
        "run": promote_aurora.run,
        "setup": lambda app, f: None,
        "observe": lambda app, f: world.aurora_writer_region(app, f, "us-west-2"),
        "done": "us-west-2",
    },
    "switch_dynamodb_writes": {
        "client": lambda f: f.ssm("us-west-2"),
        "operation": "PutParameter",
        "action": "switch",
        "run": switch_dynamodb_writes.run,
        "setup": _ready_for_writes,
        "left": ["us-east-1"],
        "observe": lambda app, f: world.write_region(app, f, "us-west-2"),
        "done": "us-west-2",
    },
    "shift_sagemaker_traffic": {
        "client": lambda f: f.sagemaker("us-west-2"),
        "operation": "UpdateEndpointWeightsAndCapacities",
        "action": "scale_target",
        "run": shift_sagemaker_traffic.run,
        "setup": lambda app, f: None,
        "observe": lambda app, f: world.endpoint_config(app, f, "us-west-2")["ranker"][1],
        "done": 4,
    },
    "flip_dns": {
        "client": lambda f: f.route53("us-west-2"),
        "operation": "ChangeResourceRecordSets",
        "action": "flip",
        "run": flip_dns.run,
        "setup": _ready_for_writes,
        "observe": lambda app, f: world.dns_routing(app, f)["api.recsys.example.com."]["us-west-2"],
        "done": 100,
    },
}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_crash_after_acting_is_finished_by_the_rerun_without_acting_twice(
    step: str, app: RecoveryPlan, emulated: ClientFactory
) -> None:
    spec = STEPS[step]
    spec["setup"](app, emulated)
    client = spec["client"](emulated)
    with wire(client, spec["operation"], crash="after") as calls:
        with pytest.raises(Crash):
            spec["run"](request(app, emulated, spec["action"]))
        assert spec["observe"](app, emulated) == spec["done"], "the call went through before the crash"
        rerun = spec["run"](request(app, emulated, spec["action"]))
    assert calls == [spec["operation"]], f"{spec['operation']} was called {len(calls)} times in us-west-2"
    # The rerun does only what the crash left undone (graceful writes: the source region's copy).
    assert [a.region for a in rerun.actions] == spec.get("left", [])
    assert rerun.changed == bool(spec.get("left"))
    assert spec["observe"](app, emulated) == spec["done"]


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_crash_before_acting_changes_nothing_and_the_rerun_acts_once(
    step: str, app: RecoveryPlan, emulated: ClientFactory
) -> None:
    spec = STEPS[step]
    spec["setup"](app, emulated)
    before = spec["observe"](app, emulated)
    client = spec["client"](emulated)
    with wire(client, spec["operation"], crash="before") as calls:
        with pytest.raises(Crash):
            spec["run"](request(app, emulated, spec["action"]))
        assert spec["observe"](app, emulated) == before
        rerun = spec["run"](request(app, emulated, spec["action"]))
    assert rerun.changed
    assert calls == [spec["operation"], spec["operation"]]  # the first never reached AWS
    assert spec["observe"](app, emulated) == spec["done"]


@pytest.mark.parametrize(
    ("step", "operation", "client"),
    [
        ("promote_aurora", "DescribeGlobalClusters", lambda f: f.rds("us-west-2")),
        ("shift_sagemaker_traffic", "DescribeEndpoint", lambda f: f.sagemaker("us-west-2")),
    ],
)
def test_a_crash_while_polling_leaves_the_operation_alone_and_the_next_poll_reports_it(
    step: str, operation: str, client: Callable[[ClientFactory], Any], app: RecoveryPlan, emulated: ClientFactory
) -> None:
    spec = STEPS[step]
    spec["run"](request(app, emulated, spec["action"]))
    with wire(client(emulated), operation, crash="before"):
        with pytest.raises(Crash):
            spec["run"](request(app, emulated, "status"))
        assert spec["run"](request(app, emulated, "status")).done
    assert spec["observe"](app, emulated) == spec["done"]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def test_throttling_is_retried_by_the_sdk_and_the_step_succeeds(app: RecoveryPlan, emulated: ClientFactory) -> None:
    """Two throttled answers, then the real one: standard retry mode absorbs them inside the step."""
    promote_aurora.run(request(app, emulated, "promote"))
    ssm = emulated.ssm("us-west-2")
    left = [2]

    def throttle(**_: Any) -> AWSResponse | None:
        if not left[0]:
            return None
        left[0] -= 1
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return AWSResponse("https://ssm.us-west-2.amazonaws.com/", 400, HTTPHeaders(), _Body(body))

    hook: Any = throttle
    ssm.meta.events.register("before-send.ssm.PutParameter", hook)
    try:
        result = switch_dynamodb_writes.run(request(app, emulated, "switch"))
    finally:
        ssm.meta.events.unregister("before-send.ssm.PutParameter", hook)
    assert left == [0]
    assert result.changed
    assert world.write_region(app, emulated, "us-west-2") == "us-west-2"


def test_throttling_that_outlasts_the_retries_is_a_transient_error(app: RecoveryPlan, emulated: ClientFactory) -> None:
    """The state machine retries TransientAwsError with backoff; a permanent error is StepFailed, not retried."""
    rds = emulated.rds("us-west-2")

    def throttle(**_: Any) -> AWSResponse:
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
        )
        return AWSResponse("https://rds.us-west-2.amazonaws.com/", 400, HTTPHeaders(), _Body(body))

    hook: Any = throttle
    rds.meta.events.register("before-send.rds.DescribeDBClusters", hook)
    try:
        with pytest.raises(TransientAwsError, match="Throttling"):
            promote_aurora.run(request(app, emulated, "promote"))
    finally:
        rds.meta.events.unregister("before-send.rds.DescribeDBClusters", hook)
    assert world.aurora_writer_region(app, emulated, "us-west-2") == "us-east-1"
