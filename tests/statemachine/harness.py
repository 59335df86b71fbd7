"""Run the real statemachines/failover.asl.json in moto's Step Functions interpreter.

Lambda tasks are answered in-process: the bookkeeping functions (ValidateInput, RequestApproval, Record)
by their real handlers against moto's SSM, DynamoDB and SNS; the runbook steps by scripted answers, one per
invocation, the way Step Functions Local's mock configurations are used. A script entry is a result dict, an
exception class name to raise (with a message), or a callable of the payload.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda_simple.models import LambdaSimpleBackend

from failover_controller.errors import FailoverError
from tests.support.lambda_context import FakeContext

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "failover.asl.json"
TABLE = "failover-controller-ledger"
REGION = "us-west-2"
ACCOUNT = "123456789012"

# The ${...}FunctionArn substitutions of the ASL, and the function module that answers each.
FUNCTIONS = {
    "ValidateInput": "validate_input",
    "Preflight": "preflight",
    "RequestApproval": "request_approval",
    "PromoteAurora": "promote_aurora",
    "ShiftSageMakerTraffic": "shift_sagemaker_traffic",
    "SwitchDynamoDBWrites": "switch_dynamodb_writes",
    "FlipDns": "flip_dns",
    "Verify": "verify",
    "Compensate": "compensate",
    "Record": "record",
}
REAL = {"ValidateInput", "RequestApproval", "Record"}


@dataclass
class Raise:
    """A scripted Lambda error: what the function raised (its class name) and its message."""

    error_type: str
    message: str = "scripted failure"


Answer = dict[str, Any] | Raise | Callable[[dict[str, Any]], Any]


def step_result(done: bool = True, changed: bool = True, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "started_at": now,
        "finished_at": now,
        "before": {"replication_lag_ms": 250.0, "data_loss_allowed": False},
        "changed": changed,
        "done": done,
        "message": "scripted",
        "actions": [],
        "checks": [],
        "after": {"change_id": "C0SCRIPTED"},
        "carry": {},
        "ready_for_traffic": done,
        **extra,
    }


def default_answer(function: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The happy path: every step done at the first call."""
    if function == "Compensate":
        return step_result(after={"writer_region": "us-east-1", "needs_attention": []})
    if function == "Preflight":
        return step_result(changed=False, after={"verdicts": {"pass": 1}, "aurora_writer": "us-east-1"})
    if function == "FlipDns" and payload.get("action") == "flip":
        return step_result(done=False, after={"change_id": "C0SCRIPTED"})
    return step_result(changed=payload.get("action") != "status" and not payload.get("dry_run", False))


@dataclass
class Harness:
    sfn: Any
    state_machine_arn: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripts: dict[tuple[str, str | None], list[Answer]] = field(default_factory=lambda: defaultdict(list))

    def script(self, function: str, *answers: Answer, action: str | None = None) -> None:
        """Answers for the next calls of ``function`` (of one ``action``, if given), in order."""
        self.scripts[(function, action)].extend(answers)

    def answer(self, function: str, payload: dict[str, Any]) -> tuple[Any, bool]:
        self.calls.append((function, payload))
        queue = self.scripts.get((function, payload.get("action"))) or self.scripts.get((function, None))
        if queue:
            answer = queue.pop(0)
        elif function in REAL:
            answer = _real(function)
        else:
            answer = lambda p: default_answer(function, p)  # noqa: E731
        if isinstance(answer, Raise):
            return {"errorType": answer.error_type, "errorMessage": answer.message}, True
        if callable(answer):
            try:
                return answer(payload), False
            except FailoverError as exc:
                return {"errorType": type(exc).__name__, "errorMessage": str(exc)}, True
        return answer, False

    def start(self, run_input: dict[str, Any], name: str = "run-1") -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(run_input)
        )["executionArn"]
        return arn

    def wait(self, execution_arn: str, timeout: float = 30.0, until: str | None = None) -> dict[str, Any]:
        """Poll until the execution ends (or enters state ``until``); fails on a time bound, never hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            desc: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if until is not None and until in self.entered(execution_arn):
                return desc
            if desc["status"] != "RUNNING":
                return desc
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} still RUNNING after {timeout}s; entered {self.entered(execution_arn)}")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def entered(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]

    def called(self, function: str, action: str | None = None) -> list[dict[str, Any]]:
        return [p for f, p in self.calls if f == function and (action is None or p.get("action") == action)]


def _real(function: str) -> Callable[[dict[str, Any]], Any]:
    handler = importlib.import_module(f"functions.{FUNCTIONS[function]}.app").lambda_handler
    return lambda payload: handler(payload, FakeContext())


def definition() -> str:
    text = ASL.read_text(encoding="utf-8").replace("${Partition}", "aws")
    for name in FUNCTIONS:
        text = text.replace(f"${{{name}FunctionArn}}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fc-{name}")
    return text


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buf.getvalue()


def install(harness_holder: list[Harness]) -> Iterator[None]:
    """Route moto's simple Lambda backend to the harness while the test runs."""
    original = LambdaSimpleBackend.invoke

    def invoke(  # noqa: PLR0917 - moto's signature
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1].removeprefix("fc-")
        payload = json.loads(body) if body else {}
        result, is_error = harness_holder[0].answer(name, payload)
        if is_error:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    try:
        yield
    finally:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]


def create(region: str = REGION) -> Harness:
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(
        RoleName="fc-test", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=region)
    for name in FUNCTIONS:
        lam.create_function(
            FunctionName=f"fc-{name}",
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": _zip()},
        )
    sfn = boto3.client("stepfunctions", region_name=region)
    arn = sfn.create_state_machine(name="failover", definition=definition(), roleArn=role)["stateMachineArn"]
    return Harness(sfn=sfn, state_machine_arn=arn)


def inbox() -> list[dict[str, str]]:
    """The notifications published so far, as a person subscribed to the topic would get them."""
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=os.environ["INBOX_QUEUE_URL"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def ledger_item(sk_prefix: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    items: list[dict[str, Any]] = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": "PLAN#recsys"}, ":sk": {"S": sk_prefix}},
    )["Items"]
    return items
