"""Detect: from one "CloudWatch Alarm State Change" event to at most one failover.

Decides in this order, and says why it stopped: the event is well formed (a malformed one is refused: it can
never succeed, so it goes to the dead-letter queue at once, not through Lambda's retries); it is no older than
``MAX_EVENT_AGE_S``; the transition is into ALARM; a plan names the alarm (in
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
import re
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
# EventBridge retries a target for up to 24 h by default and Lambda's asynchronous invocation for up to 6 h: the
# stack caps both at 15 minutes (the rule's RetryPolicy, the function's EventInvokeConfig), and Detect acts on no
# event older than that, whatever delivered it. An alarm still in ALARM is read again with the next event.
MAX_EVENT_AGE_S = 900
FUTURE_SKEW_S = 300  # an event stamped later than this is not a clock's skew
# DescribeAlarms may not yet show the transition an event reports (no read-after-write promise): an event this
# fresh counts over an older reading; an older one CloudWatch contradicts does not.
READ_LAG_S = 60
# EventBridge's `time` and CloudWatch's state timestamps: ISO 8601 with a zone (Z or an offset).
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})")


class EventInvalid(InputInvalid):
    """The alarm event itself is malformed: no retry can succeed, so Detect refuses it without raising to Lambda
    (handler.run_detect sends it to the dead-letter queue with the reason)."""


@dataclass(frozen=True)
class AlarmChange:
    event_id: str
    region: str
    time: str
    alarm_name: str
    state: str
    changed_at: str = ""  # the transition's own time (detail.state.timestamp), else the event's


def utc(stamp: str) -> datetime:
    """A timestamp this module validated or CloudWatch gave (no zone said: UTC), as UTC."""
    at = datetime.fromisoformat(stamp)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def parse_time(value: Any, field_name: str) -> datetime | str:
    """An ISO 8601 timestamp with a zone, as a UTC datetime; else the problem, naming ``field_name``."""
    text = value if isinstance(value, str) else ""
    if not TIMESTAMP.fullmatch(text):
        return f"{field_name}: must be an ISO 8601 timestamp with a zone, like 2026-11-28T03:04:05Z, got {value!r}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError as exc:
        return f"{field_name}: {value!r} is not a valid time ({exc})"


@dataclass
class Decision:
    outcome: Literal["started", "ignored", "refused"]
    reason: str
    alarm: str
    plan: str | None = None
    execution_name: str | None = None
    execution_arn: str | None = None
    in_alarm: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_alarm_event(event: Any, now: float | None = None) -> AlarmChange:
    """Validate the EventBridge envelope and the alarm detail; every problem is named. A time later than ``now``
    (default: the clock) by more than a clock's skew is a problem too."""
    if not isinstance(event, dict):
        raise EventInvalid("alarm event", [f"(input): must be a JSON object, got {type(event).__name__}"])
    if len(json.dumps(event, default=str)) > MAX_EVENT_BYTES:
        raise EventInvalid("alarm event", [f"is larger than {MAX_EVENT_BYTES} bytes"])
    if "alarmData" in event and "detail-type" not in event:
        data = event["alarmData"] if isinstance(event["alarmData"], dict) else {}
        alarm = str(data.get("alarmName", "?"))[:255]
        raise EventInvalid(
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
        raise EventInvalid("alarm event", [*problems, "detail: is required and must be an object"])
    problems += _detail_problems(detail)
    at, changed = _times(event, detail, time.time() if now is None else now, problems)
    if problems or at is None or changed is None:
        raise EventInvalid("alarm event", problems)
    ev = EventBridgeEvent(event)
    return AlarmChange(
        event_id=ev.get_id,
        region=_alarm_region(event) or ev.region,
        time=ev.time,
        alarm_name=detail["alarmName"],
        state=detail["state"]["value"],
        changed_at=str(detail["state"].get("timestamp") or ev.time),
    )


def _times(
    event: dict[str, Any], detail: dict[str, Any], now: float, problems: list[str]
) -> tuple[datetime | None, datetime | None]:
    """The event's time and its transition's (detail.state.timestamp, else the event's); their problems are added
    to ``problems``."""
    state = detail.get("state")
    stamp = state.get("timestamp") if isinstance(state, dict) else None
    found: list[datetime | None] = []
    for name, value in (("time", event.get("time")), ("detail.state.timestamp", stamp)):
        if name != "time" and value is None:
            found.append(found[0])
            continue
        parsed = parse_time(value, name)
        if isinstance(parsed, str):
            problems.append(parsed)
            found.append(None)
        elif parsed.timestamp() > now + FUTURE_SKEW_S:
            problems.append(f"{name}: {parsed.isoformat()} is in the future (more than {FUTURE_SKEW_S} s from now)")
            found.append(None)
        else:
            found.append(parsed)
    return found[0], found[1]


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
        for key in ("id", "region", "source")
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
    elif state.get("value") not in STATES:
        problems.append(f"detail.state.value: must be one of {', '.join(STATES)}, got {state.get('value')!r}")
    previous = detail.get("previousState")
    if previous is not None and not isinstance(previous, dict):
        problems.append("detail.previousState: must be an object")
    return problems


def execution_name(plan: str, change: AlarmChange) -> str:
    """Deterministic per event: the same delivery retried maps to the same execution."""
    stamp = utc(change.time).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(change.event_id.encode()).hexdigest()[:10]
    return f"{plan}-{stamp}-{digest}"[:80]


def first_alarm_at(stamps: list[str], default: str) -> str:
    """The earliest of ISO timestamps (any offset notation); ``default`` when none parses."""
    parsed = []
    for stamp in stamps:
        with contextlib.suppress(ValueError):
            parsed.append(utc(stamp))
    return min(parsed).isoformat() if parsed else default


def signal_states(
    plan: RecoveryPlan,
    change: AlarmChange,
    home: str,
    factory: ClientFactory,
    *,
    suspicion: Callable[[], None] | None = None,
    now: float | None = None,
) -> dict[str, SignalState]:
    """The plan's signals, this region's read first. When they and the event already make the quorum, the other
    region's are not read: it is the region likely to be down, and waiting on it delays the run (a dark region
    costs the peer budget, two attempts of several seconds). The recovery clock then starts at the earliest alarm
    read. A fresh event is the freshest reading of its own alarm, wherever that alarm lives; a late one (older
    than ``READ_LAG_S``) is checked against its alarm's own region first, and counts only if CloudWatch does not
    contradict it (``event_reading``). ``suspicion`` runs before the other region is asked (the pre-warm: it must
    not wait on a region that may be dark), and not at all for an event CloudWatch contradicts."""
    now = time.time() if now is None else now
    late = now - utc(change.changed_at).timestamp() > READ_LAG_S
    first = (home,) if not late or change.region == home else (home, change.region)
    states = alarm_states(plan, factory, regions=first)
    states[change.alarm_name] = event_reading(change, states.get(change.alarm_name), now)
    if states[change.alarm_name].value != "ALARM" or sum(s.value == "ALARM" for s in states.values()) >= plan.quorum:
        return states
    if suspicion is not None:
        suspicion()
    rest = alarm_states(plan, factory, regions=tuple(r for r in plan.regions if r not in first))
    if change.alarm_name in rest:
        rest[change.alarm_name] = event_reading(change, rest[change.alarm_name], now)
    return states | rest


def event_reading(change: AlarmChange, read: SignalState | None, now: float) -> SignalState:
    """The event's alarm as Detect counts it, given CloudWatch's reading of it (None: not read yet).

    ALARM when CloudWatch agrees, or cannot be asked (its region is dark: the event is the only reading), or has
    not caught up with a fresh event (DescribeAlarms promises no read-after-write). Else CloudWatch's reading: the
    alarm left ALARM after the event (a late delivery; EventBridge and Lambda retry for hours), or CloudWatch shows
    a state older than an event that is not fresh, or no such alarm."""
    if read is None or read.value == "UNKNOWN":
        return SignalState("ALARM", change.changed_at)
    if read.value == "ALARM":
        return SignalState("ALARM", read.since or change.changed_at)
    changed = utc(change.changed_at)
    after_event = read.since is not None and utc(read.since) >= changed
    if read.value != "MISSING" and not after_event and now - changed.timestamp() <= READ_LAG_S:
        return SignalState("ALARM", change.changed_at)
    return read


def decide(event: Any, config: DetectConfig, factory: ClientFactory, now: float | None = None) -> Decision:
    """The decision for one event; the first refusal that applies is the reason."""
    now = time.time() if now is None else now
    change = parse_alarm_event(event, now)
    if not_a_trigger := _not_a_trigger(change, now):
        return Decision("ignored", not_a_trigger, change.alarm_name)
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

    states = signal_states(plan, change, config.region, factory, suspicion=suspicion, now=now)
    decision.in_alarm = sorted(n for n, s in states.items() if s.value == "ALARM")
    decision.reason = _contradicted(change, states[change.alarm_name])
    if decision.reason:
        return decision
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


def _not_a_trigger(change: AlarmChange, now: float) -> str:
    """Why the event itself cannot start a run (too old, or not a transition into ALARM); empty when it can."""
    age = now - utc(change.time).timestamp()
    if age > MAX_EVENT_AGE_S:
        return (
            f"the event is {int(age)} s old (its time is {change.time}); Detect acts on none older than "
            f"{MAX_EVENT_AGE_S} s: the alarm's state now is read with the next alarm event"
        )
    return "" if change.state == "ALARM" else f"{change.alarm_name} went to {change.state}, not ALARM"


def _contradicted(change: AlarmChange, own: SignalState) -> str:
    if own.value == "ALARM":
        return ""
    since = f" since {own.since}" if own.since else ""
    return (
        f"CloudWatch reads {change.alarm_name} {own.value}{since}, not the ALARM this event reported at "
        f"{change.changed_at}: a late or contradicted event starts nothing"
    )


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
