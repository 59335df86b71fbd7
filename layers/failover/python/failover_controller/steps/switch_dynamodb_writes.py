"""Point the application's DynamoDB writes at the target region.

Global tables replicate in every direction; what decides where the application writes is its write-region
SSM parameter (named by the plan). The step checks that every table has an ACTIVE replica in the target
region, then sets the parameter to the target region: in the target region always, and in the source
region too in graceful mode (in ungraceful mode the source is not consulted and is reconciled on failback).
"""

from __future__ import annotations

from typing import Any

from failover_controller.changes import put_write_region
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.guards import require_writer
from failover_controller.reads.dynamodb import table_replica
from failover_controller.reads.parameters import write_region
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "switch_dynamodb_writes"
ACTIONS = ("switch",)
PARAMS: dict[str, type] = {}


def parameter_regions(req: StepRequest) -> list[str]:
    """Target first, so that a crash between the two writes leaves the target region right."""
    return [req.target_region, req.source_region] if req.graceful else [req.target_region]


def observe(req: StepRequest) -> dict[str, Any]:
    return {
        "tables": {t: table_replica(req, t) for t in req.plan.dynamodb_tables},
        "write_region": {r: write_region(req.plan, r, req.clients) for r in parameter_regions(req)},
    }


def _require_ready(req: StepRequest, seen: dict[str, Any]) -> None:
    """Every table ACTIVE here and replicating with the source; the parameter present where it is set."""
    not_ready = [
        f"{table} is {info['table_status']} in {req.target_region}"
        for table, info in seen["tables"].items()
        if info["table_status"] != "ACTIVE"
    ] + [
        f"{table} has no replica in {req.source_region} (not a global table pair)"
        for table, info in seen["tables"].items()
        if req.source_region not in info["replicas"]
    ]
    if not_ready:
        raise PreconditionFailed("DynamoDB replicas not ready: " + "; ".join(not_ready))
    missing = [r for r, value in seen["write_region"].items() if value is None]
    if missing:
        raise PreconditionFailed(
            f"write-region parameter {req.plan.write_region_parameter} does not exist in {', '.join(missing)}"
        )


def switch(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = result.before = observe(req)
    _require_ready(req, seen)
    name = req.plan.write_region_parameter
    result.actions = [
        PlannedAction(
            api="ssm:PutParameter",
            region=region,
            params={"Name": name, "Value": req.target_region, "Overwrite": True, "previous": value},
        )
        for region, value in seen["write_region"].items()
        if value != req.target_region
    ]
    if not result.actions:
        result.after = seen
        result.message = f"writes already go to {req.target_region}; nothing to do"
        return _note_source(req, result)
    if req.dry_run:
        result.after = seen
        regions = ", ".join(a.region for a in result.actions)
        result.message = f"dry run: would set {name} to {req.target_region} in {regions}"
        return _note_source(req, result)
    require_writer(req, "writes")
    for action in result.actions:
        action.response = put_write_region(req, action.region, req.target_region)
        action.performed = True
    result.after, result.changed = observe(req), True
    wrong = {r: v for r, v in result.after["write_region"].items() if v != req.target_region}
    if wrong:
        raise StepFailed(f"write-region parameter {name} still reads {wrong} after the update")
    result.message = f"writes now go to {req.target_region}; previous value " + ", ".join(
        f"{a.region}={a.params['previous']}" for a in result.actions
    )
    return _note_source(req, result)


def _note_source(req: StepRequest, result: StepResult) -> StepResult:
    if not req.graceful:
        result.message += (
            f" (ungraceful: {req.source_region}'s copy of the parameter was not touched; set it on failback)"
        )
    return result


def run(req: StepRequest) -> StepResult:
    return switch(req)
