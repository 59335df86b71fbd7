"""A run of the runbook: the state machine's input, validated, and the run context every state carries."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from failover_controller.errors import InputInvalid
from failover_controller.plan import RecoveryPlan
from failover_controller.steps.base import MODES, Mode

DEFAULT_POLL_SECONDS = 15
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
START_FIELDS: dict[str, type] = {
    "plan": str,
    "target_region": str,
    "mode": str,
    "dry_run": bool,
    "require_approval": bool,
    "force_beyond_rpo": bool,
    "poll_seconds": int,
    "trigger": dict,
    "expected_writer": str,
}


@dataclass(frozen=True)
class RunContext:
    """What every state after ValidateInput reads at ``$.run``."""

    plan: str
    target_region: str
    source_region: str
    mode: Mode
    dry_run: bool
    require_approval: bool
    force_beyond_rpo: bool
    poll_seconds: int
    approval_timeout_seconds: int
    deadline: int
    execution: str
    started_at: str
    rto_seconds: int
    rpo_seconds: int
    trigger: dict[str, Any] = field(default_factory=dict)
    # The Aurora writer's region as the requester saw it: the run promotes only while it is still there.
    expected_writer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def lock_ttl_seconds(self) -> int:
        return lock_ttl(self.approval_timeout_seconds, self.rto_seconds)

    @classmethod
    def from_dict(cls, doc: Any) -> RunContext:
        if not isinstance(doc, dict):
            raise InputInvalid("run context", [f"(input): must be a JSON object, got {type(doc).__name__}"])
        try:
            return cls(**doc)
        except TypeError as exc:
            raise InputInvalid("run context", [str(exc)]) from exc


def approval_window(plan: RecoveryPlan, *, require_approval: bool) -> int:
    """How long a run waits for a person: the plan's RTO, when it asks for approval at all."""
    return plan.rto_seconds if require_approval else 0


def lock_ttl(approval_seconds: int, rto_seconds: int) -> int:
    """Long enough for the whole run, approval included; short enough that a dead run frees the plan."""
    return approval_seconds + 2 * rto_seconds


def lock_ttl_seconds(plan: RecoveryPlan, *, require_approval: bool) -> int:
    return lock_ttl(approval_window(plan, require_approval=require_approval), plan.rto_seconds)


def parse_start(event: Any) -> dict[str, Any]:
    """The state machine's input, manual or from Detect; every problem is named at once."""
    if not isinstance(event, dict):
        raise InputInvalid("failover input", [f"(input): must be a JSON object, got {type(event).__name__}"])
    problems = [f"{key}: is not a known field" for key in sorted(set(event) - set(START_FIELDS))]
    for key in ("plan", "target_region"):
        if not isinstance(event.get(key), str) or not event[key]:
            problems.append(f"{key}: is required and must be a non-empty string")
    for key, kind in START_FIELDS.items():
        if key in event and key not in ("plan", "target_region"):
            value = event[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                problems.append(f"{key}: must be of type {kind.__name__}, got {type(value).__name__}")
    if isinstance(event.get("mode"), str) and event["mode"] not in MODES:
        problems.append(f"mode: must be one of {', '.join(MODES)}, got {event['mode']!r}")
    poll = event.get("poll_seconds")
    if isinstance(poll, int) and not isinstance(poll, bool) and not 0 <= poll <= 300:
        problems.append(f"poll_seconds: must be between 0 and 300, got {poll}")
    if problems:
        raise InputInvalid("failover input", problems)
    return event


def new_run(
    start: dict[str, Any], plan: RecoveryPlan, *, execution: str, started_at: str, now: float | None = None
) -> RunContext:
    if not _EXECUTION_NAME.match(execution):
        raise InputInvalid("failover input", [f"execution name {execution!r} is not a Step Functions name"])
    now = time.time() if now is None else now
    plan.require_region(start["target_region"])
    writer = start.get("expected_writer")
    if writer is not None and writer not in plan.regions:
        raise InputInvalid(
            "failover input",
            [f"expected_writer: {writer!r} is not one of the plan's regions ({', '.join(plan.regions)})"],
        )
    require_approval = start.get("require_approval", False)
    approval = approval_window(plan, require_approval=require_approval)
    return RunContext(
        plan=plan.application,
        target_region=start["target_region"],
        source_region=plan.other_region(start["target_region"]),
        mode=cast("Mode", start.get("mode", "graceful")),
        dry_run=start.get("dry_run", False),
        require_approval=require_approval,
        force_beyond_rpo=start.get("force_beyond_rpo", False),
        poll_seconds=start.get("poll_seconds", DEFAULT_POLL_SECONDS),
        approval_timeout_seconds=approval,
        deadline=int(now) + approval + plan.rto_seconds,
        execution=execution,
        started_at=started_at,
        rto_seconds=plan.rto_seconds,
        rpo_seconds=plan.rpo_seconds,
        trigger=start.get("trigger") or {"type": "manual"},
        expected_writer=writer,
    )
