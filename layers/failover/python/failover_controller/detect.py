"""Detect: from one "CloudWatch Alarm State Change" event to at most one failover.

Decides in this order, and says why it stopped: the transition is into ALARM; a plan names the alarm (in
the region the event comes from); this controller is the plan's standby (automatic runs fail *into* the
standby; failback is a person's decision); the plan's quorum of signals is in ALARM now (short of it, a first
suspicion pre-warms the standby: prewarm.py); writes do not
already go here; the cooldown since the last run is over; the plan's single-flight lock is free. Then it
starts the state machine under a name derived from the event, so a retried delivery cannot start twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from botocore.exceptions import ClientError

from failover_controller import prewarm
from failover_controller.aws import error_code, mapped
from failover_controller.clients import ClientFactory
from failover_controller.config import DetectConfig
from failover_controller.errors import InputInvalid
from failover_controller.ledger import Ledger
from failover_controller.names import REGION, execution_arn
from failover_controller.plan import RecoveryPlan
from failover_controller.plan_store import PlanStore
from failover_controller.reads.cloudwatch import SignalState, alarm_states
from failover_controller.reads.parameters import write_region
from failover_controller.run_context import lock_ttl_seconds

DETAIL_TYPE = "CloudWatch Alarm State Change"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
MAX_EVENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class AlarmChange:
    event_id: str
    region: str
    time: str
    alarm_name: str
    state: str


@dataclass
class Decision:
    outcome: Literal["started", "ignored"]
    reason: str
    alarm: str
    plan: str | None = None
    execution_name: str | None = None
    execution_arn: str | None = None
    in_alarm: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_alarm_event(event: Any) -> AlarmChange:
    """Validate the EventBridge envelope and the alarm detail; every problem is named."""
    if not isinstance(event, dict):
        raise InputInvalid("alarm event", [f"(input): must be a JSON object, got {type(event).__name__}"])
    if len(json.dumps(event, default=str)) > MAX_EVENT_BYTES:
        raise InputInvalid("alarm event", [f"is larger than {MAX_EVENT_BYTES} bytes"])
    if "alarmData" in event and "detail-type" not in event:
        data = event["alarmData"] if isinstance(event["alarmData"], dict) else {}
        alarm = str(data.get("alarmName", "?"))[:255]
        raise InputInvalid(
            "alarm event",
            [
                f"(input): this is the payload of a CloudWatch alarm action that invokes Lambda directly (alarm "
                f"{alarm}), not an EventBridge event: remove the alarm's Lambda action; the stack's EventBridge rule "
                "already delivers the plan's alarms to Detect (and the primary's stack forwards those of its region)"
            ],
        )
    problems = _envelope_problems(event)
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InputInvalid("alarm event", [*problems, "detail: is required and must be an object"])
    problems += _detail_problems(detail)
    if problems:
        raise InputInvalid("alarm event", problems)
    ev = EventBridgeEvent(event)
    return AlarmChange(
        event_id=ev.get_id,
        region=_alarm_region(event) or ev.region,
        time=ev.time,
        alarm_name=detail["alarmName"],
        state=detail["state"]["value"],
    )


def _alarm_region(event: dict[str, Any]) -> str | None:
    """The alarm's region from its ARN (the event's ``resources``): where the alarm lives, whichever bus the event
    came through (the primary's stack forwards its alarms to the standby's bus)."""
    resources = event.get("resources")
    for arn in resources if isinstance(resources, list) else []:
        parts = str(arn).split(":")
        if len(parts) > 5 and parts[2] == "cloudwatch" and parts[5] == "alarm" and parts[3]:
            return parts[3]
    return None


def _envelope_problems(event: dict[str, Any]) -> list[str]:
    problems = [
        f"{key}: is required and must be a non-empty string"
        for key in ("id", "region", "time", "source")
        if not isinstance(event.get(key), str) or not event[key]
    ]
    if event.get("detail-type") != DETAIL_TYPE:
        problems.append(f"detail-type: must be {DETAIL_TYPE!r}, got {event.get('detail-type')!r}")
    if isinstance(event.get("region"), str) and event["region"] and not REGION.match(event["region"]):
        problems.append(f"region: {event['region']!r} is not an AWS region")
    return problems


def _detail_problems(detail: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(detail.get("alarmName"), str) or not detail["alarmName"]:
        problems.append("detail.alarmName: is required and must be a non-empty string")
    state = detail.get("state")
    if not isinstance(state, dict):
        problems.append("detail.state: is required and must be an object")
    else:
        if state.get("value") not in STATES:
            problems.append(f"detail.state.value: must be one of {', '.join(STATES)}, got {state.get('value')!r}")
        if not isinstance(state.get("timestamp", ""), str):
            problems.append("detail.state.timestamp: must be a string")
    previous = detail.get("previousState")
    if previous is not None and not isinstance(previous, dict):
        problems.append("detail.previousState: must be an object")
    return problems


def execution_name(plan: str, change: AlarmChange) -> str:
    """Deterministic per event: the same delivery retried maps to the same execution."""
    try:
        stamp = datetime.fromisoformat(change.time).strftime("%Y%m%dT%H%M%SZ")
    except ValueError:
        stamp = "t"
    digest = hashlib.sha256(change.event_id.encode()).hexdigest()[:10]
    return f"{plan}-{stamp}-{digest}"[:80]


def first_alarm_at(stamps: list[str], default: str) -> str:
    """The earliest of ISO timestamps (any offset notation); ``default`` when none parses."""
    parsed = []
    for stamp in stamps:
        with contextlib.suppress(ValueError):
            stamp_at = datetime.fromisoformat(stamp)
            parsed.append(stamp_at if stamp_at.tzinfo else stamp_at.replace(tzinfo=UTC))  # no zone said: UTC
    return min(parsed).astimezone(UTC).isoformat() if parsed else default


def signal_states(
    plan: RecoveryPlan,
    change: AlarmChange,
    home: str,
    factory: ClientFactory,
    suspicion: Callable[[], None] | None = None,
) -> dict[str, SignalState]:
    """The plan's signals, this region's read first. When they and the event already make the quorum, the other
    region's are not read: it is the region likely to be down, and waiting on it delays the run (a dark region
    costs the peer budget, two attempts of several seconds). The recovery clock then starts at the earliest alarm
    read. The event itself is the freshest reading of its own alarm, wherever that alarm lives. ``suspicion`` runs
    before the other region is asked (the pre-warm: it must not wait on a region that may be dark)."""
    states = alarm_states(plan, factory, regions=(home,))
    read = states.get(change.alarm_name)
    states[change.alarm_name] = SignalState("ALARM", (read.since if read else None) or change.time)
    if sum(s.value == "ALARM" for s in states.values()) >= plan.quorum:
        return states
    if suspicion is not None:
        suspicion()
    states |= alarm_states(plan, factory, regions=tuple(r for r in plan.regions if r != home))
    states[change.alarm_name] = SignalState("ALARM", states[change.alarm_name].since or change.time)
    return states


def decide(event: Any, config: DetectConfig, factory: ClientFactory, now: float | None = None) -> Decision:
    """The decision for one event; the first refusal that applies is the reason."""
    now = time.time() if now is None else now
    change = parse_alarm_event(event)
    if change.state != "ALARM":
        return Decision("ignored", f"{change.alarm_name} went to {change.state}, not ALARM", change.alarm_name)
    plan = _plan_naming(change, config, factory)
    if plan is None:
        return Decision("ignored", f"no plan names alarm {change.alarm_name} in {change.region}", change.alarm_name)
    decision = Decision("ignored", "", change.alarm_name, plan=plan.application)
    if config.region != plan.standby_region:
        decision.reason = (
            f"this controller runs in {config.region}, not in the plan's standby {plan.standby_region}: "
            "automatic runs fail into the standby; fail back by hand"
        )
        return decision
    name = execution_name(plan.application, change)
    ledger = Ledger(config.ledger_table, config.region, factory)
    held = ledger.get_many(plan.application, ["LOCK", "LAST_RUN", prewarm.SK])
    decision.reason = _held_or_cooling(held, plan, name, now)
    if decision.reason:
        return decision
    warmed: list[str] = []

    def suspicion() -> None:
        if plan.prewarm_seconds and prewarm.SK not in held:
            warmed.append(
                prewarm.start(plan, change.alarm_name, config.region, factory=factory, ledger=ledger, now=now)
            )

    states = signal_states(plan, change, config.region, factory, suspicion)
    decision.in_alarm = sorted(n for n, s in states.items() if s.value == "ALARM")
    if len(decision.in_alarm) < plan.quorum:
        others = ", ".join(f"{n}={s.value}" for n, s in sorted(states.items()))
        decision.reason = (
            f"quorum not met: {len(decision.in_alarm)} of {len(states)} in ALARM, {plan.quorum} needed ({others})"
            + "".join(warmed)
        )
        return decision
    if write_region(plan, config.region, factory) == config.region:
        decision.reason = f"writes already go to {config.region}: nothing to fail over"
        return decision
    return _start(decision, plan, change, states, config=config, factory=factory, ledger=ledger, name=name, now=now)


def _plan_naming(change: AlarmChange, config: DetectConfig, factory: ClientFactory) -> RecoveryPlan | None:
    """The plan that names the event's alarm in the event's region."""
    plans = [PlanStore.of(config, factory).load(name) for name in config.plans]
    return next(
        (p for p in plans if any(s.name == change.alarm_name and s.region == change.region for s in p.signals)),
        None,
    )


def _held_or_cooling(held: dict[str, dict[str, Any]], plan: RecoveryPlan, name: str, now: float) -> str:
    """Cheapest refusals first: one read (``held``) answers "a run holds the lock", "cooldown" and "already
    pre-warming" (an alarm storm costs one call per event once the first has started the run). Empty when neither
    refusal applies."""
    lock_item, last = held.get("LOCK"), held.get("LAST_RUN")
    if lock_item and lock_item.get("owner") != name and float(lock_item.get("expires_at", 0)) >= now:
        return f"single-flight: run {lock_item.get('owner')} holds the lock"
    if last and now - float(last.get("finished_at", 0)) < plan.cooldown_seconds:
        return (
            f"cooldown: the last run {last.get('execution')} ({last.get('outcome')}) finished "
            f"{int(now - float(last['finished_at']))} s ago; the plan waits {plan.cooldown_seconds} s"
        )
    return ""


def _start(
    decision: Decision,
    plan: RecoveryPlan,
    change: AlarmChange,
    states: dict[str, SignalState],
    *,
    config: DetectConfig,
    factory: ClientFactory,
    ledger: Ledger,
    name: str,
    now: float,
) -> Decision:
    """Take the lock and start the run under the event's name; a redelivered event finds its own run."""
    ttl = lock_ttl_seconds(plan, require_approval=plan.automatic_requires_approval)
    lock = ledger.acquire_lock(plan.application, name, ttl, now=now)
    if not lock.acquired:
        decision.reason = f"single-flight: run {lock.owner} holds the lock"
        return decision
    start = {
        "plan": plan.application,
        "target_region": config.region,
        "mode": plan.automatic_mode,
        "dry_run": False,
        "require_approval": plan.automatic_requires_approval,
        "trigger": {
            "type": "alarm",
            "alarm": change.alarm_name,
            "alarm_region": change.region,
            "event_id": change.event_id,
            "time": change.time,
            "in_alarm": decision.in_alarm,
            # The recovery clock starts at the first of the quorum's alarms, not at the one that completed it.
            "first_alarm_at": first_alarm_at([states[n].since or change.time for n in decision.in_alarm], change.time),
        },
    }
    sfn = factory.client("stepfunctions", config.region)
    try:
        arn = sfn.start_execution(stateMachineArn=config.state_machine_arn, name=name, input=json.dumps(start))[
            "executionArn"
        ]
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            ledger.release_lock(plan.application, name)
            raise mapped("StartExecution", exc) from exc
        arn = execution_arn(config.state_machine_arn, name)
    decision.outcome, decision.execution_name, decision.execution_arn = "started", name, arn
    decision.reason = f"quorum {len(decision.in_alarm)}/{plan.quorum} in ALARM: failover to {config.region} started"
    return decision
