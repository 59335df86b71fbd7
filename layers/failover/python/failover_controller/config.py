"""Each function's configuration, read from its environment once (at cold start) and typed.

A missing or malformed variable fails at once with a message that names it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from failover_controller.names import ARN as _ARN
from failover_controller.names import DEFAULT_PLAN_PREFIX
from failover_controller.names import PLAN_NAME as _PLAN
from failover_controller.names import REGION as _REGION


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


class _Reader:
    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = os.environ if env is None else env
        self.problems: list[str] = []

    def region(self) -> str:
        region = self.env.get("AWS_REGION", "")
        if not _REGION.match(region):
            self.problems.append(f"AWS_REGION must be an AWS region, got {region!r}")
        return region

    def text(self, name: str, default: str | None = None, pattern: re.Pattern[str] | None = None) -> str:
        value = self.env.get(name, default)
        if not value:
            self.problems.append(f"{name} is required")
            return ""
        if pattern is not None and not pattern.match(value):
            self.problems.append(f"{name} is malformed: {value!r}")
        return value

    def seconds(self, name: str, default: str) -> int:
        raw = self.env.get(name, default)
        if not raw.isdigit():
            self.problems.append(f"{name} must be a whole number of seconds, got {raw!r}")
            return 0
        return int(raw)

    def prefix(self) -> str:
        prefix = self.env.get("PLAN_PARAMETER_PREFIX", DEFAULT_PLAN_PREFIX)
        if not prefix.startswith("/") or (prefix.endswith("/") and len(prefix) > 1):
            self.problems.append(f"PLAN_PARAMETER_PREFIX must start with '/' and not end with one, got {prefix!r}")
        return prefix

    def plans(self) -> tuple[str, ...]:
        plans = tuple(p.strip() for p in self.text("PLANS").split(",") if p.strip())
        self.problems += [f"PLANS has an invalid plan name: {plan!r}" for plan in plans if not _PLAN.match(plan)]
        return plans

    def common(self) -> tuple[str, str, int]:
        """What every function reads: its region, where plans are stored, how long they are cached."""
        return self.region(), self.prefix(), self.seconds("PLAN_CACHE_SECONDS", "300")

    def done(self) -> None:
        if self.problems:
            raise ConfigError("; ".join(self.problems))


@dataclass(frozen=True)
class StepConfig:
    """The runbook steps: where they run and where plans are stored."""

    region: str
    plan_parameter_prefix: str
    plan_cache_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StepConfig:
        r = _Reader(env)
        config = cls(*r.common())
        r.done()
        return config


@dataclass(frozen=True)
class ControllerConfig(StepConfig):
    """Functions that also use the ledger table and the notification topic."""

    ledger_table: str
    topic_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ControllerConfig:
        r = _Reader(env)
        config = cls(*r.common(), r.text("LEDGER_TABLE"), r.text("TOPIC_ARN", pattern=_ARN))
        r.done()
        return config


@dataclass(frozen=True)
class DetectConfig(StepConfig):
    """Detect: which plans it watches, the ledger (lock, cooldown) and the state machine it starts."""

    ledger_table: str
    state_machine_arn: str
    plans: tuple[str, ...]
    # Where a malformed event goes at once, with the reason (no retry can succeed); empty: it is raised, and Lambda's
    # retries end in the function's own dead-letter queue.
    dead_letter_queue_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DetectConfig:
        r = _Reader(env)
        plans = r.plans()
        config = cls(
            *r.common(),
            r.text("LEDGER_TABLE"),
            r.text("STATE_MACHINE_ARN", pattern=_ARN),
            plans,
            r.env.get("DEAD_LETTER_QUEUE_URL", ""),
        )
        r.done()
        return config


@dataclass(frozen=True)
class ReadinessConfig(StepConfig):
    """Readiness: the plans it assesses for a failover into this region."""

    plans: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReadinessConfig:
        r = _Reader(env)
        plans = r.plans()
        config = cls(*r.common(), plans)
        r.done()
        return config


@cache
def readiness_config() -> ReadinessConfig:
    return ReadinessConfig.from_env()


@cache
def step_config() -> StepConfig:
    return StepConfig.from_env()


@cache
def controller_config() -> ControllerConfig:
    return ControllerConfig.from_env()


@cache
def detect_config() -> DetectConfig:
    return DetectConfig.from_env()


def clear() -> None:
    step_config.cache_clear()
    controller_config.cache_clear()
    detect_config.cache_clear()
    readiness_config.cache_clear()
