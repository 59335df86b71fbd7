"""The step contract's output: what a step saw, did (or would do), and saw afterwards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "unknown", "skipped"]


@dataclass
class PlannedAction:
    """One AWS call a step makes, or would make in a dry run."""

    api: str
    region: str
    params: dict[str, Any]
    performed: bool = False
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Check:
    """One readiness check with what was observed, against what, and the verdict."""

    name: str
    resource: str
    observed: Any
    threshold: Any
    verdict: Verdict
    detail: str = ""


@dataclass
class StepResult:
    step: str
    action: str
    application: str
    target_region: str
    source_region: str
    mode: str
    dry_run: bool
    before: dict[str, Any] = field(default_factory=dict)
    actions: list[PlannedAction] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    done: bool = True
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    # What a poll hands to its next call through the state machine (a poll is stateless): what it learned that
    # AWS may no longer show by then.
    carry: dict[str, Any] = field(default_factory=dict)
    # ShiftSageMakerTraffic's scale-up: the standby has in service what the plan asks for before traffic moves.
    ready_for_traffic: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
