"""What every step handler does: parse the event, read the plan, run the step, log and count it."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.config import ControllerConfig, DetectConfig, StepConfig
from failover_controller.errors import FailoverError
from failover_controller.observability import logger, metrics, tracer
from failover_controller.plan_store import PlanStore
from failover_controller.steps.base import enforce_deadline, make_request, parse_step_input
from failover_controller.steps.registry import load_step


@contextlib.contextmanager
def reported(metric: str, message: str, *, prefix: str = "", **fields: Any) -> Iterator[None]:
    """Count and log a deliberate refusal or failure, then let it reach Lambda: its class name is the error the
    state machine catches. ``prefix`` goes in front of the message Lambda reports (the execution's cause)."""
    try:
        yield
    except FailoverError as exc:
        if prefix:
            exc.message = f"{prefix}: {exc.message}"
            exc.args = (exc.message,)
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        logger.warning(message, extra={**fields, "error": type(exc).__name__, "reason": exc.message})
        raise


@tracer.capture_method(capture_response=False)
def run_step(step_name: str, event: Any, config: StepConfig, factory: ClientFactory) -> dict[str, Any]:
    factory.begin(config.region)
    step = load_step(step_name)
    metrics.add_dimension(name="step", value=step.name)
    with reported("StepErrors", "step refused or failed", prefix=step.name):
        step_input = parse_step_input(event, actions=step.actions, params=step.params)
        logger.append_keys(
            step=step.name,
            plan=step_input.plan,
            action=step_input.action,
            target_region=step_input.target_region,
            mode=step_input.mode,
            dry_run=step_input.dry_run,
        )
        plan = PlanStore.of(config, factory).load(step_input.plan)
        started = datetime.now(UTC)
        result = step.run(make_request(step_input, plan, home_region=config.region, clients=factory))
        result.started_at, result.finished_at = started.isoformat(), datetime.now(UTC).isoformat()
        enforce_deadline(step.name, result, step_input.params, time.time())
    metrics.add_metric(name="StepRuns", unit=MetricUnit.Count, value=1)
    if result.changed:
        metrics.add_metric(name="StepChanges", unit=MetricUnit.Count, value=1)
    logger.info(
        "step finished",
        extra={
            "changed": result.changed,
            "done": result.done,
            "actions": len(result.actions),
            "outcome": result.message,
        },
    )
    return result.to_dict()


@tracer.capture_method(capture_response=False)
def run_controller(name: str, event: Any, config: ControllerConfig, factory: ClientFactory) -> dict[str, Any]:
    """The state machine's bookkeeping functions: same logging and error contract as the steps."""
    # Imported here, not at the top: the runbook steps' cold start does not pay for what they never run.
    from failover_controller import bookkeeping  # noqa: PLC0415

    factory.begin(config.region)
    functions: dict[str, Callable[[Any, ControllerConfig, ClientFactory], dict[str, Any]]] = {
        "validate_input": bookkeeping.validate_input,
        "request_approval": bookkeeping.request_approval,
        "record": bookkeeping.record,
    }
    metrics.add_dimension(name="function", value=name)
    with reported("ControllerErrors", "refused or failed", function=name):
        result = functions[name](event, config, factory)
    metrics.add_metric(name="ControllerRuns", unit=MetricUnit.Count, value=1)
    logger.info("done", extra={"function": name, "outcome": result.get("outcome"), "plan": result.get("plan")})
    return result


@tracer.capture_method(capture_response=False)
def run_detect(event: Any, config: DetectConfig, factory: ClientFactory) -> dict[str, Any]:
    from failover_controller import detect, prewarm  # noqa: PLC0415 - as above

    factory.begin(config.region)
    if prewarm.is_sweep(event):
        swept = prewarm.sweep(config, factory)
        logger.info("pre-warm sweep", extra={"plans": swept})
        return {"outcome": "swept", "plans": swept}
    try:
        with reported("DetectErrors", "alarm event refused"):
            decision = detect.decide(event, config, factory)
    except detect.EventInvalid as exc:
        if not config.dead_letter_queue_url:
            raise
        return refuse(event, exc, config, factory)
    metrics.add_dimension(name="decision", value=decision.outcome)
    metrics.add_metric(name="DetectDecisions", unit=MetricUnit.Count, value=1)
    logger.info(
        "decision",
        extra={
            "outcome": decision.outcome,
            "reason": decision.reason,
            "alarm": decision.alarm,
            "plan": decision.plan,
            "execution": decision.execution_name,
        },
    )
    return decision.to_dict()


# What of a refused event the dead-letter message keeps: SQS takes messages of up to 256 KiB.
DEAD_LETTER_EVENT_CHARS = 200_000


def refuse(event: Any, exc: FailoverError, config: DetectConfig, factory: ClientFactory) -> dict[str, Any]:
    """A malformed event can never succeed: it goes to Detect's dead-letter queue now, with the reason (whose alarm
    tells people), instead of through Lambda's retries. A failed send raises: Lambda's retries then end there too."""
    text = json.dumps(event, default=str)
    body: dict[str, Any] = {"refused": exc.message}
    if len(text) <= DEAD_LETTER_EVENT_CHARS:
        body["event"] = event
    else:
        body["event_truncated"] = text[:DEAD_LETTER_EVENT_CHARS]
    call(
        "SendMessage to Detect's dead-letter queue",
        factory.client("sqs", config.region).send_message,
        QueueUrl=config.dead_letter_queue_url,
        MessageBody=json.dumps(body, default=str),
        MessageAttributes={
            "ErrorCode": {"DataType": "String", "StringValue": type(exc).__name__},
            "ErrorMessage": {"DataType": "String", "StringValue": exc.message[:1024]},
        },
    )
    return {"outcome": "refused", "reason": exc.message, "dead_letter_queue": config.dead_letter_queue_url}
