"""The runbook's steps by name, each with the actions and extra input fields it accepts.

A function imports only its own step's module (not all seven): each module it skips is cold-start time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from failover_controller.results import StepResult
from failover_controller.steps.base import StepRequest

STEP_NAMES = (
    "preflight",
    "promote_aurora",
    "switch_dynamodb_writes",
    "shift_sagemaker_traffic",
    "flip_dns",
    "verify",
    "compensate",
)


@dataclass(frozen=True)
class Step:
    name: str
    actions: tuple[str, ...]
    params: dict[str, type]
    run: Callable[[StepRequest], StepResult]


@cache
def load_step(name: str) -> Step:
    if name not in STEP_NAMES:
        raise KeyError(f"no runbook step {name!r}")
    module = importlib.import_module(f"failover_controller.steps.{name}")
    return Step(module.STEP, module.ACTIONS, module.PARAMS, module.run)
