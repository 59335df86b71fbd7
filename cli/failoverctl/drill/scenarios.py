"""The drill's scenarios: what is set up, and what outcome and world each must end with."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan, load_plan_file
from failoverctl.drill import world


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
    outage: Callable[[RecoveryPlan], list[dict[str, Any]]] | None = None
    # The primary's alarm completes the quorum: the controller is deployed in both regions (as `make deploy` does)
    # and the primary's stack forwards its region's alarm to the standby's event bus.
    primary_alarm_completes_quorum: bool = False
    # EventBridge delivers at least once: the quorum's event reaches Detect a second time, with the same id.
    duplicate_delivery: bool = False
    # The instances each region can still provision (``SlowWorld``): a scale-up asking for more rolls back.
    capacity: Callable[[RecoveryPlan], dict[str, int]] | None = None
    # What the global database's members read while a region is dark (AWS documents nothing): as-before, degraded.
    aurora_reading: str = "as-before"
    # The standby's Aurora replication lag: published when the world is built (None: never, a missing metric), and
    # when the alarms fire (the lag grew while the primary went dark).
    lag_ms: float | None = 120.0
    lag_at_alarm_ms: float | None = None
    # The plan's RTO for this scenario (the run's deadline is the functions' own clock, which time scaling does not
    # speed up: a scenario that ends at the deadline keeps it short).
    rto_seconds: int | None = None

    def faults(self, plan: RecoveryPlan, burst: int | None = None) -> list[dict[str, Any]]:
        """What the outage proxy does from the moment the alarms fire (``failoverctl.drill.outage.Fault``);
        ``burst``: the brown-outs' failures in runs of that many calls instead of the scenario's own."""
        faults = self.outage(plan) if self.outage else []
        return [f | {"burst": burst} if burst and f["kind"] == "brownout" else f for f in faults]


def _delete_primary_write_region_parameter(plan: RecoveryPlan, f: ClientFactory) -> None:
    f.ssm(plan.primary_region).delete_parameter(Name=plan.write_region_parameter)


# A burst one call longer than the controller's SDK attempts (clients.DEFAULT_CONFIG): a call caught whole in one
# fails past botocore's retries, and the state machine's Retry on TransientAwsError carries the step on.
BROWNOUT_BURST = 6


def _primary_browned_out(plan: RecoveryPlan) -> list[dict[str, Any]]:
    return [
        {
            "kind": "brownout",
            "region": plan.primary_region,
            "latency_s": 0.3,
            "error_rate": 0.15,
            "throttle_rate": 0.15,
            "burst": BROWNOUT_BURST,
        }
    ]


def _primary_dark(plan: RecoveryPlan) -> list[dict[str, Any]]:
    return [{"kind": "blackout", "region": plan.primary_region, "style": "hang", "hang_s": 5.0}]


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("graceful", "graceful", "succeeded", "planned switchover: both regions up, no data loss"),
        Scenario(
            "ungraceful",
            "ungraceful",
            "succeeded",
            "the primary is treated as unreachable: Aurora failover with data loss allowed within the RPO; "
            "no step calls the primary's services",
        ),
        Scenario(
            "region-outage",
            "ungraceful",
            "succeeded",
            "the primary region goes dark when the alarms fire (every endpoint there hangs, Route 53's and IAM's "
            "APIs included; the standby's Aurora secondary reads pending-resync, and the newest replication lag is the "
            "one from before the outage): "
            "the standby's controller fails over on its own region's APIs and data-plane DNS; the old primary must "
            "resync once its region is back before a failback can start",
            outage=_primary_dark,
            aurora_reading="degraded",
        ),
        Scenario(
            "region-outage-lagging",
            "ungraceful",
            "aborted",
            "the primary region goes dark when the alarms fire, and the standby's replication lag has grown past the "
            "plan's RPO (120 s against 60 s): Preflight refuses a failover that would lose more than the RPO allows, "
            "naming the lag and force_beyond_rpo, and nothing changes",
            outage=_primary_dark,
            aurora_reading="degraded",
            lag_at_alarm_ms=120_000.0,
        ),
        Scenario(
            "not-ready",
            "graceful",
            "aborted",
            "the standby endpoint serves an older model than the primary: preflight refuses, nothing changes",
            standby_model_tag="2026-10-01",
        ),
        Scenario(
            "brownout",
            "graceful",
            "succeeded",
            f"the primary answers slowly (+0.3 s a call) and fails 30% of calls in bursts of {BROWNOUT_BURST} in a row "
            "(5xx and throttling, AWS's error shapes): a burst outlasts the SDK's retries, and the state machine's "
            "Retry carries the switchover through",
            outage=_primary_browned_out,
        ),
        Scenario(
            "primary-alarm",
            "graceful",
            "succeeded",
            "the controller is deployed in both regions; one of the standby's canaries is a suspicion, and the "
            "primary's Route 53 health-check alarm completes the quorum: its event crosses from the primary's event "
            "bus to the standby's through the primary stack's forwarding rule and role; EventBridge then delivers the "
            "quorum's event to Detect a second time (at least once), and no second run starts",
            primary_alarm_completes_quorum=True,
            duplicate_delivery=True,
        ),
        Scenario(
            "no-capacity",
            "ungraceful",
            "reduced_capacity",
            "the standby region has no GPU instances left: every scale-up of its endpoint rolls back (RollingBack, "
            "then InService at the old count). Its warm instance is the plan's traffic capacity for an ungraceful "
            "run, so writes and DNS move to it at once; the scale-up is sent again until the run's deadline (an RTO "
            "of 60 s: the deadline runs on the functions' own clock), and the run ends serving at reduced capacity, "
            "traffic kept, saying how many instances the standby has",
            capacity=lambda plan: {plan.standby_region: 0},
            rto_seconds=60,
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


def scenario_plan_doc(plan_file: Path, scenario: Scenario) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(load_plan_file(plan_file).document)  # read bounded, validated
    doc["signals"]["mode"] = scenario.mode
    doc["signals"]["require_approval"] = False
    if scenario.rto_seconds is not None:
        doc["objectives"]["rto_seconds"] = scenario.rto_seconds
    return doc
