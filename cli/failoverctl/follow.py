"""Following an execution to its end and printing it, for `failoverctl failover` and the drill alike."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import RecoveryPlan


class FollowError(RuntimeError):
    """An execution did not start, or did not end, in time."""


FOLLOW_TIMEOUT = 180.0


@dataclass
class FollowedRun:
    """One execution, followed to its end."""

    execution_arn: str
    status: str
    outcome: str | None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None


class Printer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def __call__(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, text: str) -> None:
        self(f"[{time.monotonic() - self.t0:6.1f}s] {text}")


def wait_for_execution(f: ClientFactory, region: str, state_machine: str, timeout: float = 30.0) -> str:
    sfn = f.client("stepfunctions", region)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
        if executions:
            return str(executions[0]["executionArn"])
        time.sleep(0.1)
    raise FollowError(f"no execution started within {timeout:.0f}s: Detect did not start a run (see its logs)")


def _state_of(event: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """The state an event happened in, by its ``previousEventId`` chain (AWS's history; parallel branches
    interleave, so the last state entered is not always it). None when the history has no chain."""
    by_id = {e["id"]: e for e in events if "id" in e}
    seen = event
    for _ in range(len(events)):  # a chain no longer than the history: a malformed one cannot loop
        previous = by_id.get(seen.get("previousEventId"))
        if previous is None:
            return None
        if "stateEnteredEventDetails" in previous:
            return str(previous["stateEnteredEventDetails"]["name"])
        seen = previous
    return None


def timeline_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each state's entry and exit from an execution's history, in the order the states exited, then the states
    entered and never exited (a Fail state). A state whose task failed and was retried (or caught) lists the
    errors of its failed attempts under ``errors``."""
    entered: dict[str, datetime] = {}
    errors: dict[str, list[str]] = {}
    current: str | None = None
    timeline: list[dict[str, Any]] = []
    for event in events:
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
            entered[current] = event["timestamp"]
        elif "taskFailedEventDetails" in event:
            state = _state_of(event, events) or current
            if state is not None:
                errors.setdefault(state, []).append(str(event["taskFailedEventDetails"].get("error", "")))
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            begin = entered.pop(name, event["timestamp"])
            timeline.append(
                {
                    "state": name,
                    "entered": begin.isoformat(),
                    "exited": event["timestamp"].isoformat(),
                    "duration_s": round((event["timestamp"] - begin).total_seconds(), 3),
                }
                | ({"errors": errors.pop(name)} if name in errors else {})
            )
    timeline += [{"state": n, "entered": b.isoformat(), "exited": None, "duration_s": 0.0} for n, b in entered.items()]
    return timeline


def follow(
    f: ClientFactory, region: str, execution_arn: str, say: Printer, timeout: float = FOLLOW_TIMEOUT
) -> FollowedRun:
    """Print one line per state as it finishes, with its duration; return when the execution ends."""
    sfn = f.client("stepfunctions", region)
    printed = 0
    started: datetime | None = None
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=execution_arn)
        started = started or desc["startDate"]
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        timeline = timeline_of(events)
        running = desc["status"] == "RUNNING"
        for state in timeline[printed:]:
            offset = (datetime.fromisoformat(state["entered"]) - started).total_seconds()
            if state["exited"] is not None:
                say(f"    +{offset:6.2f}s  {state['state']:<28} {state['duration_s']:6.2f}s")
            elif not running:
                say(f"    +{offset:6.2f}s  {state['state']:<28} (ended the run)")
            else:
                break
            printed += 1
        if not running:
            return FollowedRun(execution_arn, desc["status"], None, timeline, desc.get("error"), desc.get("cause"))
        if time.monotonic() > deadline:
            raise FollowError(f"{execution_arn} still RUNNING after {timeout:.0f}s")
        time.sleep(0.1)


def ledger_run(f: ClientFactory, region: str, table: str, plan: RecoveryPlan, execution_arn: str) -> dict[str, Any]:
    """The run's ledger entry, as Record wrote it ({} if it wrote none)."""
    name = execution_arn.rsplit(":", 1)[-1]
    for run in Ledger(table, region, f).runs(plan.application, limit=50):
        if run.get("execution") == name:
            return run
    return {}


def ledger_outcome(f: ClientFactory, region: str, table: str, plan: RecoveryPlan, execution_arn: str) -> str | None:
    outcome = ledger_run(f, region, table, plan, execution_arn).get("outcome")
    return str(outcome) if outcome else None


def why(cause: str) -> str:
    """The readable part of a Fail state's cause: its prefix and the Lambda error's message."""
    head, _, payload = cause.partition("{")
    try:
        message = json.loads("{" + payload).get("errorMessage", "")
    except ValueError:
        return cause[:400]
    return f"{head}{message}"[:600]
