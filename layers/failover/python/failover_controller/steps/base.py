"""What every step takes: the plan, the target region, the mode, dry_run, and the action asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from failover_controller.clients import ClientFactory
from failover_controller.errors import InputInvalid, PollTimeout, PreconditionFailed
from failover_controller.plan import RecoveryPlan
from failover_controller.results import StepResult

Mode = Literal["graceful", "ungraceful"]
MODES: tuple[Mode, ...] = ("graceful", "ungraceful")


@dataclass(frozen=True)
class StepInput:
    """A step's input as the state machine or ``sam local invoke`` sends it, before the plan is read."""

    plan: str
    target_region: str
    mode: Mode
    dry_run: bool
    action: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRequest:
    plan: RecoveryPlan
    target_region: str
    mode: Mode
    dry_run: bool
    action: str
    clients: ClientFactory
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def source_region(self) -> str:
        return self.plan.other_region(self.target_region)

    @property
    def graceful(self) -> bool:
        return self.mode == "graceful"

    def result(self, step: str) -> StepResult:
        return StepResult(
            step=step,
            action=self.action,
            application=self.plan.application,
            target_region=self.target_region,
            source_region=self.source_region,
            mode=self.mode,
            dry_run=self.dry_run,
        )


def parse_step_input(event: Any, *, actions: tuple[str, ...], params: dict[str, type] | None = None) -> StepInput:
    """Validate a step's event; every problem is named in one InputInvalid, and nothing is done."""
    params = params or {}
    if not isinstance(event, dict):
        raise InputInvalid("step input", [f"(input): must be a JSON object, got {type(event).__name__}"])
    known = {"plan", "target_region", "mode", "dry_run", "action", *params}
    problems = [f"{key}: is not a known field" for key in sorted(set(event) - known)]
    for key in ("plan", "target_region"):
        value = event.get(key)
        if not isinstance(value, str) or not value:
            problems.append(f"{key}: is required and must be a non-empty string")
    mode = event.get("mode", "graceful")
    if mode not in MODES:
        problems.append(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems.append(f"dry_run: must be true or false, got {dry_run!r}")
    action = event.get("action", actions[0])
    if action not in actions:
        problems.append(f"action: must be one of {', '.join(actions)}, got {action!r}")
    extra, wrong = _typed_params(event, params)
    problems += wrong
    if problems:
        raise InputInvalid("step input", problems)
    return StepInput(
        plan=event["plan"],
        target_region=event["target_region"],
        mode=cast("Mode", mode),
        dry_run=dry_run,
        action=action,
        params=extra,
    )


def _typed_params(event: dict[str, Any], params: dict[str, type]) -> tuple[dict[str, Any], list[str]]:
    """The step's own fields that the event sets, and the problems of those of the wrong type."""
    extra: dict[str, Any] = {}
    problems = []
    for key, kind in params.items():
        if key in event and event[key] is not None:
            if not isinstance(event[key], kind) or (kind is int and isinstance(event[key], bool)):
                problems.append(f"{key}: must be of type {kind.__name__}, got {type(event[key]).__name__}")
            else:
                extra[key] = event[key]
    return extra, problems


def enforce_deadline(step: str, result: StepResult, params: dict[str, Any], now: float) -> None:
    """A poll (a call given the run's deadline) still not done after the deadline ends the loop with PollTimeout."""
    deadline = params.get("deadline")
    if not (result.done or result.ready_for_traffic) and deadline is not None and now >= deadline:
        raise PollTimeout(
            f"{step} was still not done at the run's deadline ({int(now - deadline)} s past it): {result.message}",
            details={"step": step, "last_seen": result.after},
        )


def require_home(target_region: str, home_region: str) -> None:
    """A controller only fails traffic into the region it runs in ("execute from the region being activated")."""
    if target_region != home_region:
        raise PreconditionFailed(
            f"this controller runs in {home_region} and only fails over into {home_region}; "
            f"start the controller in {target_region} to fail over there"
        )


def make_request(step_input: StepInput, plan: RecoveryPlan, *, home_region: str, clients: ClientFactory) -> StepRequest:
    """Bind an input to its plan."""
    plan.require_region(step_input.target_region)
    require_home(step_input.target_region, home_region)
    return StepRequest(
        plan=plan,
        target_region=step_input.target_region,
        mode=step_input.mode,
        dry_run=step_input.dry_run,
        action=step_input.action,
        clients=clients,
        params=step_input.params,
    )
