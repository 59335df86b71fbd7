"""The runbook's steps by name, each with the actions and extra input fields it accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from failover_controller.results import StepResult
from failover_controller.steps import (
    compensate,
    flip_dns,
    preflight,
    promote_aurora,
    shift_sagemaker_traffic,
    switch_dynamodb_writes,
    verify,
)
from failover_controller.steps.base import StepRequest


@dataclass(frozen=True)
class Step:
    name: str
    actions: tuple[str, ...]
    params: dict[str, type]
    run: Callable[[StepRequest], StepResult]


STEPS: dict[str, Step] = {
    m.STEP: Step(m.STEP, m.ACTIONS, m.PARAMS, m.run)
    for m in (
        preflight,
        promote_aurora,
        switch_dynamodb_writes,
        shift_sagemaker_traffic,
        flip_dns,
        verify,
        compensate,
    )
}
