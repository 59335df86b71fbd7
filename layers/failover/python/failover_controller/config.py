"""Each function's configuration, read from its environment once (at cold start) and typed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class StepFunctionConfig:
    region: str
    plan_parameter_prefix: str
    plan_cache_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StepFunctionConfig:
        env = os.environ if env is None else env
        problems: list[str] = []
        region = env.get("AWS_REGION", "")
        if not _REGION.match(region):
            problems.append(f"AWS_REGION must be an AWS region, got {region!r}")
        prefix = env.get("PLAN_PARAMETER_PREFIX", "/failover-controller/plans")
        if not prefix.startswith("/") or (prefix.endswith("/") and len(prefix) > 1):
            problems.append(f"PLAN_PARAMETER_PREFIX must start with '/' and not end with one, got {prefix!r}")
        raw_ttl = env.get("PLAN_CACHE_SECONDS", "300")
        ttl = int(raw_ttl) if raw_ttl.isdigit() else -1
        if ttl < 0:
            problems.append(f"PLAN_CACHE_SECONDS must be a whole number of seconds, got {raw_ttl!r}")
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(region=region, plan_parameter_prefix=prefix, plan_cache_seconds=ttl)


@cache
def step_function_config() -> StepFunctionConfig:
    return StepFunctionConfig.from_env()
