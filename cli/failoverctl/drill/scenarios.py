"""The drill's scenarios: what is set up, and what outcome and world each must end with."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world

if TYPE_CHECKING:
    from failoverctl.drill.runner import Options


class DrillError(RuntimeError):
    """The drill itself could not run (a tool missing, a deploy failed); not a failover outcome."""


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str
    expected_outcome: str
    story: str
    standby_model_tag: str = world.MODEL_TAG
    after_build: Callable[[RecoveryPlan, ClientFactory], None] | None = None


def _delete_primary_write_region_parameter(plan: RecoveryPlan, f: ClientFactory) -> None:
    f.ssm(plan.primary_region).delete_parameter(Name=plan.write_region_parameter)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("graceful", "graceful", "succeeded", "planned switchover: both regions up, no data loss"),
        Scenario(
            "ungraceful",
            "ungraceful",
            "succeeded",
            "the primary is treated as unreachable: Aurora failover with data loss allowed within the RPO; "
            "no call goes to the primary region",
        ),
        Scenario(
            "not-ready",
            "graceful",
            "aborted",
            "the standby endpoint serves an older model than the primary: preflight refuses, nothing changes",
            standby_model_tag="2026-10-01",
        ),
        Scenario(
            "step-failure",
            "graceful",
            "failed",
            "the primary's write-region parameter is missing, so switch_dynamodb_writes fails after Aurora was "
            "promoted: compensation aligns writes and DNS with the new writer",
            after_build=_delete_primary_write_region_parameter,
        ),
    )
}


def scenario_plan_doc(options: Options, scenario: Scenario) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(options.plan_file.read_text(encoding="utf-8"))
    doc["signals"]["mode"] = scenario.mode
    doc["signals"]["require_approval"] = False
    return doc
